//! `Aggregator::record` allocates nothing once warmed up: a counting
//! global allocator sees the same count before and after many calls.

use maestra_benches::{sample_record, surface_names, CountingAlloc};
use metrics_core::{Aggregator, RequestRecord};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Requests over several surfaces, statuses, latencies and
/// conversations, made before counting starts.
fn requests() -> Vec<RequestRecord> {
    let surfaces = surface_names(8);
    (0..1000u64)
        .map(|i| {
            let mut r = sample_record();
            r.surface_id.clone_from(&surfaces[i as usize % 8]);
            r.status_code = [200, 201, 404, 429, 502][i as usize % 5];
            r.latency_ms = i * 37 % 20_000;
            r.conversation_id =
                (i % 3 != 0).then(|| format!("conv_2025-12-28_jh_{i:08}"));
            r.cost_usd = i as f64 * 1e-5;
            r
        })
        .collect()
}

#[test]
fn record_allocates_nothing_after_warm_up() {
    let requests = requests();
    let agg = Aggregator::default();

    // Warm-up: the thread takes its stripe (one lease entry) and each
    // surface claims its slot (one name each).
    requests.iter().for_each(|r| agg.record(r));

    let before = CountingAlloc::count();
    for _ in 0..100 {
        requests.iter().for_each(|r| agg.record(r));
    }
    let after = CountingAlloc::count();

    assert_eq!(after - before, 0, "allocations in 100 000 record calls");
    assert_eq!(agg.snapshot("t", "0").total_requests, 101_000);
}

#[test]
fn the_counter_sees_allocations() {
    let before = CountingAlloc::count();
    let v: Vec<u64> = std::hint::black_box(vec![1, 2, 3]);
    assert!(CountingAlloc::count() > before);
    drop(v);
}

#[test]
fn two_threads_allocate_nothing_after_warm_up() {
    let requests = requests();
    let agg = Aggregator::default();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                requests.iter().for_each(|r| agg.record(r));
                let before = CountingAlloc::count();
                for _ in 0..50 {
                    requests.iter().for_each(|r| agg.record(r));
                }
                assert_eq!(CountingAlloc::count() - before, 0);
            });
        }
    });
    assert_eq!(agg.snapshot("t", "0").total_requests, 102_000);
}
