//! The Kernun logging facility.
//!
//! Messages look like `Sep 8 7:40:22 HOST ferrocap[PID.N]: CODE-NNN-S text`
//! ([`envelope`]); every non-debug message is in the [`catalog`]. Threads log
//! through a [`Logger`] handle that never blocks; one logger thread formats
//! and writes to syslog (LOCAL4) or to the `ferrocap-stats` and
//! `ferrocap-debug` files, and to the optional [`memory`] log. Statistical
//! records longer than `max_line` are [`split`]; readers join them.
//!
//! Module map:
//! - [`level`] — [`Severity`] and [`Level`];
//! - [`envelope`] — pure formatting of a line (time passed in);
//! - [`catalog`] — the message table, [`catalog::lookup`], the generated doc;
//! - [`message`] — panic, errno, configuration-error and statistical texts,
//!   and the packet-log record;
//! - [`split`] — the `\` / `~` record splitting and the joiner;
//! - [`memory`] — the mmap'd circular memory log;
//! - [`config`] — [`LogConfig`];
//! - [`Logger`], [`LoggerGuard`], [`LogError`] — the running facility;
//! - [`signals`] — SIGUSR1/SIGUSR2/SIGHUP.

pub mod catalog;
pub mod config;
pub mod envelope;
pub mod level;
mod logger;
pub mod memory;
pub mod message;
mod output;
pub mod signals;
pub mod split;

pub use config::{LogConfig, OnFailure, OutputKind};
pub use envelope::{Component, MessageId};
pub use level::{Level, LevelError, Severity};
pub use logger::{LogError, Logger, LoggerGuard};
