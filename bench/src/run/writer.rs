//! Scenario `writer`: ferrocap's dump writer ([`DumpWriter`], what the
//! appliance's writer threads use) writing every packet to a pcap file,
//! against `dd if=/dev/zero bs=1M conv=fdatasync` writing the same number
//! of bytes to the same directory.
//!
//! Like with like: both write through the page cache into a new file on the
//! same filesystem and end with an fdatasync of the file (dd's
//! `conv=fdatasync`; ours `File::sync_data` after `finish`), and both are
//! timed from process start to that sync. The packets are generated before
//! the clock starts (an IMIX pool written again and again), so only
//! formatting and writing are timed. The side that goes first alternates
//! between rounds, and sync(1) runs before each measurement.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use ferrocap_bench::gen::{self, presets};
use ferrocap_dataplane::pcap::{CaptureRecord, DumpConfig, DumpFormat, DumpWriter};
use serde_json::json;

use super::util::{median, run_timed, which, Profiler};
use super::{Ctx, Row, ScenarioResult};

const TARGET: f64 = 0.8;

/// Writes `pool` again and again until `bytes` are written; MB/s.
fn ours(path: &std::path::Path, pool: &[gen::GenPacket], bytes: u64) -> anyhow::Result<f64> {
    let t = Instant::now();
    let mut w = DumpWriter::create(
        path,
        DumpConfig {
            format: DumpFormat::Pcap,
            ..DumpConfig::default()
        },
    )?;
    'outer: loop {
        for p in pool {
            let rec = CaptureRecord {
                interface: 0,
                ..p.as_record()
            };
            w.write(&rec)?;
            if w.bytes_written() >= bytes {
                break 'outer;
            }
        }
    }
    let written = w.bytes_written();
    let f = w.finish()?;
    f.sync_data().context("fdatasync")?;
    drop(f);
    Ok(written as f64 / t.elapsed().as_secs_f64() / 1e6)
}

fn dd(path: &std::path::Path, mib: u64) -> anyhow::Result<f64> {
    let mut cmd = Command::new("dd");
    cmd.arg("if=/dev/zero")
        .arg(format!("of={}", path.display()))
        .arg("bs=1M")
        .arg(format!("count={mib}"))
        .arg("conv=fdatasync");
    let (_, t) = run_timed(&mut cmd, Duration::from_secs(600))?;
    Ok((mib << 20) as f64 / t.as_secs_f64() / 1e6)
}

/// Flushes every dirty page of the machine (sync(1)), so a measurement
/// does not pay for the previous one's writeback or file removal.
fn settle() {
    let _ = Command::new("sync").status();
}

/// Runs the scenario.
pub(crate) fn run(ctx: &mut Ctx) -> ScenarioResult {
    let mut r = ScenarioResult::new(
        "writer",
        "every packet (IMIX) to a pcap file with ferrocap's DumpWriter vs dd bs=1M \
         conv=fdatasync of the same size, same directory",
    );
    r.target = Some(format!("ferrocap / dd >= {TARGET}"));
    if which("dd").is_none() {
        return r.skip("dd is not installed");
    }
    let (mib, rounds) = if ctx.quick { (64u64, 1) } else { (1024, 3) };
    ctx.progress.step("generating packets");
    let pool: Vec<_> = gen::generate(&presets::imix(11, 20_000)).collect();
    let (ours_path, dd_path) = (ctx.work.join("writer.pcap"), ctx.work.join("dd.bin"));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which side goes first, and start each one with every
        // earlier write (and file removal) on disk.
        for dd_side in if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        } {
            settle();
            if dd_side {
                ctx.progress
                    .step(&format!("round {}: dd {mib} MiB", round + 1));
                match dd(&dd_path, mib) {
                    Ok(v) => b.push(v),
                    Err(e) => return r.fail(format!("dd: {e:#}")),
                }
                let _ = std::fs::remove_file(&dd_path);
            } else {
                ctx.progress
                    .step(&format!("round {}: ferrocap {mib} MiB", round + 1));
                match ours(&ours_path, &pool, mib << 20) {
                    Ok(v) => a.push(v),
                    Err(e) => return r.fail(format!("writer: {e:#}")),
                }
                let _ = std::fs::remove_file(&ours_path);
            }
        }
    }
    let (x, y) = (median(&mut a), median(&mut b));
    let ratio = x.zip(y).map(|(x, y)| x / y);
    let mut row = Row {
        label: format!("{mib} MiB, IMIX"),
        ferrocap: x,
        peer: y,
        unit: "MB/s".into(),
        ratio,
        target_met: ratio.map(|v| v >= TARGET),
        ..Row::default()
    };
    row.extra.insert("bytes".into(), json!(mib << 20));
    row.extra
        .insert("directory".into(), json!(ctx.work.display().to_string()));
    r.rows.push(row);
    r.ratio = ratio;
    r.target_met = ratio.map(|v| v >= TARGET);
    r.notes.push(format!(
        "median of {rounds} round(s), the side that goes first alternates, sync(1) before \
         each; both sides end with fdatasync of their file; the figure is MB/s of file \
         written (pcap headers included). The disk of a shared VM is noisy: dd alone \
         varied from 115 to over 1500 MB/s for 1 GiB between runs during development"
    ));
    if r.target_met == Some(false) && ctx.profile {
        ctx.progress.step("profiling (perf)");
        let data = ctx.work.join("perf-writer.data");
        if let Some(p) = Profiler::attach(std::process::id(), &data) {
            let _ = ours(&ours_path, &pool, mib << 20);
            r.profile = p.report();
            let _ = std::fs::remove_file(&ours_path);
        }
    }
    r
}
