//! [`Shard`]: one stripe of the aggregator's counters.
//!
//! Every thread writes to the shard picked by a thread-local index handed
//! out in turn, so with no more threads than shards no two threads write
//! the same cache line; more threads share shards, which stays correct
//! because every update is an atomic add. Shards are 128-byte aligned (two
//! cache lines, against adjacent-line prefetching) and a snapshot sums
//! them.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::daily::DayCounter;
use super::window::{WindowSlot, MAX_SLOTS};
use crate::histogram::BUCKETS;

/// Upper bounds in milliseconds of the Prometheus duration buckets.
pub(crate) const DURATION_BOUNDS_MS: [u64; 11] =
    [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// Status classes 1xx to 5xx.
pub(crate) const CLASSES: usize = 5;

/// One stripe of counters.
#[repr(align(128))]
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) requests: AtomicU64,
    pub(crate) errors_4xx: AtomicU64,
    pub(crate) errors_5xx: AtomicU64,
    pub(crate) latency_sum_ms: AtomicU64,
    pub(crate) cost_nanos: AtomicU64,
    /// Requests per Prometheus bucket, not cumulative; the ones above the
    /// last bound are `requests` minus the sum.
    pub(crate) duration: [AtomicU64; DURATION_BOUNDS_MS.len()],
    pub(crate) latency: [AtomicU64; BUCKETS],
    pub(crate) window: [WindowSlot; MAX_SLOTS],
    pub(crate) daily: DayCounter,
    /// Surface rows times status classes, row-major, after
    /// `SURFACE_PAD` unused counters (see [`Shard::surface`]).
    surfaces: Box<[AtomicU64]>,
}

impl Shard {
    /// A zeroed shard with room for `surface_rows` surfaces.
    pub(crate) fn new(surface_rows: usize) -> Self {
        Shard {
            requests: AtomicU64::new(0),
            errors_4xx: AtomicU64::new(0),
            errors_5xx: AtomicU64::new(0),
            latency_sum_ms: AtomicU64::new(0),
            cost_nanos: AtomicU64::new(0),
            duration: [const { AtomicU64::new(0) }; DURATION_BOUNDS_MS.len()],
            latency: [const { AtomicU64::new(0) }; BUCKETS],
            window: std::array::from_fn(|_| WindowSlot::default()),
            daily: DayCounter::default(),
            surfaces: (0..surface_rows * CLASSES + 2 * SURFACE_PAD)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }

    /// The counter of surface row `row`, status class `class`.
    pub(crate) fn surface(&self, row: usize, class: usize) -> &AtomicU64 {
        &self.surfaces[SURFACE_PAD + row * CLASSES + class]
    }

    /// The surface counters, row-major.
    pub(crate) fn surface_counts(&self) -> &[AtomicU64] {
        &self.surfaces[SURFACE_PAD..self.surfaces.len() - SURFACE_PAD]
    }
}

/// Unused counters on both sides of a shard's surface counters: they live
/// in their own heap block, and the padding keeps a neighbouring block of
/// another shard off their cache lines.
const SURFACE_PAD: usize = 16;

/// Adds `n` to a counter (relaxed: counters order nothing else).
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Reads a counter.
pub(crate) fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The status class row of `status`: codes below 200 count as 1xx, codes
/// of 600 and above as 5xx.
pub(crate) fn class_of(status: u16) -> usize {
    usize::from(status / 100).clamp(1, CLASSES) - 1
}

/// The Prometheus bucket of `latency_ms`, `None` above the last bound.
pub(crate) fn duration_bucket(latency_ms: u64) -> Option<usize> {
    DURATION_BOUNDS_MS.iter().position(|&le| latency_ms <= le)
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard among `count` (a power of two).
pub(crate) fn shard_index(count: usize) -> usize {
    let index = THREAD_INDEX.with(|cell| {
        let mut index = cell.get();
        if index == usize::MAX {
            index = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            cell.set(index);
        }
        index
    });
    index & (count - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_buckets() {
        let classes = [(99, 0), (100, 0), (204, 1), (302, 2), (404, 3)];
        for (status, class) in classes {
            assert_eq!(class_of(status), class, "{status}");
        }
        assert_eq!(class_of(503), 4);
        assert_eq!(class_of(999), 4);

        let buckets =
            [(0, Some(0)), (5, Some(0)), (6, Some(1)), (10000, Some(10))];
        for (ms, bucket) in buckets {
            assert_eq!(duration_bucket(ms), bucket, "{ms}");
        }
        assert_eq!(duration_bucket(10001), None);
    }

    #[test]
    fn shards_are_cache_line_apart() {
        assert_eq!(std::mem::align_of::<Shard>(), 128);
        assert_eq!(std::mem::size_of::<Shard>() % 128, 0);
    }
}
