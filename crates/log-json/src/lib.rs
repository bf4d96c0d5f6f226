//! A slog drain writing one JSON object per line to size-rotated files:
//! an all-levels log and an error-only log, for any 8825 service.
//!
//! ```
//! use log_json::{Level, LogConfig};
//! use slog::info;
//!
//! # let dir = tempfile::tempdir()?;
//! let (log, guard) = LogConfig::new(dir.path()).level(Level::Info).build()?;
//! info!(log, "Request received";
//!     "event_type" => "request_received", "request_id" => "req_1");
//! guard.shutdown();
//!
//! let text = std::fs::read_to_string(dir.path().join("maestra_backend.log"))?;
//! let line: serde_json::Value = serde_json::from_str(text.trim_end())?;
//! assert_eq!(line["event_type"], "request_received");
//! assert_eq!(line["level"], "INFO");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Line format
//!
//! `timestamp` (RFC 3339 UTC with milliseconds, taken when the record is
//! logged), `logger`, `level` (`DEBUG`, `INFO`, `WARNING`, `ERROR`,
//! `CRITICAL`), `event_type` (the record's `event_type` key, `"log"` when
//! absent), `message`, then every other key of the record and its logger.
//! A record key wins over a logger key of the same name, and each key
//! appears once; a context key named like a fixed field is written with
//! the prefix `kv_`. Numbers and booleans stay JSON numbers and booleans,
//! `slog::Serde` values are nested. Every string is JSON-escaped, so a
//! record is always exactly one line.
//!
//! # Delivery
//!
//! The logging thread formats each record into its line and appends the
//! line to a bounded queue shared with one writer thread, holding a mutex
//! only for the copy. It does not wake the writer: the writer takes every
//! waiting line each [`flush_interval`](LogConfig::flush_interval)
//! (100 ms by default), or as soon as a quarter of
//! [`channel_size`](LogConfig::channel_size) lines or 1 MiB are waiting,
//! and writes them with one `write` per file. Waking the writer for each
//! line cost a system call and a context switch per line, more than
//! formatting it. A full queue never blocks the caller: the record is
//! dropped and counted ([`LogHandle::dropped`]), and once there is room a
//! `WARNING` line with `"event_type":"log_records_dropped"` and the
//! `count` goes in the log. Lines are never torn or interleaved, and
//! rotation still falls between lines: a batch is cut where the next line
//! would pass `max_bytes`. A failed write is counted per line lost
//! ([`LogHandle::write_errors`]), marks the logs unhealthy until a write
//! succeeds, and is printed to stderr at most once a minute, as a last
//! resort; the next batch reopens the file, creating the folder again if
//! needed.
//!
//! # Known limits
//!
//! A line reaches its file up to one flush interval after the call, so
//! `tail -f` lags by as much. Formatting happens on the logging thread,
//! so a record turned away by a full queue has still cost its formatting.
//! A failed write loses the whole batch it carried (each line counted).
//! A process that exits without dropping the guard
//! (`std::process::exit`, an abort) loses what is still queued: up to one
//! flush interval of lines.

mod config;
mod drain;
mod error;
mod format;
mod guard;
mod health;
mod level;
mod preview;
mod queue;
pub mod rotate;
mod writer;

pub use config::{
    LogConfig, DEFAULT_ERROR_FILE_NAME, DEFAULT_FILE_NAME, DEFAULT_LOGGER_NAME,
};
pub use drain::DROPPED_EVENT;
pub use error::Error;
pub use guard::{LogGuard, LogHandle};
pub use health::FileHealth;
pub use level::Level;
pub use preview::{preview, ELLIPSIS};
pub use rotate::{RotateOptions, RotatingFile};
