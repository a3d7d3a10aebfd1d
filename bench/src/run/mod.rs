//! `ferrocap-bench run`: the side-by-side benchmark scenarios.
//!
//! Promises:
//! - every scenario requested appears in `results.json` with status `ok`
//!   (numbers in its rows), `failed` (with the reason, e.g. match counts
//!   that disagree) or `skipped` (with the reason, e.g. a peer tool that
//!   is not installed); one scenario failing never stops the others;
//! - every figure of ferrocap is measured in the same run as its peer and
//!   reported as a ratio against the scenario's target;
//! - `results.json` records the environment (CPU, cores, kernel, DPDK and
//!   libpcap versions, git commit, date); `report.md` holds the tables, SVG
//!   charts and, for missed targets, a profile summary;
//! - `--quick` shortens every measurement so the whole run takes well under
//!   a minute on a 2-core machine, and skips profiling.

mod dpdk;
mod env;
mod matching;
mod offline;
mod report;
mod util;
mod writer;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scenario {
    /// Parse + match per packet against libpcap's bpf_filter.
    Matching,
    /// One DPDK worker against dpdk-testpmd rxonly.
    Dpdk,
    /// 1 and 2 workers, projected to 10/25/100 GbE.
    Scaling,
    /// Every packet to pcap against dd on the same filesystem.
    Writer,
    /// `ferrocap capture -r` against `tcpdump -r`.
    Offline,
    /// Receive-to-write latency percentiles.
    Latency,
    /// Worker rate with and without a /metrics scrape every 100 ms.
    Control,
}

impl Scenario {
    const ALL: [Scenario; 7] = [
        Scenario::Matching,
        Scenario::Dpdk,
        Scenario::Scaling,
        Scenario::Writer,
        Scenario::Offline,
        Scenario::Latency,
        Scenario::Control,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Matching => "matching",
            Scenario::Dpdk => "dpdk",
            Scenario::Scaling => "scaling",
            Scenario::Writer => "writer",
            Scenario::Offline => "offline",
            Scenario::Latency => "latency",
            Scenario::Control => "control",
        }
    }
}

/// Arguments of `ferrocap-bench run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Scenarios to run (default: all of them).
    #[arg(value_enum, value_name = "SCENARIO")]
    scenarios: Vec<Scenario>,
    /// Short measurements and no profiles: a smoke check (< 60 s).
    #[arg(long)]
    quick: bool,
    /// Directory for results.json, report.md, the charts and the work
    /// files (generated captures, dumps, logs; removed at the end).
    #[arg(long, value_name = "DIR", default_value = "bench-results")]
    out: PathBuf,
    /// The ferrocap binary [default: next to ferrocap-bench, else
    /// $CARGO_TARGET_DIR/release/ferrocap, else target/release/ferrocap].
    #[arg(long, value_name = "PATH")]
    ferrocap: Option<PathBuf>,
    /// Seconds per DPDK measurement [default: 1 with --quick, else 5].
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Do not profile missed targets with perf.
    #[arg(long)]
    no_profile: bool,
    /// Keep the work directory (generated inputs, dumps, logs).
    #[arg(long)]
    keep_work: bool,
}

/// A scenario's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// Measured.
    Ok,
    /// Ran, but could not produce a valid figure (see `reason`).
    Failed,
    /// Not run (see `reason`).
    Skipped,
}

/// One measured line of a scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Row {
    /// What was measured, e.g. "64B 1%".
    pub label: String,
    /// ferrocap's figure.
    pub ferrocap: Option<f64>,
    /// The peer's figure.
    pub peer: Option<f64>,
    /// Unit of both figures.
    pub unit: String,
    /// ferrocap / peer (or as the scenario defines it).
    pub ratio: Option<f64>,
    /// Whether this row meets the scenario's target (when it has one).
    pub target_met: Option<bool>,
    /// Further figures (match counts, CPU seconds, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScenarioResult {
    /// The scenario's name.
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// What is measured against what.
    pub description: String,
    /// The target as text, e.g. "ratio <= 0.25".
    pub target: Option<String>,
    /// The figure compared with the target (the worst row).
    pub ratio: Option<f64>,
    /// Whether the target is met.
    pub target_met: Option<bool>,
    /// The measurements.
    pub rows: Vec<Row>,
    /// Remarks: how it was measured, what it means.
    pub notes: Vec<String>,
    /// `perf report` summary when the target was missed.
    pub profile: Option<String>,
    /// Wall-clock seconds the scenario took.
    pub seconds: f64,
}

impl ScenarioResult {
    fn new(name: &'static str, description: &str) -> Self {
        ScenarioResult {
            name,
            status: Status::Ok,
            reason: None,
            description: description.to_owned(),
            target: None,
            ratio: None,
            target_met: None,
            rows: Vec::new(),
            notes: Vec::new(),
            profile: None,
            seconds: 0.0,
        }
    }

    fn skip(mut self, reason: impl Into<String>) -> Self {
        self.status = Status::Skipped;
        self.reason = Some(reason.into());
        self
    }

    fn fail(mut self, reason: impl Into<String>) -> Self {
        self.status = Status::Failed;
        self.reason = Some(reason.into());
        self
    }
}

/// Everything `results.json` holds.
#[derive(Debug, Serialize)]
pub(crate) struct Results {
    /// `ferrocap-bench run` arguments in effect.
    pub quick: bool,
    /// The command line.
    pub command: String,
    /// Where and on what it ran.
    pub environment: env::Environment,
    /// One entry per scenario run.
    pub scenarios: Vec<ScenarioResult>,
}

/// What every scenario needs.
pub(crate) struct Ctx {
    /// Short measurements, no profiles.
    pub quick: bool,
    /// Scratch space under `out`.
    pub work: PathBuf,
    /// The ferrocap binary, or why it is missing.
    pub ferrocap: Result<PathBuf, String>,
    /// Seconds per DPDK measurement.
    pub duration: f64,
    /// Profile missed targets.
    pub profile: bool,
    /// Progress display.
    pub progress: Progress,
    /// Summaries of `ferrocap run` at 100% match (for the latency scenario).
    pub latency_sources: Vec<(String, serde_json::Value)>,
    /// Counter for unique EAL file prefixes.
    pub eal_runs: u32,
}

impl Ctx {
    /// The ferrocap binary, or the reason it is missing (for a skip).
    pub(crate) fn ferrocap(&self) -> Result<&Path, String> {
        self.ferrocap.as_deref().map_err(Clone::clone)
    }
}

/// The live progress line.
pub(crate) struct Progress {
    started: Instant,
    tty: bool,
    label: String,
}

impl Progress {
    fn new() -> Self {
        Progress {
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            label: String::new(),
        }
    }

    fn scenario(&mut self, i: usize, n: usize, name: &str) {
        self.label = format!("[{}/{n} {name}]", i + 1);
        self.step("starting");
    }

    /// Shows what is being measured now.
    pub(crate) fn step(&self, what: &str) {
        let t = self.started.elapsed().as_secs_f64();
        if self.tty {
            eprint!("\r\x1b[K{:>6.1}s {} {what}", t, self.label);
        } else {
            eprintln!("{:>6.1}s {} {what}", t, self.label);
        }
    }

    fn done(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}

/// Finds the ferrocap binary: `--ferrocap`, next to this executable, then
/// `$CARGO_TARGET_DIR/release`, then `target/release`.
fn find_ferrocap(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("--ferrocap {}: no such file", p.display()))
        };
    }
    let mut tried = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        tried.push(dir.join("ferrocap"));
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        tried.push(Path::new(&t).join("release/ferrocap"));
    }
    tried.push(PathBuf::from("target/release/ferrocap"));
    if let Some(p) = tried.iter().find(|p| p.is_file()) {
        return Ok(p.clone());
    }
    let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "ferrocap binary not found (looked at {}); build it with \
         `cargo build --release -p ferrocap` or pass --ferrocap PATH",
        list.join(", ")
    ))
}

/// `ferrocap-bench run`.
pub(crate) fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut scenarios = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenarios.clone()
    };
    scenarios.sort();
    scenarios.dedup();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = std::fs::canonicalize(&args.out)
        .with_context(|| format!("resolving {}", args.out.display()))?;
    let work = out.join("work");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let ferrocap = find_ferrocap(args.ferrocap.as_deref())
        .and_then(|p| std::fs::canonicalize(&p).map_err(|e| format!("{}: {e}", p.display())));
    if let Err(e) = &ferrocap {
        eprintln!("ferrocap-bench: {e}; the scenarios that need it are skipped");
    }
    let mut ctx = Ctx {
        quick: args.quick,
        work: work.clone(),
        ferrocap,
        duration: args
            .duration
            .unwrap_or(if args.quick { 1.0 } else { 5.0 })
            .max(0.2),
        profile: !args.quick && !args.no_profile,
        progress: Progress::new(),
        latency_sources: Vec::new(),
        eal_runs: 0,
    };
    let environment = env::Environment::collect(ctx.ferrocap.as_deref().ok());
    let mut results = Vec::new();
    let n = scenarios.len();
    // The latency scenario reads the 100% runs of the dpdk scenario; run
    // them if dpdk itself was not asked for.
    let need_latency_runs =
        scenarios.contains(&Scenario::Latency) && !scenarios.contains(&Scenario::Dpdk);
    for (i, &s) in scenarios.iter().enumerate() {
        ctx.progress.scenario(i, n, s.name());
        let t = Instant::now();
        let mut r = match s {
            Scenario::Matching => matching::run(&mut ctx),
            Scenario::Dpdk => dpdk::run_receive(&mut ctx, false),
            Scenario::Scaling => dpdk::run_scaling(&mut ctx),
            Scenario::Writer => writer::run(&mut ctx),
            Scenario::Offline => offline::run(&mut ctx),
            Scenario::Latency => {
                if need_latency_runs && ctx.latency_sources.is_empty() {
                    let _ = dpdk::run_receive(&mut ctx, true);
                }
                dpdk::latency(&ctx)
            }
            Scenario::Control => dpdk::run_control(&mut ctx),
        };
        r.seconds = t.elapsed().as_secs_f64();
        ctx.progress.done();
        eprintln!("{}", report::one_line(&r));
        results.push(r);
    }
    let results = Results {
        quick: args.quick,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        environment,
        scenarios: results,
    };
    let json = serde_json::to_string_pretty(&results).context("serializing results")?;
    std::fs::write(out.join("results.json"), json + "\n").context("writing results.json")?;
    report::write(&out, &results).context("writing report.md")?;
    println!("{}", report::table(&results));
    println!(
        "wrote {} and {}",
        out.join("results.json").display(),
        out.join("report.md").display()
    );
    if !args.keep_work {
        let _ = std::fs::remove_dir_all(&work);
    }
    cleanup_eal_dirs(ctx.eal_runs);
    Ok(())
}

/// Removes the empty runtime directories the EAL leaves per file prefix.
fn cleanup_eal_dirs(runs: u32) {
    let dirs = [
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| Path::new(&d).join("dpdk")),
        Some(PathBuf::from("/var/run/dpdk")),
        Some(std::env::temp_dir().join("dpdk")),
    ];
    for d in dirs.into_iter().flatten() {
        for n in 1..=runs {
            let _ = std::fs::remove_dir(d.join(format!("fcbench-{}-{n}", std::process::id())));
        }
    }
}
