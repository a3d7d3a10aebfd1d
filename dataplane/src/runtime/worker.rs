//! The worker: one per receive queue; matches every packet of a burst
//! against the output set and copies the matches into the rings. See the
//! parent module for the accounting it keeps.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use arc_swap::{ArcSwap, Cache};

use super::{Inner, OutputSet};
use crate::source::{Burst, PacketSource, SourceError};

/// A worker's own counters for one output of its current set.
#[derive(Debug, Default, Clone, Copy)]
struct LocalOutput {
    enqueued: u64,
    dropped_queue_full: u64,
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
    pub fn run_burst<B: Burst>(&mut self, burst: &B) {
        let set = self.cache.load();
        let local = &mut self.local;
        if !local.set.as_ref().is_some_and(|s| Arc::ptr_eq(s, set)) {
            switch_set(&self.inner, self.index, local, set);
        }
        let classifier = &*self.inner.classifier;
        let (mut rx, mut rx_bytes, mut matched) = (0u64, 0u64, 0u64);
        for pkt in burst.iter() {
            rx += 1;
            rx_bytes += u64::from(pkt.meta.orig_len);
            // Each matcher reads only the headers it needs (lean staged
            // decode); no full decode of the packet.
            let meta = classifier.classify_frame(pkt.meta.port, pkt.data);
            let mut any = false;
            for (i, rule) in set.rules.iter().enumerate() {
                if !rule.matcher.matches(&meta, pkt.data) {
                    continue;
                }
                // `outputs` is aligned with `set.rules` (switch_set).
                let Some(counts) = local.outputs.get_mut(i) else {
                    continue;
                };
                any = true;
                let Some(ring) = rule.output.rings.get(self.index) else {
                    counts.dropped_queue_full += 1;
                    continue;
                };
                match ring.free.pop() {
                    Some(mut slot) => {
                        let n = pkt.data.len().min(rule.output.copy_len);
                        slot.data.clear();
                        slot.data
                            .extend_from_slice(pkt.data.get(..n).unwrap_or_default());
                        slot.orig_len = pkt.meta.orig_len;
                        slot.ts_ns = pkt.meta.timestamp_ns;
                        slot.meta = meta;
                        // Cannot fail: both queues hold every slot.
                        let _ = ring.full.push(slot);
                        counts.enqueued += 1;
                    }
                    None => counts.dropped_queue_full += 1,
                }
            }
            matched += u64::from(any);
        }
        local.rx += rx;
        local.rx_bytes += rx_bytes;
        local.matched += matched;
        local.unmatched += rx - matched;
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

/// Publishes the counters for the old set, then aligns `local` with `set`
/// (taking over the published per-output counts of outputs that stay), and
/// announces that this worker no longer uses older sets.
fn switch_set(inner: &Inner, index: usize, local: &mut Local, set: &Arc<OutputSet>) {
    publish(inner, index, local);
    local.outputs.clear();
    local.outputs.extend(set.rules.iter().map(|r| {
        r.output
            .per_worker
            .get(index)
            .map_or(LocalOutput::default(), |c| LocalOutput {
                enqueued: c.enqueued.load(Ordering::Acquire),
                dropped_queue_full: c.dropped_queue_full.load(Ordering::Acquire),
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
        if let Some(w) = self.inner.workers.get(self.index) {
            w.active.store(false, Ordering::Release);
        }
    }
}
