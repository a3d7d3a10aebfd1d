//! Receive-to-write latency of an output: the time from a packet's arrival
//! timestamp (`Slot::ts_ns`, the source's clock) to the moment its writer
//! thread writes it, recorded in an `hdrhistogram` by the writer thread
//! (never by a worker). The writer records into its own histogram and
//! merges it into the output's shared one at every flush tick and at the
//! end, so readers ([`LatencySnapshot`]) see it with a delay of at most one
//! flush interval, and no lock is taken per packet.
//!
//! Values are clamped to 0..=1 hour (a clock step or a replayed capture
//! with old timestamps must not fail the record); the histogram keeps two
//! significant digits (1 % resolution).
#![forbid(unsafe_code)]

use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest latency recorded; larger values count as this.
const MAX_NS: u64 = 3_600_000_000_000;

/// Upper bounds (ns) of the cumulative buckets in [`LatencySnapshot::buckets`]:
/// 1 µs … 10 s in 1-5-10 steps (the Prometheus histogram's `le` values).
pub const LATENCY_BUCKETS_NS: [u64; 15] = [
    1_000,
    5_000,
    10_000,
    50_000,
    100_000,
    500_000,
    1_000_000,
    5_000_000,
    10_000_000,
    50_000_000,
    100_000_000,
    500_000_000,
    1_000_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// A latency distribution at one moment (all values in nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LatencySnapshot {
    /// Packets recorded.
    pub count: u64,
    /// Sum of the recorded latencies (saturating).
    pub sum: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest value recorded.
    pub max: u64,
    /// `[le, count of values <= le]` for each bound of
    /// [`LATENCY_BUCKETS_NS`], cumulative (values beyond the last bound
    /// are only in `count`).
    pub buckets: Vec<[u64; 2]>,
}

/// A histogram with the exact sum next to it.
#[derive(Debug, Clone)]
pub(crate) struct Latency {
    hist: Option<Histogram<u64>>,
    sum: u64,
}

impl Latency {
    /// An empty recorder. If the histogram cannot be created (it can: the
    /// bounds are constants) latency is simply not recorded.
    pub(crate) fn new() -> Latency {
        Latency {
            hist: Histogram::new_with_bounds(1, MAX_NS, 2).ok(),
            sum: 0,
        }
    }

    /// Records one latency.
    pub(crate) fn record(&mut self, ns: u64) {
        let ns = ns.min(MAX_NS);
        if let Some(h) = &mut self.hist {
            h.saturating_record(ns);
            self.sum = self.sum.saturating_add(ns);
        }
    }

    /// Whether nothing was recorded since the last [`Latency::drain_into`].
    pub(crate) fn is_empty(&self) -> bool {
        self.hist.as_ref().map_or(true, |h| h.is_empty())
    }

    /// Adds everything recorded here into `into` and empties `self`.
    pub(crate) fn drain_into(&mut self, into: &mut Latency) {
        if let (Some(from), Some(to)) = (&mut self.hist, &mut into.hist) {
            // Same bounds on both sides, so adding cannot fail.
            let _ = to.add(&*from);
            from.reset();
        }
        into.sum = into.sum.saturating_add(self.sum);
        self.sum = 0;
    }

    /// The distribution now.
    pub(crate) fn snapshot(&self) -> LatencySnapshot {
        let Some(h) = &self.hist else {
            return LatencySnapshot::default();
        };
        if h.is_empty() {
            return LatencySnapshot {
                buckets: LATENCY_BUCKETS_NS.iter().map(|&le| [le, 0]).collect(),
                ..LatencySnapshot::default()
            };
        }
        LatencySnapshot {
            count: h.len(),
            sum: self.sum,
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            buckets: LATENCY_BUCKETS_NS
                .iter()
                .map(|&le| [le, h.count_between(0, le)])
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_merges_and_summarizes() {
        let mut local = Latency::new();
        let mut shared = Latency::new();
        for v in [500u64, 2_000, 2_000, 20_000, 7_000_000] {
            local.record(v);
        }
        assert!(!local.is_empty());
        local.drain_into(&mut shared);
        assert!(local.is_empty());
        let s = shared.snapshot();
        assert_eq!(s.count, 5);
        assert_eq!(s.sum, 500 + 2_000 + 2_000 + 20_000 + 7_000_000);
        // 1 % resolution.
        assert!((1_980..=2_020).contains(&s.p50), "{s:?}");
        assert!((6_930_000..=7_070_000).contains(&s.max), "{s:?}");
        let at = |le: u64| s.buckets.iter().find(|b| b[0] == le).map(|b| b[1]);
        assert_eq!(at(1_000), Some(1));
        assert_eq!(at(5_000), Some(3));
        assert_eq!(at(50_000), Some(4));
        assert_eq!(at(5_000_000), Some(4));
        assert_eq!(at(10_000_000), Some(5));
        assert_eq!(s.buckets.len(), LATENCY_BUCKETS_NS.len());
    }

    #[test]
    fn huge_values_are_clamped() {
        let mut l = Latency::new();
        l.record(u64::MAX);
        let s = l.snapshot();
        assert_eq!(s.count, 1);
        assert_eq!(s.sum, MAX_NS);
        assert!(s.max >= MAX_NS / 100 * 99);
        assert_eq!(s.buckets.last().map(|b| b[1]), Some(0));
    }

    #[test]
    fn empty_snapshot_has_zero_buckets() {
        let s = Latency::new().snapshot();
        assert_eq!(s.count, 0);
        assert!(s.buckets.iter().all(|b| b[1] == 0));
        assert_eq!(s.buckets.len(), 15);
    }
}
