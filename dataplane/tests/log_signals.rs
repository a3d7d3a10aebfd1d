//! SIGUSR1/SIGUSR2 step the level, SIGHUP reopens. (Own test binary:
//! signal handlers are process-wide.)

use std::fs;
use std::time::{Duration, Instant};

use ferrocap_dataplane::log::{signals, Level, LogConfig, Logger, OutputKind};
use signal_hook::consts::{SIGHUP, SIGUSR1, SIGUSR2};

fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn signals_step_level_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        output: OutputKind::File,
        dir: dir.path().to_path_buf(),
        level: Level::FULL,
        ..LogConfig::default()
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    let sig = signals::install(logger.clone()).unwrap();
    signal_hook::low_level::raise(SIGUSR1).unwrap();
    // Clamped at 9: it stays, and the change is still logged.
    let debug = dir.path().join("ferrocap-debug");
    let count = |s: &str| {
        fs::read_to_string(&debug)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.ends_with(s))
            .count()
    };
    assert!(wait_for(|| count("SLOG-110-K level changed to 9") == 1));
    signal_hook::low_level::raise(SIGUSR2).unwrap();
    assert!(wait_for(|| logger.level() == Level::TRACE));
    signal_hook::low_level::raise(SIGUSR2).unwrap();
    assert!(wait_for(|| logger.level() == Level::DEBUG));
    signal_hook::low_level::raise(SIGHUP).unwrap();
    assert!(wait_for(|| {
        logger.flush();
        count("SLOG-111-N log files reopened") == 1
    }));
    sig.stop();
    guard.shutdown().unwrap();
    assert_eq!(count("SLOG-110-K level changed to 8"), 1);
    assert_eq!(count("SLOG-110-K level changed to 7"), 1);
}
