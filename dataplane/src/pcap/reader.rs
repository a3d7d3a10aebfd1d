//! [`CaptureReader`]: a streaming pcap/pcapng reader over one reused buffer.
//!
//! Every length read from the input is checked against what is buffered
//! before it is used, and the buffer never grows beyond
//! [`MAX_BUFFERED_BLOCK`]; larger non-packet blocks are skipped by reading
//! them through in chunks.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::sync::Arc;

use super::{
    CaptureError, CaptureRecord, CapturedDirection, DumpFormat, InterfaceInfo, MAX_CAPLEN,
};

const INITIAL_BUFFER: usize = 1 << 20;
/// The largest pcapng block that is read into memory (a packet block of
/// [`MAX_CAPLEN`] plus generous room for options).
const MAX_BUFFERED_BLOCK: usize = 2 << 20;

/// Interface descriptions kept across all sections; with [`MAX_NAME_LEN`]
/// this bounds what a hostile file can make the reader hold.
const MAX_INTERFACES: usize = 1024;
/// Longer `if_name` values are ignored.
const MAX_NAME_LEN: usize = 1024;

const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_HEADER_LEN: usize = 16;

const MAGIC_PCAP_US: u32 = 0xa1b2_c3d4;
const MAGIC_PCAP_NS: u32 = 0xa1b2_3c4d;
const MAGIC_PCAP_US_SWAPPED: u32 = 0xd4c3_b2a1;
const MAGIC_PCAP_NS_SWAPPED: u32 = 0x4d3c_b2a1;

const BLOCK_SHB: u32 = 0x0a0d_0d0a;
const BLOCK_IDB: u32 = 1;
const BLOCK_PB: u32 = 2;
const BLOCK_SPB: u32 = 3;
const BLOCK_EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

const OPT_END: u16 = 0;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;
const OPT_EPB_FLAGS: u16 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Self::Little => u16::from_le_bytes(b),
            Self::Big => u16::from_be_bytes(b),
        }
    }
    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Self::Little => u32::from_le_bytes(b),
            Self::Big => u32::from_be_bytes(b),
        }
    }
}

/// Reads a `u16` at `at`, or `None` past the end.
fn get_u16(e: Endian, s: &[u8], at: usize) -> Option<u16> {
    let b = s.get(at..at.checked_add(2)?)?;
    Some(e.u16([b[0], b[1]]))
}

/// Reads a `u32` at `at`, or `None` past the end.
fn get_u32(e: Endian, s: &[u8], at: usize) -> Option<u32> {
    let b = s.get(at..at.checked_add(4)?)?;
    Some(e.u32([b[0], b[1], b[2], b[3]]))
}

fn pad4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Pcap { endian: Endian, nanos: bool },
    Pcapng { endian: Endian },
}

/// How one interface's raw timestamps become nanoseconds.
#[derive(Debug, Clone, Copy)]
struct TsScale {
    /// The `if_tsresol` byte: bit 7 clear = 10^-n s, set = 2^-n s.
    resol: u8,
    /// `if_tsoffset` in seconds.
    offset_secs: i64,
}

impl TsScale {
    const DEFAULT: Self = Self {
        resol: 6,
        offset_secs: 0,
    };

    fn to_nanos(self, ts: u64) -> u64 {
        let n = u32::from(self.resol & 0x7f);
        let base = if self.resol & 0x80 == 0 {
            if n <= 9 {
                ts.saturating_mul(10u64.pow(9 - n))
            } else {
                // n <= 127, so the divisor may exceed u64: then it is 0.
                10u64.checked_pow(n - 9).map_or(0, |d| ts / d)
            }
        } else {
            let wide = u128::from(ts) * 1_000_000_000u128;
            let shifted = wide.checked_shr(n).unwrap_or(0);
            u64::try_from(shifted).unwrap_or(u64::MAX)
        };
        if self.offset_secs >= 0 {
            base.saturating_add((self.offset_secs as u64).saturating_mul(1_000_000_000))
        } else {
            base.saturating_sub(
                self.offset_secs
                    .unsigned_abs()
                    .saturating_mul(1_000_000_000),
            )
        }
    }
}

/// Where the current record lies in the buffer, plus its metadata; built
/// without borrowing so the block loop can continue past non-packet blocks.
struct Located {
    ts_nanos: u64,
    orig_len: u32,
    data_start: usize,
    data_len: usize,
    interface: u32,
    direction: Option<CapturedDirection>,
}

/// A streaming reader of pcap and pcapng captures.
///
/// ```no_run
/// use ferrocap_dataplane::pcap::{CaptureError, CaptureReader};
/// let mut reader = CaptureReader::open("in.pcapng")?;
/// loop {
///     match reader.next_record() {
///         Ok(Some(rec)) => println!("{} bytes on interface {}", rec.data.len(), rec.interface),
///         Ok(None) => break,
///         Err(CaptureError::Truncated { packets, .. }) => {
///             eprintln!("input truncated after {packets} packets");
///             break;
///         }
///         Err(e) => return Err(e),
///     }
/// }
/// # Ok::<(), CaptureError>(())
/// ```
pub struct CaptureReader<R> {
    storage: Storage<R>,
    file: String,
    /// First unconsumed byte in `buf`.
    start: usize,
    /// One past the last valid byte in `buf`.
    end: usize,
    /// File offset of `buf[0]`.
    base_offset: u64,
    eof: bool,
    done: bool,
    truncated: bool,
    format: Format,
    interfaces: Vec<InterfaceInfo>,
    scales: Vec<TsScale>,
    /// Index in `interfaces` of the current pcapng section's first IDB.
    section_base: usize,
    packets: u64,
}

impl CaptureReader<File> {
    /// Opens a capture file and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|cause| CaptureError::Read {
            file: name.clone(),
            offset: 0,
            cause,
        })?;
        Self::new(file, name)
    }
}

impl CaptureReader<std::io::Empty> {
    /// Reads a capture that is already in memory — a `Vec<u8>`, or a
    /// memory map owned by the caller — without copying it: records borrow
    /// straight from `bytes`. `name` is used in error messages.
    pub fn from_bytes(
        bytes: impl AsRef<[u8]> + Send + Sync + 'static,
        name: impl Into<String>,
    ) -> Result<Self, CaptureError> {
        let len = bytes.as_ref().len();
        Self::with_storage(Storage::Memory(Arc::new(bytes)), len, true, name.into())
    }
}

/// Where the bytes come from.
enum Storage<R> {
    /// A stream read through one reused, growable buffer.
    Stream { src: R, buf: Vec<u8> },
    /// A whole capture in memory.
    Memory(Arc<dyn AsRef<[u8]> + Send + Sync>),
}

impl<R> Storage<R> {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Stream { buf, .. } => buf,
            Self::Memory(m) => (**m).as_ref(),
        }
    }
}

impl<R: Read> CaptureReader<R> {
    /// A reader over bytes already in memory, typed as a reader of `R` so
    /// that callers can hold either kind in one variable.
    pub(super) fn in_memory(
        bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
        name: String,
    ) -> Result<Self, CaptureError> {
        let len = (*bytes).as_ref().len();
        Self::with_storage(Storage::Memory(bytes), len, true, name)
    }

    /// Wraps any byte stream (unbuffered is fine: the reader buffers) and
    /// reads its header. `name` is used in error messages.
    pub fn new(src: R, name: impl Into<String>) -> Result<Self, CaptureError> {
        Self::with_storage(
            Storage::Stream {
                src,
                buf: vec![0; INITIAL_BUFFER],
            },
            0,
            false,
            name.into(),
        )
    }

    /// `len` bytes are already in `storage`; `eof` when no more can come.
    fn with_storage(
        storage: Storage<R>,
        len: usize,
        eof: bool,
        file: String,
    ) -> Result<Self, CaptureError> {
        let mut r = Self {
            storage,
            file,
            start: 0,
            end: len,
            base_offset: 0,
            eof,
            done: false,
            truncated: false,
            format: Format::Pcap {
                endian: Endian::Little,
                nanos: false,
            },
            interfaces: Vec::new(),
            scales: Vec::new(),
            section_base: 0,
            packets: 0,
        };
        r.read_header()?;
        Ok(r)
    }

    /// The input's name as used in errors.
    pub fn name(&self) -> &str {
        &self.file
    }

    /// Whether the input is pcap or pcapng.
    pub fn format(&self) -> DumpFormat {
        match self.format {
            Format::Pcap { .. } => DumpFormat::Pcap,
            Format::Pcapng { .. } => DumpFormat::Pcapng,
        }
    }

    /// The timestamp resolution a pcap copy of this input needs to lose
    /// nothing: nanoseconds for a nanosecond pcap and for pcapng (whose
    /// interfaces may carry any resolution), microseconds otherwise.
    pub fn lossless_pcap_resolution(&self) -> crate::pcap::TsResolution {
        match self.format {
            Format::Pcap { nanos: false, .. } => crate::pcap::TsResolution::Micro,
            _ => crate::pcap::TsResolution::Nano,
        }
    }

    /// The interfaces seen so far, indexed by [`CaptureRecord::interface`].
    /// A pcap file has exactly one; a pcapng file's list grows as IDBs are
    /// read (an IDB always precedes the packets that refer to it).
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        &self.interfaces
    }

    /// Complete packets returned so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// Whether the input was found to end in the middle of a record.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Returns the next packet, borrowing the reader's buffer, or `Ok(None)`
    /// at the end. A cut-off input gives [`CaptureError::Truncated`] once;
    /// after any error the reader returns `Ok(None)`.
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<CaptureRecord<'_>>, CaptureError> {
        // Fast path: a pcap record that is wholly buffered and plausible.
        // Anything else (refill, end, errors, pcapng) takes the general path.
        if let Some((ts_nanos, orig_len, data_start, caplen)) = self.buffered_pcap_record() {
            self.start = data_start + caplen;
            self.packets += 1;
            let data = self
                .storage
                .bytes()
                .get(data_start..data_start + caplen)
                .unwrap_or(&[]);
            return Ok(Some(CaptureRecord {
                ts_nanos,
                orig_len,
                data,
                interface: 0,
                direction: None,
            }));
        }
        self.next_record_general()
    }

    /// `(ts_nanos, orig_len, data_start, caplen)` of the next pcap record
    /// if it is wholly buffered and its caplen is within the limit.
    #[inline]
    fn buffered_pcap_record(&self) -> Option<(u64, u32, usize, usize)> {
        let Format::Pcap { endian, nanos } = self.format else {
            return None;
        };
        if self.done {
            return None;
        }
        let h = self
            .storage
            .bytes()
            .get(self.start..self.start + PCAP_RECORD_HEADER_LEN)?;
        let caplen = get_u32(endian, h, 8)?;
        let total = PCAP_RECORD_HEADER_LEN + caplen as usize;
        if caplen > MAX_CAPLEN || self.end - self.start < total {
            return None;
        }
        let sec = get_u32(endian, h, 0)?;
        let frac = get_u32(endian, h, 4)?;
        let orig_len = get_u32(endian, h, 12)?;
        Some((
            pcap_ts_nanos(sec, frac, nanos),
            orig_len.max(caplen),
            self.start + PCAP_RECORD_HEADER_LEN,
            caplen as usize,
        ))
    }

    #[inline(never)]
    fn next_record_general(&mut self) -> Result<Option<CaptureRecord<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let located = match self.format {
            Format::Pcap { endian, nanos } => self.next_pcap(endian, nanos),
            Format::Pcapng { .. } => self.next_pcapng(),
        };
        match located {
            Ok(Some(l)) => {
                self.packets += 1;
                let data = self
                    .storage
                    .bytes()
                    .get(l.data_start..l.data_start + l.data_len)
                    .unwrap_or(&[]);
                Ok(Some(CaptureRecord {
                    ts_nanos: l.ts_nanos,
                    orig_len: l.orig_len,
                    data,
                    interface: l.interface,
                    direction: l.direction,
                }))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                if matches!(e, CaptureError::Truncated { .. }) {
                    self.truncated = true;
                }
                Err(e)
            }
        }
    }

    fn offset(&self) -> u64 {
        self.base_offset + self.start as u64
    }

    fn truncated_err(&self) -> CaptureError {
        CaptureError::Truncated {
            file: self.file.clone(),
            offset: self.offset(),
            packets: self.packets,
        }
    }

    fn bad(&self, reason: impl Into<String>) -> CaptureError {
        CaptureError::BadRecord {
            file: self.file.clone(),
            offset: self.offset(),
            reason: reason.into(),
        }
    }

    /// Makes at least `n` bytes available at `buf[start..]` unless the input
    /// ends first; returns how many are available (possibly fewer than `n`
    /// only at end of input). `n` must not exceed [`MAX_BUFFERED_BLOCK`].
    fn fill(&mut self, n: usize) -> Result<usize, CaptureError> {
        let avail = self.end - self.start;
        if avail >= n || self.eof {
            return Ok(avail);
        }
        let Storage::Stream { src, buf } = &mut self.storage else {
            self.eof = true;
            return Ok(avail);
        };
        if self.start > 0 {
            buf.copy_within(self.start..self.end, 0);
            self.base_offset += self.start as u64;
            self.end = avail;
            self.start = 0;
        }
        if buf.len() < n {
            buf.resize(n.min(MAX_BUFFERED_BLOCK), 0);
        }
        while self.end - self.start < n {
            let Some(spare) = buf.get_mut(self.end..) else {
                break;
            };
            if spare.is_empty() {
                break;
            }
            match src.read(spare) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => self.end += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Read {
                        file: self.file.clone(),
                        offset: self.base_offset + self.end as u64,
                        cause: source,
                    })
                }
            }
        }
        Ok(self.end - self.start)
    }

    /// Discards `n` bytes, reading through the input if they are not
    /// buffered. Returns `false` if the input ends first.
    fn skip(&mut self, mut n: u64) -> Result<bool, CaptureError> {
        loop {
            let avail = (self.end - self.start) as u64;
            let take = avail.min(n);
            self.start += take as usize;
            n -= take;
            if n == 0 {
                return Ok(true);
            }
            if self.fill(1)? == 0 {
                return Ok(false);
            }
        }
    }

    /// Splits off the next whole records of an in-memory classic pcap, at
    /// least `target_bytes` of them (fewer at the end), as a
    /// [`PcapChunk`] that shares the memory, so that chunks can be matched
    /// on several threads; this reader continues after them. `None` for a
    /// streamed input, for pcapng, after an error, or when no whole record
    /// is left (a record cut short stays here, so the next [`next_record`]
    /// reports the truncation as usual).
    ///
    /// Splitting hops from record header to record header and checks each
    /// one as [`next_record`] would (caplen within [`MAX_CAPLEN`], the
    /// record wholly present), so a chunk's records need no further checks.
    ///
    /// [`next_record`]: Self::next_record
    pub fn take_pcap_chunk(&mut self, target_bytes: usize) -> Option<PcapChunk> {
        let Format::Pcap { endian, nanos } = self.format else {
            return None;
        };
        let Storage::Memory(bytes) = &self.storage else {
            return None;
        };
        if self.done {
            return None;
        }
        let all = (**bytes).as_ref();
        let end_limit = self.end.min(all.len());
        let start = self.start;
        let stop = start.saturating_add(target_bytes);
        let at = match endian {
            Endian::Little => record_boundary(all, start, stop, end_limit, u32::from_le_bytes),
            Endian::Big => record_boundary(all, start, stop, end_limit, u32::from_be_bytes),
        };
        if at == start {
            return None;
        }
        let chunk = PcapChunk {
            bytes: Arc::clone(bytes),
            start,
            end: at,
            offset: self.base_offset + start as u64,
            endian,
            nanos,
        };
        self.start = at;
        Some(chunk)
    }

    /// Cuts the next `count` × `span_bytes` of an in-memory classic pcap
    /// into [`PcapSpan`]s without reading them, so that the spans can be
    /// read on several threads at once. The first span starts at this
    /// reader's position; every other one at a byte offset that is only a
    /// guess until [`PcapSpan::read`] has found the first plausible record
    /// header after it. Nothing is consumed here: give the outcomes of the
    /// spans, in order, to [`commit_pcap_spans`](Self::commit_pcap_spans),
    /// which accepts the ones that follow each other exactly. Empty for a
    /// streamed input, for pcapng, after an error, or at the end.
    pub fn split_pcap_spans(&self, count: usize, span_bytes: usize) -> Vec<PcapSpan> {
        let Format::Pcap { endian, nanos } = self.format else {
            return Vec::new();
        };
        let Storage::Memory(bytes) = &self.storage else {
            return Vec::new();
        };
        if self.done {
            return Vec::new();
        }
        let all = (**bytes).as_ref();
        let limit = self.end.min(all.len());
        let span_bytes = span_bytes.max(1);
        // The timestamp of the record here anchors the guesses: a record
        // header found inside packet data rarely carries a nearby time.
        let read = match endian {
            Endian::Little => u32::from_le_bytes,
            Endian::Big => u32::from_be_bytes,
        };
        let near_secs = all
            .get(self.start..limit)
            .and_then(|r| r.first_chunk::<4>())
            .map(|b| read(*b));
        let mut spans = Vec::with_capacity(count);
        let mut at = self.start;
        while spans.len() < count && at < limit {
            let end = at.saturating_add(span_bytes).min(limit);
            spans.push(PcapSpan {
                bytes: Arc::clone(bytes),
                from: at,
                known_start: spans.is_empty(),
                near_secs,
                end,
                limit,
                endian,
                nanos,
            });
            at = end;
        }
        spans
    }

    /// Accepts the [`PcapSpan::read`] outcomes of spans from
    /// [`split_pcap_spans`](Self::split_pcap_spans), in their order, as
    /// long as each starts exactly where the previous one ended (the first
    /// where this reader is), and moves this reader past the accepted ones.
    /// Returns how many were accepted: their records are exactly the next
    /// records of the input, in order. A span that stopped at a record
    /// [`next_record`](Self::next_record) would reject (a cut or oversized
    /// one) is accepted, and nothing after it: the next `next_record` then
    /// reports that record as usual.
    pub fn commit_pcap_spans(&mut self, outcomes: &[SpanOutcome]) -> usize {
        let mut accepted = 0;
        let mut at = self.start;
        for o in outcomes {
            if o.start != Some(at) {
                break;
            }
            accepted += 1;
            self.packets += o.records;
            at = o.end;
            if o.stopped {
                break;
            }
        }
        self.start = at;
        accepted
    }

    fn read_header(&mut self) -> Result<(), CaptureError> {
        let avail = self.fill(PCAP_HEADER_LEN)?;
        if avail == 0 {
            return Err(CaptureError::Empty {
                file: self.file.clone(),
            });
        }
        let mut m = [0u8; 4];
        for (dst, src) in m
            .iter_mut()
            .zip(&self.storage.bytes()[self.start..self.end])
        {
            *dst = *src;
        }
        let magic = u32::from_be_bytes(m);
        let pcap = match magic {
            MAGIC_PCAP_US => Some((Endian::Big, false)),
            MAGIC_PCAP_NS => Some((Endian::Big, true)),
            MAGIC_PCAP_US_SWAPPED => Some((Endian::Little, false)),
            MAGIC_PCAP_NS_SWAPPED => Some((Endian::Little, true)),
            _ => None,
        };
        if let Some((endian, nanos)) = pcap {
            if avail < PCAP_HEADER_LEN {
                return Err(self.truncated_err());
            }
            let h = &self.storage.bytes()[self.start..self.start + PCAP_HEADER_LEN];
            let major = get_u16(endian, h, 4).unwrap_or(0);
            let snaplen = get_u32(endian, h, 16).unwrap_or(0);
            // The upper bits of the link-type word carry FCS information.
            let linktype = (get_u32(endian, h, 20).unwrap_or(0) & 0xffff) as u16;
            if major != 2 {
                return Err(self.bad(format!("unsupported pcap version {major}")));
            }
            self.format = Format::Pcap { endian, nanos };
            self.interfaces.push(InterfaceInfo {
                linktype,
                name: None,
                snaplen,
            });
            self.scales.push(TsScale::DEFAULT);
            self.start += PCAP_HEADER_LEN;
            return Ok(());
        }
        if magic == BLOCK_SHB && avail >= 4 {
            // The first block is read (and validated) by next_pcapng; the
            // endianness is set from its byte-order magic.
            self.format = Format::Pcapng {
                endian: Endian::Little,
            };
            if avail < 12 {
                return Err(self.truncated_err());
            }
            let bom =
                get_u32(Endian::Big, &self.storage.bytes()[self.start..self.end], 8).unwrap_or(0);
            if bom != BYTE_ORDER_MAGIC && bom != BYTE_ORDER_MAGIC.swap_bytes() {
                return Err(CaptureError::NotACapture {
                    file: self.file.clone(),
                    magic,
                });
            }
            return Ok(());
        }
        Err(CaptureError::NotACapture {
            file: self.file.clone(),
            magic,
        })
    }

    fn next_pcap(&mut self, endian: Endian, nanos: bool) -> Result<Option<Located>, CaptureError> {
        let avail = self.fill(PCAP_RECORD_HEADER_LEN)?;
        if avail == 0 {
            return Ok(None);
        }
        if avail < PCAP_RECORD_HEADER_LEN {
            return Err(self.truncated_err());
        }
        let h = &self.storage.bytes()[self.start..self.start + PCAP_RECORD_HEADER_LEN];
        let sec = get_u32(endian, h, 0).unwrap_or(0);
        let frac = get_u32(endian, h, 4).unwrap_or(0);
        let caplen = get_u32(endian, h, 8).unwrap_or(0);
        let orig_len = get_u32(endian, h, 12).unwrap_or(0);
        if caplen > MAX_CAPLEN {
            return Err(self.bad(format!(
                "captured length {caplen} exceeds the limit of {MAX_CAPLEN} bytes"
            )));
        }
        let total = PCAP_RECORD_HEADER_LEN + caplen as usize;
        if self.fill(total)? < total {
            return Err(self.truncated_err());
        }
        let l = Located {
            ts_nanos: pcap_ts_nanos(sec, frac, nanos),
            orig_len: orig_len.max(caplen),
            data_start: self.start + PCAP_RECORD_HEADER_LEN,
            data_len: caplen as usize,
            interface: 0,
            direction: None,
        };
        self.start += total;
        Ok(Some(l))
    }

    fn next_pcapng(&mut self) -> Result<Option<Located>, CaptureError> {
        loop {
            let avail = self.fill(12)?;
            if avail == 0 {
                return Ok(None);
            }
            if avail < 8 {
                return Err(self.truncated_err());
            }
            let Format::Pcapng { mut endian } = self.format else {
                return Ok(None);
            };
            let head = &self.storage.bytes()[self.start..self.end];
            let btype = get_u32(endian, head, 0).unwrap_or(0);
            if btype == BLOCK_SHB {
                if avail < 12 {
                    return Err(self.truncated_err());
                }
                endian = match get_u32(Endian::Big, head, 8).unwrap_or(0) {
                    BYTE_ORDER_MAGIC => Endian::Big,
                    m if m == BYTE_ORDER_MAGIC.swap_bytes() => Endian::Little,
                    m => return Err(self.bad(format!("bad pcapng byte-order magic 0x{m:08x}"))),
                };
                self.format = Format::Pcapng { endian };
            }
            let head = &self.storage.bytes()[self.start..self.end];
            let blen = get_u32(endian, head, 4).unwrap_or(0) as usize;
            if blen < 12 || blen % 4 != 0 {
                return Err(self.bad(format!("pcapng block length {blen} is invalid")));
            }
            let known = matches!(
                btype,
                BLOCK_SHB | BLOCK_IDB | BLOCK_PB | BLOCK_SPB | BLOCK_EPB
            );
            if !known {
                if !self.skip(blen as u64)? {
                    return Err(self.truncated_err());
                }
                continue;
            }
            if blen > MAX_BUFFERED_BLOCK {
                return Err(self.bad(format!(
                    "pcapng block of type {btype} is {blen} bytes, over the limit of {MAX_BUFFERED_BLOCK}"
                )));
            }
            if self.fill(blen)? < blen {
                return Err(self.truncated_err());
            }
            let block = &self.storage.bytes()[self.start..self.start + blen];
            let trailer = get_u32(endian, block, blen - 4).unwrap_or(0) as usize;
            if trailer != blen {
                return Err(self.bad(format!(
                    "pcapng block length {blen} does not match its trailing copy {trailer}"
                )));
            }
            let body_start = self.start + 8;
            let body_len = blen - 12;
            let found = match btype {
                BLOCK_SHB => {
                    self.section_header(endian, body_start, body_len)?;
                    None
                }
                BLOCK_IDB => {
                    self.interface_block(endian, body_start, body_len)?;
                    None
                }
                BLOCK_EPB => Some(self.packet_block(endian, body_start, body_len, true)?),
                BLOCK_PB => Some(self.packet_block(endian, body_start, body_len, false)?),
                _ => Some(self.simple_packet_block(endian, body_start, body_len)?),
            };
            self.start += blen;
            if found.is_some() {
                return Ok(found);
            }
        }
    }

    fn section_header(
        &mut self,
        endian: Endian,
        at: usize,
        len: usize,
    ) -> Result<(), CaptureError> {
        let body = &self.storage.bytes()[at..at + len];
        let major = get_u16(endian, body, 4);
        if major != Some(1) {
            return Err(self.bad(format!(
                "unsupported pcapng version {}",
                major.map_or_else(|| "(missing)".to_owned(), |m| m.to_string())
            )));
        }
        self.section_base = self.interfaces.len();
        Ok(())
    }

    fn interface_block(
        &mut self,
        endian: Endian,
        at: usize,
        len: usize,
    ) -> Result<(), CaptureError> {
        let body = &self.storage.bytes()[at..at + len];
        let (Some(linktype), Some(snaplen)) = (get_u16(endian, body, 0), get_u32(endian, body, 4))
        else {
            return Err(self.bad("pcapng interface description block too short"));
        };
        let mut name = None;
        let mut scale = TsScale::DEFAULT;
        for (code, value) in Options::new(endian, body.get(8..).unwrap_or(&[])) {
            match code {
                OPT_IF_NAME => {
                    let v = value.strip_suffix(&[0]).unwrap_or(value);
                    if v.len() <= MAX_NAME_LEN {
                        name = std::str::from_utf8(v).ok().map(str::to_owned);
                    }
                }
                OPT_IF_TSRESOL => {
                    if let Some(&r) = value.first() {
                        scale.resol = r;
                    }
                }
                OPT_IF_TSOFFSET => {
                    if let Ok(b) = <[u8; 8]>::try_from(value) {
                        scale.offset_secs = match endian {
                            Endian::Little => i64::from_le_bytes(b),
                            Endian::Big => i64::from_be_bytes(b),
                        };
                    }
                }
                _ => {}
            }
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(self.bad(format!("more than {MAX_INTERFACES} interface descriptions")));
        }
        self.interfaces.push(InterfaceInfo {
            linktype,
            name,
            snaplen,
        });
        self.scales.push(scale);
        Ok(())
    }

    /// An Enhanced Packet Block (`enhanced`) or an obsolete Packet Block.
    fn packet_block(
        &self,
        endian: Endian,
        at: usize,
        len: usize,
        enhanced: bool,
    ) -> Result<Located, CaptureError> {
        let body = &self.storage.bytes()[at..at + len];
        let local = if enhanced {
            get_u32(endian, body, 0)
        } else {
            get_u16(endian, body, 0).map(u32::from)
        };
        let (Some(local), Some(ts_hi), Some(ts_lo), Some(caplen), Some(orig_len)) = (
            local,
            get_u32(endian, body, 4),
            get_u32(endian, body, 8),
            get_u32(endian, body, 12),
            get_u32(endian, body, 16),
        ) else {
            return Err(self.bad("pcapng packet block too short"));
        };
        if caplen > MAX_CAPLEN {
            return Err(self.bad(format!(
                "captured length {caplen} exceeds the limit of {MAX_CAPLEN} bytes"
            )));
        }
        let data_len = caplen as usize;
        let data_end = 20 + pad4(data_len);
        if data_end > len {
            return Err(self.bad(format!(
                "captured length {caplen} overruns its {} byte block",
                len + 12
            )));
        }
        let (interface, scale) = self.resolve_interface(local)?;
        let mut direction = None;
        for (code, value) in Options::new(endian, &body[data_end..]) {
            if code == OPT_EPB_FLAGS {
                if let Some(flags) = get_u32(endian, value, 0) {
                    direction = CapturedDirection::from_epb_flags(flags);
                }
            }
        }
        let ts = (u64::from(ts_hi) << 32) | u64::from(ts_lo);
        Ok(Located {
            ts_nanos: scale.to_nanos(ts),
            orig_len: orig_len.max(caplen),
            data_start: at + 20,
            data_len,
            interface,
            direction,
        })
    }

    fn simple_packet_block(
        &self,
        endian: Endian,
        at: usize,
        len: usize,
    ) -> Result<Located, CaptureError> {
        let body = &self.storage.bytes()[at..at + len];
        let Some(orig_len) = get_u32(endian, body, 0) else {
            return Err(self.bad("pcapng simple packet block too short"));
        };
        let (interface, _) = self.resolve_interface(0)?;
        let snaplen = self
            .interfaces
            .get(interface as usize)
            .map_or(0, |i| i.snaplen);
        let mut caplen = (len - 4).min(orig_len as usize);
        if snaplen != 0 {
            caplen = caplen.min(snaplen as usize);
        }
        Ok(Located {
            ts_nanos: 0,
            orig_len: orig_len.max(caplen as u32),
            data_start: at + 4,
            data_len: caplen,
            interface,
            direction: None,
        })
    }

    /// Maps a section-local interface id to the global index and its scale.
    fn resolve_interface(&self, local: u32) -> Result<(u32, TsScale), CaptureError> {
        let global = self.section_base.saturating_add(local as usize);
        match self.scales.get(global) {
            Some(&s) => Ok((global as u32, s)),
            None => Err(self.bad(format!(
                "packet refers to interface {local}, which this section has not described"
            ))),
        }
    }
}

/// Iterates pcapng options `(code, value)` until `opt_endofopt` or the end
/// of the slice; a value that overruns the slice ends the iteration.
struct Options<'a> {
    endian: Endian,
    rest: &'a [u8],
}

impl<'a> Options<'a> {
    fn new(endian: Endian, rest: &'a [u8]) -> Self {
        Self { endian, rest }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let code = get_u16(self.endian, self.rest, 0)?;
        let len = get_u16(self.endian, self.rest, 2)? as usize;
        if code == OPT_END {
            self.rest = &[];
            return None;
        }
        let value = self.rest.get(4..4 + len)?;
        self.rest = self.rest.get(4 + pad4(len)..).unwrap_or(&[]);
        Some((code, value))
    }
}

/// The first record boundary at or after `stop` (or the last one before
/// `end_limit`, or before a record [`next_record`] would reject), walking
/// from the boundary `at`. `read` decodes a `u32` in the file's byte order;
/// passing the decoder monomorphises the loop per byte order.
///
/// [`next_record`]: CaptureReader::next_record
#[inline(always)]
fn record_boundary(
    all: &[u8],
    mut at: usize,
    stop: usize,
    end_limit: usize,
    read: fn([u8; 4]) -> u32,
) -> usize {
    while at < stop {
        let Some(&[a, b, c, d]) = all.get(at + 8..at + 12) else {
            break;
        };
        let caplen = read([a, b, c, d]);
        if caplen > MAX_CAPLEN {
            // Left for next_record to report as a bad record.
            break;
        }
        let next = at + PCAP_RECORD_HEADER_LEN + caplen as usize;
        if next > end_limit {
            break;
        }
        at = next;
    }
    at
}

/// Whole records of an in-memory classic pcap, split off by
/// [`CaptureReader::take_pcap_chunk`]. It shares the reader's memory and
/// may be sent to another thread; [`records`](Self::records) reads them
/// in order.
pub struct PcapChunk {
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    /// The first record header, as an index into `bytes`.
    start: usize,
    /// One past the last record.
    end: usize,
    offset: u64,
    endian: Endian,
    nanos: bool,
}

impl PcapChunk {
    /// The byte offset of the chunk's first record in the input.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The chunk's size in bytes (record headers included).
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the chunk holds no record (never true for a chunk that
    /// [`CaptureReader::take_pcap_chunk`] returned).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The records, as [`CaptureReader::next_record`] would return them
    /// (interface 0, no direction). They were checked when the chunk was
    /// split, so reading them cannot fail.
    pub fn records(&self) -> PcapRecords<'_> {
        let bytes = (*self.bytes).as_ref();
        PcapRecords {
            bytes: bytes.get(self.start..self.end).unwrap_or(&[]),
            endian: self.endian,
            nanos: self.nanos,
        }
    }
}

impl std::fmt::Debug for PcapChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapChunk")
            .field("offset", &self.offset)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Nanoseconds since the epoch of a pcap record stamped `sec` and `frac`
/// (microseconds, or nanoseconds in a nanosecond file).
#[inline(always)]
fn pcap_ts_nanos(sec: u32, frac: u32, nanos: bool) -> u64 {
    let frac = u64::from(frac);
    u64::from(sec) * 1_000_000_000 + if nanos { frac } else { frac * 1000 }
}

/// The record of a pcap record header's fields and its captured `data`
/// (`caplen` bytes): the original length is never below `caplen`.
#[inline(always)]
fn pcap_record(sec: u32, frac: u32, orig_len: u32, nanos: bool, data: &[u8]) -> CaptureRecord<'_> {
    let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
    CaptureRecord {
        ts_nanos: pcap_ts_nanos(sec, frac, nanos),
        orig_len: orig_len.max(caplen),
        data,
        interface: 0,
        direction: None,
    }
}

/// The records of a [`PcapChunk`], in order.
#[derive(Debug, Clone)]
pub struct PcapRecords<'a> {
    /// The records not yet returned.
    bytes: &'a [u8],
    endian: Endian,
    nanos: bool,
}

impl<'a> Iterator for PcapRecords<'a> {
    type Item = CaptureRecord<'a>;

    #[inline]
    fn next(&mut self) -> Option<CaptureRecord<'a>> {
        let (h, rest) = self.bytes.split_first_chunk::<PCAP_RECORD_HEADER_LEN>()?;
        let field = |at: usize| {
            let b = [h[at], h[at + 1], h[at + 2], h[at + 3]];
            match self.endian {
                Endian::Little => u32::from_le_bytes(b),
                Endian::Big => u32::from_be_bytes(b),
            }
        };
        let caplen = field(8);
        let Some((data, rest)) = rest.split_at_checked(caplen as usize) else {
            // Cannot happen for a chunk the reader split (it checked every
            // record); end rather than return a bad record.
            self.bytes = &[];
            return None;
        };
        self.bytes = rest;
        Some(pcap_record(field(0), field(4), field(12), self.nanos, data))
    }
}

/// How far [`PcapSpan::read`] looks past a span's guessed start for the
/// first record: a boundary must lie within one record of the largest size.
const SPAN_SEARCH: usize = PCAP_RECORD_HEADER_LEN + MAX_CAPLEN as usize + 1;

/// Record headers that must follow each other in a chain for a guessed
/// offset to count as a record boundary.
const SPAN_CHAIN: usize = 8;

/// How far (in seconds) the timestamp of a guessed record may lie from the
/// one of the window's first record: a year.
const SPAN_NEAR_SECS: u32 = 366 * 86_400;

/// Part of an in-memory classic pcap, cut off by
/// [`CaptureReader::split_pcap_spans`] at a byte offset that need not be a
/// record boundary. It shares the reader's memory and may be sent to
/// another thread.
pub struct PcapSpan {
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    /// Where the span was cut: its first record (the first span), or where
    /// the search for its first record starts.
    from: usize,
    known_start: bool,
    /// The seconds of the first span's first record: a guessed record must
    /// lie within [`SPAN_NEAR_SECS`] of it.
    near_secs: Option<u32>,
    /// Records that start before this belong to the span (the last one may
    /// reach past it).
    end: usize,
    /// One past the last byte of the input.
    limit: usize,
    endian: Endian,
    nanos: bool,
}

/// What [`PcapSpan::read`] found, for [`CaptureReader::commit_pcap_spans`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanOutcome {
    /// Where its first record starts (`None`: no plausible start found).
    start: Option<usize>,
    /// Where the record after its last one starts.
    end: usize,
    /// Records given to the callback.
    records: u64,
    /// It stopped at a record the reader rejects (cut short or oversized).
    stopped: bool,
}

impl SpanOutcome {
    /// Records given to the callback.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Whether the span stopped at a record the reader rejects.
    pub fn stopped(&self) -> bool {
        self.stopped
    }
}

impl PcapSpan {
    /// Calls `f` with each record of the span, in order, as
    /// [`CaptureReader::next_record`] would return it (interface 0, no
    /// direction), and says where the records started and ended. For a
    /// span other than the first, the first record is the first offset
    /// from which [`SPAN_CHAIN`] plausible record headers follow each other;
    /// if that guess is wrong, [`CaptureReader::commit_pcap_spans`] rejects
    /// the span, and the records given to `f` must be thrown away. The
    /// records borrow the span, so `f` may keep them while it lives (to
    /// match them in batches).
    pub fn read<'s>(&'s self, mut f: impl FnMut(CaptureRecord<'s>)) -> SpanOutcome {
        let all = (*self.bytes).as_ref();
        let all = all.get(..self.limit).unwrap_or(all);
        match self.endian {
            Endian::Little => self.read_with(all, u32::from_le_bytes, &mut f),
            Endian::Big => self.read_with(all, u32::from_be_bytes, &mut f),
        }
    }

    #[inline(always)]
    fn read_with<'s>(
        &self,
        all: &'s [u8],
        read: fn([u8; 4]) -> u32,
        f: &mut impl FnMut(CaptureRecord<'s>),
    ) -> SpanOutcome {
        let start = if self.known_start {
            Some(self.from)
        } else {
            let last = self.from.saturating_add(SPAN_SEARCH).min(all.len());
            (self.from..last).find(|&p| self.plausible(all, p, read))
        };
        let Some(mut at) = start else {
            return SpanOutcome {
                start: None,
                end: self.from,
                records: 0,
                stopped: false,
            };
        };
        let mut records = 0;
        let mut stopped = false;
        while at < self.end {
            let Some(h) = all
                .get(at..)
                .and_then(|r| r.first_chunk::<PCAP_RECORD_HEADER_LEN>())
            else {
                stopped = true;
                break;
            };
            let field = |i: usize| read([h[i], h[i + 1], h[i + 2], h[i + 3]]);
            let caplen = field(8);
            let data_at = at + PCAP_RECORD_HEADER_LEN;
            let next = data_at + caplen as usize;
            let data = match all.get(data_at..next) {
                Some(d) if caplen <= MAX_CAPLEN => d,
                _ => {
                    stopped = true;
                    break;
                }
            };
            f(pcap_record(field(0), field(4), field(12), self.nanos, data));
            records += 1;
            at = next;
        }
        SpanOutcome {
            start,
            end: at,
            records,
            stopped,
        }
    }

    /// Whether [`SPAN_CHAIN`] record headers that look like real ones (or
    /// fewer, up to the exact end of the input) follow each other from `p`:
    /// lengths within the limits, the fraction of a second below one
    /// second, and times within a day of each other and within
    /// [`SPAN_NEAR_SECS`] of the window's first record.
    fn plausible(&self, all: &[u8], mut p: usize, read: fn([u8; 4]) -> u32) -> bool {
        let mut prev_secs: Option<u32> = None;
        for _ in 0..SPAN_CHAIN {
            if p == all.len() {
                return prev_secs.is_some();
            }
            let Some(h) = all
                .get(p..)
                .and_then(|r| r.first_chunk::<PCAP_RECORD_HEADER_LEN>())
            else {
                return false;
            };
            let field = |i: usize| read([h[i], h[i + 1], h[i + 2], h[i + 3]]);
            let (secs, frac, caplen, orig_len) = (field(0), field(4), field(8), field(12));
            let frac_max = if self.nanos { 1_000_000_000 } else { 1_000_000 };
            let plausible = caplen <= MAX_CAPLEN
                && orig_len >= caplen
                && frac < frac_max
                && prev_secs.map_or(true, |s| secs.abs_diff(s) <= 86_400)
                && self
                    .near_secs
                    .map_or(true, |n| secs.abs_diff(n) <= SPAN_NEAR_SECS);
            if !plausible {
                return false;
            }
            prev_secs = Some(secs);
            p += PCAP_RECORD_HEADER_LEN + caplen as usize;
            if p > all.len() {
                return false;
            }
        }
        true
    }
}

impl std::fmt::Debug for PcapSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapSpan")
            .field("from", &self.from)
            .field("end", &self.end)
            .field("known_start", &self.known_start)
            .finish_non_exhaustive()
    }
}
