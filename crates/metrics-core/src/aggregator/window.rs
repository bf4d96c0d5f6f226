//! The rolling window used by threshold alerts: a ring of tagged buckets.
//!
//! The window is cut into at most 60 buckets of whole seconds; each bucket
//! counter carries the bucket number it counts for (see [`Tagged`]), so a
//! bucket left over from an earlier lap of the ring reads as zero and is
//! reset by the first request that lands in it. The newest bucket is the
//! current, partial one, so the window covers between `len - width` and
//! `len` seconds; `len` is the configured length rounded up to a
//! multiple of the bucket width.

use serde::Serialize;

use super::shard::Access;
use super::tagged::Tagged;

/// Buckets per shard ring.
pub(crate) const MAX_SLOTS: usize = 60;

/// Counts of one bucket of one shard.
#[derive(Debug, Default)]
pub(crate) struct WindowSlot {
    requests: Tagged<40>,
    errors: Tagged<40>,
    server_errors: Tagged<40>,
    latency_sum_ms: Tagged<40>,
}

/// The shape of the ring: how many buckets, how wide.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowShape {
    slots: u64,
    width_s: u64,
    by_width: Divider,
    by_slots: Divider,
}

/// Division by a fixed divisor as a multiplication: the two divisions of
/// a window update were a fifth of `Aggregator::record`'s time.
#[derive(Debug, Clone, Copy)]
struct Divider {
    d: u64,
    /// `ceil(2^64 / d)`; 0 for `d == 1`.
    inv: u64,
}

impl Divider {
    fn new(d: u64) -> Self {
        let d = d.max(1);
        let inv = if d == 1 { 0 } else { (u64::MAX / d) + 1 };
        Divider { d, inv }
    }

    /// `(n / d, n % d)`. The product is exact while `n * d < 2^64`: the
    /// rounding of `inv` then adds less than `1 / d` to the quotient.
    fn div_rem(&self, n: u64) -> (u64, u64) {
        if self.d == 1 {
            return (n, 0);
        }
        let q = if n < (1 << 32) && self.d < (1 << 32) {
            ((u128::from(n) * u128::from(self.inv)) >> 64) as u64
        } else {
            n / self.d
        };
        (q, n - q * self.d)
    }
}

impl WindowShape {
    /// A ring covering at least `window_s` seconds.
    pub(crate) fn new(window_s: u64) -> Self {
        let window_s = window_s.max(1);
        let slots = window_s.min(MAX_SLOTS as u64);
        let width_s = window_s.div_ceil(slots);
        WindowShape {
            slots,
            width_s,
            by_width: Divider::new(width_s),
            by_slots: Divider::new(slots),
        }
    }

    /// Seconds covered by the ring.
    pub(crate) fn len_s(&self) -> u64 {
        self.slots * self.width_s
    }

    fn bucket(&self, now_s: i64) -> u64 {
        match u64::try_from(now_s) {
            Ok(n) => self.by_width.div_rem(n).0,
            Err(_) => now_s.div_euclid(self.width_s as i64) as u64,
        }
    }

    fn ring_index(&self, bucket: u64) -> usize {
        self.by_slots.div_rem(bucket).1 as usize
    }

    /// Counts one request at second `now_s` in `ring`.
    pub(crate) fn record(
        &self,
        ring: &[WindowSlot],
        now_s: i64,
        status: u16,
        latency_ms: u64,
        access: Access,
    ) {
        let bucket = self.bucket(now_s);
        let slot = &ring[self.ring_index(bucket)];
        slot.requests.add(bucket, 1, access);
        if status >= 400 {
            slot.errors.add(bucket, 1, access);
        }
        if status >= 500 {
            slot.server_errors.add(bucket, 1, access);
        }
        slot.latency_sum_ms.add(bucket, latency_ms, access);
    }

    /// Adds the live buckets of `ring` at second `now_s` into `into`.
    pub(crate) fn sum(
        &self,
        ring: &[WindowSlot],
        now_s: i64,
        into: &mut WindowStats,
    ) {
        let newest = self.bucket(now_s);
        for back in 0..self.slots {
            let Some(bucket) = newest.checked_sub(back) else { break };
            let slot = &ring[self.ring_index(bucket)];
            into.requests += slot.requests.get(bucket);
            into.errors += slot.errors.get(bucket);
            into.server_errors += slot.server_errors.get(bucket);
            into.latency_sum_ms += slot.latency_sum_ms.get(bucket);
        }
    }
}

/// Requests in the rolling window, for threshold alerts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct WindowStats {
    /// Length of the window in seconds.
    pub window_seconds: u64,
    /// Requests in the window.
    pub requests: u64,
    /// Requests answered with a status of 400 or more.
    pub errors: u64,
    /// Requests answered with a status of 500 or more.
    pub server_errors: u64,
    /// Sum of the latencies, in milliseconds.
    pub latency_sum_ms: u64,
    /// Mean latency rounded to the nearest millisecond, 0 when idle.
    pub avg_latency_ms: u64,
    /// `errors / requests`, 0.0 when idle.
    pub error_rate: f64,
}

impl WindowStats {
    /// Fills in the averages from the sums.
    pub(crate) fn finish(mut self) -> Self {
        self.avg_latency_ms = rounded_mean(self.latency_sum_ms, self.requests);
        self.error_rate = ratio(self.errors, self.requests);
        self
    }
}

/// `sum / n` rounded to nearest, 0 when `n` is 0.
pub(crate) fn rounded_mean(sum: u64, n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    ((u128::from(sum) + u128::from(n) / 2) / u128::from(n)) as u64
}

/// `part / whole`, 0.0 when `whole` is 0.
pub(crate) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_by_multiplication_is_exact() {
        let divisors = [1, 2, 3, 5, 7, 60, 61, 86_400, u64::from(u32::MAX)];
        let numbers = (0..2000u64).chain([
            1_766_000_000,
            (1 << 32) - 1,
            1 << 32,
            u64::MAX,
        ]);
        for n in numbers {
            for d in divisors {
                assert_eq!(
                    Divider::new(d).div_rem(n),
                    (n / d, n % d),
                    "{n}/{d}"
                );
            }
        }
    }

    #[test]
    fn shapes() {
        let cases = [(300, 60, 5), (10, 10, 1), (301, 60, 6), (0, 1, 1)];
        for (window, slots, width) in cases {
            let s = WindowShape::new(window);
            assert_eq!((s.slots, s.width_s), (slots, width), "{window}");
        }
    }

    #[test]
    fn old_buckets_fall_out() {
        let shape = WindowShape::new(300);
        let ring: Vec<WindowSlot> =
            (0..MAX_SLOTS).map(|_| WindowSlot::default()).collect();
        shape.record(&ring, 1000, 200, 100, Access::Held);
        shape.record(&ring, 1200, 503, 300, Access::Shared);

        // (second, requests, errors, server errors, latency sum)
        let cases = [
            (1200, 2, 1, 1, 400),
            (1299, 2, 1, 1, 400),
            (1300, 1, 1, 1, 300),
            (1500, 0, 0, 0, 0),
        ];
        for (now, req, err, srv, lat) in cases {
            let mut got = WindowStats::default();
            shape.sum(&ring, now, &mut got);
            let got = (
                got.requests,
                got.errors,
                got.server_errors,
                got.latency_sum_ms,
            );
            assert_eq!(got, (req, err, srv, lat), "at {now}");
        }

        // Bucket 260 reuses the ring slot of bucket 200 and resets it.
        shape.record(&ring, 1300, 200, 7, Access::Held);
        let mut lap = WindowStats::default();
        shape.sum(&ring, 1300, &mut lap);
        assert_eq!((lap.requests, lap.latency_sum_ms), (2, 307));
    }
}
