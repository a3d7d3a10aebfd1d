//! `[log]` configuration: a plain serde struct; every field has a default.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use serde::Deserialize;

use super::level::Level;

/// Where the main log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// RFC 3164 datagrams, facility LOCAL4, to [`LogConfig::syslog_path`].
    Syslog,
    /// Two files in [`LogConfig::dir`]: `ferrocap-stats` and `ferrocap-debug`.
    File,
}

/// What to do when writing the main log fails.
///
/// In TOML: `on_failure = "ignore"`, `on_failure = "stop"` or
/// `on_failure = { file = "/var/tmp/ferrocap-fallback.log" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Drop the record, count it in `write_errors`, and try again with the
    /// next one.
    Ignore,
    /// Switch both streams to this file (logging `SLOG-101-W` there) and
    /// write the failed record to it.
    File(PathBuf),
    /// Stop logging and raise the fatal flag ([`Logger::fatal_error`]); the
    /// program decides how to stop. The memory log is kept.
    ///
    /// [`Logger::fatal_error`]: super::Logger::fatal_error
    Stop,
}

/// The `[log]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Logging level 3..=9 or a mnemonic (`error`, `warning`, `normal`,
    /// `debug`, `trace`, `full`). Default: 5 (`normal`).
    pub level: Level,
    /// `"syslog"` or `"file"`. Default: `"syslog"`.
    pub output: OutputKind,
    /// Directory of the `ferrocap-stats` and `ferrocap-debug` files when
    /// `output = "file"`. Default: `/var/log`.
    pub dir: PathBuf,
    /// The syslog daemon's datagram socket. Default: `/dev/log`.
    pub syslog_path: PathBuf,
    /// Policy when a write fails. Default: `"ignore"`.
    pub on_failure: OnFailure,
    /// Longest statistical record part in bytes (markers included) before
    /// it is split; at least 8. Default: 1024.
    pub max_line: usize,
    /// The application identification in the envelope. Default: `ferrocap`.
    pub ident: String,
    /// The host name in the envelope. Default: the system host name.
    pub host: Option<String>,
    /// The memory log file; `{pid}` is replaced by the process id. Default:
    /// none (no memory log).
    pub memory_log_path: Option<PathBuf>,
    /// Size of the memory log in bytes (at least 4096). Default: 1 MiB.
    pub memory_log_size: usize,
    /// Level of the memory log, independent of `level`. Default: 7 (`debug`).
    pub memory_log_level: Level,
    /// Capacity of the queue between the threads that log and the logger
    /// thread, in records; a record that does not fit is dropped and
    /// counted. Default: 8192.
    pub queue_len: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: Level::NORMAL,
            output: OutputKind::Syslog,
            dir: PathBuf::from("/var/log"),
            syslog_path: PathBuf::from("/dev/log"),
            on_failure: OnFailure::Ignore,
            max_line: 1024,
            ident: "ferrocap".to_string(),
            host: None,
            memory_log_path: None,
            memory_log_size: 1 << 20,
            memory_log_level: Level::DEBUG,
            queue_len: 8192,
        }
    }
}

/// File name of the stats stream inside [`LogConfig::dir`].
pub const STATS_FILE: &str = "ferrocap-stats";
/// File name of the debug stream inside [`LogConfig::dir`].
pub const DEBUG_FILE: &str = "ferrocap-debug";
