//! The capture runtime: workers that match packets against the active
//! outputs, lock-free rings to one writer thread per output, hot swap of the
//! output set, exact accounting, and an orderly shutdown. Nothing here knows
//! about DPDK: a worker polls any [`PacketSource`](crate::source::PacketSource).
//!
//! ```text
//! source ─▶ Worker ──(per worker × output SPSC ring)──▶ writer thread ─▶ dump files / packet log
//! ```
//!
//! What it promises:
//! - **Outputs.** The active outputs (the packet-logging expression and each
//!   running dump) form an [`OutputSet`] held in an `ArcSwap`. Each worker
//!   looks at it once per burst (through an `arc_swap::Cache`, so an
//!   unchanged set costs one pointer compare). [`Runtime::add_output`],
//!   [`Runtime::replace_expression`] and [`Runtime::remove_output`] swap in
//!   a new set, with the next generation number, while the workers run.
//!   Every packet of a burst is matched against the one set the worker
//!   loaded for that burst, so it is counted exactly once against exactly
//!   that set.
//! - **Workers** ([`Worker::run_burst`]) classify each packet ([`Classifier`]),
//!   decode it once as deep as the deepest active expression needs, match it
//!   against every active output and copy each match into that output's
//!   ring for this worker. A ring is a pair of `crossbeam` `ArrayQueue`s
//!   (filled slots to the writer, empty slots back) of preallocated slots:
//!   no allocation per packet. When no empty slot is left the packet is
//!   dropped for that output and counted as `dropped_queue_full`; a worker
//!   never blocks.
//! - **Counters** are plain integers in the worker, published to shared
//!   atomics (stores, no read-modify-write) every
//!   [`RuntimeConfig::publish_every`] bursts, when idle, when the set
//!   changes, and when the worker is dropped.
//!   Per worker: `rx = matched + unmatched`, where *matched* means "matched
//!   at least one output". Per output and worker: `matched = enqueued +
//!   dropped_queue_full + dropped_write_error`, the last for the matches
//!   of an output that has failed, which the worker counts and does not
//!   copy.
//! - **Writers.** One thread per output drains every worker's ring for it.
//!   Dumps write through [`DumpWriter`](crate::pcap::DumpWriter) with its
//!   1 MiB buffer, flush at least every [`RuntimeConfig::flush_interval`]
//!   (so after SIGKILL a dump holds whole records up to its last flush), and
//!   rotate by size and time over a ring of files (see [`DumpSpec`]). A write
//!   error stops only that output: it is logged (`PDMP-110-E`), counted in
//!   `write_errors`, and every packet that output cannot write from then on
//!   (including those buffered since the last good flush, and those still
//!   in its rings) is counted as `dropped_write_error`; the workers stop
//!   copying its matches and count them there too. `written` counts packets whose bytes reached the
//!   file (a successful flush), so per output
//!   `matched = written + dropped_queue_full + dropped_write_error +
//!   dropped_limit + in_flight` (`dropped_limit`: matches after a dump's
//!   [`DumpSpec::max_packets`]),
//!   and `in_flight` (in a ring or in the write buffer) is 0 after shutdown.
//!   The packet-log output writes one `PFLG-888-I` record per packet through
//!   [`Logger::packet`](crate::log::Logger::packet); `written` counts the
//!   records handed to the logger (whose own queue drops are the logger's
//!   `dropped` counter).
//! - **Shutdown** ([`Runtime::finish`]): the stop flag ends the workers'
//!   loops; once they are gone every writer drains its rings, flushes and
//!   finishes its file (valid for tshark), and the final [`Snapshot`] is
//!   returned, for which [`Snapshot::check`] holds.
#![forbid(unsafe_code)]

mod classify;
mod latency;
mod worker;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam::queue::ArrayQueue;
use serde::Serialize;

pub use classify::{Classifier, DirectionRule, InterfaceRule};
pub use latency::{LatencySnapshot, LATENCY_BUCKETS_NS};
pub use worker::Worker;

use crate::expr::{Matcher, PacketMeta};
use crate::log::{catalog, Logger};
use crate::pcap::{CaptureError, DumpFormat};
use crate::wire::Depth;

/// Sizes and intervals of a [`Runtime`].
///
/// Memory: every (worker, output) pair has `ring_slots` slots of
/// `slot_bytes` each, allocated when the output is added (8 MiB per pair
/// with the defaults; the pages are touched only as slots are used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Number of workers (one per receive queue). At least 1.
    pub workers: usize,
    /// Slots per ring (per worker and output). Default 4096.
    pub ring_slots: usize,
    /// Bytes kept of each packet in a ring slot (longer packets are cut;
    /// their original length is kept). Default 2048, the data room of a
    /// default mbuf.
    pub slot_bytes: usize,
    /// Workers publish their counters every this many bursts. Default 256.
    pub publish_every: u32,
    /// Dumps flush at least this often. Default 500 ms.
    pub flush_interval: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            workers: 1,
            ring_slots: 4096,
            slot_bytes: 2048,
            publish_every: 256,
            flush_interval: Duration::from_millis(500),
        }
    }
}

/// A pcap/pcapng dump and its rotation.
///
/// File names: `path` is always the file being written. On rotation it is
/// renamed to `STEM.1.EXT` (for `run/web.pcapng`: `run/web.1.pcapng`), the
/// earlier `STEM.k.EXT` become `STEM.(k+1).EXT`, and the oldest beyond
/// `max_files` (which counts `path` too) is deleted. So `path` is the
/// newest and `STEM.(max_files-1).EXT` the oldest file kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpSpec {
    /// The file being written.
    pub path: std::path::PathBuf,
    /// pcap or pcapng.
    pub format: DumpFormat,
    /// Bytes kept per packet (0: the writer's default).
    pub snaplen: u32,
    /// Rotate once the file holds at least this many bytes.
    pub max_file_bytes: Option<u64>,
    /// Rotate once the file is this old (only when it holds a packet).
    pub max_file_seconds: Option<u64>,
    /// Files kept, the current one included; at least 1.
    pub max_files: u32,
    /// Write at most this many packets in all (like `tcpdump -c`); later
    /// matches are counted as `dropped_limit`. `None`: no limit.
    pub max_packets: Option<u64>,
}

impl DumpSpec {
    /// The dump's files that exist now, oldest first: `STEM.(max_files-1).EXT`
    /// … `STEM.1.EXT`, then `path` (the file being written).
    pub fn files(&self) -> Vec<std::path::PathBuf> {
        let mut v: Vec<std::path::PathBuf> = (1..self.max_files.max(1))
            .rev()
            .map(|k| writer::rotated_name(&self.path, k))
            .collect();
        v.push(self.path.clone());
        v.retain(|p| p.is_file());
        v
    }
}

/// What an output does with its packets.
#[derive(Debug, Clone)]
pub enum OutputKind {
    /// Write a pcap/pcapng dump.
    Dump(DumpSpec),
    /// Log one `PFLG-888-I` record per packet through this logger.
    PacketLog {
        /// The logger to write through.
        logger: Logger,
        /// The track number of the records.
        track: u32,
    },
}

impl OutputKind {
    fn label(&self) -> &'static str {
        match self {
            OutputKind::Dump(_) => "dump",
            OutputKind::PacketLog { .. } => "packet_log",
        }
    }
}

/// A new output for [`Runtime::add_output`].
#[derive(Debug, Clone)]
pub struct OutputSpec {
    /// Unique name (the dump name; `packet_logging` for the packet log).
    pub name: String,
    /// The expression's text, for logs and snapshots.
    pub expression: String,
    /// The compiled expression.
    pub matcher: Matcher,
    /// Where matching packets go.
    pub kind: OutputKind,
}

/// Errors of the runtime's control API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// An output with this name is already active.
    #[error("an output named \"{0}\" is already active")]
    DuplicateOutput(String),
    /// No active output has this name.
    #[error("no active output is named \"{0}\"")]
    NoSuchOutput(String),
    /// The dump file could not be created.
    #[error("cannot start dump \"{name}\": {cause}")]
    Open {
        /// The output's name.
        name: String,
        /// Why.
        cause: CaptureError,
    },
    /// The writer thread could not be started.
    #[error("cannot start the writer thread of \"{name}\": {cause}")]
    Spawn {
        /// The output's name.
        name: String,
        /// Why.
        cause: std::io::Error,
    },
    /// [`Runtime::workers`] was already called.
    #[error("the workers were already taken")]
    WorkersTaken,
    /// The configuration is unusable (0 workers, 0 ring slots…).
    #[error("bad runtime configuration: {0}")]
    Config(String),
}

/// One copied packet in a ring.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The packet's bytes (at most the output's copy length).
    pub(crate) data: Vec<u8>,
    /// Length on the wire.
    pub(crate) orig_len: u32,
    /// Arrival time, ns since the epoch.
    pub(crate) ts_ns: u64,
    /// Interface and direction.
    pub(crate) meta: PacketMeta,
}

/// One worker's ring for one output: filled slots go to the writer, empty
/// ones come back. Both queues have room for every slot, so a push never
/// fails.
#[derive(Debug)]
pub(crate) struct Ring {
    pub(crate) full: ArrayQueue<Box<Slot>>,
    pub(crate) free: ArrayQueue<Box<Slot>>,
    /// Slots the writer has taken out of `full` so far. Stored (never
    /// read-modify-written) by the writer alone, before it counts the
    /// packet as written or dropped; see [`output_snapshot`].
    pub(crate) taken: AtomicU64,
}

impl Ring {
    fn new(slots: usize, slot_bytes: usize) -> Ring {
        let free = ArrayQueue::new(slots);
        for _ in 0..slots {
            let slot = Box::new(Slot {
                data: Vec::with_capacity(slot_bytes),
                orig_len: 0,
                ts_ns: 0,
                meta: PacketMeta::default(),
            });
            let _ = free.push(slot);
        }
        Ring {
            full: ArrayQueue::new(slots),
            free,
            taken: AtomicU64::new(0),
        }
    }
}

/// The counters one worker keeps for one output. A packet that matched was
/// either enqueued or dropped, so the matched count is their sum (see
/// `output_snapshot`).
#[derive(Debug, Default)]
pub(crate) struct OutputWorkerCounters {
    pub(crate) enqueued: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    /// Matches the worker did not copy because the output had failed;
    /// they are part of the output's `dropped_write_error`.
    pub(crate) dropped_failed: AtomicU64,
}

/// An output's shared state: rings, counters, the writer's stop flag.
#[derive(Debug)]
pub(crate) struct OutputShared {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) expression: Mutex<String>,
    /// Bytes copied into a slot.
    pub(crate) copy_len: usize,
    /// One ring per worker.
    pub(crate) rings: Vec<Ring>,
    pub(crate) per_worker: Vec<OutputWorkerCounters>,
    pub(crate) written: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) files_rotated: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    pub(crate) dropped_write_error: AtomicU64,
    pub(crate) dropped_limit: AtomicU64,
    pub(crate) failed: AtomicBool,
    /// The write error that stopped the output.
    pub(crate) error: Mutex<Option<String>>,
    pub(crate) stop: AtomicBool,
    /// Receive-to-write latency, merged in by the writer thread now and then.
    pub(crate) latency: Mutex<latency::Latency>,
}

impl OutputShared {
    /// Every packet that matched but was not written, whatever the reason
    /// (full rings, write errors, the packet limit), as far as the workers
    /// have published their counts.
    pub(crate) fn dropped_total(&self) -> u64 {
        let by_workers: u64 = self
            .per_worker
            .iter()
            .map(|w| {
                w.dropped_queue_full.load(Ordering::Acquire)
                    + w.dropped_failed.load(Ordering::Acquire)
            })
            .sum();
        by_workers
            + self.dropped_write_error.load(Ordering::Acquire)
            + self.dropped_limit.load(Ordering::Acquire)
    }
}

/// One output as a worker sees it: the expression and where matches go.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) matcher: Matcher,
    pub(crate) output: Arc<OutputShared>,
}

/// The outputs active at one generation.
#[derive(Debug)]
pub struct OutputSet {
    generation: u64,
    rules: Vec<Rule>,
    depth: Depth,
}

impl OutputSet {
    fn new(generation: u64, rules: Vec<Rule>, classify: bool) -> OutputSet {
        let base = if classify {
            Depth::Link
        } else {
            Depth::Metadata
        };
        let depth = rules
            .iter()
            .map(|r| r.matcher.depth())
            .fold(base, Depth::max);
        OutputSet {
            generation,
            rules,
            depth,
        }
    }

    /// The generation number (1 for the first set, +1 per change).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The names of the active outputs, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.output.name.as_str())
    }

    /// The depth packets are decoded to.
    pub fn depth(&self) -> Depth {
        self.depth
    }
}

/// A worker's shared counters.
#[derive(Debug, Default)]
pub(crate) struct WorkerShared {
    pub(crate) rx: AtomicU64,
    pub(crate) rx_bytes: AtomicU64,
    pub(crate) matched: AtomicU64,
    pub(crate) unmatched: AtomicU64,
    /// The worker will not use a set older than this generation again.
    pub(crate) seen_generation: AtomicU64,
    /// The [`Worker`] exists (set at creation, cleared on drop).
    pub(crate) active: AtomicBool,
}

struct WriterHandle {
    output: Arc<OutputShared>,
    thread: JoinHandle<()>,
}

struct Control {
    generation: u64,
    writers: Vec<WriterHandle>,
    removed: Vec<OutputSnapshot>,
    workers_taken: bool,
}

pub(crate) struct Inner {
    pub(crate) config: RuntimeConfig,
    pub(crate) classifier: Arc<Classifier>,
    pub(crate) set: Arc<ArcSwap<OutputSet>>,
    pub(crate) workers: Vec<WorkerShared>,
    pub(crate) stop: AtomicBool,
    logger: Option<Logger>,
    control: Mutex<Control>,
    started: Instant,
}

/// The running capture: outputs, workers and writers. A cheap handle
/// (clone it for the control plane); see the module docs.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .field("generation", &self.inner.set.load().generation)
            .finish_non_exhaustive()
    }
}

/// A worker's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerSnapshot {
    /// The worker's index.
    pub worker: usize,
    /// Packets received.
    pub rx: u64,
    /// Bytes received (lengths on the wire).
    pub rx_bytes: u64,
    /// Packets that matched at least one output.
    pub matched: u64,
    /// Packets that matched no output.
    pub unmatched: u64,
}

/// One output's counters, summed over the workers (with the per-worker part).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutputSnapshot {
    /// The output's name.
    pub name: String,
    /// `dump` or `packet_log`.
    pub kind: String,
    /// The expression in effect.
    pub expression: String,
    /// Packets that matched.
    pub matched: u64,
    /// Packets put into a ring.
    pub enqueued: u64,
    /// Packets dropped because the ring was full.
    pub dropped_queue_full: u64,
    /// Packets written (flushed to the file, or handed to the logger).
    pub written: u64,
    /// Captured bytes of the written packets (without file headers).
    pub bytes: u64,
    /// Files closed by rotation.
    pub files_rotated: u64,
    /// Write errors (the first stops the output).
    pub write_errors: u64,
    /// Packets that could not be written after a write error.
    pub dropped_write_error: u64,
    /// Packets not written because the dump reached its `max_packets`.
    pub dropped_limit: u64,
    /// Matched but neither written nor dropped yet (in a ring or the write
    /// buffer); 0 after shutdown.
    pub in_flight: u64,
    /// The output stopped on a write error.
    pub failed: bool,
    /// That error, as logged (`PDMP-110-E`).
    pub error: Option<String>,
    /// `(matched, enqueued, dropped_queue_full, dropped_write_error)` per
    /// worker; the last counts the matches a worker did not copy because
    /// the output had failed (the writer counts the rest of
    /// `dropped_write_error`).
    pub per_worker: Vec<[u64; 4]>,
    /// Receive-to-write latency of the packets the writer has handled
    /// (merged from the writer thread at least every flush interval).
    pub latency_ns: LatencySnapshot,
    /// Filled slots in each worker's ring for this output now (0 after the
    /// output was removed).
    pub ring_used: Vec<u64>,
    /// Slots per ring.
    pub ring_capacity: u64,
}

impl OutputSnapshot {
    /// All drops.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_write_error + self.dropped_limit
    }
}

/// All counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Milliseconds since the runtime was created.
    pub uptime_ms: u64,
    /// The output set's generation.
    pub generation: u64,
    /// Per worker.
    pub workers: Vec<WorkerSnapshot>,
    /// The active outputs.
    pub outputs: Vec<OutputSnapshot>,
    /// Outputs removed while running, with their final counters.
    pub removed: Vec<OutputSnapshot>,
}

impl Snapshot {
    /// Packets received by all workers.
    pub fn rx(&self) -> u64 {
        self.workers.iter().map(|w| w.rx).sum()
    }

    /// Packets that matched at least one output, over all workers.
    pub fn matched(&self) -> u64 {
        self.workers.iter().map(|w| w.matched).sum()
    }

    /// Every output, active and removed.
    pub fn all_outputs(&self) -> impl Iterator<Item = &OutputSnapshot> {
        self.outputs.iter().chain(&self.removed)
    }

    /// Checks the accounting identities: per worker `rx = matched +
    /// unmatched`; per output and worker `matched = enqueued +
    /// dropped_queue_full + dropped_write_error` (the worker's part); per
    /// output `matched = written + dropped_queue_full +
    /// dropped_write_error + dropped_limit + in_flight`; with `drained`, also
    /// `in_flight = 0`.
    /// Returns the first identity that fails.
    pub fn check(&self, drained: bool) -> Result<(), String> {
        for w in &self.workers {
            if w.rx != w.matched + w.unmatched {
                return Err(format!(
                    "worker {}: rx {} != matched {} + unmatched {}",
                    w.worker, w.rx, w.matched, w.unmatched
                ));
            }
        }
        for o in self.all_outputs() {
            for (i, [m, e, d, f]) in o.per_worker.iter().enumerate() {
                if *m != e + d + f {
                    return Err(format!(
                        "output {} worker {i}: matched {m} != enqueued {e} + dropped_queue_full {d} + dropped_write_error {f}",
                        o.name
                    ));
                }
            }
            let sum = o.written + o.dropped() + o.in_flight;
            if o.matched != sum {
                return Err(format!(
                    "output {}: matched {} != written {} + dropped_queue_full {} + dropped_write_error {} + dropped_limit {} + in_flight {}",
                    o.name, o.matched, o.written, o.dropped_queue_full, o.dropped_write_error, o.dropped_limit, o.in_flight
                ));
            }
            if drained && o.in_flight != 0 {
                return Err(format!(
                    "output {}: {} packets still in flight",
                    o.name, o.in_flight
                ));
            }
        }
        Ok(())
    }
}

fn lock(m: &Mutex<Control>) -> MutexGuard<'_, Control> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Runtime {
    /// A runtime for `config.workers` workers, with no output yet.
    /// `logger` receives the dump messages (`PDMP-*`).
    pub fn new(
        config: RuntimeConfig,
        classifier: Classifier,
        logger: Option<Logger>,
    ) -> Result<Runtime, RuntimeError> {
        if config.workers == 0 || config.ring_slots == 0 || config.slot_bytes == 0 {
            return Err(RuntimeError::Config(format!(
                "workers ({}), ring_slots ({}) and slot_bytes ({}) must be at least 1",
                config.workers, config.ring_slots, config.slot_bytes
            )));
        }
        let classify = !classifier.is_empty();
        let set = OutputSet::new(1, Vec::new(), classify);
        let workers = (0..config.workers)
            .map(|_| WorkerShared {
                seen_generation: AtomicU64::new(1),
                ..WorkerShared::default()
            })
            .collect();
        Ok(Runtime {
            inner: Arc::new(Inner {
                config,
                classifier: Arc::new(classifier),
                set: Arc::new(ArcSwap::from_pointee(set)),
                workers,
                stop: AtomicBool::new(false),
                logger,
                control: Mutex::new(Control {
                    generation: 1,
                    writers: Vec::new(),
                    removed: Vec::new(),
                    workers_taken: false,
                }),
                started: Instant::now(),
            }),
        })
    }

    /// The workers, one per index `0..config.workers`, to move onto their
    /// threads or lcores. Can be called once.
    pub fn workers(&self) -> Result<Vec<Worker>, RuntimeError> {
        let mut control = lock(&self.inner.control);
        if control.workers_taken {
            return Err(RuntimeError::WorkersTaken);
        }
        control.workers_taken = true;
        drop(control);
        Ok((0..self.inner.config.workers)
            .map(|i| Worker::new(Arc::clone(&self.inner), i))
            .collect())
    }

    /// The classifier the workers use.
    pub fn classifier(&self) -> &Classifier {
        &self.inner.classifier
    }

    /// The current output set.
    pub fn output_set(&self) -> Arc<OutputSet> {
        self.inner.set.load_full()
    }

    /// Asks the workers to leave their loops ([`Worker::run`] returns).
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Release);
    }

    /// Has [`Runtime::stop`] been called?
    pub fn is_stopping(&self) -> bool {
        self.inner.stop.load(Ordering::Acquire)
    }

    fn publish(&self, control: &mut Control, rules: Vec<Rule>) -> u64 {
        control.generation += 1;
        let set = OutputSet::new(control.generation, rules, !self.inner.classifier.is_empty());
        self.inner.set.store(Arc::new(set));
        control.generation
    }

    /// Starts an output: opens its file (for a dump) and its writer thread,
    /// then adds it to the set the workers match against.
    pub fn add_output(&self, spec: OutputSpec) -> Result<(), RuntimeError> {
        let mut control = lock(&self.inner.control);
        let current = self.inner.set.load_full();
        if current.rules.iter().any(|r| r.output.name == spec.name) {
            return Err(RuntimeError::DuplicateOutput(spec.name));
        }
        let cfg = &self.inner.config;
        let copy_len = match &spec.kind {
            OutputKind::Dump(d) if d.snaplen > 0 => cfg.slot_bytes.min(d.snaplen as usize),
            _ => cfg.slot_bytes,
        };
        let output = Arc::new(OutputShared {
            name: spec.name.clone(),
            kind: spec.kind.label(),
            expression: Mutex::new(spec.expression.clone()),
            copy_len,
            rings: (0..cfg.workers)
                .map(|_| Ring::new(cfg.ring_slots, copy_len))
                .collect(),
            per_worker: (0..cfg.workers)
                .map(|_| OutputWorkerCounters::default())
                .collect(),
            written: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            files_rotated: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            dropped_write_error: AtomicU64::new(0),
            dropped_limit: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            stop: AtomicBool::new(false),
            latency: Mutex::new(latency::Latency::new()),
        });
        let thread = writer::spawn(
            Arc::clone(&output),
            spec.kind,
            &spec.expression,
            Arc::clone(&self.inner.classifier),
            self.inner.logger.clone(),
            cfg.flush_interval,
        )?;
        let mut rules = current.rules.clone();
        rules.push(Rule {
            matcher: spec.matcher,
            output: Arc::clone(&output),
        });
        self.publish(&mut control, rules);
        control.writers.push(WriterHandle { output, thread });
        Ok(())
    }

    /// Replaces the expression of output `name`. Packets already matched
    /// keep their result; the workers use the new expression from their
    /// next burst on. The output's counters go on.
    pub fn replace_expression(
        &self,
        name: &str,
        expression: &str,
        matcher: Matcher,
    ) -> Result<u64, RuntimeError> {
        let mut control = lock(&self.inner.control);
        let current = self.inner.set.load_full();
        let mut rules = current.rules.clone();
        let rule = rules
            .iter_mut()
            .find(|r| r.output.name == name)
            .ok_or_else(|| RuntimeError::NoSuchOutput(name.to_owned()))?;
        rule.matcher = matcher;
        if let Ok(mut e) = rule.output.expression.lock() {
            expression.clone_into(&mut e);
        }
        let generation = self.publish(&mut control, rules);
        self.log(catalog::EXPR_SET, &[&name, &expression]);
        Ok(generation)
    }

    /// Removes output `name`: the workers stop matching it, its writer
    /// drains its rings and finishes its file. Returns its final counters
    /// (also kept in [`Snapshot::removed`]).
    pub fn remove_output(&self, name: &str) -> Result<OutputSnapshot, RuntimeError> {
        let mut control = lock(&self.inner.control);
        let current = self.inner.set.load_full();
        let rules: Vec<Rule> = current
            .rules
            .iter()
            .filter(|r| r.output.name != name)
            .cloned()
            .collect();
        let pos = control
            .writers
            .iter()
            .position(|w| w.output.name == name)
            .ok_or_else(|| RuntimeError::NoSuchOutput(name.to_owned()))?;
        let generation = self.publish(&mut control, rules);
        self.wait_for_workers(generation);
        let handle = control.writers.remove(pos);
        let snap = self.stop_writer(handle);
        self.log(catalog::EXPR_REMOVED, &[&name]);
        control.removed.push(snap.clone());
        Ok(snap)
    }

    /// Waits until no live worker can still use a set older than
    /// `generation` (its counters for that set are then published).
    fn wait_for_workers(&self, generation: u64) {
        for w in &self.inner.workers {
            while w.active.load(Ordering::Acquire)
                && w.seen_generation.load(Ordering::Acquire) < generation
            {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    fn stop_writer(&self, handle: WriterHandle) -> OutputSnapshot {
        handle.output.stop.store(true, Ordering::Release);
        let _ = handle.thread.join();
        output_snapshot(&handle.output)
    }

    /// The counters now. While workers run, worker counters lag by up to
    /// [`RuntimeConfig::publish_every`] bursts, so the identities hold only
    /// with `in_flight` absorbing the difference (it saturates at 0).
    pub fn snapshot(&self) -> Snapshot {
        let control = lock(&self.inner.control);
        self.snapshot_locked(&control)
    }

    fn snapshot_locked(&self, control: &Control) -> Snapshot {
        // Outputs first: what their writers have seen is a lower bound of
        // what each worker matched (see `output_snapshot`), and the worker
        // counts below are lifted to it, so that a live snapshot never shows
        // a worker matching fewer packets than one of its outputs did.
        let outputs: Vec<OutputSnapshot> = control
            .writers
            .iter()
            .map(|w| output_snapshot(&w.output))
            .collect();
        let workers = self
            .inner
            .workers
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let unmatched = w.unmatched.load(Ordering::Acquire);
                let seen = outputs
                    .iter()
                    .filter_map(|o| o.per_worker.get(i))
                    .map(|c| c[0])
                    .max()
                    .unwrap_or(0);
                let matched = w.matched.load(Ordering::Acquire).max(seen);
                WorkerSnapshot {
                    worker: i,
                    rx: matched + unmatched,
                    rx_bytes: w.rx_bytes.load(Ordering::Acquire),
                    matched,
                    unmatched,
                }
            })
            .collect();
        Snapshot {
            uptime_ms: u64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            generation: control.generation,
            workers,
            outputs,
            removed: control.removed.clone(),
        }
    }

    /// Stops everything in order: the workers' loops end (waiting up to
    /// `worker_grace` for every [`Worker`] to be dropped), then each writer
    /// drains its rings, flushes and finishes its file. Returns the final
    /// counters.
    pub fn finish(self, worker_grace: Duration) -> Snapshot {
        self.stop();
        let deadline = Instant::now() + worker_grace;
        while self
            .inner
            .workers
            .iter()
            .any(|w| w.active.load(Ordering::Acquire))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut control = lock(&self.inner.control);
        let handles = std::mem::take(&mut control.writers);
        let mut finished = Vec::new();
        for h in handles {
            let output = Arc::clone(&h.output);
            let _ = self.stop_writer(h);
            finished.push(output);
        }
        let mut snap = self.snapshot_locked(&control);
        snap.outputs = finished.iter().map(|o| output_snapshot(o)).collect();
        snap
    }

    /// Logs `entry` if a logger is set.
    fn log(&self, entry: &'static catalog::CatalogEntry, args: &[&dyn std::fmt::Display]) {
        if let Some(l) = &self.inner.logger {
            l.log(0, entry, args);
        }
    }
}

/// One output's counters at this moment.
///
/// Workers publish their counts every few bursts, while the writer counts
/// as it goes, so the published `enqueued` can lag behind what the writer
/// already took. The writer's own count is therefore read first (written
/// and drops), then each ring's `taken` and then its length: every packet
/// counted there was enqueued, so `taken + len` is a lower bound of the
/// true enqueued count, and the snapshot shows the larger of the two. That
/// keeps `matched = written + dropped + in_flight` true in every snapshot
/// (not only after shutdown), with nothing added to the worker's path.
fn output_snapshot(o: &OutputShared) -> OutputSnapshot {
    let written = o.written.load(Ordering::Acquire);
    let by_writer = o.dropped_write_error.load(Ordering::Acquire);
    let dropped_limit = o.dropped_limit.load(Ordering::Acquire);
    let per_worker: Vec<[u64; 4]> = o
        .per_worker
        .iter()
        .zip(&o.rings)
        .map(|(c, ring)| {
            let published = c.enqueued.load(Ordering::Acquire);
            let dropped = c.dropped_queue_full.load(Ordering::Acquire);
            let failed = c.dropped_failed.load(Ordering::Acquire);
            let taken = ring.taken.load(Ordering::Acquire);
            let seen = taken + ring.full.len() as u64;
            let enqueued = published.max(seen);
            [enqueued + dropped + failed, enqueued, dropped, failed]
        })
        .collect();
    let dropped_write_error = by_writer + per_worker.iter().map(|c| c[3]).sum::<u64>();
    let matched = per_worker.iter().map(|c| c[0]).sum();
    let enqueued = per_worker.iter().map(|c| c[1]).sum();
    let dropped_queue_full = per_worker.iter().map(|c| c[2]).sum();
    let in_flight = u64::saturating_sub(
        matched,
        written + dropped_queue_full + dropped_write_error + dropped_limit,
    );
    OutputSnapshot {
        name: o.name.clone(),
        kind: o.kind.to_owned(),
        expression: o.expression.lock().map(|e| e.clone()).unwrap_or_default(),
        matched,
        enqueued,
        dropped_queue_full,
        written,
        bytes: o.bytes.load(Ordering::Acquire),
        files_rotated: o.files_rotated.load(Ordering::Acquire),
        write_errors: o.write_errors.load(Ordering::Acquire),
        dropped_write_error,
        dropped_limit,
        in_flight,
        failed: o.failed.load(Ordering::Acquire),
        error: o.error.lock().ok().and_then(|e| e.clone()),
        per_worker,
        latency_ns: o.latency.lock().map(|l| l.snapshot()).unwrap_or_default(),
        ring_used: o.rings.iter().map(|r| r.full.len() as u64).collect(),
        ring_capacity: o.rings.first().map_or(0, |r| r.full.capacity() as u64),
    }
}

#[cfg(test)]
mod tests;
