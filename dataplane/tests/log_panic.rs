//! The panic hook writes the seed's panic form synchronously and keeps the
//! memory log. (Own test binary: the hook is process-wide.)

use std::fs;

use ferrocap_dataplane::log::{LogConfig, Logger, OutputKind};

#[test]
fn panic_is_logged_and_memory_log_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        output: OutputKind::File,
        dir: dir.path().to_path_buf(),
        memory_log_path: Some(dir.path().join("mem.{pid}")),
        ..LogConfig::default()
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    logger.install_panic_hook();
    let mem = logger.memory_log_path().unwrap();
    let line = line!() + 3;
    let r = std::thread::Builder::new()
        .name("worker-7".into())
        .spawn(|| panic!("Bad IP type ({})", 0))
        .unwrap()
        .join();
    assert!(r.is_err());
    // Written synchronously, before the logger thread is asked anything.
    let debug = fs::read_to_string(dir.path().join("ferrocap-debug")).unwrap();
    let want = format!("KERN-110-C **PANIC** [log_panic.rs:{line}] worker-7(): Bad IP type (0)");
    assert!(debug.lines().any(|l| l.ends_with(&want)), "{debug}");
    guard.shutdown().unwrap();
    let kept = fs::read_to_string(&mem).unwrap();
    assert!(kept.contains(&want), "{kept}");
}
