//! Generator tests: determinism, composition, frame structure, and tshark
//! reading the output.

use std::process::Command;

use ferrocap_dataplane::pcap::{CaptureReader, DumpConfig, DumpFormat, DumpWriter};

use super::*;

fn write(cfg: &GenConfig, format: DumpFormat) -> Vec<u8> {
    let mut w = DumpWriter::new(Vec::new(), "mem", DumpConfig::new(format)).unwrap();
    for i in &cfg.interfaces {
        w.add_interface(Some(&i.name), 1).unwrap();
    }
    for p in generate(cfg) {
        w.write(&p.as_record()).unwrap();
    }
    w.finish().unwrap()
}

fn with_ifaces(mut cfg: GenConfig) -> GenConfig {
    cfg.interfaces = vec!["Internet:in".parse().unwrap(), "LAN:out".parse().unwrap()];
    cfg
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let a = write(&with_ifaces(presets::mix(7, 3000)), DumpFormat::Pcapng);
    let b = write(&with_ifaces(presets::mix(7, 3000)), DumpFormat::Pcapng);
    let c = write(&with_ifaces(presets::mix(8, 3000)), DumpFormat::Pcapng);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let d = write(&presets::small64(7, 500), DumpFormat::Pcap);
    assert_eq!(d, write(&presets::small64(7, 500), DumpFormat::Pcap));
}

#[test]
fn yields_exactly_the_requested_count_with_rising_timestamps() {
    for n in [0u64, 1, 2, 3, 999] {
        let pkts: Vec<_> = generate(&presets::mix(3, n)).collect();
        assert_eq!(pkts.len() as u64, n);
        assert!(pkts.windows(2).all(|w| w[0].ts_nanos <= w[1].ts_nanos));
        assert!(pkts.iter().all(|p| p.ts_nanos >= presets::START_TS_NANOS));
    }
}

fn composition(cfg: &GenConfig) -> Composition {
    let mut c = Composition::default();
    for p in generate(cfg) {
        c.add(&p);
    }
    c
}

fn near(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.4}, want {want:.4} ± {tol}"
    );
}

#[test]
fn mix_composition_matches_its_fractions_over_10k_packets() {
    let cfg = presets::mix(11, 10_000);
    let c = composition(&cfg);
    assert_eq!(c.packets, 10_000);
    near("arp", c.share(c.arp), 0.01, 0.004);
    let ip = (c.ipv4 + c.ipv6) as f64;
    near("ipv6 of ip", c.ipv6 as f64 / ip, 0.2, 0.02);
    near("vlan", c.share(c.vlan), 0.10, 0.015);
    near("qinq", c.share(c.qinq), 0.02, 0.006);
    near(
        "fragments",
        c.share(c.first_fragments + c.later_fragments),
        0.03,
        0.01,
    );
    near("ipv6 ext", c.share(c.ipv6_ext), 0.05, 0.012);
    near("tcp", c.share(c.tcp), 0.70, 0.03);
    near("udp", c.share(c.udp), 0.20, 0.03);
    near("icmp", c.share(c.icmp), 0.05, 0.015);
    assert!(c.later_fragments >= c.first_fragments);
    assert!(c.truncated > 0 && c.share(c.truncated) < 0.005);
}

#[test]
fn plain_presets_have_no_tags_fragments_or_extensions_and_the_right_sizes() {
    let c = composition(&presets::small64(5, 5000));
    assert_eq!(
        c.vlan + c.qinq + c.first_fragments + c.later_fragments + c.ipv6_ext + c.truncated,
        0
    );
    // Every frame is the 60-byte minimum unless its headers need more
    // (IPv6 TCP with an MSS option: 14 + 40 + 24 = 78), or it is UDP to a
    // port whose messages have a minimum size (DNS, NTP, SSDP, ...).
    for p in generate(&presets::small64(5, 2000)) {
        let max = if p.info.l4 == L4Kind::Udp { 200 } else { 78 };
        assert!(
            p.frame.len() >= 60 && p.frame.len() <= max,
            "{}",
            p.frame.len()
        );
    }
    let mut sizes = std::collections::BTreeMap::new();
    for p in generate(&presets::imix(5, 6000)) {
        if p.info.l4 == L4Kind::Tcp {
            *sizes.entry(p.frame.len()).or_insert(0u32) += 1;
        }
    }
    // IMIX 7:4:1 among TCP frames (sized exactly, apart from SYNs on IPv6).
    let (small, mid, big) = (
        sizes.range(..100).map(|(_, n)| n).sum::<u32>(),
        sizes[&590],
        sizes[&1514],
    );
    near(
        "imix 590/64",
        f64::from(mid) / f64::from(small),
        4.0 / 7.0,
        0.1,
    );
    near(
        "imix 1514/64",
        f64::from(big) / f64::from(small),
        1.0 / 7.0,
        0.05,
    );
}

fn ipv4_checksum_ok(h: &[u8]) -> bool {
    frame::checksum(&h[..20]) == 0
}

/// Skips Ethernet and VLAN tags; returns (ethertype, L3 offset).
fn l3(f: &[u8]) -> (u16, usize) {
    let mut off = 12;
    loop {
        let t = u16::from_be_bytes([f[off], f[off + 1]]);
        if t == 0x8100 || t == 0x88a8 {
            off += 4;
        } else {
            return (t, off + 2);
        }
    }
}

#[test]
fn frames_are_well_formed_and_fragments_line_up() {
    let mut cfg = presets::mix(21, 20_000);
    cfg.truncate_fraction = 0.0;
    let pkts: Vec<_> = generate(&cfg).collect();
    // (l3 proto, id, next expected offset in bytes) of the datagram being followed.
    let mut open: Option<(u16, u32, usize)> = None;
    let mut datagrams_completed = 0;
    for p in &pkts {
        let f = &p.frame;
        assert!(f.len() >= 60);
        assert_eq!(f.len() as u32, p.orig_len);
        let (et, o) = l3(f);
        let (id, off, more, payload) = match et {
            0x0800 => {
                assert!(ipv4_checksum_ok(&f[o..]));
                let total = usize::from(u16::from_be_bytes([f[o + 2], f[o + 3]]));
                assert!(o + total <= f.len());
                let word = u16::from_be_bytes([f[o + 6], f[o + 7]]);
                let id = u32::from(u16::from_be_bytes([f[o + 4], f[o + 5]]));
                (
                    id,
                    usize::from(word & 0x1fff) * 8,
                    word & 0x2000 != 0,
                    total - 20,
                )
            }
            0x86dd => {
                let plen = usize::from(u16::from_be_bytes([f[o + 4], f[o + 5]]));
                assert!(o + 40 + plen <= f.len());
                // Walk the chain looking for a fragment header.
                let (mut nh, mut at) = (f[o + 6], o + 40);
                let mut frag = None;
                while matches!(nh, 0 | 43 | 44 | 51 | 60) {
                    let len = match nh {
                        44 => 8,
                        51 => (usize::from(f[at + 1]) + 2) * 4,
                        _ => (usize::from(f[at + 1]) + 1) * 8,
                    };
                    if nh == 44 {
                        let word = u16::from_be_bytes([f[at + 2], f[at + 3]]);
                        let id = u32::from_be_bytes([f[at + 4], f[at + 5], f[at + 6], f[at + 7]]);
                        frag = Some((
                            id,
                            usize::from(word >> 3) * 8,
                            word & 1 != 0,
                            o + 40 + plen - at - 8,
                        ));
                    }
                    nh = f[at];
                    at += len;
                }
                assert!(matches!(nh, 6 | 17 | 58), "upper protocol {nh}");
                assert_eq!(
                    p.info.ipv6_ext,
                    at > o + 40 + usize::from(frag.is_some()) * 8
                );
                frag.unwrap_or((0, 0, false, 0))
            }
            0x0806 => (0, 0, false, 0),
            t => panic!("ethertype {t:#x}"),
        };
        let is_frag = off > 0 || more;
        assert_eq!(is_frag, p.info.fragment != FragmentPart::Whole);
        if !is_frag {
            continue;
        }
        match open {
            None => assert_eq!(off, 0, "a datagram starts at offset 0"),
            Some((e, i, next)) => {
                assert_eq!((e, i, next), (et, id, off), "fragments arrive in order");
            }
        }
        assert_eq!(p.info.fragment == FragmentPart::First, off == 0);
        if more {
            assert_eq!(payload % 8, 0);
            open = Some((et, id, off + payload));
        } else {
            open = None;
            datagrams_completed += 1;
        }
    }
    assert!(datagrams_completed > 50, "{datagrams_completed}");
}

#[test]
fn flows_keep_their_interface_and_direction() {
    let cfg = with_ifaces(presets::mix(2, 4000));
    let mut seen = [0u32; 2];
    for p in generate(&cfg) {
        let want = [CapturedDirection::Inbound, CapturedDirection::Outbound][p.interface as usize];
        assert_eq!(p.direction, Some(want));
        seen[p.interface as usize] += 1;
    }
    assert!(seen[0] > 500 && seen[1] > 500, "{seen:?}");
    // Without interfaces: interface 0, no direction.
    assert!(generate(&presets::mix(2, 100)).all(|p| p.interface == 0 && p.direction.is_none()));
}

#[test]
fn interface_specs_parse() {
    let table = [
        ("Internet:in", Some(("Internet", DirectionRule::In))),
        ("LAN:OUT", Some(("LAN", DirectionRule::Out))),
        ("DMZ", Some(("DMZ", DirectionRule::Unknown))),
        ("a:b:unknown", Some(("a:b", DirectionRule::Unknown))),
        ("LAN:sideways", None),
        (":in", None),
    ];
    for (text, want) in table {
        let got = text.parse::<GenInterface>().ok();
        assert_eq!(
            got.as_ref().map(|g| (g.name.as_str(), g.direction)),
            want,
            "{text}"
        );
    }
}

#[test]
fn validate_rejects_impossible_settings() {
    assert_eq!(presets::mix(1, 1).validate(), Ok(()));
    let bad = GenConfig {
        udp_fraction: 1.5,
        ..presets::mix(1, 1)
    };
    assert!(matches!(
        bad.validate(),
        Err(GenConfigError::BadFraction {
            name: "udp_fraction",
            ..
        })
    ));
    let bad = GenConfig {
        udp_fraction: 0.9,
        icmp_fraction: 0.2,
        ..presets::mix(1, 1)
    };
    assert!(matches!(
        bad.validate(),
        Err(GenConfigError::Overcommitted { .. })
    ));
    let bad = GenConfig {
        ipv6_ext_fraction: 0.3,
        ..presets::mix(1, 1)
    };
    assert!(matches!(
        bad.validate(),
        Err(GenConfigError::TooManyExtHeaders { .. })
    ));
    let bad = GenConfig {
        flows: 0,
        ..presets::mix(1, 1)
    };
    assert_eq!(bad.validate(), Err(GenConfigError::NoFlows));
}

#[test]
fn our_reader_reads_generated_captures_back() {
    let cfg = with_ifaces(presets::mix(9, 2000));
    let bytes = write(&cfg, DumpFormat::Pcapng);
    let mut r = CaptureReader::new(std::io::Cursor::new(&bytes), "gen").unwrap();
    let mut gen = generate(&cfg);
    while let Some(rec) = r.next_record().unwrap() {
        let p = gen.next().unwrap();
        assert_eq!(rec, p.as_record());
    }
    assert!(gen.next().is_none());
    assert_eq!(r.interfaces()[1].name.as_deref(), Some("LAN"));
}

/// Number of frames of `path` that `filter` selects, or `None` (with a
/// notice) when tshark is not installed.
fn tshark_count(path: &std::path::Path, filter: &str, extra: &[&str]) -> Option<usize> {
    let out = match Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(path)
        .args(extra)
        .args(["-Y", filter])
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
        "tshark -Y {filter:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        out.stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
    )
}

#[test]
fn tshark_reads_a_generated_pcapng() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mix.pcapng");
    let cfg = with_ifaces(presets::mix(5, 6000));
    std::fs::write(&path, write(&cfg, DumpFormat::Pcapng)).unwrap();
    let Some(all) = tshark_count(&path, "frame", &[]) else {
        return;
    };
    assert_eq!(all, 6000);
    let c = composition(&cfg);
    let count = |f: &str| tshark_count(&path, f, &[]).unwrap();
    assert_eq!(count("vlan"), (c.vlan + c.qinq) as usize);
    assert_eq!(count("arp"), c.arp as usize);
    assert!(count("ipv6.fraghdr") > 0);
    assert!(count("ip.flags.mf == 1") > 0);
    assert!(count("ip.frag_offset > 0") > 0);
    assert!(count("ipv6.hopopts") > 0);
    assert!(count("ipv6.routing") > 0);
    assert!(count("ah") > 0);
    assert!(count("tcp.flags == 0x03f") > 0);
    assert!(count("tcp.port == 445") > 0);
    assert!(count("udp.port == 137") > 0);
    assert!(count("ip.src == 192.168.1.10 || ip.dst == 192.168.1.10") > 0);
    assert_eq!(
        count(r#"frame.interface_name == "Internet" && frame.packet_flags_direction == 1"#)
            + count(r#"frame.interface_name == "LAN" && frame.packet_flags_direction == 2"#),
        6000
    );
    // Nothing malformed except frames deliberately cut short.
    assert_eq!(
        count("(_ws.malformed || _ws.expert.severity == error) && frame.cap_len == frame.len"),
        0
    );
    assert_eq!(count("frame.cap_len < frame.len"), c.truncated as usize);
    // Checksums verify when tshark is asked to check them.
    let checks = [
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
    ];
    let bad = "ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0 \
               || icmp.checksum.status == 0 || icmpv6.checksum.status == 0";
    assert_eq!(tshark_count(&path, bad, &checks), Some(0));
    assert!(tshark_count(&path, "tcp.checksum.status == 1", &checks).unwrap() > 1000);
}
