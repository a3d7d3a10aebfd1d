//! The hot path: a full queue drops and counts, never blocks.

use std::fs;

use ferrocap_dataplane::log::catalog;
use ferrocap_dataplane::log::{LogConfig, Logger, OutputKind, Severity};

#[test]
fn full_queue_drops_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        output: OutputKind::File,
        dir: dir.path().to_path_buf(),
        queue_len: 4,
        ..LogConfig::default()
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    let n = 1000u64;
    {
        let _stall = logger.stall_for_test();
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let l = logger.clone();
                std::thread::spawn(move || {
                    for i in 0..n / 2 {
                        l.log(w + 1, catalog::DPDP_DOWN, &[&i]);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        // The writer holds at most one record in hand and the queue 4.
        assert!(logger.dropped() >= n - 5, "dropped {}", logger.dropped());
    }
    guard.shutdown().unwrap();
    let debug = fs::read_to_string(dir.path().join("ferrocap-debug")).unwrap();
    let written = debug.lines().filter(|l| l.contains("DPDP-101-W")).count() as u64;
    let reports = debug.lines().filter(|l| l.contains("SLOG-120-W")).count() as u64;
    assert_eq!(written + logger.dropped(), n);
    // Per-severity counters cover accepted records and the logger's own.
    assert_eq!(logger.count(Severity::W), written + reports);
    // The drops were reported.
    let report = debug
        .lines()
        .find(|l| l.contains("SLOG-120-W"))
        .expect("drop report");
    assert!(
        report.ends_with(&format!(
            "{} log records dropped, queue full ({} in total)",
            logger.dropped(),
            logger.dropped()
        )),
        "{report}"
    );
}

#[test]
fn disabled_messages_are_not_queued() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        output: OutputKind::File,
        dir: dir.path().to_path_buf(),
        queue_len: 1,
        ..LogConfig::default()
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    let _stall = logger.stall_for_test();
    for _ in 0..100 {
        logger.debug(
            0,
            ferrocap_dataplane::log::Component::Dpdw,
            900,
            Severity::D,
            format_args!("x"),
        );
    }
    assert_eq!(logger.dropped(), 0);
    assert_eq!(logger.count(Severity::D), 0);
    drop(_stall);
    guard.shutdown().unwrap();
}

#[test]
fn logger_is_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone>() {}
    assert_traits::<Logger>();
}
