//! The uncounted read-only endpoints: health, metrics, history, dashboard.

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use metrics_core::prometheus::{PromError, PromText};
use metrics_core::Snapshot;
use serde::Serialize;

use crate::app::{json_response, App, Body, SERVICE, VERSION};
use crate::error::json;

/// The page served at `/dashboard`.
const DASHBOARD_HTML: &str = include_str!("../assets/dashboard.html");

/// The `/health` document.
#[derive(Serialize)]
struct HealthDoc {
    status: &'static str,
    service: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
}

/// `GET /health`: 200 while records and logs can be written, 503 with
/// the problems otherwise.
pub fn health(app: &App) -> Response<Body> {
    let problems = problems(app);
    let uptime_seconds = app.started.elapsed().as_secs();
    if problems.is_empty() {
        return json_response(StatusCode::OK, healthy_body(uptime_seconds));
    }
    let doc = HealthDoc {
        status: "degraded",
        service: SERVICE,
        version: VERSION,
        uptime_seconds,
        problems,
    };
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        serde_json::to_vec(&doc).unwrap_or_default(),
    )
}

/// The healthy [`HealthDoc`] as serde writes it, written by hand: probes
/// and load balancers ask for it all day.
fn healthy_body(uptime_seconds: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"{\"status\":\"ok\",\"service\":");
    json::push_str(&mut out, SERVICE);
    out.extend_from_slice(b",\"version\":");
    json::push_str(&mut out, VERSION);
    out.extend_from_slice(b",\"uptime_seconds\":");
    json::push_u64(&mut out, uptime_seconds);
    out.push(b'}');
    out
}

/// What keeps the server from recording: empty when all is well.
pub fn problems(app: &App) -> Vec<String> {
    let mut problems = Vec::new();
    let records = app.writer.stats();
    if !records.healthy {
        problems.push(format!(
            "metrics records cannot be written to {}: {}",
            app.config.metrics_path.display(),
            records.last_error.unwrap_or_else(|| "unknown error".into())
        ));
    }
    if !app.log_handle.is_healthy() {
        problems.push(format!(
            "log files cannot be written in {}: {}",
            app.config.log_dir.display(),
            app.log_handle
                .last_error()
                .unwrap_or_else(|| "unknown error".into())
        ));
    }
    problems
}

/// The `/metrics` document: the aggregator's snapshot and the server's
/// own counters.
#[derive(Serialize)]
pub struct MetricsDoc {
    #[serde(flatten)]
    snapshot: Snapshot,
    daily_cost_limit_usd: f64,
    alerts_sent: u64,
    alerts_failed: u64,
    alerts_folded: u64,
    alerts_dropped: u64,
    records_dropped: u64,
    record_write_errors: u64,
    log_records_dropped: u64,
    rate_limited: u64,
    auth_failures: u64,
    healthy: bool,
}

/// Gathers the `/metrics` document.
pub fn metrics_doc(app: &App) -> MetricsDoc {
    use std::sync::atomic::Ordering::Relaxed;

    let alerts = app.alerts.stats();
    let records = app.writer.stats();
    MetricsDoc {
        snapshot: app.aggregator.snapshot(SERVICE, VERSION),
        daily_cost_limit_usd: app.config.daily_cost_limit_usd,
        alerts_sent: alerts.sent,
        alerts_failed: alerts.failed,
        alerts_folded: alerts.folded,
        alerts_dropped: alerts.dropped,
        records_dropped: records.dropped,
        record_write_errors: records.write_errors,
        log_records_dropped: app.log_handle.dropped(),
        rate_limited: app.counters.rate_limited.load(Relaxed),
        auth_failures: app.counters.auth_failures.load(Relaxed),
        healthy: problems(app).is_empty(),
    }
}

/// `GET /metrics`.
pub fn metrics_json(app: &App) -> Response<Body> {
    let doc = metrics_doc(app);
    json_response(StatusCode::OK, serde_json::to_vec(&doc).unwrap_or_default())
}

/// `GET /metrics/prometheus`: text format 0.0.4.
pub fn prometheus(app: &App) -> Response<Body> {
    let doc = metrics_doc(app);
    let mut text = String::with_capacity(8 * 1024);
    if let Err(e) = write_prometheus(app, &doc, &mut text) {
        // Only a wrongly named family gets here: a fault of ours.
        let err = crate::error::ApiError::internal(e.to_string());
        return json_response(err.status, err.body("none"));
    }

    let mut resp = Response::new(Body::from(text));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(metrics_core::prometheus::CONTENT_TYPE),
    );
    resp
}

fn write_prometheus(
    app: &App,
    doc: &MetricsDoc,
    text: &mut String,
) -> Result<(), PromError> {
    let mut out = PromText::new(text);
    out.snapshot(&doc.snapshot)?;
    out.gauge(
        "maestra_daily_cost_limit_usd",
        "Spend allowed per UTC day, in USD.",
        doc.daily_cost_limit_usd,
    )?;
    let counters: [(&str, &str, u64); 10] = [
        (
            "maestra_rate_limited_total",
            "Requests refused by the per-IP rate limit.",
            doc.rate_limited,
        ),
        (
            "maestra_auth_failures_total",
            "Requests with a missing or wrong API key.",
            doc.auth_failures,
        ),
        (
            "maestra_records_dropped_total",
            "Request records dropped before reaching the metrics file.",
            doc.records_dropped,
        ),
        (
            "maestra_record_write_errors_total",
            "Failed writes to the metrics file.",
            doc.record_write_errors,
        ),
        (
            "maestra_log_records_dropped_total",
            "Log lines dropped because the log queue was full.",
            doc.log_records_dropped,
        ),
        (
            "maestra_log_write_errors_total",
            "Failed writes to the log files.",
            app.log_handle.write_errors(),
        ),
        (
            "maestra_alerts_sent_total",
            "Alerts Slack accepted.",
            doc.alerts_sent,
        ),
        (
            "maestra_alerts_failed_total",
            "Alerts given up on after retries.",
            doc.alerts_failed,
        ),
        (
            "maestra_alerts_folded_total",
            "Repeated alerts folded into an earlier one.",
            doc.alerts_folded,
        ),
        (
            "maestra_alerts_dropped_total",
            "Alerts dropped because the alert queue was full.",
            doc.alerts_dropped,
        ),
    ];
    for (name, help, value) in counters {
        out.counter(name, help, value as f64)?;
    }
    out.gauge_with_labels(
        "maestra_build_info",
        "Build of the running server; the value is always 1.",
        &[(&[("version", VERSION)], 1.0)],
    )?;
    out.gauge(
        "maestra_healthy",
        "1 while records and logs can be written, else 0.",
        if doc.healthy { 1.0 } else { 0.0 },
    )
}

/// `GET /metrics/history`.
pub fn history(app: &App) -> Response<Body> {
    let doc = app.history.document(&app.config, app.alerts.recent());
    json_response(StatusCode::OK, serde_json::to_vec(&doc).unwrap_or_default())
}

/// `GET /dashboard`.
pub fn dashboard() -> Response<Body> {
    let mut resp = Response::new(Body::from(DASHBOARD_HTML));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; \
             style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
        ),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_healthy_body_is_the_documents() {
        for uptime_seconds in [0, 1, 86_400, u64::MAX] {
            let doc = HealthDoc {
                status: "ok",
                service: SERVICE,
                version: VERSION,
                uptime_seconds,
                problems: Vec::new(),
            };
            assert_eq!(
                String::from_utf8(healthy_body(uptime_seconds)).unwrap(),
                serde_json::to_string(&doc).unwrap()
            );
        }
    }
}
