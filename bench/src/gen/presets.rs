//! Ready-made [`GenConfig`]s.
//!
//! | preset | sizes | composition |
//! |---|---|---|
//! | `mix` | realistic bimodal (many 64, many 1518) | ~80/20 IPv4/IPv6; TCP ~70%, UDP ~20%, ICMP ~5%, ARP 1%; 802.1Q 10%, QinQ 2%; fragments 3%; IPv6 extension headers 5%; 0.2% truncated |
//! | `imix` | IMIX 7:4:1 (64/594/1518) | plain: the same protocol shares, no VLANs, fragments, extension headers or truncation |
//! | `small64` | all 64 bytes | plain, like `imix` |
//!
//! The plain presets suit side-by-side comparisons with libpcap, whose
//! `tcp`/`udp` primitives do not look behind IPv6 extension headers.

use super::{GenConfig, SizeMix};

/// The preset names accepted by [`by_name`].
pub const NAMES: &[&str] = &["mix", "imix", "small64"];

/// 2025-01-01T00:00:00Z in ns: where generated captures start.
pub const START_TS_NANOS: u64 = 1_735_689_600_000_000_000;

/// A realistic mix: see the module table.
pub fn mix(seed: u64, packets: u64) -> GenConfig {
    GenConfig {
        seed,
        packets,
        size: SizeMix::Custom(vec![
            (64, 40),
            (128, 8),
            (256, 5),
            (576, 7),
            (1024, 5),
            (1518, 35),
        ]),
        ipv6_fraction: 0.2,
        vlan_fraction: 0.10,
        qinq_fraction: 0.02,
        fragment_fraction: 0.03,
        ipv6_ext_fraction: 0.05,
        arp_fraction: 0.01,
        icmp_fraction: 0.05,
        udp_fraction: 0.19,
        truncate_fraction: 0.002,
        flows: 2000,
        zipf_s: 1.0,
        interfaces: Vec::new(),
        start_ts_nanos: START_TS_NANOS,
        mean_gap_nanos: 10_000,
    }
}

fn plain(seed: u64, packets: u64, size: SizeMix) -> GenConfig {
    GenConfig {
        size,
        vlan_fraction: 0.0,
        qinq_fraction: 0.0,
        fragment_fraction: 0.0,
        ipv6_ext_fraction: 0.0,
        truncate_fraction: 0.0,
        udp_fraction: 0.2,
        ..mix(seed, packets)
    }
}

/// IMIX sizes, plain composition.
pub fn imix(seed: u64, packets: u64) -> GenConfig {
    plain(seed, packets, SizeMix::Imix)
}

/// 64-byte frames (or the minimum the headers need), plain composition.
pub fn small64(seed: u64, packets: u64) -> GenConfig {
    plain(seed, packets, SizeMix::Fixed64)
}

/// The preset called `name` (one of [`NAMES`]).
pub fn by_name(name: &str, seed: u64, packets: u64) -> Option<GenConfig> {
    match name {
        "mix" => Some(mix(seed, packets)),
        "imix" => Some(imix(seed, packets)),
        "small64" => Some(small64(seed, packets)),
        _ => None,
    }
}
