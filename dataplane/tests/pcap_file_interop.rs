//! Interoperability with an independent implementation of the formats: the
//! `pcap-file` crate reads every kind of dump `DumpWriter` produces, and
//! `CaptureReader` reads the files `pcap-file` writes. Every field of every
//! record must survive the trip: timestamps to the nanosecond where the format
//! holds them, captured and original lengths, bytes, interface names and
//! pcapng direction flags.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::Duration;

use ferrocap_dataplane::pcap::{
    CaptureReader, CaptureRecord, CapturedDirection, DumpConfig, DumpFormat, DumpWriter,
    TsResolution,
};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader, PcapNgWriter};
use pcap_file::{DataLink, Endianness};

/// One packet as the test means it: (ns timestamp, original length, bytes,
/// interface, direction).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pkt {
    ts: u64,
    orig: u32,
    data: Vec<u8>,
    iface: u32,
    dir: Option<CapturedDirection>,
}

/// Deterministic packets of varied sizes (60..1514 bytes, some cut short),
/// on two interfaces, with all three direction states.
fn packets(n: usize) -> Vec<Pkt> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 60 + (x % 1455) as usize;
            let data: Vec<u8> = (0..len).map(|k| (k as u64 ^ x >> 8) as u8).collect();
            let cut = i % 5 == 0;
            Pkt {
                // 2026-11-23 with a sub-microsecond part that only ns keeps.
                ts: 1_795_400_000_000_000_000 + i as u64 * 1_234_567 + x % 1000,
                orig: if cut { len as u32 + 100 } else { len as u32 },
                data,
                iface: (i % 2) as u32,
                dir: match i % 3 {
                    0 => Some(CapturedDirection::Inbound),
                    1 => Some(CapturedDirection::Outbound),
                    _ => None,
                },
            }
        })
        .collect()
}

fn write_ours(path: &Path, cfg: DumpConfig, pkts: &[Pkt]) {
    let mut w = DumpWriter::create(path, cfg).unwrap();
    assert_eq!(w.add_interface(Some("Internet"), 1).unwrap(), 0);
    assert_eq!(w.add_interface(Some("LAN"), 1).unwrap(), 1);
    for p in pkts {
        w.write(&CaptureRecord {
            ts_nanos: p.ts,
            orig_len: p.orig,
            data: &p.data,
            interface: p.iface,
            direction: p.dir,
        })
        .unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn pcap_file_reads_our_pcap_in_both_resolutions() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(500);
    for (res, expect_res, unit) in [
        (
            TsResolution::Micro,
            pcap_file::TsResolution::MicroSecond,
            1000,
        ),
        (TsResolution::Nano, pcap_file::TsResolution::NanoSecond, 1),
    ] {
        let path = dir.path().join(format!("ours-{unit}.pcap"));
        let cfg = DumpConfig {
            pcap_resolution: res,
            ..DumpConfig::new(DumpFormat::Pcap)
        };
        write_ours(&path, cfg, &pkts);
        let mut r = PcapReader::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(r.header().ts_resolution, expect_res);
        assert_eq!(r.header().datalink, DataLink::ETHERNET);
        let mut n = 0;
        while let Some(got) = r.next_packet() {
            let got = got.unwrap();
            let want = &pkts[n];
            let want_ts = want.ts / unit * unit;
            assert_eq!(got.timestamp.as_nanos() as u64, want_ts, "packet {n}");
            assert_eq!(got.orig_len, want.orig, "packet {n}");
            assert_eq!(&got.data[..], &want.data[..], "packet {n}");
            n += 1;
        }
        assert_eq!(n, pkts.len());
    }
}

#[test]
fn pcap_file_reads_our_pcapng_with_names_and_directions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.pcapng");
    let pkts = packets(500);
    write_ours(&path, DumpConfig::new(DumpFormat::Pcapng), &pkts);

    let mut r = PcapNgReader::new(File::open(&path).unwrap()).unwrap();
    let mut names = Vec::new();
    let mut n = 0;
    while let Some(block) = r.next_block() {
        match block.unwrap() {
            Block::InterfaceDescription(idb) => {
                assert_eq!(idb.linktype, DataLink::ETHERNET);
                let name = idb.options.iter().find_map(|o| match o {
                    InterfaceDescriptionOption::IfName(s) => Some(s.to_string()),
                    _ => None,
                });
                // pcap-file takes EPB timestamps as nanoseconds, which is
                // right only because we declare if_tsresol = 9.
                assert!(idb
                    .options
                    .iter()
                    .any(|o| matches!(o, InterfaceDescriptionOption::IfTsResol(9))));
                names.push(name);
            }
            Block::EnhancedPacket(epb) => {
                let want = &pkts[n];
                assert_eq!(epb.interface_id, want.iface, "packet {n}");
                assert_eq!(epb.timestamp.as_nanos() as u64, want.ts, "packet {n}");
                assert_eq!(epb.original_len, want.orig, "packet {n}");
                assert_eq!(&epb.data[..], &want.data[..], "packet {n}");
                let flags = epb.options.iter().find_map(|o| match o {
                    EnhancedPacketOption::Flags(f) => Some(*f),
                    _ => None,
                });
                assert_eq!(
                    flags.and_then(CapturedDirection::from_epb_flags),
                    want.dir,
                    "packet {n}"
                );
                n += 1;
            }
            _ => {}
        }
    }
    assert_eq!(
        names,
        vec![Some("Internet".to_owned()), Some("LAN".to_owned())]
    );
    assert_eq!(n, pkts.len());
}

fn read_ours(path: &Path) -> (Vec<Option<String>>, Vec<Pkt>) {
    let mut r = CaptureReader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push(Pkt {
            ts: rec.ts_nanos,
            orig: rec.orig_len,
            data: rec.data.to_vec(),
            iface: rec.interface,
            dir: rec.direction,
        });
    }
    let names = r.interfaces().iter().map(|i| i.name.clone()).collect();
    (names, out)
}

#[test]
fn we_read_pcap_written_by_pcap_file_in_both_byte_orders_and_resolutions() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(300);
    for endianness in [Endianness::Little, Endianness::Big] {
        for (res, unit) in [
            (pcap_file::TsResolution::MicroSecond, 1000),
            (pcap_file::TsResolution::NanoSecond, 1),
        ] {
            let path = dir
                .path()
                .join(format!("theirs-{endianness:?}-{unit}.pcap"));
            let header = PcapHeader {
                ts_resolution: res,
                endianness,
                ..PcapHeader::default()
            };
            let file = BufWriter::new(File::create(&path).unwrap());
            let mut w = PcapWriter::with_header(file, header).unwrap();
            for p in &pkts {
                let ts = Duration::from_nanos(p.ts / unit * unit);
                w.write_packet(&PcapPacket::new(ts, p.orig, &p.data))
                    .unwrap();
            }
            drop(w.into_writer());
            let (names, got) = read_ours(&path);
            assert_eq!(names, vec![None], "{}", path.display());
            assert_eq!(got.len(), pkts.len());
            for (i, (g, p)) in got.iter().zip(&pkts).enumerate() {
                assert_eq!(g.ts, p.ts / unit * unit, "{endianness:?} {unit} packet {i}");
                assert_eq!(g.orig, p.orig, "packet {i}");
                assert_eq!(g.data, p.data, "packet {i}");
                assert_eq!((g.iface, g.dir), (0, None), "packet {i}");
            }
        }
    }
}

#[test]
fn we_read_pcapng_written_by_pcap_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("theirs.pcapng");
    let pkts = packets(300);
    let file = BufWriter::new(File::create(&path).unwrap());
    let mut w = PcapNgWriter::new(file).unwrap();
    for name in ["Internet", "LAN"] {
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 0,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Borrowed(name)),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        })
        .unwrap();
    }
    for p in &pkts {
        let options = p
            .dir
            .map(|d| vec![EnhancedPacketOption::Flags(d.epb_flags())])
            .unwrap_or_default();
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: p.iface,
            timestamp: Duration::from_nanos(p.ts),
            original_len: p.orig,
            data: Cow::Borrowed(&p.data),
            options,
        })
        .unwrap();
    }
    drop(w.into_inner());
    let (names, got) = read_ours(&path);
    assert_eq!(
        names,
        vec![Some("Internet".to_owned()), Some("LAN".to_owned())]
    );
    assert_eq!(got, pkts);
}
