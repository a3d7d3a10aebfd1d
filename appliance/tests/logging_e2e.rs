//! End-to-end tests of the Kernun logging facility through the real
//! `ferrocap` binary: the envelope of both log files, packet logging checked
//! against tshark (record count and fields), dump records, `-d`, the memory
//! log on clean and failed exits, syslog datagrams, `ferrocap stats` and
//! `ferrocap explain`.

mod common;

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use common::{tshark, write_capture};
use ferrocap_dataplane::log::catalog;
use ferrocap_dataplane::log::message::{parse_stat, unquote};
use regex::Regex;

/// The packet-log expression the tests use, and its tshark equivalent
/// (outermost headers only, reassembly off; see `tshark_crosscheck.rs`).
const PACKET_LOG: &str = r#"(direc = in & (port = 80 | port = 443)) | (iif = "LAN" & tcpfl = SYN) | daddr = 192.168.1.0/24"#;
/// A complete TCP/UDP header was read (the outermost one): the last field
/// of each header is there. (`udp.length` is not enough: a frame cut by the
/// snaplen inside the UDP checksum still has it.)
const L4: &str = "(!icmp and !icmpv6 and (tcp.urgent_pointer or udp.checksum))";

fn packet_log_filter() -> String {
    let port = |v: u16| {
        format!("({L4} and (tcp.srcport == {v} or tcp.dstport == {v} or udp.srcport == {v} or udp.dstport == {v}))")
    };
    format!(
        "(frame.packet_flags_direction == 1 and ({} or {})) or (frame.interface_name == \"LAN\" and {L4} and tcp.flags.syn == 1) or ip.dst#1 == 192.168.1.0/24",
        port(80),
        port(443)
    )
}

/// The dump expression (different from the packet log's) and its filter.
const DUMP: &str = "dport = 53";
fn dump_filter() -> String {
    format!("({L4} and (tcp.dstport == 53 or udp.dstport == 53))")
}

fn ferrocap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrocap"))
}

/// Runs `cmd` with stderr captured; returns the child's pid (the `PID` of
/// its log lines) and its output.
fn run_with_pid(cmd: &mut Command) -> (u32, Output) {
    let child = cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    (pid, child.wait_with_output().unwrap())
}

/// `ferrocap capture --config CONFIG -r INPUT --packet-log EXPR`.
fn packet_log_with_config(config: &Path, input: &Path, expr: &str) -> Command {
    let mut cmd = ferrocap();
    cmd.args(["capture", "--config"])
        .arg(config)
        .arg("-r")
        .arg(input)
        .args(["--packet-log", expr]);
    cmd
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("ferrocap runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// The seed's envelope, strictly: `Mon D H:MM:SS HOST IDENT[PID.N]: CODE-NNN-S text`.
fn envelope() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([1-9]|[12][0-9]|3[01]) ([0-9]|1[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] (\S+) ([a-z]+)\[([1-9][0-9]*)\.(0|[1-9][0-9]*)\]: ([A-Z]{4})-([0-9]{3})-([XACEWNKIDTF]) (\S.*)$",
        )
        .unwrap()
    })
}

/// One parsed log line.
#[derive(Debug, Clone)]
struct Line {
    host: String,
    ident: String,
    pid: u32,
    track: u32,
    id: String,
    severity: char,
    text: String,
}

/// Parses every line of `text`, failing on any that does not fit the envelope.
fn parse_lines(what: &str, text: &str) -> Vec<Line> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{what}: last line unterminated"
    );
    text.lines()
        .map(|l| {
            let c = envelope()
                .captures(l)
                .unwrap_or_else(|| panic!("{what}: line does not fit the envelope: {l:?}"));
            Line {
                host: c[4].to_owned(),
                ident: c[5].to_owned(),
                pid: c[6].parse().unwrap(),
                track: c[7].parse().unwrap(),
                id: format!("{}-{}", &c[8], &c[9]),
                severity: c[10].chars().next().unwrap(),
                text: c[11].to_owned(),
            }
        })
        .collect()
}

/// Checks what every line of a run shares: host, ident, the child's pid,
/// track 0, and a catalog id with its severity (debug messages excepted).
fn check_origin(what: &str, lines: &[Line], pid: u32, host: &str) {
    for l in lines {
        assert_eq!(
            (l.host.as_str(), l.ident.as_str(), l.pid, l.track),
            (host, "ferrocap", pid, 0),
            "{what}: {l:?}"
        );
        if !matches!(l.severity, 'D' | 'T' | 'F') {
            let e = catalog::lookup(&l.id)
                .unwrap_or_else(|| panic!("{what}: {} not in the catalog", l.id));
            assert_eq!(e.severity.letter(), l.severity, "{what}: {l:?}");
        }
    }
}

/// What a packet-log record says about a frame, in a form tshark's fields
/// give too: `TS LEN DIR IF SRC DST L4`, where L4 is `PROTO SPORT DPORT
/// FLAGS` when the outermost TCP/UDP header was read whole and `-` otherwise.
type Row = String;

/// The rows of the frames `filter` selects, sorted.
fn tshark_rows(file: &Path, filter: &str) -> Vec<Row> {
    let fields = [
        "frame.time_epoch",
        "frame.len",
        "frame.interface_name",
        "frame.packet_flags_direction",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.flags",
        "udp.srcport",
        "udp.dstport",
        "tcp.urgent_pointer",
        "udp.checksum",
        "icmp.type",
        "icmpv6.type",
    ];
    let mut cmd = Command::new("tshark");
    cmd.args([
        "-n",
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-r",
    ])
    .arg(file)
    .args([
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "occurrence=f",
        "-E",
        "separator=|",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows: Vec<Row> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            assert_eq!(f.len(), fields.len(), "{line}");
            let (secs, frac) = f[0].split_once('.').unwrap();
            let dir = match f[3].trim_start_matches("0x").trim_start_matches('0') {
                "1" => "in",
                "2" => "out",
                _ => "unknown",
            };
            let (src, dst) = if f[4].is_empty() {
                (f[6], f[7])
            } else {
                (f[4], f[5])
            };
            // Same test as the L4 filter: a whole TCP or UDP header, not inside ICMP.
            let whole =
                f[15].is_empty() && f[16].is_empty() && !(f[13].is_empty() && f[14].is_empty());
            let l4 = if whole && !f[8].is_empty() {
                let flags = u16::from_str_radix(f[10].trim_start_matches("0x"), 16).unwrap();
                format!("TCP {} {} {}", f[8], f[9], flag_names((flags & 0xff) as u8))
            } else if whole && !f[11].is_empty() {
                format!("UDP {} {} -", f[11], f[12])
            } else {
                "-".to_owned()
            };
            format!(
                "{secs}.{} {} {dir} {} {src} {dst} {l4}",
                &frac[..6],
                f[1],
                f[2]
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The `PACKET` records of a stats log as field maps.
fn packet_records(lines: &[Line]) -> Vec<BTreeMap<String, String>> {
    lines
        .iter()
        .filter(|l| l.id == "PFLG-888")
        .map(|l| {
            let p = parse_stat(&l.text).unwrap();
            assert_eq!(p.keyword, "PACKET");
            let mut scratch = String::new();
            p.fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), unquote(v, &mut scratch).to_owned()))
                .collect()
        })
        .collect()
}

/// The records as [`Row`]s, sorted.
fn record_rows(records: &[BTreeMap<String, String>]) -> Vec<Row> {
    let mut rows: Vec<Row> = records
        .iter()
        .map(|f| {
            let (src, sport) = endpoint(&f["SRC"]);
            let (dst, dport) = endpoint(&f["DST"]);
            let l4 = match (sport, dport) {
                (Some(s), Some(d)) => format!(
                    "{} {s} {d} {}",
                    f["PROTO"],
                    f.get("FLAGS").map_or("-", String::as_str)
                ),
                _ => "-".to_owned(),
            };
            format!(
                "{} {} {} {} {src} {dst} {l4}",
                f["TS"], f["LEN"], f["DIR"], f["IF"]
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Splits `10.0.0.1:80` / `[2001:db8::1]:80` / `10.0.0.1` into address and port.
fn endpoint(s: &str) -> (String, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[') {
        let (a, p) = rest.split_once("]:").unwrap();
        return (a.to_owned(), Some(p.parse().unwrap()));
    }
    match s.split_once(':') {
        Some((a, p)) if !a.contains(':') && !p.contains(':') => {
            (a.to_owned(), Some(p.parse().unwrap()))
        }
        _ => (s.to_owned(), None),
    }
}

fn flag_names(bits: u8) -> String {
    let names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
    let v: Vec<&str> = (0..8)
        .filter(|i| bits & (1 << i) != 0)
        .map(|i| names[i])
        .collect();
    if v.is_empty() {
        "NONE".into()
    } else {
        v.join(",")
    }
}

fn require_tshark() {
    assert!(
        tshark::available(),
        "tshark is required for this test (apt-get install tshark); deploy/setup.sh --test installs it"
    );
}

#[test]
fn packet_log_matches_tshark_and_envelope_is_strict() {
    require_tshark();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mix.pcapng");
    write_capture(&input, 11, 5000);
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let dump = dir.path().join("dns.pcapng");

    let (pid, out) = run_with_pid(
        ferrocap()
            .args(["capture", "-r"])
            .arg(&input)
            .arg("-w")
            .arg(&dump)
            .args(["--packet-log", PACKET_LOG, "--log-dir"])
            .arg(&logs)
            .arg(DUMP),
    );
    assert!(out.status.success(), "capture failed: {out:?}");

    let host = hostname();
    let stats = parse_lines(
        "stats",
        &std::fs::read_to_string(logs.join("ferrocap-stats")).unwrap(),
    );
    let debug = parse_lines(
        "debug",
        &std::fs::read_to_string(logs.join("ferrocap-debug")).unwrap(),
    );
    check_origin("stats", &stats, pid, &host);
    check_origin("debug", &debug, pid, &host);
    assert!(
        stats.iter().all(|l| l.severity == 'I'),
        "only I records in the stats log"
    );
    assert!(
        debug.iter().all(|l| l.severity != 'I'),
        "no I records in the debug log"
    );
    for id in [
        "APPL-100", "EXPR-100", "PFLG-100", "PFLG-101", "APPL-101", "APPL-102",
    ] {
        assert!(
            debug.iter().any(|l| l.id == id),
            "{id} missing from the debug log"
        );
    }

    // The packet log: one record per matching frame, and the same frames
    // and fields as tshark's (compared as sorted lists, duplicates kept).
    let expected = tshark_rows(&input, &packet_log_filter());
    let records = packet_records(&stats);
    assert!(
        expected.len() > 200,
        "the filter selects only {} frames",
        expected.len()
    );
    let ours = record_rows(&records);
    assert_eq!(
        ours.len(),
        expected.len(),
        "record count differs from tshark's frame count"
    );
    let differ: Vec<_> = ours
        .iter()
        .zip(&expected)
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(
        differ.is_empty(),
        "records differ from tshark (ours, tshark): {differ:#?}"
    );
    let with_ports = ours.iter().filter(|r| !r.ends_with(" -")).count();
    assert!(
        with_ports > 100,
        "only {with_ports} records with ports were compared"
    );
    assert!(ours.iter().any(|r| r.contains(" TCP ")) && ours.iter().any(|r| r.contains(" UDP ")));
    assert!(ours.iter().any(|r| r.contains(" in ")) && ours.iter().any(|r| r.contains(" out ")));
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains(&format!(
            "packet log: {n} packets matched, {n} PFLG-888-I records",
            n = records.len()
        )),
        "{summary}"
    );
    assert!(!summary.contains("dropped"), "{summary}");

    // The dump ran independently with its own expression.
    let dumped = common::tshark_frames(&dump, None);
    assert_eq!(dumped, common::tshark_frames(&input, Some(&dump_filter())));
    assert!(!dumped.is_empty());
    let start: Vec<_> = stats.iter().filter(|l| l.id == "PDMP-880").collect();
    let stop: Vec<_> = stats.iter().filter(|l| l.id == "PDMP-881").collect();
    assert_eq!(
        (start.len(), stop.len()),
        (1, 1),
        "one DUMP-START and one DUMP-STOP"
    );
    assert_eq!(
        start[0].text,
        format!(
            "DUMP-START NAME=capture FILE={} FORMAT=pcapng EXPR=\"{DUMP}\" ACCEPTED",
            dump.display()
        )
    );
    let size = std::fs::metadata(&dump).unwrap().len();
    assert_eq!(
        stop[0].text,
        format!(
            "DUMP-STOP NAME=capture FILE={} PACKETS={} BYTES={size} DROPPED=0 ACCEPTED",
            dump.display(),
            dumped.len()
        )
    );

    // `ferrocap stats` on the produced log.
    let stats_file = logs.join("ferrocap-stats");
    let text = run_ok(ferrocap().arg("stats").arg(&stats_file));
    assert!(!text.stdout.is_empty());
    let json = run_ok(ferrocap().args(["stats", "--json"]).arg(&stats_file));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("--json parses");
    assert_eq!(v["totals"]["packets"], records.len() as u64);
    let bytes: u64 = records
        .iter()
        .map(|f| f["LEN"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(v["totals"]["bytes"], bytes);
    // DUMP-START, DUMP-STOP and SUMMARY.
    assert_eq!(v["totals"]["other_records"], 3);
    assert_eq!(v["totals"]["malformed"], 0);
    let html = dir.path().join("report.html");
    run_ok(
        ferrocap()
            .arg("stats")
            .arg(&stats_file)
            .arg("--html")
            .arg(&html),
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg"), "the HTML report has no chart");
}

#[test]
fn debug_level_option_overrides_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mix.pcapng");
    write_capture(&input, 3, 300);
    let config = dir.path().join("ferrocap.toml");
    std::fs::write(&config, "[log]\nlevel = \"normal\"\n").unwrap();
    // (-d value, N messages expected)
    for (level, notices) in [
        (None, true),
        (Some("3"), false),
        (Some("error"), false),
        (Some("warning"), false),
        (Some("7"), true),
    ] {
        let logs = tempfile::tempdir_in(dir.path()).unwrap();
        let mut cmd = ferrocap();
        if let Some(l) = level {
            cmd.args(["-d", l]);
        }
        run_ok(
            cmd.args(["capture", "--config"])
                .arg(&config)
                .arg("-r")
                .arg(&input)
                .args(["--packet-log", "any", "--log-dir"])
                .arg(logs.path()),
        );
        let debug = parse_lines(
            "debug",
            &std::fs::read_to_string(logs.path().join("ferrocap-debug")).unwrap(),
        );
        assert_eq!(
            debug.iter().any(|l| l.severity == 'N'),
            notices,
            "-d {level:?}: {debug:?}"
        );
        // K messages are never masked, I records always reach the stats log.
        assert!(
            debug
                .iter()
                .any(|l| l.id == "APPL-100" && l.severity == 'K'),
            "-d {level:?}"
        );
        let stats = std::fs::read_to_string(logs.path().join("ferrocap-stats")).unwrap();
        assert!(stats.contains("PFLG-888-I PACKET "), "-d {level:?}");
    }
    // -d is after the subcommand too (global), and is range-checked.
    let logs = tempfile::tempdir_in(dir.path()).unwrap();
    run_ok(
        ferrocap()
            .args(["capture", "-d", "3", "-r"])
            .arg(&input)
            .args(["--packet-log", "any", "--log-dir"])
            .arg(logs.path()),
    );
    for bad in ["2", "10", "info2"] {
        let out = ferrocap()
            .args(["-d", bad, "capture", "-r"])
            .arg(&input)
            .args(["--packet-log", "any"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "-d {bad}");
    }
}

/// A config with a memory log in `dir` (one file per pid) and file logs.
fn memory_log_config(dir: &Path) -> PathBuf {
    let config = dir.join("ferrocap.toml");
    std::fs::write(
        &config,
        format!(
            "[log]\noutput = \"file\"\ndir = \"{d}\"\nmemory_log_path = \"{d}/mem-{{pid}}.log\"\nmemory_log_size = 65536\nmemory_log_level = \"debug\"\n",
            d = dir.display()
        ),
    )
    .unwrap();
    config
}

#[test]
fn memory_log_deleted_after_clean_exit_kept_after_failure() {
    let dir = tempfile::tempdir().unwrap();
    let config = memory_log_config(dir.path());
    let good = dir.path().join("good.pcapng");
    write_capture(&good, 5, 400);
    // The same capture followed by a block whose length is invalid: the
    // input turns out bad after 400 good packets.
    let bad = dir.path().join("bad.pcapng");
    let mut bytes = std::fs::read(&good).unwrap();
    bytes.extend_from_slice(&[6, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    std::fs::write(&bad, &bytes).unwrap();

    let (clean_pid, out) = run_with_pid(&mut packet_log_with_config(&config, &good, "port = 53"));
    assert!(out.status.success(), "{out:?}");
    let clean_mem = dir.path().join(format!("mem-{clean_pid}.log"));
    assert!(!clean_mem.exists(), "memory log left after a clean exit");

    let (failed_pid, out) = run_with_pid(&mut packet_log_with_config(&config, &bad, "port = 53"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pcapng block length 13 is invalid"),
        "{stderr}"
    );
    let failed_mem = dir.path().join(format!("mem-{failed_pid}.log"));
    let mem = std::fs::read(&failed_mem).expect("memory log kept after a failure");
    assert_eq!(mem.len(), 65536, "the memory log has its fixed size");
    let mem = String::from_utf8_lossy(&mem);
    assert!(mem.starts_with("ferrocap memory log: "), "{}", &mem[..80]);
    assert!(mem.contains(&format!("ferrocap[{failed_pid}.0]: APPL-100-K ")));
    assert!(mem.contains(&format!(
        "ferrocap[{failed_pid}.0]: APPL-110-C fatal error, exiting: "
    )));
    assert!(mem.contains("pcapng block length 13 is invalid"));
    // The same failure is in the debug log.
    let debug = std::fs::read_to_string(dir.path().join("ferrocap-debug")).unwrap();
    assert!(
        debug.contains(&format!("ferrocap[{failed_pid}.0]: APPL-110-C ")),
        "{debug}"
    );
}

#[test]
fn syslog_datagrams_reach_the_configured_socket() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mix.pcapng");
    write_capture(&input, 9, 600);
    let sock_path = dir.path().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let config = dir.path().join("ferrocap.toml");
    std::fs::write(
        &config,
        format!(
            "[log]\noutput = \"syslog\"\nsyslog_path = \"{}\"\nhost = \"testhost\"\n",
            sock_path.display()
        ),
    )
    .unwrap();
    // Read while the child writes: a unix datagram queue is short.
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = sock.recv(&mut buf).expect("a datagram before the timeout");
            let d = String::from_utf8(buf[..n].to_vec()).unwrap();
            let last = d.contains("APPL-102-K ferrocap stopped");
            got.push(d);
            if last {
                return got;
            }
        }
    });
    let (pid, out) = run_with_pid(&mut packet_log_with_config(
        &config,
        &input,
        "dport = 53 | dport = 123",
    ));
    assert!(out.status.success(), "{out:?}");
    let got = reader.join().unwrap();

    let re = Regex::new(
        r"^<([0-9]{1,3})>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ( [1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] testhost ferrocap\[([0-9]+)\.0\]: ([A-Z]{4}-[0-9]{3})-([XACEWNKIDTF]) (\S.*)$",
    )
    .unwrap();
    let mut packets = 0;
    let mut seen = BTreeMap::new();
    for d in &got {
        let c = re
            .captures(d)
            .unwrap_or_else(|| panic!("not an RFC 3164 LOCAL4 datagram: {d:?}"));
        let pri: u32 = c[1].parse().unwrap();
        assert_eq!(c[5].parse::<u32>().unwrap(), pid, "{d}");
        let sev = c[7].chars().next().unwrap();
        // LOCAL4 is facility 20: PRI = 160 + the syslog severity.
        let expect = 160
            + match sev {
                'E' => 3,
                'W' => 4,
                'N' | 'K' => 5,
                'I' => 6,
                'D' | 'T' | 'F' => 7,
                other => panic!("unexpected severity {other} in {d}"),
            };
        assert_eq!(pri, expect, "{d}");
        seen.insert(c[6].to_owned(), pri);
        if &c[6] == "PFLG-888" {
            let text = &c[8];
            assert!(text.starts_with("PACKET DIR="), "{d}");
            assert!(
                text.contains(" PROTO=UDP ") || text.contains(" PROTO=TCP "),
                "{d}"
            );
            assert!(
                text.contains(":53 FLAGS")
                    || text.contains(":53 TS")
                    || text.contains(":123 TS")
                    || text.contains(":123 FLAGS"),
                "{d}"
            );
            packets += 1;
        }
    }
    assert_eq!(seen.get("PFLG-888"), Some(&166));
    assert_eq!(seen.get("APPL-100"), Some(&165));
    assert_eq!(seen.get("PFLG-100"), Some(&165));
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(packets > 0);
    assert!(
        summary.contains(&format!(
            "packet log: {packets} packets matched, {packets} PFLG-888-I records to syslog {}",
            sock_path.display()
        )),
        "{summary}"
    );
}

#[test]
fn capture_needs_something_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mix.pcapng");
    write_capture(&input, 1, 20);
    // Neither a dump nor packet logging.
    let out = ferrocap()
        .args(["capture", "-r"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // -w without EXPR, and EXPR without -w, are usage errors.
    let out = ferrocap()
        .args(["capture", "-r"])
        .arg(&input)
        .args(["-w", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = ferrocap()
        .args(["capture", "-r"])
        .arg(&input)
        .arg("any")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A bad packet-log expression is reported like a bad dump expression.
    let logs = tempfile::tempdir().unwrap();
    let out = ferrocap()
        .args(["capture", "-r"])
        .arg(&input)
        .args(["--packet-log", "port = ", "--log-dir"])
        .arg(logs.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let debug = std::fs::read_to_string(logs.path().join("ferrocap-debug")).unwrap();
    assert!(
        debug.contains("EXPR-110-E expression packet_logging rejected: Line 1, char "),
        "{debug}"
    );
    // With a config, a bad expression is reported before the input is
    // opened (which might be a FIFO nobody writes to).
    let config = dir.path().join("ferrocap.toml");
    std::fs::write(&config, "[[interface]]\nname = \"LAN\"\n").unwrap();
    let out = ferrocap()
        .args(["capture", "--config"])
        .arg(&config)
        .args([
            "-r",
            "/nonexistent/in.pcapng",
            "--packet-log",
            "if = \"WAN\"",
            "--log-dir",
        ])
        .arg(logs.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("WAN"),
        "{out:?}"
    );
}

#[test]
fn packet_logging_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mix.pcapng");
    write_capture(&input, 2, 500);
    let config = dir.path().join("ferrocap.toml");
    std::fs::write(
        &config,
        format!(
            "[[interface]]\nname = \"Internet\"\n[[interface]]\nname = \"LAN\"\n[[interface]]\nname = \"Branch\"\n[[interface]]\nname = \"Roadwarriors\"\n\n[packet_logging]\nexpression = 'if = \"LAN\"'\n\n[log]\noutput = \"file\"\ndir = \"{}\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = run_ok(
        ferrocap()
            .args(["capture", "--config"])
            .arg(&config)
            .arg("-r")
            .arg(&input),
    );
    let stats = parse_lines(
        "stats",
        &std::fs::read_to_string(dir.path().join("ferrocap-stats")).unwrap(),
    );
    let records = packet_records(&stats);
    assert!(!records.is_empty());
    assert!(records.iter().all(|f| f["IF"] == "LAN"));
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains(&format!("{} PFLG-888-I records", records.len())),
        "{summary}"
    );
    // --packet-log replaces the config's expression.
    let logs = tempfile::tempdir().unwrap();
    run_ok(
        ferrocap()
            .args(["capture", "--config"])
            .arg(&config)
            .arg("-r")
            .arg(&input)
            .args(["--packet-log", "if = \"Internet\"", "--log-dir"])
            .arg(logs.path()),
    );
    let stats = parse_lines(
        "stats",
        &std::fs::read_to_string(logs.path().join("ferrocap-stats")).unwrap(),
    );
    let records = packet_records(&stats);
    assert!(!records.is_empty());
    assert!(records.iter().all(|f| f["IF"] == "Internet"));
}

#[test]
fn explain_prints_the_catalog_entry() {
    let out = run_ok(ferrocap().args(["explain", "PFLG-888"]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("PFLG-888-I  PACKET DIR=%s"), "{text}");
    assert!(text.contains(catalog::PFLG_PACKET.explanation), "{text}");
    let out = run_ok(ferrocap().args(["explain", "slog-110-k"]));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains(catalog::SLOG_LEVEL.explanation));
    for unknown in ["PFLG-999", "nonsense"] {
        let out = ferrocap().args(["explain", unknown]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{unknown}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_tiny_log_queue_drops_no_packet_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mix.pcapng");
    write_capture(&input, 4, 3000);
    let config = dir.path().join("ferrocap.toml");
    std::fs::write(&config, "[log]\nqueue_len = 2\n").unwrap();
    let logs = tempfile::tempdir().unwrap();
    let out = run_ok(
        ferrocap()
            .args(["-d", "9", "capture", "--config"])
            .arg(&config)
            .arg("-r")
            .arg(&input)
            .args(["--packet-log", "any", "--log-dir"])
            .arg(logs.path()),
    );
    let stats = parse_lines(
        "stats",
        &std::fs::read_to_string(logs.path().join("ferrocap-stats")).unwrap(),
    );
    let records = packet_records(&stats);
    // `any` is every IP packet: all but the ARP frames (and frames cut
    // inside the IP header).
    let ip = common::tshark_frames(&input, Some("ip or ipv6")).len();
    assert_eq!(records.len(), ip);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains(&format!("{ip} packets matched, {ip} PFLG-888-I records")),
        "{summary}"
    );
    assert!(!summary.contains("dropped"), "{summary}");
}

#[test]
fn a_failing_log_output_under_on_failure_stop_fails_the_run_and_keeps_the_memory_log() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mix.pcapng");
    write_capture(&input, 6, 3000);
    // The stats log is a disk that is always full.
    std::os::unix::fs::symlink("/dev/full", dir.path().join("ferrocap-stats")).unwrap();
    let config = dir.path().join("ferrocap.toml");
    std::fs::write(
        &config,
        format!(
            "[log]\noutput = \"file\"\ndir = \"{d}\"\non_failure = \"stop\"\nmemory_log_path = \"{d}/mem-{{pid}}.log\"\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let (pid, out) = run_with_pid(&mut packet_log_with_config(&config, &input, "any"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SLOG-102-C log output "), "{stderr}");
    assert!(
        stderr.contains("the log output failed (on_failure = stop)"),
        "{stderr}"
    );
    let mem = std::fs::read_to_string(dir.path().join(format!("mem-{pid}.log")))
        .expect("memory log kept after the log output failed");
    assert!(mem.contains("SLOG-100-E writing to log output "), "{mem}");
    assert!(
        mem.contains("APPL-110-C fatal error, exiting: the log output failed"),
        "{mem}"
    );
}

#[test]
fn split_records_are_joined_by_stats() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mix.pcapng");
    write_capture(&input, 8, 800);
    let config = dir.path().join("ferrocap.toml");
    std::fs::write(&config, "[log]\nmax_line = 40\n").unwrap();
    let logs = tempfile::tempdir().unwrap();
    let out = run_ok(
        ferrocap()
            .args(["capture", "--config"])
            .arg(&config)
            .arg("-r")
            .arg(&input)
            .args(["--packet-log", "any", "--log-dir"])
            .arg(logs.path()),
    );
    let stats_file = logs.path().join("ferrocap-stats");
    let lines = parse_lines("stats", &std::fs::read_to_string(&stats_file).unwrap());
    // Every part is a whole line in the envelope, at most max_line long.
    assert!(
        lines.iter().all(|l| l.text.len() <= 40),
        "a part is longer than max_line"
    );
    let starts = lines
        .iter()
        .filter(|l| l.text.starts_with("PACKET "))
        .count();
    assert!(lines.iter().any(|l| l.text.starts_with('~')));
    assert!(lines.iter().any(|l| l.text.ends_with('\\')));
    let json = run_ok(ferrocap().args(["stats", "--json"]).arg(&stats_file));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["totals"]["packets"], starts as u64);
    assert_eq!(v["totals"]["malformed"], 0);
    assert_eq!(v["totals"]["torn"], 0);
    assert_eq!(v["totals"]["orphans"], 0);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains(&format!("{starts} PFLG-888-I records")),
        "{summary}"
    );
}
