//! The last hour of the server, as points the dashboard draws.
//!
//! A point is taken at start-up and then every interval; each holds the
//! figures of the interval that ended there, so a chart shows rates, not
//! ever-growing totals. Only the previous snapshot and a ring of small
//! points are kept.

use std::collections::VecDeque;
use std::sync::Mutex;

use metrics_core::{LatencyHistogram, Snapshot};
use serde::Serialize;

use crate::alerting::RecentAlert;
use crate::config::Config;
use crate::timefmt::rfc3339;

/// How much time the ring covers.
const SPAN_SECS: u64 = 3600;

/// One point of the history.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub timestamp: String,
    pub uptime_seconds: u64,
    pub total_requests: u64,
    pub total_errors: u64,
    pub requests_per_second: f64,
    pub error_rate: f64,
    pub avg_latency_ms: u64,
    pub p50_latency_ms: u64,
    pub p95_latency_ms: u64,
    pub p99_latency_ms: u64,
    pub daily_cost_usd: f64,
    pub active_conversations: u64,
}

/// The sampler's state.
struct State {
    points: VecDeque<Point>,
    previous: Option<Previous>,
}

/// What the next point is measured against.
struct Previous {
    requests: u64,
    errors: u64,
    latency_sum_ms: u64,
    histogram: LatencyHistogram,
    uptime_ms: u128,
}

/// The bounded history.
pub struct History {
    capacity: usize,
    interval_s: u64,
    state: Mutex<State>,
}

/// The `/metrics/history` document.
#[derive(Serialize)]
pub struct HistoryDoc {
    interval_seconds: u64,
    capacity: usize,
    thresholds: Thresholds,
    points: Vec<Point>,
    alerts: Vec<RecentAlert>,
}

#[derive(Serialize)]
struct Thresholds {
    error_rate: f64,
    latency_ms: u64,
    daily_cost_limit_usd: f64,
    avg_latency_watch_ms: u64,
}

impl History {
    /// A history of one hour at `interval_s` seconds a point.
    pub fn new(interval_s: u64) -> History {
        let interval_s = interval_s.max(1);
        let capacity = (SPAN_SECS / interval_s).max(1) as usize;
        History {
            capacity,
            interval_s,
            state: Mutex::new(State {
                points: VecDeque::with_capacity(capacity),
                previous: None,
            }),
        }
    }

    /// Adds the point ending at `snapshot`, taken `uptime_ms` after start.
    pub fn sample(&self, snapshot: &Snapshot, uptime_ms: u128) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());

        let prev = state.previous.take();
        let (requests, errors, latency_sum, delta, elapsed_ms) = match &prev {
            Some(p) => (
                snapshot.total_requests.saturating_sub(p.requests),
                snapshot.total_errors.saturating_sub(p.errors),
                snapshot.latency_sum_ms.saturating_sub(p.latency_sum_ms),
                snapshot.latency.delta(&p.histogram),
                uptime_ms.saturating_sub(p.uptime_ms),
            ),
            None => (
                snapshot.total_requests,
                snapshot.total_errors,
                snapshot.latency_sum_ms,
                snapshot.latency.clone(),
                uptime_ms,
            ),
        };

        let ratio = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };
        let quantile =
            |q: f64| if requests == 0 { 0 } else { delta.quantile(q) };
        let point = Point {
            timestamp: rfc3339(snapshot.timestamp),
            uptime_seconds: snapshot.uptime_seconds,
            total_requests: snapshot.total_requests,
            total_errors: snapshot.total_errors,
            requests_per_second: if elapsed_ms == 0 {
                0.0
            } else {
                requests as f64 * 1000.0 / elapsed_ms as f64
            },
            error_rate: ratio(errors, requests),
            avg_latency_ms: latency_sum.checked_div(requests).unwrap_or(0),
            p50_latency_ms: quantile(0.50),
            p95_latency_ms: quantile(0.95),
            p99_latency_ms: quantile(0.99),
            daily_cost_usd: snapshot.daily_cost_usd,
            active_conversations: snapshot.active_conversations,
        };

        if state.points.len() == self.capacity {
            state.points.pop_front();
        }
        state.points.push_back(point);
        state.previous = Some(Previous {
            requests: snapshot.total_requests,
            errors: snapshot.total_errors,
            latency_sum_ms: snapshot.latency_sum_ms,
            histogram: snapshot.latency.clone(),
            uptime_ms,
        });
    }

    /// The document served at `/metrics/history`.
    pub fn document(
        &self,
        config: &Config,
        alerts: Vec<RecentAlert>,
    ) -> HistoryDoc {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        HistoryDoc {
            interval_seconds: self.interval_s,
            capacity: self.capacity,
            thresholds: Thresholds {
                error_rate: config.error_rate_threshold,
                latency_ms: config.latency_threshold_ms,
                daily_cost_limit_usd: config.daily_cost_limit_usd,
                avg_latency_watch_ms: 500,
            },
            points: state.points.iter().cloned().collect(),
            alerts,
        }
    }
}
