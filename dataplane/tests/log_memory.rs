//! The memory log: circular, readable, deleted on a clean exit, kept after
//! a failure.

use std::fs;

use ferrocap_dataplane::log::catalog;
use ferrocap_dataplane::log::memory::{MemoryLog, MIN_SIZE, WRAP_MARKER};
use ferrocap_dataplane::log::{Component, Level, LogConfig, Logger, OutputKind, Severity};

#[test]
fn wraps_with_marker_and_stays_fixed_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mem");
    let mut m = MemoryLog::create(&path, MIN_SIZE, "header line").unwrap();
    for i in 0..500 {
        m.write_line(&format!("record number {i:04} with some padding text"));
    }
    m.flush().unwrap();
    let content = fs::read_to_string(&path).unwrap();
    assert_eq!(content.len(), MIN_SIZE);
    assert!(content.starts_with("header line\n"));
    assert_eq!(content.matches(WRAP_MARKER).count(), 1);
    let (before, after) = content.split_once(WRAP_MARKER).unwrap();
    // The newest record sits right above the marker.
    assert!(before.ends_with("record number 0499 with some padding text\n"));
    // Every line is whole: a record, blank, the header, or spaces.
    for l in content.lines() {
        let t = l.trim();
        assert!(
            t.is_empty()
                || t == "header line"
                || t == WRAP_MARKER.trim()
                || (t.starts_with("record number ") && t.len() == 41),
            "{l:?}"
        );
    }
    // Older records follow the marker, in order.
    let older: Vec<u32> = after
        .lines()
        .filter_map(|l| l.trim().strip_prefix("record number "))
        .map(|l| l[..4].parse().unwrap())
        .collect();
    assert!(!older.is_empty());
    assert!(older.windows(2).all(|w| w[0] < w[1]), "{older:?}");
    assert!(*older.last().unwrap() < 499);
    m.close_clean().unwrap();
    assert!(!path.exists());
}

#[test]
fn keep_retains_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mem");
    let mut m = MemoryLog::create(&path, 8192, "h").unwrap();
    m.write_line("last words");
    m.keep();
    m.close_clean().unwrap();
    let content = fs::read_to_string(&path).unwrap();
    assert!(content.contains("last words\n"));
}

#[test]
fn oversized_line_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mem");
    let mut m = MemoryLog::create(&path, 100, "h").unwrap();
    assert_eq!(m.size(), MIN_SIZE);
    m.write_line(&"x".repeat(10_000));
    m.write_line("after");
    m.flush().unwrap();
    let content = fs::read(&path).unwrap();
    assert_eq!(content.len(), MIN_SIZE);
}

fn config(dir: &std::path::Path) -> LogConfig {
    LogConfig {
        output: OutputKind::File,
        dir: dir.to_path_buf(),
        level: Level::ERROR,
        memory_log_path: Some(dir.join("ferrocap-mem.{pid}")),
        memory_log_size: 64 * 1024,
        memory_log_level: Level::TRACE,
        ..LogConfig::default()
    }
}

#[test]
fn logger_deletes_memory_log_on_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (logger, guard) = Logger::start(config(dir.path())).unwrap();
    let path = logger.memory_log_path().unwrap();
    assert_eq!(
        path,
        dir.path()
            .join(format!("ferrocap-mem.{}", std::process::id()))
    );
    assert_eq!(logger.memory_level(), Some(Level::TRACE));
    // Below the main level but within the memory level.
    logger.debug(
        0,
        Component::Appl,
        900,
        Severity::T,
        format_args!("trace detail"),
    );
    logger.flush();
    let content = fs::read_to_string(&path).unwrap();
    assert!(content.contains("APPL-900-T trace detail\n"), "{content}");
    guard.shutdown().unwrap();
    assert!(!path.exists());
    // The main output did not get the trace message.
    let debug = fs::read_to_string(dir.path().join("ferrocap-debug")).unwrap();
    assert!(!debug.contains("trace detail"));
}

#[test]
fn logger_keeps_memory_log_after_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (logger, guard) = Logger::start(config(dir.path())).unwrap();
    let path = logger.memory_log_path().unwrap();
    logger.log(0, catalog::APPL_FATAL, &[&"disk on fire"]);
    logger.keep_memory_log();
    guard.shutdown().unwrap();
    let content = fs::read_to_string(&path).unwrap();
    assert!(content.contains("APPL-110-C fatal error, exiting: disk on fire\n"));
}
