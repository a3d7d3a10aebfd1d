//! IPv6 headers and the extension-header chain.
//!
//! [`Packet`] is the 40-byte fixed header; its payload ends at the payload
//! length or the end of the buffer, whichever comes first (a payload length
//! of 0 — a jumbogram or a segmentation-offload capture — means the rest of
//! the buffer). [`ExtHeader`] (hop-by-hop, routing, destination options),
//! [`AuthHeader`] and [`FragmentHeader`] view one extension header each, and
//! [`walk_extension_headers`] follows the chain to the upper-layer protocol,
//! reading at most [`MAX_EXT_HEADERS`] headers. Once `check_len` returns `Ok`,
//! no accessor of any view panics; the walk never panics.
#![forbid(unsafe_code)]

use super::{be16, be32, Error, Fragment, Result};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// The most extension headers [`walk_extension_headers`] reads before it gives
/// up on finding the upper-layer protocol.
pub const MAX_EXT_HEADERS: usize = 8;

/// Next-header values this crate names.
pub mod next_header {
    /// Hop-by-hop options.
    pub const HOP_BY_HOP: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// Routing header.
    pub const ROUTING: u8 = 43;
    /// Fragment header.
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating security payload: the rest is encrypted.
    pub const ESP: u8 = 50;
    /// Authentication header.
    pub const AUTH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// No next header.
    pub const NO_NEXT: u8 = 59;
    /// Destination options.
    pub const DEST_OPTS: u8 = 60;
}

mod field {
    pub(super) type Field = core::ops::Range<usize>;

    pub(super) const VER_TC_FLOW: Field = 0..4;
    pub(super) const LENGTH: Field = 4..6;
    pub(super) const NXT_HDR: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC_ADDR: Field = 8..24;
    pub(super) const DST_ADDR: Field = 24..40;
}

mod ext_field {
    pub(super) const NXT_HDR: usize = 0;
    pub(super) const LENGTH: usize = 1;
    /// Bytes every extension header has before its length is known.
    pub(super) const MIN_LEN: usize = 2;
}

mod frag_field {
    pub(super) type Field = core::ops::Range<usize>;

    pub(super) const NXT_HDR: usize = 0;
    pub(super) const OFF_M: Field = 2..4;
    pub(super) const IDENT: Field = 4..8;
}

/// Length of a fragment header.
pub const FRAGMENT_HEADER_LEN: usize = frag_field::IDENT.end;

#[inline]
fn be128(data: &[u8], range: core::ops::Range<usize>) -> u128 {
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&data[range]);
    u128::from_be_bytes(bytes)
}

/// A view of an IPv6 fixed header and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps `buffer` and runs [`Packet::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the 40-byte fixed header is present.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (6 for a real IPv6 header).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TC_FLOW.start] >> 4
    }

    /// The traffic class.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        // Bits 4..12 of the first word; the shift and mask leave 8 bits.
        ((be32(self.buffer.as_ref(), field::VER_TC_FLOW.start) >> 20) & 0xff) as u8
    }

    /// The flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), field::VER_TC_FLOW.start) & 0x000f_ffff
    }

    /// The payload length field, as sent.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The next-header field of the fixed header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// The hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// The source address as a host-order integer.
    #[inline]
    pub fn src_addr(&self) -> u128 {
        be128(self.buffer.as_ref(), field::SRC_ADDR)
    }

    /// The destination address as a host-order integer.
    #[inline]
    pub fn dst_addr(&self) -> u128 {
        be128(self.buffer.as_ref(), field::DST_ADDR)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload (extension headers included): up to the payload length or
    /// the end of the buffer, whichever comes first; the rest of the buffer
    /// if the payload length is 0.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        let end = match usize::from(self.payload_len()) {
            0 => data.len(),
            len => (HEADER_LEN + len).min(data.len()),
        };
        &data[HEADER_LEN..end]
    }
}

/// A view of a hop-by-hop, routing or destination-options header: a next
/// header byte and a length in 8-byte units, not counting the first 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ExtHeader<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        ExtHeader { buffer }
    }

    /// Wraps `buffer` and runs [`ExtHeader::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = Self::new_unchecked(buffer);
        header.check_len()?;
        Ok(header)
    }

    /// Checks that the whole header, as long as its length field says, is
    /// present.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let data = self.buffer.as_ref();
        if data.len() < ext_field::MIN_LEN || data.len() < self.header_len() {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The protocol of what follows this header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ext_field::NXT_HDR]
    }

    /// The header length in bytes: (length field + 1) × 8, at most 2048.
    #[inline]
    pub fn header_len(&self) -> usize {
        (usize::from(self.buffer.as_ref()[ext_field::LENGTH]) + 1) * 8
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> ExtHeader<&'a T> {
    /// The option or routing data after the next-header and length bytes.
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[ext_field::MIN_LEN..self.header_len()]
    }

    /// What follows this header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// A view of an authentication header (RFC 4302), whose length counts
/// 4-byte units, minus 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> AuthHeader<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        AuthHeader { buffer }
    }

    /// Wraps `buffer` and runs [`AuthHeader::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = Self::new_unchecked(buffer);
        header.check_len()?;
        Ok(header)
    }

    /// Checks that the whole header, as long as its length field says, is
    /// present.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let data = self.buffer.as_ref();
        if data.len() < ext_field::MIN_LEN || data.len() < self.header_len() {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The protocol of what follows this header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ext_field::NXT_HDR]
    }

    /// The header length in bytes: (length field + 2) × 4, at most 1028.
    #[inline]
    pub fn header_len(&self) -> usize {
        (usize::from(self.buffer.as_ref()[ext_field::LENGTH]) + 2) * 4
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> AuthHeader<&'a T> {
    /// What follows this header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// A view of a fragment header (always 8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FragmentHeader<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        FragmentHeader { buffer }
    }

    /// Wraps `buffer` and runs [`FragmentHeader::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = Self::new_unchecked(buffer);
        header.check_len()?;
        Ok(header)
    }

    /// Checks that the 8 bytes of the header are present.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < FRAGMENT_HEADER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The protocol of the fragmentable part.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[frag_field::NXT_HDR]
    }

    /// The fragment offset in bytes (the 13-bit field × 8).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        be16(self.buffer.as_ref(), frag_field::OFF_M.start) & !0x7
    }

    /// The "more fragments" flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), frag_field::OFF_M.start) & 0x1 != 0
    }

    /// The identification field.
    #[inline]
    pub fn ident(&self) -> u32 {
        be32(self.buffer.as_ref(), frag_field::IDENT.start)
    }

    /// Where this packet sits in the fragmented datagram.
    #[inline]
    pub fn fragment(&self) -> Fragment {
        if self.frag_offset() != 0 {
            Fragment::Later
        } else if self.more_frags() {
            Fragment::First
        } else {
            Fragment::Whole
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> FragmentHeader<&'a T> {
    /// What follows this header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[FRAGMENT_HEADER_LEN..]
    }
}

/// The end of an extension-header walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtChain {
    /// The upper-layer protocol: the first next-header value that is not one
    /// of the walked extension headers (ESP and "no next header" included),
    /// or, for a later fragment, the fragment header's next header. `None`
    /// when the chain was truncated or longer than [`MAX_EXT_HEADERS`].
    pub protocol: Option<u8>,
    /// The fragment state found in a fragment header, if any.
    pub fragment: Fragment,
    /// Bytes of extension headers walked: where the upper-layer header
    /// starts in the IPv6 payload (meaningful when `protocol` is `Some`).
    pub offset: usize,
}

/// Walks the extension headers in `payload` (the IPv6 payload), starting
/// from the fixed header's `first` next-header value. Stops at the first
/// protocol that is not hop-by-hop, routing, fragment, destination options or
/// AH, and right after a fragment header whose offset is not 0 (nothing past
/// it is a header). Never panics.
pub fn walk_extension_headers(first: u8, payload: &[u8]) -> ExtChain {
    let mut chain = ExtChain {
        protocol: None,
        fragment: Fragment::Whole,
        offset: 0,
    };
    let mut next = first;
    let mut walked = 0;
    loop {
        let is_ext = matches!(
            next,
            next_header::HOP_BY_HOP
                | next_header::ROUTING
                | next_header::FRAGMENT
                | next_header::DEST_OPTS
                | next_header::AUTH
        );
        if !is_ext {
            chain.protocol = Some(next);
            return chain;
        }
        if walked == MAX_EXT_HEADERS {
            return chain;
        }
        walked += 1;
        let Some(rest) = payload.get(chain.offset..) else {
            return chain;
        };
        let len = match next {
            next_header::FRAGMENT => {
                let Ok(header) = FragmentHeader::new_checked(rest) else {
                    return chain;
                };
                next = header.next_header();
                match header.fragment() {
                    Fragment::Later => {
                        chain.fragment = Fragment::Later;
                        chain.offset += FRAGMENT_HEADER_LEN;
                        chain.protocol = Some(next);
                        return chain;
                    }
                    Fragment::First => chain.fragment = Fragment::First,
                    Fragment::Whole => {}
                }
                FRAGMENT_HEADER_LEN
            }
            next_header::AUTH => {
                let Ok(header) = AuthHeader::new_checked(rest) else {
                    return chain;
                };
                next = header.next_header();
                header.header_len()
            }
            _ => {
                let Ok(header) = ExtHeader::new_checked(rest) else {
                    return chain;
                };
                next = header.next_header();
                header.header_len()
            }
        };
        chain.offset += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2001:db8::1 -> 2001:db8::2, payload length 8, next header UDP, hop
    // limit 64, traffic class 0xb8, flow label 0x12345; then 2 bytes of
    // padding past the payload length.
    static FIXED: [u8; 50] = [
        0x6b, 0x81, 0x23, 0x45, // version, tc, flow
        0x00, 0x08, 0x11, 0x40, // payload length 8, UDP, hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // src
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // dst
        1, 2, 3, 4, 5, 6, 7, 8, // payload
        0xee, 0xee, // padding
    ];

    #[test]
    fn takes_apart_the_fixed_header() {
        let packet = Packet::new_checked(&FIXED[..]).unwrap();
        assert_eq!(packet.version(), 6);
        assert_eq!(packet.traffic_class(), 0xb8);
        assert_eq!(packet.flow_label(), 0x12345);
        assert_eq!(packet.payload_len(), 8);
        assert_eq!(packet.next_header(), next_header::UDP);
        assert_eq!(packet.hop_limit(), 64);
        assert_eq!(packet.src_addr(), 0x2001_0db8_0000_0000_0000_0000_0000_0001);
        assert_eq!(packet.dst_addr(), 0x2001_0db8_0000_0000_0000_0000_0000_0002);
        assert_eq!(packet.payload(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn payload_length_bounds_the_payload() {
        let cases = [(0u16, 10usize), (3, 3), (8, 8), (9000, 10)];
        for (len, payload_len) in cases {
            let mut bytes = FIXED;
            bytes[4..6].copy_from_slice(&len.to_be_bytes());
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(packet.payload().len(), payload_len, "payload length {len}");
        }
    }

    #[test]
    fn rejects_a_short_fixed_header() {
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&FIXED[..len]), Err(Error), "len {len}");
        }
    }

    #[test]
    fn takes_apart_extension_headers() {
        // Hop-by-hop, length 1 (16 bytes), next header routing.
        let hbh: [u8; 18] = [
            43, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xaa, 0xbb,
        ];
        let header = ExtHeader::new_checked(&hbh[..]).unwrap();
        assert_eq!(header.next_header(), next_header::ROUTING);
        assert_eq!(header.header_len(), 16);
        assert_eq!(header.data(), &hbh[2..16]);
        assert_eq!(header.payload(), &[0xaa, 0xbb]);
        assert_eq!(ExtHeader::new_checked(&hbh[..15]), Err(Error));
        assert_eq!(ExtHeader::new_checked(&hbh[..1]), Err(Error));

        // AH, length 4: (4 + 2) * 4 = 24 bytes.
        let mut ah = [0u8; 26];
        ah[0] = next_header::TCP;
        ah[1] = 4;
        ah[24] = 0x55;
        let header = AuthHeader::new_checked(&ah[..]).unwrap();
        assert_eq!(header.next_header(), next_header::TCP);
        assert_eq!(header.header_len(), 24);
        assert_eq!(header.payload(), &[0x55, 0]);
        assert_eq!(AuthHeader::new_checked(&ah[..23]), Err(Error));

        // Fragment: offset 185 * 8, M set, ident 0xdeadbeef.
        let frag: [u8; 9] = [17, 0, 0x05, 0xc9, 0xde, 0xad, 0xbe, 0xef, 0x77];
        let header = FragmentHeader::new_checked(&frag[..]).unwrap();
        assert_eq!(header.next_header(), next_header::UDP);
        assert_eq!(header.frag_offset(), 1480);
        assert!(header.more_frags());
        assert_eq!(header.ident(), 0xdead_beef);
        assert_eq!(header.fragment(), Fragment::Later);
        assert_eq!(header.payload(), &[0x77]);
        assert_eq!(FragmentHeader::new_checked(&frag[..7]), Err(Error));
    }

    #[test]
    fn fragment_state_from_offset_and_flag() {
        let cases = [
            ([0x00, 0x00], Fragment::Whole),
            ([0x00, 0x01], Fragment::First),
            ([0x00, 0x08], Fragment::Later),
            ([0x00, 0x09], Fragment::Later),
            // Reserved bits alone do not make a fragment.
            ([0x00, 0x06], Fragment::Whole),
        ];
        for (word, fragment) in cases {
            let frag = [6, 0, word[0], word[1], 0, 0, 0, 1];
            let header = FragmentHeader::new_checked(&frag[..]).unwrap();
            assert_eq!(header.fragment(), fragment, "{word:02x?}");
        }
    }

    #[test]
    fn walks_a_chain_to_the_upper_layer() {
        // hop-by-hop (8) -> dest opts (16) -> fragment first (8) -> AH (12) -> UDP
        let mut chain = [0u8; 44];
        chain[0] = next_header::DEST_OPTS;
        chain[8] = next_header::FRAGMENT;
        chain[9] = 1;
        chain[24] = next_header::AUTH;
        chain[27] = 0x01; // offset 0, M=1
        chain[32] = next_header::UDP;
        chain[33] = 1;
        let end = walk_extension_headers(next_header::HOP_BY_HOP, &chain);
        assert_eq!(
            end,
            ExtChain {
                protocol: Some(next_header::UDP),
                fragment: Fragment::First,
                offset: 44,
            }
        );
    }

    #[test]
    fn walk_edge_cases() {
        let later = [next_header::TCP, 0, 0x00, 0x10, 0, 0, 0, 1];
        let cases: [(u8, &[u8], ExtChain); 6] = [
            // No extension headers at all.
            (
                next_header::TCP,
                &[],
                ExtChain {
                    protocol: Some(6),
                    fragment: Fragment::Whole,
                    offset: 0,
                },
            ),
            // ESP ends the walk.
            (
                next_header::ESP,
                &[1, 2, 3],
                ExtChain {
                    protocol: Some(50),
                    fragment: Fragment::Whole,
                    offset: 0,
                },
            ),
            // A later fragment stops right after the fragment header.
            (
                next_header::FRAGMENT,
                &later,
                ExtChain {
                    protocol: Some(6),
                    fragment: Fragment::Later,
                    offset: 8,
                },
            ),
            // Truncated hop-by-hop header.
            (
                next_header::HOP_BY_HOP,
                &[6, 0, 0, 0],
                ExtChain {
                    protocol: None,
                    fragment: Fragment::Whole,
                    offset: 0,
                },
            ),
            // Nothing at all after the fixed header.
            (
                next_header::ROUTING,
                &[],
                ExtChain {
                    protocol: None,
                    fragment: Fragment::Whole,
                    offset: 0,
                },
            ),
            // A complete header whose successor is missing.
            (
                next_header::DEST_OPTS,
                &[next_header::ROUTING, 0, 0, 0, 0, 0, 0, 0],
                ExtChain {
                    protocol: None,
                    fragment: Fragment::Whole,
                    offset: 8,
                },
            ),
        ];
        for (first, payload, expected) in cases {
            assert_eq!(
                walk_extension_headers(first, payload),
                expected,
                "{first} {payload:?}"
            );
        }
    }

    #[test]
    fn walk_stops_at_the_bound() {
        // n destination-options headers of 8 bytes each, then TCP.
        let build = |n: usize| {
            let mut bytes = [0u8; 8 * (MAX_EXT_HEADERS + 1)];
            for i in 0..n {
                bytes[i * 8] = if i + 1 == n {
                    next_header::TCP
                } else {
                    next_header::DEST_OPTS
                };
            }
            bytes
        };
        let at_bound = build(MAX_EXT_HEADERS);
        let end = walk_extension_headers(next_header::DEST_OPTS, &at_bound);
        assert_eq!(end.protocol, Some(next_header::TCP));
        assert_eq!(end.offset, 8 * MAX_EXT_HEADERS);

        let over = build(MAX_EXT_HEADERS + 1);
        let end = walk_extension_headers(next_header::DEST_OPTS, &over);
        assert_eq!(end.protocol, None);
    }
}
