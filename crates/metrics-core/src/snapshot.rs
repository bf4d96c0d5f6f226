//! [`Snapshot`]: the aggregator's figures at one instant.

use serde::{Serialize, Serializer};
use time::{Date, OffsetDateTime};

use crate::aggregator::WindowStats;
use crate::histogram::LatencyHistogram;

/// Upper bounds, in seconds, of the `maestra_request_duration_seconds`
/// buckets, as written in the `le` label (`+Inf` not included).
pub const DURATION_BUCKETS_LE: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10",
];

/// The aggregator's figures at one instant.
///
/// Serialises to the aggregator's part of the `GET /metrics` JSON, keys in
/// the contract's order; a server wraps it with `#[serde(flatten)]` and
/// appends its own keys. The fields marked "not serialised" feed the
/// Prometheus rendering and the history of snapshots.
///
/// Counters are read one after the other while requests may still be
/// recorded, so two figures of one snapshot can differ by the requests
/// that landed in between.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// When the snapshot was taken (RFC 3339 UTC, whole seconds, `Z`).
    #[serde(serialize_with = "ser_seconds")]
    pub timestamp: OffsetDateTime,
    /// Whole seconds since the aggregator was made.
    pub uptime_seconds: u64,
    /// Requests recorded.
    pub total_requests: u64,
    /// Requests with a status of 400 or more.
    pub total_errors: u64,
    /// Mean latency rounded to the nearest millisecond, 0 when idle.
    pub avg_latency_ms: u64,
    /// Cost of all requests in US dollars.
    pub total_cost_usd: f64,
    /// Conversations with a request within the TTL (see
    /// [`AggregatorConfig`](crate::AggregatorConfig) for the bound).
    pub active_conversations: u64,
    /// Service name given to `snapshot`.
    pub service: String,
    /// Service version given to `snapshot`.
    pub version: String,
    /// `total_errors / total_requests`, 0.0 when idle.
    pub error_rate: f64,
    /// Median latency in milliseconds (see [`LatencyHistogram::quantile`]).
    pub p50_latency_ms: u64,
    /// 95th percentile latency in milliseconds.
    pub p95_latency_ms: u64,
    /// 99th percentile latency in milliseconds.
    pub p99_latency_ms: u64,
    /// Requests with a status from 400 to 499.
    pub total_4xx: u64,
    /// Requests with a status of 500 or more.
    pub total_5xx: u64,
    /// Cost of the current UTC day's requests, including a start-up seed.
    pub daily_cost_usd: f64,
    /// Length of the rolling window in seconds.
    pub window_seconds: u64,
    /// Requests in the window.
    pub window_requests: u64,
    /// Requests with a status of 400 or more in the window.
    pub window_errors: u64,
    /// Error rate over the window, 0.0 when idle.
    pub window_error_rate: f64,
    /// Mean latency over the window, 0 when idle.
    pub window_avg_latency_ms: u64,

    /// Not serialised: the full window figures, 5xx included.
    #[serde(skip)]
    pub window: WindowStats,
    /// Not serialised: the UTC day counted and its request count.
    #[serde(skip)]
    pub day: Date,
    /// Not serialised: requests of the current UTC day.
    #[serde(skip)]
    pub daily_requests: u64,
    /// Not serialised: requests per surface and status class, sorted by
    /// surface name, `other` last when it has requests.
    #[serde(skip)]
    pub surfaces: Vec<SurfaceCounts>,
    /// Not serialised: cumulative request counts of the Prometheus buckets
    /// in [`DURATION_BUCKETS_LE`]; `+Inf` is `duration_count`.
    #[serde(skip)]
    pub duration_buckets: [u64; 11],
    /// Not serialised: requests counted by the duration histogram.
    #[serde(skip)]
    pub duration_count: u64,
    /// Not serialised: sum of all latencies in milliseconds.
    #[serde(skip)]
    pub latency_sum_ms: u64,
    /// Not serialised: the log-linear latency histogram.
    #[serde(skip)]
    pub latency: LatencyHistogram,
    /// Not serialised: requests whose conversation found no free slot in
    /// the bounded table (so `active_conversations` may be low).
    #[serde(skip)]
    pub conversations_untracked: u64,
}

/// Requests of one surface by status class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurfaceCounts {
    /// The surface id, or `other` for those beyond the cap.
    pub surface: String,
    /// Requests of class 1xx, 2xx, 3xx, 4xx and 5xx, in that order.
    pub by_class: [u64; 5],
}

fn ser_seconds<S: Serializer>(
    ts: &OffsetDateTime,
    ser: S,
) -> Result<S::Ok, S::Error> {
    let mut buf = Vec::with_capacity(24);
    crate::record::write_timestamp(ts, &mut buf);

    // Drop the milliseconds: `.mmm` sits just before the final `Z`.
    let cut = buf.len().saturating_sub(5);
    buf.drain(cut..buf.len() - 1);
    ser.serialize_str(std::str::from_utf8(&buf).unwrap_or_default())
}
