//! The Kernun logging facility for one CLI command: where it logs, at which
//! level, and how it ends.
//!
//! Promises:
//! - the effective `[log]` settings are the config file's section (or its
//!   defaults: syslog LOCAL4 at level 5), then `--log-dir DIR` (files
//!   `DIR/ferrocap-stats` and `DIR/ferrocap-debug`), then `-d N`, each
//!   overriding the one before;
//! - [`AppLog::start`] installs the panic hook, and for long-running
//!   commands the SIGUSR1 (level up), SIGUSR2 (level down) and SIGHUP
//!   (reopen) handlers;
//! - [`AppLog::finish`] drains the queue, so every record accepted before it
//!   is written; the memory log is deleted only when the command ended
//!   cleanly, and kept on every other path — an error exit, a panic, or an
//!   `AppLog` dropped without `finish` (an early return).

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Args;
use ferrocap_dataplane::log::catalog::CatalogEntry;
use ferrocap_dataplane::log::config::STATS_FILE;
use ferrocap_dataplane::log::message::PacketRecord;
use ferrocap_dataplane::log::{
    catalog, signals, Level, LogConfig, LogError, Logger, LoggerGuard, OutputKind,
};

/// Logging options shared by the commands that log (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct LogArgs {
    /// Log to the files DIR/ferrocap-stats and DIR/ferrocap-debug instead of
    /// the `[log]` output (default: syslog LOCAL4 via /dev/log).
    #[arg(long = "log-dir", value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
}

/// The settings of one command's logger, before it starts.
#[derive(Debug, Clone)]
pub(crate) struct LogSetup {
    /// The effective `[log]` section.
    pub config: LogConfig,
    /// Install the SIGUSR1/SIGUSR2/SIGHUP handlers.
    pub signals: bool,
}

impl LogSetup {
    /// The effective settings: `config` (the file's `[log]`, if any), then
    /// `args.log_dir`, then `level` (`-d N`).
    pub(crate) fn new(config: Option<&LogConfig>, args: &LogArgs, level: Option<Level>) -> Self {
        let mut config = config.cloned().unwrap_or_default();
        if let Some(dir) = &args.log_dir {
            config.output = OutputKind::File;
            config.dir = dir.clone();
        }
        if let Some(l) = level {
            config.level = l;
        }
        LogSetup {
            config,
            signals: false,
        }
    }

    /// Where statistical records go, for messages: `DIR/ferrocap-stats` or
    /// `syslog PATH`.
    pub(crate) fn stats_destination(&self) -> String {
        match self.config.output {
            OutputKind::File => self.config.dir.join(STATS_FILE).display().to_string(),
            OutputKind::Syslog => format!("syslog {}", self.config.syslog_path.display()),
        }
    }
}

/// A running logger owned by a command.
#[derive(Debug)]
pub(crate) struct AppLog {
    logger: Logger,
    guard: Option<LoggerGuard>,
    signals: Option<signals::SignalThread>,
    /// Records the command's thread may queue between two flushes without
    /// ever filling the queue: half of `queue_len`, leaving the other half
    /// to messages from other threads.
    batch: u64,
    /// Records queued since the last flush (by every thread: several inputs
    /// of `capture` may be read at once).
    pending: AtomicU64,
}

/// How the command ended, for [`AppLog::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Exit status 0: the memory log is deleted.
    Clean,
    /// Any error exit: the memory log is kept.
    Failed,
}

/// What [`AppLog::finish`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct LogTotals {
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Lines the output failed to write.
    pub write_errors: u64,
    /// Why the output stopped under `on_failure = "stop"`, if it did (the
    /// memory log is then kept).
    pub fatal: Option<String>,
}

impl AppLog {
    /// Starts the logger thread with `setup`, installs the panic hook and,
    /// if asked, the signal handlers.
    pub(crate) fn start(setup: LogSetup) -> Result<AppLog, LogError> {
        let batch = (setup.config.queue_len as u64 / 2).max(1);
        if setup.config.output == OutputKind::File {
            // A log directory named on the command line or in the config is
            // created, as `mkdir -p` would; a failure surfaces as the open
            // error below.
            let _ = std::fs::create_dir_all(&setup.config.dir);
        }
        let (logger, guard) = Logger::start(setup.config)?;
        logger.install_panic_hook();
        let signals = if setup.signals {
            Some(signals::install(logger.clone())?)
        } else {
            None
        };
        Ok(AppLog {
            logger,
            guard: Some(guard),
            signals,
            batch,
            pending: AtomicU64::new(0),
        })
    }

    /// The logger handle.
    pub(crate) fn logger(&self) -> &Logger {
        &self.logger
    }

    /// Counts one record queued by the command's thread and, every
    /// `batch` records (half the queue), waits until the logger has written them:
    /// back-pressure instead of drops, for commands that may wait.
    pub(crate) fn paced(&self) {
        let n = self.pending.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.batch {
            self.logger.flush();
            self.pending.store(0, Ordering::Relaxed);
        }
    }

    /// [`Logger::log`] on track 0, paced.
    pub(crate) fn log(&self, entry: &'static CatalogEntry, args: &[&dyn fmt::Display]) {
        self.logger.log(0, entry, args);
        self.paced();
    }

    /// [`Logger::stat`] on track 0, paced.
    pub(crate) fn stat(&self, entry: &'static CatalogEntry, record: String) {
        self.logger.stat(0, entry, record);
        self.paced();
    }

    /// [`Logger::packet`] on track 0, paced.
    pub(crate) fn packet(&self, record: &PacketRecord<'_>) {
        self.logger.packet(0, record);
        self.paced();
    }

    /// Stops the signal thread, drains and closes the logger; the memory log
    /// is deleted after a [`Ending::Clean`] end and kept otherwise.
    pub(crate) fn finish(mut self, ending: Ending) -> Result<LogTotals, LogError> {
        self.close(ending)
    }

    fn close(&mut self, ending: Ending) -> Result<LogTotals, LogError> {
        if let Some(s) = self.signals.take() {
            s.stop();
        }
        if ending == Ending::Failed || self.logger.fatal_error().is_some() {
            self.logger.keep_memory_log();
        }
        let result = match self.guard.take() {
            Some(g) => g.shutdown(),
            None => Ok(()),
        };
        result.map(|()| LogTotals {
            dropped: self.logger.dropped(),
            write_errors: self.logger.write_errors(),
            fatal: self.logger.fatal_error(),
        })
    }
}

impl Drop for AppLog {
    /// Without [`AppLog::finish`] the command did not end normally: keep
    /// the memory log.
    fn drop(&mut self) {
        if self.guard.is_some() {
            let _ = self.close(Ending::Failed);
        }
    }
}

/// Logs `APPL-100-K ferrocap VERSION starting, pid N, config FILE`.
pub(crate) fn log_start(log: &AppLog, config: Option<&std::path::Path>) {
    let config = config.map_or_else(|| "(none)".to_owned(), |p| p.display().to_string());
    log.log(
        catalog::APPL_START,
        &[&env!("CARGO_PKG_VERSION"), &std::process::id(), &config],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Mutex, PoisonError};

    /// Panic hooks are process-wide and chained: a panic marks the memory
    /// log of every logger alive at the time as kept. Tests that start a
    /// logger with a memory log take turns.
    static HOOKS: Mutex<()> = Mutex::new(());

    #[test]
    fn overrides_apply_in_order() {
        let file = LogConfig {
            level: Level::WARNING,
            dir: PathBuf::from("/var/log/x"),
            queue_len: 64,
            ..LogConfig::default()
        };
        // Nothing on the command line: the file's section as it is.
        let s = LogSetup::new(Some(&file), &LogArgs::default(), None);
        assert_eq!(s.config, file);
        // No file: the defaults (syslog, level 5).
        let s = LogSetup::new(None, &LogArgs::default(), None);
        assert_eq!(s.config, LogConfig::default());
        assert_eq!(s.config.output, OutputKind::Syslog);
        // --log-dir switches to files in DIR; -d wins over `level`.
        let args = LogArgs {
            log_dir: Some(PathBuf::from("/tmp/logs")),
        };
        let s = LogSetup::new(Some(&file), &args, Level::new(8));
        assert_eq!(s.config.output, OutputKind::File);
        assert_eq!(s.config.dir, PathBuf::from("/tmp/logs"));
        assert_eq!(s.config.level, Level::TRACE);
        assert_eq!(s.config.queue_len, 64, "other settings are kept");
    }

    #[test]
    fn memory_log_deleted_on_clean_end_kept_otherwise() {
        let _turn = HOOKS.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        for (ending, kept) in [
            (Some(Ending::Clean), false),
            (Some(Ending::Failed), true),
            (None, true),
        ] {
            let mem = dir.path().join(format!("mem-{ending:?}"));
            let cfg = LogConfig {
                output: OutputKind::File,
                dir: dir.path().to_path_buf(),
                memory_log_path: Some(mem.clone()),
                memory_log_size: 4096,
                ..LogConfig::default()
            };
            let log = AppLog::start(LogSetup {
                config: cfg,
                signals: false,
            })
            .unwrap();
            assert!(mem.exists());
            log_start(&log, None);
            match ending {
                Some(e) => {
                    let t = log.finish(e).unwrap();
                    assert_eq!(t, LogTotals::default());
                }
                None => drop(log),
            }
            assert_eq!(mem.exists(), kept, "{ending:?}");
        }
        let debug = std::fs::read_to_string(dir.path().join("ferrocap-debug")).unwrap();
        assert_eq!(debug.matches("APPL-100-K ferrocap ").count(), 3, "{debug}");
    }

    #[test]
    fn a_panic_is_logged_and_keeps_the_memory_log() {
        let _turn = HOOKS.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let mem = dir.path().join("mem.log");
        let cfg = LogConfig {
            output: OutputKind::File,
            dir: dir.path().to_path_buf(),
            memory_log_path: Some(mem.clone()),
            memory_log_size: 4096,
            ..LogConfig::default()
        };
        let log = AppLog::start(LogSetup {
            config: cfg,
            signals: false,
        })
        .unwrap();
        let t = std::thread::Builder::new()
            .name("boom".into())
            .spawn(|| panic!("forced for the test"))
            .unwrap();
        assert!(t.join().is_err());
        // Even a clean end keeps the memory log after a panic.
        log.finish(Ending::Clean).unwrap();
        let text = std::fs::read_to_string(&mem).expect("memory log kept");
        assert!(text.contains("KERN-110-C **PANIC** [applog.rs:"), "{text}");
        let debug = std::fs::read_to_string(dir.path().join("ferrocap-debug")).unwrap();
        assert!(debug.contains("] boom(): forced for the test"), "{debug}");
    }

    #[test]
    fn batch_is_half_the_queue() {
        // Starting an AppLog installs the process-wide panic hook: take
        // turns with the panic test, or its panic lands in this logger.
        let _turn = HOOKS.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        for (queue_len, batch) in [(8192, 4096), (3, 1), (1, 1)] {
            let cfg = LogConfig {
                output: OutputKind::File,
                dir: dir.path().to_path_buf(),
                queue_len,
                ..LogConfig::default()
            };
            let log = AppLog::start(LogSetup {
                config: cfg,
                signals: false,
            })
            .unwrap();
            assert_eq!(log.batch, batch);
            log.finish(Ending::Clean).unwrap();
        }
    }
}
