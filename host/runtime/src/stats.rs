//! Per-plugin call statistics: call times in a small log-bucketed histogram
//! (p50/p99 without keeping every sample), peak memory, dropped log lines.
//!
//! Recording is a handful of relaxed atomic adds, so concurrent calls of one
//! plugin never wait on each other to be counted; histograms merge by adding.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: each bucket is at most 1/8 of its value wide.
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets for values up to `u32::MAX` µs (over an hour); larger values land in the last.
pub(crate) const BUCKETS: usize = ((32 - SUB_BITS as usize) + 1) * SUB as usize;

/// Which bucket holds `value`: exact below 8, then 8 per power of two.
fn bucket_of(value: u64) -> usize {
    let value = value.min(u64::from(u32::MAX));
    if value < SUB {
        return value as usize;
    }
    let shift = 63 - value.leading_zeros() - SUB_BITS;
    (SUB as usize) * (shift as usize + 1) + ((value >> shift) - SUB) as usize
}

/// The smallest value in bucket `index`, and the bucket's width.
fn bucket_range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < SUB {
        return (index, 1);
    }
    let shift = index / SUB - 1;
    ((SUB + index % SUB) << shift, 1 << shift)
}

/// Counts of values by log bucket; a snapshot, cheap to merge and query.
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .finish()
    }
}

impl Histogram {
    /// Counts one value.
    pub fn record(&mut self, value: u64) {
        self.counts[bucket_of(value)] += 1;
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
    }

    /// How many values were counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The value below which a fraction `q` of the values lie (the middle of
    /// its bucket, so within 1/16 of the true value); `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = bucket_range(index);
                return Some(low + width / 2);
            }
        }
        None
    }
}

/// A [`Histogram`] that many threads record into at once.
#[derive(Debug)]
pub(crate) struct AtomicHistogram {
    counts: Box<[AtomicU64]>,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        AtomicHistogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl AtomicHistogram {
    pub(crate) fn record(&self, value: u64) {
        self.counts[bucket_of(value)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Histogram {
        let mut out = Histogram::default();
        for (slot, count) in out.counts.iter_mut().zip(self.counts.iter()) {
            *slot = count.load(Ordering::Relaxed);
        }
        out
    }
}

/// The lock-free part of a plugin's statistics, shared by all its calls.
#[derive(Debug, Default)]
pub(crate) struct CallStats {
    call_time_us: AtomicHistogram,
    /// The most linear memory any one call held, in bytes.
    peak_memory: AtomicU64,
    /// Log lines dropped over the per-call quota, across all calls.
    log_lines_dropped: AtomicU64,
}

impl CallStats {
    pub(crate) fn record_time(&self, elapsed: Duration) {
        self.call_time_us
            .record(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    pub(crate) fn record_memory(&self, bytes: u64) {
        self.peak_memory.fetch_max(bytes, Ordering::Relaxed);
    }

    pub(crate) fn record_dropped_logs(&self, lines: u64) {
        self.log_lines_dropped.fetch_add(lines, Ordering::Relaxed);
    }

    pub(crate) fn call_times(&self) -> Histogram {
        self.call_time_us.snapshot()
    }

    pub(crate) fn peak_memory(&self) -> u64 {
        self.peak_memory.load(Ordering::Relaxed)
    }

    pub(crate) fn log_lines_dropped(&self) -> u64 {
        self.log_lines_dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_every_value() {
        let mut expected = 0;
        for value in 0..100_000u64 {
            let index = bucket_of(value);
            assert!(index == expected || index == expected + 1, "{value}");
            expected = index;
            let (low, width) = bucket_range(index);
            assert!(
                low <= value && value < low + width,
                "{value} in {low}+{width}"
            );
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_are_within_a_sixteenth_of_the_true_value() {
        let mut h = Histogram::default();
        for us in 1..=1000 {
            h.record(us);
        }
        for (q, truth) in [(0.5, 500.0), (0.99, 990.0), (1.0, 1000.0)] {
            let got = h.quantile(q).unwrap() as f64;
            assert!((got - truth).abs() / truth <= 1.0 / 16.0, "q{q}: {got}");
        }
        assert_eq!(h.count(), 1000);
    }

    #[test]
    fn small_values_are_exact_and_an_empty_histogram_has_no_quantile() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for _ in 0..3 {
            h.record(5);
        }
        assert_eq!(h.quantile(0.5), Some(5));
        assert_eq!(h.quantile(0.99), Some(5));
    }

    #[test]
    fn merged_histograms_answer_as_if_recorded_together() {
        let mut fast = Histogram::default();
        let mut slow = Histogram::default();
        let mut both = Histogram::default();
        for i in 0..99 {
            fast.record(100 + i % 3);
            both.record(100 + i % 3);
        }
        slow.record(50_000);
        both.record(50_000);
        let mut merged = fast.clone();
        merged.merge(&slow);
        assert_eq!(merged, both);
        assert!(merged.quantile(0.5).unwrap() < 120);
        assert!(merged.quantile(1.0).unwrap() > 45_000);
    }

    #[test]
    fn concurrent_recording_loses_no_counts() {
        let stats = std::sync::Arc::new(CallStats::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let stats = stats.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        stats.record_time(Duration::from_micros(i));
                        stats.record_memory(t * 1000 + i);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(stats.call_times().count(), 4000);
        assert_eq!(stats.peak_memory(), 3999);
    }
}
