//! Prometheus text from a real snapshot: the exact text, escaping, and a
//! clean `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use metrics_core::prometheus::{render, PromError, PromText};
use metrics_core::{Aggregator, AggregatorConfig, ManualClock, RequestRecord};
use time::macros::datetime;

fn record(surface: &str, status: u16, latency_ms: u64) -> RequestRecord {
    RequestRecord {
        timestamp: datetime!(2025-12-28 15:30 UTC),
        request_id: "req_1".into(),
        surface_id: surface.into(),
        user_id: "u".into(),
        conversation_id: Some("conv_1".into()),
        mode: "advisor".into(),
        latency_ms,
        status_code: status,
        tokens: 100,
        cost_usd: 0.0002,
        error: None,
    }
}

fn small_aggregator() -> Aggregator {
    let clock = Arc::new(ManualClock::new(datetime!(2025-12-28 15:00 UTC)));
    let agg = Aggregator::new(AggregatorConfig {
        clock: clock.clone(),
        surface_cap: 2,
        ..AggregatorConfig::default()
    });
    agg.record(&record("windsurf", 200, 5));
    agg.record(&record("windsurf", 404, 120));
    agg.record(&record("cli", 502, 30_000));
    agg.record(&record("beyond\"cap\n\\", 200, 7));
    clock.advance(Duration::from_secs(42));
    agg
}

#[test]
fn renders_the_exact_text() {
    let snap = small_aggregator().snapshot("maestra-backend", "2.0.0");
    let mut text = String::new();
    render(&snap, &mut text);

    // The raw text starts after its first newline.
    let want = &r#"
# HELP maestra_uptime_seconds Seconds since the service started.
# TYPE maestra_uptime_seconds gauge
maestra_uptime_seconds 42
# HELP maestra_requests_total Requests answered, by surface and status class.
# TYPE maestra_requests_total counter
maestra_requests_total{surface="cli",status="5xx"} 1
maestra_requests_total{surface="windsurf",status="2xx"} 1
maestra_requests_total{surface="windsurf",status="4xx"} 1
maestra_requests_total{surface="other",status="2xx"} 1
# HELP maestra_errors_total Requests answered with a 4xx or 5xx status.
# TYPE maestra_errors_total counter
maestra_errors_total{status="4xx"} 1
maestra_errors_total{status="5xx"} 1
# HELP maestra_request_duration_seconds Time from request to answer.
# TYPE maestra_request_duration_seconds histogram
maestra_request_duration_seconds_bucket{le="0.005"} 1
maestra_request_duration_seconds_bucket{le="0.01"} 2
maestra_request_duration_seconds_bucket{le="0.025"} 2
maestra_request_duration_seconds_bucket{le="0.05"} 2
maestra_request_duration_seconds_bucket{le="0.1"} 2
maestra_request_duration_seconds_bucket{le="0.25"} 3
maestra_request_duration_seconds_bucket{le="0.5"} 3
maestra_request_duration_seconds_bucket{le="1"} 3
maestra_request_duration_seconds_bucket{le="2.5"} 3
maestra_request_duration_seconds_bucket{le="5"} 3
maestra_request_duration_seconds_bucket{le="10"} 3
maestra_request_duration_seconds_bucket{le="+Inf"} 4
maestra_request_duration_seconds_sum 30.132
maestra_request_duration_seconds_count 4
# HELP maestra_cost_usd_total Cost of all requests in US dollars.
# TYPE maestra_cost_usd_total counter
maestra_cost_usd_total 0.0008
# HELP maestra_active_conversations Conversations with a recent request.
# TYPE maestra_active_conversations gauge
maestra_active_conversations 1
# HELP maestra_daily_cost_usd Cost of the current UTC day in US dollars.
# TYPE maestra_daily_cost_usd gauge
maestra_daily_cost_usd 0.0008
"#[1..];
    assert_eq!(text, want);
}

#[test]
fn surface_names_are_escaped_in_labels() {
    let agg = Aggregator::default();
    agg.record(&record("a\"b\\c\nd", 200, 1));
    let mut text = String::new();
    render(&agg.snapshot("s", "1"), &mut text);
    let want = r#"maestra_requests_total{surface="a\"b\\c\nd",status="2xx"} 1"#;
    assert!(text.contains(want), "{text}");
}

#[test]
fn server_families_append_after_the_snapshot() {
    let snap = Aggregator::default().snapshot("s", "1");
    let mut text = String::new();
    let mut prom = PromText::new(&mut text);
    prom.snapshot(&snap).unwrap();
    let again = prom.snapshot(&snap);
    assert_eq!(
        again,
        Err(PromError::Duplicate("maestra_uptime_seconds".into()))
    );
    let twice = prom.gauge("maestra_daily_cost_usd", "again", 1.0);
    assert!(matches!(twice, Err(PromError::Duplicate(_))));
}

/// Runs `promtool check metrics` on `text`; `None` when promtool is absent
/// outside CI.
fn promtool(text: &str) -> Option<(bool, String)> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) if std::env::var_os("CI").is_none() => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("note: promtool not run ({err}); skipping");
            }
            return None;
        }
        Err(err) => panic!("promtool is needed in CI: {err}"),
    };
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), findings))
}

#[test]
fn promtool_finds_nothing() {
    let busy = small_aggregator().snapshot("maestra-backend", "2.0.0");
    let idle = Aggregator::default().snapshot("maestra-backend", "2.0.0");

    for snap in [busy, idle] {
        let mut text = String::new();
        let mut prom = PromText::new(&mut text);
        prom.snapshot(&snap).unwrap();
        prom.gauge("maestra_daily_cost_limit_usd", "Daily limit.", 5.0)
            .unwrap();
        prom.counter("maestra_rate_limited_total", "429 answers.", 2.0)
            .unwrap();
        prom.gauge_with_labels(
            "maestra_build_info",
            "Build of the service.",
            &[(&[("version", "2.0.0\"\n")], 1.0)],
        )
        .unwrap();

        let Some((ok, findings)) = promtool(&text) else { return };
        assert!(ok && findings.trim().is_empty(), "{findings}\n{text}");
    }
}
