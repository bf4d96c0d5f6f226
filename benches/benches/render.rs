//! Rendering `/metrics/prometheus` for a realistic label set, 32 surfaces
//! x 5 status classes with every series present and the full duration
//! histogram: `metrics_core::prometheus::render` of a snapshot beside
//! `prometheus-client` encoding a registry holding the same families
//! and values.
//!
//! `render` starts from a taken `Snapshot`; `snapshot + render` adds
//! reading the aggregator (stripes, latency histogram, window and the
//! conversation table), which the server does for every scrape.
//!
//! `cargo bench -p maestra-benches --bench render -- --warm-up-time 1
//! --measurement-time 3`

use std::hint::black_box;
use std::sync::atomic::AtomicU64;

use criterion::{criterion_group, criterion_main, Criterion};
use maestra_benches::{class_label, sample_record, surface_names};
use metrics_core::{Aggregator, RequestRecord};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

const BUCKETS: [f64; 11] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SurfaceStatus {
    surface: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: &'static str,
}

/// Ten requests of every surface and class, latencies spread over the
/// buckets.
fn requests() -> Vec<RequestRecord> {
    let mut out = Vec::new();
    for surface in surface_names(32) {
        for status in [101, 200, 302, 404, 502] {
            for k in 0..10u64 {
                let mut r = sample_record();
                r.surface_id.clone_from(&surface);
                r.status_code = status;
                r.latency_ms = (k * 997 + u64::from(status)) % 12_000;
                r.conversation_id = Some(format!("conv_{surface}_{k}"));
                out.push(r);
            }
        }
    }
    out
}

fn peer_registry(requests: &[RequestRecord]) -> Registry {
    let mut registry = Registry::default();
    let uptime = Gauge::<i64>::default();
    let by_surface = Family::<SurfaceStatus, Counter>::default();
    let errors = Family::<Status, Counter>::default();
    let duration = Histogram::new(BUCKETS);
    let cost = Counter::<f64, AtomicU64>::default();
    let active = Gauge::<i64>::default();
    let daily = Gauge::<f64, AtomicU64>::default();

    for r in requests {
        let status = class_label(r.status_code);
        let labels = SurfaceStatus { surface: r.surface_id.clone(), status };
        by_surface.get_or_create(&labels).inc();
        duration.observe(r.latency_ms as f64 / 1000.0);
        cost.inc_by(r.cost_usd);
        daily.inc_by(r.cost_usd);
    }
    for status in ["4xx", "5xx"] {
        let n = requests
            .iter()
            .filter(|r| class_label(r.status_code) == status)
            .count();
        errors.get_or_create(&Status { status }).inc_by(n as u64);
    }
    uptime.set(3600);
    active.set(requests.len() as i64);

    registry.register(
        "maestra_uptime_seconds",
        "Seconds since the service started.",
        uptime,
    );
    registry.register(
        "maestra_requests",
        "Requests answered, by surface and status class.",
        by_surface,
    );
    registry.register(
        "maestra_errors",
        "Requests answered with a 4xx or 5xx status.",
        errors,
    );
    registry.register(
        "maestra_request_duration_seconds",
        "Time from request to answer.",
        duration,
    );
    registry.register(
        "maestra_cost_usd",
        "Cost of all requests in US dollars.",
        cost,
    );
    registry.register(
        "maestra_active_conversations",
        "Conversations with a recent request.",
        active,
    );
    registry.register(
        "maestra_daily_cost_usd",
        "Cost of the current UTC day in US dollars.",
        daily,
    );
    registry
}

fn render(c: &mut Criterion) {
    let requests = requests();
    let agg = Aggregator::default();
    requests.iter().for_each(|r| agg.record(r));
    let snap = agg.snapshot("maestra-backend", "2.0.0");
    let registry = peer_registry(&requests);

    let mut ours = String::with_capacity(64 * 1024);
    metrics_core::prometheus::render(&snap, &mut ours);
    let mut theirs = String::with_capacity(64 * 1024);
    prometheus_client::encoding::text::encode(&mut theirs, &registry).unwrap();
    report(&format!(
        "render: metrics_core {} lines, {} bytes; prometheus_client {} \
         lines, {} bytes",
        ours.lines().count(),
        ours.len(),
        theirs.lines().count(),
        theirs.len()
    ));

    let mut group = c.benchmark_group("prometheus text");
    group.bench_function("metrics_core render", |b| {
        b.iter(|| {
            ours.clear();
            metrics_core::prometheus::render(black_box(&snap), &mut ours);
        })
    });
    group.bench_function("metrics_core snapshot + render", |b| {
        b.iter(|| {
            ours.clear();
            let snap = agg.snapshot("maestra-backend", "2.0.0");
            metrics_core::prometheus::render(&snap, &mut ours);
        })
    });
    group.bench_function("prometheus_client encode", |b| {
        b.iter(|| {
            theirs.clear();
            prometheus_client::encoding::text::encode(
                &mut theirs,
                black_box(&registry),
            )
            .unwrap();
        })
    });
    group.finish();
}

#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}

criterion_group!(benches, render);
criterion_main!(benches);
