//! Lock-free request metrics for Maestra services: a running aggregator,
//! an append-only JSONL record writer, a tolerant reader and Prometheus
//! text rendering.
//!
//! ```
//! use metrics_core::{Aggregator, RequestRecord};
//!
//! let metrics = Aggregator::default();
//! metrics.record(&RequestRecord {
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
//! });
//!
//! let snap = metrics.snapshot("maestra-backend", "2.0.0");
//! assert_eq!(snap.total_requests, 1);
//! assert_eq!(snap.active_conversations, 1);
//! let json = serde_json::to_string(&snap).unwrap();
//! assert!(json.contains(r#""total_cost_usd":0.001"#));
//! ```

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
