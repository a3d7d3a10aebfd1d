//! TCP headers.
//!
//! [`Packet::check_len`] accepts a buffer that holds the 20-byte fixed header
//! and whose data offset is at least 5. Option bytes the data offset promises
//! need not all be present (a capture cut at the snap length still has its
//! ports and flags): [`Packet::options`] and [`Packet::payload`] stop at the
//! end of the buffer, and [`Packet::is_header_complete`] tells whether they
//! were cut. Once `check_len` returns `Ok`, no accessor panics.
#![forbid(unsafe_code)]

use super::{be16, be32, Error, Result};

/// Length of the fixed TCP header (data offset 5).
pub const HEADER_LEN: usize = field::URGENT.end;

mod field {
    pub(super) type Field = core::ops::Range<usize>;

    pub(super) const SRC_PORT: Field = 0..2;
    pub(super) const DST_PORT: Field = 2..4;
    pub(super) const SEQ_NUM: Field = 4..8;
    pub(super) const ACK_NUM: Field = 8..12;
    pub(super) const DATA_OFF: usize = 12;
    pub(super) const FLAGS: usize = 13;
    pub(super) const WIN_SIZE: Field = 14..16;
    pub(super) const CHECKSUM: Field = 16..18;
    pub(super) const URGENT: Field = 18..20;
}

/// A view of a TCP header and its payload.
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

    /// Checks that the fixed header is present and the data offset is at
    /// least 5.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN || usize::from(self.header_len()) < HEADER_LEN {
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

    /// The source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    /// The destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT.start)
    }

    /// The sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ_NUM.start)
    }

    /// The acknowledgment number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK_NUM.start)
    }

    /// The header length in bytes (data offset × 4), as sent.
    #[inline]
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// Whether every header byte the data offset promises is in the buffer.
    #[inline]
    pub fn is_header_complete(&self) -> bool {
        usize::from(self.header_len()) <= self.buffer.as_ref().len()
    }

    /// The low eight flag bits (CWR ECE URG ACK PSH RST SYN FIN), as in
    /// [`super::tcp_flags`].
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The NS (nonce sum) flag, the ninth flag bit.
    #[inline]
    pub fn ns(&self) -> bool {
        self.buffer.as_ref()[field::DATA_OFF] & 0x01 != 0
    }

    /// The FIN flag.
    #[inline]
    pub fn fin(&self) -> bool {
        self.flags() & super::tcp_flags::FIN != 0
    }

    /// The SYN flag.
    #[inline]
    pub fn syn(&self) -> bool {
        self.flags() & super::tcp_flags::SYN != 0
    }

    /// The RST flag.
    #[inline]
    pub fn rst(&self) -> bool {
        self.flags() & super::tcp_flags::RST != 0
    }

    /// The PSH flag.
    #[inline]
    pub fn psh(&self) -> bool {
        self.flags() & super::tcp_flags::PSH != 0
    }

    /// The ACK flag.
    #[inline]
    pub fn ack(&self) -> bool {
        self.flags() & super::tcp_flags::ACK != 0
    }

    /// The URG flag.
    #[inline]
    pub fn urg(&self) -> bool {
        self.flags() & super::tcp_flags::URG != 0
    }

    /// The ECE flag.
    #[inline]
    pub fn ece(&self) -> bool {
        self.flags() & 0x40 != 0
    }

    /// The CWR flag.
    #[inline]
    pub fn cwr(&self) -> bool {
        self.flags() & 0x80 != 0
    }

    /// The window size, unscaled.
    #[inline]
    pub fn window_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WIN_SIZE.start)
    }

    /// The checksum, as sent (not verified).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The urgent pointer.
    #[inline]
    pub fn urgent_at(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT.start)
    }

    /// Where the header ends in the buffer: the data offset, or the end of
    /// the buffer if that comes first.
    #[inline]
    fn header_end(&self) -> usize {
        usize::from(self.header_len()).min(self.buffer.as_ref().len())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The option bytes present in the buffer.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_end()]
    }

    /// The payload after the header (empty if the header was cut).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_end()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 443 -> 51000, seq 1, ack 2, data offset 6 (one 4-byte option: MSS
    // 1460), flags SYN|ACK plus ECE, window 65535, checksum 0xbeef, urgent 0,
    // then two payload bytes.
    static SEGMENT: [u8; 26] = [
        0x01, 0xbb, 0xc7, 0x38, // ports
        0x00, 0x00, 0x00, 0x01, // seq
        0x00, 0x00, 0x00, 0x02, // ack
        0x61, 0x52, 0xff, 0xff, // data offset 6 + NS, flags, window
        0xbe, 0xef, 0x00, 0x00, // checksum, urgent
        0x02, 0x04, 0x05, 0xb4, // MSS option
        0x68, 0x69, // payload
    ];

    #[test]
    fn takes_apart_a_segment() {
        let packet = Packet::new_checked(&SEGMENT[..]).unwrap();
        assert_eq!(packet.src_port(), 443);
        assert_eq!(packet.dst_port(), 51000);
        assert_eq!(packet.seq_number(), 1);
        assert_eq!(packet.ack_number(), 2);
        assert_eq!(packet.header_len(), 24);
        assert!(packet.is_header_complete());
        assert_eq!(packet.flags(), 0x52);
        assert!(packet.ns());
        assert!(packet.syn() && packet.ack() && packet.ece());
        assert!(!packet.fin() && !packet.rst() && !packet.psh() && !packet.urg() && !packet.cwr());
        assert_eq!(packet.window_len(), 0xffff);
        assert_eq!(packet.checksum(), 0xbeef);
        assert_eq!(packet.urgent_at(), 0);
        assert_eq!(packet.options(), &[0x02, 0x04, 0x05, 0xb4]);
        assert_eq!(packet.payload(), b"hi");
    }

    #[test]
    fn cut_options_are_not_an_error() {
        let packet = Packet::new_checked(&SEGMENT[..22]).unwrap();
        assert!(!packet.is_header_complete());
        assert_eq!(packet.src_port(), 443);
        assert_eq!(packet.options(), &[0x02, 0x04]);
        assert_eq!(packet.payload(), &[] as &[u8]);
    }

    #[test]
    fn rejects_a_short_header_or_a_small_data_offset() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&SEGMENT[..len]),
                Err(Error),
                "len {len}"
            );
        }
        for offset in 0..5u8 {
            let mut bytes = SEGMENT;
            bytes[12] = offset << 4;
            assert_eq!(
                Packet::new_checked(&bytes[..]),
                Err(Error),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn largest_data_offset_is_60_bytes() {
        let mut bytes = SEGMENT;
        bytes[12] = 0xf0;
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.header_len(), 60);
        assert_eq!(packet.options().len(), 6);
        assert_eq!(packet.payload(), &[] as &[u8]);
    }
}
