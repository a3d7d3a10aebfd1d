//! UDP headers.
//!
//! [`Packet::check_len`] accepts a buffer that holds the 8-byte header; the
//! length field is not trusted. [`Packet::payload`] ends at the length field
//! or the end of the buffer, whichever comes first (a length of 0, as in an
//! IPv6 jumbogram, or below 8 means the rest of the buffer / nothing).
//! Once `check_len` returns `Ok`, no accessor panics.
#![forbid(unsafe_code)]

use super::{be16, Error, Result};

/// Length of the UDP header.
pub const HEADER_LEN: usize = field::CHECKSUM.end;

mod field {
    pub(super) type Field = core::ops::Range<usize>;

    pub(super) const SRC_PORT: Field = 0..2;
    pub(super) const DST_PORT: Field = 2..4;
    pub(super) const LENGTH: Field = 4..6;
    pub(super) const CHECKSUM: Field = 6..8;
}

/// A view of a UDP header and its payload.
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

    /// Checks that the 8-byte header is present.
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

    /// The length field (header and payload), as sent.
    #[inline]
    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The checksum, as sent (not verified; 0 means none over IPv4).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload, bounded as the module docs say.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        let end = match usize::from(self.length()) {
            0 => data.len(),
            len => len.clamp(HEADER_LEN, data.len()),
        };
        &data[HEADER_LEN..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 5353 -> 53, length 12, checksum 0x1234, 4 payload bytes, 2 padding.
    static DATAGRAM: [u8; 14] = [
        0x14, 0xe9, 0x00, 0x35, 0x00, 0x0c, 0x12, 0x34, 0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00,
    ];

    #[test]
    fn takes_apart_a_datagram() {
        let packet = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!(packet.src_port(), 5353);
        assert_eq!(packet.dst_port(), 53);
        assert_eq!(packet.length(), 12);
        assert_eq!(packet.checksum(), 0x1234);
        assert_eq!(packet.payload(), &[0xca, 0xfe, 0xba, 0xbe]);
    }

    #[test]
    fn length_field_bounds_the_payload() {
        let cases = [(0u16, 6usize), (3, 0), (8, 0), (10, 2), (14, 6), (400, 6)];
        for (len, payload_len) in cases {
            let mut bytes = DATAGRAM;
            bytes[4..6].copy_from_slice(&len.to_be_bytes());
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(packet.payload().len(), payload_len, "length {len}");
        }
    }

    #[test]
    fn rejects_a_short_header() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&DATAGRAM[..len]),
                Err(Error),
                "len {len}"
            );
        }
    }
}
