//! Reader and writer tests: round trips, hand-built files in both byte
//! orders, truncation, garbage, and tshark reading our output.

use std::io::Cursor;
use std::process::Command;

use proptest::prelude::*;

use super::*;

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Owned copy of a record, for comparing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    ts: u64,
    orig: u32,
    data: Vec<u8>,
    iface: u32,
    dir: Option<CapturedDirection>,
}

impl Owned {
    /// The record as the writer takes it.
    fn record(&self) -> CaptureRecord<'_> {
        CaptureRecord {
            ts_nanos: self.ts,
            orig_len: self.orig,
            data: &self.data,
            interface: self.iface,
            direction: self.dir,
        }
    }
}

type ReadResult = (Vec<Owned>, Option<CaptureError>, Vec<InterfaceInfo>);

/// Reads `bytes` both as a stream (through a reader that hands out 7
/// bytes at a time, to exercise refilling) and from memory; both ways
/// must agree.
fn read_all(bytes: &[u8]) -> ReadResult {
    let streamed = match CaptureReader::new(Dribble(Cursor::new(bytes)), "mem") {
        Ok(r) => drain(r),
        Err(e) => (Vec::new(), Some(e), Vec::new()),
    };
    let whole = match CaptureReader::from_bytes(bytes.to_vec(), "mem") {
        Ok(r) => drain(r),
        Err(e) => (Vec::new(), Some(e), Vec::new()),
    };
    assert_eq!(streamed.0, whole.0);
    assert_eq!(streamed.2, whole.2);
    assert_eq!(
        streamed.1.as_ref().map(ToString::to_string),
        whole.1.as_ref().map(ToString::to_string)
    );
    streamed
}

/// A reader that returns at most 7 bytes per call.
struct Dribble<R>(R);

impl<R: std::io::Read> std::io::Read for Dribble<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7);
        self.0.read(&mut buf[..n])
    }
}

fn drain<R: std::io::Read>(mut r: CaptureReader<R>) -> ReadResult {
    let mut out = Vec::new();
    let mut err = None;
    loop {
        match r.next_record() {
            Ok(Some(rec)) => out.push(Owned {
                ts: rec.ts_nanos,
                orig: rec.orig_len,
                data: rec.data.to_vec(),
                iface: rec.interface,
                dir: rec.direction,
            }),
            Ok(None) => break,
            Err(e) => {
                err = Some(e);
                // A second call after an error must be a clean end.
                assert!(matches!(r.next_record(), Ok(None)));
                break;
            }
        }
    }
    (out, err, r.interfaces().to_vec())
}

/// Adds `ifaces` to `w`, writes `recs`, and checks that `bytes_written`
/// counts every byte of what `finish` returns (measured by `len`).
fn fill_and_finish<W: std::io::Write>(
    mut w: DumpWriter<W>,
    ifaces: &[Option<&str>],
    recs: &[Owned],
    len: impl Fn(&W) -> usize,
) -> W {
    for name in ifaces {
        w.add_interface(*name, LINKTYPE_ETHERNET).unwrap();
    }
    for r in recs {
        w.write(&r.record()).unwrap();
    }
    let n = w.bytes_written();
    let out = w.finish().unwrap();
    assert_eq!(len(&out) as u64, n);
    out
}

fn write_all(cfg: DumpConfig, ifaces: &[Option<&str>], recs: &[Owned]) -> Vec<u8> {
    let w = DumpWriter::new(Vec::new(), "mem", cfg).unwrap();
    fill_and_finish(w, ifaces, recs, Vec::len)
}

fn sample(ifaces: u32, dirs: bool) -> Vec<Owned> {
    (0..40u32)
        .map(|i| Owned {
            ts: 1_700_000_000_123_456_789 + u64::from(i) * 1_000_001_001,
            orig: 60 + i * 37,
            data: frame(60 + (i * 37) as usize, i as u8),
            iface: i % ifaces,
            dir: if dirs {
                [
                    None,
                    Some(CapturedDirection::Inbound),
                    Some(CapturedDirection::Outbound),
                ][(i % 3) as usize]
            } else {
                None
            },
        })
        .collect()
}

#[test]
fn pcap_micro_round_trip_truncates_timestamps_to_microseconds() {
    let recs = sample(1, false);
    let bytes = write_all(DumpConfig::new(DumpFormat::Pcap), &[], &recs);
    assert_eq!(&bytes[0..4], &0xa1b2c3d4u32.to_le_bytes());
    let (got, err, ifaces) = read_all(&bytes);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        ifaces,
        vec![InterfaceInfo {
            linktype: 1,
            name: None,
            snaplen: DEFAULT_SNAPLEN
        }]
    );
    let want: Vec<Owned> = recs
        .iter()
        .map(|r| Owned {
            ts: r.ts / 1000 * 1000,
            ..r.clone()
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn pcap_nano_round_trip_is_exact() {
    let recs = sample(1, false);
    let cfg = DumpConfig {
        pcap_resolution: TsResolution::Nano,
        ..DumpConfig::default()
    };
    let bytes = write_all(cfg, &[], &recs);
    assert_eq!(&bytes[0..4], &0xa1b23c4du32.to_le_bytes());
    let (got, err, _) = read_all(&bytes);
    assert!(err.is_none());
    assert_eq!(got, recs);
}

#[test]
fn pcapng_two_interfaces_and_directions_round_trip() {
    let recs = sample(2, true);
    let bytes = write_all(
        DumpConfig::new(DumpFormat::Pcapng),
        &[Some("Internet"), Some("LAN")],
        &recs,
    );
    let mut r = CaptureReader::new(Cursor::new(&bytes), "mem").unwrap();
    assert_eq!(r.format(), DumpFormat::Pcapng);
    drop(r.next_record());
    let (got, err, ifaces) = read_all(&bytes);
    assert!(err.is_none());
    assert_eq!(got, recs);
    assert_eq!(ifaces.len(), 2);
    assert_eq!(ifaces[0].name.as_deref(), Some("Internet"));
    assert_eq!(ifaces[1].name.as_deref(), Some("LAN"));
}

#[test]
fn writer_snaplen_cuts_data_and_keeps_orig_len() {
    let recs = vec![Owned {
        ts: 5,
        orig: 1500,
        data: frame(1000, 1),
        iface: 0,
        dir: None,
    }];
    for format in [DumpFormat::Pcap, DumpFormat::Pcapng] {
        let cfg = DumpConfig {
            format,
            snaplen: 96,
            pcap_resolution: TsResolution::Nano,
            ..DumpConfig::default()
        };
        let (got, err, ifaces) = read_all(&write_all(cfg, &[], &recs));
        assert!(err.is_none());
        assert_eq!(ifaces[0].snaplen, 96);
        assert_eq!(got[0].data, recs[0].data[..96]);
        assert_eq!(got[0].orig, 1500);
    }
}

#[test]
fn writer_rejects_unknown_interface_and_pcap_linktype_mismatch() {
    let mut w = DumpWriter::new(Vec::new(), "x", DumpConfig::new(DumpFormat::Pcapng)).unwrap();
    w.add_interface(Some("a"), 1).unwrap();
    let rec = CaptureRecord {
        ts_nanos: 0,
        orig_len: 4,
        data: &[1, 2, 3, 4],
        interface: 1,
        direction: None,
    };
    assert!(matches!(
        w.write(&rec),
        Err(CaptureError::UnknownInterface {
            interface: 1,
            registered: 1,
            ..
        })
    ));
    let mut p = DumpWriter::new(Vec::new(), "x", DumpConfig::default()).unwrap();
    assert!(matches!(
        p.add_interface(None, 105),
        Err(CaptureError::LinktypeMismatch {
            existing: 1,
            requested: 105,
            ..
        })
    ));
}

#[test]
fn writing_to_a_full_disk_is_an_error() {
    let Ok(mut w) = DumpWriter::create("/dev/full", DumpConfig::default()) else {
        println!("/dev/full not available; skipping");
        return;
    };
    let data = frame(1500, 0);
    let rec = CaptureRecord {
        ts_nanos: 0,
        orig_len: 1500,
        data: &data,
        interface: 0,
        direction: None,
    };
    let mut failed = false;
    for _ in 0..2000 {
        if let Err(e) = w.write(&rec) {
            assert!(matches!(e, CaptureError::Write { .. }), "{e}");
            failed = true;
            break;
        }
    }
    assert!(failed || w.finish().is_err());
}

/// An output that takes `room` bytes, then fails as a full disk does
/// (a short write, then `ENOSPC`).
struct Room {
    data: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    room: usize,
}

impl std::io::Write for Room {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let mut data = self.data.borrow_mut();
        let n = b.len().min(self.room - data.len());
        if n == 0 && !b.is_empty() {
            return Err(std::io::Error::from_raw_os_error(28));
        }
        data.extend_from_slice(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// When a flush fails part-way, `whole_bytes` is where the last whole
/// record ends in what did get out, and `whole_packets` counts the packets
/// before it; cut there, the output reads back to its end.
#[test]
fn a_failed_flush_knows_where_the_whole_records_end() {
    for format in [DumpFormat::Pcap, DumpFormat::Pcapng] {
        for room in [23, 24, 100, 5000, 70_001] {
            let data = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let out = Room {
                data: std::rc::Rc::clone(&data),
                room,
            };
            let mut cfg = DumpConfig::new(format);
            cfg.snaplen = 65535;
            let mut w = DumpWriter::with_capacity(out, "room", cfg, 4096).expect("header fits");
            let _ = w.add_interface(Some("eth0"), 1);
            let mut failed = false;
            for i in 0..200u32 {
                let data = frame(60 + (i as usize * 37) % 1400, i as u8);
                let rec = CaptureRecord {
                    ts_nanos: u64::from(i),
                    orig_len: data.len() as u32,
                    data: &data,
                    interface: 0,
                    direction: None,
                };
                if w.write(&rec).and_then(|()| w.flush()).is_err() {
                    failed = true;
                    break;
                }
            }
            assert!(failed, "{format:?} room {room}");
            let whole = w.whole_bytes() as usize;
            let (packets, _) = w.whole_packets();
            drop(w);
            let mut bytes = data.borrow().clone();
            assert!(whole <= bytes.len(), "{format:?} room {room}");
            bytes.truncate(whole);
            if whole == 0 {
                assert_eq!(packets, 0);
                continue;
            }
            let mut r = CaptureReader::new(std::io::Cursor::new(bytes), "cut").expect("header");
            let mut n = 0;
            while let Some(_rec) = r.next_record().expect("whole records only") {
                n += 1;
            }
            assert_eq!(n, packets, "{format:?} room {room}");
        }
    }
}

/// Builds a classic pcap in either byte order by hand.
fn hand_pcap(big: bool, nanos: bool, recs: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut b = Vec::new();
    b.extend(u32b(if nanos { 0xa1b23c4d } else { 0xa1b2c3d4 }));
    b.extend(u16b(2));
    b.extend(u16b(4));
    b.extend([0; 8]);
    b.extend(u32b(65535));
    b.extend(u32b(1));
    for (sec, frac, data, orig) in recs {
        b.extend(u32b(*sec));
        b.extend(u32b(*frac));
        b.extend(u32b(data.len() as u32));
        b.extend(u32b(*orig));
        b.extend(*data);
    }
    b
}

#[test]
fn big_endian_and_little_endian_pcap_read_the_same() {
    let d1 = frame(70, 3);
    let d2 = frame(64, 9);
    let recs: [(u32, u32, &[u8], u32); 2] = [
        (1_600_000_000, 250_000, &d1, 70),
        (1_600_000_001, 999_999, &d2, 10),
    ];
    for nanos in [false, true] {
        let (be, e1, i1) = read_all(&hand_pcap(true, nanos, &recs));
        let (le, e2, _) = read_all(&hand_pcap(false, nanos, &recs));
        assert!(e1.is_none() && e2.is_none());
        assert_eq!(be, le);
        assert_eq!(i1[0].snaplen, 65535);
        let mul = if nanos { 1 } else { 1000 };
        assert_eq!(be[0].ts, 1_600_000_000_000_000_000 + 250_000 * mul);
        assert_eq!(be[1].ts, 1_600_000_001_000_000_000 + 999_999 * mul);
        assert_eq!(be[0].data, d1);
        // orig_len smaller than caplen is raised to caplen.
        assert_eq!(be[1].orig, 64);
    }
}

/// Hand-built big-endian pcapng: two sections, microsecond and 2^-10
/// resolutions, an unknown block, an SPB, an obsolete PB.
#[test]
fn big_endian_pcapng_with_sections_resolutions_and_block_kinds() {
    fn block(b: &mut Vec<u8>, btype: u32, body: &[u8]) {
        let len = 12 + body.len().div_ceil(4) * 4;
        b.extend(btype.to_be_bytes());
        b.extend((len as u32).to_be_bytes());
        b.extend(body);
        b.extend(std::iter::repeat_n(0, len - 12 - body.len()));
        b.extend((len as u32).to_be_bytes());
    }
    fn shb() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend(0x1a2b3c4du32.to_be_bytes());
        s.extend(1u16.to_be_bytes());
        s.extend(0u16.to_be_bytes());
        s.extend(u64::MAX.to_be_bytes());
        s
    }
    fn idb(name: &str, resol: u8, snap: u32) -> Vec<u8> {
        let mut s = Vec::new();
        s.extend(1u16.to_be_bytes());
        s.extend([0, 0]);
        s.extend(snap.to_be_bytes());
        s.extend(2u16.to_be_bytes());
        s.extend((name.len() as u16).to_be_bytes());
        s.extend(name.as_bytes());
        s.extend(std::iter::repeat_n(
            0,
            name.len().div_ceil(4) * 4 - name.len(),
        ));
        s.extend(9u16.to_be_bytes());
        s.extend(1u16.to_be_bytes());
        s.extend([resol, 0, 0, 0]);
        s.extend([0, 0, 0, 0]);
        s
    }
    fn epb(iface: u32, ts: u64, data: &[u8], flags: Option<u32>) -> Vec<u8> {
        let mut s = Vec::new();
        s.extend(iface.to_be_bytes());
        s.extend(((ts >> 32) as u32).to_be_bytes());
        s.extend((ts as u32).to_be_bytes());
        s.extend((data.len() as u32).to_be_bytes());
        s.extend((data.len() as u32 + 100).to_be_bytes());
        s.extend(data);
        s.extend(std::iter::repeat_n(
            0,
            data.len().div_ceil(4) * 4 - data.len(),
        ));
        if let Some(f) = flags {
            s.extend(2u16.to_be_bytes());
            s.extend(4u16.to_be_bytes());
            s.extend(f.to_be_bytes());
            s.extend([0, 0, 0, 0]);
        }
        s
    }
    let d = frame(61, 7);
    let mut b = Vec::new();
    block(&mut b, 0x0a0d0d0a, &shb());
    block(&mut b, 1, &idb("eth0", 6, 0));
    block(&mut b, 1, &idb("wlan0", 0x8a, 0));
    block(&mut b, 0x0bad, &[1, 2, 3, 4, 5]);
    block(&mut b, 6, &epb(1, 3 * 1024, &d, Some(0b10)));
    block(&mut b, 6, &epb(0, 1_500_000, &d, Some(0b01)));
    // Second section: interface ids restart at 0 there.
    block(&mut b, 0x0a0d0d0a, &shb());
    block(&mut b, 1, &idb("LAN", 9, 32));
    block(&mut b, 6, &epb(0, 77, &d, Some(0b11)));
    let mut spb = (61u32).to_be_bytes().to_vec();
    spb.extend(&d);
    block(&mut b, 3, &spb);
    let mut pb = Vec::new();
    pb.extend(0u16.to_be_bytes());
    pb.extend(0u16.to_be_bytes());
    pb.extend(epb(0, 5, &d, Some(1))[4..].iter());
    block(&mut b, 2, &pb);

    let (got, err, ifaces) = read_all(&b);
    assert!(err.is_none(), "{err:?}");
    let names: Vec<_> = ifaces.iter().map(|i| i.name.clone().unwrap()).collect();
    assert_eq!(names, ["eth0", "wlan0", "LAN"]);
    let summary: Vec<_> = got
        .iter()
        .map(|r| (r.ts, r.iface, r.dir, r.data.len(), r.orig))
        .collect();
    use CapturedDirection::*;
    assert_eq!(
        summary,
        vec![
            (3_000_000_000, 1, Some(Outbound), 61, 161),
            (1_500_000_000, 0, Some(Inbound), 61, 161),
            (77, 2, None, 61, 161),
            // SPB: no timestamp, cut to the interface snaplen 32.
            (0, 2, None, 32, 61),
            (5, 2, Some(Inbound), 61, 161),
        ]
    );
}

#[test]
fn truncated_files_yield_complete_records_then_truncation() {
    let recs = sample(2, true);
    for format in [DumpFormat::Pcap, DumpFormat::Pcapng] {
        let ifaces: &[Option<&str>] = if format == DumpFormat::Pcapng {
            &[Some("a"), Some("b")]
        } else {
            &[]
        };
        let cfg = DumpConfig {
            format,
            pcap_resolution: TsResolution::Nano,
            ..DumpConfig::default()
        };
        let recs: Vec<Owned> = if format == DumpFormat::Pcap {
            recs.iter()
                .map(|r| Owned {
                    iface: 0,
                    dir: None,
                    ..r.clone()
                })
                .collect()
        } else {
            recs.clone()
        };
        let full = write_all(cfg, ifaces, &recs);
        // Cut in the middle of the 11th record's data; the writer is
        // deterministic, so a 10-record file ends where record 11 starts.
        let cut_at = write_all(cfg, ifaces, &recs[..10]).len() + 30;
        let (got, err, _) = read_all(&full[..cut_at]);
        assert_eq!(got, recs[..10], "{format}");
        match err {
            Some(CaptureError::Truncated {
                packets: 10,
                offset,
                ..
            }) => assert_eq!(offset as usize, cut_at - 30),
            other => panic!("{format}: expected truncation, got {other:?}"),
        }
        // Cut inside a record header too.
        let (got, err, _) = read_all(&full[..cut_at - 27]);
        assert_eq!(got.len(), 10);
        assert!(matches!(
            err,
            Some(CaptureError::Truncated { packets: 10, .. })
        ));
        // Cut inside the file header.
        let (got, err, _) = read_all(&full[..13]);
        assert!(got.is_empty());
        assert!(
            matches!(err, Some(CaptureError::Truncated { packets: 0, .. })),
            "{err:?}"
        );
    }
}

#[test]
fn garbage_and_empty_inputs_get_clear_errors() {
    let (_, err, _) = read_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let err = err.unwrap();
    assert!(matches!(
        err,
        CaptureError::NotACapture {
            magic: 0x47455420,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "mem: not a pcap or pcapng file (magic 0x47455420)"
    );
    let (_, err, _) = read_all(b"");
    assert_eq!(
        err.unwrap().to_string(),
        "mem: empty file, not a pcap or pcapng file"
    );
    let (_, err, _) = read_all(b"\x0a\x0d");
    assert!(matches!(
        err,
        Some(CaptureError::NotACapture {
            magic: 0x0a0d0000,
            ..
        })
    ));
}

#[test]
fn oversized_caplen_is_a_bad_record() {
    let mut b = hand_pcap(false, false, &[]);
    b.extend(0u32.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(0x4000_0000u32.to_le_bytes());
    b.extend(0x4000_0000u32.to_le_bytes());
    let (_, err, _) = read_all(&b);
    match err {
        Some(e @ CaptureError::BadRecord { offset: 24, .. }) => {
            assert!(
                e.to_string().contains("captured length 1073741824 exceeds"),
                "{e}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dump_format_parses_and_displays() {
    assert_eq!("pcap".parse::<DumpFormat>().unwrap(), DumpFormat::Pcap);
    assert_eq!("PCAPNG".parse::<DumpFormat>().unwrap(), DumpFormat::Pcapng);
    assert!("pcap-ng".parse::<DumpFormat>().is_err());
    assert_eq!(DumpFormat::Pcapng.to_string(), "pcapng");
}

/// Runs tshark over `path` and returns one line of tab-separated fields per
/// frame, or `None` (with a notice) if tshark is not installed.
fn tshark_fields(path: &std::path::Path) -> Option<Vec<String>> {
    let out = match Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.packet_flags_direction",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
        ])
        .output()
    {
        Ok(o) => o,
        Err(_) => {
            println!("NOTICE: tshark not installed; skipping the tshark check");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn tshark_reads_our_pcap_and_pcapng() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<Owned> = (0..6u32)
        .map(|i| Owned {
            ts: 1_700_000_000_000_000_000 + u64::from(i) * 1000,
            orig: 100 + i,
            data: frame(100 + i as usize, 0),
            iface: i % 2,
            dir: [
                Some(CapturedDirection::Inbound),
                Some(CapturedDirection::Outbound),
                None,
            ][(i % 3) as usize],
        })
        .collect();
    let ng = dir.path().join("t.pcapng");
    let mut w = DumpWriter::create(
        &ng,
        DumpConfig {
            format: DumpFormat::Pcapng,
            snaplen: 102,
            ..DumpConfig::default()
        },
    )
    .unwrap();
    w.add_interface(Some("Internet"), 1).unwrap();
    w.add_interface(Some("LAN"), 1).unwrap();
    for r in &recs {
        w.write(&r.record()).unwrap();
    }
    w.finish().unwrap();
    let Some(lines) = tshark_fields(&ng) else {
        return;
    };
    assert_eq!(
        lines,
        [
            "1\tInternet\t0x00000001\t100\t100",
            "2\tLAN\t0x00000002\t101\t101",
            "3\tInternet\t\t102\t102",
            "4\tLAN\t0x00000001\t103\t102",
            "5\tInternet\t0x00000002\t104\t102",
            "6\tLAN\t\t105\t102",
        ]
    );

    let p = dir.path().join("t.pcap");
    let mut w = DumpWriter::create(
        &p,
        DumpConfig {
            snaplen: 102,
            ..DumpConfig::default()
        },
    )
    .unwrap();
    for r in &recs {
        w.write(&CaptureRecord {
            interface: 0,
            ..r.record()
        })
        .unwrap();
    }
    w.finish().unwrap();
    let lines = tshark_fields(&p).unwrap();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0], "1\t\t\t100\t100");
    assert_eq!(lines[5], "6\t\t\t105\t102");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn reading_arbitrary_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..600), prefix in 0usize..4) {
        let mut bytes = match prefix {
            0 => Vec::new(),
            1 => hand_pcap(false, false, &[]),
            2 => hand_pcap(true, true, &[]),
            _ => write_all(DumpConfig::new(DumpFormat::Pcapng), &[Some("x")], &[]),
        };
        bytes.extend(body);
        let (recs, _, _) = read_all(&bytes);
        for r in recs {
            prop_assert!(r.data.len() as u32 <= r.orig);
        }
    }

    #[test]
    fn mutated_pcapng_never_panics(flips in proptest::collection::vec((0usize..400, any::<u8>()), 1..8)) {
        let mut bytes = write_all(DumpConfig::new(DumpFormat::Pcapng), &[Some("Internet"), Some("LAN")], &sample(2, true)[..4]);
        for (at, v) in flips {
            let n = bytes.len();
            bytes[at % n] = v;
        }
        let _ = read_all(&bytes);
    }
}

#[test]
fn huge_unknown_pcapng_blocks_are_skipped_in_chunks() {
    let recs = sample(1, true);
    let cfg = DumpConfig::new(DumpFormat::Pcapng);
    let head_len = write_all(cfg, &[Some("x")], &[]).len();
    let full = write_all(cfg, &[Some("x")], &recs[..2]);
    let big = 3 << 20;
    let mut b = full[..head_len].to_vec();
    b.extend(0x0000_0bad_u32.to_le_bytes());
    b.extend((big as u32).to_le_bytes());
    b.extend(std::iter::repeat_n(0xee, big - 12));
    b.extend((big as u32).to_le_bytes());
    b.extend(&full[head_len..]);
    let (got, err, _) = read_all(&b);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, recs[..2]);
    // The same block cut short is a truncation, not an error or a hang.
    let (got, err, _) = read_all(&b[..head_len + big / 2]);
    assert!(got.is_empty());
    assert!(matches!(
        err,
        Some(CaptureError::Truncated { packets: 0, .. })
    ));
}

#[test]
fn interface_descriptions_are_bounded() {
    let cfg = DumpConfig::new(DumpFormat::Pcapng);
    let mut w = DumpWriter::new(Vec::new(), "mem", cfg).unwrap();
    for _ in 0..1025 {
        w.add_interface(Some("eth"), 1).unwrap();
    }
    let (_, err, _) = read_all(&w.finish().unwrap());
    match err {
        Some(e @ CaptureError::BadRecord { .. }) => {
            assert!(
                e.to_string()
                    .contains("more than 1024 interface descriptions"),
                "{e}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mapped_files_read_like_streamed_files_and_fifos_still_stream() {
    let dir = tempfile::tempdir().unwrap();
    let recs = sample(2, true);
    let pcapng = write_all(
        DumpConfig::new(DumpFormat::Pcapng),
        &[Some("Internet"), Some("LAN")],
        &recs,
    );
    // Whole, cut in the middle of the last record, and empty.
    let cut = &pcapng[..pcapng.len() - 10];
    for (name, bytes) in [("whole", &pcapng[..]), ("cut", cut), ("empty", &[][..])] {
        let path = dir.path().join(format!("{name}.pcapng"));
        std::fs::write(&path, bytes).unwrap();
        let open = |mapped: bool| {
            let r = if mapped {
                CaptureReader::open_mapped(&path)
            } else {
                CaptureReader::open(&path)
            };
            match r {
                Ok(r) => drain(r),
                Err(e) => (Vec::new(), Some(e), Vec::new()),
            }
        };
        let (m, s) = (open(true), open(false));
        assert_eq!(m.0, s.0, "{name}");
        assert_eq!(m.2, s.2, "{name}");
        assert_eq!(
            m.1.as_ref().map(ToString::to_string),
            s.1.as_ref().map(ToString::to_string),
            "{name}"
        );
        match name {
            "whole" => assert_eq!((m.0.as_slice(), m.1.is_none()), (&recs[..], true)),
            "cut" => {
                assert_eq!(m.0.as_slice(), &recs[..recs.len() - 1]);
                assert!(matches!(m.1, Some(CaptureError::Truncated { .. })));
            }
            _ => assert!(m.1.is_some(), "an empty file is not a capture"),
        }
    }
    // A FIFO cannot be mapped: it is streamed, and a writer feeds it.
    let fifo = dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    if status.is_ok_and(|s| s.success()) {
        let feed = {
            let (fifo, bytes) = (fifo.clone(), pcapng.clone());
            std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
        };
        let got = drain(CaptureReader::open_mapped(&fifo).unwrap());
        feed.join().unwrap();
        assert_eq!(got.0, recs);
    }
}

#[test]
fn pcap_chunks_cover_every_record_once_and_leave_the_truncation() {
    let recs = sample(1, false);
    let cfg = DumpConfig {
        pcap_resolution: TsResolution::Nano,
        ..DumpConfig::new(DumpFormat::Pcap)
    };
    let whole = write_all(cfg, &[None], &recs);
    // Cut 5 bytes into the last record's data: 39 whole records remain.
    let cut_at = whole.len() - recs[39].data.len() + 5;
    for (bytes, expect) in [(&whole[..], 40), (&whole[..cut_at], 39)] {
        for target in [1, 100, 1000, 1 << 20] {
            let mut r = CaptureReader::from_bytes(bytes.to_vec(), "mem").unwrap();
            let mut got = Vec::new();
            let mut chunks = 0;
            let mut offset = 24;
            while let Some(chunk) = r.take_pcap_chunk(target) {
                chunks += 1;
                assert_eq!(chunk.offset(), offset, "chunks follow each other");
                offset += chunk.len() as u64;
                let part: Vec<Owned> = chunk
                    .records()
                    .map(|rec| Owned {
                        ts: rec.ts_nanos,
                        orig: rec.orig_len,
                        data: rec.data.to_vec(),
                        iface: rec.interface,
                        dir: rec.direction,
                    })
                    .collect();
                assert!(!part.is_empty());
                assert!(!chunk.is_empty());
                got.extend(part);
            }
            // What is left is read by the parent: nothing, or the truncation.
            let (rest, err, _) = drain(r);
            assert!(rest.is_empty());
            assert_eq!(err.is_some(), expect == 39, "target {target}");
            assert_eq!(got.as_slice(), &recs[..expect], "target {target}");
            if target == 1 {
                assert_eq!(chunks, expect, "one record per chunk");
            }
        }
    }
    // Big-endian and microsecond files split and read like the sequential
    // reader reads them.
    let records = [
        (1_700_000_000u32, 999_999u32, &[1u8, 2, 3, 4, 5][..], 60u32),
        (1_700_000_001, 0, &[9u8; 64][..], 64),
        (1_700_000_002, 5, &[7u8; 3][..], 2),
    ];
    for big in [false, true] {
        for nanos in [false, true] {
            let bytes = hand_pcap(big, nanos, &records);
            let (want, err, _) = read_all(&bytes);
            assert!(err.is_none());
            let mut r = CaptureReader::from_bytes(bytes, "mem").unwrap();
            let mut got = Vec::new();
            while let Some(chunk) = r.take_pcap_chunk(30) {
                got.extend(chunk.records().map(|rec| Owned {
                    ts: rec.ts_nanos,
                    orig: rec.orig_len,
                    data: rec.data.to_vec(),
                    iface: rec.interface,
                    dir: rec.direction,
                }));
            }
            assert_eq!(got, want, "big {big}, nanos {nanos}");
        }
    }
    // Streams and pcapng are not split.
    let ng = write_all(DumpConfig::new(DumpFormat::Pcapng), &[None], &recs);
    assert!(CaptureReader::from_bytes(ng, "mem")
        .unwrap()
        .take_pcap_chunk(100)
        .is_none());
    assert!(CaptureReader::new(Cursor::new(whole.clone()), "s")
        .unwrap()
        .take_pcap_chunk(100)
        .is_none());
}

#[test]
fn the_pcap_encoder_writes_what_write_writes() {
    let recs = sample(1, false);
    for res in [TsResolution::Micro, TsResolution::Nano] {
        let cfg = DumpConfig {
            pcap_resolution: res,
            snaplen: 200,
            ..DumpConfig::new(DumpFormat::Pcap)
        };
        let direct = write_all(cfg, &[None], &recs);
        let mut w = DumpWriter::new(Vec::new(), "mem", cfg).unwrap();
        let enc = w.pcap_encoder().unwrap();
        let mut buf = Vec::new();
        for r in &recs {
            enc.encode(
                &CaptureRecord {
                    interface: 0,
                    direction: None,
                    ..r.record()
                },
                &mut buf,
            );
        }
        w.append_encoded(&buf, recs.len() as u64).unwrap();
        assert_eq!(w.packets_written(), recs.len() as u64);
        assert_eq!(w.finish().unwrap(), direct);
    }
    let ng = DumpWriter::new(Vec::new(), "mem", DumpConfig::new(DumpFormat::Pcapng)).unwrap();
    assert!(ng.pcap_encoder().is_none());
}

/// FNV-1a, to pin whole outputs in a few digits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A writer configuration, the interfaces it registers, and its records.
type PinnedCase = (DumpConfig, Vec<Option<&'static str>>, Vec<Owned>);

/// The configurations (and their interfaces and records) whose outputs are
/// pinned below, with records both smaller and larger than a small buffer.
fn pinned_cases() -> Vec<PinnedCase> {
    let mut big = sample(2, true);
    for (i, r) in big.iter_mut().enumerate() {
        // 60 … 5343 bytes: several records larger than 1 KiB and 4 KiB.
        let len = 60 + i * i * 3;
        r.data = frame(len, i as u8);
        r.orig = len as u32;
    }
    let nano = DumpConfig {
        pcap_resolution: TsResolution::Nano,
        snaplen: 200,
        ..DumpConfig::new(DumpFormat::Pcap)
    };
    let single: Vec<Owned> = big
        .iter()
        .cloned()
        .map(|r| Owned {
            iface: 0,
            dir: None,
            ..r
        })
        .collect();
    vec![
        (DumpConfig::new(DumpFormat::Pcap), vec![], single.clone()),
        (nano, vec![], single),
        (
            DumpConfig::new(DumpFormat::Pcapng),
            vec![Some("eth0"), None],
            big.clone(),
        ),
        (
            DumpConfig {
                snaplen: 1000,
                ..DumpConfig::new(DumpFormat::Pcapng)
            },
            vec![Some("a-rather-long-interface-name"), Some("x")],
            big,
        ),
    ]
}

/// A sink that records the size of every `write` call, optionally accepts
/// at most `max_write` bytes per call, and fails the call numbers listed in
/// `fail_calls` (counted from 0) with an I/O error.
#[derive(Default)]
struct Recorder {
    out: Vec<u8>,
    calls: Vec<usize>,
    max_write: Option<usize>,
    fail_calls: Vec<usize>,
    flushes: usize,
}

impl std::io::Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let call = self.calls.len();
        self.calls.push(buf.len());
        if self.fail_calls.contains(&call) {
            return Err(std::io::Error::other("injected"));
        }
        let n = buf.len().min(self.max_write.unwrap_or(usize::MAX));
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

fn write_with(
    sink: Recorder,
    capacity: usize,
    cfg: DumpConfig,
    ifaces: &[Option<&str>],
    recs: &[Owned],
) -> Recorder {
    let w = DumpWriter::with_capacity(sink, "rec", cfg, capacity).unwrap();
    fill_and_finish(w, ifaces, recs, |r: &Recorder| r.out.len())
}

/// Length and [`fnv1a`] of each [`pinned_cases`] output, as the
/// `BufWriter`-based writer of commit 11307bd wrote them.
const PINNED: [(usize, u64); 4] = [
    (64684, 0x6ffb_94f8_ae04_9002),
    (7957, 0xa896_9e22_6dfe_d470),
    (65748, 0x8790_635f_0bf2_a9f3),
    (30184, 0x7677_ce52_c06f_67b3),
];

#[test]
fn output_bytes_are_the_same_as_before_the_owned_buffer() {
    // Digests of the BufWriter-based writer's output for the same cases
    // (commit 11307bd): the owned buffer changed how bytes are written,
    // not which.
    let want: [(usize, u64); 4] = PINNED;
    for ((cfg, ifaces, recs), (len, digest)) in pinned_cases().iter().zip(want) {
        let out = write_all(*cfg, ifaces, recs);
        assert_eq!((out.len(), fnv1a(&out)), (len, digest), "{cfg:?}");
        let (got, err, _) = read_all(&out);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got.len(), recs.len());
    }
}

#[test]
fn output_does_not_depend_on_the_buffer_size_and_writes_are_batched() {
    for (cfg, ifaces, recs) in pinned_cases() {
        let reference = write_all(cfg, &ifaces, &recs);
        for capacity in [0, 64, 65, 100, 1000, 1024, 4096, 5000, 1 << 20] {
            let r = write_with(Recorder::default(), capacity, cfg, &ifaces, &recs);
            assert_eq!(r.out, reference, "capacity {capacity}, {cfg:?}");
            assert_eq!(r.flushes, 1, "finish flushes the inner writer once");
            let capacity = capacity.max(64);
            // A call larger than the buffer carries exactly one record's
            // data (or one header); the bytes in front of it went out
            // first. Every other call is at most one buffer.
            let largest_record = recs.iter().map(|r| r.data.len()).max().unwrap_or(0);
            for (i, &n) in r.calls.iter().enumerate() {
                assert!(
                    n <= capacity.max(largest_record),
                    "capacity {capacity}: call {i} wrote {n} bytes"
                );
            }
            if capacity == 1 << 20 {
                assert_eq!(r.calls.len(), 1, "one write for the whole small file");
            }
        }
    }
}

#[test]
fn small_records_fill_the_buffer_before_it_is_written() {
    let recs: Vec<Owned> = (0..1000u32)
        .map(|i| Owned {
            ts: u64::from(i) * 1000,
            orig: 64,
            data: frame(64, i as u8),
            iface: 0,
            dir: None,
        })
        .collect();
    let cfg = DumpConfig::new(DumpFormat::Pcap);
    let r = write_with(Recorder::default(), 4096, cfg, &[], &recs);
    let total = 24 + 1000 * (16 + 64);
    assert_eq!(r.out.len(), total);
    // 80-byte records into 4096 bytes: every write but the last is more
    // than 4096 - 80 bytes, so there are ceil(total / 4016) of them at most.
    let (last, full) = r.calls.split_last().unwrap();
    assert!(
        full.iter().all(|&n| n > 4096 - 80 && n <= 4096),
        "{:?}",
        r.calls
    );
    assert!(*last > 0);
    // The same count by hand: a buffer goes out when the next record does
    // not fit, and once more at the end.
    let (mut fill, mut calls) = (24, 1);
    for _ in 0..1000 {
        if fill + 80 > 4096 {
            calls += 1;
            fill = 0;
        }
        fill += 80;
    }
    assert_eq!(r.calls.len(), calls);
}

#[test]
fn bytes_written_counts_every_record_as_it_is_buffered() {
    // Rotation by size compares bytes_written after each packet, so it must
    // be exact whether the record was buffered or written through.
    for (cfg, ifaces, recs) in pinned_cases() {
        let mut w = DumpWriter::with_capacity(Vec::new(), "m", cfg, 1000).unwrap();
        for name in &ifaces {
            w.add_interface(*name, LINKTYPE_ETHERNET).unwrap();
        }
        let mut expect = w.bytes_written();
        for r in &recs {
            w.write(&r.record()).unwrap();
            let cut = r.data.len().min(cfg.snaplen as usize);
            expect += match cfg.format {
                DumpFormat::Pcap => 16 + cut as u64,
                DumpFormat::Pcapng => {
                    28 + ((cut as u64 + 3) & !3) + if r.dir.is_some() { 12 } else { 0 } + 4
                }
            };
            assert_eq!(w.bytes_written(), expect);
        }
        assert_eq!(w.finish().unwrap().len() as u64, expect);
    }
}

#[test]
fn short_writes_and_failed_writes_lose_and_repeat_nothing() {
    let (cfg, ifaces, recs) = pinned_cases().swap_remove(0);
    let reference = write_all(cfg, &ifaces, &recs);
    // A sink that takes 7 bytes per call.
    let dribble = Recorder {
        max_write: Some(7),
        ..Recorder::default()
    };
    assert_eq!(write_with(dribble, 512, cfg, &ifaces, &recs).out, reference);
    // A sink that fails its second call: that flush reports the error, the
    // bytes stay buffered, and the next flush writes them once.
    let failing = Recorder {
        fail_calls: vec![1],
        ..Recorder::default()
    };
    let mut w = DumpWriter::with_capacity(failing, "f", cfg, 1 << 16).unwrap();
    let mut failed = 0;
    for r in &recs[..10] {
        let rec = CaptureRecord {
            interface: 0,
            direction: None,
            ..r.record()
        };
        w.write(&rec).unwrap();
        if let Err(e) = w.flush() {
            assert!(matches!(e, CaptureError::Write { .. }), "{e}");
            failed += 1;
        }
    }
    assert_eq!(failed, 1);
    for r in &recs[10..] {
        w.write(&CaptureRecord {
            interface: 0,
            direction: None,
            ..r.record()
        })
        .unwrap();
    }
    assert_eq!(w.finish().unwrap().out, reference);
}

#[test]
fn dropping_the_writer_flushes_what_is_buffered() {
    let (cfg, ifaces, recs) = pinned_cases().swap_remove(1);
    let reference = write_all(cfg, &ifaces, &recs);
    let shared = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    {
        let mut w = DumpWriter::new(Shared(shared.clone()), "s", cfg).unwrap();
        for r in &recs {
            w.write(&CaptureRecord {
                interface: 0,
                direction: None,
                ..r.record()
            })
            .unwrap();
        }
        assert!(shared.borrow().is_empty(), "all of it is still buffered");
    }
    assert_eq!(*shared.borrow(), reference);
}

#[test]
fn appended_blocks_larger_than_the_buffer_go_out_in_order() {
    let (cfg, _, recs) = pinned_cases().swap_remove(0);
    let reference = write_all(cfg, &[], &recs);
    let mut w = DumpWriter::with_capacity(Recorder::default(), "a", cfg, 2048).unwrap();
    let enc = w.pcap_encoder().unwrap();
    // Blocks of 1, 7 and 32 records: some fit the buffer, some do not.
    let mut rest = &recs[..];
    for n in [1usize, 7, 32].iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at((*n).min(rest.len()));
        let mut block = Vec::new();
        for r in now {
            enc.encode(
                &CaptureRecord {
                    interface: 0,
                    direction: None,
                    ..r.record()
                },
                &mut block,
            );
        }
        w.append_encoded(&block, now.len() as u64).unwrap();
        rest = later;
    }
    assert_eq!(w.packets_written(), recs.len() as u64);
    assert_eq!(w.finish().unwrap().out, reference);
}

fn owned(rec: &CaptureRecord<'_>) -> Owned {
    Owned {
        ts: rec.ts_nanos,
        orig: rec.orig_len,
        data: rec.data.to_vec(),
        iface: rec.interface,
        dir: rec.direction,
    }
}

/// Reads `bytes` as `ferrocap capture` does: windows of `count` spans of
/// `size` bytes, each read on its own, committed in order, and the rest
/// (after a stop) one record at a time. Also returns the windows in which
/// a span was rejected.
fn read_by_spans(bytes: &[u8], count: usize, size: usize) -> (ReadResult, usize) {
    let mut r = CaptureReader::from_bytes(bytes.to_vec(), "mem").unwrap();
    let mut got = Vec::new();
    let mut rejected = 0;
    loop {
        let spans = r.split_pcap_spans(count, size);
        if spans.is_empty() {
            break;
        }
        let read: Vec<(SpanOutcome, Vec<Owned>)> = spans
            .iter()
            .map(|s| {
                let mut recs = Vec::new();
                let o = s.read(|rec| recs.push(owned(&rec)));
                assert_eq!(o.records(), recs.len() as u64);
                (o, recs)
            })
            .collect();
        let outcomes: Vec<SpanOutcome> = read.iter().map(|x| x.0).collect();
        let accepted = r.commit_pcap_spans(&outcomes);
        assert!(accepted >= 1, "the first span starts where the reader is");
        for (_, recs) in read.iter().take(accepted) {
            got.extend(recs.iter().cloned());
        }
        if outcomes[accepted - 1].stopped() {
            break;
        }
        if accepted < outcomes.len() {
            rejected += 1;
        }
    }
    assert_eq!(r.packets_read(), got.len() as u64);
    let (rest, err, ifaces) = drain(r);
    got.extend(rest);
    ((got, err, ifaces), rejected)
}

#[test]
fn spans_read_every_record_once_in_order() {
    let recs = sample(1, false);
    let mut files = Vec::new();
    for res in [TsResolution::Micro, TsResolution::Nano] {
        let cfg = DumpConfig {
            pcap_resolution: res,
            ..DumpConfig::new(DumpFormat::Pcap)
        };
        files.push(write_all(cfg, &[None], &recs));
    }
    let hand = [
        (1_700_000_000u32, 999_999u32, &[1u8, 2, 3, 4, 5][..], 60u32),
        (1_700_000_001, 0, &[9u8; 64][..], 64),
        (1_700_000_002, 5, &[7u8; 3][..], 2),
        (1_700_000_002, 6, &[][..], 0),
        (1_700_000_003, 7, &[0u8; 200][..], 1500),
    ];
    for big in [false, true] {
        files.push(hand_pcap(big, false, &hand));
    }
    for bytes in &files {
        let want = read_all(bytes);
        assert!(want.1.is_none());
        for count in [1, 2, 3, 8] {
            for size in [1, 7, 50, 100, 1000, 1 << 20] {
                let (got, _) = read_by_spans(bytes, count, size);
                assert_eq!(got.0, want.0, "count {count}, size {size}");
                assert!(got.1.is_none());
            }
        }
    }
    // Streams and pcapng are not split.
    let ng = write_all(DumpConfig::new(DumpFormat::Pcapng), &[None], &recs);
    let r = CaptureReader::from_bytes(ng, "mem").unwrap();
    assert!(r.split_pcap_spans(4, 100).is_empty());
    let r = CaptureReader::new(Cursor::new(files[0].clone()), "s").unwrap();
    assert!(r.split_pcap_spans(4, 100).is_empty());
}

#[test]
fn spans_stop_at_cut_and_oversized_records_for_the_reader_to_report() {
    let recs = sample(1, false);
    let whole = write_all(DumpConfig::new(DumpFormat::Pcap), &[None], &recs);
    // Cut 5 bytes into the last record's data.
    let cut = &whole[..whole.len() - recs[39].data.len() + 5];
    // An oversized caplen in record 20's header.
    let mut bad = whole.clone();
    let at20 = 24 + recs[..20].iter().map(|r| 16 + r.data.len()).sum::<usize>();
    bad[at20 + 8..at20 + 12].copy_from_slice(&(MAX_CAPLEN + 1).to_le_bytes());
    for (bytes, expect) in [(cut, 39usize), (&bad[..], 20)] {
        let want = read_all(bytes);
        for count in [1, 4] {
            for size in [1, 100, 1000, 1 << 20] {
                let (got, _) = read_by_spans(bytes, count, size);
                assert_eq!(got.0, want.0, "count {count}, size {size}");
                assert_eq!(got.0.len(), expect);
                assert_eq!(
                    got.1.as_ref().map(ToString::to_string),
                    want.1.as_ref().map(ToString::to_string),
                    "the same error at the same offset"
                );
            }
        }
    }
}

#[test]
fn wrong_guesses_in_packets_that_hold_pcap_headers_are_rejected() {
    // Every packet's data is itself a run of plausible pcap records, so a
    // span cut inside one finds a "record" that is not one.
    let inner: Vec<(u32, u32, &[u8], u32)> = (0..6)
        .map(|i| (1_700_000_000 + i, 10, &[0u8; 20][..], 20))
        .collect();
    let fake = hand_pcap(false, false, &inner)[24..].to_vec();
    let outer: Vec<(u32, u32, &[u8], u32)> = (0..30)
        .map(|i| (1_700_000_100 + i, 20, &fake[..], fake.len() as u32))
        .collect();
    let bytes = hand_pcap(false, false, &outer);
    let want = read_all(&bytes);
    assert_eq!(want.0.len(), 30);
    let mut rejections = 0;
    for count in [2, 4, 8] {
        for size in [37, 100, 333, 1000] {
            let (got, rejected) = read_by_spans(&bytes, count, size);
            assert_eq!(got.0, want.0, "count {count}, size {size}");
            assert!(got.1.is_none());
            rejections += rejected;
        }
    }
    assert!(rejections > 0, "the fakes were found and rejected");
}
