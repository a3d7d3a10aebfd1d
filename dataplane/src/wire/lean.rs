//! A staged decoder for the matcher's hot path: the same rules as
//! [`decode`](super::decode), cut into a network stage ([`network`]) and a
//! transport stage ([`transport`]) that the matcher runs only when its
//! expression is still undecided, and reading nothing it does not need — no
//! MAC addresses, no VLAN IDs, no offsets, IPv6 addresses only when asked.
//!
//! Promises (tested against [`decode`](super::decode) on random frames):
//! - [`Net::None`] exactly when `decode(frame, Depth::Network).l3` is
//!   [`L3::None`](super::L3::None); [`Net::l3`] equals that `l3` otherwise;
//! - [`transport`] yields the ports and TCP flags `decode(frame,
//!   Depth::Transport)` finds (`has_ports`/`has_flags` false where those
//!   are `None`);
//! - [`transport_fast`] gives the answer of `transport(network(frame))`,
//!   reading the common IPv4 and IPv6 TCP/UDP frames from fixed offsets;
//! - nothing here panics or allocates.
#![forbid(unsafe_code)]

use super::{ethernet, ipv4, ipv6, Fragment, L3, MAX_VLAN_TAGS};

/// The network layer of a frame: which IP version, and the bytes from the
/// IP header to the end of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Net<'a> {
    /// Not IP, or the IP header is truncated or malformed.
    None,
    /// A valid IPv4 header starts `ip` (at least 20 bytes, version 4,
    /// IHL ≥ 5 and within `ip`, total length 0 or not below the header).
    V4(&'a [u8]),
    /// A valid IPv6 fixed header starts `ip` (at least 40 bytes, version 6).
    V6(&'a [u8]),
}

/// The `N` bytes at `at`, or `None` past the end.
#[inline(always)]
fn bytes_at<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Reads a big-endian `u16` at `at`, or 0 past the end.
#[inline(always)]
fn be16(b: &[u8], at: usize) -> u16 {
    bytes_at(b, at).map_or(0, u16::from_be_bytes)
}

/// Reads a big-endian `u32` at `at`, or 0 past the end.
#[inline(always)]
fn be32(b: &[u8], at: usize) -> u32 {
    bytes_at(b, at).map_or(0, u32::from_be_bytes)
}

/// Reads a big-endian `u128` at `at`, or 0 past the end.
#[inline(always)]
fn be128(b: &[u8], at: usize) -> u128 {
    bytes_at(b, at).map_or(0, u128::from_be_bytes)
}

impl<'a> Net<'a> {
    /// Is this an IP packet?
    #[inline(always)]
    pub(crate) fn is_ip(&self) -> bool {
        !matches!(self, Net::None)
    }

    /// The addresses, as [`Decoded::l3`](super::Decoded::l3) has them.
    #[inline(always)]
    pub(crate) fn l3(&self) -> L3 {
        match *self {
            Net::None => L3::None,
            Net::V4(ip) => L3::V4 {
                src: be32(ip, 12),
                dst: be32(ip, 16),
            },
            Net::V6(ip) => L3::V6 {
                src: be128(ip, 8),
                dst: be128(ip, 24),
            },
        }
    }
}

/// Finds and checks the IP header of an Ethernet frame, behind up to
/// [`MAX_VLAN_TAGS`] VLAN tags.
#[inline(always)]
pub(crate) fn network(frame: &[u8]) -> Net<'_> {
    let mut ethertype = be16(frame, 12);
    let mut off = ethernet::HEADER_LEN;
    if frame.len() < off {
        return Net::None;
    }
    if ethernet::is_vlan_tpid(ethertype) {
        (ethertype, off) = skip_vlan_tags(frame, ethertype);
    }
    let Some(ip) = frame.get(off..) else {
        return Net::None;
    };
    match ethertype {
        ethernet::ethertype::IPV4 => {
            let Some(&[ver_ihl, _, t0, t1]) = ip.get(..4) else {
                return Net::None;
            };
            let header_len = usize::from(ver_ihl & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([t0, t1]));
            let ok = (ver_ihl >> 4 == 4)
                & (header_len >= ipv4::HEADER_LEN)
                & (header_len <= ip.len())
                & ((total == 0) | (total >= header_len));
            if ok {
                Net::V4(ip)
            } else {
                Net::None
            }
        }
        ethernet::ethertype::IPV6 => {
            let ok = (ip.len() >= ipv6::HEADER_LEN) & (ip.first().map_or(0, |b| b >> 4) == 6);
            if ok {
                Net::V6(ip)
            } else {
                Net::None
            }
        }
        _ => Net::None,
    }
}

/// Reads the VLAN tags after a frame's first TPID `ethertype`, as
/// [`decode`](super::decode) does: returns the ethertype after them (a TPID
/// if the tags ran out of bytes or exceeded the limit) and the offset of
/// what follows.
#[inline(never)]
fn skip_vlan_tags(frame: &[u8], mut ethertype: u16) -> (u16, usize) {
    let mut off = ethernet::HEADER_LEN;
    let mut tags = 0;
    while ethernet::is_vlan_tpid(ethertype) && tags < MAX_VLAN_TAGS {
        if frame.len() < off + ethernet::VLAN_TAG_LEN {
            break;
        }
        ethertype = be16(frame, off + 2);
        off += ethernet::VLAN_TAG_LEN;
        tags += 1;
    }
    (ethertype, off)
}

/// The transport fields the matcher tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct L4 {
    /// Were ports read?
    pub(crate) has_ports: bool,
    /// Were TCP flags read?
    pub(crate) has_flags: bool,
    /// Source port (0 without ports).
    pub(crate) src: u16,
    /// Destination port (0 without ports).
    pub(crate) dst: u16,
    /// TCP flags (0 without them).
    pub(crate) flags: u8,
}

/// Reads the ports and TCP flags of a packet whose network layer is `net`.
#[inline(always)]
pub(crate) fn transport(net: Net<'_>) -> L4 {
    match net {
        Net::None => L4::default(),
        Net::V4(ip) => {
            // `network` checked: 20 ≤ header_len ≤ ip.len(), total 0 or ≥ header_len.
            let header_len = usize::from(ip.first().map_or(0, |b| b & 0x0f)) * 4;
            let total = usize::from(be16(ip, 2));
            let end = if total == 0 {
                ip.len()
            } else {
                total.min(ip.len())
            };
            let later = be16(ip, 6) & 0x1fff != 0;
            let proto = ip.get(9).copied().unwrap_or(0);
            match ip.get(header_len..end) {
                Some(l4) if !later => ports_and_flags(proto, l4),
                _ => L4::default(),
            }
        }
        Net::V6(ip) => {
            let payload_len = usize::from(be16(ip, 4));
            let end = if payload_len == 0 {
                ip.len()
            } else {
                (ipv6::HEADER_LEN + payload_len).min(ip.len())
            };
            let Some(payload) = ip.get(ipv6::HEADER_LEN..end) else {
                return L4::default();
            };
            let next = ip.get(6).copied().unwrap_or(0);
            if is_ext_header(next) {
                v6_behind_extensions(next, payload)
            } else {
                ports_and_flags(next, payload)
            }
        }
    }
}

/// `a` if `c`, else `b`, computed with arithmetic so that the compiler
/// cannot turn it into a branch.
#[inline(always)]
fn select(c: bool, a: usize, b: usize) -> usize {
    b ^ ((a ^ b) & usize::from(c).wrapping_neg())
}

/// The addresses of an untagged IPv4 frame without options, read from
/// fixed offsets: `Some` exactly when `network(frame)` is such a
/// [`Net::V4`], with its `l3` addresses; `None` for every other frame
/// (which may still be IPv4, tagged or with options).
#[inline(always)]
pub(crate) fn plain_v4_addrs(frame: &[u8]) -> Option<(u32, u32)> {
    const IP: usize = ethernet::HEADER_LEN;
    let h = frame.first_chunk::<{ IP + ipv4::HEADER_LEN }>()?;
    let total = be16(h, IP + 2);
    let plain = (be16(h, 12) == ethernet::ethertype::IPV4)
        & (h[IP] == 0x45)
        & ((total == 0) | (usize::from(total) >= ipv4::HEADER_LEN));
    plain.then(|| (be32(h, IP + 12), be32(h, IP + 16)))
}

/// What [`common`] read of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Common {
    /// Is the frame the common kind? Only then is `l4` what
    /// `transport(network(frame))` gives.
    ok: bool,
    /// Ports and flags.
    l4: L4,
}

/// Bytes [`common`] reads: Ethernet, a 20-byte IPv4 header and a 20-byte
/// TCP header (UDP's 8 bytes lie inside it).
const COMMON_LEN: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN + 20;

/// A frame shorter than [`COMMON_LEN`] is read as these zeros: no IPv4
/// ethertype, so never common.
static NO_FRAME: [u8; COMMON_LEN] = [0; COMMON_LEN];

/// Reads the most common frame — untagged IPv4 without options, not a
/// later fragment, TCP or UDP, its transport header whole inside the
/// frame and the total length — from fixed offsets, without a branch on
/// the frame's kind. (Taking the frames without transport fields here
/// too, ICMP and later fragments, measured slower, and so did returning an
/// `Option`: the test no longer compiled to a few well-predicted
/// branches.)
#[inline(always)]
fn common(frame: &[u8]) -> Common {
    const IP: usize = ethernet::HEADER_LEN;
    const L4: usize = IP + ipv4::HEADER_LEN;
    let h: &[u8; COMMON_LEN] = frame.first_chunk().unwrap_or(&NO_FRAME);
    let total = usize::from(be16(h, IP + 2));
    let proto = h[IP + 9];
    let tcp = proto == ipv4::protocol::TCP;
    let udp = proto == ipv4::protocol::UDP;
    // With total ≥ 40 (TCP) or ≥ 28 (UDP) and within the frame, the
    // transport header is whole: `transport` reads the same fields.
    let min_total = select(tcp, 40, 28);
    let ok = (be16(h, 12) == ethernet::ethertype::IPV4)
        & (h[IP] == 0x45)
        & (be16(h, IP + 6) & 0x1fff == 0)
        & (tcp | udp)
        & (total >= min_total)
        & (total <= frame.len().wrapping_sub(IP));
    let tcp_ok = tcp & (h[L4 + 12] >> 4 >= 5);
    let has_ports = udp | tcp_ok;
    let ports = be32(h, L4) & u32::from(has_ports).wrapping_neg();
    Common {
        ok,
        l4: L4 {
            has_ports,
            has_flags: tcp_ok,
            src: (ports >> 16) as u16,
            dst: ports as u16,
            flags: h[L4 + 13] & u8::from(tcp_ok).wrapping_neg(),
        },
    }
}

/// Bytes [`common6`] reads: Ethernet, the IPv6 fixed header and a 20-byte
/// TCP header.
const COMMON6_LEN: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN + 20;

/// A frame shorter than [`COMMON6_LEN`] is read as these zeros: never
/// common.
static NO_FRAME6: [u8; COMMON6_LEN] = [0; COMMON6_LEN];

/// [`common`] for IPv6: an untagged IPv6 frame whose fixed header is
/// followed directly by TCP or UDP, the transport header whole inside the
/// payload length and the payload inside the frame. `None` for any other
/// frame.
#[inline(always)]
fn common6(frame: &[u8]) -> Option<L4> {
    const IP: usize = ethernet::HEADER_LEN;
    const L4: usize = IP + ipv6::HEADER_LEN;
    let h: &[u8; COMMON6_LEN] = frame.first_chunk().unwrap_or(&NO_FRAME6);
    let next = h[IP + 6];
    let tcp = next == ipv4::protocol::TCP;
    let udp = next == ipv4::protocol::UDP;
    let payload = usize::from(be16(h, IP + 4));
    let ok = (be16(h, 12) == ethernet::ethertype::IPV6)
        & (h[IP] >> 4 == 6)
        & (tcp | udp)
        & (payload >= select(tcp, 20, 8))
        & (payload <= frame.len().wrapping_sub(L4));
    if !ok {
        return None;
    }
    let tcp_ok = tcp & (h[L4 + 12] >> 4 >= 5);
    let has_ports = udp | tcp_ok;
    let keep = u16::from(has_ports).wrapping_neg();
    Some(L4 {
        has_ports,
        has_flags: tcp_ok,
        src: be16(h, L4) & keep,
        dst: be16(h, L4 + 2) & keep,
        flags: h[L4 + 13] & u8::from(tcp_ok).wrapping_neg(),
    })
}

/// `transport(network(frame))`: [`common`] or [`common6`] where they
/// apply (a few well-predicted branches), every other frame through
/// [`network`] and [`transport`].
#[inline(always)]
pub(crate) fn transport_fast(frame: &[u8]) -> L4 {
    let c = common(frame);
    if c.ok {
        return c.l4;
    }
    if let Some(l4) = common6(frame) {
        return l4;
    }
    transport_walk(frame)
}

/// `transport(network(frame))`, out of line, for the frames
/// [`transport_fast`] does not read from fixed offsets: the loops over the
/// common frames stay small (seed examples 1 and 3: 7 % faster).
#[inline(never)]
fn transport_walk(frame: &[u8]) -> L4 {
    transport(network(frame))
}

/// Is `next` an extension header [`ipv6::walk_extension_headers`] walks?
#[inline(always)]
fn is_ext_header(next: u8) -> bool {
    use ipv6::next_header::*;
    matches!(next, HOP_BY_HOP | ROUTING | FRAGMENT | DEST_OPTS | AUTH)
}

#[inline(never)]
fn v6_behind_extensions(first: u8, payload: &[u8]) -> L4 {
    let chain = ipv6::walk_extension_headers(first, payload);
    if chain.fragment == Fragment::Later {
        return L4::default();
    }
    match (chain.protocol, payload.get(chain.offset..)) {
        (Some(proto), Some(l4)) => ports_and_flags(proto, l4),
        _ => L4::default(),
    }
}

/// Ports (TCP with a 20-byte header and data offset ≥ 5, or UDP with 8
/// bytes) and flags (TCP) from the upper-layer header `l4`.
#[inline(always)]
fn ports_and_flags(proto: u8, l4: &[u8]) -> L4 {
    let tcp = proto == ipv4::protocol::TCP;
    let udp = proto == ipv4::protocol::UDP;
    let head = l4.get(..20).unwrap_or(&[]);
    let tcp_ok = tcp & (head.get(12).map_or(0, |b| b >> 4) >= 5);
    let udp_ok = udp & (l4.len() >= 8);
    let has_ports = tcp_ok | udp_ok;
    if !has_ports {
        return L4::default();
    }
    L4 {
        has_ports,
        has_flags: tcp_ok,
        src: be16(l4, 0),
        dst: be16(l4, 2),
        flags: if tcp_ok {
            head.get(13).copied().unwrap_or(0)
        } else {
            0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, Depth};
    use proptest::prelude::*;

    /// Checks the module's promises on one frame.
    fn agrees(frame: &[u8]) -> std::result::Result<(), TestCaseError> {
        let d = decode(frame, Depth::Transport);
        let net = network(frame);
        prop_assert_eq!(net.is_ip(), d.l3 != L3::None, "{:02x?}", frame);
        prop_assert_eq!(net.l3(), d.l3, "{:02x?}", frame);
        let l4 = transport(net);
        prop_assert_eq!(l4.has_ports, d.ports.is_some(), "{:02x?}", frame);
        prop_assert_eq!(
            (l4.src, l4.dst),
            d.ports.unwrap_or((0, 0)),
            "{:02x?}",
            frame
        );
        prop_assert_eq!(l4.has_flags, d.tcp_flags.is_some(), "{:02x?}", frame);
        prop_assert_eq!(l4.flags, d.tcp_flags.unwrap_or(0), "{:02x?}", frame);
        prop_assert_eq!(transport_fast(frame), l4, "{:02x?}", frame);
        if let Some(c6) = common6(frame) {
            prop_assert_eq!(c6, l4, "{:02x?}", frame);
        }
        let c = common(frame);
        if c.ok {
            prop_assert_eq!(c.l4, l4, "{:02x?}", frame);
        }
        if let Some((src, dst)) = plain_v4_addrs(frame) {
            prop_assert_eq!(net.l3(), L3::V4 { src, dst }, "{:02x?}", frame);
        }
        Ok(())
    }

    fn eth(tags: &[u16], ethertype: u16) -> Vec<u8> {
        let mut b = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        for &tpid in tags {
            b.extend_from_slice(&tpid.to_be_bytes());
            b.extend_from_slice(&[0x20, 0x07]);
        }
        b.extend_from_slice(&ethertype.to_be_bytes());
        b
    }

    fn ipv4(proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + payload.len()).unwrap_or(0);
        let mut b = vec![0x45, 0];
        b.extend_from_slice(&total.to_be_bytes());
        b.extend_from_slice(&[0, 1]);
        b.extend_from_slice(&frag.to_be_bytes());
        b.extend_from_slice(&[64, proto, 0, 0, 192, 168, 1, 7, 8, 8, 8, 8]);
        b.extend_from_slice(payload);
        b
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len()).unwrap_or(0);
        let mut b = vec![0x60, 0, 0, 0];
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&[next, 64]);
        b.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        b.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        b.extend_from_slice(payload);
        b
    }

    fn tcp(flags: u8) -> Vec<u8> {
        let mut b = vec![0xc3, 0x50, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags];
        b.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        b
    }

    fn udp() -> Vec<u8> {
        vec![0x00, 0x35, 0x1f, 0x90, 0, 8, 0, 0]
    }

    fn templates() -> Vec<Vec<u8>> {
        let hop_frag_first = {
            let mut p = vec![44, 0, 0, 0, 0, 0, 0, 0];
            p.extend_from_slice(&[6, 0, 0x00, 0x01, 0, 0, 0, 9]);
            p.extend_from_slice(&tcp(0x12));
            p
        };
        vec![
            [eth(&[], 0x0800), ipv4(6, 0x4000, &tcp(0x02))].concat(),
            [eth(&[0x8100], 0x0800), ipv4(17, 0, &udp())].concat(),
            [eth(&[0x88a8, 0x8100], 0x0800), ipv4(17, 0x2000, &udp())].concat(),
            [eth(&[0x88a8, 0x8100, 0x8100], 0x0800), ipv4(6, 0, &tcp(1))].concat(),
            [eth(&[], 0x0800), ipv4(6, 0x0010, &tcp(0x02))].concat(),
            [eth(&[], 0x0800), ipv4(1, 0, &[8, 0, 0, 0])].concat(),
            [eth(&[], 0x86dd), ipv6(6, &tcp(0x10))].concat(),
            [eth(&[0x9100], 0x86dd), ipv6(17, &udp())].concat(),
            [eth(&[], 0x86dd), ipv6(0, &hop_frag_first)].concat(),
            [eth(&[], 0x0806), vec![0; 28]].concat(),
        ]
    }

    #[test]
    fn templates_agree_with_decode_at_every_length() {
        for t in templates() {
            for len in 0..=t.len() {
                agrees(&t[..len]).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn reads_the_fields() {
        let t = templates();
        let l4 = transport(network(&t[0]));
        assert_eq!(
            l4,
            L4 {
                has_ports: true,
                has_flags: true,
                src: 50000,
                dst: 443,
                flags: 0x02
            }
        );
        assert_eq!(
            network(&t[0]).l3(),
            L3::V4 {
                src: 0xc0a8_0107,
                dst: 0x0808_0808
            }
        );
        let l4 = transport(network(&t[1]));
        assert_eq!(
            (l4.has_ports, l4.has_flags, l4.src, l4.dst),
            (true, false, 53, 8080)
        );
        // A third VLAN tag: not decoded.
        assert_eq!(network(&t[3]), Net::None);
        // A later fragment has no ports.
        assert!(network(&t[4]).is_ip());
        assert_eq!(transport(network(&t[4])), L4::default());
        // IPv6 behind hop-by-hop and a first fragment.
        let l4 = transport(network(&t[8]));
        assert_eq!((l4.has_ports, l4.flags), (true, 0x12));
        assert_eq!(network(&t[9]), Net::None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn agrees_with_decode(
            which in 0..10usize,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            cut in any::<prop::sample::Index>(),
            random in proptest::collection::vec(any::<u8>(), 0..120),
            use_random in any::<bool>(),
        ) {
            let frame = if use_random {
                random
            } else {
                let mut f = templates().swap_remove(which);
                for (at, byte) in edits {
                    let i = at.index(f.len());
                    f[i] = byte;
                }
                let keep = cut.index(f.len() + 1);
                f.truncate(keep.max(f.len() / 2));
                f
            };
            agrees(&frame)?;
        }
    }
}
