//! Helpers shared by the scenarios: medians, child processes with a time
//! limit, free loopback ports, perf profiles, generated captures.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use ferrocap_bench::gen::{self, GenConfig};
use ferrocap_dataplane::expr::{compile, Directory, InterfaceKind};
use ferrocap_dataplane::pcap::{DumpConfig, DumpFormat, DumpWriter};

/// The median of `v` (sorts it); `None` when empty.
pub(crate) fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Whether `prog` is on the PATH.
pub(crate) fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// Waits for `child` for at most `limit`, killing it after that. Returns
/// its output and the wall-clock time it ran.
pub(crate) fn wait_limited(child: Child, limit: Duration) -> anyhow::Result<(Output, Duration)> {
    wait_sampling(child, limit, |_| {})
}

/// CPU seconds used so far by each thread name of `pid` (threads of the
/// same name added up), from /proc.
pub(crate) fn thread_cpu(pid: u32) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return m;
    };
    for t in dir.flatten() {
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(t.path().join("comm")),
            std::fs::read_to_string(t.path().join("stat")),
        ) else {
            continue;
        };
        if let Some(c) = stat_cpu(&stat) {
            *m.entry(comm.trim().to_owned()).or_insert(0.0) += c;
        }
    }
    m
}

/// utime + stime of one /proc stat line, in seconds (10 ms ticks).
fn stat_cpu(stat: &str) -> Option<f64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15.
    let u: u64 = f.get(11)?.parse().ok()?;
    let s: u64 = f.get(12)?.parse().ok()?;
    Some(u.saturating_add(s) as f64 / 100.0)
}

/// Like [`wait_limited`], calling `sample(pid)` every 100 ms while the
/// child runs.
pub(crate) fn wait_sampling(
    mut child: Child,
    limit: Duration,
    mut sample: impl FnMut(u32),
) -> anyhow::Result<(Output, Duration)> {
    let t = Instant::now();
    // Drain the pipes in threads so a chatty child never blocks.
    let mut so = child.stdout.take();
    let mut se = child.stderr.take();
    let ho = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let he = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = se.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let mut last_sample = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().context("waiting for a child")? {
            break s;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            break child.wait().context("waiting for a killed child")?;
        }
        if last_sample.elapsed() >= Duration::from_millis(100) {
            sample(child.id());
            last_sample = Instant::now();
        }
        // Short runs (offline captures take tens of milliseconds) need a
        // fine clock: a 5 ms poll would add up to 5 ms to a 17 ms run.
        std::thread::sleep(if t.elapsed() < Duration::from_millis(500) {
            Duration::from_micros(100)
        } else {
            Duration::from_millis(5)
        });
    };
    let elapsed = t.elapsed();
    let stdout = ho.join().unwrap_or_default();
    let stderr = he.join().unwrap_or_default();
    Ok((
        Output {
            status,
            stdout,
            stderr,
        },
        elapsed,
    ))
}

/// Runs `cmd` with piped output and a time limit; fails on a non-zero
/// exit with the end of its stderr.
pub(crate) fn run_timed(cmd: &mut Command, limit: Duration) -> anyhow::Result<(Output, Duration)> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let (out, t) = wait_limited(child, limit)?;
    if !out.status.success() {
        return Err(anyhow!(
            "{:?} failed ({}): {}",
            cmd.get_program(),
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr), 600)
        ));
    }
    Ok((out, t))
}

/// The last `n` bytes of `s` (on a char boundary).
pub(crate) fn tail(s: &str, n: usize) -> String {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].trim().to_owned()
}

/// A loopback TCP port that was free a moment ago.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(l.local_addr().context("local address")?.port())
}

/// Sends SIGINT to `pid` (through kill(1): no unsafe code here).
pub(crate) fn interrupt(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A running `perf record`, stopped by [`Profiler::report`].
pub(crate) struct Profiler {
    child: Child,
    data: PathBuf,
}

impl Profiler {
    /// Starts `perf record` on `pid`; `None` when perf is missing or
    /// refuses.
    pub(crate) fn attach(pid: u32, data: &Path) -> Option<Profiler> {
        which("perf")?;
        let child = Command::new("perf")
            .args(["record", "-F", "999", "-q", "-o"])
            .arg(data)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // perf needs a moment to attach.
        std::thread::sleep(Duration::from_millis(300));
        Some(Profiler {
            child,
            data: data.to_path_buf(),
        })
    }

    /// Stops recording and returns the top of `perf report`.
    /// Since the hot loop of an in-process profile is mostly inlined code,
    /// the report also lists the hottest source lines.
    pub(crate) fn report(self) -> Option<String> {
        interrupt(self.child.id());
        let _ = wait_limited(self.child, Duration::from_secs(30));
        let by_symbol = perf_report(&self.data)?;
        Some(match perf_report_by(&self.data, "srcline") {
            Some(lines) => format!("{by_symbol}\n\nby source line (inlined code):\n{lines}"),
            None => by_symbol,
        })
    }
}

/// The hottest symbols of a perf.data file, as text.
pub(crate) fn perf_report(data: &Path) -> Option<String> {
    perf_report_by(data, "comm,dso,symbol")
}

/// The hottest entries of a perf.data file sorted by `sort` (perf's
/// `--sort` keys, e.g. `srcline` to see through inlining), as text.
pub(crate) fn perf_report_by(data: &Path, sort: &str) -> Option<String> {
    let out = Command::new("perf")
        .args(["report", "--stdio", "--no-children", "--sort", sort])
        .args(["--percent-limit", "1.5", "-i"])
        .arg(data)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        // perf pads the line with empty columns ("-").
        .map(|l| l.trim_end_matches([' ', '-']))
        .take(25)
        .collect();
    if lines.is_empty() {
        None
    } else {
        Some(lines.join("\n"))
    }
}

/// Writes `cfg`'s packets to `path` as classic pcap, `fraction` of them
/// matching `expr` (compiled with every packet on interface `Internet`,
/// every route to it). Returns the number of packets and of bytes.
pub(crate) fn write_capture(
    path: &Path,
    cfg: &GenConfig,
    expr: &str,
    fraction: f64,
) -> anyhow::Result<(u64, u64)> {
    let dir = Directory::builder()
        .interface("Internet", InterfaceKind::Ethernet)
        .route("0.0.0.0/0", "Internet")
        .route("::/0", "Internet")
        .build()
        .context("directory")?;
    let matcher = compile(expr, &dir)
        .map_err(|e| anyhow!("{expr:?}: {e}"))?
        .matcher;
    let sel = gen::MatchSelection {
        matcher: &matcher,
        directory: &dir,
        default_interface: Some("Internet"),
        fraction,
    };
    let mut w = DumpWriter::create(
        path,
        DumpConfig {
            format: DumpFormat::Pcap,
            ..DumpConfig::default()
        },
    )?;
    let mut n = 0;
    for p in gen::select(cfg, sel)? {
        let p = p?;
        let mut rec = p.as_record();
        rec.interface = 0;
        w.write(&rec)?;
        n += 1;
    }
    let bytes = w.bytes_written();
    w.finish()?;
    Ok((n, bytes))
}

/// Counts the records of a capture file.
pub(crate) fn count_records(path: &Path) -> anyhow::Result<u64> {
    let mut r = ferrocap_dataplane::pcap::CaptureReader::open(path)?;
    let mut n = 0;
    while r.next_record()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// CPU time (user + system) all threads of `pid` used so far, in seconds
/// (clock ticks of 10 ms); `None` when /proc does not say.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let mut total = 0.0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let stat = std::fs::read_to_string(t.ok()?.path().join("stat")).ok()?;
        total += stat_cpu(&stat)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_reads_utime_and_stime_after_the_command() {
        // The command may hold spaces and parentheses.
        let line = "42 (rte worker) 1) R 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0";
        assert_eq!(stat_cpu(line), Some(1.75));
        assert_eq!(stat_cpu("42 (x) R 1 2"), None);
    }

    #[test]
    fn median_and_tail() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(3.0));
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 10), "ab");
        assert_eq!(tail("aé", 1), "");
    }
}
