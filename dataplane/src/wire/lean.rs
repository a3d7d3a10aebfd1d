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
//! - [`transport_direct`] and [`is_ip_direct`] give the answers of
//!   `transport(network(frame))` and `network(frame).is_ip()`, decided by
//!   selects rather than branches on the frame's kind;
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

/// Reads a big-endian `u64` at `at`, or 0 past the end.
#[inline(always)]
fn be64(b: &[u8], at: usize) -> u64 {
    bytes_at(b, at).map_or(0, u64::from_be_bytes)
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

/// A TPID (0x8100, 0x9100 or 0x88a8), tested without branches.
#[inline(always)]
fn is_tpid(ethertype: u16) -> bool {
    ((ethertype | 0x1000) == 0x9100) | (ethertype == 0x88a8)
}

/// [`is_ext_header`] as a bit test, without branches.
#[inline(always)]
fn is_ext_header_direct(next: u8) -> bool {
    use ipv6::next_header::*;
    const EXT: u64 = 1 << HOP_BY_HOP | 1 << ROUTING | 1 << FRAGMENT | 1 << DEST_OPTS | 1 << AUTH;
    (next < 64) & ((EXT >> (next & 63)) & 1 != 0)
}

/// The network-layer facts of a frame, found with few wide reads and
/// selects rather than branches on the frame's kind. A read that would
/// pass the end of the frame gives 0; every field below is used only
/// under a length check that proves its bytes were there.
struct Probe {
    /// Offset of the IP header (behind up to [`MAX_VLAN_TAGS`] tags).
    l3: usize,
    /// Bytes from `l3` to the end of the frame.
    ip_len: usize,
    /// The first 8 bytes of the IP header: version and IHL, total length
    /// and fragment field (IPv4), payload length and next header (IPv6).
    head: u64,
    v4: bool,
    v6: bool,
}

impl Probe {
    #[inline(always)]
    fn version(&self) -> u8 {
        (self.head >> 60) as u8
    }

    /// IPv4's header length in bytes.
    #[inline(always)]
    fn header_len(&self) -> usize {
        ((self.head >> 54) & 0x3c) as usize
    }

    /// IPv4's total length.
    #[inline(always)]
    fn total(&self) -> usize {
        ((self.head >> 32) & 0xffff) as usize
    }

    /// IPv6's payload length.
    #[inline(always)]
    fn payload_len(&self) -> usize {
        ((self.head >> 16) & 0xffff) as usize
    }

    /// Is the IPv4 header one `network` accepts?
    #[inline(always)]
    fn ok4(&self) -> bool {
        let (header_len, total) = (self.header_len(), self.total());
        self.v4
            & (self.version() == 4)
            & (header_len >= ipv4::HEADER_LEN)
            & (header_len <= self.ip_len)
            & ((total == 0) | (total >= header_len))
    }

    /// Is the IPv6 fixed header one `network` accepts?
    #[inline(always)]
    fn ok6(&self) -> bool {
        self.v6 & (self.ip_len >= ipv6::HEADER_LEN) & (self.version() == 6)
    }
}

#[inline(always)]
fn probe(frame: &[u8]) -> Probe {
    // A frame shorter than 20 bytes has no IP header: reading 0 for bytes
    // 12..20 then (no tag, no IP ethertype) gives `network`'s answer. A
    // tag counts only when its 4 bytes are there; the ethertype always
    // sits in the 2 bytes before the IP header.
    let link = be64(frame, 12);
    let t1 = is_tpid((link >> 48) as u16);
    let t2 = t1 & is_tpid((link >> 16) as u16);
    debug_assert_eq!(MAX_VLAN_TAGS, 2);
    let l3 = ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN * (usize::from(t1) + usize::from(t2));
    let et = be16(frame, l3 - 2);
    Probe {
        l3,
        ip_len: frame.len().saturating_sub(l3),
        head: be64(frame, l3),
        v4: et == ethernet::ethertype::IPV4,
        v6: et == ethernet::ethertype::IPV6,
    }
}

/// `network(frame).is_ip()`, without branches on the frame's kind.
#[inline(always)]
pub(crate) fn is_ip_direct(frame: &[u8]) -> bool {
    let p = probe(frame);
    p.ok4() | p.ok6()
}

/// What [`common`] read of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Common {
    /// Is the frame the common kind? Only then do the other fields hold
    /// anything: `network(frame)` is [`Net::V4`] with these addresses, and
    /// `transport(network(frame))` is `l4`.
    pub(crate) ok: bool,
    /// IPv4 source address.
    pub(crate) src: u32,
    /// IPv4 destination address.
    pub(crate) dst: u32,
    /// Ports and flags.
    pub(crate) l4: L4,
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
/// what the frame is. Cheap enough to run on every frame of a batch and
/// take the general path ([`network`], [`transport_direct`]) only for the
/// frames where [`Common::ok`] is false, so that mixed traffic costs no
/// mispredicted branch per frame.
#[inline(always)]
pub(crate) fn common(frame: &[u8]) -> Common {
    const IP: usize = ethernet::HEADER_LEN;
    const L4: usize = IP + ipv4::HEADER_LEN;
    let h: &[u8; COMMON_LEN] = frame.first_chunk().unwrap_or(&NO_FRAME);
    let word = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
    let quad = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let total = usize::from(word(IP + 2));
    let proto = h[IP + 9];
    let tcp = proto == ipv4::protocol::TCP;
    let udp = proto == ipv4::protocol::UDP;
    // With total ≥ 40 (TCP) or ≥ 28 (UDP) and within the frame, the
    // transport header is whole: `transport` reads the same fields.
    let min_total = select(tcp, 40, 28);
    let ok = (word(12) == ethernet::ethertype::IPV4)
        & (h[IP] == 0x45)
        & (word(IP + 6) & 0x1fff == 0)
        & (tcp | udp)
        & (total >= min_total)
        & (total <= frame.len().wrapping_sub(IP));
    let tcp_ok = tcp & (h[L4 + 12] >> 4 >= 5);
    let has_ports = udp | tcp_ok;
    let ports = quad(L4) & u32::from(has_ports).wrapping_neg();
    Common {
        ok,
        src: quad(IP + 12),
        dst: quad(IP + 16),
        l4: L4 {
            has_ports,
            has_flags: tcp_ok,
            src: (ports >> 16) as u16,
            dst: ports as u16,
            flags: h[L4 + 13] & u8::from(tcp_ok).wrapping_neg(),
        },
    }
}

/// `transport(network(frame))`: [`common`] where it applies, every other
/// frame through [`transport_direct`].
#[inline(always)]
pub(crate) fn transport_fast(frame: &[u8]) -> L4 {
    let c = common(frame);
    if c.ok {
        return c.l4;
    }
    transport_direct(frame)
}

/// `transport(network(frame))`, computed with selects instead of branches
/// on the frame's kind (VLAN tags, IP version, fragment, protocol): offsets
/// are selected first, then each field is read once, so that mixed traffic
/// mispredicts nothing but the rare IPv6 extension-header chain, which
/// takes the walking path.
#[inline(always)]
pub(crate) fn transport_direct(frame: &[u8]) -> L4 {
    let p = probe(frame);
    let (ok4, ok6) = (p.ok4(), p.ok6());
    let header_len = p.header_len();
    let total = p.total();
    let first = p.head & 0x1fff == 0;
    let end4 = select(total == 0, p.ip_len, total.min(p.ip_len));
    let payload_len = p.payload_len();
    let end6 = select(
        payload_len == 0,
        p.ip_len,
        (ipv6::HEADER_LEN + payload_len).min(p.ip_len),
    );
    // The protocol: IPv4's protocol byte (offset 9), IPv6's next header
    // (offset 6, in `head`).
    let proto4 = frame.get(p.l3 + 9).copied().unwrap_or(0);
    let next6 = (p.head >> 8) as u8;
    let proto = select(p.v4, usize::from(proto4), usize::from(next6)) as u8;
    if ok6 & is_ext_header_direct(next6) {
        let payload = frame
            .get(p.l3..)
            .and_then(|ip| ip.get(ipv6::HEADER_LEN..end6))
            .unwrap_or_default();
        return v6_behind_extensions(next6, payload);
    }
    let l4_off = select(p.v4, header_len, ipv6::HEADER_LEN);
    let l4 = p.l3 + l4_off;
    let l4_len = select(p.v4, end4, end6).wrapping_sub(l4_off);
    let valid = (ok4 & first) | ok6;
    // Offset and flags of a TCP header: bytes 12 and 13.
    let tcp_word = be16(frame, l4 + 12);
    let tcp_ok = valid & (proto == ipv4::protocol::TCP) & (l4_len >= 20) & (tcp_word >> 12 >= 5);
    let udp_ok = valid & (proto == ipv4::protocol::UDP) & (l4_len >= 8);
    let has_ports = tcp_ok | udp_ok;
    let ports = be32(frame, l4) & u32::from(has_ports).wrapping_neg();
    L4 {
        has_ports,
        has_flags: tcp_ok,
        src: (ports >> 16) as u16,
        dst: ports as u16,
        flags: (tcp_word as u8) & u8::from(tcp_ok).wrapping_neg(),
    }
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
        prop_assert_eq!(transport_direct(frame), l4, "{:02x?}", frame);
        prop_assert_eq!(transport_fast(frame), l4, "{:02x?}", frame);
        let c = common(frame);
        if c.ok {
            prop_assert_eq!(
                net.l3(),
                L3::V4 {
                    src: c.src,
                    dst: c.dst
                },
                "{:02x?}",
                frame
            );
            prop_assert_eq!(c.l4, l4, "{:02x?}", frame);
        }
        prop_assert_eq!(is_ip_direct(frame), net.is_ip(), "{:02x?}", frame);
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
    fn bit_tests_agree_with_the_matches() {
        for e in 0..=u16::MAX {
            assert_eq!(is_tpid(e), ethernet::is_vlan_tpid(e), "{e:#06x}");
        }
        for n in 0..=u8::MAX {
            assert_eq!(is_ext_header_direct(n), is_ext_header(n), "{n}");
        }
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
