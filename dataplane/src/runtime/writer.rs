//! Writer threads: one per output, draining every worker's ring for it into
//! a dump (with rotation) or the packet log. See the parent module for the
//! accounting and [`DumpSpec`] for the file names.
//!
//! A writer never holds a worker up: it takes what its rings hold, and
//! after a light pass (fewer than `BUSY_PASS`, 256, packets) it sleeps 50 µs
//! (100 µs once idle for a while) so the next pass finds a batch. Handing
//! slots over one at a time, while the worker writes their neighbours, cost
//! the worker about 0.5 µs a packet and the writer a whole CPU.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::latency::Latency;
use super::{Classifier, DumpSpec, OutputKind, OutputShared, RuntimeError, Slot};
use crate::expr::Direction;
use crate::log::message::{Endpoint, Outcome, PacketDirection, PacketRecord, StatRecord};
use crate::log::{catalog, Logger};
use crate::pcap::{
    CaptureError, CaptureRecord, CapturedDirection, DumpConfig, DumpFormat, DumpWriter,
};
use crate::wire::{self, Depth, L3};

/// Starts the writer thread of `output`. A dump's first file is created
/// here, so a bad path is an error of the call.
pub(super) fn spawn(
    output: Arc<OutputShared>,
    kind: OutputKind,
    expression: &str,
    classifier: Arc<Classifier>,
    logger: Option<Logger>,
    flush_interval: Duration,
) -> Result<JoinHandle<()>, RuntimeError> {
    let name = output.name.clone();
    let sink = match kind {
        OutputKind::Dump(spec) => {
            let dump = DumpSink::open(spec, Arc::clone(&classifier), logger.clone(), &output)
                .map_err(|cause| RuntimeError::Open {
                    name: name.clone(),
                    cause,
                })?;
            if let Some(l) = &logger {
                let rec = StatRecord::new("DUMP-START")
                    .field("NAME", &output.name)
                    .field("FILE", dump.spec.path.display())
                    .field("FORMAT", dump.spec.format)
                    .field("EXPR", expression)
                    .finish(Outcome::Accepted);
                l.stat(0, catalog::PDMP_STARTED, rec);
            }
            Sink::Dump(Box::new(dump))
        }
        OutputKind::PacketLog { logger, track } => {
            logger.log(0, catalog::PFLG_STARTED, &[&output.name, &expression]);
            Sink::Log(LogSink {
                logger,
                track,
                classifier,
            })
        }
    };
    std::thread::Builder::new()
        .name(format!("writer-{name}"))
        .spawn(move || run(&output, sink, flush_interval))
        .map_err(|cause| RuntimeError::Spawn { name, cause })
}

enum Sink {
    Dump(Box<DumpSink>),
    Log(LogSink),
}

impl Sink {
    fn write(&mut self, out: &OutputShared, slot: &Slot) {
        match self {
            Sink::Dump(d) => d.write(out, slot),
            Sink::Log(l) => l.write(out, slot),
        }
    }

    fn tick(&mut self, out: &OutputShared, flush: bool) {
        if let Sink::Dump(d) = self {
            d.tick(out, flush);
        }
    }

    fn finish(self, out: &OutputShared) {
        match self {
            Sink::Dump(d) => d.finish(out),
            Sink::Log(l) => l.logger.log(
                0,
                catalog::PFLG_STOPPED,
                &[
                    &out.name,
                    &out.written.load(Ordering::Acquire),
                    &out.dropped_total(),
                ],
            ),
        }
    }
}

/// Nanoseconds since the Unix epoch (the clock the sources stamp packets with).
fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Moves the writer's own latency records into the output's shared histogram.
fn merge_latency(out: &OutputShared, local: &mut Latency) {
    if local.is_empty() {
        return;
    }
    if let Ok(mut shared) = out.latency.lock() {
        local.drain_into(&mut shared);
    }
}

/// A writer pass that takes fewer packets than this sleeps before the next.
const BUSY_PASS: usize = 256;

fn run(out: &OutputShared, mut sink: Sink, flush_interval: Duration) {
    let mut last_flush = Instant::now();
    let mut idle_loops = 0u32;
    let mut latency = Latency::new();
    loop {
        // Read the flag before draining: once it is set no worker pushes
        // any more, so an empty pass after seeing it means all is drained.
        let stopping = out.stop.load(Ordering::Acquire);
        let mut got = 0usize;
        for ring in &out.rings {
            let mut taken = ring.taken.load(Ordering::Relaxed);
            // Bounded per ring so one busy worker cannot starve the flush.
            for _ in 0..4096 {
                let Some(slot) = ring.full.pop() else { break };
                // Before the packet is counted written or dropped (see
                // `output_snapshot`); only this thread stores it.
                taken += 1;
                ring.taken.store(taken, Ordering::Release);
                sink.write(out, &slot);
                latency.record(now_ns().saturating_sub(slot.ts_ns));
                let _ = ring.free.push(slot);
                got += 1;
            }
        }
        let flush_due = last_flush.elapsed() >= flush_interval;
        if flush_due {
            last_flush = Instant::now();
            merge_latency(out, &mut latency);
        }
        sink.tick(out, flush_due);
        if got == 0 && stopping {
            break;
        }
        if got >= BUSY_PASS {
            idle_loops = 0;
        } else {
            idle_loops = idle_loops.saturating_add(1);
            // A light pass: let packets gather before the next one, so
            // slots cross between the cores in batches instead of one by
            // one while the worker is touching their neighbours. A ring of
            // 4096 slots takes over 100 µs to fill even at 37 Mpps.
            std::thread::sleep(Duration::from_micros(if idle_loops > 64 {
                100
            } else {
                50
            }));
        }
    }
    merge_latency(out, &mut latency);
    sink.finish(out);
}

/// A dump: the open file, and the packets written to it since the last
/// successful flush.
struct DumpSink {
    spec: DumpSpec,
    classifier: Arc<Classifier>,
    logger: Option<Logger>,
    writer: Option<DumpWriter<File>>,
    opened: Instant,
    /// Packets and bytes in the buffer since the last good flush.
    pending: u64,
    pending_bytes: u64,
    /// The first write error stops the dump.
    failed: bool,
    /// Packets handed to the file writer, over all files (for `max_packets`).
    accepted: u64,
    /// Only regular files rotate: a dump to `/dev/null` or a FIFO is never
    /// renamed.
    rotatable: bool,
}

impl DumpSink {
    fn open(
        spec: DumpSpec,
        classifier: Arc<Classifier>,
        logger: Option<Logger>,
        _out: &OutputShared,
    ) -> Result<DumpSink, CaptureError> {
        let writer = new_file(&spec, &classifier)?;
        let rotatable = std::fs::metadata(&spec.path).is_ok_and(|m| m.file_type().is_file());
        Ok(DumpSink {
            accepted: 0,
            rotatable,
            spec,
            classifier,
            logger,
            writer: Some(writer),
            opened: Instant::now(),
            pending: 0,
            pending_bytes: 0,
            failed: false,
        })
    }

    fn write(&mut self, out: &OutputShared, slot: &Slot) {
        let Some(w) = self.writer.as_mut().filter(|_| !self.failed) else {
            out.dropped_write_error.fetch_add(1, Ordering::Release);
            return;
        };
        if self
            .spec
            .max_packets
            .is_some_and(|max| self.accepted >= max)
        {
            out.dropped_limit.fetch_add(1, Ordering::Release);
            return;
        }
        let pcapng = w.config().format == DumpFormat::Pcapng;
        let names = self.classifier.names().len();
        let interface = match (pcapng, slot.meta.iif) {
            (false, _) => 0,
            (true, Some(i)) if usize::from(i.0) < names => u32::from(i.0),
            (true, _) => u32::try_from(names).unwrap_or(0),
        };
        let rec = CaptureRecord {
            ts_nanos: slot.ts_ns,
            orig_len: slot.orig_len,
            data: &slot.data,
            interface,
            direction: match slot.meta.direction {
                Direction::In => Some(CapturedDirection::Inbound),
                Direction::Out => Some(CapturedDirection::Outbound),
                Direction::Unknown => None,
            },
        };
        match w.write(&rec) {
            Ok(()) => {
                self.accepted += 1;
                self.pending += 1;
                let cut = slot.data.len().min(w.config().snaplen as usize);
                self.pending_bytes += cut as u64;
                if self.rotatable
                    && self
                        .spec
                        .max_file_bytes
                        .is_some_and(|max| w.bytes_written() >= max)
                {
                    self.rotate(out);
                }
            }
            Err(e) => {
                // This packet is lost too.
                out.dropped_write_error.fetch_add(1, Ordering::Release);
                self.fail(out, &e);
            }
        }
    }

    /// Periodic work: flush when due, rotate by time.
    fn tick(&mut self, out: &OutputShared, flush: bool) {
        if self.failed {
            return;
        }
        let old = self.rotatable
            && self.spec.max_file_seconds.is_some_and(|s| {
                self.opened.elapsed() >= Duration::from_secs(s)
                    && self
                        .writer
                        .as_ref()
                        .is_some_and(|w| w.packets_written() > 0)
            });
        if old {
            self.rotate(out);
        } else if flush {
            self.flush(out);
        }
    }

    fn flush(&mut self, out: &OutputShared) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        match w.flush() {
            Ok(()) => self.confirm(out),
            Err(e) => self.fail(out, &e),
        }
    }

    /// The pending packets reached the file.
    fn confirm(&mut self, out: &OutputShared) {
        out.written.fetch_add(self.pending, Ordering::Release);
        out.bytes.fetch_add(self.pending_bytes, Ordering::Release);
        self.pending = 0;
        self.pending_bytes = 0;
    }

    fn fail(&mut self, out: &OutputShared, e: &CaptureError) {
        self.failed = true;
        out.failed.store(true, Ordering::Release);
        out.write_errors.fetch_add(1, Ordering::Release);
        // Of the pending packets, those the failed write left whole in the
        // file (it is cut back to them below) were written after all.
        if let Some(w) = &self.writer {
            let (in_file, data) = w.whole_packets();
            let confirmed = w.packets_written().saturating_sub(self.pending);
            let saved = in_file.saturating_sub(confirmed).min(self.pending);
            if saved > 0 {
                let saved_bytes =
                    data.saturating_sub(w.written_data().saturating_sub(self.pending_bytes));
                out.written.fetch_add(saved, Ordering::Release);
                out.bytes.fetch_add(saved_bytes, Ordering::Release);
                self.pending -= saved;
            }
        }
        out.dropped_write_error
            .fetch_add(self.pending, Ordering::Release);
        self.pending = 0;
        self.pending_bytes = 0;
        let file = self.spec.path.display().to_string();
        let cause = match e {
            CaptureError::Write { cause, .. } => cause.to_string(),
            other => other.to_string(),
        };
        if let Ok(mut slot) = out.error.lock() {
            slot.get_or_insert_with(|| format!("writing {file} failed: {cause}"));
        }
        if let Some(l) = &self.logger {
            l.log(0, catalog::PDMP_WRITE_ERROR, &[&out.name, &file, &cause]);
        }
        // The failed write may have left part of a record: cut the file
        // back to its whole records, which are the ones counted as written
        // (the rest were counted as dropped above), so that it stays
        // readable to its end. (A device or FIFO cannot be cut; that is no
        // news.)
        if let Some(w) = self.writer.take() {
            if let (Err(e), true) = (w.abandon(), self.rotatable) {
                if let Some(l) = &self.logger {
                    l.log(
                        0,
                        catalog::PDMP_WRITE_ERROR,
                        &[&out.name, &file, &e.to_string()],
                    );
                }
            }
        }
    }

    /// Closes the current file, shifts the ring of files and opens a new one.
    fn rotate(&mut self, out: &OutputShared) {
        // Flushed while still held, so that a failure can cut the file back.
        let flushed = self.writer.as_mut().map(|w| w.flush());
        if let Some(Err(e)) = flushed {
            self.fail(out, &e);
            return;
        }
        let Some(w) = self.writer.take() else { return };
        let packets = w.packets_written();
        let bytes = w.bytes_written();
        if let Err(e) = w.finish() {
            self.fail(out, &e);
            return;
        }
        self.confirm(out);
        let next = rotated_name(&self.spec.path, 1);
        shift_files(&self.spec.path, self.spec.max_files);
        out.files_rotated.fetch_add(1, Ordering::Release);
        if let Some(l) = &self.logger {
            let rec = StatRecord::new("DUMP-ROTATE")
                .field("NAME", &out.name)
                .field("FILE", next.display())
                .field("NEXT", self.spec.path.display())
                .field("PACKETS", packets)
                .field("BYTES", bytes)
                .finish(Outcome::Accepted);
            l.stat(0, catalog::PDMP_ROTATED, rec);
        }
        match new_file(&self.spec, &self.classifier) {
            Ok(w) => {
                self.writer = Some(w);
                self.opened = Instant::now();
            }
            Err(e) => self.fail(out, &e),
        }
    }

    fn finish(mut self, out: &OutputShared) {
        let mut packets = 0;
        let mut bytes = 0;
        if let Some(Err(e)) = self.writer.as_mut().map(|w| w.flush()) {
            self.fail(out, &e);
        }
        if let Some(w) = self.writer.take() {
            packets = w.packets_written();
            bytes = w.bytes_written();
            match w.finish() {
                Ok(_) => self.confirm(out),
                Err(e) => self.fail(out, &e),
            }
        }
        if let Some(l) = &self.logger {
            let dropped = out.dropped_total();
            let outcome = if self.failed {
                Outcome::Failed
            } else {
                Outcome::Accepted
            };
            let rec = StatRecord::new("DUMP-STOP")
                .field("NAME", &out.name)
                .field("FILE", self.spec.path.display())
                .field("PACKETS", packets)
                .field("BYTES", bytes)
                .field("DROPPED", dropped)
                .finish(outcome);
            l.stat(0, catalog::PDMP_STOPPED, rec);
        }
    }
}

/// Creates `spec.path` with its header (and for pcapng one interface per
/// classifier name plus `unclassified`).
fn new_file(spec: &DumpSpec, classifier: &Classifier) -> Result<DumpWriter<File>, CaptureError> {
    let mut cfg = DumpConfig::new(spec.format);
    cfg.snaplen = spec.snaplen;
    let mut w = DumpWriter::create(&spec.path, cfg)?;
    if spec.format == DumpFormat::Pcapng {
        let linktype = w.config().linktype;
        for name in classifier.names() {
            w.add_interface(Some(name), linktype)?;
        }
        w.add_interface(Some("unclassified"), linktype)?;
    }
    Ok(w)
}

/// `dir/STEM.k.EXT` for `dir/STEM.EXT` (`dir/NAME.k` without extension).
pub(crate) fn rotated_name(path: &Path, k: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{k}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{k}"),
    };
    path.with_file_name(name)
}

/// Deletes the oldest file, renames `.k` to `.k+1` and the current file to
/// `.1`. With `max_files` ≤ 1 the current file is simply replaced.
fn shift_files(path: &Path, max_files: u32) {
    if max_files <= 1 {
        let _ = std::fs::remove_file(path);
        return;
    }
    let _ = std::fs::remove_file(rotated_name(path, max_files - 1));
    for k in (1..max_files - 1).rev() {
        let _ = std::fs::rename(rotated_name(path, k), rotated_name(path, k + 1));
    }
    let _ = std::fs::rename(path, rotated_name(path, 1));
}

/// The packet log: one `PFLG-888-I` record per packet.
struct LogSink {
    logger: Logger,
    track: u32,
    classifier: Arc<Classifier>,
}

impl LogSink {
    fn write(&mut self, out: &OutputShared, slot: &Slot) {
        let d = wire::decode(&slot.data, Depth::Transport);
        let (src, dst) = match d.l3 {
            L3::V4 { src, dst } => (
                IpAddr::V4(Ipv4Addr::from(src)),
                IpAddr::V4(Ipv4Addr::from(dst)),
            ),
            L3::V6 { src, dst } => (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
            ),
            L3::None => (
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ),
        };
        let ports = d.ports;
        let interface = slot
            .meta
            .iif
            .and_then(|i| self.classifier.interface_name(i))
            .unwrap_or("-");
        let rec = PacketRecord {
            direction: match slot.meta.direction {
                Direction::In => PacketDirection::In,
                Direction::Out => PacketDirection::Out,
                Direction::Unknown => PacketDirection::Unknown,
            },
            interface,
            protocol: d.ip_proto.unwrap_or(0),
            length: slot.orig_len,
            src: Endpoint {
                addr: src,
                port: ports.map(|p| p.0),
            },
            dst: Endpoint {
                addr: dst,
                port: ports.map(|p| p.1),
            },
            tcp_flags: d.tcp_flags,
            timestamp: Duration::from_nanos(slot.ts_ns),
        };
        // A record the logger's queue has no room for never reaches the
        // stats log: a failed write for this output, not a written packet.
        if self.logger.packet(self.track, &rec) {
            out.written.fetch_add(1, Ordering::Release);
            out.bytes
                .fetch_add(slot.data.len() as u64, Ordering::Release);
        } else {
            out.dropped_write_error.fetch_add(1, Ordering::Release);
        }
    }
}
