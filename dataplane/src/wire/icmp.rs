//! ICMP and ICMPv6 message headers.
//!
//! Both protocols start with the same four bytes — type, code, checksum —
//! and [`Packet`] reads those for either; the meaning of a type depends on
//! which protocol carried it. Once `check_len` returns `Ok`, no accessor
//! panics.
#![forbid(unsafe_code)]

use super::{be16, Error, Result};

/// Length of the common ICMP/ICMPv6 header (type, code, checksum).
pub const HEADER_LEN: usize = field::CHECKSUM.end;

mod field {
    pub(super) type Field = core::ops::Range<usize>;

    pub(super) const TYPE: usize = 0;
    pub(super) const CODE: usize = 1;
    pub(super) const CHECKSUM: Field = 2..4;
}

/// A view of an ICMP or ICMPv6 message.
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

    /// Checks that type, code and checksum are present.
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

    /// The message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// The message code.
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum, as sent (not verified).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The message body after the checksum (for most types it starts with a
    /// 4-byte type-specific field, such as an echo's identifier and sequence).
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request (type 8, code 0), checksum 0xf7fe, id 1, seq 1.
    static ECHO: [u8; 8] = [0x08, 0x00, 0xf7, 0xfe, 0x00, 0x01, 0x00, 0x01];

    // ICMPv6 destination unreachable (1), port unreachable (4), header only.
    static UNREACHABLE_V6: [u8; 4] = [0x01, 0x04, 0x12, 0x34];

    #[test]
    fn takes_apart_messages() {
        let packet = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(packet.msg_type(), 8);
        assert_eq!(packet.msg_code(), 0);
        assert_eq!(packet.checksum(), 0xf7fe);
        assert_eq!(packet.body(), &[0, 1, 0, 1]);

        let packet = Packet::new_checked(&UNREACHABLE_V6[..]).unwrap();
        assert_eq!((packet.msg_type(), packet.msg_code()), (1, 4));
        assert_eq!(packet.body(), &[] as &[u8]);
    }

    #[test]
    fn rejects_a_short_header() {
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&ECHO[..len]), Err(Error), "len {len}");
        }
    }
}
