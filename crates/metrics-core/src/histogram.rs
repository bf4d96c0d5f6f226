//! [`LatencyHistogram`]: log-linear latency buckets and their quantiles.
//!
//! Values below 16 ms have a bucket each; above, every power of two is
//! split into 16 equal buckets, so a bucket is never wider than 1/16 of
//! its lower bound. A quantile is reported as the middle of its bucket,
//! which puts it within [`RELATIVE_ERROR`] (1/32, about 3.1%) of the true
//! value of the same rank. The whole `u64` range takes 976 buckets.

/// Sub-buckets per power of two (a power of two itself).
const SUB: u64 = 16;
const SUB_BITS: u32 = SUB.trailing_zeros();

/// Number of buckets covering every `u64` latency.
pub(crate) const BUCKETS: usize = (SUB + (64 - SUB_BITS as u64) * SUB) as usize;

/// Largest relative distance between a reported quantile and the true
/// value of the same rank: `|reported - true| <= true * RELATIVE_ERROR`.
pub const RELATIVE_ERROR: f64 = 1.0 / 32.0;

/// The bucket holding latency `ms`.
pub(crate) fn bucket_of(ms: u64) -> usize {
    if ms < SUB {
        return ms as usize;
    }
    let top = 63 - ms.leading_zeros();
    let shift = top - SUB_BITS;
    let sub = (ms >> shift) - SUB;
    (SUB + u64::from(shift) * SUB + sub) as usize
}

/// The value reported for bucket `index`: the middle of its range.
fn representative(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB {
        return index;
    }
    let shift = (index - SUB) / SUB;
    let sub = (index - SUB) % SUB;
    let lower = (SUB + sub) << shift;
    let width = 1u64 << shift;
    lower + (width - 1) / 2
}

/// Counts of latencies in log-linear buckets, as taken by a snapshot.
///
/// Two snapshots' histograms can be subtracted with [`delta`] to get the
/// distribution of the requests between them.
///
/// [`delta`]: LatencyHistogram::delta
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram { counts: vec![0; BUCKETS] }
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one latency of `ms` milliseconds.
    pub fn record(&mut self, ms: u64) {
        let slot = &mut self.counts[bucket_of(ms)];
        *slot = slot.saturating_add(1);
    }

    /// Adds `n` to the bucket of index `bucket` (used when summing shards).
    pub(crate) fn add_bucket(&mut self, bucket: usize, n: u64) {
        let slot = &mut self.counts[bucket];
        *slot = slot.saturating_add(n);
    }

    /// How many latencies were counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// The requests counted in `self` but not in `earlier`, an older
    /// snapshot of the same aggregator.
    pub fn delta(&self, earlier: &LatencyHistogram) -> LatencyHistogram {
        let counts = self
            .counts
            .iter()
            .zip(&earlier.counts)
            .map(|(now, then)| now.saturating_sub(*then))
            .collect();
        LatencyHistogram { counts }
    }

    /// The latency at quantile `q` (0.0 to 1.0), or 0 when empty.
    ///
    /// The rank is the one the metrics note uses on sorted values:
    /// `sorted[floor(count * q)]`, clamped to the last value. The answer is
    /// within [`RELATIVE_ERROR`] of that value.
    pub fn quantile(&self, q: f64) -> u64 {
        let count = self.count();
        if count == 0 {
            return 0;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((count as f64 * q) as u64).min(count - 1);

        let mut seen = 0u64;
        for (index, &c) in self.counts.iter().enumerate() {
            seen = seen.saturating_add(c);
            if seen > rank {
                return representative(index);
            }
        }
        representative(BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_narrow() {
        let probes = (0..64)
            .flat_map(|s| [1u64 << s, (1u64 << s) - 1, (1u64 << s) + 1])
            .chain([0, 15, 16, 17, 31, 32, 33, 999, 1000, u64::MAX]);
        for v in probes {
            let b = bucket_of(v);
            assert!(b < BUCKETS, "{v}");
            let rep = representative(b) as f64;
            let err = (rep - v as f64).abs();
            assert!(err <= v as f64 * RELATIVE_ERROR, "{v} -> {rep}");
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        for v in 0..5000u64 {
            assert!(bucket_of(v) <= bucket_of(v + 1));
        }
    }

    #[test]
    fn quantiles_follow_the_rank_rule() {
        let cases: [(&[u64], f64, u64); 5] = [
            (&[], 0.5, 0),
            (&[7], 0.99, 7),
            (&[1, 2, 3, 4], 0.5, 3),
            (&[1, 2, 3, 4], 1.0, 4),
            (&[10, 10, 10, 1], 0.0, 1),
        ];
        for (values, q, want) in cases {
            let mut h = LatencyHistogram::new();
            values.iter().for_each(|&v| h.record(v));
            assert_eq!(h.quantile(q), want, "{values:?} q={q}");
        }
    }

    #[test]
    fn delta_keeps_only_the_newer_requests() {
        let mut h = LatencyHistogram::new();
        (0..100).for_each(|_| h.record(5));
        let earlier = h.clone();
        (0..10).for_each(|_| h.record(900));

        let d = h.delta(&earlier);
        assert_eq!(d.count(), 10);
        let p50 = d.quantile(0.5) as f64;
        assert!((p50 - 900.0).abs() <= 900.0 * RELATIVE_ERROR);
    }
}
