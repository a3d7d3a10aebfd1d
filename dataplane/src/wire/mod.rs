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

// The helper modules (ethernet, ipv4, ipv6, tcp, udp, icmp) are declared here
// by the wire implementation.

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

/// Decodes an Ethernet frame up to `depth`. Never panics; whatever could not
/// be read stays at its default in the result.
pub fn decode(frame: &[u8], depth: Depth) -> Decoded {
    let _ = (frame, depth);
    Decoded::default()
}
