//! Hot-path costs: `Aggregator::record` on one and two threads, and
//! `JsonlWriter::submit` beside plain serde_json serialisation.
//!
//! `cargo bench -p metrics-core --bench record -- --warm-up-time 1
//! --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use metrics_core::{Aggregator, JsonlWriter, RequestRecord, WriterConfig};
use time::macros::datetime;

fn sample() -> RequestRecord {
    RequestRecord {
        timestamp: datetime!(2025-12-28 15:30:00.123 UTC),
        request_id: "req_3f9a0c12b7e4".into(),
        surface_id: "windsurf".into(),
        user_id: "justinharmon".into(),
        conversation_id: Some("conv_2025-12-28_jh_abc12345".into()),
        mode: "advisor".into(),
        latency_ms: 234,
        status_code: 200,
        tokens: 150,
        cost_usd: 0.0003,
        error: None,
    }
}

fn record(c: &mut Criterion) {
    let agg = Aggregator::default();
    let r = sample();
    c.bench_function("record/1 thread", |b| {
        b.iter(|| agg.record(black_box(&r)))
    });

    // Both threads record `iters` times at once; the wall time divided by
    // `iters` is the cost per record seen by each thread.
    c.bench_function("record/2 threads, per thread", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..iters {
                            agg.record(black_box(&r));
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
}

fn serialise(c: &mut Criterion) {
    let r = sample();
    let mut buf = Vec::with_capacity(512);
    c.bench_function("serialise/serde_json::to_writer", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(&r)).unwrap();
            buf.push(b'\n');
        })
    });
    c.bench_function("serialise/write_json_line", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&r).write_json_line(&mut buf);
        })
    });
    c.bench_function("serialise/clone record (writer-side option)", |b| {
        b.iter(|| black_box(black_box(&r).clone()))
    });

    // /dev/null drains as fast as lines arrive, so `submit` is measured
    // rather than a full queue.
    let path = if cfg!(unix) {
        "/dev/null".into()
    } else {
        std::env::temp_dir().join("metrics-core-bench.jsonl")
    };
    let config = WriterConfig {
        queue_capacity: 1 << 16,
        flush_interval: Duration::from_millis(5),
        ..WriterConfig::new(path)
    };
    let (writer, guard) = JsonlWriter::open(config).unwrap();
    c.bench_function("submit (serialise + enqueue)", |b| {
        b.iter(|| writer.submit(black_box(&r)))
    });
    let stats = guard.close().unwrap();
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "submit: accepted {} dropped {}",
            stats.accepted, stats.dropped
        );
    }
}

criterion_group!(benches, record, serialise);
criterion_main!(benches);
