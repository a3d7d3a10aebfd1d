//! `stats::analyze` over logs written by the logger (split records
//! included), several files in parallel, damage tolerated.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrocap_dataplane::log::catalog;
use ferrocap_dataplane::log::message::{Endpoint, PacketDirection, PacketRecord};
use ferrocap_dataplane::log::{LogConfig, Logger, OutputKind};
use ferrocap_dataplane::stats::{self, StatsError};

const T0: u64 = 1_694_158_800; // 2023-09-08 07:40:00 UTC

fn packet(i: u64) -> PacketRecord<'static> {
    let tcp = i % 3 != 0;
    PacketRecord {
        direction: if i % 2 == 0 {
            PacketDirection::In
        } else {
            PacketDirection::Out
        },
        interface: if i % 4 == 0 { "LAN 2" } else { "Internet" },
        protocol: if tcp { 6 } else { 17 },
        length: 60 + (i % 5) as u32,
        src: Endpoint {
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, (i % 7) as u8)),
            port: Some(40000 + (i % 100) as u16),
        },
        dst: Endpoint {
            addr: IpAddr::V4(Ipv4Addr::new(192, 168, 1, (i % 3) as u8)),
            port: Some(if tcp { 443 } else { 53 }),
        },
        tcp_flags: tcp.then_some(0x10),
        timestamp: Duration::new(T0 + i * 7, 250_000_000),
    }
}

fn write_log(dir: &Path, range: std::ops::Range<u64>, max_line: usize) -> PathBuf {
    let cfg = LogConfig {
        output: OutputKind::File,
        dir: dir.to_path_buf(),
        max_line,
        host: Some("fw".into()),
        ..LogConfig::default()
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    for i in range {
        logger.packet((i % 2) as u32, &packet(i));
        if i % 50 == 0 {
            logger.flush();
        }
    }
    logger.stat(
        0,
        catalog::PDMP_STARTED,
        "DUMP-START NAME=x ACCEPTED".into(),
    );
    guard.shutdown().unwrap();
    assert_eq!(logger.dropped(), 0);
    dir.join("ferrocap-stats")
}

#[test]
fn analyze_counts_exactly() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    // File 1: every packet record is split (max_line 40); file 2: none.
    let f1 = write_log(d1.path(), 0..300, 40);
    let f2 = write_log(d2.path(), 300..700, 1024);
    let raw = fs::read_to_string(&f1).unwrap();
    assert!(
        raw.lines().any(|l| l.contains("PFLG-888-I ~")),
        "records were split"
    );

    let report = stats::analyze(&[f1.clone(), f2.clone()]).unwrap();
    let n = 700u64;
    let t = &report.totals;
    assert_eq!(t.packets, n);
    assert_eq!(t.records, n + 2);
    assert_eq!(t.other_records, 2);
    assert_eq!((t.malformed, t.torn, t.orphans), (0, 0, 0));
    let bytes: u64 = (0..n).map(|i| u64::from(packet(i).length)).sum();
    assert_eq!(t.bytes, bytes);
    assert_eq!(report.first_ts, Some(T0));
    assert_eq!(report.last_ts, Some(T0 + 699 * 7));

    // 10.0.0.0 .. 10.0.0.6: i % 7 == 0 has 100 packets, as do all others.
    assert_eq!(report.top_sources.len(), 7);
    assert!(report.top_sources.iter().all(|s| s.packets == 100));
    assert_eq!(report.top_sources[0].addr, "10.0.0.0");
    let dst0 = report
        .top_destinations
        .iter()
        .find(|d| d.addr == "192.168.1.0")
        .unwrap();
    assert_eq!(dst0.packets, (0..n).filter(|i| i % 3 == 0).count() as u64);

    let udp = (0..n).filter(|i| i % 3 == 0).count() as u64;
    let proto: Vec<(&str, u64)> = report
        .protocols
        .iter()
        .map(|p| (p.name.as_str(), p.packets))
        .collect();
    assert_eq!(proto, vec![("TCP", n - udp), ("UDP", udp)]);
    let ports: Vec<(&str, u16, u64)> = report
        .ports
        .iter()
        .map(|p| (p.protocol.as_str(), p.port, p.packets))
        .collect();
    assert_eq!(ports, vec![("TCP", 443, n - udp), ("UDP", 53, udp)]);
    let ifs: Vec<(&str, u64)> = report
        .interfaces
        .iter()
        .map(|p| (p.name.as_str(), p.packets))
        .collect();
    assert_eq!(ifs, vec![("Internet", 525), ("LAN 2", 175)]);
    let dirs: Vec<(&str, u64)> = report
        .directions
        .iter()
        .map(|p| (p.name.as_str(), p.packets))
        .collect();
    assert_eq!(dirs, vec![("in", 350), ("out", 350)]);

    // Timeline: one bucket per minute touched, summing to all packets.
    let total: u64 = report.timeline.iter().map(|m| m.packets).sum();
    assert_eq!(total, n);
    let first_minute: u64 = (0..n).filter(|i| i * 7 < 60).count() as u64;
    assert_eq!(report.timeline[0].minute, T0);
    assert_eq!(report.timeline[0].packets, first_minute);
    assert!(report
        .timeline
        .windows(2)
        .all(|w| w[0].minute < w[1].minute));

    // Chunk boundaries anywhere (even inside split records) change nothing.
    for chunk in [7u64, 100, 333, 4096] {
        let opts = stats::AnalyzeOptions {
            chunk_bytes: chunk,
            ..Default::default()
        };
        let c = stats::analyze_with(&[f1.clone(), f2.clone()], &opts).unwrap();
        assert_eq!(c.totals, report.totals, "chunk {chunk}");
        assert_eq!(c.top_sources, report.top_sources, "chunk {chunk}");
        assert_eq!(c.interfaces, report.interfaces, "chunk {chunk}");
        assert_eq!(c.timeline, report.timeline, "chunk {chunk}");
    }

    // Order of files does not matter.
    let again = stats::analyze(&[f2, f1]).unwrap();
    assert_eq!(again.totals, report.totals);
    assert_eq!(again.top_sources, report.top_sources);
    assert_eq!(again.timeline, report.timeline);

    // Renderings.
    let text = report.to_text();
    assert!(text.contains("packets: 700"), "{text}");
    assert!(text.contains("443/TCP"));
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["totals"]["packets"], 700);
    assert_eq!(json["interfaces"][1]["name"], "LAN 2");
    let html = report.to_html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"));
    assert!(
        !html.contains("http://") || html.matches("http://").count() == 1,
        "only the SVG namespace"
    );
    assert!(!html.contains("<script"));
    assert!(!html.contains("https://"));
}

#[test]
fn damage_is_counted_not_fatal() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("damaged.log");
    let mut f = fs::File::create(&p).unwrap();
    let ok = packet(1).to_record();
    let (head, tail) = ok.split_at(30);
    writeln!(f, "Sep 8 7:40:22 fw ferrocap[1.0]: PFLG-888-I {ok}").unwrap();
    writeln!(f, "Sep 8 7:40:22 fw ferrocap[1.0]: PFLG-888-I ~orphan part").unwrap();
    writeln!(
        f,
        "Sep 8 7:40:22 fw ferrocap[1.0]: SLOG-110-K level changed to 6"
    )
    .unwrap();
    writeln!(
        f,
        "Sep 8 7:40:22 fw ferrocap[1.0]: PFLG-888-I PACKET DIR=in LEN=x ACCEPTED"
    )
    .unwrap();
    f.write_all(b"\xff\xfe not utf-8\n").unwrap();
    writeln!(f, "garbage line").unwrap();
    // A torn record at the end (its last part never written).
    writeln!(f, "Sep 8 7:40:23 fw ferrocap[1.0]: PFLG-888-I {head}\\").unwrap();
    let _ = tail;
    drop(f);
    let r = stats::analyze(std::slice::from_ref(&p)).unwrap();
    let t = &r.totals;
    assert_eq!(t.lines, 7);
    assert_eq!(t.packets, 1);
    assert_eq!(t.orphans, 1);
    assert_eq!(t.torn, 1);
    // The bad PACKET, the non-UTF-8 line and the torn record's fragment.
    assert_eq!(t.malformed, 3);
    for chunk in [1u64, 13, 64, 200] {
        let opts = stats::AnalyzeOptions {
            chunk_bytes: chunk,
            ..Default::default()
        };
        let c = stats::analyze_with(std::slice::from_ref(&p), &opts).unwrap();
        assert_eq!(&c.totals, t, "chunk {chunk}");
    }
}

#[test]
fn errors() {
    assert!(matches!(stats::analyze(&[]), Err(StatsError::NoInput)));
    let e = stats::analyze(&[PathBuf::from("/nonexistent/ferrocap-stats")]).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ferrocap-stats"), "{e}");
}

/// Writes `FERROCAP_STATS_10M` (default `/tmp/ferrocap-10m.log`) with 10
/// million packet records in the file layout:
/// `cargo test --release -p ferrocap-dataplane --test log_stats -- --ignored generate_10m`.
#[test]
#[ignore]
fn generate_10m() {
    use ferrocap_dataplane::log::envelope::{format_line, CivilTime, Origin};
    use ferrocap_dataplane::log::Severity;
    let path = std::env::var("FERROCAP_STATS_10M").unwrap_or("/tmp/ferrocap-10m.log".into());
    let origin = Origin {
        host: "fw".into(),
        ident: "ferrocap".into(),
        pid: 4242,
    };
    let mut w = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(&path).unwrap());
    let mut line = String::with_capacity(256);
    for i in 0..10_000_000u64 {
        let mut p = packet(i);
        // 65 536 sources, 4096 destinations, ~1000 ports, 10 M records over ~3.5 days.
        p.src.addr = IpAddr::V4(Ipv4Addr::from(
            0x0a00_0000 | (i.wrapping_mul(2_654_435_761) & 0xffff) as u32,
        ));
        p.dst.addr = IpAddr::V4(Ipv4Addr::from(
            0xc0a8_0000 | (i.wrapping_mul(40_503) & 0xfff) as u32,
        ));
        p.dst.port = Some(((i * 31) % 1000) as u16 + 1);
        p.timestamp = Duration::new(T0 + i / 33, 0);
        line.clear();
        format_line(
            &mut line,
            &CivilTime::from_unix((T0 + i / 33) as i64),
            &origin,
            (i % 4) as u32,
            catalog::PFLG_PACKET.id,
            Severity::I,
            &p.to_record(),
        );
        line.push('\n');
        w.write_all(line.as_bytes()).unwrap();
    }
    w.flush().unwrap();
}

/// Analyzes the file written by `generate_10m` and prints the summary.
#[test]
#[ignore]
fn analyze_10m() {
    let path = std::env::var("FERROCAP_STATS_10M").unwrap_or("/tmp/ferrocap-10m.log".into());
    let start = std::time::Instant::now();
    let r = stats::analyze(&[PathBuf::from(path)]).unwrap();
    let el = start.elapsed();
    assert_eq!(r.totals.packets, 10_000_000);
    eprintln!(
        "10M: {:?}, records {}, sources top {:?}, minutes {}",
        el,
        r.totals.records,
        r.top_sources.first(),
        r.timeline.len()
    );
    let html = r.to_html();
    fs::write("/tmp/ferrocap-10m.html", html).unwrap();
}
