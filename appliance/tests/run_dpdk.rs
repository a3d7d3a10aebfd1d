//! `ferrocap run` end to end over DPDK's virtual devices (no NIC, no
//! hugepages). Each test starts the `ferrocap` binary as a child process
//! with its own config and a unique `--file-prefix`, since the EAL starts
//! only once per process, and reads the JSON summary it writes on exit
//! (`--summary-json`).
#![cfg(feature = "dpdk")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferrocap_dataplane::log::message::{parse_stat, unquote};
use ferrocap_dataplane::pcap::CaptureReader;
use serde_json::Value;

fn demo_pcap() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/demo.pcap")
}

/// The `[eal]` section with a unique file prefix and `cores` (`-l 0-1`, or
/// `--lcores=…`), and the control plane off (these tests run in parallel
/// and do not use it; `control_dpdk.rs` does).
fn eal(test: &str, cores: &str) -> String {
    format!(
        r#"[control]
enabled = false

[eal]
args = [{cores}, "--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "--no-shconf",
        "--file-prefix=ferrocap-run-{}-{test}", "--log-level=lib.eal:warning"]
"#,
        std::process::id()
    )
}

/// Removes the empty runtime directory the EAL leaves per file prefix.
fn cleanup(test: &str) {
    let prefix = format!("ferrocap-run-{}-{test}", std::process::id());
    let dirs = [
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| Path::new(&d).join("dpdk")),
        Some(PathBuf::from("/var/run/dpdk")),
        Some(std::env::temp_dir().join("dpdk")),
    ];
    for d in dirs.into_iter().flatten() {
        let _ = std::fs::remove_dir(d.join(&prefix));
    }
}

fn start(dir: &Path, config: &str, extra: &[&str]) -> Child {
    let path = dir.join("ferrocap.toml");
    std::fs::write(&path, config).expect("write config");
    Command::new(env!("CARGO_BIN_EXE_ferrocap"))
        .arg("run")
        .arg("--config")
        .arg(&path)
        .arg("--summary-json")
        .arg(dir.join("summary.json"))
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ferrocap")
}

fn wait(child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    let mut child = child;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn summary(dir: &Path, out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ferrocap run failed ({}):\n{stderr}",
        out.status
    );
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    let v: Value = serde_json::from_str(&text).expect("summary JSON");
    assert_eq!(v["identities_ok"], Value::Bool(true), "{text}\n{stderr}");
    v
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn output<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["counters"]["outputs"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["name"] == name))
        .unwrap_or_else(|| panic!("no output {name} in {v}"))
}

/// Every record's bytes, in order.
fn records(path: &Path) -> Vec<Vec<u8>> {
    let mut r = CaptureReader::open(path).expect("open capture");
    let mut v = Vec::new();
    while let Some(rec) = r.next_record().expect("record") {
        v.push(rec.data.to_vec());
    }
    v
}

/// 1-based frame numbers tshark selects in `file` with `filter`.
fn tshark_select(file: &Path, filter: &str) -> Vec<usize> {
    let out = Command::new("tshark")
        .args([
            "-n",
            "-o",
            "ip.defragment:FALSE",
            "-o",
            "ipv6.defragment:FALSE",
            "-r",
        ])
        .arg(file)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// A complete outer TCP/UDP header (see tshark_crosscheck.rs).
const L4: &str = "(!icmp and !icmpv6 and (tcp.urgent_pointer or udp.length))";

#[test]
fn net_pcap_replay_dumps_exactly_what_tshark_selects() {
    if !common::tshark::available() {
        eprintln!("tshark not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let input = demo_pcap();
    let config = format!(
        r#"{eal}
[[port]]
name = "net_pcap0"
vdev = "net_pcap0,rx_pcap={input}"
pool_size = 32767

[[interface]]
name = "Internet"
port = "net_pcap0"

[runtime]
ring_slots = 32768

[packet_logging]
expression = "dport = 53"

[[dump]]
name = "smb"
expression = "port = 137-139 | port = 445"
path = "smb.pcapng"

[[dump]]
name = "syn"
expression = "tcpfl = SYN -ACK"
path = "syn.pcap"
format = "pcap"

[log]
output = "file"
dir = "log"
"#,
        eal = eal("replay", r#""-l", "0-1""#),
        input = input.display()
    );
    let out = wait(
        start(dir.path(), &config, &["--duration", "3"]),
        Duration::from_secs(120),
    );
    cleanup("replay");
    let v = summary(dir.path(), &out);
    let all = records(&input);
    assert_eq!(n(&v["rx"]), all.len() as u64, "every frame was received");
    assert_eq!(n(&v["ports"][0]["ipackets"]), all.len() as u64);
    assert_eq!(n(&v["ports"][0]["imissed"]), 0);
    assert_eq!(n(&v["dropped"]), 0);
    let cases = [
        (
            "smb",
            "smb.pcapng",
            format!("({L4} and (tcp.port in {{137..139, 445}} or udp.port in {{137..139, 445}}))"),
        ),
        (
            "syn",
            "syn.pcap",
            format!("({L4} and tcp.flags.syn == 1 and tcp.flags.ack == 0)"),
        ),
    ];
    for (name, file, filter) in cases {
        let want: Vec<Vec<u8>> = tshark_select(&input, &filter)
            .into_iter()
            .filter_map(|i| all.get(i - 1).cloned())
            .collect();
        assert!(!want.is_empty(), "{name}: the filter selects something");
        let got = records(&dir.path().join(file));
        assert_eq!(got.len(), want.len(), "{name}: frame count");
        assert!(
            got == want,
            "{name}: the dump holds exactly the frames tshark selects, in order"
        );
        let o = output(&v, name);
        assert_eq!(n(&o["matched"]), want.len() as u64);
        assert_eq!(n(&o["written"]), want.len() as u64);
        assert_eq!(
            common::tshark_count(&dir.path().join(file)),
            want.len() as u64
        );
    }
    let dns = tshark_select(
        &input,
        &format!("({L4} and (tcp.dstport == 53 or udp.dstport == 53))"),
    )
    .len() as u64;
    assert_eq!(n(&output(&v, "packet_logging")["written"]), dns);
    let stats = std::fs::read_to_string(dir.path().join("log/ferrocap-stats")).expect("stats log");
    assert_eq!(stats.matches("PFLG-888-I PACKET").count() as u64, dns);
    assert!(stats.contains("APPL-888-I SUMMARY"), "{stats}");
    // Dump records are machine-readable: the expression, which holds spaces
    // and `=`, comes back whole from the record.
    let start = stats
        .lines()
        .filter_map(|l| l.split_once("PDMP-880-I ").map(|(_, rec)| rec))
        .filter_map(parse_stat)
        .find(|r| r.fields.contains(&("NAME", "smb")))
        .expect("a DUMP-START record for smb");
    let expr = start
        .fields
        .iter()
        .find(|(k, _)| *k == "EXPR")
        .expect("EXPR field")
        .1;
    let mut scratch = String::new();
    assert_eq!(unquote(expr, &mut scratch), "port = 137-139 | port = 445");
    assert!(
        stats.contains(&format!("MONI-888-I COUNTERS WORKER=0 RX={}", all.len())),
        "{stats}"
    );
}

#[test]
fn two_workers_on_two_queues_add_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"{eal}
[[port]]
name = "net_null0"
vdev = "net_null0"
rx_queues = 2
pool_size = 32767

[[interface]]
name = "Null"
port = "net_null0"
direction = "in"

[[dump]]
name = "all"
expression = 'iif = "Null" & direc = in'
path = "/dev/null"
format = "pcap"

[[dump]]
name = "web"
expression = "port = 80"
path = "web.pcap"
format = "pcap"
"#,
        eal = eal("null2", r#""--lcores=0@0,1@1,2@0""#),
    );
    let out = wait(
        start(dir.path(), &config, &["--duration", "1.5"]),
        Duration::from_secs(120),
    );
    cleanup("null2");
    let v = summary(dir.path(), &out);
    let workers = v["counters"]["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), 2);
    let rx: u64 = workers.iter().map(|w| n(&w["rx"])).sum();
    for w in workers {
        assert!(n(&w["rx"]) > 0, "both queues delivered: {w}");
        assert_eq!(n(&w["rx"]), n(&w["matched"]) + n(&w["unmatched"]));
    }
    assert_eq!(rx, n(&v["rx"]));
    assert_eq!(
        rx,
        n(&v["ports"][0]["ipackets"]),
        "workers saw every packet the port counted"
    );
    let all = output(&v, "all");
    assert_eq!(
        n(&all["matched"]),
        rx,
        "metadata-only expression matches every packet"
    );
    assert_eq!(
        n(&all["matched"]),
        n(&all["written"]) + n(&all["dropped_queue_full"]) + n(&all["dropped_write_error"])
    );
    let per_worker: u64 = all["per_worker"]
        .as_array()
        .expect("per worker")
        .iter()
        .map(|p| n(&p[0]))
        .sum();
    assert_eq!(per_worker, rx);
    // net_null frames are zeros: not IP, so no port matches.
    assert_eq!(n(&output(&v, "web")["matched"]), 0);
    assert_eq!(tshark_reads_or_zero(&dir.path().join("web.pcap")), 0);
}

fn tshark_reads_or_zero(file: &Path) -> u64 {
    if common::tshark::available() {
        common::tshark_count(file)
    } else {
        records(file).len() as u64
    }
}

#[test]
fn too_few_lcores_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "{}\n[[port]]\nname = \"net_null0\"\nvdev = \"net_null0\"\nrx_queues = 2\n",
        eal("lcores", r#""-l", "0-1""#)
    );
    let out = wait(
        start(dir.path(), &config, &["--duration", "1"]),
        Duration::from_secs(60),
    );
    cleanup("lcores");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 RX queues need 2 worker lcores, but the EAL has 1"),
        "{stderr}"
    );
}

#[test]
fn check_config_reports_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[dump]]\nname = \"x\"\nexpression = \"port = 70000\"\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocap"))
        .args(["run", "--check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Line 3, char 22:"), "{stderr}");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/demo.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocap"))
        .args(["run", "--check-config", "--config"])
        .arg(&demo)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigterm_leaves_every_dump_readable_and_a_full_disk_stops_only_its_dump() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"{eal}
[[port]]
name = "net_pcap0"
vdev = "net_pcap0,rx_pcap={input},infinite_rx=1"
pool_size = 32767

[[interface]]
name = "Internet"
port = "net_pcap0"
direction = "by_mac"
mac = "00:1b:21:3c:4d:01"

[[dump]]
name = "tcp"
expression = "port < 1024"
path = "out/tcp.pcapng"
max_file_bytes = 2000000
max_files = 3

[[dump]]
name = "syn"
expression = "tcpfl = SYN"
path = "out/syn.pcap"
format = "pcap"

[[dump]]
name = "full"
expression = "any"
path = "/dev/full"
format = "pcap"

[log]
output = "file"
dir = "log"
"#,
        eal = eal("sigterm", r#""-l", "0-1""#),
        input = demo_pcap().display()
    );
    let child = start(dir.path(), &config, &[]);
    // Wait until the tcp dump has rotated once (so a rotated file and a
    // file being written both exist), then stop it like systemd would.
    let deadline = Instant::now() + Duration::from_secs(60);
    let rotated = dir.path().join("out/tcp.1.pcapng");
    while !rotated.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = wait(child, Duration::from_secs(60));
    cleanup("sigterm");
    let v = summary(dir.path(), &out);
    assert_eq!(v["reason"], "signal");
    assert!(n(&v["rx"]) > 0);
    let full = output(&v, "full");
    assert_eq!(full["failed"], Value::Bool(true));
    assert_eq!(n(&full["write_errors"]), 1);
    assert_eq!(n(&full["written"]), 0);
    assert_eq!(
        n(&full["matched"]),
        n(&full["dropped_write_error"]) + n(&full["dropped_queue_full"])
    );
    for name in ["tcp", "syn"] {
        let o = output(&v, name);
        assert_eq!(o["failed"], Value::Bool(false), "{name}");
        assert!(n(&o["written"]) > 0, "{name}");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("out"))
        .expect("out dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"tcp.1.pcapng".to_owned()),
        "rotated: {names:?}"
    );
    assert!(
        !names.contains(&"tcp.3.pcapng".to_owned()),
        "ring of 3: {names:?}"
    );
    for f in &files {
        let count = records(f).len() as u64;
        assert!(count > 0, "{}", f.display());
        if common::tshark::available() {
            assert_eq!(common::tshark_count(f), count, "{}", f.display());
        }
    }
    assert_eq!(
        records(&dir.path().join("out/syn.pcap")).len() as u64,
        n(&output(&v, "syn")["written"])
    );
    let debug = std::fs::read_to_string(dir.path().join("log/ferrocap-debug")).unwrap_or_default();
    let stats = std::fs::read_to_string(dir.path().join("log/ferrocap-stats")).unwrap_or_default();
    let log = format!("{debug}{stats}");
    assert!(
        log.contains("PDMP-110-E dump full: writing /dev/full failed"),
        "{log}"
    );
    assert!(
        log.contains("APPL-101-K ferrocap stopping (signal)"),
        "{log}"
    );
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success(), "kill -{sig}");
}

/// Waits until `path` holds `needle` (or 30 s pass) and returns its text.
fn wait_for(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGUSR1/SIGUSR2 change the level and SIGHUP reopens the log files (what
/// logrotate sends after moving them away) while `ferrocap run` goes on;
/// none of them ends the process.
#[test]
fn log_signals_change_the_level_and_reopen_without_stopping_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"{eal}
[[port]]
name = "net_pcap0"
vdev = "net_pcap0,rx_pcap={input},infinite_rx=1"
pool_size = 32767

[[dump]]
name = "syn"
expression = "tcpfl = SYN"
path = "out/syn.pcap"

[log]
output = "file"
dir = "log"
"#,
        eal = eal("signals", r#""-l", "0-1""#),
        input = demo_pcap().display()
    );
    let child = start(dir.path(), &config, &[]);
    let debug = dir.path().join("log/ferrocap-debug");
    let started = wait_for(&debug, "DPDW-");
    assert!(started.contains("DPDW-"), "no worker start in {started}");
    // Only the worker runs on the worker core (1): the threads started
    // before the EAL (logger, signals) were moved to the main lcore's core.
    let mut seen = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{}/task", child.id())).expect("tasks") {
        let dir = task.expect("task").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        seen.push(format!("{}={cpus}", comm.trim()));
    }
    for s in &seen {
        let on_worker_core = s.ends_with("=1");
        assert_eq!(
            on_worker_core,
            s.starts_with("rte-worker") || s.starts_with("lcore-worker"),
            "{seen:?}"
        );
    }
    assert!(seen.iter().any(|s| s == "ferrocap-log=0"), "{seen:?}");
    signal(&child, "USR1");
    let text = wait_for(&debug, "SLOG-110-K level changed to 6");
    assert!(text.contains("SLOG-110-K level changed to 6"), "{text}");
    signal(&child, "USR2");
    let text = wait_for(&debug, "SLOG-110-K level changed to 5");
    assert!(text.contains("SLOG-110-K level changed to 5"), "{text}");
    // Rotate like logrotate: move the file away, then SIGHUP.
    std::fs::rename(&debug, dir.path().join("log/ferrocap-debug.1")).expect("rotate");
    signal(&child, "HUP");
    let text = wait_for(&debug, "SLOG-111-N log files reopened");
    assert!(text.contains("SLOG-111-N log files reopened"), "{text}");
    signal(&child, "TERM");
    let out = wait(child, Duration::from_secs(60));
    cleanup("signals");
    let v = summary(dir.path(), &out);
    assert_eq!(v["reason"], "signal");
    assert!(n(&v["rx"]) > 0);
    // The records after the rotation went to the new file.
    let after = std::fs::read_to_string(&debug).expect("new debug log");
    assert!(
        after.contains("APPL-101-K ferrocap stopping (signal)"),
        "{after}"
    );
    let before = std::fs::read_to_string(dir.path().join("log/ferrocap-debug.1")).unwrap();
    assert!(!before.contains("APPL-101-K"), "{before}");
}

/// A dump whose write fails part-way (here at a file-size limit, as on a
/// full disk) is cut back to whole records: tshark reads it to the end,
/// and it holds exactly the packets counted as written; the process goes
/// on to its duration.
#[test]
fn a_write_failing_mid_record_leaves_a_dump_of_whole_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("out")).expect("out dir");
    let config = format!(
        r#"{eal}
[[port]]
name = "net_pcap0"
vdev = "net_pcap0,rx_pcap={input},infinite_rx=1"
pool_size = 32767

[[interface]]
name = "Internet"
port = "net_pcap0"
direction = "in"

[[dump]]
name = "all"
expression = "any"
path = "out/all.pcap"
format = "pcap"

[log]
output = "file"
dir = "log"
"#,
        eal = eal("fsize", r#""-l", "0-1""#),
        input = demo_pcap().display()
    );
    let path = dir.path().join("ferrocap.toml");
    std::fs::write(&path, config).expect("write config");
    // 3000 KiB: not a multiple of the writer's 1 MiB buffer, so the write
    // that reaches the limit is cut inside a record.
    let child = Command::new("bash")
        .arg("-c")
        .arg(r#"ulimit -f 3000 && exec "$0" run --config "$1" --summary-json "$2" --duration 3"#)
        .arg(env!("CARGO_BIN_EXE_ferrocap"))
        .arg(&path)
        .arg(dir.path().join("summary.json"))
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ferrocap");
    let out = wait(child, Duration::from_secs(60));
    cleanup("fsize");
    let v = summary(dir.path(), &out);
    let all = output(&v, "all");
    assert_eq!(all["failed"], Value::Bool(true), "{v}");
    assert_eq!(n(&all["write_errors"]), 1);
    let written = n(&all["written"]);
    let file = dir.path().join("out/all.pcap");
    let len = std::fs::metadata(&file).expect("dump").len();
    assert!(len < 3000 * 1024, "{len}");
    assert_eq!(records(&file).len() as u64, written);
    assert_eq!(common::tshark_count(&file), written);
    assert!(written > 0, "the first flushes fit under the limit");
    let debug = std::fs::read_to_string(dir.path().join("log/ferrocap-debug")).unwrap_or_default();
    assert!(debug.contains("PDMP-110-E dump all: writing"), "{debug}");
}

/// `capture --eal` stops as soon as its one output fails, says why on
/// stderr and exits 1 (it went on for the whole duration and exited 0).
#[test]
fn live_capture_stops_with_a_clear_error_when_its_dump_fails() {
    let prefix = format!("ferrocap-run-{}-livefull", std::process::id());
    let eal = format!(
        "-l 0-1 --no-huge -m 256 --no-pci --no-telemetry --no-shconf --log-level=lib.eal:warning \
         --file-prefix={prefix} --vdev=net_pcap0,rx_pcap={},infinite_rx=1",
        demo_pcap().display()
    );
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocap"))
        .args([
            "capture",
            "--eal",
            &eal,
            "-w",
            "/dev/full",
            "--format",
            "pcap",
        ])
        .args(["--duration", "30", "any"])
        .output()
        .expect("ferrocap capture");
    cleanup("livefull");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the capture stopped: writing /dev/full failed: No space left on device"),
        "{stderr}"
    );
    assert!(stderr.contains(r#""reason":"dump failed""#), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "ran to the duration"
    );
}

/// `capture --pool-size`: `infinite_rx=1` holds the whole capture
/// (15000 packets) in mbufs, so a pool of 1024 fails with a hint that names
/// the option, and one of 20000 captures.
#[test]
fn live_capture_pool_size_sets_the_mbuf_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |test: &str, pool: &str, out: &Path| {
        let prefix = format!("ferrocap-run-{}-{test}", std::process::id());
        let eal = format!(
            "-l 0-1 --no-huge -m 256 --no-pci --no-telemetry --no-shconf --log-level=lib.eal:warning \
             --file-prefix={prefix} --vdev=net_pcap0,rx_pcap={},infinite_rx=1",
            demo_pcap().display()
        );
        let output = Command::new(env!("CARGO_BIN_EXE_ferrocap"))
            .args(["capture", "--eal", &eal, "--pool-size", pool, "-c", "500"])
            .arg("-w")
            .arg(out)
            .args(["--duration", "30", "any"])
            .output()
            .expect("ferrocap capture");
        cleanup(test);
        output
    };
    let small = run("poolsmall", "1024", &dir.path().join("small.pcap"));
    let stderr = String::from_utf8_lossy(&small.stderr);
    assert_eq!(small.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the pool of 1024 mbufs must hold every packet of rx_pcap")
            && stderr.contains("--pool-size"),
        "{stderr}"
    );
    let file = dir.path().join("big.pcap");
    let big = run("poolbig", "20000", &file);
    let stderr = String::from_utf8_lossy(&big.stderr);
    assert_eq!(big.status.code(), Some(0), "{stderr}");
    assert_eq!(common::tshark_count(&file), 500, "{stderr}");
}
