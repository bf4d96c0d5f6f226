//! The caller's cost of counting one request: `Aggregator::record` beside
//! the same updates through the `metrics` crate (with
//! `metrics-exporter-prometheus` installed as the recorder), `prometheus`
//! (tikv) and `prometheus-client`, on one thread and on two at once.
//!
//! The updates of one request: the request counter, the error counter
//! of its class when it failed, the latency histogram, the cost counter
//! and the surface x status counter. The peers use handles registered
//! once, including one per surface and class held in a `HashMap` keyed
//! by surface (the fastest way each library allows); a `labels per call`
//! line shows each library's own labelled lookup for comparison.
//! `Aggregator::record` does more than the peers: it also touches the
//! conversation table, the rolling window and the UTC day's spend, and
//! reads the clock. `metrics_core, own per thread` is the control of the
//! two-thread cases: each thread records into an aggregator of its own,
//! sharing nothing, so its two-thread cost shows what the machine adds.
//! `metrics_core, no conversation` records the request without its
//! conversation id, which shows what the conversation table costs.
//!
//! `cargo bench -p maestra-benches --bench record -- --warm-up-time 1
//! --measurement-time 3`

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use maestra_benches::record_peers::*;
use maestra_benches::{sample_record, thread_cpu_time};
use metrics_core::{Aggregator, RequestRecord};

/// Time of `iters` records on each of `threads` threads started
/// together, the slowest thread's: its CPU time when `cpu` (and the
/// system offers it), else its wall time.
fn per_thread(
    rec: &dyn Recorder,
    r: &RequestRecord,
    threads: usize,
    iters: u64,
    cpu: bool,
) -> Duration {
    let start_line = Barrier::new(threads);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let r = r.clone();

                    // Warm the thread's own stripe and caches first.
                    for _ in 0..1000 {
                        rec.record(black_box(&r));
                    }
                    start_line.wait();
                    let cpu_start = thread_cpu_time().filter(|_| cpu);
                    let start = Instant::now();
                    for _ in 0..iters {
                        rec.record(black_box(&r));
                    }
                    let wall = start.elapsed();
                    match (cpu_start, thread_cpu_time()) {
                        (Some(a), Some(b)) => b.saturating_sub(a),
                        _ => wall,
                    }
                })
            })
            .collect();
        runs.into_iter().map(|t| t.join().unwrap()).max().unwrap()
    })
}

fn record(c: &mut Criterion) {
    let r = sample_record();
    let metrics_crate = MetricsCrate::install();
    let peers: Vec<(&str, Box<dyn Recorder>)> = vec![
        ("metrics_core", Box::new(Aggregator::default())),
        ("metrics_core, own per thread", Box::new(OwnAggregator)),
        (
            "metrics_core, no conversation",
            Box::new(WithoutConversation::new(&r)),
        ),
        ("metrics", Box::new(metrics_crate)),
        ("prometheus", Box::new(TikvPrometheus::new())),
        ("prometheus_client", Box::new(PromClient::new())),
    ];

    // Wall time on the bench thread, criterion's usual measure.
    let mut group = c.benchmark_group("record/1 thread");
    for (name, rec) in &peers {
        group.bench_function(*name, |b| b.iter(|| rec.record(black_box(&r))));
    }
    group.finish();

    // CPU time per thread, so that waiting for a core on a shared machine
    // does not count while contention on shared cache lines does.
    for threads in [1, 2] {
        let name = format!("record/cpu per thread, {threads} thread(s)");
        let mut group = c.benchmark_group(name);
        for (name, rec) in &peers {
            group.bench_function(*name, |b| {
                b.iter_custom(|n| per_thread(&**rec, &r, threads, n, true))
            });
        }
        group.finish();
    }

    // Wall time with two threads: meaningful only on an idle machine.
    let mut group = c.benchmark_group("record/wall per thread, 2 threads");
    for (name, rec) in &peers {
        group.bench_function(*name, |b| {
            b.iter_custom(|n| per_thread(&**rec, &r, 2, n, false))
        });
    }
    group.finish();

    let labelled: Vec<(&str, Box<dyn Recorder>)> = vec![
        (
            "metrics",
            Box::new(MetricsCrateLabels(MetricsCrate::install_again())),
        ),
        ("prometheus", Box::new(TikvLabels(TikvPrometheus::new()))),
        ("prometheus_client", Box::new(PromClientLabels(PromClient::new()))),
    ];
    let mut group = c.benchmark_group("record/labels per call");
    for (name, rec) in &labelled {
        group.bench_function(*name, |b| b.iter(|| rec.record(black_box(&r))));
    }
    group.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
