//! Scenario `offline`: `ferrocap capture -r IN -w OUT EXPR` against
//! `tcpdump -r IN -w OUT 'BPF'` with the equivalent filter, on one file
//! and on many files. The inputs are generated `small64` captures, read
//! once before timing so both sides read from the page cache. Both sides
//! must write the same number of packets, or the scenario fails.
//!
//! Many files: one `ferrocap capture -r F1 -r F2 … -w DIR` process, which
//! filters its inputs on every core (rayon), against one tcpdump process per
//! file, all started at once (tcpdump reads one file per process).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use ferrocap_bench::gen::presets;
use serde_json::json;

use super::util::{self, count_records, median, which};
use super::{Ctx, Row, ScenarioResult};

const TARGET: f64 = 3.0;
const KERIO: &str = "port = 137-139 | port = 445";
const BPF: &str = "(tcp or udp) and (portrange 137-139 or port 445)";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn spawn_ours(bin: &Path, input: &Path, out: &Path) -> anyhow::Result<Child> {
    Command::new(bin)
        .arg("capture")
        .arg("-r")
        .arg(input)
        .arg("-w")
        .arg(out)
        .arg(KERIO)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting ferrocap capture")
}

fn spawn_tcpdump(input: &Path, out: &Path, root: bool) -> anyhow::Result<Child> {
    let mut c = Command::new("tcpdump");
    if root {
        // Do not drop to the tcpdump user, which may not write here.
        c.args(["-Z", "root"]);
    }
    c.arg("-r")
        .arg(input)
        .arg("-w")
        .arg(out)
        .arg(BPF)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tcpdump")
}

/// Runs all children to the end; the wall-clock time of the whole batch.
fn batch(children: Vec<Child>, started: Instant) -> anyhow::Result<f64> {
    for c in children {
        let (out, _) = util::wait_limited(c, Duration::from_secs(300))?;
        if !out.status.success() {
            return Err(anyhow!(
                "exit {}: {}",
                out.status,
                util::tail(&String::from_utf8_lossy(&out.stderr), 400)
            ));
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

fn gen_input(path: &Path, packets: u64, seed: u64) -> anyhow::Result<()> {
    util::write_capture(path, &presets::small64(seed, packets), KERIO, 0.05)?;
    // Into the page cache.
    let _ = std::fs::read(path)?;
    Ok(())
}

/// Runs the scenario.
pub(crate) fn run(ctx: &mut Ctx) -> ScenarioResult {
    let mut r = ScenarioResult::new(
        "offline",
        "ferrocap capture -r IN -w OUT 'port = 137-139 | port = 445' vs tcpdump -r IN -w OUT \
         '(tcp or udp) and (portrange 137-139 or port 445)', 64-byte frames, 5% matching",
    );
    r.target = Some(format!(
        "tcpdump time / ferrocap time >= {TARGET} on one file"
    ));
    let bin = match ctx.ferrocap() {
        Ok(b) => b.to_path_buf(),
        Err(e) => return r.skip(e),
    };
    if which("tcpdump").is_none() {
        return r.skip("tcpdump is not installed");
    }
    let root = is_root();
    let (n, rounds) = if ctx.quick {
        (100_000, 1)
    } else {
        (1_000_000, 5)
    };
    let files = std::thread::available_parallelism()
        .map_or(2, |c| c.get())
        .max(2);
    ctx.progress.step("generating inputs");
    let one = ctx.work.join("offline-1.pcap");
    let many: Vec<PathBuf> = (0..files)
        .map(|i| ctx.work.join(format!("offline-many-{i}.pcap")))
        .collect();
    if let Err(e) = gen_input(&one, n, 3) {
        return r.fail(format!("{e:#}"));
    }
    for (i, p) in many.iter().enumerate() {
        if let Err(e) = gen_input(p, n / files as u64, 100 + i as u64) {
            return r.fail(format!("{e:#}"));
        }
    }
    let out_a = |i: usize| ctx.work.join(format!("off-ours-{i}.pcap"));
    let many_dir = ctx.work.join("off-ours-many");
    let out_b = |i: usize| ctx.work.join(format!("off-tcpdump-{i}.pcap"));
    // One file.
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        ctx.progress
            .step(&format!("one file, round {}: tcpdump", round + 1));
        let t = Instant::now();
        match spawn_tcpdump(&one, &out_b(0), root).and_then(|c| batch(vec![c], t)) {
            Ok(s) => tb.push(s),
            Err(e) => return r.fail(format!("tcpdump: {e:#}")),
        }
        ctx.progress
            .step(&format!("one file, round {}: ferrocap", round + 1));
        let t = Instant::now();
        match spawn_ours(&bin, &one, &out_a(0)).and_then(|c| batch(vec![c], t)) {
            Ok(s) => ta.push(s),
            Err(e) => return r.fail(format!("ferrocap capture: {e:#}")),
        }
    }
    let (ca, cb) = match (count_records(&out_a(0)), count_records(&out_b(0))) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return r.fail(format!("reading the outputs: {e:#}")),
    };
    let (a, b) = (median(&mut ta), median(&mut tb));
    let ratio = a.zip(b).map(|(a, b)| b / a);
    let mut row = Row {
        label: format!("1 file, {n} packets"),
        ferrocap: a,
        peer: b,
        unit: "s".into(),
        ratio,
        target_met: ratio.map(|v| v >= TARGET),
        ..Row::default()
    };
    row.extra.insert("ferrocap_written".into(), json!(ca));
    row.extra.insert("tcpdump_written".into(), json!(cb));
    r.rows.push(row);
    r.ratio = ratio;
    r.target_met = ratio.map(|v| v >= TARGET);
    if ca != cb {
        return r.fail(format!(
            "outputs differ: ferrocap wrote {ca} packets, tcpdump {cb}"
        ));
    }
    // Many files, one process per file on each side, all at once.
    let (mut ma, mut mb) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        ctx.progress.step(&format!(
            "{files} files, round {}: tcpdump ×{files}",
            round + 1
        ));
        let t = Instant::now();
        let kids: anyhow::Result<Vec<_>> = many
            .iter()
            .enumerate()
            .map(|(i, p)| spawn_tcpdump(p, &out_b(i + 1), root))
            .collect();
        match kids.and_then(|k| batch(k, t)) {
            Ok(s) => mb.push(s),
            Err(e) => return r.fail(format!("tcpdump: {e:#}")),
        }
        ctx.progress.step(&format!(
            "{files} files, round {}: ferrocap ×{files}",
            round + 1
        ));
        let t = Instant::now();
        let mut cmd = Command::new(&bin);
        cmd.arg("capture");
        for p in &many {
            cmd.arg("-r").arg(p);
        }
        let kid = cmd
            .arg("-w")
            .arg(&many_dir)
            .arg(KERIO)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting ferrocap capture");
        match kid.and_then(|k| batch(vec![k], t)) {
            Ok(s) => ma.push(s),
            Err(e) => return r.fail(format!("ferrocap capture: {e:#}")),
        }
    }
    for (i, p) in many.iter().enumerate() {
        let ours = p.file_name().map(|n| many_dir.join(n));
        match (
            ours.map(|o| count_records(&o)),
            count_records(&out_b(i + 1)),
        ) {
            (Some(Ok(a)), Ok(b)) if a == b => {}
            (Some(Ok(a)), Ok(b)) => {
                return r.fail(format!(
                    "{}: ferrocap wrote {a} packets, tcpdump {b}",
                    p.display()
                ))
            }
            _ => return r.fail(format!("reading the outputs of {}", p.display())),
        }
    }
    let (a, b) = (median(&mut ma), median(&mut mb));
    let mut row = Row {
        label: format!(
            "{files} files × {} packets: 1 ferrocap process, {files} tcpdump processes",
            n / files as u64
        ),
        ferrocap: a,
        peer: b,
        unit: "s".into(),
        ratio: a.zip(b).map(|(a, b)| b / a),
        ..Row::default()
    };
    row.extra.insert("files".into(), json!(files));
    r.rows.push(row);
    r.notes.push(format!(
        "ratio = tcpdump time / ferrocap time (higher is better); median of {rounds} round(s); \
         inputs in the page cache; both outputs hold the same packets ({ca})"
    ));
    r.notes.push(
        "many files: one `ferrocap capture -r F1 -r F2 … -w DIR` (inputs filtered in parallel) \
         against one tcpdump process per file, all at once; each pair of outputs holds the same packets"
            .into(),
    );
    for i in 0..=files {
        let _ = std::fs::remove_file(out_a(i));
        let _ = std::fs::remove_file(out_b(i));
    }
    let _ = std::fs::remove_dir_all(&many_dir);
    if r.target_met == Some(false) && ctx.profile {
        ctx.progress
            .step("profiling ferrocap capture (perf record)");
        let data = ctx.work.join("perf-offline.data");
        let st = Command::new("perf")
            // The capture takes a fraction of a second: sample densely.
            .args(["record", "-F", "9999", "-q", "-o"])
            .arg(&data)
            .arg("--")
            .arg(&bin)
            .arg("capture")
            .arg("-r")
            .arg(&one)
            .arg("-w")
            .arg(out_a(0))
            .arg(KERIO)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if st.is_ok_and(|s| s.success()) {
            r.profile = util::perf_report(&data);
        }
        let _ = std::fs::remove_file(out_a(0));
    }
    r
}
