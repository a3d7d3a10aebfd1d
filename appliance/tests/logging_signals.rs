//! SIGUSR1 and SIGUSR2 change the logging level of a running `ferrocap`.
//!
//! `ferrocap capture` reads a FIFO that this test keeps open and feeds one
//! packet every few milliseconds, so the process runs as long as the test
//! wants. At level 5 it logs no debug messages; two SIGUSR1 raise the level
//! to 7 and its once-a-second progress messages (`APPL-900-D`) appear in the
//! debug log; one SIGUSR2 lowers it to 6 and they stop. Every change is
//! logged as `SLOG-110-K level changed to N`. SIGHUP reopens the log files
//! (a renamed debug log is recreated). No step depends on timing except
//! through generous deadlines that only bound a hang.

mod common;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrocap_bench::gen::{self, presets};
use ferrocap_dataplane::pcap::{DumpConfig, DumpFormat, DumpWriter, LINKTYPE_ETHERNET};

/// How long any one wait may take before the test gives up.
const DEADLINE: Duration = Duration::from_secs(60);

/// Kills the child if the test fails half-way.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends `SIG<sig>` with the shell's built-in `kill` (no extra package).
fn signal(pid: u32, sig: &str) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{sig} {pid}"))
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}

/// The complete lines of `path` (none if it does not exist yet).
fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    complete.lines().map(str::to_owned).collect()
}

/// Waits until `cond` holds for the lines of `path`; returns them.
fn wait_for(
    path: &Path,
    child: &mut Reap,
    what: &str,
    cond: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let start = Instant::now();
    loop {
        let l = lines(path);
        if cond(&l) {
            return l;
        }
        if let Some(st) = child.0.as_mut().and_then(|c| c.try_wait().unwrap()) {
            panic!(
                "ferrocap exited ({st}) while waiting for {what}; {}:\n{}",
                path.display(),
                l.join("\n")
            );
        }
        assert!(
            start.elapsed() < DEADLINE,
            "gave up waiting for {what}; {}:\n{}",
            path.display(),
            l.join("\n")
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn position(lines: &[String], needle: &str) -> Option<usize> {
    lines.iter().position(|l| l.contains(needle))
}

fn is_debug(line: &str) -> bool {
    line.contains("]: APPL-900-D ")
}

fn packets(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|l| l.contains("]: PFLG-888-I PACKET "))
        .count()
}

#[test]
fn sigusr1_and_sigusr2_change_the_level_of_a_running_capture() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success(), "mkfifo");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let debug_log = logs.join("ferrocap-debug");
    let stats_log = logs.join("ferrocap-stats");

    let child = Command::new(env!("CARGO_BIN_EXE_ferrocap"))
        .args(["capture", "-r"])
        .arg(&fifo)
        .args(["--packet-log", "any", "--log-dir"])
        .arg(&logs)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut child = Reap(Some(child));

    // The feeder writes a pcapng stream into the FIFO, one flushed packet
    // every 5 ms, until told to stop; then it closes the FIFO (EOF).
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = Arc::clone(&stop);
        let fifo: PathBuf = fifo.clone();
        thread::spawn(move || {
            let file = OpenOptions::new().write(true).open(&fifo).unwrap();
            let mut w = DumpWriter::new(file, "fifo", DumpConfig::new(DumpFormat::Pcapng)).unwrap();
            let mut cfg = presets::mix(3, 1_000_000);
            cfg.interfaces = common::interfaces();
            for i in &cfg.interfaces {
                w.add_interface(Some(&i.name), LINKTYPE_ETHERNET).unwrap();
            }
            let mut fed = 0u64;
            for p in gen::generate(&cfg) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                w.write(&p.as_record()).unwrap();
                w.flush().unwrap();
                fed += 1;
                thread::sleep(Duration::from_millis(5));
            }
            w.finish().unwrap();
            fed
        })
    };

    // Level 5: packets flow for well over a progress period, no debug message.
    wait_for(&stats_log, &mut child, "300 packet records", |l| {
        packets(l) >= 300
    });
    let l = lines(&debug_log);
    assert!(position(&l, "]: APPL-100-K ferrocap ").is_some(), "{l:?}");
    assert!(
        !l.iter().any(|x| is_debug(x)),
        "debug messages at level 5: {l:?}"
    );

    // Two steps up: 6, then 7.
    signal(pid, "USR1");
    wait_for(&debug_log, &mut child, "level 6", |l| {
        position(l, "SLOG-110-K level changed to 6").is_some()
    });
    signal(pid, "USR1");
    let l = wait_for(&debug_log, &mut child, "level 7", |l| {
        position(l, "SLOG-110-K level changed to 7").is_some()
    });
    let at7 = position(&l, "SLOG-110-K level changed to 7").unwrap();
    // Level 7 began after the first "changed to 6" line was written (the
    // signal thread handles one signal at a time).
    let first6 = position(&l, "SLOG-110-K level changed to 6").unwrap();
    // Debug messages appear.
    wait_for(&debug_log, &mut child, "a debug message at level 7", |l| {
        l.iter().skip(at7).any(|x| is_debug(x))
    });

    // One step down: 6. After the change is logged, no debug message may
    // follow, however long packets keep coming.
    signal(pid, "USR2");
    let l = wait_for(&debug_log, &mut child, "level 6 again", |l| {
        l.iter()
            .filter(|x| x.contains("SLOG-110-K level changed to 6"))
            .count()
            == 2
    });
    let at6 = l
        .iter()
        .rposition(|x| x.contains("SLOG-110-K level changed to 6"))
        .unwrap();
    let before = packets(&lines(&stats_log));
    wait_for(&stats_log, &mut child, "400 more packet records", |l| {
        packets(l) >= before + 400
    });

    // SIGHUP reopens the log files: a debug log moved away is recreated.
    let moved = logs.join("ferrocap-debug.1");
    std::fs::rename(&debug_log, &moved).unwrap();
    signal(pid, "HUP");
    wait_for(&debug_log, &mut child, "the reopened debug log", |l| {
        position(l, "SLOG-111-N log files reopened").is_some()
    });

    stop.store(true, Ordering::Relaxed);
    let fed = feeder.join().unwrap();
    let out = child.0.take().unwrap().wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let old = lines(&moved);
    let new = lines(&debug_log);
    let debug_at = |ls: &[String]| {
        ls.iter()
            .enumerate()
            .filter(|(_, x)| is_debug(x))
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    };
    let d = debug_at(&old);
    assert!(!d.is_empty());
    assert!(
        // Written only while the level was 7: after the level left 6, and
        // before the line that says it went back to 6.
        d.iter().all(|&i| i > first6 && i < at6),
        "debug messages outside level 7: {d:?} (6 at {first6}, 7 at {at7}, 6 again at {at6})\n{}",
        old.join("\n")
    );
    assert!(
        debug_at(&new).is_empty(),
        "debug messages after the level went down:\n{}",
        new.join("\n")
    );
    assert!(old
        .iter()
        .chain(&new)
        .all(|x| x.contains(&format!(" ferrocap[{pid}.0]: "))));
    // The process ended normally and logged every IP packet it was fed.
    assert!(
        position(&new, "APPL-102-K ferrocap stopped").is_some(),
        "{new:?}"
    );
    let logged = packets(&lines(&stats_log));
    assert!(
        logged > 700 && logged as u64 <= fed,
        "{logged} records for {fed} packets fed"
    );
    assert!(
        stderr.contains(&format!("{logged} PFLG-888-I records")),
        "{stderr}"
    );
}
