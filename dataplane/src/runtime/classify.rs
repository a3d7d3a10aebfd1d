//! Giving a received packet its interface (`iif`) and direction.
//!
//! A [`Classifier`] is built once from the config's interfaces. For each
//! packet it looks at the port it arrived on and its outer VLAN tag: a rule
//! for that exact (port, VLAN) wins over a rule for the whole port (no
//! VLAN). The matching rule's interface becomes the `iif`, and its direction
//! rule gives the direction: fixed `in`/`out`, `by_mac` (frames addressed to
//! the MAC are `in`, frames sent from it are `out`, others unknown), or
//! unknown. A packet no rule covers has no `iif` and an unknown direction.
//!
//! Classification reads the decoded Ethernet header, so the worker decodes
//! at least to [`Depth::Link`](crate::wire::Depth::Link) when any rule exists.
//! It never allocates.

use crate::expr::{Direction, IfIndex, PacketMeta};
use crate::wire::{ethernet, Decoded};

/// How an interface's packets get their direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectionRule {
    /// Always this direction (`Direction::Unknown` for "unknown").
    Fixed(Direction),
    /// Frames to this MAC are `in`, frames from it are `out`.
    ByMac([u8; 6]),
}

/// One interface as the classifier sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceRule {
    /// Its index in the expression directory (the `iif` value).
    pub iif: IfIndex,
    /// The port whose packets belong to it (a DPDK port id, or the source
    /// stream's port number).
    pub port: u16,
    /// Only packets with this outer VLAN ID; `None`: any packet of the port
    /// that no VLAN-specific rule claims.
    pub vlan: Option<u16>,
    /// Its direction rule.
    pub direction: DirectionRule,
}

/// Maps (port, VLAN, MACs) to [`PacketMeta`]; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    /// Rules per port id; VLAN-specific rules first.
    by_port: Vec<Vec<InterfaceRule>>,
    /// Interface names indexed by `IfIndex.0`.
    names: Vec<String>,
}

impl Classifier {
    /// A classifier over `rules`; `names` are the interface names indexed
    /// by [`IfIndex`] (for dumps and packet logs). Rules for ports above
    /// 4095 are ignored.
    pub fn new(names: Vec<String>, rules: Vec<InterfaceRule>) -> Classifier {
        let mut by_port: Vec<Vec<InterfaceRule>> = Vec::new();
        for rule in rules {
            let port = usize::from(rule.port);
            if port >= 4096 {
                continue;
            }
            if by_port.len() <= port {
                by_port.resize_with(port + 1, Vec::new);
            }
            if let Some(list) = by_port.get_mut(port) {
                list.push(rule);
            }
        }
        for list in &mut by_port {
            // VLAN-specific first; stable, so config order breaks ties.
            list.sort_by_key(|r| r.vlan.is_none());
        }
        Classifier { by_port, names }
    }

    /// `true` when no rule exists (every packet: no `iif`, unknown direction).
    pub fn is_empty(&self) -> bool {
        self.by_port.iter().all(Vec::is_empty)
    }

    /// The interface names indexed by [`IfIndex`].
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The name of interface `iif`, if known.
    pub fn interface_name(&self, iif: IfIndex) -> Option<&str> {
        self.names.get(usize::from(iif.0)).map(String::as_str)
    }

    /// The metadata every packet arriving on `port` gets, when it does not
    /// depend on the frame: the port has no rule (no `iif`, unknown
    /// direction), or its rule covers the whole port (no VLAN-specific rule
    /// before it) with a fixed direction. `None` when VLAN tags or MACs
    /// decide; then [`Classifier::classify_frame`] must look at each frame.
    #[inline]
    pub fn uniform(&self, port: u16) -> Option<PacketMeta> {
        let Some(first) = self.by_port.get(usize::from(port)).and_then(|r| r.first()) else {
            return Some(PacketMeta::default());
        };
        match (first.vlan, first.direction) {
            (None, DirectionRule::Fixed(direction)) => Some(PacketMeta {
                iif: Some(first.iif),
                direction,
            }),
            _ => None,
        }
    }

    /// The metadata of a packet that arrived on `port`, decoded at least to
    /// the link layer.
    #[inline]
    pub fn classify(&self, port: u16, d: &Decoded) -> PacketMeta {
        self.classify_with(port, || d.outer_vlan, || (d.dst_mac, d.src_mac))
    }

    /// The metadata of the frame `frame` that arrived on `port`: the same
    /// answer as [`Classifier::classify`] on
    /// `wire::decode(frame, Depth::Link)`, but reading only the bytes the
    /// port's rules look at (nothing for a port with one fixed-direction
    /// rule, the outer VLAN tag for VLAN rules, the MACs for `by_mac`).
    #[inline]
    pub fn classify_frame(&self, port: u16, frame: &[u8]) -> PacketMeta {
        // As the Ethernet decoder: nothing is read from a frame shorter
        // than its header, and a tag counts when its 4 bytes are there.
        let header = frame.get(..ethernet::HEADER_LEN);
        let outer_vlan = || match (header, frame.get(14..18)) {
            (Some(&[.., t0, t1]), Some(&[a, b, _, _]))
                if ethernet::is_vlan_tpid(u16::from_be_bytes([t0, t1])) =>
            {
                Some(u16::from_be_bytes([a, b]) & 0x0fff)
            }
            _ => None,
        };
        let macs = || {
            let mac = |at: usize| {
                header
                    .and_then(|h| h.get(at..at + 6))
                    .and_then(|m| <[u8; 6]>::try_from(m).ok())
                    .unwrap_or_default()
            };
            (mac(0), mac(6))
        };
        self.classify_with(port, outer_vlan, macs)
    }

    /// The rule lookup, with the outer VLAN ID and the (destination,
    /// source) MACs read on demand.
    #[inline(always)]
    fn classify_with(
        &self,
        port: u16,
        outer_vlan: impl Fn() -> Option<u16>,
        macs: impl FnOnce() -> ([u8; 6], [u8; 6]),
    ) -> PacketMeta {
        let Some(rules) = self.by_port.get(usize::from(port)) else {
            return PacketMeta::default();
        };
        let rule = rules
            .iter()
            .find(|r| r.vlan.is_none() || r.vlan == outer_vlan());
        let Some(rule) = rule else {
            return PacketMeta::default();
        };
        let direction = match rule.direction {
            DirectionRule::Fixed(dir) => dir,
            DirectionRule::ByMac(mac) => {
                let (dst, src) = macs();
                if dst == mac {
                    Direction::In
                } else if src == mac {
                    Direction::Out
                } else {
                    Direction::Unknown
                }
            }
        };
        PacketMeta {
            iif: Some(rule.iif),
            direction,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FW: [u8; 6] = [0, 0x11, 0x22, 0x33, 0x44, 0x55];
    const OTHER: [u8; 6] = [2, 0, 0, 0, 0, 1];

    fn decoded(vlan: Option<u16>, src: [u8; 6], dst: [u8; 6]) -> Decoded {
        Decoded {
            outer_vlan: vlan,
            src_mac: src,
            dst_mac: dst,
            ..Decoded::default()
        }
    }

    /// An Ethernet frame from `src` to `dst`, with an 802.1Q tag when `vlan`.
    fn frame(vlan: Option<u16>, src: [u8; 6], dst: [u8; 6]) -> Vec<u8> {
        let mut f = [dst, src].concat();
        if let Some(id) = vlan {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&(0x2000 | id).to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0x00]);
        f.resize(60, 0);
        f
    }

    fn rules() -> Classifier {
        Classifier::new(
            vec!["Internet".into(), "LAN".into(), "Guest".into()],
            vec![
                InterfaceRule {
                    iif: IfIndex(0),
                    port: 0,
                    vlan: None,
                    direction: DirectionRule::Fixed(Direction::In),
                },
                InterfaceRule {
                    iif: IfIndex(1),
                    port: 1,
                    vlan: None,
                    direction: DirectionRule::ByMac(FW),
                },
                InterfaceRule {
                    iif: IfIndex(2),
                    port: 1,
                    vlan: Some(20),
                    direction: DirectionRule::Fixed(Direction::Unknown),
                },
                InterfaceRule {
                    iif: IfIndex(0),
                    port: 2,
                    vlan: None,
                    direction: DirectionRule::ByMac([0; 6]),
                },
            ],
        )
    }

    proptest::proptest! {
        /// `classify_frame` agrees with `classify` on a link-layer decode,
        /// for frames cut anywhere and edited at random.
        #[test]
        fn frame_reader_agrees_with_decode(
            port in 0u16..4,
            vlan in proptest::option::of(proptest::sample::select(vec![5u16, 20, 0x0fff])),
            tpid in proptest::sample::select(vec![0x8100u16, 0x88a8, 0x9100, 0x0800]),
            mac_src in proptest::sample::select(vec![FW, OTHER]),
            mac_dst in proptest::sample::select(vec![FW, OTHER]),
            cut in 0usize..61,
            edits in proptest::collection::vec((0usize..20, proptest::prelude::any::<u8>()), 0..3),
        ) {
            let mut f = frame(vlan, mac_src, mac_dst);
            if vlan.is_some() {
                f[12..14].copy_from_slice(&tpid.to_be_bytes());
            }
            for (at, b) in edits {
                f[at] = b;
            }
            f.truncate(cut);
            let c = rules();
            let d = crate::wire::decode(&f, crate::wire::Depth::Link);
            proptest::prop_assert_eq!(c.classify_frame(port, &f), c.classify(port, &d), "{:02x?}", f);
            if let Some(meta) = c.uniform(port) {
                proptest::prop_assert_eq!(meta, c.classify_frame(port, &f), "port {}", port);
            }
        }
    }

    #[test]
    fn uniform_only_where_no_frame_byte_decides() {
        let c = rules();
        let internet_in = PacketMeta {
            iif: Some(IfIndex(0)),
            direction: Direction::In,
        };
        // Port 0: one whole-port rule, fixed direction; 1: a VLAN rule and
        // by_mac; 2: by_mac; 3 and 4096: no rule at all.
        assert_eq!(c.uniform(0), Some(internet_in));
        assert_eq!(c.uniform(1), None);
        assert_eq!(c.uniform(2), None);
        assert_eq!(c.uniform(3), Some(PacketMeta::default()));
        assert_eq!(c.uniform(4096), Some(PacketMeta::default()));
    }

    #[test]
    fn port_vlan_and_direction_rules() {
        let c = Classifier::new(
            vec!["Internet".into(), "LAN".into(), "Guest".into()],
            vec![
                InterfaceRule {
                    iif: IfIndex(0),
                    port: 0,
                    vlan: None,
                    direction: DirectionRule::Fixed(Direction::In),
                },
                InterfaceRule {
                    iif: IfIndex(1),
                    port: 1,
                    vlan: None,
                    direction: DirectionRule::ByMac(FW),
                },
                InterfaceRule {
                    iif: IfIndex(2),
                    port: 1,
                    vlan: Some(20),
                    direction: DirectionRule::Fixed(Direction::Unknown),
                },
            ],
        );
        let some = |i: u16, d| PacketMeta {
            iif: Some(IfIndex(i)),
            direction: d,
        };
        // (port, vlan, src, dst, expected)
        let cases = [
            (0, None, OTHER, OTHER, some(0, Direction::In)),
            (0, Some(7), OTHER, OTHER, some(0, Direction::In)),
            (1, None, OTHER, FW, some(1, Direction::In)),
            (1, None, FW, OTHER, some(1, Direction::Out)),
            (1, Some(5), OTHER, OTHER, some(1, Direction::Unknown)),
            (1, Some(20), FW, OTHER, some(2, Direction::Unknown)),
            (2, None, FW, OTHER, PacketMeta::default()),
            (9999, None, FW, OTHER, PacketMeta::default()),
        ];
        for (port, vlan, src, dst, want) in cases {
            assert_eq!(
                c.classify(port, &decoded(vlan, src, dst)),
                want,
                "port {port} vlan {vlan:?}"
            );
        }
        // The frame reader agrees with the decoder on the same cases.
        for (port, vlan, src, dst, want) in cases {
            let frame = frame(vlan, src, dst);
            assert_eq!(
                c.classify_frame(port, &frame),
                want,
                "port {port} vlan {vlan:?}"
            );
        }
        assert_eq!(c.interface_name(IfIndex(2)), Some("Guest"));
        assert_eq!(c.interface_name(IfIndex(3)), None);
        assert!(!c.is_empty());
        assert!(Classifier::default().is_empty());
    }
}
