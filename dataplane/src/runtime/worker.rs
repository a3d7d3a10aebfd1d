//! The worker: one per receive queue; matches every packet of a burst
//! against the output set, a batch of packets per rule at a time, and
//! copies the matches into the rings. See the parent module for the
//! accounting it keeps.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arc_swap::{ArcSwap, Cache};

use super::{Inner, OutputSet, Ring, Slot};
use crate::expr::{BatchMeta, PacketMeta, BATCH_MAX};
use crate::hint::prefetch_write;
use crate::source::{Burst, PacketSource, SourceError, BURST_MAX};

/// A worker's own counters for one output of its current set, and the
/// free slot its next match goes into.
#[derive(Debug, Default)]
struct LocalOutput {
    enqueued: u64,
    dropped_queue_full: u64,
    /// Matches not copied because the output's writer had failed (they
    /// would only be dropped there).
    dropped_failed: u64,
    /// Taken from the ring's free queue one match early and prefetched for
    /// writing, so the next match does not wait for the lines the writer
    /// last touched. Handed back in `switch_set` and on drop.
    spare: Option<Box<Slot>>,
}

/// A worker's plain counters, published to the shared atomics now and then.
#[derive(Debug, Default)]
struct Local {
    rx: u64,
    rx_bytes: u64,
    matched: u64,
    unmatched: u64,
    /// Aligned with the rules of `set`.
    outputs: Vec<LocalOutput>,
    /// The set `outputs` belongs to.
    set: Option<Arc<OutputSet>>,
    bursts: u32,
}

/// One worker of a [`Runtime`](super::Runtime). Move it to the thread or
/// lcore that polls its queue; dropping it publishes its final counters.
pub struct Worker {
    index: usize,
    inner: Arc<Inner>,
    cache: Cache<Arc<ArcSwap<OutputSet>>, Arc<OutputSet>>,
    local: Local,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("index", &self.index)
            .field("rx", &self.local.rx)
            .finish_non_exhaustive()
    }
}

impl Worker {
    pub(super) fn new(inner: Arc<Inner>, index: usize) -> Worker {
        if let Some(w) = inner.workers.get(index) {
            w.active.store(true, Ordering::Release);
        }
        let cache = Cache::new(Arc::clone(&inner.set));
        Worker {
            index,
            inner,
            cache,
            local: Local::default(),
        }
    }

    /// This worker's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Polls `source` until the runtime is stopped or the source ends
    /// (`Ok`), or the source fails (`Err`). Counters are published on the
    /// way out.
    pub fn run<S: PacketSource>(&mut self, source: &mut S) -> Result<(), SourceError> {
        let mut burst = source.new_burst();
        let result = loop {
            if self.inner.stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            match source.recv_burst(&mut burst) {
                Ok(0) => {
                    self.idle();
                    std::hint::spin_loop();
                }
                Ok(_) => self.run_burst(&burst),
                Err(SourceError::EndOfStream) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        burst.release();
        self.publish();
        result
    }

    /// Called when a poll found nothing: picks up a new output set and
    /// publishes the counters.
    pub fn idle(&mut self) {
        let set = self.cache.load();
        if !self.local.set.as_ref().is_some_and(|s| Arc::ptr_eq(s, set)) {
            switch_set(&self.inner, self.index, &mut self.local, set);
        }
        publish(&self.inner, self.index, &self.local);
    }

    /// Matches every packet of `burst` against the current output set and
    /// copies the matches into the rings.
    ///
    /// The burst is matched in batches of up to [`BURST_MAX`] packets, rule
    /// by rule: each rule's matcher answers a whole batch at once (one bit
    /// per packet, see [`Matcher::matches_batch`]), then that rule's
    /// matches are copied into its ring in arrival order. When the port's
    /// interface and direction do not depend on the frame
    /// ([`Classifier::uniform`]), the batch is classified once.
    ///
    /// [`Matcher::matches_batch`]: crate::expr::Matcher::matches_batch
    /// [`Classifier::uniform`]: super::Classifier::uniform
    pub fn run_burst<B: Burst>(&mut self, burst: &B) {
        let set = self.cache.load();
        if !self.local.set.as_ref().is_some_and(|s| Arc::ptr_eq(s, set)) {
            switch_set(&self.inner, self.index, &mut self.local, set);
        }
        let len = burst.len();
        let mut start = 0;
        while start < len {
            let end = len.min(start + WORKER_BATCH);
            run_batch(
                &self.inner,
                self.index,
                &mut self.local,
                set,
                burst,
                start..end,
            );
            start = end;
        }
        let local = &mut self.local;
        local.bursts += 1;
        if local.bursts >= self.inner.config.publish_every {
            local.bursts = 0;
            publish(&self.inner, self.index, local);
        }
    }

    /// Publishes the counters now.
    pub fn publish(&mut self) {
        publish(&self.inner, self.index, &self.local);
    }
}

/// Packets per batch in the worker: a burst is at most this long, so a
/// burst is one batch.
const WORKER_BATCH: usize = if BURST_MAX < BATCH_MAX {
    BURST_MAX
} else {
    BATCH_MAX
};

/// Matches packets `range` of `burst` (at most [`WORKER_BATCH`]) against
/// every rule of `set`, copies the matches into the rings and counts.
#[inline(always)]
fn run_batch<B: Burst>(
    inner: &Inner,
    index: usize,
    local: &mut Local,
    set: &OutputSet,
    burst: &B,
    range: Range<usize>,
) {
    let mut frames: [&[u8]; WORKER_BATCH] = [&[]; WORKER_BATCH];
    let mut n = 0;
    let mut rx_bytes = 0u64;
    let mut port = None;
    let mut one_port = true;
    for (slot, i) in frames.iter_mut().zip(range.clone()) {
        let Some(pkt) = burst.get(i) else { break };
        *slot = pkt.data;
        rx_bytes += u64::from(pkt.meta.orig_len);
        one_port &= *port.get_or_insert(pkt.meta.port) == pkt.meta.port;
        n += 1;
    }
    let frames = frames.get(..n).unwrap_or_default();
    let classifier = &*inner.classifier;
    let uniform = port
        .filter(|_| one_port)
        .and_then(|p| classifier.uniform(p));
    let matched = match uniform {
        Some(meta) => match_rules(
            index,
            local,
            set,
            burst,
            range,
            frames,
            BatchMeta::Same(meta),
        ),
        None => {
            let mut metas = [PacketMeta::default(); WORKER_BATCH];
            for ((m, frame), i) in metas.iter_mut().zip(frames).zip(range.clone()) {
                let port = burst.get(i).map_or(0, |p| p.meta.port);
                *m = classifier.classify_frame(port, frame);
            }
            let metas = BatchMeta::Each(metas.get(..n).unwrap_or_default());
            match_rules(index, local, set, burst, range, frames, metas)
        }
    };
    let rx = n as u64;
    local.rx += rx;
    local.rx_bytes += rx_bytes;
    local.matched += matched;
    local.unmatched += rx - matched;
}

/// Matches `frames` (packets `range` of `burst`) against every rule of
/// `set`, copies each rule's matches into its ring and counts them.
/// Returns how many packets matched at least one rule.
#[inline(always)]
fn match_rules<B: Burst>(
    index: usize,
    local: &mut Local,
    set: &OutputSet,
    burst: &B,
    range: Range<usize>,
    frames: &[&[u8]],
    batch_meta: BatchMeta<'_>,
) -> u64 {
    let mut any = 0u64;
    for (r, rule) in set.rules.iter().enumerate() {
        let mut hits = rule.matcher.matches_batch(batch_meta, frames);
        if hits == 0 {
            continue;
        }
        // `outputs` is aligned with `set.rules` (switch_set).
        let Some(counts) = local.outputs.get_mut(r) else {
            continue;
        };
        any |= hits;
        // A failed output writes nothing more: its matches are counted,
        // not copied (one relaxed load per rule and batch).
        if rule.output.failed.load(Ordering::Relaxed) {
            counts.dropped_failed += u64::from(hits.count_ones());
            continue;
        }
        let Some(ring) = rule.output.rings.get(index) else {
            counts.dropped_queue_full += u64::from(hits.count_ones());
            continue;
        };
        while hits != 0 {
            let i = hits.trailing_zeros() as usize;
            hits &= hits - 1;
            // `frames` came from these packets, so this always finds one;
            // were it not, the match would still be counted (as a drop).
            let Some(pkt) = burst.get(range.start + i) else {
                counts.dropped_queue_full += 1;
                continue;
            };
            match counts.spare.take().or_else(|| ring.free.pop()) {
                Some(mut slot) => {
                    let n = pkt.data.len().min(rule.output.copy_len);
                    slot.data.clear();
                    slot.data
                        .extend_from_slice(pkt.data.get(..n).unwrap_or_default());
                    slot.orig_len = pkt.meta.orig_len;
                    slot.ts_ns = pkt.meta.timestamp_ns;
                    slot.meta = match batch_meta {
                        BatchMeta::Same(meta) => meta,
                        BatchMeta::Each(metas) => metas.get(i).copied().unwrap_or_default(),
                    };
                    // Cannot fail: both queues hold every slot.
                    let _ = ring.full.push(slot);
                    counts.enqueued += 1;
                    counts.spare = take_spare(ring);
                }
                None => counts.dropped_queue_full += 1,
            }
        }
    }
    u64::from(any.count_ones())
}

/// A free slot of `ring`, its header and the start of its buffer
/// prefetched for writing.
#[inline(always)]
fn take_spare(ring: &Ring) -> Option<Box<Slot>> {
    let slot = ring.free.pop()?;
    prefetch_write(&*slot as *const Slot);
    prefetch_write(slot.data.as_ptr());
    Some(slot)
}

/// Hands the spare slots of `local` back to the free queues of the rings
/// they came from (the rules of `local.set`).
fn return_spares(index: usize, local: &mut Local) {
    let Some(set) = &local.set else { return };
    for (rule, out) in set.rules.iter().zip(local.outputs.iter_mut()) {
        if let (Some(slot), Some(ring)) = (out.spare.take(), rule.output.rings.get(index)) {
            // Cannot fail: the free queue has room for every slot.
            let _ = ring.free.push(slot);
        }
    }
}

/// Publishes the counters for the old set, then aligns `local` with `set`
/// (taking over the published per-output counts of outputs that stay), and
/// announces that this worker no longer uses older sets.
fn switch_set(inner: &Inner, index: usize, local: &mut Local, set: &Arc<OutputSet>) {
    publish(inner, index, local);
    return_spares(index, local);
    local.outputs.clear();
    local.outputs.extend(set.rules.iter().map(|r| {
        r.output
            .per_worker
            .get(index)
            .map_or(LocalOutput::default(), |c| LocalOutput {
                enqueued: c.enqueued.load(Ordering::Acquire),
                dropped_queue_full: c.dropped_queue_full.load(Ordering::Acquire),
                dropped_failed: c.dropped_failed.load(Ordering::Acquire),
                spare: None,
            })
    }));
    local.set = Some(Arc::clone(set));
    if let Some(w) = inner.workers.get(index) {
        w.seen_generation.store(set.generation, Ordering::Release);
    }
}

fn publish(inner: &Inner, index: usize, local: &Local) {
    if let Some(set) = &local.set {
        for (rule, c) in set.rules.iter().zip(&local.outputs) {
            if let Some(shared) = rule.output.per_worker.get(index) {
                shared.enqueued.store(c.enqueued, Ordering::Release);
                shared
                    .dropped_queue_full
                    .store(c.dropped_queue_full, Ordering::Release);
                shared
                    .dropped_failed
                    .store(c.dropped_failed, Ordering::Release);
            }
        }
    }
    if let Some(w) = inner.workers.get(index) {
        w.rx.store(local.rx, Ordering::Release);
        w.rx_bytes.store(local.rx_bytes, Ordering::Release);
        w.matched.store(local.matched, Ordering::Release);
        w.unmatched.store(local.unmatched, Ordering::Release);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        publish(&self.inner, self.index, &self.local);
        return_spares(self.index, &mut self.local);
        if let Some(w) = self.inner.workers.get(self.index) {
            w.active.store(false, Ordering::Release);
        }
    }
}
