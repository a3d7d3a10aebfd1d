//! Statistics over ferrocap's stats logs (the `PFLG-888-I` packet records).
//!
//! [`analyze`] reads log files line by line, strips the envelope (file
//! layout or a syslog daemon's), joins split records (see
//! [`crate::log::split`]) and aggregates the packet records: totals, top
//! talkers, protocols, destination ports, interfaces, directions and a
//! per-minute timeline. It streams: no record is kept, memory grows only
//! with the number of distinct addresses, ports, interfaces and minutes.
//! Files are cut into 64 MiB chunks that are read in parallel (rayon), so
//! one big file and many files both scale with cores; the result does not
//! depend on the order in which chunks finish. (A record is joined across a
//! chunk boundary as long as no single line is longer than a chunk.)
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

/// Files are cut into chunks of this many bytes, read in parallel. A line
/// belongs to the chunk it starts in; a split record crossing a chunk
/// boundary is joined by the chunk it started in.
const CHUNK: u64 = 64 << 20;

/// How many entries the "top" tables keep, by default.
pub const DEFAULT_TOP: usize = 10;

/// Tuning of [`analyze_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyzeOptions {
    /// Entries kept in each "top" table. Default: [`DEFAULT_TOP`].
    pub top: usize,
    /// Bytes per parallel chunk (at least 1). Default: 64 MiB.
    pub chunk_bytes: u64,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            top: DEFAULT_TOP,
            chunk_bytes: CHUNK,
        }
    }
}

/// Analyzes the stats logs `paths` with the default options.
pub fn analyze(paths: &[PathBuf]) -> Result<Report, StatsError> {
    analyze_with(paths, &AnalyzeOptions::default())
}

/// Analyzes the stats logs `paths`.
pub fn analyze_with(paths: &[PathBuf], opts: &AnalyzeOptions) -> Result<Report, StatsError> {
    let chunk = opts.chunk_bytes.max(1);
    if paths.is_empty() {
        return Err(StatsError::NoInput);
    }
    let mut jobs = Vec::new();
    for p in paths {
        let len = std::fs::metadata(p)
            .map_err(|source| StatsError::Io {
                path: p.clone(),
                source,
            })?
            .len();
        let mut start = 0u64;
        loop {
            let end = start.saturating_add(chunk);
            if end >= len {
                jobs.push((p, start, u64::MAX));
                break;
            }
            jobs.push((p, start, end));
            start = end;
        }
    }
    let agg = jobs
        .par_iter()
        .map(|(p, start, end)| aggregate::Aggregate::from_range(p, *start, *end))
        .try_reduce(aggregate::Aggregate::default, |mut a, b| {
            a.merge(b);
            Ok(a)
        })?;
    let names: Vec<String> = paths.iter().map(|p| display(p)).collect();
    Ok(agg.into_report(names, opts.top))
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
