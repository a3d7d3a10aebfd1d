//! Byte-level frame builders: Ethernet with 802.1Q/QinQ tags, ARP, IPv4
//! (header checksum), IPv6 with extension-header chains and fragment
//! headers, TCP/UDP/ICMP/ICMPv6 with correct checksums over the
//! pseudo-header.

/// IP protocol / IPv6 next-header numbers used here.
pub(crate) mod proto {
    pub(crate) const HOP_BY_HOP: u8 = 0;
    pub(crate) const ICMP: u8 = 1;
    pub(crate) const TCP: u8 = 6;
    pub(crate) const UDP: u8 = 17;
    pub(crate) const ROUTING: u8 = 43;
    pub(crate) const FRAGMENT: u8 = 44;
    pub(crate) const AH: u8 = 51;
    pub(crate) const ICMPV6: u8 = 58;
    pub(crate) const DEST_OPTS: u8 = 60;
}

pub(crate) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u16 = 0x86dd;
pub(crate) const ETHERTYPE_ARP: u16 = 0x0806;
const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88a8;

/// Ethernet addressing and VLAN tags of a frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub(crate) dst: [u8; 6],
    pub(crate) src: [u8; 6],
    /// VLAN ids, outermost first; two tags make a QinQ frame (outer
    /// 802.1ad, inner 802.1Q).
    pub(crate) vlans: [u16; 2],
    pub(crate) tags: u8,
}

impl Link {
    /// Length of the Ethernet header with `tags` VLAN tags.
    pub(crate) fn header_len(tags: u8) -> usize {
        14 + 4 * usize::from(tags)
    }

    pub(crate) fn write(&self, buf: &mut Vec<u8>, ethertype: u16) {
        buf.extend_from_slice(&self.dst);
        buf.extend_from_slice(&self.src);
        for i in 0..usize::from(self.tags.min(2)) {
            let tpid = if self.tags == 2 && i == 0 {
                TPID_8021AD
            } else {
                TPID_8021Q
            };
            buf.extend_from_slice(&tpid.to_be_bytes());
            buf.extend_from_slice(&(self.vlans[i] & 0x0fff).to_be_bytes());
        }
        buf.extend_from_slice(&ethertype.to_be_bytes());
    }
}

/// Source and destination IP addresses of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addrs {
    V4 { src: [u8; 4], dst: [u8; 4] },
    V6 { src: [u8; 16], dst: [u8; 16] },
}

impl Addrs {
    pub(crate) fn swapped(self) -> Self {
        match self {
            Self::V4 { src, dst } => Self::V4 { src: dst, dst: src },
            Self::V6 { src, dst } => Self::V6 { src: dst, dst: src },
        }
    }
}

/// Adds big-endian 16-bit words of `data` to a ones-complement sum.
fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*last) << 8);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum of `data`.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    fold(sum16(0, data))
}

/// The TCP/UDP/ICMPv6 checksum of a whole L4 segment over the pseudo-header.
pub(crate) fn l4_checksum(addrs: Addrs, proto: u8, segment: &[u8]) -> u16 {
    let len = segment.len() as u32;
    let mut acc = match addrs {
        Addrs::V4 { src, dst } => {
            let a = sum16(sum16(0, &src), &dst);
            a + u32::from(proto) + (len & 0xffff)
        }
        Addrs::V6 { src, dst } => {
            let a = sum16(sum16(0, &src), &dst);
            a + (len >> 16) + (len & 0xffff) + u32::from(proto)
        }
    };
    acc = sum16(acc, segment);
    fold(acc)
}

/// A TCP segment (header, MSS option on SYN, `payload_len` bytes of
/// payload) with its checksum.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tcp(
    addrs: Addrs,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    payload_len: usize,
) -> Vec<u8> {
    let with_mss = flags & 0x02 != 0;
    let hlen = if with_mss { 24 } else { 20 };
    let mut s = Vec::with_capacity(hlen + payload_len);
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&(if flags & 0x10 != 0 { ack } else { 0 }).to_be_bytes());
    s.push(((hlen / 4) as u8) << 4);
    s.push(flags);
    s.extend_from_slice(&window.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    if flags & 0x20 != 0 {
        s[18..20].copy_from_slice(&1u16.to_be_bytes());
    }
    if with_mss {
        s.extend_from_slice(&[2, 4, 0x05, 0xb4]);
    }
    s.resize(hlen + payload_len, 0);
    let c = l4_checksum(addrs, proto::TCP, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// A UDP datagram with `payload` and its checksum (never 0 on the wire).
pub(crate) fn udp(addrs: Addrs, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut s = Vec::with_capacity(len);
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&(len.min(0xffff) as u16).to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    let c = match l4_checksum(addrs, proto::UDP, &s) {
        0 => 0xffff,
        c => c,
    };
    s[6..8].copy_from_slice(&c.to_be_bytes());
    s
}

/// An ICMP (IPv4) or ICMPv6 echo request/reply with a ping-style payload.
pub(crate) fn icmp_echo(
    addrs: Addrs,
    reply: bool,
    id: u16,
    seq: u16,
    payload_len: usize,
) -> Vec<u8> {
    let (ty, proto) = match (addrs, reply) {
        (Addrs::V4 { .. }, false) => (8, proto::ICMP),
        (Addrs::V4 { .. }, true) => (0, proto::ICMP),
        (Addrs::V6 { .. }, false) => (128, proto::ICMPV6),
        (Addrs::V6 { .. }, true) => (129, proto::ICMPV6),
    };
    let mut s = Vec::with_capacity(8 + payload_len);
    s.extend_from_slice(&[ty, 0, 0, 0]);
    s.extend_from_slice(&id.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend((0..payload_len).map(|i| (i & 0xff) as u8));
    let c = if proto == proto::ICMP {
        checksum(&s)
    } else {
        l4_checksum(addrs, proto, &s)
    };
    s[2..4].copy_from_slice(&c.to_be_bytes());
    s
}

/// The fixed part of an IPv4 header: identification, TTL and fragment word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct V4Fields {
    pub(crate) id: u16,
    pub(crate) ttl: u8,
    /// Flags (DF 0x4000, MF 0x2000) and offset in 8-byte units.
    pub(crate) frag: u16,
}

/// Appends an IPv4 header (with checksum) and `payload`.
pub(crate) fn ipv4(
    buf: &mut Vec<u8>,
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    f: V4Fields,
    payload: &[u8],
) {
    let start = buf.len();
    let total = (20 + payload.len()).min(0xffff) as u16;
    buf.extend_from_slice(&[0x45, 0]);
    buf.extend_from_slice(&total.to_be_bytes());
    buf.extend_from_slice(&f.id.to_be_bytes());
    buf.extend_from_slice(&f.frag.to_be_bytes());
    buf.extend_from_slice(&[f.ttl, proto, 0, 0]);
    buf.extend_from_slice(&src);
    buf.extend_from_slice(&dst);
    let c = checksum(&buf[start..start + 20]);
    buf[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
    buf.extend_from_slice(payload);
}

/// One IPv6 extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ext {
    /// Hop-by-hop options: one PadN option (8 bytes).
    HopByHop,
    /// Destination options: one PadN option (8 bytes).
    DestOpts,
    /// Segment-routing header (type 4) with one segment, segments left 0
    /// (24 bytes), so the IPv6 destination stays the final one.
    Routing,
    /// Authentication header with a 96-bit ICV (24 bytes).
    Ah { spi: u32, seq: u32 },
    /// Fragment header (8 bytes).
    Fragment {
        offset_units: u16,
        more: bool,
        id: u32,
    },
}

impl Ext {
    fn number(self) -> u8 {
        match self {
            Self::HopByHop => proto::HOP_BY_HOP,
            Self::DestOpts => proto::DEST_OPTS,
            Self::Routing => proto::ROUTING,
            Self::Ah { .. } => proto::AH,
            Self::Fragment { .. } => proto::FRAGMENT,
        }
    }

    pub(crate) fn len(self) -> usize {
        match self {
            Self::HopByHop | Self::DestOpts | Self::Fragment { .. } => 8,
            Self::Routing | Self::Ah { .. } => 24,
        }
    }

    fn write(self, buf: &mut Vec<u8>, next: u8, segment: [u8; 16]) {
        match self {
            Self::HopByHop | Self::DestOpts => buf.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]),
            Self::Routing => {
                buf.extend_from_slice(&[next, 2, 4, 0, 0, 0, 0, 0]);
                buf.extend_from_slice(&segment);
            }
            Self::Ah { spi, seq } => {
                buf.extend_from_slice(&[next, 4, 0, 0]);
                buf.extend_from_slice(&spi.to_be_bytes());
                buf.extend_from_slice(&seq.to_be_bytes());
                buf.extend_from_slice(&[0; 12]);
            }
            Self::Fragment {
                offset_units,
                more,
                id,
            } => {
                let word = (offset_units << 3) | u16::from(more);
                buf.extend_from_slice(&[next, 0]);
                buf.extend_from_slice(&word.to_be_bytes());
                buf.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

/// Appends an IPv6 header, the extension chain and `payload` (whose
/// protocol is `upper`).
pub(crate) fn ipv6(
    buf: &mut Vec<u8>,
    src: [u8; 16],
    dst: [u8; 16],
    flow_label: u32,
    chain: &[Ext],
    upper: u8,
    payload: &[u8],
) {
    let ext_len: usize = chain.iter().map(|e| e.len()).sum();
    let plen = (ext_len + payload.len()).min(0xffff) as u16;
    let first = chain.first().map_or(upper, |e| e.number());
    buf.extend_from_slice(&(0x6000_0000u32 | (flow_label & 0x000f_ffff)).to_be_bytes());
    buf.extend_from_slice(&plen.to_be_bytes());
    buf.extend_from_slice(&[first, 64]);
    buf.extend_from_slice(&src);
    buf.extend_from_slice(&dst);
    for (i, e) in chain.iter().enumerate() {
        let next = chain.get(i + 1).map_or(upper, |n| n.number());
        e.write(buf, next, dst);
    }
    buf.extend_from_slice(payload);
}

/// An ARP request (broadcast) or reply over Ethernet/IPv4.
pub(crate) fn arp(
    buf: &mut Vec<u8>,
    reply: bool,
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
) {
    buf.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, if reply { 2 } else { 1 }]);
    buf.extend_from_slice(&sha);
    buf.extend_from_slice(&spa);
    buf.extend_from_slice(&if reply { tha } else { [0; 6] });
    buf.extend_from_slice(&tpa);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_matches_the_textbook_example() {
        // The classic example header (Wikipedia's IPv4 checksum example):
        // 4500 0073 0000 4000 4011 ____ c0a8 0001 c0a8 00c7 → b861.
        let mut b = Vec::new();
        let f = V4Fields {
            id: 0,
            ttl: 0x40,
            frag: 0x4000,
        };
        ipv4(
            &mut b,
            [192, 168, 0, 1],
            [192, 168, 0, 199],
            17,
            f,
            &[0; 0x73 - 20],
        );
        assert_eq!(&b[10..12], &[0xb8, 0x61]);
        assert_eq!(checksum(&b[..20]), 0);
    }

    #[test]
    fn l4_checksums_verify_to_zero() {
        let v4 = Addrs::V4 {
            src: [10, 0, 0, 1],
            dst: [8, 8, 8, 8],
        };
        let mut v6src = [0u8; 16];
        v6src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        let v6 = Addrs::V6 {
            src: v6src,
            dst: [0xfe; 16],
        };
        for a in [v4, v6] {
            let t = tcp(a, 40000, 443, 1, 2, 0x18, 1000, 33);
            assert_eq!(l4_checksum(a, proto::TCP, &t), 0);
            let u = udp(a, 5353, 53, &[1, 2, 3]);
            assert_eq!(l4_checksum(a, proto::UDP, &u), 0);
            assert_eq!(u[4..6], [0, 11]);
        }
        let e = icmp_echo(v4, false, 1, 2, 17);
        assert_eq!(checksum(&e), 0);
        let e6 = icmp_echo(v6, true, 1, 2, 17);
        assert_eq!(e6[0], 129);
        assert_eq!(l4_checksum(v6, proto::ICMPV6, &e6), 0);
    }

    #[test]
    fn ipv6_chain_links_next_headers() {
        let mut b = Vec::new();
        let chain = [
            Ext::HopByHop,
            Ext::Routing,
            Ext::Fragment {
                offset_units: 3,
                more: true,
                id: 9,
            },
        ];
        ipv6(&mut b, [1; 16], [2; 16], 5, &chain, proto::UDP, &[0; 8]);
        assert_eq!(b[6], proto::HOP_BY_HOP);
        assert_eq!(b[40], proto::ROUTING);
        assert_eq!(b[48], proto::FRAGMENT);
        assert_eq!(b[72], proto::UDP);
        assert_eq!(&b[74..76], &[0, 0x19]);
        assert_eq!(u16::from_be_bytes([b[4], b[5]]), 8 + 24 + 8 + 8);
    }

    #[test]
    fn qinq_uses_8021ad_outside_and_8021q_inside() {
        let l = Link {
            dst: [1; 6],
            src: [2; 6],
            vlans: [100, 20],
            tags: 2,
        };
        let mut b = Vec::new();
        l.write(&mut b, ETHERTYPE_IPV4);
        assert_eq!(&b[12..], &[0x88, 0xa8, 0, 100, 0x81, 0, 0, 20, 8, 0]);
        assert_eq!(b.len(), Link::header_len(2));
    }
}
