//! Sorted, merged sets of closed integer intervals (IPv4 as `u32`, IPv6 as
//! `u128`, ports as `u16`).
//!
//! Promises: after construction the intervals are sorted, disjoint and not
//! adjacent (touching intervals are merged), so membership is one binary
//! search — or a short linear scan for small sets, which is faster. Lookups
//! never allocate and never panic.
#![forbid(unsafe_code)]

use std::fmt;

/// An integer type intervals can be built over.
pub(crate) trait Point: Copy + Ord + fmt::Debug {
    /// The successor, or `None` at the maximum.
    fn succ(self) -> Option<Self>;
    /// The predecessor, or `None` at zero.
    fn pred(self) -> Option<Self>;
}

impl Point for u16 {
    fn succ(self) -> Option<u16> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<u16> {
        self.checked_sub(1)
    }
}
impl Point for u32 {
    fn succ(self) -> Option<u32> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<u32> {
        self.checked_sub(1)
    }
}
impl Point for u128 {
    fn succ(self) -> Option<u128> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<u128> {
        self.checked_sub(1)
    }
}

/// Sets no larger than this are scanned linearly instead of bisected.
const LINEAR_MAX: usize = 4;

/// A set of closed intervals `[lo, hi]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IntervalSet<T> {
    ranges: Box<[(T, T)]>,
}

impl<T: Point> IntervalSet<T> {
    /// Builds the union of `ranges` (each `(lo, hi)` with `lo <= hi`; others
    /// are dropped).
    pub(crate) fn from_ranges(mut ranges: Vec<(T, T)>) -> IntervalSet<T> {
        ranges.retain(|(lo, hi)| lo <= hi);
        ranges.sort_unstable();
        let mut merged: Vec<(T, T)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            if let Some(last) = merged.last_mut() {
                // Touching or overlapping: extend the previous interval.
                if last.1.succ().map_or(true, |next| lo <= next) {
                    if hi > last.1 {
                        last.1 = hi;
                    }
                    continue;
                }
            }
            merged.push((lo, hi));
        }
        IntervalSet {
            ranges: merged.into_boxed_slice(),
        }
    }

    /// Is `x` in the set?
    #[inline(always)]
    pub(crate) fn contains(&self, x: T) -> bool {
        if self.ranges.len() <= LINEAR_MAX {
            return self
                .ranges
                .iter()
                .fold(false, |hit, &(lo, hi)| hit | ((lo <= x) & (x <= hi)));
        }
        let i = self.ranges.partition_point(|&(lo, _)| lo <= x);
        match i.checked_sub(1).and_then(|j| self.ranges.get(j)) {
            Some(&(_, hi)) => x <= hi,
            None => false,
        }
    }

    /// No intervals at all?
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The merged intervals, sorted.
    pub(crate) fn ranges(&self) -> &[(T, T)] {
        &self.ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_sorts_and_drops_reversed() {
        type Ranges = &'static [(u16, u16)];
        let cases: &[(Ranges, Ranges)] = &[
            (&[], &[]),
            (&[(5, 3)], &[]),
            (&[(10, 20), (1, 2)], &[(1, 2), (10, 20)]),
            (&[(1, 5), (6, 9)], &[(1, 9)]),
            (&[(1, 5), (7, 9)], &[(1, 5), (7, 9)]),
            (&[(1, 50), (7, 9)], &[(1, 50)]),
            (&[(0, 65535), (7, 9)], &[(0, 65535)]),
            (&[(65535, 65535), (0, 65534)], &[(0, 65535)]),
        ];
        for (input, want) in cases {
            let s = IntervalSet::from_ranges(input.to_vec());
            assert_eq!(s.ranges(), *want, "{input:?}");
        }
    }

    #[test]
    fn contains_agrees_with_a_scan_for_small_and_large_sets() {
        for n in [0usize, 1, 3, 4, 5, 9, 20] {
            let ranges: Vec<(u32, u32)> = (0..n as u32).map(|i| (i * 10, i * 10 + 3)).collect();
            let s = IntervalSet::from_ranges(ranges.clone());
            for x in 0..(n as u32 * 10 + 5) {
                let want = ranges.iter().any(|&(lo, hi)| lo <= x && x <= hi);
                assert_eq!(s.contains(x), want, "n={n} x={x}");
            }
        }
        let full = IntervalSet::from_ranges(vec![(0u128, u128::MAX)]);
        assert!(full.contains(0) && full.contains(u128::MAX));
    }
}
