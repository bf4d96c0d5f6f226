//! What a caller pays per alert: building the text, and `notify` when the
//! alerter is disabled, folds a repeat, or drops on a full queue.

use std::hint::black_box;
use std::time::Duration;

use alerts_slack::{Alert, Alerter, AlerterConfig, Severity, WebhookUrl};
use criterion::{criterion_group, criterion_main, Criterion};

fn error_alert() -> Alert {
    Alert::new(
        Severity::Error,
        "Maestra Backend Error",
        "Request failed with status 502",
    )
    .field("surface_id", "windsurf")
    .field("user_id", "justinharmon")
    .field("error", "upstream_error")
}

/// An alerter whose webhook never answers (nothing listens on port 9), so
/// its thread stays busy retrying the first alert.
fn stuck_alerter(cooldown: Duration, capacity: usize) -> Alerter {
    let url = WebhookUrl::parse("http://127.0.0.1:9/services/T0/B0/X").unwrap();
    let config = AlerterConfig::new(url)
        .cooldown(cooldown)
        .queue_capacity(capacity)
        .max_attempts(u32::MAX)
        .backoff(Duration::from_secs(60))
        .drain_on_drop(Duration::ZERO);
    Alerter::new(config)
}

fn bench(c: &mut Criterion) {
    c.bench_function("alert_text", |b| {
        let alert = error_alert();
        b.iter(|| black_box(&alert).text())
    });

    c.bench_function("notify_disabled", |b| {
        let alerter = Alerter::disabled();
        b.iter(|| alerter.notify(black_box(error_alert())))
    });

    c.bench_function("notify_folded", |b| {
        let alerter = stuck_alerter(Duration::MAX, 256);
        alerter.notify(error_alert());
        b.iter(|| alerter.notify(black_box(error_alert())))
    });

    c.bench_function("notify_dropped_queue_full", |b| {
        let alerter = stuck_alerter(Duration::ZERO, 1);
        alerter.notify(error_alert());
        alerter.notify(error_alert());
        b.iter(|| alerter.notify(black_box(error_alert())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
