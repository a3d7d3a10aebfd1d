//! A deterministic synthetic traffic generator.
//!
//! [`generate`] turns a [`GenConfig`] into a stream of Ethernet frames with
//! capture metadata ([`GenPacket`]). The same config (seed included) gives
//! the same packets, byte for byte, on the same platform. What it promises
//! about the frames:
//! - IPv4 header checksums and TCP/UDP/ICMP/ICMPv6 checksums are correct
//!   (over the whole datagram for fragmented ones), lengths are consistent,
//!   and short frames are zero-padded to the 60-byte Ethernet minimum.
//! - Fragmented datagrams are emitted whole, fragment after fragment, with
//!   correct offsets and MF bits (IPv4 flags or the IPv6 fragment header),
//!   unless the packet count runs out in the middle of one.
//! - Frame sizes follow a [`SizeMix`] of on-the-wire sizes *including* the
//!   4-byte FCS, which captures do not hold: a 64-byte frame is stored as
//!   60 bytes. A frame never gets smaller than its headers need, and UDP
//!   to DNS, NetBIOS-NS, NTP or SSDP ports carries a valid message of that
//!   protocol, so those frames are as long as the message needs.
//! - Flows are picked with a Zipf-like skew; addresses come from a fixed
//!   pool (192.168.1.10–20, 10/8, 172.16/12, public-looking addresses and
//!   2001:db8::/32) with their own skew; ports include 53, 80, 137–139,
//!   443, 445, 8080 and ephemerals.
//! - Each flow stays on one of the configured interfaces, chosen from the
//!   flow's hash, and takes that interface's direction rule.
#![forbid(unsafe_code)]

mod frame;
pub mod presets;
mod rng;
mod select;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use ferrocap_dataplane::pcap::{CaptureRecord, CapturedDirection};

pub use select::{select, MatchSelection, Selected, MAX_TRIES};

use frame::{proto, Addrs, Ext, Link, V4Fields};
use rng::{Rng, Zipf};

/// A distribution of frame sizes, in bytes on the wire including the FCS
/// (the stored frame is 4 bytes shorter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeMix {
    /// Every frame 64 bytes (stored as 60): the line-rate worst case.
    Fixed64,
    /// Simple IMIX: 64, 594 and 1518 bytes in the ratio 7:4:1.
    Imix,
    /// Every frame this size (at least 64).
    Fixed(u16),
    /// `(size, weight)` pairs.
    Custom(Vec<(u16, u32)>),
}

impl SizeMix {
    fn table(&self) -> Vec<(u16, u32)> {
        let t = match self {
            Self::Fixed64 => vec![(64, 1)],
            Self::Imix => vec![(64, 7), (594, 4), (1518, 1)],
            Self::Fixed(n) => vec![(*n, 1)],
            Self::Custom(v) => v.iter().copied().filter(|&(_, w)| w > 0).collect(),
        };
        if t.is_empty() {
            vec![(64, 1)]
        } else {
            t.into_iter().map(|(s, w)| (s.clamp(64, 9018), w)).collect()
        }
    }
}

/// How packets on a generated interface get their direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectionRule {
    /// Every packet is inbound.
    In,
    /// Every packet is outbound.
    Out,
    /// No direction is recorded.
    Unknown,
}

/// One interface of a multi-interface capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenInterface {
    /// The pcapng `if_name`, e.g. "Internet" or "LAN".
    pub name: String,
    /// The direction packets on it carry.
    pub direction: DirectionRule,
}

/// The error of parsing a [`GenInterface`] or validating a [`GenConfig`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenConfigError {
    /// An interface spec is not `NAME[:in|out|unknown]`.
    #[error("bad interface {0:?}: expected NAME or NAME:in, NAME:out, NAME:unknown")]
    BadInterface(String),
    /// A fraction is outside 0..=1 or not a number.
    #[error("{name} = {value} is not a fraction between 0 and 1")]
    BadFraction {
        /// The field.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// Fractions that share the same packets add up to more than 1.
    #[error("{what} add up to {sum}, more than 1")]
    Overcommitted {
        /// Which fractions.
        what: &'static str,
        /// Their sum.
        sum: f64,
    },
    /// `ipv6_ext_fraction` asks for more IPv6 packets than there are.
    #[error("ipv6_ext_fraction {ext} is more than the share of unfragmented IPv6 TCP/UDP packets {available}")]
    TooManyExtHeaders {
        /// Requested.
        ext: f64,
        /// Available.
        available: f64,
    },
    /// `flows` is 0.
    #[error("flows must be at least 1")]
    NoFlows,
    /// A frame size spec is not `SIZE[:WEIGHT]` with SIZE in 64..=9018 and
    /// WEIGHT at least 1.
    #[error(
        "bad frame size {0:?}: expected SIZE or SIZE:WEIGHT, SIZE from {min} to {max} bytes \
         (with the FCS), WEIGHT a whole number of at least 1",
        min = SizeWeight::MIN,
        max = SizeWeight::MAX
    )]
    BadSize(String),
    /// [`select`] drew this many candidates in a row without finding a
    /// packet of the kind it needed.
    #[error("no {} packet in {tried} generated candidates: the expression matches {} in this preset", if *matching { "matching" } else { "non-matching" }, if *matching { "too rarely" } else { "nearly everything" })]
    MatchTooRare {
        /// Whether a matching packet was wanted.
        matching: bool,
        /// Candidates drawn.
        tried: u64,
    },
}

/// One entry of a configured frame size distribution: frames of `size`
/// bytes (with the FCS) get `weight` shares. Parsed from `SIZE[:WEIGHT]`
/// (weight 1 when not given), as `ferrocap-bench gen --sizes` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeWeight {
    /// Frame size on the wire, FCS included.
    pub size: u16,
    /// Relative share.
    pub weight: u32,
}

impl SizeWeight {
    /// The smallest Ethernet frame.
    pub const MIN: u16 = 64;
    /// The largest frame the generator writes (a 9000-byte jumbo MTU).
    pub const MAX: u16 = 9018;
}

impl FromStr for SizeWeight {
    type Err = GenConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || GenConfigError::BadSize(s.to_owned());
        let (size, weight) = match s.split_once(':') {
            Some((size, weight)) => (size, weight.trim().parse::<u32>().map_err(|_| bad())?),
            None => (s, 1),
        };
        let size = size.trim().parse::<u16>().map_err(|_| bad())?;
        if !(Self::MIN..=Self::MAX).contains(&size) || weight == 0 {
            return Err(bad());
        }
        Ok(Self { size, weight })
    }
}

impl From<&[SizeWeight]> for SizeMix {
    fn from(sizes: &[SizeWeight]) -> Self {
        SizeMix::Custom(sizes.iter().map(|s| (s.size, s.weight)).collect())
    }
}

impl FromStr for GenInterface {
    type Err = GenConfigError;

    /// `NAME`, `NAME:in`, `NAME:out` or `NAME:unknown`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, dir) = match s.rsplit_once(':') {
            Some((n, d)) => (n, d),
            None => (s, "unknown"),
        };
        let direction = match dir.to_ascii_lowercase().as_str() {
            "in" => DirectionRule::In,
            "out" => DirectionRule::Out,
            "unknown" | "" => DirectionRule::Unknown,
            _ => return Err(GenConfigError::BadInterface(s.to_owned())),
        };
        if name.is_empty() {
            return Err(GenConfigError::BadInterface(s.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            direction,
        })
    }
}

/// What to generate. Fractions are of *all* packets unless a field says
/// otherwise; TCP takes whatever share of the IP packets is left.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// PRNG seed. Same seed, same packets.
    pub seed: u64,
    /// Number of frames to produce.
    pub packets: u64,
    /// Frame size distribution.
    pub size: SizeMix,
    /// Share of *IP* packets (fragments included) that are IPv6.
    pub ipv6_fraction: f64,
    /// Frames with one 802.1Q tag.
    pub vlan_fraction: f64,
    /// Frames with two tags (802.1ad outer, 802.1Q inner).
    pub qinq_fraction: f64,
    /// Frames that are IP fragments (first and later ones both count).
    /// Fragmented datagrams carry UDP or ICMP echo.
    pub fragment_fraction: f64,
    /// Unfragmented IPv6 packets whose TCP/UDP header sits behind a chain
    /// of extension headers (hop-by-hop, destination options, routing, AH).
    /// At most `ipv6_fraction × (1 − arp − fragment − icmp)`.
    pub ipv6_ext_fraction: f64,
    /// ARP requests and replies.
    pub arp_fraction: f64,
    /// Unfragmented ICMP/ICMPv6 echo packets.
    pub icmp_fraction: f64,
    /// Unfragmented UDP packets.
    pub udp_fraction: f64,
    /// Frames cut short as if by a small snaplen (their original length is
    /// kept); only frames longer than the cut are affected.
    pub truncate_fraction: f64,
    /// Number of distinct flows per traffic class.
    pub flows: u32,
    /// Zipf exponent of flow popularity (0 = uniform; ~1 = realistic).
    pub zipf_s: f64,
    /// Interfaces to spread flows over; empty means one interface (0)
    /// with no direction.
    pub interfaces: Vec<GenInterface>,
    /// Timestamp of the first packet, ns since the epoch.
    pub start_ts_nanos: u64,
    /// Mean gap between packets in ns (gaps are uniform in 0..2×mean).
    pub mean_gap_nanos: u64,
}

impl Default for GenConfig {
    /// The `mix` preset with seed 1 and 10 000 packets.
    fn default() -> Self {
        presets::mix(1, 10_000)
    }
}

impl GenConfig {
    /// Checks that every fraction is in 0..=1 and that they fit together.
    pub fn validate(&self) -> Result<(), GenConfigError> {
        let fields = [
            ("ipv6_fraction", self.ipv6_fraction),
            ("vlan_fraction", self.vlan_fraction),
            ("qinq_fraction", self.qinq_fraction),
            ("fragment_fraction", self.fragment_fraction),
            ("ipv6_ext_fraction", self.ipv6_ext_fraction),
            ("arp_fraction", self.arp_fraction),
            ("icmp_fraction", self.icmp_fraction),
            ("udp_fraction", self.udp_fraction),
            ("truncate_fraction", self.truncate_fraction),
        ];
        for (name, value) in fields {
            if !(0.0..=1.0).contains(&value) {
                return Err(GenConfigError::BadFraction { name, value });
            }
        }
        if !self.zipf_s.is_finite() || self.zipf_s < 0.0 {
            return Err(GenConfigError::BadFraction {
                name: "zipf_s",
                value: self.zipf_s,
            });
        }
        let tags = self.vlan_fraction + self.qinq_fraction;
        if tags > 1.0 {
            return Err(GenConfigError::Overcommitted {
                what: "vlan_fraction + qinq_fraction",
                sum: tags,
            });
        }
        let kinds =
            self.arp_fraction + self.fragment_fraction + self.icmp_fraction + self.udp_fraction;
        if kinds > 1.0 {
            return Err(GenConfigError::Overcommitted {
                what: "arp + fragment + icmp + udp fractions",
                sum: kinds,
            });
        }
        let available = self.ipv6_fraction
            * (1.0 - self.arp_fraction - self.fragment_fraction - self.icmp_fraction);
        if self.ipv6_ext_fraction > available + 1e-9 {
            return Err(GenConfigError::TooManyExtHeaders {
                ext: self.ipv6_ext_fraction,
                available,
            });
        }
        if self.flows == 0 {
            return Err(GenConfigError::NoFlows);
        }
        Ok(())
    }
}

/// The network layer of a generated packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L3Kind {
    /// ARP.
    Arp,
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// The transport layer of a generated packet (for later fragments: of the
/// datagram they belong to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4Kind {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP or ICMPv6.
    Icmp,
    /// None (ARP).
    None,
}

/// Where a packet sits in a fragmented datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FragmentPart {
    /// Not a fragment.
    Whole,
    /// Offset 0, more fragments follow; the L4 header is here.
    First,
    /// A later fragment (offset > 0).
    Later,
}

/// What the generator put into a packet, for summaries and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketInfo {
    /// Network layer.
    pub l3: L3Kind,
    /// Transport layer.
    pub l4: L4Kind,
    /// VLAN tags: 0, 1, or 2 (QinQ).
    pub vlan_tags: u8,
    /// Fragment position.
    pub fragment: FragmentPart,
    /// IPv6 extension headers (other than a lone fragment header) present.
    pub ipv6_ext: bool,
    /// The frame was cut short (`frame.len() < orig_len`).
    pub truncated: bool,
    /// TCP flags (0 when not TCP).
    pub tcp_flags: u8,
}

/// One generated frame with its capture metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenPacket {
    /// Timestamp, ns since the epoch.
    pub ts_nanos: u64,
    /// The Ethernet frame as captured (without FCS).
    pub frame: Vec<u8>,
    /// The frame's length on the wire (larger than `frame.len()` only for
    /// truncated frames).
    pub orig_len: u32,
    /// Index into [`GenConfig::interfaces`] (0 when there are none).
    pub interface: u32,
    /// The interface's direction.
    pub direction: Option<CapturedDirection>,
    /// What the frame contains.
    pub info: PacketInfo,
}

impl GenPacket {
    /// The packet as a record for [`ferrocap_dataplane::pcap::DumpWriter::write`].
    pub fn as_record(&self) -> CaptureRecord<'_> {
        CaptureRecord {
            ts_nanos: self.ts_nanos,
            orig_len: self.orig_len,
            data: &self.frame,
            interface: self.interface,
            direction: self.direction,
        }
    }
}

/// Counts of what was generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Composition {
    /// Frames.
    pub packets: u64,
    /// Bytes on the wire (sum of `orig_len`, FCS excluded).
    pub wire_bytes: u64,
    /// Bytes captured (sum of `frame.len()`).
    pub captured_bytes: u64,
    /// ARP frames.
    pub arp: u64,
    /// IPv4 frames.
    pub ipv4: u64,
    /// IPv6 frames.
    pub ipv6: u64,
    /// TCP (including fragments of nothing: TCP is never fragmented here).
    pub tcp: u64,
    /// UDP packets and fragments of UDP datagrams.
    pub udp: u64,
    /// ICMP/ICMPv6 packets and fragments of ICMP datagrams.
    pub icmp: u64,
    /// Frames with exactly one VLAN tag.
    pub vlan: u64,
    /// Frames with two VLAN tags.
    pub qinq: u64,
    /// First fragments.
    pub first_fragments: u64,
    /// Later fragments.
    pub later_fragments: u64,
    /// IPv6 packets with extension headers.
    pub ipv6_ext: u64,
    /// Truncated frames.
    pub truncated: u64,
}

impl Composition {
    /// Counts one packet.
    pub fn add(&mut self, p: &GenPacket) {
        let i = &p.info;
        self.packets += 1;
        self.wire_bytes += u64::from(p.orig_len);
        self.captured_bytes += p.frame.len() as u64;
        match i.l3 {
            L3Kind::Arp => self.arp += 1,
            L3Kind::Ipv4 => self.ipv4 += 1,
            L3Kind::Ipv6 => self.ipv6 += 1,
        }
        match i.l4 {
            L4Kind::Tcp => self.tcp += 1,
            L4Kind::Udp => self.udp += 1,
            L4Kind::Icmp => self.icmp += 1,
            L4Kind::None => {}
        }
        match i.vlan_tags {
            0 => {}
            1 => self.vlan += 1,
            _ => self.qinq += 1,
        }
        match i.fragment {
            FragmentPart::Whole => {}
            FragmentPart::First => self.first_fragments += 1,
            FragmentPart::Later => self.later_fragments += 1,
        }
        self.ipv6_ext += u64::from(i.ipv6_ext);
        self.truncated += u64::from(i.truncated);
    }

    /// `n` as a fraction of all packets.
    pub fn share(&self, n: u64) -> f64 {
        if self.packets == 0 {
            0.0
        } else {
            n as f64 / self.packets as f64
        }
    }
}

impl fmt::Display for Composition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let avg = self.wire_bytes.checked_div(self.packets).unwrap_or(0);
        writeln!(
            f,
            "{} packets, {} bytes on the wire (avg {} + 4 FCS), {} captured",
            self.packets, self.wire_bytes, avg, self.captured_bytes
        )?;
        let rows = [
            ("IPv4", self.ipv4),
            ("IPv6", self.ipv6),
            ("ARP", self.arp),
            ("TCP", self.tcp),
            ("UDP", self.udp),
            ("ICMP", self.icmp),
            ("802.1Q", self.vlan),
            ("QinQ", self.qinq),
            ("fragments (first)", self.first_fragments),
            ("fragments (later)", self.later_fragments),
            ("IPv6 ext headers", self.ipv6_ext),
            ("truncated", self.truncated),
        ];
        for (name, n) in rows {
            writeln!(f, "  {name:<18} {n:>10}  {:>6.2}%", 100.0 * self.share(n))?;
        }
        Ok(())
    }
}

/// Starts generating. The iterator yields exactly `cfg.packets` frames.
/// `cfg` should pass [`GenConfig::validate`]; out-of-range fractions are
/// clamped rather than rejected here.
pub fn generate(cfg: &GenConfig) -> Generator {
    Generator::new(cfg.clone())
}

/// Traffic classes; a flow is identified by its class and an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Tcp,
    Udp,
    Icmp,
    Arp,
    Fragment,
}

/// What one packet needs from its flow, derived deterministically from
/// `(seed, class, v6, index)`.
#[derive(Debug, Clone, Copy)]
struct Flow {
    hash: u64,
    client: Addrs,
    client_mac: [u8; 6],
    server_mac: [u8; 6],
    sport: u16,
    dport: u16,
    vlans: [u16; 2],
    interface: u32,
}

/// The iterator returned by [`generate`].
pub struct Generator {
    cfg: GenConfig,
    rng: Rng,
    sizes: Vec<(u16, u32)>,
    flow_zipf: Zipf,
    addr_zipf: Zipf,
    v4_clients: Vec<[u8; 4]>,
    v4_servers: Vec<[u8; 4]>,
    v6_clients: Vec<[u8; 16]>,
    v6_servers: Vec<[u8; 16]>,
    /// Per-event probability of a fragmented datagram.
    frag_event: f64,
    emitted: u64,
    ts: u64,
    pending: VecDeque<GenPacket>,
    seq: u32,
}

/// Mean number of fragments per fragmented datagram (2..=4 uniformly).
const MEAN_FRAGMENTS: f64 = 3.0;

const ROUTER_MAC: [u8; 6] = [0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x01];

impl Generator {
    fn new(cfg: GenConfig) -> Self {
        let f = cfg.fragment_fraction.clamp(0.0, 0.999);
        let frag_event = f / (MEAN_FRAGMENTS - f * (MEAN_FRAGMENTS - 1.0));
        let (v4_clients, v4_servers) = pools::v4();
        let (v6_clients, v6_servers) = pools::v6();
        let addr_zipf = Zipf::new(
            v4_clients
                .len()
                .max(v4_servers.len())
                .max(v6_clients.len())
                .max(v6_servers.len()),
            1.0,
        );
        Self {
            sizes: cfg.size.table(),
            flow_zipf: Zipf::new(cfg.flows.max(1) as usize, cfg.zipf_s.max(0.0)),
            addr_zipf,
            rng: Rng::new(cfg.seed),
            v4_clients,
            v4_servers,
            v6_clients,
            v6_servers,
            frag_event,
            emitted: 0,
            ts: cfg.start_ts_nanos,
            pending: VecDeque::new(),
            seq: 0,
            cfg,
        }
    }

    fn pick<T: Copy>(&self, pool: &[T], rng: &mut Rng) -> T {
        let i = self.addr_zipf.sample(rng) % pool.len();
        pool[i]
    }

    fn flow(&mut self, class: Class, v6: bool) -> Flow {
        let index = self.flow_zipf.sample(&mut self.rng) as u64;
        let tag = class as u64 * 2 + u64::from(v6);
        let mut r = Rng::derived(self.cfg.seed, tag + 1, index);
        let hash = r.next_u64();
        let (client, server_addr_bytes): (Addrs, Vec<u8>) = if v6 {
            let c = self.pick(&self.v6_clients, &mut r);
            let s = self.pick(&self.v6_servers, &mut r);
            (Addrs::V6 { src: c, dst: s }, s.to_vec())
        } else {
            let c = self.pick(&self.v4_clients, &mut r);
            let s = self.pick(&self.v4_servers, &mut r);
            (Addrs::V4 { src: c, dst: s }, s.to_vec())
        };
        let client_mac = match client {
            Addrs::V4 { src, .. } => host_mac(&src),
            Addrs::V6 { src, .. } => host_mac(&src),
        };
        let server_mac = if pools::is_local(&server_addr_bytes) {
            host_mac(&server_addr_bytes)
        } else {
            ROUTER_MAC
        };
        let (sport, dport) = match class {
            Class::Tcp => (ephemeral(&mut r), r.weighted(ports::TCP)),
            Class::Udp => {
                let d = r.weighted(ports::UDP);
                // NetBIOS name/datagram and NTP talk from their own port.
                let s = if matches!(d, 123 | 137 | 138) {
                    d
                } else {
                    ephemeral(&mut r)
                };
                (s, d)
            }
            Class::Fragment => (ephemeral(&mut r), r.range(40_000, 60_999) as u16),
            Class::Icmp | Class::Arp => (r.next_u32() as u16, 0),
        };
        let vlans = [
            [1000, 2000, 3000][r.below(3) as usize],
            [10, 20, 100, 200, 300][r.below(5) as usize],
        ];
        let n = self.cfg.interfaces.len().max(1) as u64;
        Flow {
            hash,
            client,
            client_mac,
            server_mac,
            sport,
            dport,
            vlans,
            interface: (hash % n) as u32,
        }
    }

    fn target_len(&mut self) -> usize {
        usize::from(self.rng.weighted(&self.sizes)) - 4
    }

    fn vlan_tags(&mut self) -> u8 {
        let u = self.rng.unit();
        if u < self.cfg.qinq_fraction {
            2
        } else if u < self.cfg.qinq_fraction + self.cfg.vlan_fraction {
            1
        } else {
            0
        }
    }

    fn link(flow: &Flow, tags: u8, reply: bool) -> Link {
        let (src, dst) = if reply {
            (flow.server_mac, flow.client_mac)
        } else {
            (flow.client_mac, flow.server_mac)
        };
        let vlans = if tags == 2 {
            flow.vlans
        } else {
            [flow.vlans[1], 0]
        };
        Link {
            dst,
            src,
            vlans,
            tags,
        }
    }

    /// Produces the next event's packets into `pending`.
    fn event(&mut self) {
        let tags = self.vlan_tags();
        if self.rng.chance(self.frag_event) {
            self.fragmented(tags);
            return;
        }
        let f = self.cfg.fragment_fraction.min(0.999);
        let rest = 1.0 - f;
        let u = self.rng.unit() * rest;
        let arp = self.cfg.arp_fraction;
        let icmp = self.cfg.icmp_fraction;
        let udp = self.cfg.udp_fraction;
        if u < arp {
            self.arp(tags);
            return;
        }
        let class = if u < arp + icmp {
            Class::Icmp
        } else if u < arp + icmp + udp {
            Class::Udp
        } else {
            Class::Tcp
        };
        let v6 = self.rng.chance(self.cfg.ipv6_fraction);
        // Extension headers go in front of TCP/UDP only, so the conditional
        // probability is taken over unfragmented IPv6 TCP/UDP packets.
        let tcp_udp = (rest - arp - icmp).max(1e-9);
        let ext_p = self.cfg.ipv6_ext_fraction / (self.cfg.ipv6_fraction * tcp_udp).max(1e-9);
        let ext = v6 && class != Class::Icmp && self.rng.chance(ext_p);
        self.ip_packet(class, v6, ext, tags);
    }

    fn arp(&mut self, tags: u8) {
        let flow = self.flow(Class::Arp, false);
        let reply = self.rng.chance(0.4);
        let Addrs::V4 { src: host, .. } = flow.client else {
            return;
        };
        let gw = [host[0], host[1], host[2], 1];
        let gw_mac = host_mac(&gw);
        let mut link = Self::link(&flow, tags, false);
        let mut b = Vec::with_capacity(64);
        if reply {
            link.src = gw_mac;
            link.dst = flow.client_mac;
            link.write(&mut b, frame::ETHERTYPE_ARP);
            frame::arp(&mut b, true, gw_mac, gw, flow.client_mac, host);
        } else {
            link.src = flow.client_mac;
            link.dst = [0xff; 6];
            link.write(&mut b, frame::ETHERTYPE_ARP);
            frame::arp(&mut b, false, flow.client_mac, host, [0; 6], gw);
        }
        let info = PacketInfo {
            l3: L3Kind::Arp,
            l4: L4Kind::None,
            vlan_tags: tags,
            fragment: FragmentPart::Whole,
            ipv6_ext: false,
            truncated: false,
            tcp_flags: 0,
        };
        self.push(b, &flow, info);
    }

    fn ext_chain(&mut self) -> Vec<Ext> {
        let ah = Ext::Ah {
            spi: 0x1000 + self.rng.below(16) as u32,
            seq: self.rng.next_u32() >> 8,
        };
        match self.rng.below(6) {
            0 => vec![Ext::HopByHop],
            1 => vec![Ext::HopByHop, Ext::DestOpts],
            2 => vec![Ext::Routing],
            3 => vec![Ext::HopByHop, Ext::Routing, Ext::DestOpts],
            4 => vec![ah],
            _ => vec![Ext::DestOpts, ah],
        }
    }

    fn ip_packet(&mut self, class: Class, v6: bool, ext: bool, tags: u8) {
        let flow = self.flow(class, v6);
        let target = self.target_len();
        let chain = if ext { self.ext_chain() } else { Vec::new() };
        let ext_len: usize = chain.iter().map(|e| e.len()).sum();
        let ip_hdr = if v6 { 40 + ext_len } else { 20 };
        let link_len = Link::header_len(tags);
        let mut tcp_flags = 0;
        let (reply, l4kind, upper, segment) = match class {
            Class::Tcp => {
                let flags = self.rng.weighted(TCP_FLAGS);
                tcp_flags = flags;
                let reply = match flags {
                    0x02 => false,
                    0x12 => true,
                    _ => self.rng.chance(0.45),
                };
                let addrs = if reply {
                    flow.client.swapped()
                } else {
                    flow.client
                };
                let (sp, dp) = if reply {
                    (flow.dport, flow.sport)
                } else {
                    (flow.sport, flow.dport)
                };
                let hlen = if flags & 0x02 != 0 { 24 } else { 20 };
                // A payload of 1-3 bytes is too short for some dissectors
                // (SSH reads a 4-byte length); pad the frame instead.
                let payload = match target.saturating_sub(link_len + ip_hdr + hlen) {
                    0..=3 => 0,
                    n => n,
                };
                let seq = (flow.hash as u32).wrapping_add(self.rng.next_u32() >> 12);
                let ack = (flow.hash >> 32) as u32;
                let win = [64240, 65535, 29200, 502, 8192][self.rng.below(5) as usize];
                let seg = frame::tcp(addrs, sp, dp, seq, ack, flags, win, payload);
                (reply, L4Kind::Tcp, proto::TCP, seg)
            }
            Class::Udp => {
                let reply = self.rng.chance(0.45);
                let addrs = if reply {
                    flow.client.swapped()
                } else {
                    flow.client
                };
                let (sp, dp) = if reply {
                    (flow.dport, flow.sport)
                } else {
                    (flow.sport, flow.dport)
                };
                let payload_len = target.saturating_sub(link_len + ip_hdr + 8);
                let payload = app::udp_payload(flow.dport, reply, payload_len, &mut self.rng);
                (
                    reply,
                    L4Kind::Udp,
                    proto::UDP,
                    frame::udp(addrs, sp, dp, &payload),
                )
            }
            _ => {
                let reply = self.rng.chance(0.5);
                let addrs = if reply {
                    flow.client.swapped()
                } else {
                    flow.client
                };
                let payload = target.saturating_sub(link_len + ip_hdr + 8);
                self.seq = self.seq.wrapping_add(1);
                let seg = frame::icmp_echo(addrs, reply, flow.sport, self.seq as u16, payload);
                let p = if v6 { proto::ICMPV6 } else { proto::ICMP };
                (reply, L4Kind::Icmp, p, seg)
            }
        };
        let addrs = if reply {
            flow.client.swapped()
        } else {
            flow.client
        };
        let link = Self::link(&flow, tags, reply);
        let mut b = Vec::with_capacity(link_len + ip_hdr + segment.len());
        match addrs {
            Addrs::V4 { src, dst } => {
                link.write(&mut b, frame::ETHERTYPE_IPV4);
                let f = V4Fields {
                    id: self.rng.next_u32() as u16,
                    ttl: if reply { 52 } else { 64 },
                    frag: if upper == proto::TCP { 0x4000 } else { 0 },
                };
                frame::ipv4(&mut b, src, dst, upper, f, &segment);
            }
            Addrs::V6 { src, dst } => {
                link.write(&mut b, frame::ETHERTYPE_IPV6);
                frame::ipv6(&mut b, src, dst, flow.hash as u32, &chain, upper, &segment);
            }
        }
        let info = PacketInfo {
            l3: if v6 { L3Kind::Ipv6 } else { L3Kind::Ipv4 },
            l4: l4kind,
            vlan_tags: tags,
            fragment: FragmentPart::Whole,
            ipv6_ext: ext,
            truncated: false,
            tcp_flags,
        };
        self.push(b, &flow, info);
    }

    fn fragmented(&mut self, tags: u8) {
        let v6 = self.rng.chance(self.cfg.ipv6_fraction);
        let flow = self.flow(Class::Fragment, v6);
        let icmp = self.rng.chance(0.4);
        let hbh = v6 && self.rng.chance(0.2);
        let link_len = Link::header_len(tags);
        let hdr = link_len
            + if v6 {
                40 + 8 + if hbh { 8 } else { 0 }
            } else {
                20
            };
        let max_unit = if v6 { 1448 } else { 1480 };
        let target = self.target_len();
        let unit = (target.saturating_sub(hdr) / 8 * 8).clamp(8, max_unit);
        let count = self.rng.range(2, 4) as usize;
        let total = unit * (count - 1) + self.rng.range(1, unit as u64) as usize;
        let reply = self.rng.chance(0.3);
        let addrs = if reply {
            flow.client.swapped()
        } else {
            flow.client
        };
        let (l4, upper, l4kind) = if icmp {
            self.seq = self.seq.wrapping_add(1);
            let seg = frame::icmp_echo(addrs, reply, flow.sport, self.seq as u16, total - 8);
            (
                seg,
                if v6 { proto::ICMPV6 } else { proto::ICMP },
                L4Kind::Icmp,
            )
        } else {
            let (sp, dp) = if reply {
                (flow.dport, flow.sport)
            } else {
                (flow.sport, flow.dport)
            };
            let payload = vec![0u8; total - 8];
            (frame::udp(addrs, sp, dp, &payload), proto::UDP, L4Kind::Udp)
        };
        let id = self.rng.next_u32();
        let link = Self::link(&flow, tags, reply);
        for (i, chunk) in l4.chunks(unit).enumerate() {
            let offset_units = (i * unit / 8) as u16;
            let more = (i + 1) * unit < l4.len();
            let mut b = Vec::with_capacity(hdr + chunk.len());
            match addrs {
                Addrs::V4 { src, dst } => {
                    link.write(&mut b, frame::ETHERTYPE_IPV4);
                    let f = V4Fields {
                        id: id as u16,
                        ttl: 64,
                        frag: offset_units | if more { 0x2000 } else { 0 },
                    };
                    frame::ipv4(&mut b, src, dst, upper, f, chunk);
                }
                Addrs::V6 { src, dst } => {
                    link.write(&mut b, frame::ETHERTYPE_IPV6);
                    let fh = Ext::Fragment {
                        offset_units,
                        more,
                        id,
                    };
                    let chain: &[Ext] = if hbh { &[Ext::HopByHop, fh] } else { &[fh] };
                    frame::ipv6(&mut b, src, dst, flow.hash as u32, chain, upper, chunk);
                }
            }
            let info = PacketInfo {
                l3: if v6 { L3Kind::Ipv6 } else { L3Kind::Ipv4 },
                l4: l4kind,
                vlan_tags: tags,
                fragment: if i == 0 {
                    FragmentPart::First
                } else {
                    FragmentPart::Later
                },
                ipv6_ext: hbh,
                truncated: false,
                tcp_flags: 0,
            };
            self.push(b, &flow, info);
        }
    }

    /// Pads, maybe truncates, stamps and queues one frame.
    fn push(&mut self, mut frame: Vec<u8>, flow: &Flow, mut info: PacketInfo) {
        if frame.len() < 60 {
            frame.resize(60, 0);
        }
        let orig_len = frame.len() as u32;
        if self.rng.chance(self.cfg.truncate_fraction) {
            let cut = [64usize, 96, 128][self.rng.below(3) as usize];
            if frame.len() > cut {
                frame.truncate(cut);
                info.truncated = true;
            }
        }
        let gap = self
            .rng
            .below(self.cfg.mean_gap_nanos.saturating_mul(2).max(1));
        self.ts = self.ts.saturating_add(gap);
        let (interface, direction) = match self.cfg.interfaces.get(flow.interface as usize) {
            Some(i) => (
                flow.interface,
                match i.direction {
                    DirectionRule::In => Some(CapturedDirection::Inbound),
                    DirectionRule::Out => Some(CapturedDirection::Outbound),
                    DirectionRule::Unknown => None,
                },
            ),
            None => (0, None),
        };
        self.pending.push_back(GenPacket {
            ts_nanos: self.ts,
            frame,
            orig_len,
            interface,
            direction,
            info,
        });
    }
}

impl Iterator for Generator {
    type Item = GenPacket;

    fn next(&mut self) -> Option<GenPacket> {
        if self.emitted >= self.cfg.packets {
            return None;
        }
        while self.pending.is_empty() {
            self.event();
        }
        self.emitted += 1;
        self.pending.pop_front()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.cfg.packets - self.emitted).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

/// TCP flag combinations and their weights: mostly the normal life of a
/// connection, plus a few odd ones (URG, all six, none, SYN+FIN, Xmas).
const TCP_FLAGS: &[(u8, u32)] = &[
    (0x02, 80),  // SYN
    (0x12, 60),  // SYN+ACK
    (0x10, 400), // ACK
    (0x18, 280), // PSH+ACK
    (0x11, 60),  // FIN+ACK
    (0x04, 30),  // RST
    (0x14, 30),  // RST+ACK
    (0x38, 20),  // URG+PSH+ACK
    (0x3f, 10),  // ALL
    (0x00, 10),  // NONE
    (0x03, 5),   // SYN+FIN
    (0x29, 5),   // FIN+PSH+URG (Xmas)
];

fn ephemeral(r: &mut Rng) -> u16 {
    r.range(32_768, 60_999) as u16
}

/// A locally administered MAC derived from an address.
fn host_mac(addr: &[u8]) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in addr {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    [0x02, b[1], b[2], b[3], b[4], b[5]]
}

mod ports {
    /// Server ports of TCP flows.
    pub(super) const TCP: &[(u16, u32)] = &[
        (443, 40),
        (80, 18),
        (8080, 6),
        (445, 8),
        (139, 4),
        (22, 5),
        (25, 2),
        (3389, 3),
        (993, 2),
        (8443, 2),
    ];
    /// Server ports of UDP flows.
    pub(super) const UDP: &[(u16, u32)] = &[
        (53, 40),
        (123, 10),
        (137, 8),
        (138, 6),
        (443, 14),
        (5353, 4),
        (1900, 3),
        (51820, 5),
        (4500, 5),
    ];
}

mod app;
mod pools;
