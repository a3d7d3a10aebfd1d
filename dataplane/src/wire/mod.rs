//! Wire formats: zero-copy, checked views over packet bytes.
//!
//! Contract (the smoltcp one): every view has `new_checked`, which is
//! `new_unchecked` plus `check_len`; once `check_len` returns `Ok`, no accessor
//! of that view panics. [`decode`] builds on the views and never panics on
//! any byte sequence — a cargo-fuzz target (`dataplane/fuzz`) proves it.
//!
//! [`decode`] is lazy: it stops at the [`Depth`] the caller asks for, so a
//! matcher that only needs the interface pays nothing, one that needs
//! addresses stops after L3, and only port or flag conditions walk to L4.
#![forbid(unsafe_code)]

use core::fmt;

pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub(crate) mod lean;
pub mod synth;
pub mod tcp;
pub mod udp;

/// The wire parser's only error: the bytes are too short for the header, or
/// a length field in it is impossible. A unit struct, so returning it costs
/// nothing on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("truncated or malformed packet header")
    }
}

impl std::error::Error for Error {}

/// The result type of the wire views.
pub type Result<T> = core::result::Result<T, Error>;

/// Reads a big-endian `u16` at `at`. Callers pass constant field offsets that
/// their view's `check_len` has proven in bounds.
#[inline(always)]
fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

/// Reads a big-endian `u32` at `at`, under the same promise as [`be16`].
#[inline(always)]
fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// The deepest layer [`decode`] must reach. Ordered: `Link < Network < Transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Depth {
    /// Nothing beyond what the capture metadata says (interface, direction).
    Metadata,
    /// Ethernet header and VLAN tags (MAC addresses, ethertype).
    Link,
    /// The IPv4/IPv6 header (addresses, protocol, fragment state); for IPv6
    /// this includes walking the extension-header chain to find the upper
    /// protocol.
    Network,
    /// The TCP/UDP/ICMP header (ports, TCP flags, ICMP type).
    Transport,
}

/// The network-layer addresses of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum L3 {
    /// Not IP (ARP, LLDP, …), not decoded that far, or the IP header was
    /// truncated or malformed.
    #[default]
    None,
    /// IPv4, addresses as host-order integers.
    V4 {
        /// Source address.
        src: u32,
        /// Destination address.
        dst: u32,
    },
    /// IPv6, addresses as host-order integers.
    V6 {
        /// Source address.
        src: u128,
        /// Destination address.
        dst: u128,
    },
}

/// Where a packet sits in a fragmented datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fragment {
    /// Not a fragment (IPv4 MF=0 and offset 0; IPv6 without a fragment header).
    #[default]
    Whole,
    /// The first fragment (offset 0, more fragments follow): the L4 header is here.
    First,
    /// A later fragment (offset > 0): there is no L4 header.
    Later,
}

/// What [`decode`] found, as plain `Copy` data. Fields beyond the requested
/// [`Depth`], or beyond where the bytes ran out, keep their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decoded {
    /// Destination MAC address (zero if the Ethernet header is incomplete).
    pub dst_mac: [u8; 6],
    /// Source MAC address.
    pub src_mac: [u8; 6],
    /// The outer VLAN ID (802.1Q, or the S-tag of QinQ), if tagged.
    pub outer_vlan: Option<u16>,
    /// The inner VLAN ID of a QinQ frame.
    pub inner_vlan: Option<u16>,
    /// The ethertype after all VLAN tags (0 if the Ethernet header is incomplete).
    pub ethertype: u16,
    /// Network-layer addresses.
    pub l3: L3,
    /// The upper-layer protocol number (IPv4 protocol, or the IPv6 next header
    /// after the extension-header chain). `None` when not IP, or when an IPv6
    /// chain was too long or truncated.
    pub ip_proto: Option<u8>,
    /// Fragment state of the IP packet.
    pub fragment: Fragment,
    /// `(source, destination)` ports. Present only for TCP or UDP when the
    /// complete L4 header was read: an unfragmented packet or a first
    /// fragment, with 20+ bytes of TCP header (data offset ≥ 5) or 8 bytes of
    /// UDP header.
    pub ports: Option<(u16, u16)>,
    /// The TCP flags byte (FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10
    /// URG=0x20 …). Present under the same conditions as `ports`, for TCP only.
    pub tcp_flags: Option<u8>,
    /// ICMP or ICMPv6 `(type, code)`, when that header was read.
    pub icmp: Option<(u8, u8)>,
    /// Byte offset of the IP header, if one was found.
    pub l3_offset: Option<u16>,
    /// Byte offset of the L4 header, if one was reached.
    pub l4_offset: Option<u16>,
}

/// TCP flag bits as they appear in [`Decoded::tcp_flags`].
pub mod tcp_flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field significant.
    pub const URG: u8 = 0x20;
    /// The six flags Kerio's `tcpfl` knows.
    pub const ALL: u8 = FIN | SYN | RST | PSH | ACK | URG;
}

/// The most VLAN tags [`decode`] reads; a frame with more keeps the third
/// tag's protocol identifier as its [`Decoded::ethertype`] and is not decoded
/// further.
pub const MAX_VLAN_TAGS: usize = 2;

/// Decodes an Ethernet frame up to `depth`. Never panics; whatever could not
/// be read stays at its default in the result.
///
/// What is filled, by depth (each level includes the ones before):
/// - [`Depth::Metadata`] — nothing;
/// - [`Depth::Link`] — MAC addresses, VLAN IDs (up to [`MAX_VLAN_TAGS`]) and
///   the ethertype;
/// - [`Depth::Network`] — `l3`, `ip_proto`, `fragment` and `l3_offset` for
///   IPv4 (version 4, IHL ≥ 5, header in the frame, total length 0 or not
///   below the header) and IPv6 (version 6, fixed header in the frame, the
///   extension-header chain walked as [`ipv6::walk_extension_headers`] does);
/// - [`Depth::Transport`] — `l4_offset` when the upper-layer header starts in
///   this packet (not a later fragment, protocol known), then `ports` and
///   `tcp_flags` for TCP (20 header bytes, data offset ≥ 5) and `ports` for
///   UDP (8 bytes), and `icmp` for ICMP over IPv4 or ICMPv6 over IPv6
///   (4 bytes). The L4 header must lie within the IP length; Ethernet
///   padding does not count.
#[inline]
pub fn decode(frame: &[u8], depth: Depth) -> Decoded {
    let mut out = Decoded::default();
    if depth >= Depth::Link {
        decode_link(frame, depth, &mut out);
    }
    out
}

#[inline]
fn decode_link(frame: &[u8], depth: Depth, out: &mut Decoded) {
    let Ok(eth) = ethernet::Packet::new_checked(frame) else {
        return;
    };
    out.dst_mac = eth.dst_addr();
    out.src_mac = eth.src_addr();
    let mut ethertype = eth.ethertype();
    let mut rest = eth.payload();
    let mut tags = 0;
    while ethernet::is_vlan_tpid(ethertype) {
        if tags == MAX_VLAN_TAGS {
            break;
        }
        let Ok(tag) = ethernet::VlanTag::new_checked(rest) else {
            break;
        };
        if tags == 0 {
            out.outer_vlan = Some(tag.vlan_id());
        } else {
            out.inner_vlan = Some(tag.vlan_id());
        }
        tags += 1;
        ethertype = tag.ethertype();
        rest = tag.payload();
    }
    out.ethertype = ethertype;
    if depth < Depth::Network {
        return;
    }
    let l3_offset = ethernet::HEADER_LEN + tags * ethernet::VLAN_TAG_LEN;
    match ethertype {
        ethernet::ethertype::IPV4 => decode_ipv4(rest, l3_offset, depth, out),
        ethernet::ethertype::IPV6 => decode_ipv6(rest, l3_offset, depth, out),
        _ => {}
    }
}

#[inline]
fn decode_ipv4(bytes: &[u8], l3_offset: usize, depth: Depth, out: &mut Decoded) {
    let Ok(ip) = ipv4::Packet::new_checked(bytes) else {
        return;
    };
    if ip.version() != 4 {
        return;
    }
    out.l3 = L3::V4 {
        src: ip.src_addr(),
        dst: ip.dst_addr(),
    };
    let proto = ip.protocol();
    out.ip_proto = Some(proto);
    out.fragment = ip.fragment();
    // At most 22 in practice; `ok()` keeps the type honest.
    out.l3_offset = u16::try_from(l3_offset).ok();
    if depth < Depth::Transport || out.fragment == Fragment::Later {
        return;
    }
    let l4_offset = l3_offset + usize::from(ip.header_len());
    decode_l4(ip.payload(), proto, ipv4::protocol::ICMP, l4_offset, out);
}

#[inline]
fn decode_ipv6(bytes: &[u8], l3_offset: usize, depth: Depth, out: &mut Decoded) {
    let Ok(ip) = ipv6::Packet::new_checked(bytes) else {
        return;
    };
    if ip.version() != 6 {
        return;
    }
    out.l3 = L3::V6 {
        src: ip.src_addr(),
        dst: ip.dst_addr(),
    };
    out.l3_offset = u16::try_from(l3_offset).ok();
    let payload = ip.payload();
    let chain = ipv6::walk_extension_headers(ip.next_header(), payload);
    out.ip_proto = chain.protocol;
    out.fragment = chain.fragment;
    if depth < Depth::Transport || chain.fragment == Fragment::Later {
        return;
    }
    let (Some(proto), Some(l4)) = (chain.protocol, payload.get(chain.offset..)) else {
        return;
    };
    let l4_offset = l3_offset + ipv6::HEADER_LEN + chain.offset;
    decode_l4(l4, proto, ipv6::next_header::ICMPV6, l4_offset, out);
}

#[inline]
fn decode_l4(bytes: &[u8], proto: u8, icmp_proto: u8, l4_offset: usize, out: &mut Decoded) {
    out.l4_offset = u16::try_from(l4_offset).ok();
    match proto {
        ipv4::protocol::TCP => {
            if let Ok(tcp) = tcp::Packet::new_checked(bytes) {
                out.ports = Some((tcp.src_port(), tcp.dst_port()));
                out.tcp_flags = Some(tcp.flags());
            }
        }
        ipv4::protocol::UDP => {
            if let Ok(udp) = udp::Packet::new_checked(bytes) {
                out.ports = Some((udp.src_port(), udp.dst_port()));
            }
        }
        p if p == icmp_proto => {
            if let Ok(icmp) = icmp::Packet::new_checked(bytes) {
                out.icmp = Some((icmp.msg_type(), icmp.msg_code()));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
    const V4_SRC: u32 = 0xc0a8_0101; // 192.168.1.1
    const V4_DST: u32 = 0x0a00_0002; // 10.0.0.2
    const V6_SRC: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0001;
    const V6_DST: u128 = 0xfe80_0000_0000_0000_0000_0000_0000_0099;

    /// An Ethernet header with the given `(TPID, VID)` tags, then `ethertype`.
    fn eth(tags: &[(u16, u16)], ethertype: u16) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&DST_MAC);
        bytes.extend_from_slice(&SRC_MAC);
        for &(tpid, vid) in tags {
            bytes.extend_from_slice(&tpid.to_be_bytes());
            bytes.extend_from_slice(&(0x2000 | vid).to_be_bytes());
        }
        bytes.extend_from_slice(&ethertype.to_be_bytes());
        bytes
    }

    /// An IPv4 header (total length covering `payload`) and `payload`.
    fn ipv4(proto: u8, flags_offset: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
        assert_eq!(options.len() % 4, 0);
        let header_len = 20 + options.len();
        let total = u16::try_from(header_len + payload.len()).unwrap();
        let mut bytes = vec![0x40 | u8::try_from(header_len / 4).unwrap(), 0];
        bytes.extend_from_slice(&total.to_be_bytes());
        bytes.extend_from_slice(&[0x12, 0x34]);
        bytes.extend_from_slice(&flags_offset.to_be_bytes());
        bytes.extend_from_slice(&[64, proto, 0, 0]);
        bytes.extend_from_slice(&V4_SRC.to_be_bytes());
        bytes.extend_from_slice(&V4_DST.to_be_bytes());
        bytes.extend_from_slice(options);
        bytes.extend_from_slice(payload);
        bytes
    }

    /// An IPv6 fixed header (payload length covering `payload`) and `payload`.
    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x60, 0, 0, 0];
        bytes.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(&[next, 64]);
        bytes.extend_from_slice(&V6_SRC.to_be_bytes());
        bytes.extend_from_slice(&V6_DST.to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    /// A 20-byte TCP header.
    fn tcp(src: u16, dst: u16, flags: u8) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.to_be_bytes());
        bytes.extend_from_slice(&dst.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        bytes
    }

    /// An 8-byte UDP header and `payload`.
    fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.to_be_bytes());
        bytes.extend_from_slice(&dst.to_be_bytes());
        bytes.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(payload);
        bytes
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn v4_tcp_frame() -> Vec<u8> {
        let l4 = tcp(51000, 443, tcp_flags::SYN | tcp_flags::ACK);
        cat(&[&eth(&[], 0x0800), &ipv4(6, 0x4000, &[], &l4)])
    }

    const V4: L3 = L3::V4 {
        src: V4_SRC,
        dst: V4_DST,
    };
    const V6: L3 = L3::V6 {
        src: V6_SRC,
        dst: V6_DST,
    };

    #[test]
    fn plain_ipv4_tcp() {
        let got = decode(&v4_tcp_frame(), Depth::Transport);
        assert_eq!(
            got,
            Decoded {
                dst_mac: DST_MAC,
                src_mac: SRC_MAC,
                outer_vlan: None,
                inner_vlan: None,
                ethertype: 0x0800,
                l3: V4,
                ip_proto: Some(6),
                fragment: Fragment::Whole,
                ports: Some((51000, 443)),
                tcp_flags: Some(0x12),
                icmp: None,
                l3_offset: Some(14),
                l4_offset: Some(34),
            }
        );
    }

    #[test]
    fn each_depth_stops_where_promised() {
        let frame = v4_tcp_frame();
        let link = Decoded {
            dst_mac: DST_MAC,
            src_mac: SRC_MAC,
            ethertype: 0x0800,
            ..Decoded::default()
        };
        let network = Decoded {
            l3: V4,
            ip_proto: Some(6),
            l3_offset: Some(14),
            ..link
        };
        let transport = Decoded {
            ports: Some((51000, 443)),
            tcp_flags: Some(0x12),
            l4_offset: Some(34),
            ..network
        };
        let cases = [
            (Depth::Metadata, Decoded::default()),
            (Depth::Link, link),
            (Depth::Network, network),
            (Depth::Transport, transport),
        ];
        for (depth, expected) in cases {
            assert_eq!(decode(&frame, depth), expected, "{depth:?}");
        }
    }

    #[test]
    fn depth_levels_are_ordered() {
        assert!(Depth::Metadata < Depth::Link);
        assert!(Depth::Link < Depth::Network);
        assert!(Depth::Network < Depth::Transport);
    }

    #[test]
    fn ipv4_with_options() {
        let options = [0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00];
        let frame = cat(&[
            &eth(&[], 0x0800),
            &ipv4(6, 0, &options, &tcp(1, 2, tcp_flags::FIN)),
        ]);
        let got = decode(&frame, Depth::Transport);
        assert_eq!(got.l3, V4);
        assert_eq!(got.l4_offset, Some(42));
        assert_eq!(got.ports, Some((1, 2)));
        assert_eq!(got.tcp_flags, Some(tcp_flags::FIN));
    }

    #[test]
    fn ipv4_fragments() {
        let l4 = tcp(1000, 80, tcp_flags::PSH);
        // (flags/offset, fragment, ports, l4_offset)
        let cases = [
            (0x2000, Fragment::First, Some((1000, 80)), Some(34)),
            (0x2000 | 185, Fragment::Later, None, None),
            (185, Fragment::Later, None, None),
        ];
        for (word, fragment, ports, l4_offset) in cases {
            let frame = cat(&[&eth(&[], 0x0800), &ipv4(6, word, &[], &l4)]);
            let got = decode(&frame, Depth::Transport);
            assert_eq!(got.l3, V4, "{word:#06x}");
            assert_eq!(got.ip_proto, Some(6), "{word:#06x}");
            assert_eq!(got.fragment, fragment, "{word:#06x}");
            assert_eq!(got.ports, ports, "{word:#06x}");
            assert_eq!(got.tcp_flags, ports.map(|_| tcp_flags::PSH), "{word:#06x}");
            assert_eq!(got.l4_offset, l4_offset, "{word:#06x}");
        }
    }

    #[test]
    fn tcp_header_must_be_complete_for_ports() {
        let full = tcp(1000, 80, tcp_flags::ACK);
        let mut small_offset = full.clone();
        small_offset[12] = 0x40;
        let mut big_offset = full.clone();
        big_offset[12] = 0xf0;
        // (L4 bytes, ports expected)
        let cases: [(&[u8], bool); 5] = [
            (&full, true),
            (&full[..19], false),
            (&full[..4], false),
            (&small_offset, false),
            // Data offset 15 but only 20 bytes: the fixed header is enough.
            (&big_offset, true),
        ];
        for (l4, ports) in cases {
            let frame = cat(&[&eth(&[], 0x0800), &ipv4(6, 0, &[], l4)]);
            let got = decode(&frame, Depth::Transport);
            assert_eq!(got.ip_proto, Some(6));
            assert_eq!(got.l4_offset, Some(34));
            assert_eq!(got.ports.is_some(), ports, "{l4:02x?}");
            assert_eq!(got.tcp_flags.is_some(), ports, "{l4:02x?}");
        }
    }

    #[test]
    fn ethernet_padding_is_not_an_l4_header() {
        // IPv4 total length covers 4 bytes of UDP; the frame is padded with
        // zeros up to 60 bytes, which must not be read as the rest.
        let mut frame = cat(&[&eth(&[], 0x0800), &ipv4(17, 0, &[], &[0, 53, 0, 53])]);
        frame.resize(60, 0);
        let got = decode(&frame, Depth::Transport);
        assert_eq!(got.ip_proto, Some(17));
        assert_eq!(got.ports, None);

        // Padding after a complete datagram changes nothing.
        let mut frame = cat(&[&eth(&[], 0x0800), &ipv4(17, 0, &[], &udp(68, 67, &[]))]);
        frame.resize(60, 0);
        assert_eq!(decode(&frame, Depth::Transport).ports, Some((68, 67)));
    }

    #[test]
    fn udp_and_icmp() {
        let cases = [
            (
                ipv4(17, 0, &[], &udp(5353, 53, b"q")),
                Some((5353, 53)),
                None,
            ),
            (ipv4(17, 0, &[], &[0; 7]), None, None),
            (
                ipv4(1, 0, &[], &[8, 0, 0xf7, 0xff, 0, 0, 0, 0]),
                None,
                Some((8, 0)),
            ),
            (ipv4(1, 0, &[], &[3, 3, 0]), None, None),
            // ICMPv6's number over IPv4 is not ICMP.
            (ipv4(58, 0, &[], &[128, 0, 0, 0]), None, None),
        ];
        for (ip, ports, icmp) in cases {
            let frame = cat(&[&eth(&[], 0x0800), &ip]);
            let got = decode(&frame, Depth::Transport);
            assert_eq!(got.ports, ports, "{ip:02x?}");
            assert_eq!(got.icmp, icmp, "{ip:02x?}");
            assert_eq!(got.tcp_flags, None, "{ip:02x?}");
        }
    }

    #[test]
    fn arp_is_not_ip() {
        let mut frame = eth(&[], 0x0806);
        frame.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        frame.extend_from_slice(&[0; 20]);
        let got = decode(&frame, Depth::Transport);
        assert_eq!(got.ethertype, 0x0806);
        assert_eq!(got.src_mac, SRC_MAC);
        assert_eq!(got.l3, L3::None);
        assert_eq!(got.ip_proto, None);
        assert_eq!(got.l3_offset, None);
        assert_eq!(got.l4_offset, None);
    }

    #[test]
    fn vlan_tags() {
        let l3 = ipv4(17, 0, &[], &udp(1, 2, &[]));
        // (tags, outer, inner, ethertype, l3_offset)
        let cases = [
            (
                &[(0x8100u16, 100u16)][..],
                Some(100),
                None,
                0x0800,
                Some(18),
            ),
            (
                &[(0x88a8, 10), (0x8100, 20)],
                Some(10),
                Some(20),
                0x0800,
                Some(22),
            ),
            (
                &[(0x9100, 4094), (0x8100, 1)],
                Some(4094),
                Some(1),
                0x0800,
                Some(22),
            ),
            (
                &[(0x8100, 5), (0x8100, 6)],
                Some(5),
                Some(6),
                0x0800,
                Some(22),
            ),
            (&[(0x8100, 0)], Some(0), None, 0x0800, Some(18)),
            // A third tag stops the decoder at its TPID.
            (
                &[(0x88a8, 1), (0x8100, 2), (0x8100, 3)],
                Some(1),
                Some(2),
                0x8100,
                None,
            ),
        ];
        for (tags, outer, inner, ethertype, l3_offset) in cases {
            let frame = cat(&[&eth(tags, 0x0800), &l3]);
            let got = decode(&frame, Depth::Transport);
            assert_eq!(got.outer_vlan, outer, "{tags:?}");
            assert_eq!(got.inner_vlan, inner, "{tags:?}");
            assert_eq!(got.ethertype, ethertype, "{tags:?}");
            assert_eq!(got.l3_offset, l3_offset, "{tags:?}");
            let ports = l3_offset.map(|_| (1, 2));
            assert_eq!(got.ports, ports, "{tags:?}");
        }
    }

    #[test]
    fn truncated_vlan_tag() {
        let frame = cat(&[&eth(&[], 0x8100), &[0x00, 0x64, 0x08]]);
        let got = decode(&frame, Depth::Transport);
        assert_eq!(got.src_mac, SRC_MAC);
        assert_eq!(got.outer_vlan, None);
        assert_eq!(got.ethertype, 0x8100);
        assert_eq!(got.l3, L3::None);
    }

    #[test]
    fn undecodable_ipv4_headers() {
        let good = ipv4(6, 0, &[], &tcp(1, 2, 0));
        let mut version6 = good.clone();
        version6[0] = 0x65;
        let mut ihl4 = good.clone();
        ihl4[0] = 0x44;
        let mut ihl15 = good.clone();
        ihl15[0] = 0x4f;
        ihl15.truncate(40);
        let mut total_short = good.clone();
        total_short[2..4].copy_from_slice(&19u16.to_be_bytes());
        let cases: [&[u8]; 5] = [&version6, &ihl4, &ihl15, &total_short, &good[..19]];
        for ip in cases {
            let frame = cat(&[&eth(&[], 0x0800), ip]);
            let got = decode(&frame, Depth::Transport);
            assert_eq!(got.ethertype, 0x0800);
            assert_eq!(
                got,
                Decoded {
                    dst_mac: DST_MAC,
                    src_mac: SRC_MAC,
                    ethertype: 0x0800,
                    ..Decoded::default()
                },
                "{ip:02x?}"
            );
        }
    }

    #[test]
    fn ipv4_total_length_zero_uses_the_frame() {
        let mut ip = ipv4(17, 0, &[], &udp(7, 9, &[]));
        ip[2..4].copy_from_slice(&[0, 0]);
        let frame = cat(&[&eth(&[], 0x0800), &ip]);
        assert_eq!(decode(&frame, Depth::Transport).ports, Some((7, 9)));
    }

    #[test]
    fn ipv6_tcp() {
        let frame = cat(&[
            &eth(&[(0x8100, 7)], 0x86dd),
            &ipv6(6, &tcp(40000, 22, tcp_flags::SYN)),
        ]);
        let got = decode(&frame, Depth::Transport);
        assert_eq!(
            got,
            Decoded {
                dst_mac: DST_MAC,
                src_mac: SRC_MAC,
                outer_vlan: Some(7),
                inner_vlan: None,
                ethertype: 0x86dd,
                l3: V6,
                ip_proto: Some(6),
                fragment: Fragment::Whole,
                ports: Some((40000, 22)),
                tcp_flags: Some(tcp_flags::SYN),
                icmp: None,
                l3_offset: Some(18),
                l4_offset: Some(58),
            }
        );
    }

    /// Hop-by-hop (8) → destination options (16) → routing (24) → fragment
    /// (8, first) → AH (16) → UDP.
    fn v6_chain_to_udp() -> Vec<u8> {
        let mut chain = Vec::new();
        chain.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        chain.extend_from_slice(&[43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut routing = vec![44, 2, 0, 0, 0, 0, 0, 0];
        routing.resize(24, 0);
        chain.extend_from_slice(&routing);
        chain.extend_from_slice(&[51, 0, 0x00, 0x01, 0xca, 0xfe, 0xf0, 0x0d]);
        let mut ah = vec![17, 2, 0, 0, 0, 0, 0x10, 0x01];
        ah.resize(16, 0xaa);
        chain.extend_from_slice(&ah);
        chain.extend_from_slice(&udp(500, 4500, b"ike"));
        cat(&[&eth(&[], 0x86dd), &ipv6(0, &chain)])
    }

    #[test]
    fn ipv6_extension_chain_to_udp() {
        let got = decode(&v6_chain_to_udp(), Depth::Transport);
        assert_eq!(got.l3, V6);
        assert_eq!(got.ip_proto, Some(17));
        assert_eq!(got.fragment, Fragment::First);
        assert_eq!(got.l3_offset, Some(14));
        assert_eq!(got.l4_offset, Some(14 + 40 + 72));
        assert_eq!(got.ports, Some((500, 4500)));
    }

    #[test]
    fn ipv6_later_fragment() {
        let payload = cat(&[&[6, 0, 0x05, 0xc9, 0, 0, 0, 1], &tcp(1, 2, 0)]);
        let frame = cat(&[&eth(&[], 0x86dd), &ipv6(44, &payload)]);
        let got = decode(&frame, Depth::Transport);
        assert_eq!(got.l3, V6);
        assert_eq!(got.ip_proto, Some(6));
        assert_eq!(got.fragment, Fragment::Later);
        assert_eq!(got.ports, None);
        assert_eq!(got.tcp_flags, None);
        assert_eq!(got.l4_offset, None);
    }

    #[test]
    fn ipv6_chain_over_the_bound_or_truncated() {
        let over_bound = {
            let mut chain = Vec::new();
            for _ in 0..ipv6::MAX_EXT_HEADERS {
                chain.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
            }
            chain.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 0]);
            chain.extend_from_slice(&tcp(1, 2, 0));
            chain
        };
        let truncated = [17u8, 3, 0, 0, 0, 0, 0, 0];
        let cases: [&[u8]; 3] = [&over_bound, &truncated, &[]];
        for payload in cases {
            let frame = cat(&[&eth(&[], 0x86dd), &ipv6(60, payload)]);
            let got = decode(&frame, Depth::Transport);
            assert_eq!(got.l3, V6, "{payload:02x?}");
            assert_eq!(got.l3_offset, Some(14), "{payload:02x?}");
            assert_eq!(got.ip_proto, None, "{payload:02x?}");
            assert_eq!(got.ports, None, "{payload:02x?}");
            assert_eq!(got.l4_offset, None, "{payload:02x?}");
        }
    }

    #[test]
    fn ipv6_icmp_and_esp() {
        let cases = [
            (
                ipv6(58, &[135, 0, 0x12, 0x34, 0, 0, 0, 0]),
                Some(58),
                Some((135, 0)),
            ),
            (ipv6(58, &[1, 4, 0]), Some(58), None),
            // ICMP's IPv4 number over IPv6 is not ICMPv6.
            (ipv6(1, &[8, 0, 0, 0]), Some(1), None),
            (ipv6(50, &[0, 0, 1, 0, 0, 0, 0, 1]), Some(50), None),
        ];
        for (ip, proto, icmp) in cases {
            let frame = cat(&[&eth(&[], 0x86dd), &ip]);
            let got = decode(&frame, Depth::Transport);
            assert_eq!(got.ip_proto, proto, "{ip:02x?}");
            assert_eq!(got.icmp, icmp, "{ip:02x?}");
            assert_eq!(got.ports, None, "{ip:02x?}");
        }
    }

    #[test]
    fn undecodable_ipv6_headers() {
        let good = ipv6(17, &udp(1, 2, &[]));
        let mut version4 = good.clone();
        version4[0] = 0x45;
        let cases: [&[u8]; 2] = [&version4, &good[..39]];
        for ip in cases {
            let frame = cat(&[&eth(&[], 0x86dd), ip]);
            let got = decode(&frame, Depth::Transport);
            assert_eq!(got.ethertype, 0x86dd);
            assert_eq!(got.l3, L3::None);
            assert_eq!(got.ip_proto, None);
            assert_eq!(got.l3_offset, None);
        }
    }

    #[test]
    fn short_frames_decode_to_nothing() {
        let frame = v4_tcp_frame();
        for len in [0, 1, 6, 13] {
            for depth in [Depth::Link, Depth::Network, Depth::Transport] {
                assert_eq!(
                    decode(&frame[..len], depth),
                    Decoded::default(),
                    "{len} {depth:?}"
                );
            }
        }
        // 14 bytes: the link layer, nothing more.
        let got = decode(&frame[..14], Depth::Transport);
        assert_eq!(got.ethertype, 0x0800);
        assert_eq!(got.l3, L3::None);
    }

    #[test]
    fn error_displays_and_is_a_std_error() {
        assert_eq!(Error.to_string(), "truncated or malformed packet header");
        let boxed: Box<dyn std::error::Error> = Box::new(Error);
        assert!(boxed.source().is_none());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn templates() -> Vec<Vec<u8>> {
            vec![
                v4_tcp_frame(),
                v6_chain_to_udp(),
                cat(&[
                    &eth(&[(0x88a8, 1), (0x8100, 2)], 0x0800),
                    &ipv4(17, 0x2000, &[1, 1, 1, 0], &udp(1, 2, b"x")),
                ]),
                cat(&[
                    &eth(&[], 0x86dd),
                    &ipv6(44, &[58, 0, 0, 1, 0, 0, 0, 1, 128, 0, 0, 0]),
                ]),
                cat(&[&eth(&[], 0x0800), &ipv4(1, 0, &[], &[0, 0, 0, 0])]),
            ]
        }

        /// A template frame with some bytes overwritten and maybe cut short,
        /// or plain random bytes.
        fn frames() -> impl Strategy<Value = Vec<u8>> {
            let mutated = (
                0..templates().len(),
                proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
                any::<prop::sample::Index>(),
            )
                .prop_map(|(which, edits, cut)| {
                    let mut frame = templates().swap_remove(which);
                    for (at, byte) in edits {
                        let i = at.index(frame.len());
                        frame[i] = byte;
                    }
                    let keep = cut.index(frame.len() + 1);
                    frame.truncate(keep.max(frame.len() / 2));
                    frame
                });
            prop_oneof![mutated, proptest::collection::vec(any::<u8>(), 0..200)]
        }

        fn link_fields(d: &Decoded) -> ([u8; 6], [u8; 6], Option<u16>, Option<u16>, u16) {
            (
                d.dst_mac,
                d.src_mac,
                d.outer_vlan,
                d.inner_vlan,
                d.ethertype,
            )
        }

        fn network_fields(d: &Decoded) -> (L3, Option<u8>, Fragment, Option<u16>) {
            (d.l3, d.ip_proto, d.fragment, d.l3_offset)
        }

        proptest! {
            #[test]
            fn never_panics_and_depths_agree(frame in frames()) {
                let link = decode(&frame, Depth::Link);
                let network = decode(&frame, Depth::Network);
                let transport = decode(&frame, Depth::Transport);
                prop_assert_eq!(decode(&frame, Depth::Metadata), Decoded::default());

                prop_assert_eq!(link_fields(&link), link_fields(&network));
                prop_assert_eq!(link_fields(&network), link_fields(&transport));
                prop_assert_eq!(network_fields(&network), network_fields(&transport));
                prop_assert_eq!(network_fields(&link), network_fields(&Decoded::default()));
                prop_assert_eq!(network.ports, None);
                prop_assert_eq!(network.l4_offset, None);

                // Transport-level invariants.
                if transport.ports.is_some() {
                    prop_assert!(matches!(transport.ip_proto, Some(6 | 17)));
                    prop_assert!(transport.fragment != Fragment::Later);
                }
                if transport.tcp_flags.is_some() {
                    prop_assert_eq!(transport.ip_proto, Some(6));
                    prop_assert!(transport.ports.is_some());
                }
                if let Some(offset) = transport.l4_offset {
                    prop_assert!(usize::from(offset) <= frame.len());
                    prop_assert!(transport.l3_offset.is_some_and(|l3| l3 < offset));
                }
            }

            #[test]
            fn views_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
                let b = &bytes[..];
                if let Ok(p) = ethernet::Packet::new_checked(b) {
                    let _ = (p.dst_addr(), p.src_addr(), p.ethertype(), p.payload());
                }
                if let Ok(p) = ethernet::VlanTag::new_checked(b) {
                    let _ = (p.vlan_id(), p.priority(), p.drop_eligible(), p.ethertype(), p.payload());
                }
                if let Ok(p) = ipv4::Packet::new_checked(b) {
                    let _ = (p.version(), p.total_len(), p.fragment(), p.src_addr(), p.dst_addr());
                    prop_assert!(p.options().len() + p.payload().len() + 20 <= b.len());
                }
                if let Ok(p) = ipv6::Packet::new_checked(b) {
                    let _ = (p.traffic_class(), p.flow_label(), p.src_addr(), p.dst_addr());
                    let chain = ipv6::walk_extension_headers(p.next_header(), p.payload());
                    if chain.protocol.is_some() {
                        prop_assert!(chain.offset <= p.payload().len());
                    }
                }
                if let Ok(p) = ipv6::ExtHeader::new_checked(b) {
                    let _ = (p.next_header(), p.data(), p.payload());
                }
                if let Ok(p) = ipv6::AuthHeader::new_checked(b) {
                    let _ = (p.next_header(), p.payload());
                }
                if let Ok(p) = ipv6::FragmentHeader::new_checked(b) {
                    let _ = (p.fragment(), p.ident(), p.payload());
                }
                if let Ok(p) = tcp::Packet::new_checked(b) {
                    let _ = (p.flags(), p.seq_number(), p.options(), p.payload());
                }
                if let Ok(p) = udp::Packet::new_checked(b) {
                    let _ = (p.length(), p.payload());
                }
                if let Ok(p) = icmp::Packet::new_checked(b) {
                    let _ = (p.msg_type(), p.msg_code(), p.body());
                }
            }
        }
    }
}
