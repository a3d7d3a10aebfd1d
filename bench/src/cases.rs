//! The matching benchmark's case table, shared by the criterion bench
//! (`benches/matching.rs`) and `ferrocap-bench run matching`.
//!
//! Promises: every case pairs a Kerio expression with a libpcap filter that
//! selects the same packets of [`packets`] (the `mix` preset without IPv6
//! extension headers or truncated frames, all on interface `Internet`,
//! inbound) once the filter is passed through [`with_vlans`]. The benchmark
//! checks this by comparing match counts.
#![forbid(unsafe_code)]

use ferrocap_dataplane::expr::{Direction, Directory, DirectoryError, InterfaceKind, PacketMeta};

use crate::gen::{self, presets, DirectionRule, GenInterface};

/// One matching case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchCase {
    /// Short label for tables.
    pub label: &'static str,
    /// The Kerio expression ferrocap compiles.
    pub kerio: &'static str,
    /// The equivalent BPF filter before [`with_vlans`].
    pub bpf: &'static str,
}

/// BPF for "TCP with SYN set", IPv4 or IPv6 (no extension headers).
const SYN_BPF: &str =
    "(tcp[tcpflags] & tcp-syn != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 2 != 0)";

/// The seed's example expressions plus two common shapes.
pub const CASES: &[MatchCase] = &[
    MatchCase {
        label: "seed1-range",
        kerio: r#"if = "Internet" & (port = 137-139 | port = 445)"#,
        bpf: "(tcp or udp) and (portrange 137-139 or port 445)",
    },
    MatchCase {
        label: "seed2",
        kerio: r#"oif = "Internet" & daddr = 8.8.8.8 & (dport = 80 | dport = 8080)"#,
        bpf: "dst host 8.8.8.8 and (tcp or udp) and (dst port 80 or dst port 8080)",
    },
    MatchCase {
        label: "seed3",
        kerio: "direc = in & tcpfl = SYN",
        bpf: SYN_BPF,
    },
    MatchCase {
        label: "any",
        kerio: "any",
        bpf: "ip or ip6",
    },
    MatchCase {
        label: "subnet-port",
        kerio: "saddr = 192.168.1.0/24 & dport = 443",
        bpf: "src net 192.168.1.0/24 and (tcp or udp) and dst port 443",
    },
];

/// A BPF filter `f` extended to one and two VLAN tags, as libpcap needs.
pub fn with_vlans(f: &str) -> String {
    format!("({f}) or (vlan and (({f}) or (vlan and ({f}))))")
}

/// The directory the cases compile against: interfaces `Internet` and
/// `LAN`, 192.168.1.0/24 routed to `LAN`, everything else to `Internet`.
pub fn directory() -> Result<Directory, DirectoryError> {
    Directory::builder()
        .interface("Internet", InterfaceKind::Ethernet)
        .interface("LAN", InterfaceKind::Ethernet)
        .route("192.168.1.0/24", "LAN")
        .route("0.0.0.0/0", "Internet")
        .route("::/0", "Internet")
        .build()
}

/// The metadata of every benchmark packet: inbound on `Internet`.
pub fn meta(dir: &Directory) -> PacketMeta {
    PacketMeta {
        iif: dir.interface_index("Internet"),
        direction: Direction::In,
    }
}

/// `n` frames of the `mix` preset (seed 42) without IPv6 extension
/// headers or truncation, all on interface `Internet`, inbound.
pub fn packets(n: u64) -> Vec<Vec<u8>> {
    let mut cfg = presets::mix(42, n);
    cfg.ipv6_ext_fraction = 0.0;
    cfg.truncate_fraction = 0.0;
    cfg.interfaces = vec![GenInterface {
        name: "Internet".into(),
        direction: DirectionRule::In,
    }];
    gen::generate(&cfg).map(|p| p.frame).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocap_dataplane::expr::compile;

    #[test]
    fn every_case_compiles_and_matches_some_but_not_all_packets() {
        let dir = directory().unwrap();
        let meta = meta(&dir);
        let pkts = packets(3000);
        assert_eq!(pkts.len(), 3000);
        for c in CASES {
            let m = compile(c.kerio, &dir).unwrap().matcher;
            let n = pkts.iter().filter(|p| m.matches(&meta, p)).count();
            if c.label == "any" {
                // ARP (about 1%) is not IP.
                assert!(n > 2900 && n < 3000, "{}: {n}", c.label);
            } else {
                assert!(n > 0 && n < 3000, "{}: {n}", c.label);
            }
        }
    }

    #[test]
    fn with_vlans_nests_two_tags() {
        assert_eq!(
            with_vlans("ip"),
            "(ip) or (vlan and ((ip) or (vlan and (ip))))"
        );
    }
}
