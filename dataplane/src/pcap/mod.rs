//! Reading pcap/pcapng captures and writing Wireshark-readable dumps.
//!
//! What this module promises:
//! - [`CaptureReader`] reads classic pcap (microsecond magic `a1b2c3d4` and
//!   nanosecond magic `a1b23c4d`, either byte order) and pcapng (several
//!   sections, several interfaces with `if_name`, `if_tsresol` and
//!   `if_tsoffset`, Enhanced/Simple/obsolete Packet Blocks, `epb_flags`
//!   direction bits; unknown blocks are skipped). It never panics and never
//!   allocates per packet: records borrow one reused buffer
//!   ([`CaptureReader::next_record`]), or the caller's memory without any
//!   copy ([`CaptureReader::from_bytes`], e.g. over a memory map). No byte
//!   sequence makes it allocate more than a few MiB.
//! - A file cut in the middle of a record yields every complete record and
//!   then exactly one [`CaptureError::Truncated`], which carries the packet
//!   count so the caller can say "input truncated after N packets" and
//!   finish normally. After that (or after any other error) the reader
//!   returns `Ok(None)`.
//! - [`DumpWriter`] encodes pcap or pcapng records straight into one 1 MiB
//!   buffer, written with one `write` when full, with no allocation and no
//!   syscall per packet. Every I/O failure (a full disk included) is
//!   returned as an error.
//!
//! - [`CaptureReader::open_mapped`] reads a regular file through a
//!   read-only memory map, so records are matched where the page cache holds
//!   them, without a copy (the one `unsafe` of this module, in `mapped.rs`).
//!
//! Timestamps are nanoseconds since the Unix epoch throughout; neither the
//! reader nor the writer reads a clock.
#![deny(unsafe_code)]

mod mapped;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use reader::{CaptureReader, PcapChunk, PcapRecords, PcapSpan, SpanOutcome};
pub use writer::{DumpConfig, DumpWriter, PcapEncoder, TsResolution, DEFAULT_BUFFER_SIZE};

/// The largest captured length accepted for one packet (256 KiB). Larger
/// records are reported as [`CaptureError::BadRecord`] rather than buffered.
pub const MAX_CAPLEN: u32 = 256 * 1024;

/// The default snapshot length of a [`DumpWriter`] (262144, tcpdump's default).
pub const DEFAULT_SNAPLEN: u32 = MAX_CAPLEN;

/// Link-layer type Ethernet (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u16 = 1;

/// The direction of a packet as recorded in a capture (pcapng `epb_flags`
/// bits 0–1: `01` inbound, `10` outbound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapturedDirection {
    /// Received by the interface (`epb_flags` bits `01`).
    Inbound,
    /// Sent by the interface (`epb_flags` bits `10`).
    Outbound,
}

impl CapturedDirection {
    /// Decodes the direction bits (0–1) of an `epb_flags` word; `00` and
    /// the invalid `11` mean "not known".
    pub fn from_epb_flags(flags: u32) -> Option<Self> {
        match flags & 0b11 {
            0b01 => Some(Self::Inbound),
            0b10 => Some(Self::Outbound),
            _ => None,
        }
    }

    /// The `epb_flags` word that records this direction.
    pub fn epb_flags(self) -> u32 {
        match self {
            Self::Inbound => 0b01,
            Self::Outbound => 0b10,
        }
    }
}

/// One packet of a capture. The reader lends it from its buffer; the writer
/// takes it by reference, so a record read can be written unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureRecord<'a> {
    /// Capture time in nanoseconds since the Unix epoch (0 for a pcapng
    /// Simple Packet Block, which carries no timestamp).
    pub ts_nanos: u64,
    /// Length of the packet on the wire; never less than `data.len()` when
    /// produced by the reader (a smaller stored value is raised).
    pub orig_len: u32,
    /// The captured bytes (at most [`MAX_CAPLEN`]).
    pub data: &'a [u8],
    /// Interface index: the position in [`CaptureReader::interfaces`]
    /// (counted across all pcapng sections); always 0 for pcap.
    pub interface: u32,
    /// Direction from pcapng `epb_flags`; `None` for pcap or when unrecorded.
    pub direction: Option<CapturedDirection>,
}

/// What a capture says about one interface (a pcapng IDB, or the pcap
/// file header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Link-layer type (`LINKTYPE_*`, 1 for Ethernet).
    pub linktype: u16,
    /// The `if_name` option, when present and valid UTF-8.
    pub name: Option<String>,
    /// The snapshot length (0 means "not limited" in pcapng).
    pub snaplen: u32,
}

/// The two capture file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DumpFormat {
    /// Classic libpcap format: one link type, no interface names or
    /// directions. Written with microsecond timestamps by default.
    #[default]
    Pcap,
    /// pcapng: interface names (`if_name`), nanosecond timestamps and
    /// per-packet direction flags.
    Pcapng,
}

impl DumpFormat {
    /// The format's name as accepted by [`FromStr`]: `pcap` or `pcapng`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pcap => "pcap",
            Self::Pcapng => "pcapng",
        }
    }
}

impl fmt::Display for DumpFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`DumpFormat`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dump format {0:?} (expected \"pcap\" or \"pcapng\")")]
pub struct UnknownDumpFormat(pub String);

impl FromStr for DumpFormat {
    type Err = UnknownDumpFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("pcap") {
            Ok(Self::Pcap)
        } else if s.eq_ignore_ascii_case("pcapng") {
            Ok(Self::Pcapng)
        } else {
            Err(UnknownDumpFormat(s.to_owned()))
        }
    }
}

/// Everything that can go wrong reading or writing a capture. `file` is the
/// path (or the name the caller gave a stream); `offset` is the byte offset
/// in the input where the problem starts.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Reading the input failed.
    #[error("{file}: read error at byte offset {offset}: {cause}")]
    Read {
        /// The input's name.
        file: String,
        /// Byte offset of the read.
        offset: u64,
        /// The I/O error (part of the message, so not also a `source()`:
        /// error-chain printers would show it twice).
        cause: std::io::Error,
    },
    /// Opening, writing or flushing the output failed (a full disk ends up
    /// here).
    #[error("{file}: write error: {cause}")]
    Write {
        /// The output's name.
        file: String,
        /// The I/O error (part of the message, so not also a `source()`:
        /// error-chain printers would show it twice).
        cause: std::io::Error,
    },
    /// The input holds no bytes at all.
    #[error("{file}: empty file, not a pcap or pcapng file")]
    Empty {
        /// The input's name.
        file: String,
    },
    /// The input does not start with a pcap or pcapng magic number.
    #[error("{file}: not a pcap or pcapng file (magic 0x{magic:08x})")]
    NotACapture {
        /// The input's name.
        file: String,
        /// The first four bytes, big-endian (missing bytes are zero).
        magic: u32,
    },
    /// The input ends in the middle of a header or record. Every complete
    /// record before it was returned.
    #[error("{file}: input truncated after {packets} packets (incomplete record at byte offset {offset})")]
    Truncated {
        /// The input's name.
        file: String,
        /// Byte offset of the incomplete record or block.
        offset: u64,
        /// Complete packets returned before the cut.
        packets: u64,
    },
    /// A header, block or record that cannot be valid (length out of
    /// range, unknown version, undefined interface, …).
    #[error("{file}: bad record at byte offset {offset}: {reason}")]
    BadRecord {
        /// The input's name.
        file: String,
        /// Byte offset of the record or block.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A packet was written for an interface the writer was never given.
    #[error(
        "{file}: packet for interface {interface}, but only {registered} interfaces are registered"
    )]
    UnknownInterface {
        /// The output's name.
        file: String,
        /// The interface asked for.
        interface: u32,
        /// How many interfaces exist.
        registered: u32,
    },
    /// A pcap file carries one link type; an interface with another one
    /// cannot be added to it.
    #[error("{file}: pcap output has link type {existing}, cannot add an interface with link type {requested} (use pcapng)")]
    LinktypeMismatch {
        /// The output's name.
        file: String,
        /// The file's link type.
        existing: u16,
        /// The link type asked for.
        requested: u16,
    },
}
