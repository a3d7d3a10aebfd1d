//! Runtime tests over `MemorySource` (no DPDK).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::*;
use crate::expr::{compile, Directory, IfIndex, InterfaceKind};
use crate::pcap::CaptureReader;
use crate::source::{MemorySource, PacketMeta as SourceMeta};

/// An Ethernet/IPv4/TCP frame of `len` bytes (at least 54).
fn tcp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8, len: usize) -> Vec<u8> {
    let len = len.max(54);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = u16::try_from(len - 14).unwrap_or(u16::MAX);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[46] = 0x50;
    f[47] = flags;
    f
}

/// `n` frames on `port`: dport cycles over 80, 443, 8080, 53; every third is a SYN.
fn frames(n: usize, port: u16, len: usize) -> Vec<(Vec<u8>, SourceMeta)> {
    (0..n)
        .map(|i| {
            let dport = [80, 443, 8080, 53][i % 4];
            let flags = if i % 3 == 0 { 0x02 } else { 0x10 };
            let host = u8::try_from(i % 200).unwrap_or(0);
            let f = tcp_frame(
                [10, 0, 0, host],
                [192, 168, 1, 10],
                40000 + (i % 1000) as u16,
                dport,
                flags,
                len,
            );
            let meta = SourceMeta {
                port,
                timestamp_ns: 1_700_000_000_000_000_000 + i as u64 * 1000,
                ..SourceMeta::default()
            };
            (f, meta)
        })
        .collect()
}

fn directory() -> Directory {
    Directory::builder()
        .interface("Internet", InterfaceKind::Ethernet)
        .interface("LAN", InterfaceKind::Ethernet)
        .build()
        .expect("directory")
}

fn classifier() -> Classifier {
    Classifier::new(
        vec!["Internet".into(), "LAN".into()],
        vec![
            InterfaceRule {
                iif: IfIndex(0),
                port: 0,
                vlan: None,
                direction: DirectionRule::Fixed(crate::expr::Direction::In),
            },
            InterfaceRule {
                iif: IfIndex(1),
                port: 1,
                vlan: None,
                direction: DirectionRule::Fixed(crate::expr::Direction::Out),
            },
        ],
    )
}

fn matcher(text: &str) -> Matcher {
    compile(text, &directory()).expect("expression").matcher
}

fn dump(name: &str, text: &str, path: &Path, format: DumpFormat) -> OutputSpec {
    OutputSpec {
        name: name.to_owned(),
        expression: text.to_owned(),
        matcher: matcher(text),
        kind: OutputKind::Dump(DumpSpec {
            path: path.to_owned(),
            format,
            snaplen: 0,
            max_file_bytes: None,
            max_file_seconds: None,
            max_files: 1,
            max_packets: None,
        }),
    }
}

/// How many frames of `input` (classified like the runtime does) match.
fn expected(text: &str, input: &[(Vec<u8>, SourceMeta)]) -> u64 {
    let m = matcher(text);
    let c = classifier();
    input
        .iter()
        .filter(|(f, meta)| {
            let d = crate::wire::decode(f, crate::wire::Depth::Transport);
            m.matches_decoded(&c.classify(meta.port, &d), &d)
        })
        .count() as u64
}

fn count_packets(path: &Path) -> u64 {
    let mut r = CaptureReader::open(path).expect("open dump");
    let mut n = 0;
    while r.next_record().expect("record").is_some() {
        n += 1;
    }
    n
}

/// Packets tshark reads from `path`, or `None` when tshark is missing.
fn tshark_count(path: &Path, filter: Option<&str>) -> Option<u64> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-e", "frame.number"]);
    if let Some(f) = filter {
        cmd.args(["-Y", f]);
    }
    let out = cmd.output().ok()?;
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).lines().count() as u64)
}

/// Runs one worker thread per source until they end, then finishes.
fn run_sources(rt: Runtime, sources: Vec<MemorySource>) -> Snapshot {
    let workers = rt.workers().expect("workers");
    std::thread::scope(|s| {
        for (mut w, mut src) in workers.into_iter().zip(sources) {
            s.spawn(move || w.run(&mut src).expect("run"));
        }
    });
    rt.finish(Duration::from_secs(5))
}

/// A runtime of one worker whose rings hold `ring_slots` slots.
fn one_worker_runtime(ring_slots: usize) -> Runtime {
    Runtime::new(
        RuntimeConfig {
            workers: 1,
            ring_slots,
            ..RuntimeConfig::default()
        },
        classifier(),
        None,
    )
    .expect("runtime")
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn accounting_is_exact_and_dumps_hold_the_matches() {
    let dir = tmp();
    let a = frames(3000, 0, 80);
    let b = frames(2001, 1, 120);
    let rt = Runtime::new(
        RuntimeConfig {
            workers: 2,
            ring_slots: 1 << 15,
            ..RuntimeConfig::default()
        },
        classifier(),
        None,
    )
    .expect("runtime");
    let exprs = [
        (
            "web",
            "dport = 80 | dport = 8080",
            DumpFormat::Pcap,
            "tcp.dstport == 80 || tcp.dstport == 8080",
        ),
        (
            "syn-in",
            "direc = in & tcpfl = SYN",
            DumpFormat::Pcapng,
            "tcp.flags.syn == 1 && frame.interface_name == \"Internet\"",
        ),
        (
            "lan",
            "if = \"LAN\"",
            DumpFormat::Pcapng,
            "frame.interface_name == \"LAN\"",
        ),
        ("none", "port = 9", DumpFormat::Pcap, "tcp.port == 9"),
    ];
    let mut paths = Vec::new();
    for (name, text, format, _) in exprs {
        let path = dir.path().join(format!("{name}.{format}"));
        rt.add_output(dump(name, text, &path, format)).expect("add");
        paths.push(path);
    }
    assert!(matches!(
        rt.add_output(dump("web", "any", &dir.path().join("x"), DumpFormat::Pcap)),
        Err(RuntimeError::DuplicateOutput(_))
    ));
    let snap = run_sources(
        rt,
        vec![MemorySource::new(a.clone()), MemorySource::new(b.clone())],
    );
    snap.check(true).expect("identities");
    assert_eq!(snap.workers[0].rx, 3000);
    assert_eq!(snap.workers[1].rx, 2001);
    assert_eq!(snap.workers[0].rx_bytes, 3000 * 80);
    let all: Vec<_> = a.iter().chain(&b).cloned().collect();
    for ((name, text, _, filter), path) in exprs.iter().zip(&paths) {
        let o = snap
            .outputs
            .iter()
            .find(|o| o.name == *name)
            .expect("output");
        let want = expected(text, &all);
        assert_eq!(o.matched, want, "{name} matched");
        assert_eq!(o.written, want, "{name} written");
        assert_eq!(o.dropped(), 0, "{name}");
        assert_eq!(count_packets(path), want, "{name} file");
        if let Some(n) = tshark_count(path, None) {
            assert_eq!(n, want, "{name}: tshark reads every packet");
            assert_eq!(
                tshark_count(path, Some(filter)),
                Some(want),
                "{name}: tshark filter"
            );
        }
    }
    // A packet that matched several outputs counts once per worker.
    let any_match: u64 = expected(
        "dport = 80 | dport = 8080 | direc = in & tcpfl = SYN | if = \"LAN\"",
        &all,
    );
    assert_eq!(snap.matched(), any_match);
}

#[test]
fn hot_swap_under_traffic_keeps_exact_totals() {
    let dir = tmp();
    let a = frames(1000, 0, 64);
    let b = frames(777, 1, 64);
    let rt = Runtime::new(
        RuntimeConfig {
            workers: 2,
            ring_slots: 1 << 14,
            publish_every: 4,
            ..RuntimeConfig::default()
        },
        classifier(),
        None,
    )
    .expect("runtime");
    let web = dir.path().join("web.pcap");
    rt.add_output(dump("web", "dport = 80", &web, DumpFormat::Pcap))
        .expect("add");
    let workers = rt.workers().expect("workers");
    // Equivalent expressions: the totals do not depend on when a swap lands.
    let forms = [
        "dport = 80",
        "dport = 80 | dport = 80",
        "(dport = 80)",
        "dport >= 80 & dport <= 80",
    ];
    let mut removed = 0u64;
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (mut w, input) in workers.into_iter().zip([a.clone(), b.clone()]) {
            handles.push(s.spawn(move || {
                let mut src = MemorySource::looping(input);
                w.run(&mut src).expect("run");
                w.publish();
                drop(w);
            }));
        }
        for i in 0..100 {
            let text = forms[i % forms.len()];
            rt.replace_expression("web", text, matcher(text))
                .expect("replace");
            if i % 10 == 0 {
                let p = dir.path().join(format!("tmp{i}.pcapng"));
                rt.add_output(dump("tmp", "tcpfl = SYN", &p, DumpFormat::Pcapng))
                    .expect("add tmp");
                std::thread::sleep(Duration::from_millis(2));
                let snap = rt.remove_output("tmp").expect("remove tmp");
                assert_eq!(snap.in_flight, 0);
                assert_eq!(snap.written + snap.dropped(), snap.matched);
                assert_eq!(count_packets(&p), snap.written, "removed dump file");
                removed += 1;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        rt.stop();
        for h in handles {
            h.join().expect("worker");
        }
    });
    let snap = rt.finish(Duration::from_secs(5));
    snap.check(true).expect("identities");
    assert_eq!(snap.removed.len() as u64, removed);
    assert!(snap.generation >= 1 + 1 + 100 + 2 * removed);
    // Expected matches: whole loops of the input plus the prefix of the last.
    let exp = |input: &[(Vec<u8>, SourceMeta)], rx: u64| {
        let n = input.len() as u64;
        let full = expected("dport = 80", input) * (rx / n);
        let rest = usize::try_from(rx % n).unwrap_or(0);
        full + expected("dport = 80", &input[..rest])
    };
    let want = exp(&a, snap.workers[0].rx) + exp(&b, snap.workers[1].rx);
    let o = &snap.outputs[0];
    assert!(snap.rx() > 0);
    assert_eq!(o.matched, want, "web matched across 100 swaps");
    assert_eq!(o.written + o.dropped(), want);
    assert_eq!(count_packets(&web), o.written);
    assert_eq!(o.expression, forms[99 % forms.len()]);
}

#[test]
fn full_ring_drops_are_counted() {
    let dir = tmp();
    let fifo = dir.path().join("fifo");
    let ok = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success());
    if ok.ok() != Some(true) {
        eprintln!("mkfifo not available; skipping");
        return;
    }
    let out_path = dir.path().join("slow.pcap");
    // Reads the FIFO only when told to: until then the writer blocks once
    // its buffer and the pipe are full, and the tiny ring overflows.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let reader = {
        let fifo = fifo.clone();
        let out_path = out_path.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::open(&fifo).expect("open fifo");
            let _ = rx.recv();
            let mut out = std::fs::File::create(&out_path).expect("create");
            std::io::copy(&mut f, &mut out).expect("copy");
        })
    };
    let rt = one_worker_runtime(8);
    rt.add_output(dump("slow", "any", &fifo, DumpFormat::Pcap))
        .expect("add");
    let input = frames(20_000, 0, 1000);
    let mut workers = rt.workers().expect("workers");
    let mut w = workers.pop().expect("one worker");
    w.run(&mut MemorySource::new(input)).expect("run");
    drop(w);
    tx.send(()).expect("release reader");
    let snap = rt.finish(Duration::from_secs(5));
    reader.join().expect("reader");
    snap.check(true).expect("identities");
    let o = &snap.outputs[0];
    assert_eq!(snap.workers[0].rx, 20_000);
    assert_eq!(o.matched, 20_000);
    // 20 MB cannot fit in 1 MiB of buffer, a pipe and 8 slots.
    assert!(o.dropped_queue_full >= 15_000, "{o:?}");
    assert_eq!(o.written + o.dropped_queue_full, 20_000);
    assert_eq!(count_packets(&out_path), o.written);
}

/// A one-worker runtime logging to files in `log_dir` (created), with a
/// logger queue of `queue_len` records.
fn logged_runtime(
    log_dir: &Path,
    queue_len: usize,
) -> (Runtime, crate::log::Logger, crate::log::LoggerGuard) {
    std::fs::create_dir(log_dir).expect("log dir");
    let (logger, guard) = crate::log::Logger::start(crate::log::LogConfig {
        output: crate::log::OutputKind::File,
        dir: log_dir.to_path_buf(),
        host: Some("test".into()),
        queue_len,
        ..crate::log::LogConfig::default()
    })
    .expect("logger");
    let rt = Runtime::new(
        RuntimeConfig {
            workers: 1,
            ring_slots: 1 << 15,
            ..RuntimeConfig::default()
        },
        classifier(),
        Some(logger.clone()),
    )
    .expect("runtime");
    (rt, logger, guard)
}

#[test]
fn write_error_stops_only_that_output() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = tmp();
    let log_dir = dir.path().join("log");
    let (rt, logger, guard) = logged_runtime(&log_dir, 8192);
    let good = dir.path().join("good.pcapng");
    rt.add_output(dump(
        "full",
        "any",
        Path::new("/dev/full"),
        DumpFormat::Pcap,
    ))
    .expect("add full");
    rt.add_output(dump("good", "any", &good, DumpFormat::Pcapng))
        .expect("add good");
    rt.add_output(OutputSpec {
        name: "packet_logging".into(),
        expression: "dport = 53".into(),
        matcher: matcher("dport = 53"),
        kind: OutputKind::PacketLog {
            logger: logger.clone(),
            track: 1,
        },
    })
    .expect("add log");
    // 3 MB: the 1 MiB buffer of /dev/full overflows while running.
    let input = frames(3000, 0, 1000);
    let snap = run_sources(rt, vec![MemorySource::new(input.clone())]);
    snap.check(true).expect("identities");
    let full = &snap.outputs[0];
    assert!(full.failed);
    assert_eq!(full.write_errors, 1);
    assert_eq!(full.written, 0);
    assert_eq!(full.dropped_write_error, 3000);
    let good_o = &snap.outputs[1];
    assert!(!good_o.failed);
    assert_eq!(good_o.written, 3000);
    assert_eq!(count_packets(&good), 3000);
    let log_o = &snap.outputs[2];
    assert_eq!(log_o.written, expected("dport = 53", &input));
    guard.shutdown().expect("logger shutdown");
    let mut text = String::new();
    for f in std::fs::read_dir(&log_dir).expect("read log dir").flatten() {
        text.push_str(&std::fs::read_to_string(f.path()).unwrap_or_default());
    }
    assert!(
        text.contains("PDMP-110-E dump full: writing /dev/full failed: No space left on device"),
        "{text}"
    );
    assert_eq!(
        text.matches("PFLG-888-I PACKET DIR=in IF=Internet PROTO=TCP")
            .count() as u64,
        log_o.written
    );
}

/// Once an output has failed, the workers count its matches as
/// `dropped_write_error` and copy nothing more into its rings; the
/// identities still hold, per worker too.
#[test]
fn workers_stop_copying_for_a_failed_output() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let rt = one_worker_runtime(1 << 15);
    rt.add_output(dump(
        "full",
        "any",
        Path::new("/dev/full"),
        DumpFormat::Pcap,
    ))
    .expect("add full");
    let mut workers = rt.workers().expect("workers");
    let mut w = workers.pop().expect("one worker");
    // 3 MB: more than the 1 MiB buffer, so the writer fails.
    w.run(&mut MemorySource::new(frames(3000, 0, 1000)))
        .expect("run");
    let started = std::time::Instant::now();
    while !rt.snapshot().outputs[0].failed {
        assert!(started.elapsed() < Duration::from_secs(10), "never failed");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The writer may have failed while the first input was still being
    // matched, so the worker may have skipped part of it already.
    let before = rt.snapshot().outputs[0].clone();
    w.run(&mut MemorySource::new(frames(1000, 0, 1000)))
        .expect("run");
    w.publish();
    let mid = rt.snapshot();
    mid.check(false).expect("identities while running");
    let o = &mid.outputs[0];
    assert_eq!(
        o.enqueued, before.enqueued,
        "nothing copied after the failure"
    );
    assert_eq!(o.per_worker[0][3], before.per_worker[0][3] + 1000);
    assert_eq!(o.matched, 4000);
    drop(w);
    let snap = rt.finish(Duration::from_secs(5));
    snap.check(true).expect("identities");
    let o = &snap.outputs[0];
    assert_eq!((o.written, o.dropped_write_error), (0, 4000), "{o:?}");
}

/// Packet-log records the logger's queue has no room for are counted as
/// dropped (`write_error`), not as written: `written` is the number of
/// `PFLG-888` lines that reached the stats log.
#[test]
fn packet_log_records_the_logger_drops_are_not_counted_as_written() {
    let dir = tmp();
    let log_dir = dir.path().join("log");
    let (rt, logger, guard) = logged_runtime(&log_dir, 4);
    rt.add_output(OutputSpec {
        name: "packet_logging".into(),
        expression: "any".into(),
        matcher: matcher("any"),
        kind: OutputKind::PacketLog {
            logger: logger.clone(),
            track: 1,
        },
    })
    .expect("add log");
    let snap = run_sources(rt, vec![MemorySource::new(frames(20_000, 0, 100))]);
    snap.check(true).expect("identities");
    let o = &snap.outputs[0];
    assert_eq!(o.matched, 20_000);
    assert!(
        o.dropped_write_error > 0,
        "a 4-record queue keeps up: {o:?}"
    );
    guard.shutdown().expect("logger shutdown");
    let stats = std::fs::read_to_string(log_dir.join("ferrocap-stats")).expect("stats log");
    assert_eq!(stats.matches("PFLG-888-I PACKET").count() as u64, o.written);
}

#[test]
fn size_rotation_keeps_a_ring_of_files() {
    let dir = tmp();
    let path = dir.path().join("rot.pcap");
    let rt = Runtime::new(
        RuntimeConfig {
            workers: 1,
            ring_slots: 1 << 15,
            ..RuntimeConfig::default()
        },
        classifier(),
        None,
    )
    .expect("runtime");
    let mut spec = dump("rot", "any", &path, DumpFormat::Pcap);
    if let OutputKind::Dump(d) = &mut spec.kind {
        d.max_file_bytes = Some(100_000);
        d.max_files = 3;
    }
    rt.add_output(spec).expect("add");
    // A device is never rotated (renamed).
    let mut null = dump("null", "any", Path::new("/dev/null"), DumpFormat::Pcap);
    if let OutputKind::Dump(d) = &mut null.kind {
        d.max_file_bytes = Some(1000);
        d.max_files = 3;
    }
    rt.add_output(null).expect("add null");
    // 1000 packets of 1016 bytes on disk: about 10 files of 100 kB.
    let snap = run_sources(rt, vec![MemorySource::new(frames(1000, 0, 1000))]);
    snap.check(true).expect("identities");
    let o = &snap.outputs[0];
    assert_eq!(o.written, 1000);
    assert_eq!(o.files_rotated, 10, "{o:?}");
    assert_eq!(snap.outputs[1].files_rotated, 0);
    assert_eq!(snap.outputs[1].written, 1000);
    assert!(!Path::new("/dev/null.1").exists());
    let kept: Vec<PathBuf> = [
        path.clone(),
        writer::rotated_name(&path, 1),
        writer::rotated_name(&path, 2),
    ]
    .into();
    for p in &kept {
        assert!(p.exists(), "{}", p.display());
    }
    assert!(!writer::rotated_name(&path, 3).exists());
    // Each full file holds 99 packets (24 + 99 * 1016 >= 100000); the
    // newest holds the rest.
    assert_eq!(count_packets(&kept[1]), 99);
    assert_eq!(count_packets(&kept[2]), 99);
    assert_eq!(count_packets(&kept[0]), 1000 - 10 * 99);
    assert_eq!(
        writer::rotated_name(Path::new("/x/a.b.pcapng"), 4),
        Path::new("/x/a.b.4.pcapng")
    );
    assert_eq!(
        writer::rotated_name(Path::new("noext"), 1),
        Path::new("noext.1")
    );
}

#[test]
fn bad_config_and_unknown_names_are_errors() {
    assert!(matches!(
        Runtime::new(
            RuntimeConfig {
                workers: 0,
                ..RuntimeConfig::default()
            },
            Classifier::default(),
            None
        ),
        Err(RuntimeError::Config(_))
    ));
    let rt = Runtime::new(RuntimeConfig::default(), Classifier::default(), None).expect("runtime");
    assert!(matches!(
        rt.remove_output("x"),
        Err(RuntimeError::NoSuchOutput(_))
    ));
    assert!(matches!(
        rt.replace_expression("x", "any", matcher("any")),
        Err(RuntimeError::NoSuchOutput(_))
    ));
    let missing = Path::new("/nonexistent-dir/x.pcap");
    assert!(matches!(
        rt.add_output(dump("x", "any", missing, DumpFormat::Pcap)),
        Err(RuntimeError::Open { .. })
    ));
    let _w = rt.workers().expect("first");
    assert!(matches!(rt.workers(), Err(RuntimeError::WorkersTaken)));
    assert_eq!(rt.output_set().generation(), 1);
    assert!(!rt.is_stopping());
    assert!(rt.inner.workers[0].active.load(Ordering::Acquire));
}

#[test]
fn time_rotation_starts_a_new_file() {
    use crate::source::{OwnedBurst, PacketSource};
    let dir = tmp();
    let path = dir.path().join("t.pcapng");
    let rt = Runtime::new(RuntimeConfig::default(), classifier(), None).expect("runtime");
    let mut spec = dump("t", "any", &path, DumpFormat::Pcapng);
    if let OutputKind::Dump(d) = &mut spec.kind {
        d.max_file_seconds = Some(1);
        d.max_files = 3;
    }
    rt.add_output(spec).expect("add");
    let mut w = rt.workers().expect("workers").pop().expect("worker");
    for _ in 0..2 {
        // 10 packets, then wait past the file's age limit.
        let mut src = MemorySource::new(frames(10, 0, 100));
        let mut burst: OwnedBurst = src.new_burst();
        assert_eq!(src.recv_burst(&mut burst).ok(), Some(10));
        w.run_burst(&burst);
        w.publish();
        std::thread::sleep(Duration::from_millis(1300));
    }
    drop(w);
    let snap = rt.finish(Duration::from_secs(5));
    snap.check(true).expect("identities");
    let o = &snap.outputs[0];
    assert!(o.files_rotated >= 1, "{o:?}");
    let files = [
        path.clone(),
        writer::rotated_name(&path, 1),
        writer::rotated_name(&path, 2),
    ];
    let total: u64 = files
        .iter()
        .filter(|p| p.exists())
        .map(|p| count_packets(p))
        .sum();
    assert_eq!(total, o.written);
    assert!(writer::rotated_name(&path, 1).exists());
}

#[test]
fn max_packets_writes_exactly_that_many() {
    let dir = tmp();
    let path = dir.path().join("c.pcap");
    let rt = Runtime::new(RuntimeConfig::default(), classifier(), None).expect("runtime");
    let mut spec = dump("c", "dport = 80", &path, DumpFormat::Pcap);
    if let OutputKind::Dump(d) = &mut spec.kind {
        d.max_packets = Some(7);
    }
    rt.add_output(spec).expect("add");
    let input = frames(400, 0, 64);
    let snap = run_sources(rt, vec![MemorySource::new(input.clone())]);
    snap.check(true).expect("identities");
    let o = &snap.outputs[0];
    assert_eq!(o.matched, expected("dport = 80", &input));
    assert_eq!(o.written, 7);
    assert_eq!(o.dropped_limit, o.matched - 7);
    assert_eq!(count_packets(&path), 7);
}

#[test]
fn latency_and_ring_gauges_are_in_the_snapshot() {
    let dir = tmp();
    let rt = Runtime::new(
        RuntimeConfig {
            workers: 1,
            ring_slots: 1 << 14,
            ..RuntimeConfig::default()
        },
        classifier(),
        None,
    )
    .expect("runtime");
    let path = dir.path().join("web.pcap");
    rt.add_output(dump("web", "dport = 80", &path, DumpFormat::Pcap))
        .expect("add");
    let live = rt.snapshot();
    assert_eq!(live.outputs[0].ring_capacity, 1 << 14);
    assert_eq!(live.outputs[0].ring_used, [0]);
    assert_eq!(live.outputs[0].latency_ns.count, 0);
    // The frames are stamped in 2023: every latency is clamped to 1 hour.
    let snap = run_sources(rt, vec![MemorySource::new(frames(4000, 0, 80))]);
    snap.check(true).expect("identities");
    let o = &snap.outputs[0];
    assert_eq!(o.written, 1000);
    let l = &o.latency_ns;
    assert_eq!(l.count, o.written);
    assert_eq!(l.sum, 1000 * 3_600_000_000_000);
    assert!(
        l.p50 >= 3_500_000_000_000 && l.p50 <= l.p99 && l.p99 <= l.max,
        "{l:?}"
    );
    assert_eq!(l.buckets.len(), LATENCY_BUCKETS_NS.len());
    assert!(
        l.buckets.iter().all(|b| b[1] == 0),
        "all beyond 10 s: {l:?}"
    );
    assert_eq!(o.ring_used, [0]);
}

/// Workers publish their counts rarely here (the writer flushes every
/// millisecond), so the writer's counts run far ahead of the published
/// ones; every live snapshot must still add up, as the status page and the
/// metrics show them.
#[test]
fn live_snapshots_add_up_while_workers_rarely_publish() {
    let dir = tmp();
    let rt = Runtime::new(
        RuntimeConfig {
            workers: 2,
            ring_slots: 1 << 12,
            publish_every: u32::MAX,
            flush_interval: Duration::from_millis(1),
            ..RuntimeConfig::default()
        },
        classifier(),
        None,
    )
    .expect("runtime");
    let web = dir.path().join("web.pcap");
    rt.add_output(dump("web", "dport = 80", &web, DumpFormat::Pcap))
        .expect("add");
    let workers = rt.workers().expect("workers");
    let mut ahead = 0;
    /// Stops the workers when dropped, so a failed assertion below ends
    /// the test instead of leaving the looping workers running.
    struct StopOnDrop<'a>(&'a Runtime);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.stop();
        }
    }
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&rt);
        let mut handles = Vec::new();
        for (mut w, input) in workers
            .into_iter()
            .zip([frames(500, 0, 64), frames(300, 1, 64)])
        {
            handles.push(s.spawn(move || {
                let mut src = MemorySource::looping(input);
                w.run(&mut src).expect("run");
            }));
        }
        let mut written_before = 0;
        for _ in 0..300 {
            let snap = rt.snapshot();
            snap.check(false).expect("a live snapshot adds up");
            let o = &snap.outputs[0];
            assert!(o.written <= o.matched, "{o:?}");
            for (i, w) in snap.workers.iter().enumerate() {
                assert!(w.matched >= o.per_worker[i][0], "{w:?} {o:?}");
            }
            // The writer saw more than the workers published.
            let published: u64 = rt
                .inner
                .workers
                .iter()
                .map(|w| w.matched.load(Ordering::Acquire))
                .sum();
            if o.written > published {
                ahead += 1;
            }
            assert!(o.written >= written_before, "written never goes back");
            written_before = o.written;
            std::thread::sleep(Duration::from_millis(1));
        }
        rt.stop();
        for h in handles {
            h.join().expect("worker");
        }
    });
    assert!(
        ahead > 0,
        "the writer never ran ahead of the published counts"
    );
    rt.finish(Duration::from_secs(5))
        .check(true)
        .expect("identities at the end");
}

/// Waits up to 5 s for `cond`.
fn eventually(cond: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn workers_hand_their_spare_slot_back() {
    let dir = tmp();
    let rt = one_worker_runtime(8);
    let web = dir.path().join("web.pcap");
    rt.add_output(dump("web", "dport = 80", &web, DumpFormat::Pcap))
        .expect("add");
    let out = Arc::clone(&rt.inner.set.load_full().rules[0].output);
    let ring = &out.rings[0];
    assert_eq!(ring.free.len(), 8);
    let mut w = rt.workers().expect("workers").pop().expect("one worker");

    // 8 frames, 2 of them to port 80: once the writer has taken those,
    // every slot is free but the one the worker keeps for its next match.
    let run_8 = |w: &mut Worker| {
        w.run(&mut MemorySource::new(frames(8, 0, 64)))
            .expect("run");
        let settled = eventually(|| ring.free.len() == 7);
        assert!(settled, "free {}", ring.free.len());
        assert!(ring.full.is_empty());
    };
    run_8(&mut w);

    // A new output set: the worker hands the spare back when it takes the
    // set up, and takes another at its next match.
    rt.replace_expression("web", "dport = 443", matcher("dport = 443"))
        .expect("replace");
    w.idle();
    assert_eq!(ring.free.len(), 8, "spare returned on a set switch");
    run_8(&mut w);

    // And on drop.
    drop(w);
    assert_eq!(ring.free.len(), 8, "spare returned on drop");
    let snap = rt.finish(Duration::from_secs(5));
    snap.check(true).expect("identities");
    assert_eq!(snap.outputs[0].written, 4);
    assert_eq!(count_packets(&web), 4);
}
