//! Ethernet II frames and the VLAN tags that may follow the MAC addresses.
//!
//! [`Packet`] is the 14-byte Ethernet II header; [`VlanTag`] is the 4-byte
//! tail of an 802.1Q / 802.1ad tag (the TCI and the ethertype that follows
//! it), read after a tag protocol identifier recognised by [`is_vlan_tpid`].
//! Once `check_len` returns `Ok`, no accessor of either view panics.
#![forbid(unsafe_code)]

use super::{be16, Error, Result};

/// Ethertype values this crate names.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q customer VLAN tag (C-tag).
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service VLAN tag (S-tag, QinQ).
    pub const QINQ: u16 = 0x88a8;
    /// The pre-standard QinQ tag some switches still send.
    pub const QINQ_LEGACY: u16 = 0x9100;
}

/// Length of the Ethernet II header (two MACs and the ethertype).
pub const HEADER_LEN: usize = field::PAYLOAD;

/// Length of one VLAN tag after its tag protocol identifier (TCI + ethertype).
pub const VLAN_TAG_LEN: usize = vlan_field::PAYLOAD;

/// Whether `ethertype` is a tag protocol identifier that announces a VLAN tag
/// (802.1Q `0x8100`, 802.1ad `0x88a8`, or the legacy QinQ `0x9100`).
#[inline]
pub const fn is_vlan_tpid(ethertype: u16) -> bool {
    matches!(
        ethertype,
        ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_LEGACY
    )
}

mod field {
    pub(super) type Field = core::ops::Range<usize>;

    pub(super) const DESTINATION: Field = 0..6;
    pub(super) const SOURCE: Field = 6..12;
    pub(super) const ETHERTYPE: Field = 12..14;
    pub(super) const PAYLOAD: usize = 14;
}

mod vlan_field {
    pub(super) type Field = core::ops::Range<usize>;

    pub(super) const TCI: Field = 0..2;
    pub(super) const ETHERTYPE: Field = 2..4;
    pub(super) const PAYLOAD: usize = 4;
}

/// A read-only or read-write view of an Ethernet II header and what follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking its length.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps `buffer` and checks that the whole header is present.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the 14-byte header.
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

    /// The destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 6] {
        let mut mac = [0; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[field::DESTINATION]);
        mac
    }

    /// The source MAC address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 6] {
        let mut mac = [0; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[field::SOURCE]);
        mac
    }

    /// The ethertype (or, for 802.3 frames, the length) field.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ETHERTYPE.start)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Everything after the 14-byte header, borrowed from the buffer.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

/// A view of one VLAN tag: the 16-bit TCI and the ethertype that follows it.
/// The buffer starts right after the tag protocol identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    /// Wraps `buffer` without checking its length.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        VlanTag { buffer }
    }

    /// Wraps `buffer` and checks that the whole tag is present.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let tag = Self::new_unchecked(buffer);
        tag.check_len()?;
        Ok(tag)
    }

    /// Checks that the buffer holds the 4 bytes of the tag.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < VLAN_TAG_LEN {
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

    /// The raw tag control information (PCP, DEI, VID).
    #[inline]
    pub fn tci(&self) -> u16 {
        be16(self.buffer.as_ref(), vlan_field::TCI.start)
    }

    /// The VLAN identifier (low 12 bits of the TCI).
    #[inline]
    pub fn vlan_id(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// The priority code point (top 3 bits of the TCI).
    #[inline]
    pub fn priority(&self) -> u8 {
        // The shift leaves 3 bits, so the cast cannot truncate.
        (self.tci() >> 13) as u8
    }

    /// The drop-eligible indicator.
    #[inline]
    pub fn drop_eligible(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// The ethertype of what follows the tag (possibly another tag).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), vlan_field::ETHERTYPE.start)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> VlanTag<&'a T> {
    /// Everything after the tag, borrowed from the buffer.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[vlan_field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static FRAME: [u8; 18] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, // dst
        0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, // src
        0x08, 0x00, // IPv4
        0xde, 0xad, 0xbe, 0xef, // payload
    ];

    static TAG: [u8; 6] = [0xb0, 0x64, 0x86, 0xdd, 0x60, 0x00];

    #[test]
    fn takes_apart_an_ethernet_header() {
        let packet = Packet::new_checked(&FRAME[..]).unwrap();
        assert_eq!(packet.dst_addr(), [0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(packet.src_addr(), [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]);
        assert_eq!(packet.ethertype(), ethertype::IPV4);
        assert_eq!(packet.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn header_alone_has_an_empty_payload() {
        let packet = Packet::new_checked(&FRAME[..14]).unwrap();
        assert_eq!(packet.payload(), &[] as &[u8]);
    }

    #[test]
    fn rejects_a_short_header() {
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&FRAME[..len]), Err(Error), "len {len}");
        }
    }

    #[test]
    fn takes_apart_a_vlan_tag() {
        // PCP 5, DEI 1, VID 100.
        let tag = VlanTag::new_checked(&TAG[..]).unwrap();
        assert_eq!(tag.tci(), 0xb064);
        assert_eq!(tag.priority(), 5);
        assert!(tag.drop_eligible());
        assert_eq!(tag.vlan_id(), 100);
        assert_eq!(tag.ethertype(), ethertype::IPV6);
        assert_eq!(tag.payload(), &[0x60, 0x00]);
    }

    #[test]
    fn rejects_a_short_vlan_tag() {
        for len in 0..VLAN_TAG_LEN {
            assert_eq!(VlanTag::new_checked(&TAG[..len]), Err(Error), "len {len}");
        }
    }

    #[test]
    fn knows_the_tag_protocol_identifiers() {
        let cases = [
            (0x8100, true),
            (0x88a8, true),
            (0x9100, true),
            (0x0800, false),
            (0x86dd, false),
            (0x9200, false),
        ];
        for (tpid, expected) in cases {
            assert_eq!(is_vlan_tpid(tpid), expected, "{tpid:#06x}");
        }
    }
}
