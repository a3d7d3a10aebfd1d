//! `ferrocap explain` and `ferrocap stats`: the operator's side of the
//! Kernun logs — what a message id means, and statistics from stats logs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ferrocap_dataplane::log::catalog;
use ferrocap_dataplane::stats;

/// Arguments of `ferrocap explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A message id such as PFLG-888 (a trailing severity letter, PFLG-888-I, is accepted).
    /// Without one, every message is listed.
    #[arg(value_name = "CODE-NNN")]
    id: Option<String>,
}

/// Runs `ferrocap explain`.
pub(crate) fn explain(args: &ExplainArgs) -> ExitCode {
    let Some(id) = &args.id else {
        for e in catalog::CATALOG {
            println!("{}-{}  {}", e.id, e.severity.letter(), e.text);
        }
        return ExitCode::SUCCESS;
    };
    match catalog::lookup(id) {
        Some(e) => {
            println!("{}-{}  {}\n", e.id, e.severity.letter(), e.text);
            println!("{}", e.explanation);
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "ferrocap: no message {id:?} in the catalog; `ferrocap explain` lists them all"
            );
            ExitCode::from(2)
        }
    }
}

/// Arguments of `ferrocap stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Stats logs (`ferrocap-stats`, rotated copies too). Split records are
    /// joined; a torn last line is counted and skipped. Files are read in parallel.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Print JSON instead of text tables.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report with a timeline chart to OUT.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
}

/// Runs `ferrocap stats`.
pub(crate) fn stats(args: &StatsArgs) -> ExitCode {
    let report = match stats::analyze(&args.files) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferrocap: {e}");
            return ExitCode::from(1);
        }
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if let Some(out) = &args.html {
        if let Err(e) = std::fs::write(out, report.to_html()) {
            eprintln!("ferrocap: cannot write {}: {e}", out.display());
            return ExitCode::from(1);
        }
        eprintln!("ferrocap: HTML report written to {}", out.display());
    }
    ExitCode::SUCCESS
}
