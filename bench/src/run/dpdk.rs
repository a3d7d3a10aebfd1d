//! The scenarios that run `ferrocap run` over DPDK's `net_pcap` vdev with
//! `infinite_rx=1` (no NIC, no hugepages):
//! - `dpdk`: one worker against `dpdk-testpmd --forward-mode=rxonly` on the
//!   same vdev and file, at 64 B and IMIX, at match rates 0%, 1% and 100%
//!   (every match written to a pcap dump);
//! - `scaling`: 1 and 2 workers (two `net_pcap` vdevs, one queue each),
//!   projected to 10/25/100 GbE at 64 B;
//! - `latency`: receive-to-write percentiles from the summaries of the
//!   100% runs (`latency_ns` in the `ferrocap-summary` JSON), with each
//!   output's histogram buckets kept on its first row for the report's
//!   histogram chart;
//! - `control`: the worker rate with and without `GET /metrics` every
//!   100 ms.
//!
//! ferrocap's rate is `rx / duration_s` from its `--summary-json`, where
//! the duration starts when the workers start. testpmd's rate is its
//! accumulated RX-packets divided by the time from its "start packet
//! forwarding" line to the SIGINT that stops it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use ferrocap_bench::gen::{presets, GenConfig, SizeMix};
use serde_json::{json, Value};

use super::util::{self, median, perf_report, which};
use super::{Ctx, Row, ScenarioResult};

/// The seed's first example: what the dump of every run selects.
const EXPR: &str = r#"if = "Internet" & (port = 137-139 | port = 445)"#;
/// The same without the interface, for runs over two ports.
const EXPR_NO_IF: &str = "port = 137-139 | port = 445";
const TARGET: f64 = 0.9;
/// Line rates at 64 B (Mpps) for the projection.
const LINE_RATES: [(&str, f64); 3] = [("10GbE", 14.88), ("25GbE", 37.2), ("100GbE", 148.8)];

/// One traffic shape of the matrix.
#[derive(Clone, Copy)]
struct Shape {
    label: &'static str,
    size: fn(u64, u64) -> GenConfig,
}

fn fixed1518(seed: u64, n: u64) -> GenConfig {
    GenConfig {
        size: SizeMix::Fixed(1518),
        ..presets::small64(seed, n)
    }
}

const SMALL64: Shape = Shape {
    label: "64B",
    size: presets::small64,
};
const IMIX: Shape = Shape {
    label: "IMIX",
    size: presets::imix,
};
const LARGE: Shape = Shape {
    label: "1518B",
    size: fixed1518,
};

/// Packets per generated input (all held in mbufs by `infinite_rx`).
fn packets(ctx: &Ctx) -> u64 {
    if ctx.quick {
        5_000
    } else {
        20_000
    }
}

/// Generates (once) the input of `shape` at match rate `rate`.
fn input(ctx: &Ctx, shape: Shape, rate: f64) -> anyhow::Result<PathBuf> {
    let path = ctx.work.join(format!(
        "in-{}-{}.pcap",
        shape.label,
        (rate * 1000.0) as u32
    ));
    if !path.exists() {
        let cfg = (shape.size)(7, packets(ctx));
        util::write_capture(&path, &cfg, EXPR, rate)?;
    }
    Ok(path)
}

fn eal_args(ctx: &mut Ctx, lcores: &[&str]) -> Vec<String> {
    ctx.eal_runs += 1;
    let mut v: Vec<String> = lcores.iter().map(|s| (*s).to_owned()).collect();
    v.extend(
        [
            "--no-huge",
            "-m",
            "512",
            "--no-pci",
            "--no-telemetry",
            "--no-shconf",
            "--log-level=lib.eal:warning",
        ]
        .map(str::to_owned),
    );
    v.push(format!(
        "--file-prefix=fcbench-{}-{}",
        std::process::id(),
        ctx.eal_runs
    ));
    v
}

/// What one `ferrocap run` reported.
struct FcRun {
    mpps: f64,
    mpps_per_cpu: f64,
    summary: Value,
    /// CPU seconds per thread name over the whole process life (empty
    /// under perf).
    threads: BTreeMap<String, f64>,
}

/// Options of one ferrocap run.
struct FcOpts<'a> {
    tag: String,
    inputs: Vec<&'a Path>,
    lcores: Vec<&'static str>,
    expr: &'static str,
    control_port: u16,
    perf: Option<PathBuf>,
}

fn toml_str(s: &str) -> String {
    // Debug escaping is valid TOML for the ASCII paths used here.
    format!("{s:?}")
}

fn run_ferrocap(ctx: &mut Ctx, o: &FcOpts<'_>) -> anyhow::Result<FcRun> {
    let bin = ctx.ferrocap().map_err(|e| anyhow!(e))?.to_path_buf();
    let dir = ctx.work.join(&o.tag);
    std::fs::create_dir_all(&dir)?;
    let eal: Vec<String> = eal_args(ctx, &o.lcores)
        .iter()
        .map(|a| toml_str(a))
        .collect();
    let mut cfg = format!("[eal]\nargs = [{}]\n\n", eal.join(", "));
    for (i, p) in o.inputs.iter().enumerate() {
        cfg += &format!(
            "[[port]]\nname = \"net_pcap{i}\"\nvdev = {}\nrx_queues = 1\nrx_descriptors = 1024\npool_size = {}\n\n",
            toml_str(&format!("net_pcap{i},rx_pcap={},infinite_rx=1", p.display())),
            packets(ctx) + 8192
        );
    }
    cfg += "[[interface]]\nname = \"Internet\"\nport = \"net_pcap0\"\ndirection = \"unknown\"\n\n";
    cfg += "[[route]]\nprefix = \"0.0.0.0/0\"\ninterface = \"Internet\"\n\n";
    cfg += "[[route]]\nprefix = \"::/0\"\ninterface = \"Internet\"\n\n";
    cfg += &format!(
        "[[dump]]\nname = \"bench\"\nexpression = '{}'\npath = {}\nformat = \"pcap\"\nmax_file_bytes = 256_000_000\nmax_files = 2\n\n",
        o.expr,
        toml_str(&dir.join("dump.pcap").display().to_string())
    );
    cfg += &format!(
        "[log]\noutput = \"file\"\ndir = {}\nlevel = 5\n\n[control]\nbind = \"127.0.0.1:{}\"\n",
        toml_str(&dir.display().to_string()),
        o.control_port
    );
    let config = dir.join("ferrocap.toml");
    std::fs::write(&config, cfg)?;
    let summary = dir.join("summary.json");
    let _ = std::fs::remove_file(&summary);
    let mut cmd = match &o.perf {
        Some(data) => {
            let mut c = Command::new("perf");
            c.args(["record", "-F", "999", "-q", "-o"])
                .arg(data)
                .arg("--")
                .arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    cmd.arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--duration")
        .arg(format!("{}", ctx.duration))
        .arg("--summary-json")
        .arg(&summary)
        .current_dir(&dir);
    let limit = Duration::from_secs_f64(ctx.duration + 60.0);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting ferrocap run")?;
    let mut threads = BTreeMap::new();
    let (out, _) = util::wait_sampling(child, limit, |pid| {
        // CPU time only grows: the largest sample per name keeps threads
        // that ended before the last sample.
        for (k, v) in util::thread_cpu(pid) {
            let e = threads.entry(k).or_insert(0.0);
            *e = f64::max(*e, v);
        }
    })?;
    if !out.status.success() {
        bail!(
            "ferrocap run failed ({}): {}",
            out.status,
            util::tail(&String::from_utf8_lossy(&out.stderr), 600)
        );
    }
    if o.perf.is_some() {
        threads.clear();
    }
    let text = std::fs::read_to_string(&summary).context("reading the run summary")?;
    let v: Value = serde_json::from_str(&text).context("parsing the run summary")?;
    let rx = v["rx"].as_f64().unwrap_or(0.0);
    let d = v["duration_s"].as_f64().unwrap_or(0.0);
    if rx <= 0.0 || d <= 0.0 {
        bail!("ferrocap received nothing (rx {rx}, duration {d} s)");
    }
    Ok(FcRun {
        mpps: rx / d / 1e6,
        mpps_per_cpu: v["mpps_per_worker_cpu_s"].as_f64().unwrap_or(0.0),
        summary: v,
        threads,
    })
}

/// What one testpmd run measured.
struct TpRun {
    mpps: f64,
    /// Packets per CPU-second of all its threads while forwarding, in
    /// millions.
    mpps_per_cpu: Option<f64>,
    /// CPU-seconds of its threads per second of forwarding.
    cpu_share: Option<f64>,
}

/// Runs dpdk-testpmd rxonly on `input` for the scenario duration.
fn run_testpmd(ctx: &mut Ctx, input: &Path) -> anyhow::Result<TpRun> {
    if which("dpdk-testpmd").is_none() {
        bail!("dpdk-testpmd is not installed (Debian: apt-get install dpdk)");
    }
    let mut cmd = if which("stdbuf").is_some() {
        let mut c = Command::new("stdbuf");
        c.arg("-oL").arg("dpdk-testpmd");
        c
    } else {
        Command::new("dpdk-testpmd")
    };
    cmd.args(eal_args(ctx, &["-l", "0-1"]))
        .arg(format!(
            "--vdev=net_pcap0,rx_pcap={},infinite_rx=1",
            input.display()
        ))
        .arg("--")
        .arg("--forward-mode=rxonly")
        .arg(format!("--total-num-mbufs={}", packets(ctx) + 16384))
        .arg("--stats-period=1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("starting dpdk-testpmd")?;
    let stdout = child.stdout.take().context("testpmd stdout")?;
    let mut stderr = child.stderr.take().context("testpmd stderr")?;
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut t0 = None;
    let mut lines = Vec::new();
    while t0.is_none() && Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((t, l)) => {
                if l.contains("start packet forwarding") || l.contains("Press enter to exit") {
                    t0 = Some(t);
                }
                lines.push(l);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let Some(t0) = t0 else {
        let _ = child.kill();
        let _ = child.wait();
        let err = err_reader.join().unwrap_or_default();
        bail!(
            "dpdk-testpmd did not start forwarding: {}",
            util::tail(&format!("{}\n{err}", lines.join("\n")), 600)
        );
    };
    let pid = child.id();
    let cpu0 = util::cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs_f64(ctx.duration));
    let t1 = Instant::now();
    let cpu1 = util::cpu_seconds(pid);
    util::interrupt(pid);
    let (_, _) = util::wait_limited(child, Duration::from_secs(30))?;
    let _ = reader.join();
    lines.extend(rx.try_iter().map(|(_, l)| l));
    let _ = err_reader.join();
    // The block after "Accumulated forward statistics" holds the total.
    let total = lines
        .iter()
        .skip_while(|l| !l.contains("Accumulated forward statistics"))
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("RX-packets:")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        })
        .ok_or_else(|| anyhow!("no accumulated RX-packets in testpmd's output"))?;
    let cpu = cpu0.zip(cpu1).map(|(a, b)| b - a).filter(|c| *c > 0.0);
    let secs = (t1 - t0).as_secs_f64();
    Ok(TpRun {
        mpps: total / secs / 1e6,
        mpps_per_cpu: cpu.map(|c| total / c / 1e6),
        cpu_share: cpu.map(|c| c / secs),
    })
}

fn worst(rows: &[Row]) -> Option<f64> {
    rows.iter()
        .filter(|r| r.target_met.is_some())
        .filter_map(|r| r.ratio)
        .reduce(f64::min)
}

/// Scenario `dpdk`. With `latency_only`, runs just the 100% cases for the
/// latency scenario and returns a placeholder.
pub(crate) fn run_receive(ctx: &mut Ctx, latency_only: bool) -> ScenarioResult {
    let mut r = ScenarioResult::new(
        "dpdk",
        "one ferrocap worker vs dpdk-testpmd --forward-mode=rxonly, same net_pcap \
         infinite_rx vdev and file; the dump selects the seed's first example",
    );
    r.target = Some(format!("ferrocap / testpmd >= {TARGET} at 0% and 1% match"));
    if let Err(e) = ctx.ferrocap() {
        return r.skip(e);
    }
    let mut matrix: Vec<(Shape, f64)> = if ctx.quick {
        vec![(SMALL64, 0.0), (SMALL64, 1.0), (IMIX, 0.01)]
    } else {
        let mut m = Vec::new();
        for s in [SMALL64, IMIX] {
            for rate in [0.0, 0.01, 1.0] {
                m.push((s, rate));
            }
        }
        m.push((LARGE, 0.0));
        m
    };
    if latency_only {
        matrix.retain(|(_, rate)| *rate >= 1.0);
    }
    let rounds = if ctx.quick { 1 } else { 2 };
    let mut errors = Vec::new();
    for (shape, rate) in matrix {
        let label = format!("{} {}%", shape.label, rate * 100.0);
        ctx.progress.step(&format!("{label}: generating input"));
        let input = match input(ctx, shape, rate) {
            Ok(p) => p,
            Err(e) => {
                errors.push(format!("{label}: {e:#}"));
                continue;
            }
        };
        let mut ours = Vec::new();
        let mut cpu = Vec::new();
        let mut peer = Vec::new();
        let mut peer_cpu = Vec::new();
        let mut peer_share = Vec::new();
        let mut last_summary = Value::Null;
        let mut last_threads = BTreeMap::new();
        for round in 0..rounds {
            if !latency_only {
                ctx.progress
                    .step(&format!("{label}: dpdk-testpmd (round {})", round + 1));
                match run_testpmd(ctx, &input) {
                    Ok(v) => {
                        peer.push(v.mpps);
                        peer_cpu.extend(v.mpps_per_cpu);
                        peer_share.extend(v.cpu_share);
                    }
                    Err(e) => errors.push(format!("{label}: testpmd: {e:#}")),
                }
            }
            ctx.progress
                .step(&format!("{label}: ferrocap (round {})", round + 1));
            let port = util::free_port().unwrap_or(19_700);
            let o = FcOpts {
                tag: format!("rx-{}-{}", shape.label, (rate * 1000.0) as u32),
                inputs: vec![&input],
                lcores: vec!["-l", "0-1"],
                expr: EXPR,
                control_port: port,
                perf: None,
            };
            match run_ferrocap(ctx, &o) {
                Ok(f) => {
                    ours.push(f.mpps);
                    cpu.push(f.mpps_per_cpu);
                    last_summary = f.summary;
                    last_threads = f.threads;
                }
                Err(e) => errors.push(format!("{label}: ferrocap: {e:#}")),
            }
        }
        if rate >= 1.0 && !last_summary.is_null() {
            ctx.latency_sources
                .push((label.clone(), last_summary.clone()));
        }
        let a = median(&mut ours);
        let b = median(&mut peer);
        let ratio = a.zip(b).map(|(a, b)| a / b);
        let mut row = Row {
            label,
            ferrocap: a,
            peer: b,
            unit: "Mpps".into(),
            ratio,
            target_met: if rate < 1.0 {
                ratio.map(|x| x >= TARGET)
            } else {
                None
            },
            ..Row::default()
        };
        row.extra.insert("size".into(), json!(shape.label));
        row.extra.insert("match_rate".into(), json!(rate));
        let (c, pc) = (median(&mut cpu), median(&mut peer_cpu));
        if let Some(c) = c {
            row.extra
                .insert("ferrocap_mpps_per_worker_cpu_s".into(), json!(c));
        }
        if let Some(sh) = median(&mut peer_share) {
            row.extra.insert("testpmd_cpu_share".into(), json!(sh));
        }
        if let Some(pc) = pc {
            row.extra.insert("testpmd_mpps_per_cpu_s".into(), json!(pc));
        }
        if let Some((c, pc)) = c.zip(pc) {
            row.extra.insert("ratio_per_cpu_s".into(), json!(c / pc));
        }
        let cpu_s: f64 = last_summary["worker_cpu_s"]
            .as_array()
            .map_or(0.0, |a| a.iter().filter_map(Value::as_f64).sum());
        if let Some(d) = last_summary["duration_s"].as_f64().filter(|d| *d > 0.0) {
            row.extra
                .insert("ferrocap_worker_cpu_share".into(), json!(cpu_s / d));
        }
        if !last_threads.is_empty() {
            row.extra
                .insert("ferrocap_thread_cpu_s".into(), json!(last_threads));
        }
        for k in ["matched", "written", "dropped"] {
            if let Some(v) = last_summary.get(k) {
                row.extra.insert(k.into(), v.clone());
            }
        }
        r.rows.push(row);
    }
    r.ratio = worst(&r.rows);
    r.target_met = r.ratio.map(|x| x >= TARGET);
    r.notes.push(format!(
        "{} packets per input held in mbufs (infinite_rx), {} s per run, median of {rounds} \
         round(s) per side, testpmd and ferrocap alternate; 2 lcores (main + 1 worker); \
         100% rows write every packet to a pcap dump (no target). results.json also has \
         each side's Mpps per CPU-second (ratio_per_cpu_s): on a shared machine, where the \
         worker does not get a whole CPU, that ratio is the fairer one",
        packets(ctx),
        ctx.duration
    ));
    if !errors.is_empty() {
        r.notes.push(format!("errors: {}", errors.join("; ")));
        if r.rows.iter().all(|x| x.ratio.is_none()) {
            return r.fail(errors.join("; "));
        }
    }
    if r.target_met == Some(false) && ctx.profile {
        ctx.progress.step("profiling 64B 1% (perf record)");
        if let Ok(input) = input(ctx, SMALL64, 0.01) {
            let data = ctx.work.join("perf-dpdk.data");
            let o = FcOpts {
                tag: "rx-perf".into(),
                inputs: vec![&input],
                lcores: vec!["-l", "0-1"],
                expr: EXPR,
                control_port: util::free_port().unwrap_or(19_701),
                perf: Some(data.clone()),
            };
            if run_ferrocap(ctx, &o).is_ok() {
                r.profile = perf_report(&data);
            }
        }
    }
    r
}

/// Scenario `scaling`.
pub(crate) fn run_scaling(ctx: &mut Ctx) -> ScenarioResult {
    let mut r = ScenarioResult::new(
        "scaling",
        "1 and 2 ferrocap workers at 64 B, 0% match; per-worker-CPU rate projected to \
         10/25/100 GbE line rate at 64 B",
    );
    if let Err(e) = ctx.ferrocap() {
        return r.skip(e);
    }
    ctx.progress.step("generating input");
    let input = match input(ctx, SMALL64, 0.0) {
        Ok(p) => p,
        Err(e) => return r.fail(format!("{e:#}")),
    };
    let mut one = None;
    for (workers, lcores) in [(1, vec!["-l", "0-1"]), (2, vec!["--lcores=0@0,1@1,2@0"])] {
        ctx.progress.step(&format!("{workers} worker(s)"));
        let inputs: Vec<&Path> = (0..workers).map(|_| input.as_path()).collect();
        let o = FcOpts {
            tag: format!("scale-{workers}"),
            inputs,
            lcores,
            expr: EXPR_NO_IF,
            control_port: util::free_port().unwrap_or(19_702),
            perf: None,
        };
        match run_ferrocap(ctx, &o) {
            Ok(f) => {
                let mut row = Row {
                    label: format!("{workers} worker(s)"),
                    ferrocap: Some(f.mpps),
                    unit: "Mpps".into(),
                    ..Row::default()
                };
                row.extra
                    .insert("mpps_per_worker_cpu_s".into(), json!(f.mpps_per_cpu));
                if workers == 1 {
                    one = Some(f);
                } else if let Some(o1) = &one {
                    row.ratio = Some(f.mpps / o1.mpps);
                    row.extra
                        .insert("speedup_vs_1_worker".into(), json!(f.mpps / o1.mpps));
                }
                r.rows.push(row);
            }
            Err(e) => r.notes.push(format!("{workers} worker(s): {e:#}")),
        }
    }
    let Some(one) = one else {
        let why = r.notes.join("; ");
        return r.fail(why);
    };
    let per_core = if one.mpps_per_cpu > 0.0 {
        one.mpps_per_cpu
    } else {
        one.mpps
    };
    for (name, rate) in LINE_RATES {
        let mut row = Row {
            label: format!("{name} at 64 B ({rate} Mpps)"),
            ferrocap: Some((rate / per_core).ceil()),
            unit: "worker cores".into(),
            ..Row::default()
        };
        row.extra.insert("line_rate_mpps".into(), json!(rate));
        row.extra.insert("mpps_per_core".into(), json!(per_core));
        r.rows.push(row);
    }
    r.notes.push(
        "2 workers read two net_pcap vdevs (net_pcap has one RX queue per vdev) over the \
         same file, on --lcores=0@0,1@1,2@0: with 2 CPUs the second worker shares CPU 0 \
         with the main and writer threads. The projection divides line rate by the \
         1-worker rate per worker CPU-second; it includes net_pcap's own cost, so a real \
         NIC PMD needs fewer cores."
            .into(),
    );
    r
}

/// Finds `latency_ns` objects anywhere in a summary.
fn find_latency<'a>(v: &'a Value, path: &str, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "latency_ns" {
                    out.push((path.to_owned(), x));
                } else {
                    let name = m
                        .get("name")
                        .and_then(Value::as_str)
                        .map_or_else(|| k.clone(), str::to_owned);
                    find_latency(x, &format!("{path}/{name}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let name = x
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| i.to_string(), str::to_owned);
                find_latency(x, &format!("{path}/{name}"), out);
            }
        }
        _ => {}
    }
}

/// The percentile fields the latency scenario reports, with the keys
/// each may be spelled with.
const PERCENTILES: [(&str, &[&str]); 4] = [
    ("p50", &["p50", "p50_ns"]),
    ("p99", &["p99", "p99_ns"]),
    ("p99.9", &["p999", "p99_9", "p99.9", "p999_ns", "p99_9_ns"]),
    ("max", &["max", "max_ns"]),
];

/// Scenario `latency`, from the 100% runs of `dpdk`.
pub(crate) fn latency(ctx: &Ctx) -> ScenarioResult {
    let mut r = ScenarioResult::new(
        "latency",
        "receive-to-write latency of the dump (every packet matches), from the \
         latency_ns of ferrocap's run summary",
    );
    if ctx.latency_sources.is_empty() {
        let why = ctx
            .ferrocap()
            .err()
            .unwrap_or_else(|| "no 100% run of the dpdk scenario succeeded".to_owned());
        return r.skip(format!("not available: {why}"));
    }
    for (label, summary) in &ctx.latency_sources {
        let mut found = Vec::new();
        find_latency(summary, "", &mut found);
        for (path, lat) in found {
            let mut any = false;
            let first_row = r.rows.len();
            for (name, keys) in PERCENTILES {
                if let Some(v) = keys
                    .iter()
                    .find_map(|k| lat.get(*k).and_then(Value::as_f64))
                {
                    let mut row = Row {
                        label: format!("{label} {name}"),
                        ferrocap: Some(v / 1000.0),
                        unit: "µs".into(),
                        ..Row::default()
                    };
                    row.extra.insert("output".into(), json!(path));
                    row.extra.insert("percentile".into(), json!(name));
                    r.rows.push(row);
                    any = true;
                }
            }
            if let (Some(row), Some(buckets)) = (r.rows.get_mut(first_row), lat.get("buckets")) {
                // The histogram chart of the report reads them from here:
                // `[le_ns, cumulative count]` pairs and the total.
                row.extra
                    .insert("latency_buckets_ns".into(), buckets.clone());
                row.extra.insert(
                    "latency_count".into(),
                    lat.get("count").cloned().unwrap_or(Value::Null),
                );
            }
            if any {
                let c = lat.get("count").cloned().unwrap_or(Value::Null);
                r.notes.push(format!(
                    "{label} {path}: {c} samples; the run received {} packets, wrote {} and \
                     dropped {} (queue_full when the writer falls behind)",
                    summary["rx"], summary["written"], summary["dropped"]
                ));
            }
        }
    }
    if r.rows.is_empty() {
        return r.skip(
            "not available: ferrocap's run summary has no latency_ns per output yet \
             (it comes with the control branch)",
        );
    }
    r
}

/// One scrape: GET /metrics, true on a 200 answer.
fn scrape(addr: SocketAddr, bytes: &AtomicU64) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
    buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200")
}

/// Scenario `control`.
pub(crate) fn run_control(ctx: &mut Ctx) -> ScenarioResult {
    let mut r = ScenarioResult::new(
        "control",
        "one worker at 64 B, 1% match, with and without a Prometheus-style GET /metrics \
         every 100 ms",
    );
    if let Err(e) = ctx.ferrocap() {
        return r.skip(e);
    }
    ctx.progress.step("generating input");
    let input = match input(ctx, SMALL64, 0.01) {
        Ok(p) => p,
        Err(e) => return r.fail(format!("{e:#}")),
    };
    let rounds = if ctx.quick { 1 } else { 3 };
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let (mut without_cpu, mut with_cpu) = (Vec::new(), Vec::new());
    let (mut ok, mut failed) = (0u64, 0u64);
    let bytes = Arc::new(AtomicU64::new(0));
    for round in 0..rounds {
        for scraping in [false, true] {
            ctx.progress.step(&format!(
                "round {}: {}",
                round + 1,
                if scraping { "with scrape" } else { "no scrape" }
            ));
            let port = match util::free_port() {
                Ok(p) => p,
                Err(e) => return r.fail(format!("{e:#}")),
            };
            let stop = Arc::new(AtomicBool::new(false));
            let scraper = scraping.then(|| {
                let stop = stop.clone();
                let bytes = bytes.clone();
                std::thread::spawn(move || {
                    let addr = SocketAddr::from(([127, 0, 0, 1], port));
                    let (mut ok, mut failed) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        if scrape(addr, &bytes) {
                            ok += 1;
                        } else if ok > 0 {
                            // Before the first answer ferrocap is still
                            // starting: only later failures count.
                            failed += 1;
                        }
                        let left = Duration::from_millis(100).saturating_sub(t.elapsed());
                        std::thread::sleep(left);
                    }
                    (ok, failed)
                })
            });
            let o = FcOpts {
                tag: format!("control-{}", u8::from(scraping)),
                inputs: vec![&input],
                lcores: vec!["-l", "0-1"],
                expr: EXPR,
                control_port: port,
                perf: None,
            };
            let res = run_ferrocap(ctx, &o);
            stop.store(true, Ordering::Relaxed);
            if let Some(h) = scraper {
                let (a, b) = h.join().unwrap_or((0, 0));
                ok += a;
                failed += b;
            }
            match res {
                Ok(f) if scraping => {
                    with.push(f.mpps);
                    with_cpu.push(f.mpps_per_cpu);
                }
                Ok(f) => {
                    without.push(f.mpps);
                    without_cpu.push(f.mpps_per_cpu);
                }
                Err(e) => return r.fail(format!("{e:#}")),
            }
        }
    }
    if ok == 0 {
        return r.skip(format!(
            "not available: no GET /metrics answered 200 during the run ({failed} attempts); \
             `ferrocap run` does not serve the control plane yet (control branch not merged)"
        ));
    }
    let a = median(&mut with);
    let b = median(&mut without);
    let ratio = a.zip(b).map(|(a, b)| a / b);
    let mut row = Row {
        label: "rate with scrape / without".into(),
        ferrocap: a,
        peer: b,
        unit: "Mpps".into(),
        ratio,
        ..Row::default()
    };
    let (wc, nc) = (median(&mut with_cpu), median(&mut without_cpu));
    row.extra
        .insert("mpps_per_worker_cpu_s_with_scrape".into(), json!(wc));
    row.extra
        .insert("mpps_per_worker_cpu_s_without".into(), json!(nc));
    if let Some((a, b)) = wc.zip(nc).filter(|(_, b)| *b > 0.0) {
        row.extra
            .insert("ratio_per_worker_cpu_s".into(), json!(a / b));
    }
    row.extra.insert("scrapes_ok".into(), json!(ok));
    row.extra.insert("scrapes_failed".into(), json!(failed));
    row.extra
        .insert("metrics_bytes".into(), json!(bytes.load(Ordering::Relaxed)));
    r.rows.push(row);
    r.ratio = ratio;
    r.notes.push(
        "the peer column is ferrocap without scraping; scraping runs from a thread of \
         ferrocap-bench on the same 2 CPUs; failed scrapes count only after the first \
         answer (before it ferrocap is starting)"
            .into(),
    );
    r
}
