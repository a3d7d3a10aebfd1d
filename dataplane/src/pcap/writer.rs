//! [`DumpWriter`]: pcap and pcapng output through one large buffer.
//!
//! Records are encoded straight into one owned buffer (1 MiB unless
//! [`DumpWriter::with_capacity`] says otherwise), which goes to the output
//! in a single `write` when the next record does not fit: one copy per
//! byte in user space and one syscall per buffer, never one per record. A
//! record (or a block of [`DumpWriter::append_encoded`] bytes) larger than
//! the buffer is written directly after the buffered bytes. The bytes are
//! the same whatever the buffer size.
//!
//! pcapng output is always little-endian, one section, with
//! `shb_userappl` "ferrocap", one IDB per registered interface (`if_name`
//! when known, `if_tsresol` 9 = nanoseconds) and EPBs carrying `epb_flags`
//! when the direction is known. pcap output uses microsecond timestamps
//! unless [`TsResolution::Nano`] is asked for, because every pcap reader
//! understands the microsecond magic.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::{CaptureError, CaptureRecord, DumpFormat, DEFAULT_SNAPLEN, LINKTYPE_ETHERNET};

/// The default buffer size: as large as dd's `bs=1M` writes.
pub const DEFAULT_BUFFER_SIZE: usize = 1 << 20;
/// The smallest buffer [`DumpWriter::with_capacity`] uses (any smaller
/// request is raised to it), so file and block headers always fit.
const MIN_BUFFER_SIZE: usize = 64;
const USER_APPL: &str = "ferrocap";

/// Timestamp resolution of pcap output (pcapng output is always
/// nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TsResolution {
    /// Microseconds (magic `a1b2c3d4`), readable by every pcap tool. The default.
    #[default]
    Micro,
    /// Nanoseconds (magic `a1b23c4d`).
    Nano,
}

/// How a [`DumpWriter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpConfig {
    /// Output format. Default: [`DumpFormat::Pcap`].
    pub format: DumpFormat,
    /// Packets longer than this are cut (their original length is kept).
    /// Default: [`DEFAULT_SNAPLEN`] (262144). 0 is treated as the default.
    pub snaplen: u32,
    /// Link type of the file (pcap) or of interfaces registered without
    /// one. Default: [`LINKTYPE_ETHERNET`].
    pub linktype: u16,
    /// Timestamp resolution for pcap output. Default: [`TsResolution::Micro`].
    pub pcap_resolution: TsResolution,
}

impl Default for DumpConfig {
    fn default() -> Self {
        Self {
            format: DumpFormat::Pcap,
            snaplen: DEFAULT_SNAPLEN,
            linktype: LINKTYPE_ETHERNET,
            pcap_resolution: TsResolution::Micro,
        }
    }
}

impl DumpConfig {
    /// The default configuration with the given format.
    pub fn new(format: DumpFormat) -> Self {
        Self {
            format,
            ..Self::default()
        }
    }
}

/// Writes packets to a pcap or pcapng file.
///
/// Interfaces: for pcapng each [`DumpWriter::add_interface`] writes an IDB
/// and returns its index; a record's `interface` must be one of them. If a
/// packet is written before any interface is registered, interface 0 is
/// registered unnamed with the configured link type. pcap has no
/// interfaces: registered indices are accepted and collapse into the one
/// stream, and the direction is dropped.
///
/// Dropping the writer without [`DumpWriter::finish`] flushes on a best-effort
/// basis and loses any error; call `finish` to learn of it.
pub struct DumpWriter<W: Write> {
    /// `None` only once [`finish`](Self::finish) has taken it.
    out: Option<W>,
    /// Encoded bytes not yet handed to `out`; never longer than `capacity`
    /// (it is allocated once with that capacity and never grows).
    buf: Vec<u8>,
    capacity: usize,
    file: String,
    cfg: DumpConfig,
    interfaces: u32,
    bytes: u64,
    packets: u64,
    /// `bytes` at the end of the last whole block or record put.
    record_end: u64,
    /// Bytes handed to `out` that end on a block or record boundary: the
    /// output's length after the last flush that left no partial record.
    whole: u64,
    /// Packets, and their captured bytes, in those `whole` bytes.
    whole_packets: u64,
    whole_data: u64,
    /// Captured bytes of the packets written with [`write`](Self::write).
    data: u64,
}

impl DumpWriter<File> {
    /// Creates (or truncates) `path` and writes the file header.
    pub fn create(path: impl AsRef<Path>, cfg: DumpConfig) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::create(path).map_err(|cause| CaptureError::Write {
            file: name.clone(),
            cause,
        })?;
        Self::new(file, name, cfg)
    }

    /// Gives up on the file after a write error: drops what is still
    /// buffered and cuts the file back to [`whole_bytes`](Self::whole_bytes),
    /// so that it ends after a whole record (a failed write may have left
    /// part of one) and tshark reads it to the end. It then holds the
    /// packets of [`whole_packets`](Self::whole_packets). Returns the new
    /// length.
    pub fn abandon(mut self) -> Result<u64, CaptureError> {
        self.buf.clear();
        let whole = self.whole;
        let file = self.file.clone();
        match self.out.take() {
            Some(f) => f
                .set_len(whole)
                .map(|()| whole)
                .map_err(|cause| CaptureError::Write { file, cause }),
            None => Ok(whole),
        }
    }
}

impl<W: Write> DumpWriter<W> {
    /// Wraps `inner` in a [`DEFAULT_BUFFER_SIZE`] (1 MiB) buffer and writes
    /// the file header. `name` is used in error messages.
    pub fn new(inner: W, name: impl Into<String>, cfg: DumpConfig) -> Result<Self, CaptureError> {
        Self::with_capacity(inner, name, cfg, DEFAULT_BUFFER_SIZE)
    }

    /// Like [`new`](Self::new) with a buffer of `capacity` bytes (at least
    /// 64). The output's bytes do not depend on it, only the sizes of the
    /// writes do.
    pub fn with_capacity(
        inner: W,
        name: impl Into<String>,
        mut cfg: DumpConfig,
        capacity: usize,
    ) -> Result<Self, CaptureError> {
        if cfg.snaplen == 0 {
            cfg.snaplen = DEFAULT_SNAPLEN;
        }
        let capacity = capacity.max(MIN_BUFFER_SIZE);
        let mut w = Self {
            out: Some(inner),
            buf: Vec::with_capacity(capacity),
            capacity,
            file: name.into(),
            cfg,
            interfaces: 0,
            bytes: 0,
            packets: 0,
            record_end: 0,
            whole: 0,
            whole_packets: 0,
            whole_data: 0,
            data: 0,
        };
        match cfg.format {
            DumpFormat::Pcap => {
                let magic: u32 = match cfg.pcap_resolution {
                    TsResolution::Micro => 0xa1b2_c3d4,
                    TsResolution::Nano => 0xa1b2_3c4d,
                };
                let mut h = [0u8; 24];
                h[0..4].copy_from_slice(&magic.to_le_bytes());
                h[4..6].copy_from_slice(&2u16.to_le_bytes());
                h[6..8].copy_from_slice(&4u16.to_le_bytes());
                // thiszone and sigfigs stay 0.
                h[16..20].copy_from_slice(&cfg.snaplen.to_le_bytes());
                h[20..24].copy_from_slice(&u32::from(cfg.linktype).to_le_bytes());
                w.put(&h)?;
            }
            DumpFormat::Pcapng => {
                let opt_len = pad4(USER_APPL.len());
                let blen = 28 + 4 + opt_len + 4;
                let mut h = [0u8; 28];
                h[0..4].copy_from_slice(&0x0a0d_0d0au32.to_le_bytes());
                h[4..8].copy_from_slice(&(blen as u32).to_le_bytes());
                h[8..12].copy_from_slice(&0x1a2b_3c4du32.to_le_bytes());
                h[12..14].copy_from_slice(&1u16.to_le_bytes());
                // minor version 0; section length unknown (-1).
                h[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
                // 4 = shb_userappl
                h[24..26].copy_from_slice(&4u16.to_le_bytes());
                h[26..28].copy_from_slice(&(USER_APPL.len() as u16).to_le_bytes());
                w.put(&h)?;
                w.put_padded(USER_APPL.as_bytes())?;
                w.put(&[0, 0, 0, 0])?;
                w.put(&(blen as u32).to_le_bytes())?;
            }
        }
        w.record_end = w.bytes;
        Ok(w)
    }

    /// The output's name as used in errors.
    pub fn name(&self) -> &str {
        &self.file
    }

    /// The configuration in effect (snaplen 0 replaced by the default).
    pub fn config(&self) -> &DumpConfig {
        &self.cfg
    }

    /// Registers an interface and returns its index. pcapng: writes an IDB
    /// with `if_name` (when given) and `if_tsresol` 9. pcap: the link type
    /// must match the file's.
    pub fn add_interface(
        &mut self,
        name: Option<&str>,
        linktype: u16,
    ) -> Result<u32, CaptureError> {
        match self.cfg.format {
            DumpFormat::Pcap => {
                if linktype != self.cfg.linktype {
                    return Err(CaptureError::LinktypeMismatch {
                        file: self.file.clone(),
                        existing: self.cfg.linktype,
                        requested: linktype,
                    });
                }
            }
            DumpFormat::Pcapng => {
                // Option values are limited to u16 lengths; cut a silly name
                // on a character boundary rather than fail.
                let name = name.map(|n| {
                    let mut end = n.len().min(1024);
                    while !n.is_char_boundary(end) {
                        end -= 1;
                    }
                    &n[..end]
                });
                let name_opt = name.map_or(0, |n| 4 + pad4(n.len()));
                let blen = 16 + name_opt + 8 + 4 + 4;
                let mut h = [0u8; 16];
                h[0..4].copy_from_slice(&1u32.to_le_bytes());
                h[4..8].copy_from_slice(&(blen as u32).to_le_bytes());
                h[8..10].copy_from_slice(&linktype.to_le_bytes());
                h[12..16].copy_from_slice(&self.cfg.snaplen.to_le_bytes());
                self.put(&h)?;
                if let Some(n) = name {
                    let mut o = [0u8; 4];
                    o[0..2].copy_from_slice(&2u16.to_le_bytes());
                    o[2..4].copy_from_slice(&(n.len() as u16).to_le_bytes());
                    self.put(&o)?;
                    self.put_padded(n.as_bytes())?;
                }
                // if_tsresol (9) = 9 (padded), opt_endofopt, trailing length.
                let mut t = [0u8; 16];
                t[0..2].copy_from_slice(&9u16.to_le_bytes());
                t[2..4].copy_from_slice(&1u16.to_le_bytes());
                t[4] = 9;
                t[12..16].copy_from_slice(&(blen as u32).to_le_bytes());
                self.put(&t)?;
            }
        }
        self.record_end = self.bytes;
        let id = self.interfaces;
        self.interfaces += 1;
        Ok(id)
    }

    /// Writes one packet, cut to the snaplen (the original length is kept,
    /// and raised to the data length if smaller).
    pub fn write(&mut self, rec: &CaptureRecord<'_>) -> Result<(), CaptureError> {
        if self.interfaces == 0 {
            self.add_interface(None, self.cfg.linktype)?;
        }
        if rec.interface >= self.interfaces {
            return Err(CaptureError::UnknownInterface {
                file: self.file.clone(),
                interface: rec.interface,
                registered: self.interfaces,
            });
        }
        let caplen = rec.data.len().min(self.cfg.snaplen as usize);
        let data = &rec.data[..caplen];
        let orig_len = rec
            .orig_len
            .max(u32::try_from(rec.data.len()).unwrap_or(u32::MAX));
        let caplen = caplen as u32;
        match self.cfg.format {
            DumpFormat::Pcap => {
                let h = pcap_record_header(&self.cfg, rec.ts_nanos, caplen, orig_len);
                if self.capacity - self.buf.len() >= h.len() + data.len() {
                    // The common case: both parts into the buffer, no call.
                    self.buf.extend_from_slice(&h);
                    self.buf.extend_from_slice(data);
                    self.bytes += (h.len() + data.len()) as u64;
                } else {
                    // Flushed first, so that the output is always handed
                    // whole records (see `whole_bytes`).
                    self.flush_buf()?;
                    self.put(&h)?;
                    self.put(data)?;
                }
            }
            DumpFormat::Pcapng => {
                let flags_len = if rec.direction.is_some() { 12 } else { 0 };
                let blen = 28 + pad4(caplen as usize) + flags_len + 4;
                let mut h = [0u8; 28];
                h[0..4].copy_from_slice(&6u32.to_le_bytes());
                h[4..8].copy_from_slice(&(blen as u32).to_le_bytes());
                h[8..12].copy_from_slice(&rec.interface.to_le_bytes());
                h[12..16].copy_from_slice(&((rec.ts_nanos >> 32) as u32).to_le_bytes());
                h[16..20].copy_from_slice(&(rec.ts_nanos as u32).to_le_bytes());
                h[20..24].copy_from_slice(&caplen.to_le_bytes());
                h[24..28].copy_from_slice(&orig_len.to_le_bytes());
                // With a direction: epb_flags (2), length 4, value,
                // opt_endofopt; then (always) the trailing block length.
                let mut tail = [0u8; 16];
                if let Some(dir) = rec.direction {
                    tail[0..2].copy_from_slice(&2u16.to_le_bytes());
                    tail[2..4].copy_from_slice(&4u16.to_le_bytes());
                    tail[4..8].copy_from_slice(&dir.epb_flags().to_le_bytes());
                }
                tail[flags_len..flags_len + 4].copy_from_slice(&(blen as u32).to_le_bytes());
                let pad = &[0u8; 3][..pad4(data.len()) - data.len()];
                let tail = &tail[..flags_len + 4];
                if self.capacity - self.buf.len() >= blen {
                    self.buf.extend_from_slice(&h);
                    self.buf.extend_from_slice(data);
                    self.buf.extend_from_slice(pad);
                    self.buf.extend_from_slice(tail);
                    self.bytes += blen as u64;
                } else {
                    self.flush_buf()?;
                    self.put(&h)?;
                    self.put(data)?;
                    self.put(pad)?;
                    self.put(tail)?;
                }
            }
        }
        self.packets += 1;
        self.data += u64::from(caplen);
        self.record_end = self.bytes;
        Ok(())
    }

    /// An encoder that prepares records exactly as [`write`](Self::write)
    /// would, into any buffer, on any thread; `None` for pcapng (whose
    /// records refer to the writer's interface blocks). The encoded bytes
    /// are written with [`append_encoded`](Self::append_encoded).
    pub fn pcap_encoder(&self) -> Option<PcapEncoder> {
        (self.cfg.format == DumpFormat::Pcap).then_some(PcapEncoder { cfg: self.cfg })
    }

    /// Writes `packets` records that a [`PcapEncoder`] of this writer put
    /// into `bytes`, as they are.
    pub fn append_encoded(&mut self, bytes: &[u8], packets: u64) -> Result<(), CaptureError> {
        self.put(bytes)?;
        self.packets += packets;
        self.record_end = self.bytes;
        Ok(())
    }

    /// Bytes handed to the output so far (headers included), whether or
    /// not they have been flushed yet.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Packets written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// Bytes that reached the output and end on a record boundary: what
    /// the output held after the last flush that left no partial record
    /// (the file header included).
    pub fn whole_bytes(&self) -> u64 {
        self.whole
    }

    /// Captured bytes of the packets given to [`write`](Self::write) so far.
    pub fn written_data(&self) -> u64 {
        self.data
    }

    /// The packets in [`whole_bytes`](Self::whole_bytes), and their
    /// captured bytes (counted for packets given to
    /// [`write`](Self::write); those of
    /// [`append_encoded`](Self::append_encoded) count as 0 bytes).
    pub fn whole_packets(&self) -> (u64, u64) {
        (self.whole_packets, self.whole_data)
    }

    /// Writes out the buffer. After `Ok`, the file holds whole records up
    /// to the last packet written.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.flush_buf()?;
        if let Some(out) = self.out.as_mut() {
            out.flush().map_err(|cause| CaptureError::Write {
                file: self.file.clone(),
                cause,
            })?;
        }
        Ok(())
    }

    /// Flushes and returns the inner writer (a [`File`] is then closed by
    /// dropping it).
    pub fn finish(mut self) -> Result<W, CaptureError> {
        self.flush()?;
        self.out.take().ok_or_else(|| CaptureError::Write {
            file: self.file.clone(),
            cause: std::io::Error::other("writer already finished"),
        })
    }

    /// Hands the buffered bytes to the output. On an error the bytes that
    /// did not reach it stay buffered (a later flush tries them again).
    fn flush_buf(&mut self) -> Result<(), CaptureError> {
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        let mut done = 0;
        let mut result = Ok(());
        while done < self.buf.len() {
            match out.write(&self.buf[done..]) {
                Ok(0) => {
                    result = Err(std::io::Error::from(ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // Where this buffer starts in the output.
        let base = self.bytes - self.buf.len() as u64;
        if done == self.buf.len() {
            self.buf.clear();
            if self.bytes == self.record_end {
                self.whole = self.bytes;
                self.whole_packets = self.packets;
                self.whole_data = self.data;
            }
        } else {
            if self.whole == base {
                let (len, packets, data) = self.whole_prefix(base, done);
                self.whole = base + len as u64;
                self.whole_packets += packets;
                self.whole_data += data;
            }
            self.buf.drain(..done);
        }
        result.map_err(|cause| CaptureError::Write {
            file: self.file.clone(),
            cause,
        })
    }

    /// The length of the longest run of whole blocks or records at the
    /// start of the buffer within its first `done` bytes, and the packets
    /// and captured bytes in it; the buffer starts on a boundary, at
    /// offset `base` of the output.
    fn whole_prefix(&self, base: u64, done: usize) -> (usize, u64, u64) {
        let word = |at: usize| {
            self.buf
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, |b| u32::from_le_bytes(b) as usize)
        };
        let (mut at, mut packets, mut data) = (0, 0, 0);
        loop {
            // (length, captured bytes if it is a packet)
            let (len, caplen) = match self.cfg.format {
                DumpFormat::Pcap if base == 0 && at == 0 => (24, None),
                DumpFormat::Pcap => (16 + word(at + 8), Some(word(at + 8))),
                DumpFormat::Pcapng => {
                    (word(at + 4).max(12), (word(at) == 6).then(|| word(at + 20)))
                }
            };
            if at + len > done {
                return (at, packets, data);
            }
            at += len;
            if let Some(c) = caplen {
                packets += 1;
                data += c as u64;
            }
        }
    }

    /// Appends `b` to the output: into the buffer when it fits (after
    /// flushing the buffer if need be), else directly after the buffer.
    fn put(&mut self, b: &[u8]) -> Result<(), CaptureError> {
        if self.capacity - self.buf.len() < b.len() {
            self.flush_buf()?;
        }
        if b.len() <= self.capacity - self.buf.len() {
            self.buf.extend_from_slice(b);
        } else if let Some(out) = self.out.as_mut() {
            out.write_all(b).map_err(|cause| CaptureError::Write {
                file: self.file.clone(),
                cause,
            })?;
        }
        self.bytes += b.len() as u64;
        Ok(())
    }

    fn put_padded(&mut self, b: &[u8]) -> Result<(), CaptureError> {
        self.put(b)?;
        let pad = pad4(b.len()) - b.len();
        if pad > 0 {
            self.put(&[0u8; 3][..pad])?;
        }
        Ok(())
    }
}

impl<W: Write> Drop for DumpWriter<W> {
    fn drop(&mut self) {
        // Best effort, as documented on the type: `finish` reports errors.
        let _ = self.flush_buf();
    }
}

/// Encodes pcap records for a [`DumpWriter`] (see
/// [`DumpWriter::pcap_encoder`]).
#[derive(Debug, Clone, Copy)]
pub struct PcapEncoder {
    cfg: DumpConfig,
}

impl PcapEncoder {
    /// Appends `rec` to `out` as the writer would write it (cut to the
    /// snaplen, timestamp in the writer's resolution).
    pub fn encode(&self, rec: &CaptureRecord<'_>, out: &mut Vec<u8>) {
        let caplen = rec.data.len().min(self.cfg.snaplen as usize);
        let orig_len = rec
            .orig_len
            .max(u32::try_from(rec.data.len()).unwrap_or(u32::MAX));
        out.extend_from_slice(&pcap_record_header(
            &self.cfg,
            rec.ts_nanos,
            caplen as u32,
            orig_len,
        ));
        out.extend_from_slice(&rec.data[..caplen]);
    }
}

/// The 16-byte header of a pcap record.
fn pcap_record_header(cfg: &DumpConfig, ts_nanos: u64, caplen: u32, orig_len: u32) -> [u8; 16] {
    let secs = u32::try_from(ts_nanos / 1_000_000_000).unwrap_or(u32::MAX);
    let sub = ts_nanos % 1_000_000_000;
    let frac = match cfg.pcap_resolution {
        TsResolution::Micro => sub / 1000,
        TsResolution::Nano => sub,
    } as u32;
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&secs.to_le_bytes());
    h[4..8].copy_from_slice(&frac.to_le_bytes());
    h[8..12].copy_from_slice(&caplen.to_le_bytes());
    h[12..16].copy_from_slice(&orig_len.to_le_bytes());
    h
}

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}
