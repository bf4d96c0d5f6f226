//! Lock-free request metrics for Maestra services: a running aggregator,
//! an append-only JSONL record writer, a tolerant reader and Prometheus
//! text rendering.
//!
//! ```
//! use metrics_core::{Aggregator, JsonlWriter, RequestRecord, WriterConfig};
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("maestra_metrics.jsonl");
//!
//! let metrics = Aggregator::default();
//! let (records, guard) = JsonlWriter::open(WriterConfig::new(&path))?;
//!
//! // On the request path: count the request and queue its line.
//! let record = RequestRecord {
//!     timestamp: time::OffsetDateTime::now_utc(),
//!     request_id: "req_abc123".into(),
//!     surface_id: "windsurf".into(),
//!     user_id: "justinharmon".into(),
//!     conversation_id: Some("conv_2025-12-28_jh_abc12345".into()),
//!     mode: "advisor".into(),
//!     latency_ms: 234,
//!     status_code: 200,
//!     tokens: 150,
//!     cost_usd: 0.001,
//!     error: None,
//! };
//! metrics.record(&record);
//! records.submit(&record);
//!
//! // GET /metrics and GET /metrics/prometheus.
//! let snap = metrics.snapshot("maestra-backend", "2.0.0");
//! let json = serde_json::to_string(&snap)?;
//! assert!(json.contains(r#""total_requests":1,"total_errors":0"#));
//! let mut text = String::new();
//! metrics_core::prometheus::render(&snap, &mut text);
//! assert!(text.contains("maestra_cost_usd_total 0.001"));
//!
//! // Shutdown: every accepted record is on disk once `close` returns.
//! assert_eq!(guard.close()?.written, 1);
//! let back = metrics_core::RecordReader::open(&path)?.next().unwrap()?;
//! assert_eq!(back.request_id, "req_abc123");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Parts
//!
//! - [`Aggregator`]: totals, errors, latency histogram and percentiles,
//!   per-surface counts, active conversations, a rolling window and the
//!   UTC day's spend, updated without locks on a stripe of counters each
//!   recording thread holds for itself (atomic adds on a shared stripe
//!   for threads beyond the stripes). Read with
//!   [`Aggregator::snapshot`], whose [`Snapshot`] serialises to the
//!   aggregator's part of `GET /metrics`.
//! - [`JsonlWriter`]: appends [`RequestRecord`]s as JSON lines from a
//!   background thread; `submit` never blocks, drops are counted.
//! - [`reader`]: [`RecordReader`] streams records back, skipping bad
//!   lines; [`today_totals`] restores the day's spend at start-up.
//! - [`prometheus`]: text format 0.0.4 for the aggregator's families and
//!   a checked writer for a server's own.
//!
//! Time comes from a [`Clock`] ([`SystemClock`] unless configured), so
//! tests can step through windows, TTLs and UTC days with a
//! [`ManualClock`].

mod aggregator;
mod clock;
mod histogram;
mod paths;
pub mod prometheus;
pub mod reader;
mod record;
mod snapshot;
mod writer;

pub use aggregator::{
    Aggregator, AggregatorConfig, DailyTotals, WindowStats, OTHER_SURFACE,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use histogram::{LatencyHistogram, RELATIVE_ERROR};
pub use paths::{default_metrics_path, metrics_path_under};
pub use reader::{today_totals, DayTotals, RecordReader};
pub use record::RequestRecord;
pub use snapshot::{Snapshot, SurfaceCounts, DURATION_BUCKETS_LE};
pub use writer::{
    JsonlWriter, WriterConfig, WriterError, WriterGuard, WriterStats,
};
