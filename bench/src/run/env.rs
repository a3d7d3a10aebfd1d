//! The environment a run happened in, for `results.json` and the report.
//! Every field is best effort: what cannot be found is `None`.

use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

/// Where and on what the benchmark ran.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Environment {
    /// `/proc/cpuinfo` model name.
    pub cpu_model: Option<String>,
    /// CPUs available to this process.
    pub cores: usize,
    /// Total memory in MiB.
    pub memory_mib: Option<u64>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// `pkg-config --modversion libdpdk`.
    pub dpdk_version: Option<String>,
    /// `pkg-config --modversion libpcap`.
    pub libpcap_version: Option<String>,
    /// First line of `tcpdump --version`.
    pub tcpdump_version: Option<String>,
    /// `git rev-parse HEAD` of the source tree ferrocap-bench was built
    /// from, with `-dirty` when the tree has changes.
    pub git_commit: Option<String>,
    /// UTC date and time of the run.
    pub date: Option<String>,
    /// The ferrocap binary used and its `--version`.
    pub ferrocap: Option<String>,
    /// The 1-minute load average when the run started (other work on the
    /// machine makes figures noisy).
    pub load_average: Option<String>,
}

fn output(prog: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // tcpdump prints its version to stdout, older ones to stderr.
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    let s = String::from_utf8_lossy(&text)
        .lines()
        .next()?
        .trim()
        .to_owned();
    (!s.is_empty()).then_some(s)
}

impl Environment {
    /// Collects what it can.
    pub(crate) fn collect(ferrocap: Option<&Path>) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned());
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .map(|kib| kib / 1024);
        // The source tree this tool was built from.
        let src = env!("CARGO_MANIFEST_DIR");
        let git = output("git", &["-C", src, "rev-parse", "HEAD"]).map(|c| {
            let dirty = output(
                "git",
                &["-C", src, "status", "--porcelain", "--untracked-files=no"],
            )
            .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        });
        Environment {
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mib,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
            dpdk_version: output("pkg-config", &["--modversion", "libdpdk"]),
            libpcap_version: output("pkg-config", &["--modversion", "libpcap"]),
            tcpdump_version: output("tcpdump", &["--version"]),
            git_commit: git,
            date: output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
            ferrocap: ferrocap.map(|p| {
                let v = p
                    .to_str()
                    .and_then(|s| output(s, &["--version"]))
                    .unwrap_or_default();
                format!("{} ({v})", p.display())
            }),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| s.split_whitespace().next().map(str::to_owned)),
        }
    }
}
