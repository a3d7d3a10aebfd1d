//! Statistics over ferrocap's stats logs (the `PFLG-888-I` packet records).
//!
//! [`analyze`] reads log files line by line, strips the envelope (file
//! layout or a syslog daemon's), joins split records (see
//! [`crate::log::split`]) and aggregates the packet records: totals, top
//! talkers, protocols, destination ports, interfaces, directions and a
//! per-minute timeline. It streams: no record is kept, memory grows only
//! with the number of distinct addresses, ports, interfaces and minutes.
//! Several files are read in parallel (rayon); the result does not depend
//! on the order in which they finish.
//!
//! The [`Report`] renders as text tables, JSON, or a self-contained HTML
//! page with an inline SVG timeline (no external resources).
#![forbid(unsafe_code)]

mod aggregate;
mod html;
mod report;

use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use thiserror::Error;

pub use aggregate::{parse_log_line, LogLine};
pub use report::{Minute, NamedCount, PortCount, Report, Talker, Totals};

/// Errors of [`analyze`].
#[derive(Debug, Error)]
pub enum StatsError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// No input files were given.
    #[error("no input files")]
    NoInput,
}

/// How many entries the "top" tables keep, by default.
pub const DEFAULT_TOP: usize = 10;

/// Analyzes the stats logs `paths` with the default table sizes.
pub fn analyze(paths: &[PathBuf]) -> Result<Report, StatsError> {
    analyze_with_top(paths, DEFAULT_TOP)
}

/// Analyzes the stats logs `paths`, keeping `top` entries in each ranking.
pub fn analyze_with_top(paths: &[PathBuf], top: usize) -> Result<Report, StatsError> {
    if paths.is_empty() {
        return Err(StatsError::NoInput);
    }
    let agg = paths
        .par_iter()
        .map(|p| aggregate::Aggregate::from_file(p))
        .try_reduce(aggregate::Aggregate::default, |mut a, b| {
            a.merge(b);
            Ok(a)
        })?;
    let names: Vec<String> = paths.iter().map(|p| display(p)).collect();
    Ok(agg.into_report(names, top))
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
