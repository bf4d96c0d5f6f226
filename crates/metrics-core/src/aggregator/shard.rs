//! [`Shard`]: one stripe of the aggregator's counters, and which stripe
//! a thread writes.
//!
//! A thread takes a stripe of its own the first time it records: the
//! stripe its thread token picks, when no other thread holds it. The
//! holder is the only writer of that stripe, so its updates are a plain
//! load and store, without the locked read-modify-write that an atomic
//! add costs (about a third of `record` in the benchmark). Threads whose
//! stripe is held by another write the one shared stripe with atomic
//! adds, which stays correct for any number of threads. A thread gives
//! its stripes back when it exits (see [`Leases`]), so pools that replace
//! threads keep getting stripes of their own. Stripes are 128-byte
//! aligned (two cache lines, against adjacent-line prefetching) and a
//! snapshot sums them.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

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
    /// Token of the thread holding the stripe, 0 when free; the shared
    /// stripe is never held.
    owner: AtomicU64,
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
            owner: AtomicU64::new(0),
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

/// How a thread may write a stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The thread holds the stripe: no other thread writes it.
    Held,
    /// Other threads may write the stripe at the same time.
    Shared,
}

/// Adds `n` to a counter (relaxed: counters order nothing else).
pub(crate) fn bump(counter: &AtomicU64, n: u64, access: Access) {
    match access {
        // Readers only load, so a load and a store by the one writer
        // cannot lose an update.
        Access::Held => {
            let v = counter.load(Ordering::Relaxed);
            counter.store(v.wrapping_add(n), Ordering::Relaxed);
        }
        Access::Shared => {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
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

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static TOKEN: Cell<u64> = const { Cell::new(0) };
    static LEASES: Leases = const { Leases(RefCell::new(Vec::new())) };
}

/// This thread's token: never 0, never given to another thread.
fn thread_token() -> u64 {
    TOKEN.with(|cell| {
        let mut token = cell.get();
        if token == 0 {
            token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
            cell.set(token);
        }
        token
    })
}

/// The stripe this thread writes among `shards` (a power of two of
/// stripes that can be held, then the shared one), and how.
pub(crate) fn stripe(shards: &Arc<[Shard]>) -> (&Shard, Access) {
    let held = shards.len() - 1;
    let token = thread_token();
    let index = token as usize & (held - 1);
    let shard = &shards[index];

    let owner = shard.owner.load(Ordering::Acquire);
    if owner == token {
        return (shard, Access::Held);
    }

    // Acquire pairs with the release of the last holder, so its writes
    // are seen before this thread starts storing over them.
    let claimed = owner == 0
        && shard
            .owner
            .compare_exchange(0, token, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
    if claimed {
        let lease = Lease { shards: Arc::downgrade(shards), index, token };
        let kept = LEASES.try_with(|leases| leases.keep(lease)).is_ok();
        if kept {
            return (shard, Access::Held);
        }

        // A thread past its thread-local teardown cannot give the stripe
        // back later, so it does not keep it.
        shard.owner.store(0, Ordering::Release);
    }
    (&shards[held], Access::Shared)
}

/// A stripe held by this thread, given back when the thread exits.
struct Lease {
    shards: Weak<[Shard]>,
    index: usize,
    token: u64,
}

/// The stripes a thread holds, across aggregators.
struct Leases(RefCell<Vec<Lease>>);

impl Leases {
    fn keep(&self, lease: Lease) {
        let mut leases = self.0.borrow_mut();

        // Aggregators dropped since the last claim need no release.
        leases.retain(|l| l.shards.strong_count() > 0);
        leases.push(lease);
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        for lease in self.0.get_mut().drain(..) {
            if let Some(shards) = lease.shards.upgrade() {
                let _ = shards[lease.index].owner.compare_exchange(
                    lease.token,
                    0,
                    Ordering::Release,
                    Ordering::Relaxed,
                );
            }
        }
    }
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

    fn stripes(held: usize) -> Arc<[Shard]> {
        (0..=held).map(|_| Shard::new(1)).collect()
    }

    #[test]
    fn a_thread_holds_a_stripe_until_it_exits() {
        // One stripe to hold: the first thread takes it, a second one
        // running at the same time shares, and once the first exits the
        // stripe is free for the next.
        let shards = stripes(1);
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let first = std::thread::spawn({
            let shards = shards.clone();
            move || {
                let (_, access) = stripe(&shards);
                tx.send(access).unwrap();
                done_rx.recv().unwrap();
            }
        });
        assert_eq!(rx.recv().unwrap(), Access::Held);

        let shared = std::thread::spawn({
            let shards = shards.clone();
            move || stripe(&shards).1
        });
        assert_eq!(shared.join().unwrap(), Access::Shared);

        done_tx.send(()).unwrap();
        first.join().unwrap();
        assert_eq!(shards[0].owner.load(Ordering::SeqCst), 0);
        let next = std::thread::spawn({
            let shards = shards.clone();
            move || stripe(&shards).1
        });
        assert_eq!(next.join().unwrap(), Access::Held);
    }

    #[test]
    fn held_and_shared_adds_both_count() {
        let c = AtomicU64::new(5);
        bump(&c, 2, Access::Held);
        bump(&c, 3, Access::Shared);
        assert_eq!(read(&c), 10);
    }

    #[test]
    fn shards_are_cache_line_apart() {
        assert_eq!(std::mem::align_of::<Shard>(), 128);
        assert_eq!(std::mem::size_of::<Shard>() % 128, 0);
    }
}
