//! IPv4 headers, options included.
//!
//! [`Packet::check_len`] accepts a buffer that holds the fixed header, whose
//! IHL is at least 5 and whose header (options included) fits in the buffer,
//! and whose total length is either 0 (a segmentation-offload capture, where
//! the buffer is the datagram) or not smaller than the header. A buffer
//! longer than the total length is accepted — Ethernet pads short frames —
//! and one shorter is accepted too (a capture cut at the snap length):
//! [`Packet::payload`] ends at whichever comes first. Once `check_len`
//! returns `Ok`, no accessor panics. The version field is not checked here;
//! [`Packet::version`] lets the caller decide.
#![forbid(unsafe_code)]

use super::{be16, be32, Error, Fragment, Result};

/// Length of the fixed IPv4 header (IHL 5).
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// Protocol numbers this crate names.
pub mod protocol {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
}

mod field {
    pub(super) type Field = core::ops::Range<usize>;

    pub(super) const VER_IHL: usize = 0;
    pub(super) const DSCP_ECN: usize = 1;
    pub(super) const LENGTH: Field = 2..4;
    pub(super) const IDENT: Field = 4..6;
    pub(super) const FLG_OFF: Field = 6..8;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: Field = 10..12;
    pub(super) const SRC_ADDR: Field = 12..16;
    pub(super) const DST_ADDR: Field = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 header and its payload.
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

    /// Checks the lengths described in the module docs.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error);
        }
        let header_len = usize::from(self.header_len());
        if header_len < HEADER_LEN || header_len > len {
            return Err(Error);
        }
        let total_len = usize::from(self.total_len());
        if total_len != 0 && total_len < header_len {
            return Err(Error);
        }
        Ok(())
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4 for a real IPv4 header).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header length in bytes (IHL × 4), options included.
    #[inline]
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The differentiated services code point.
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// The explicit congestion notification bits.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// The total length field (header and payload), as sent.
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The identification field.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT.start)
    }

    /// The "don't fragment" flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF.start) & FLAG_DF != 0
    }

    /// The "more fragments" flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF.start) & FLAG_MF != 0
    }

    /// The fragment offset in bytes (the field × 8; at most 65528).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), field::FLG_OFF.start) & OFFSET_MASK) << 3
    }

    /// Where this packet sits in a fragmented datagram.
    #[inline]
    pub fn fragment(&self) -> Fragment {
        let word = be16(self.buffer.as_ref(), field::FLG_OFF.start);
        if word & OFFSET_MASK != 0 {
            Fragment::Later
        } else if word & FLAG_MF != 0 {
            Fragment::First
        } else {
            Fragment::Whole
        }
    }

    /// The time-to-live field.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The upper-layer protocol number.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// The header checksum, as sent (not verified).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The source address as a host-order integer.
    #[inline]
    pub fn src_addr(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SRC_ADDR.start)
    }

    /// The destination address as a host-order integer.
    #[inline]
    pub fn dst_addr(&self) -> u32 {
        be32(self.buffer.as_ref(), field::DST_ADDR.start)
    }

    /// Where the payload ends in the buffer: the total length, unless it is 0
    /// or the buffer is shorter.
    #[inline]
    fn payload_end(&self) -> usize {
        let len = self.buffer.as_ref().len();
        match usize::from(self.total_len()) {
            0 => len,
            total => total.min(len),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The option bytes between the fixed header and the payload.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        let header_len = usize::from(self.header_len());
        &self.buffer.as_ref()[HEADER_LEN..header_len]
    }

    /// The payload: from the end of the header to the total length or the end
    /// of the buffer, whichever comes first.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let header_len = usize::from(self.header_len());
        let end = self.payload_end();
        &self.buffer.as_ref()[header_len..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 192.168.1.10 -> 10.0.0.1, TCP, total length 24 (4 payload bytes),
    // followed by 2 bytes of Ethernet padding.
    static PLAIN: [u8; 26] = [
        0x45, 0xb8, 0x00, 0x18, // ver/ihl, dscp 46 ecn 0, total length 24
        0x12, 0x34, 0x40, 0x00, // ident, DF
        0x40, 0x06, 0xab, 0xcd, // ttl 64, TCP, checksum
        0xc0, 0xa8, 0x01, 0x0a, // src
        0x0a, 0x00, 0x00, 0x01, // dst
        0x01, 0x02, 0x03, 0x04, // payload
        0x00, 0x00, // padding
    ];

    // IHL 6 with one 4-byte option; MF set, offset 0; UDP.
    static WITH_OPTIONS: [u8; 26] = [
        0x46, 0x00, 0x00, 0x1a, // ihl 6, total length 26
        0x00, 0x01, 0x20, 0x00, // MF
        0x01, 0x11, 0x00, 0x00, // ttl 1, UDP
        0x01, 0x02, 0x03, 0x04, // src
        0x05, 0x06, 0x07, 0x08, // dst
        0x94, 0x04, 0x00, 0x00, // router alert option
        0xaa, 0xbb, // payload
    ];

    #[test]
    fn takes_apart_a_plain_header() {
        let packet = Packet::new_checked(&PLAIN[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.dscp(), 46);
        assert_eq!(packet.ecn(), 0);
        assert_eq!(packet.total_len(), 24);
        assert_eq!(packet.ident(), 0x1234);
        assert!(packet.dont_frag());
        assert!(!packet.more_frags());
        assert_eq!(packet.frag_offset(), 0);
        assert_eq!(packet.fragment(), Fragment::Whole);
        assert_eq!(packet.ttl(), 64);
        assert_eq!(packet.protocol(), protocol::TCP);
        assert_eq!(packet.checksum(), 0xabcd);
        assert_eq!(packet.src_addr(), 0xc0a8_010a);
        assert_eq!(packet.dst_addr(), 0x0a00_0001);
        assert_eq!(packet.options(), &[] as &[u8]);
        // The padding is not payload.
        assert_eq!(packet.payload(), &[1, 2, 3, 4]);
    }

    #[test]
    fn takes_apart_options_and_a_first_fragment() {
        let packet = Packet::new_checked(&WITH_OPTIONS[..]).unwrap();
        assert_eq!(packet.header_len(), 24);
        assert_eq!(packet.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(packet.payload(), &[0xaa, 0xbb]);
        assert!(packet.more_frags());
        assert_eq!(packet.fragment(), Fragment::First);
        assert_eq!(packet.protocol(), protocol::UDP);
    }

    #[test]
    fn reads_fragment_state_from_flags_and_offset() {
        // (flags/offset word, fragment, offset in bytes)
        let cases = [
            (0x0000, Fragment::Whole, 0),
            (0x4000, Fragment::Whole, 0),
            (0x2000, Fragment::First, 0),
            (0x0001, Fragment::Later, 8),
            (0x2010, Fragment::Later, 128),
            (0x3fff, Fragment::Later, 65528),
        ];
        for (word, fragment, offset) in cases {
            let mut bytes = PLAIN;
            bytes[6..8].copy_from_slice(&u16::to_be_bytes(word));
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(packet.fragment(), fragment, "{word:#06x}");
            assert_eq!(packet.frag_offset(), offset, "{word:#06x}");
        }
    }

    #[test]
    fn total_length_bounds_the_payload() {
        // (total length, payload length): 0 means "use the buffer"; a total
        // length past the buffer is a truncated capture.
        let cases = [(0u16, 6usize), (20, 0), (22, 2), (26, 6), (1500, 6)];
        for (total, payload_len) in cases {
            let mut bytes = PLAIN;
            bytes[2..4].copy_from_slice(&total.to_be_bytes());
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(packet.payload().len(), payload_len, "total {total}");
        }
    }

    #[test]
    fn rejects_bad_lengths() {
        // Too short for the fixed header.
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&PLAIN[..len]), Err(Error), "len {len}");
        }
        // IHL below 5.
        for ihl in 0..5u8 {
            let mut bytes = PLAIN;
            bytes[0] = 0x40 | ihl;
            assert_eq!(Packet::new_checked(&bytes[..]), Err(Error), "ihl {ihl}");
        }
        // Options past the end of the buffer.
        assert_eq!(Packet::new_checked(&WITH_OPTIONS[..23]), Err(Error));
        // Total length shorter than the header.
        let mut bytes = WITH_OPTIONS;
        bytes[2..4].copy_from_slice(&23u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error));
    }

    #[test]
    fn does_not_check_the_version() {
        let mut bytes = PLAIN;
        bytes[0] = 0x65;
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.version(), 6);
    }
}
