//! The aggregator as a server uses it: concurrent recording, time moved by
//! an injected clock, snapshots as JSON.

use std::sync::Arc;
use std::time::Duration;

use metrics_core::{
    Aggregator, AggregatorConfig, ManualClock, RequestRecord, RELATIVE_ERROR,
};
use time::macros::{date, datetime};

fn record(surface: &str, status: u16, latency_ms: u64) -> RequestRecord {
    RequestRecord {
        timestamp: datetime!(2025-12-28 15:30 UTC),
        request_id: "req_1".into(),
        surface_id: surface.into(),
        user_id: "u".into(),
        conversation_id: None,
        mode: "advisor".into(),
        latency_ms,
        status_code: status,
        tokens: 10,
        cost_usd: 0.001,
        error: None,
    }
}

fn with_clock(clock: &Arc<ManualClock>) -> Aggregator {
    Aggregator::new(AggregatorConfig {
        clock: clock.clone(),
        ..AggregatorConfig::default()
    })
}

#[test]
fn concurrent_threads_give_exact_totals() {
    let agg = Aggregator::new(AggregatorConfig {
        shards: 2,
        ..AggregatorConfig::default()
    });
    let threads = 6u64;
    let per_thread = 20_000u64;

    std::thread::scope(|s| {
        for t in 0..threads {
            let agg = &agg;
            s.spawn(move || {
                for i in 0..per_thread {
                    let status = [200, 404, 503, 201][(i % 4) as usize];
                    let surface = ["a", "b", "c"][(t % 3) as usize];
                    let mut r = record(surface, status, i % 1000);
                    r.conversation_id = Some(format!("c{t}"));
                    agg.record(&r);
                }
            });
        }
    });

    let snap = agg.snapshot("svc", "1.0");
    let n = threads * per_thread;
    assert_eq!(snap.total_requests, n);
    assert_eq!(snap.total_4xx, n / 4);
    assert_eq!(snap.total_5xx, n / 4);
    assert_eq!(snap.total_errors, n / 2);
    assert_eq!(
        snap.latency_sum_ms,
        threads * (0..per_thread).map(|i| i % 1000).sum::<u64>()
    );
    assert_eq!(snap.total_cost_usd, n as f64 * 0.001);
    assert_eq!(snap.duration_count, n);
    assert_eq!(snap.latency.count(), n);
    assert_eq!(snap.active_conversations, threads);
    assert_eq!(snap.window_requests, n);
    assert_eq!(snap.daily_requests, n);
    let per_surface: u64 =
        snap.surfaces.iter().map(|s| s.by_class.iter().sum::<u64>()).sum();
    assert_eq!(per_surface, n);
}

#[test]
fn snapshot_json_has_the_contract_keys_in_order() {
    let clock = Arc::new(ManualClock::new(datetime!(2025-12-28 15:00 UTC)));
    let agg = with_clock(&clock);
    agg.record(&record("windsurf", 200, 200));
    agg.record(&record("windsurf", 500, 290));
    clock.advance(Duration::from_millis(3_600_250));

    let json = serde_json::to_string(&agg.snapshot("maestra-backend", "2.0.0"))
        .unwrap();
    let want = concat!(
        r#"{"timestamp":"2025-12-28T16:00:00Z","uptime_seconds":3600,"#,
        r#""total_requests":2,"total_errors":1,"avg_latency_ms":245,"#,
        r#""total_cost_usd":0.002,"active_conversations":0,"#,
        r#""service":"maestra-backend","version":"2.0.0","#,
        r#""error_rate":0.5,"p50_latency_ms":295,"p95_latency_ms":295,"#,
        r#""p99_latency_ms":295,"total_4xx":0,"total_5xx":1,"#,
        r#""daily_cost_usd":0.002,"window_seconds":300,"#,
        r#""window_requests":0,"window_errors":0,"#,
        r#""window_error_rate":0.0,"window_avg_latency_ms":0}"#
    );
    assert_eq!(json, want);
}

#[test]
fn window_slides_with_the_clock() {
    let clock = Arc::new(ManualClock::new(datetime!(2025-12-28 12:00 UTC)));
    let agg = with_clock(&clock);

    // (seconds to advance, status and latency recorded or None, expected
    // requests, errors, server errors, average latency)
    type Step = (u64, Option<(u16, u64)>, u64, u64, u64, u64);
    let steps: [Step; 6] = [
        (0, Some((200, 100)), 1, 0, 0, 100),
        (60, Some((404, 200)), 2, 1, 0, 150),
        (60, Some((502, 600)), 3, 2, 1, 300),
        (180, None, 2, 2, 1, 400),
        (60, None, 1, 1, 1, 600),
        (60, None, 0, 0, 0, 0),
    ];
    for (i, (advance, rec, req, err, srv, avg)) in steps.into_iter().enumerate()
    {
        clock.advance(Duration::from_secs(advance));
        if let Some((status, latency)) = rec {
            agg.record(&record("s", status, latency));
        }
        let w = agg.window();
        assert_eq!(w.window_seconds, 300);
        let got = (w.requests, w.errors, w.server_errors, w.avg_latency_ms);
        assert_eq!(got, (req, err, srv, avg), "step {i}");
        let rate = if req == 0 { 0.0 } else { err as f64 / req as f64 };
        assert_eq!(w.error_rate, rate);
    }
}

#[test]
fn daily_cost_resets_at_utc_midnight_and_takes_a_seed() {
    let clock = Arc::new(ManualClock::new(datetime!(2025-12-28 23:59:58 UTC)));
    let agg = with_clock(&clock);
    agg.seed_daily(date!(2025 - 12 - 28), 1.5, 100);
    agg.seed_daily(date!(2025 - 12 - 28), 4.25, 1500);
    agg.record(&record("s", 200, 1));

    let today = agg.daily();
    assert_eq!(today.day, date!(2025 - 12 - 28));
    assert_eq!((today.cost_usd, today.requests), (4.251, 1501));

    clock.advance(Duration::from_secs(2));
    assert_eq!(agg.daily_cost_usd(), 0.0);
    agg.record(&record("s", 200, 1));
    let next = agg.daily();
    assert_eq!(next.day, date!(2025 - 12 - 29));
    assert_eq!((next.cost_usd, next.requests), (0.001, 1));

    // A seed for another day counts for nothing today.
    agg.seed_daily(date!(2025 - 12 - 28), 9.0, 9);
    assert_eq!(agg.daily_cost_usd(), 0.001);
}

#[test]
fn conversations_expire_after_the_ttl() {
    let clock = Arc::new(ManualClock::new(datetime!(2025-12-28 12:00 UTC)));
    let agg = Aggregator::new(AggregatorConfig {
        clock: clock.clone(),
        conversation_ttl: Duration::from_secs(60),
        ..AggregatorConfig::default()
    });
    let mut r = record("s", 200, 1);
    for id in ["a", "b", "a", ""] {
        r.conversation_id = Some(id.into());
        agg.record(&r);
    }
    r.conversation_id = None;
    agg.record(&r);
    assert_eq!(agg.active_conversations(), 2);

    clock.advance(Duration::from_secs(30));
    r.conversation_id = Some("b".into());
    agg.record(&r);
    clock.advance(Duration::from_secs(31));
    assert_eq!(agg.active_conversations(), 1);
    clock.advance(Duration::from_secs(30));
    assert_eq!(agg.active_conversations(), 0);
}

#[test]
fn surfaces_beyond_the_cap_fold_into_other() {
    let agg = Aggregator::new(AggregatorConfig {
        surface_cap: 2,
        ..AggregatorConfig::default()
    });
    for (surface, status) in
        [("a", 200), ("b", 404), ("c", 500), ("a", 302), ("d", 101)]
    {
        agg.record(&record(surface, status, 1));
    }
    let snap = agg.snapshot("svc", "1");
    let got: Vec<_> = snap
        .surfaces
        .iter()
        .map(|s| (s.surface.as_str(), s.by_class))
        .collect();
    let want = vec![
        ("a", [0, 1, 1, 0, 0]),
        ("b", [0, 0, 0, 1, 0]),
        ("other", [1, 0, 0, 0, 1]),
    ];
    assert_eq!(got, want);
}

#[test]
fn percentiles_stay_within_the_stated_error() {
    let agg = Aggregator::default();
    let mut exact = Vec::new();

    // A skewed spread: many fast requests, a long slow tail.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let latency = match x % 100 {
            0..=79 => 20 + x % 200,
            80..=97 => 300 + x % 3000,
            _ => 5000 + x % 60_000,
        };
        exact.push(latency);
        agg.record(&record("s", 200, latency));
    }
    exact.sort_unstable();
    let snap = agg.snapshot("svc", "1");

    let n = exact.len();
    for (q, got) in [
        (0.5, snap.p50_latency_ms),
        (0.95, snap.p95_latency_ms),
        (0.99, snap.p99_latency_ms),
    ] {
        let want = exact[((n as f64 * q) as usize).min(n - 1)] as f64;
        let err = (got as f64 - want).abs();
        assert!(err <= want * RELATIVE_ERROR, "q={q}: {got} vs {want}");
    }
}

#[test]
fn prometheus_buckets_are_exact_at_the_bounds() {
    let agg = Aggregator::default();
    for ms in [0, 5, 6, 10, 100, 101, 10_000, 10_001, 99_999] {
        agg.record(&record("s", 200, ms));
    }
    let snap = agg.snapshot("svc", "1");
    assert_eq!(snap.duration_buckets, [2, 4, 4, 4, 5, 6, 6, 6, 6, 6, 7]);
    assert_eq!(snap.duration_count, 9);
}

#[test]
fn a_server_can_flatten_the_snapshot_and_append_keys() {
    #[derive(serde::Serialize)]
    struct Metrics {
        #[serde(flatten)]
        snapshot: metrics_core::Snapshot,
        records_dropped: u64,
        healthy: bool,
    }
    let clock = Arc::new(ManualClock::new(datetime!(2025-12-28 15:00 UTC)));
    let metrics = Metrics {
        snapshot: with_clock(&clock).snapshot("maestra-backend", "2.0.0"),
        records_dropped: 0,
        healthy: true,
    };
    let json = serde_json::to_string(&metrics).unwrap();
    assert!(json.starts_with(r#"{"timestamp":"2025-12-28T15:00:00Z","#));
    let tail =
        r#""window_avg_latency_ms":0,"records_dropped":0,"healthy":true}"#;
    assert!(json.ends_with(tail), "{json}");
}
