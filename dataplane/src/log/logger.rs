//! The running logger: a cheap handle for every thread and one writer thread.
//!
//! Promises:
//! - [`Logger::log`] and friends never block: a record goes through a
//!   bounded queue; when the queue is full it is dropped and counted
//!   ([`Logger::dropped`]), and the writer thread reports the drops
//!   (`SLOG-120-W`) at most once a second.
//! - The level is an atomic read without locks; a disabled message costs one
//!   load and allocates nothing. An enabled one costs one `String`.
//! - [`LoggerGuard::shutdown`] (or dropping the guard) drains the queue,
//!   flushes the outputs and deletes the memory log unless it was kept.
//! - A failing output is handled by the [`OnFailure`] policy; the logger
//!   never exits the process, it raises [`Logger::fatal_error`] instead.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::panic;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender, TrySendError};
use thiserror::Error;

use super::catalog::{self, CatalogEntry};
use super::config::{LogConfig, OnFailure, OutputKind, DEBUG_FILE, STATS_FILE};
use super::envelope::{
    format_line, format_syslog, system_hostname, CivilTime, Component, MessageId, Origin,
};
use super::level::{Level, Severity};
use super::memory::{path_for_pid, MemoryLog};
use super::message::{self, PacketRecord};
use super::output::{FileOutput, MainOutput, Stream, SyslogOutput};
use super::split;

/// Errors of the logging facility's API.
#[derive(Debug, Error)]
pub enum LogError {
    /// A log file could not be opened at start.
    #[error("cannot open log file {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The configuration is not usable.
    #[error("invalid [log] configuration: {0}")]
    Config(String),
    /// The logger thread could not be started.
    #[error("cannot start the logger thread: {0}")]
    Thread(io::Error),
    /// The logger thread panicked; some records may be lost.
    #[error("the logger thread panicked")]
    ThreadPanicked,
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(io::Error),
}

/// One queued record.
#[derive(Debug)]
struct Record {
    time: SystemTime,
    track: u32,
    id: MessageId,
    severity: Severity,
    text: String,
}

enum Msg {
    Record(Record),
    Reopen,
    Flush(Sender<()>),
    Shutdown,
}

struct Sinks {
    main: MainOutput,
    main_dead: bool,
    /// The last write failed: further failures are counted, not re-reported.
    failing: bool,
    on_failure: OnFailure,
    memory: Option<MemoryLog>,
    max_line: usize,
    line: String,
}

struct Shared {
    level: AtomicU8,
    memory_level: AtomicU8,
    dropped: AtomicU64,
    write_errors: AtomicU64,
    counts: [AtomicU64; 11],
    closed: AtomicBool,
    fatal: AtomicBool,
    fatal_msg: Mutex<Option<String>>,
    origin: Origin,
    sinks: Mutex<Sinks>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn level(&self) -> Level {
        Level::clamped(self.level.load(Ordering::Relaxed))
    }

    fn raise_fatal(&self, msg: String) {
        let mut f = lock(&self.fatal_msg);
        if f.is_none() {
            *f = Some(msg);
        }
        self.fatal.store(true, Ordering::Release);
    }
}

impl Sinks {
    fn write(&mut self, shared: &Shared, rec: &Record) {
        let time = CivilTime::from_system_time(rec.time);
        let mem_level = shared.memory_level.load(Ordering::Relaxed);
        if let Some(m) = self.memory.as_mut() {
            if rec.severity == Severity::K || rec.severity.value() <= mem_level {
                self.line.clear();
                format_line(
                    &mut self.line,
                    &time,
                    &shared.origin,
                    rec.track,
                    rec.id,
                    rec.severity,
                    &rec.text,
                );
                m.write_line(&self.line);
            }
        }
        if !rec.severity.passes(shared.level()) {
            return;
        }
        if rec.severity == Severity::I {
            let simple = rec.text.len() <= self.max_line.max(split::MIN_LINE)
                && !rec.text.ends_with('\\')
                && !rec.text.starts_with('~')
                && !rec.text.contains(['\n', '\r']);
            if simple {
                self.emit_main(shared, Stream::Stats, &time, rec, &rec.text);
            } else {
                for part in split::split(&rec.text, self.max_line) {
                    self.emit_main(shared, Stream::Stats, &time, rec, &part);
                }
            }
        } else {
            self.emit_main(shared, Stream::Debug, &time, rec, &rec.text);
        }
    }

    fn format_main(&mut self, shared: &Shared, time: &CivilTime, rec: &Record, text: &str) {
        self.line.clear();
        match self.main {
            MainOutput::Syslog(_) => format_syslog(
                &mut self.line,
                time,
                &shared.origin,
                rec.track,
                rec.id,
                rec.severity,
                text,
            ),
            MainOutput::Files(_) => format_line(
                &mut self.line,
                time,
                &shared.origin,
                rec.track,
                rec.id,
                rec.severity,
                text,
            ),
        }
    }

    fn send_line(&mut self, stream: Stream) -> io::Result<()> {
        match &mut self.main {
            MainOutput::Syslog(s) => s.send(&self.line),
            MainOutput::Files(f) => f.write_line(stream, &self.line),
        }
    }

    fn describe(&self, stream: Stream) -> String {
        match &self.main {
            MainOutput::Syslog(s) => s.describe(),
            MainOutput::Files(f) => f.describe(stream),
        }
    }

    fn emit_main(
        &mut self,
        shared: &Shared,
        stream: Stream,
        time: &CivilTime,
        rec: &Record,
        text: &str,
    ) {
        if self.main_dead {
            shared.write_errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.format_main(shared, time, rec, text);
        let sent = self.send_line(stream);
        if sent.is_ok() {
            self.failing = false;
        }
        if let Err(e) = sent {
            let salvage = self.take_unwritten();
            let lost = 1 + count_lines(&salvage);
            if self.handle_failure(shared, stream, e, lost) {
                // Switched to the fallback file: write what was lost there.
                self.write_salvage(shared, stream, &salvage);
                self.format_main(shared, time, rec, text);
                if self.send_line(stream).is_err() {
                    shared.write_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn take_unwritten(&mut self) -> Vec<u8> {
        match &mut self.main {
            MainOutput::Files(f) => f.take_unwritten(),
            MainOutput::Syslog(_) => Vec::new(),
        }
    }

    fn write_salvage(&mut self, shared: &Shared, stream: Stream, salvage: &[u8]) {
        if salvage.is_empty() {
            return;
        }
        if let MainOutput::Files(f) = &mut self.main {
            if f.write_raw(stream, salvage).is_err() {
                shared
                    .write_errors
                    .fetch_add(count_lines(salvage), Ordering::Relaxed);
            }
        }
    }

    /// Writes a message of the logger itself to the memory log and stderr.
    fn note_internal(&mut self, shared: &Shared, entry: &CatalogEntry, text: &str) {
        let mut line = String::new();
        format_line(
            &mut line,
            &CivilTime::from_system_time(SystemTime::now()),
            &shared.origin,
            0,
            entry.id,
            entry.severity,
            text,
        );
        if let Some(m) = self.memory.as_mut() {
            m.write_line(&line);
        }
        eprintln!("{line}");
    }

    /// Applies the policy after a failed write that lost `lost` lines.
    /// Returns true when the output was switched to the fallback file.
    fn handle_failure(
        &mut self,
        shared: &Shared,
        stream: Stream,
        err: io::Error,
        lost: u64,
    ) -> bool {
        shared.write_errors.fetch_add(lost, Ordering::Relaxed);
        if self.failing && self.on_failure == OnFailure::Ignore {
            // Already reported; under `ignore` keep trying quietly.
            return false;
        }
        self.failing = true;
        let what = self.describe(stream);
        let policy = match &self.on_failure {
            OnFailure::Ignore => "ignore".to_string(),
            OnFailure::File(p) => format!("file {}", p.display()),
            OnFailure::Stop => "stop".to_string(),
        };
        let errno = message::errno_text(file!(), line!(), "write", &err);
        self.note_internal(shared, catalog::KERN_ERRNO, &errno);
        let text = catalog::SLOG_WRITE_FAILED.render(&[&what, &err, &policy]);
        self.note_internal(shared, catalog::SLOG_WRITE_FAILED, &text);
        match self.on_failure.clone() {
            OnFailure::Ignore => false,
            OnFailure::File(path) => {
                // One switch only: failures of the fallback are ignored.
                self.on_failure = OnFailure::Ignore;
                match FileOutput::single(&path) {
                    Ok(f) => {
                        self.main = MainOutput::Files(f);
                        let text = catalog::SLOG_SWITCHED.render(&[&what, &path.display()]);
                        let rec = Record {
                            time: SystemTime::now(),
                            track: 0,
                            id: catalog::SLOG_SWITCHED.id,
                            severity: catalog::SLOG_SWITCHED.severity,
                            text,
                        };
                        let t = CivilTime::from_system_time(rec.time);
                        self.format_main(shared, &t, &rec, &rec.text);
                        if self.send_line(Stream::Debug).is_err() {
                            shared.write_errors.fetch_add(1, Ordering::Relaxed);
                        }
                        true
                    }
                    Err(e) => {
                        let errno = message::errno_text(file!(), line!(), "open", &e);
                        self.note_internal(shared, catalog::KERN_ERRNO, &errno);
                        false
                    }
                }
            }
            OnFailure::Stop => {
                self.main_dead = true;
                let text = catalog::SLOG_STOP.render(&[&what]);
                self.note_internal(shared, catalog::SLOG_STOP, &text);
                if let Some(m) = self.memory.as_mut() {
                    m.keep();
                }
                shared.raise_fatal(format!("{what}: {err}"));
                false
            }
        }
    }

    fn flush(&mut self, shared: &Shared) {
        if let MainOutput::Files(f) = &mut self.main {
            if !self.main_dead {
                if let Err(e) = f.flush() {
                    let salvage = f.take_unwritten();
                    let lost = count_lines(&salvage);
                    if self.handle_failure(shared, Stream::Debug, e, lost) {
                        self.write_salvage(shared, Stream::Debug, &salvage);
                    }
                }
            }
        }
    }

    fn reopen(&mut self, shared: &Shared) {
        if let MainOutput::Files(f) = &mut self.main {
            if let Err(e) = f.reopen() {
                let salvage = f.take_unwritten();
                let lost = count_lines(&salvage);
                if self.handle_failure(shared, Stream::Debug, e, lost) {
                    self.write_salvage(shared, Stream::Debug, &salvage);
                }
                return;
            }
        }
        self.write_now(
            shared,
            catalog::SLOG_REOPENED,
            String::from(catalog::SLOG_REOPENED.text),
        );
    }

    fn write_now(&mut self, shared: &Shared, entry: &CatalogEntry, text: String) {
        let rec = Record {
            time: SystemTime::now(),
            track: 0,
            id: entry.id,
            severity: entry.severity,
            text,
        };
        self.write(shared, &rec);
        shared.counts[rec.severity.index()].fetch_add(1, Ordering::Relaxed);
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The handle every thread logs through. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Logger {
    shared: Arc<Shared>,
    tx: Sender<Msg>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("level", &self.level())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// Owns the logger thread. [`LoggerGuard::shutdown`] or dropping it drains
/// the queue and flushes.
#[derive(Debug)]
pub struct LoggerGuard {
    logger: Logger,
    thread: Option<JoinHandle<()>>,
}

fn validate(cfg: &LogConfig) -> Result<(), LogError> {
    if cfg.ident.is_empty() || cfg.ident.contains(|c: char| c.is_whitespace() || c == '[') {
        return Err(LogError::Config(format!(
            "ident {:?} must be a non-empty word without spaces or '['",
            cfg.ident
        )));
    }
    if let Some(h) = &cfg.host {
        if h.is_empty() || h.contains(char::is_whitespace) {
            return Err(LogError::Config(format!(
                "host {h:?} must be a non-empty word"
            )));
        }
    }
    if cfg.queue_len == 0 {
        return Err(LogError::Config("queue_len must be at least 1".into()));
    }
    Ok(())
}

impl Logger {
    /// Opens the outputs, creates the memory log and starts the logger
    /// thread.
    pub fn start(cfg: LogConfig) -> Result<(Logger, LoggerGuard), LogError> {
        validate(&cfg)?;
        let pid = std::process::id();
        let origin = Origin {
            host: cfg.host.clone().unwrap_or_else(system_hostname),
            ident: cfg.ident.clone(),
            pid,
        };
        let main = match cfg.output {
            OutputKind::Syslog => MainOutput::Syslog(SyslogOutput::new(&cfg.syslog_path)),
            OutputKind::File => {
                let stats = cfg.dir.join(STATS_FILE);
                let debug = cfg.dir.join(DEBUG_FILE);
                let f = FileOutput::open(&stats, &debug).map_err(|source| LogError::Open {
                    path: cfg.dir.clone(),
                    source,
                })?;
                MainOutput::Files(f)
            }
        };
        let mut memory_error = None;
        let memory = match &cfg.memory_log_path {
            Some(p) => {
                let path = path_for_pid(p, pid);
                let header = format!(
                    "ferrocap memory log: host {} pid {} size {} level {}; newest records are just above the wrap marker",
                    origin.host, pid, cfg.memory_log_size, cfg.memory_log_level
                );
                match MemoryLog::create(&path, cfg.memory_log_size, &header) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        memory_error = Some((path, e));
                        None
                    }
                }
            }
            None => None,
        };
        let memory_level = if memory.is_some() {
            cfg.memory_log_level.get()
        } else {
            0
        };
        let shared = Arc::new(Shared {
            level: AtomicU8::new(cfg.level.get()),
            memory_level: AtomicU8::new(memory_level),
            dropped: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            counts: Default::default(),
            closed: AtomicBool::new(false),
            fatal: AtomicBool::new(false),
            fatal_msg: Mutex::new(None),
            origin,
            sinks: Mutex::new(Sinks {
                main,
                main_dead: false,
                failing: false,
                on_failure: cfg.on_failure.clone(),
                memory,
                max_line: cfg.max_line,
                line: String::with_capacity(1024),
            }),
        });
        let (tx, rx) = channel::bounded(cfg.queue_len);
        let logger = Logger {
            shared: Arc::clone(&shared),
            tx,
        };
        if let Some((path, e)) = memory_error {
            logger.log(
                0,
                catalog::SLOG_MEMLOG,
                &[
                    &path.display(),
                    &message::errno_text(file!(), line!(), "open", &e),
                ],
            );
        }
        let thread = thread::Builder::new()
            .name("ferrocap-log".into())
            .spawn(move || run(shared, rx))
            .map_err(LogError::Thread)?;
        Ok((
            logger.clone(),
            LoggerGuard {
                logger,
                thread: Some(thread),
            },
        ))
    }

    /// The current level.
    pub fn level(&self) -> Level {
        self.shared.level()
    }

    /// Sets the level and logs `SLOG-110-K level changed to N`.
    pub fn set_level(&self, level: Level) -> Level {
        self.shared.level.store(level.get(), Ordering::Relaxed);
        let text = catalog::SLOG_LEVEL.render(&[&level]);
        lock(&self.shared.sinks).write_now(&self.shared, catalog::SLOG_LEVEL, text);
        level
    }

    /// One level up (SIGUSR1), clamped at 9; returns the new level.
    pub fn step_up(&self) -> Level {
        self.set_level(self.level().step_up())
    }

    /// One level down (SIGUSR2), clamped at 3; returns the new level.
    pub fn step_down(&self) -> Level {
        self.set_level(self.level().step_down())
    }

    /// The memory log's level, or `None` without a memory log.
    pub fn memory_level(&self) -> Option<Level> {
        Level::new(self.shared.memory_level.load(Ordering::Relaxed))
    }

    /// Sets the memory log's level (no effect without a memory log).
    pub fn set_memory_level(&self, level: Level) {
        if self.memory_level().is_some() {
            self.shared
                .memory_level
                .store(level.get(), Ordering::Relaxed);
        }
    }

    /// Whether a message of `severity` would be written anywhere. K and I
    /// always are.
    #[inline]
    pub fn enabled(&self, severity: Severity) -> bool {
        let v = severity.value();
        matches!(severity, Severity::K | Severity::I)
            || v <= self.shared.level.load(Ordering::Relaxed)
            || v <= self.shared.memory_level.load(Ordering::Relaxed)
    }

    /// Queues a record whose text is already built. Never blocks: when the
    /// queue is full, the record is dropped and counted. Returns whether it
    /// was queued (`false` also when its severity is disabled).
    pub fn log_text(&self, track: u32, id: MessageId, severity: Severity, text: String) -> bool {
        if !self.enabled(severity) {
            return false;
        }
        if self.shared.closed.load(Ordering::Relaxed) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let rec = Record {
            time: SystemTime::now(),
            track,
            id,
            severity,
            text,
        };
        match self.tx.try_send(Msg::Record(rec)) {
            Ok(()) => {
                self.shared.counts[severity.index()].fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Logs a catalog message, its template filled with `args`. Nothing is
    /// formatted when the severity is disabled.
    pub fn log(&self, track: u32, entry: &'static CatalogEntry, args: &[&dyn fmt::Display]) {
        if self.enabled(entry.severity) {
            self.log_text(track, entry.id, entry.severity, entry.render(args));
        }
    }

    /// Logs a debugging (or any uncatalogued) message, formatted only when
    /// enabled: `logger.debug(1, Component::Dpdw, 900, Severity::D, format_args!("burst {n}"))`.
    pub fn debug(
        &self,
        track: u32,
        component: Component,
        number: u16,
        severity: Severity,
        args: fmt::Arguments<'_>,
    ) {
        if self.enabled(severity) {
            self.log_text(
                track,
                MessageId::new(component, number),
                severity,
                fmt::format(args),
            );
        }
    }

    /// Logs a statistical record built with [`message::StatRecord`] under
    /// the catalog id `entry` (which must be an I message).
    pub fn stat(&self, track: u32, entry: &'static CatalogEntry, record: String) {
        self.log_text(track, entry.id, Severity::I, record);
    }

    /// Logs one packet as a `PFLG-888-I` record. Returns whether it was
    /// queued (a full queue drops it, counted in [`dropped`](Self::dropped)).
    pub fn packet(&self, track: u32, rec: &PacketRecord<'_>) -> bool {
        self.log_text(track, catalog::PFLG_PACKET.id, Severity::I, rec.to_record())
    }

    /// Logs an errno message (`KERN-100-E`); see [`log_errno!`](crate::log_errno)
    /// for the form that fills in the file and line.
    pub fn errno(&self, track: u32, file: &str, line: u32, call: &str, err: &io::Error) {
        if self.enabled(Severity::E) {
            self.log_text(
                track,
                catalog::KERN_ERRNO.id,
                Severity::E,
                message::errno_text(file, line, call, err),
            );
        }
    }

    /// Logs a configuration error (`CFGP-100-E Line N, char M: text`).
    pub fn config_error(&self, track: u32, line: usize, char_pos: usize, text: &str) {
        if self.enabled(Severity::E) {
            self.log_text(
                track,
                catalog::CFGP_SYNTAX.id,
                Severity::E,
                message::config_error_text(line, char_pos, text),
            );
        }
    }

    /// Records dropped because the queue was full (or the logger was shut
    /// down).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Lines the main output failed to write.
    pub fn write_errors(&self) -> u64 {
        self.shared.write_errors.load(Ordering::Relaxed)
    }

    /// Records of `severity` accepted into the queue (or written directly).
    pub fn count(&self, severity: Severity) -> u64 {
        self.shared.counts[severity.index()].load(Ordering::Relaxed)
    }

    /// Asks the logger thread to reopen the log files (SIGHUP, logrotate).
    pub fn reopen(&self) {
        let _ = self.tx.send(Msg::Reopen);
    }

    /// Waits until everything queued before this call is written and the
    /// files are flushed. Returns at once after shutdown.
    pub fn flush(&self) {
        let (ack_tx, ack_rx) = channel::bounded(1);
        if self.shared.closed.load(Ordering::Relaxed) || self.tx.send(Msg::Flush(ack_tx)).is_err() {
            return;
        }
        let _ = ack_rx.recv();
    }

    /// The reason the log output stopped under `on_failure = "stop"`, if it
    /// did; the program should then stop cleanly.
    pub fn fatal_error(&self) -> Option<String> {
        if self.shared.fatal.load(Ordering::Acquire) {
            lock(&self.shared.fatal_msg).clone()
        } else {
            None
        }
    }

    /// Marks the memory log to be kept at exit (call on a fatal error).
    pub fn keep_memory_log(&self) {
        if let Some(m) = lock(&self.shared.sinks).memory.as_mut() {
            m.keep();
        }
    }

    /// The memory log's path, if there is one.
    pub fn memory_log_path(&self) -> Option<PathBuf> {
        lock(&self.shared.sinks)
            .memory
            .as_ref()
            .map(|m| m.path().to_path_buf())
    }

    /// Holds the output lock so the logger thread stalls: a test device for
    /// queue-full behaviour. Drop the value to release.
    #[doc(hidden)]
    pub fn stall_for_test(&self) -> impl Drop + '_ {
        struct Stall<'a>(#[allow(dead_code)] MutexGuard<'a, Sinks>);
        impl Drop for Stall<'_> {
            fn drop(&mut self) {}
        }
        Stall(lock(&self.shared.sinks))
    }

    /// Installs a panic hook that writes `KERN-110-C **PANIC** [file.rs:LINE]
    /// thread(): text` synchronously to the outputs and the memory log, marks
    /// the memory log as kept, then calls the previous hook. The function
    /// name is the thread's name (`main` for the main thread).
    pub fn install_panic_hook(&self) {
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let prev = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if let Some(shared) = weak.upgrade() {
                let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
                let payload = info.payload();
                let msg = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("panic");
                let current = thread::current();
                let func = current.name().unwrap_or("thread");
                let text = message::panic_text(file, line, func, msg);
                write_panic(&shared, text);
            }
            prev(info);
        }));
    }
}

fn write_panic(shared: &Shared, text: String) {
    // The logger thread may hold the lock mid-batch; wait briefly, never
    // deadlock (the panicking thread might be the logger thread itself).
    for _ in 0..200 {
        match shared.sinks.try_lock() {
            Ok(mut s) => {
                s.write_now(shared, catalog::KERN_PANIC, text);
                s.flush(shared);
                if let Some(m) = s.memory.as_mut() {
                    m.keep();
                }
                return;
            }
            Err(std::sync::TryLockError::Poisoned(p)) => {
                let mut s = p.into_inner();
                s.write_now(shared, catalog::KERN_PANIC, text);
                s.flush(shared);
                if let Some(m) = s.memory.as_mut() {
                    m.keep();
                }
                return;
            }
            Err(std::sync::TryLockError::WouldBlock) => thread::sleep(Duration::from_millis(5)),
        }
    }
    eprintln!("{text}");
}

/// Logs an errno message (`KERN-100-E`) located at the call site:
/// `log_errno!(logger, track, "open", &err)`.
#[macro_export]
macro_rules! log_errno {
    ($logger:expr, $track:expr, $call:expr, $err:expr) => {
        $logger.errno($track, ::core::file!(), ::core::line!(), $call, $err)
    };
}

fn run(shared: Arc<Shared>, rx: Receiver<Msg>) {
    let mut reported = 0u64;
    let mut last_report: Option<Instant> = None;
    let mut acks: Vec<Sender<()>> = Vec::new();
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut sinks = lock(&shared.sinks);
        let mut stop = false;
        let mut next = first;
        let mut n = 0;
        while let Some(m) = next.take() {
            match m {
                Msg::Record(r) => sinks.write(&shared, &r),
                Msg::Reopen => sinks.reopen(&shared),
                Msg::Flush(a) => acks.push(a),
                Msg::Shutdown => {
                    stop = true;
                    shared.closed.store(true, Ordering::Relaxed);
                }
            }
            n += 1;
            if n < 4096 || stop {
                next = rx.try_recv().ok();
            }
        }
        let dropped = shared.dropped.load(Ordering::Relaxed);
        if dropped > reported && last_report.map_or(true, |t| t.elapsed() >= Duration::from_secs(1))
        {
            let text = catalog::SLOG_DROPPED.render(&[&(dropped - reported), &dropped]);
            sinks.write_now(&shared, catalog::SLOG_DROPPED, text);
            reported = dropped;
            last_report = Some(Instant::now());
        }
        sinks.flush(&shared);
        drop(sinks);
        for a in acks.drain(..) {
            let _ = a.send(());
        }
        if stop {
            break;
        }
    }
    let mut sinks = lock(&shared.sinks);
    sinks.flush(&shared);
    if let Some(m) = sinks.memory.take() {
        if let Err(e) = m.close_clean() {
            eprintln!("{}", message::errno_text(file!(), line!(), "unlink", &e));
        }
    }
}

impl LoggerGuard {
    /// A handle to the logger this guard owns.
    pub fn logger(&self) -> &Logger {
        &self.logger
    }

    /// Drains the queue, flushes the outputs, closes the memory log (deleted
    /// unless kept) and joins the logger thread.
    pub fn shutdown(mut self) -> Result<(), LogError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), LogError> {
        let Some(t) = self.thread.take() else {
            return Ok(());
        };
        let _ = self.logger.tx.send(Msg::Shutdown);
        t.join().map_err(|_| LogError::ThreadPanicked)
    }
}

impl Drop for LoggerGuard {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
