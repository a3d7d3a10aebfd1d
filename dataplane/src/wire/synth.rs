//! Builds Ethernet frames from a [`Decoded`] summary: the inverse of
//! [`decode`](super::decode) for the fields the matcher reads, so that
//! tests can run the matcher's frame path (`Matcher::matches`,
//! `Matcher::matches_batch`) on the same packets they describe as
//! `Decoded` values.
//!
//! Promises: for the frame `frame(d)`, `decode(frame, Depth::Transport)`
//! has `d`'s VLAN IDs and `l3`; it has `d`'s `ports` when `d.l3` is IP and
//! `d.ports` is `Some` (TCP when `d.tcp_flags` is `Some`, else UDP) and
//! `d.tcp_flags` then; a packet without ports is ICMP or ICMPv6 (an echo
//! request), and a frame with `l3` of [`L3::None`] is ARP. MAC addresses
//! and the checksums are not set. Nothing here panics.
#![forbid(unsafe_code)]

use super::{ethernet, Decoded, L3};

/// The frame for `d` (see the module's promises).
pub fn frame(d: &Decoded) -> Vec<u8> {
    let mut f = Vec::with_capacity(96);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
    let tags: Vec<(u16, u16)> = match (d.outer_vlan, d.inner_vlan) {
        (Some(o), Some(i)) => vec![(0x88a8, o), (0x8100, i)],
        (Some(o), None) => vec![(0x8100, o)],
        (None, Some(i)) => vec![(0x8100, i)],
        (None, None) => Vec::new(),
    };
    for (tpid, id) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(id & 0x0fff).to_be_bytes());
    }
    let l4 = transport(d);
    match d.l3 {
        L3::None => {
            f.extend_from_slice(&ethernet::ethertype::ARP.to_be_bytes());
            // Ethernet/IPv4 ARP request.
            f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
            f.extend_from_slice(&[0; 20]);
        }
        L3::V4 { src, dst } => {
            let proto = l4.protocol(false);
            let body = l4.bytes(false);
            let total = u16::try_from(20 + body.len()).unwrap_or(u16::MAX);
            f.extend_from_slice(&ethernet::ethertype::IPV4.to_be_bytes());
            f.extend_from_slice(&[0x45, 0]);
            f.extend_from_slice(&total.to_be_bytes());
            f.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
            f.extend_from_slice(&src.to_be_bytes());
            f.extend_from_slice(&dst.to_be_bytes());
            f.extend_from_slice(&body);
        }
        L3::V6 { src, dst } => {
            let next = l4.protocol(true);
            let body = l4.bytes(true);
            let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
            f.extend_from_slice(&ethernet::ethertype::IPV6.to_be_bytes());
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&len.to_be_bytes());
            f.extend_from_slice(&[next, 64]);
            f.extend_from_slice(&src.to_be_bytes());
            f.extend_from_slice(&dst.to_be_bytes());
            f.extend_from_slice(&body);
        }
    }
    f
}

/// The transport header [`frame`] writes.
enum Transport {
    Tcp([u8; 20]),
    Udp([u8; 8]),
    Echo,
}

impl Transport {
    /// The IP protocol (IPv4) or next header (IPv6) that carries it.
    fn protocol(&self, v6: bool) -> u8 {
        match self {
            Transport::Tcp(_) => 6,
            Transport::Udp(_) => 17,
            Transport::Echo if v6 => 58,
            Transport::Echo => 1,
        }
    }

    fn bytes(&self, v6: bool) -> Vec<u8> {
        match self {
            Transport::Tcp(h) => h.to_vec(),
            Transport::Udp(h) => h.to_vec(),
            Transport::Echo if v6 => vec![128, 0, 0, 0, 0, 1, 0, 1],
            Transport::Echo => vec![8, 0, 0, 0, 0, 1, 0, 1],
        }
    }
}

fn transport(d: &Decoded) -> Transport {
    let Some((sport, dport)) = d.ports else {
        return Transport::Echo;
    };
    let (s, t) = (sport.to_be_bytes(), dport.to_be_bytes());
    match d.tcp_flags {
        Some(flags) => Transport::Tcp([
            s[0], s[1], t[0], t[1], 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0,
        ]),
        None => Transport::Udp([s[0], s[1], t[0], t[1], 0, 8, 0, 0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, Depth};

    #[test]
    fn decode_reads_back_what_the_frame_was_built_from() {
        let v4 = L3::V4 {
            src: 0xc0a8_010c,
            dst: 0x0808_0808,
        };
        let v6 = L3::V6 {
            src: 0x2001_0db8 << 96 | 1,
            dst: 0xfd00 << 112 | 2,
        };
        let cases = [
            (L3::None, None, None, None, None),
            (v4, Some((53, 22)), Some(0x02), None, None),
            (v4, Some((1024, 53)), None, Some(10), None),
            (v4, None, None, Some(10), Some(20)),
            (v6, Some((443, 50000)), Some(0x12), None, Some(7)),
            (v6, Some((0, 65535)), None, None, None),
            (v6, None, None, None, None),
        ];
        for (l3, ports, tcp_flags, outer_vlan, inner_vlan) in cases {
            let d = Decoded {
                l3,
                ports,
                tcp_flags,
                outer_vlan: outer_vlan.or(inner_vlan),
                inner_vlan: outer_vlan.and(inner_vlan),
                ..Decoded::default()
            };
            let back = decode(&frame(&d), Depth::Transport);
            assert_eq!(back.l3, d.l3, "{d:?}");
            let ip = d.l3 != L3::None;
            assert_eq!(back.ports, d.ports.filter(|_| ip), "{d:?}");
            assert_eq!(
                back.tcp_flags,
                d.tcp_flags.filter(|_| ip && d.ports.is_some()),
                "{d:?}"
            );
            assert_eq!(
                (back.outer_vlan, back.inner_vlan),
                (d.outer_vlan, d.inner_vlan)
            );
        }
    }
}
