//! [`JsonlWriter`]: appends records to the metrics file from a background
//! thread, never blocking the caller.
//!
//! `submit` serialises the record on the caller's thread into one
//! buffer. Cloning the record for the writer thread to serialise measured
//! cheaper on the caller (about 130 ns against 230 ns in
//! `benches/record.rs`), but it makes up to six allocations freed on another
//! thread instead of one, and leaves a single thread serialising for every
//! request thread; the line is the compact form to queue. The caller's
//! thread then hands the line to a bounded queue with `try_send`; a full
//! queue drops the record and counts it. The writer thread wakes every
//! `flush_interval`, takes what is queued and appends it with one `write`
//! call per `max_batch_bytes`, so lines are whole and never interleave.
//!
//! A burst does not wait for the interval: callers keep a count of queued
//! lines, and the one `submit` that brings it to a quarter of
//! `queue_capacity` wakes the writer thread. Only that crossing pays for a
//! wake-up; every other `submit` is a `try_send` and an atomic add. The
//! flush interval thus bounds how long a record waits when traffic is
//! light; under heavy traffic the queue only has to hold what arrives
//! while the woken thread waits for a core. With the default 16 384 lines
//! that is about 12 ms at a million records a second: on a machine so
//! loaded that the thread waits longer, records are dropped (counted).
//!
//! After a failed write or open the batch is kept and retried every
//! `retry_interval`, reopening the file each time, so writing resumes by
//! itself once the disk has room or the permission is back. Lines held
//! for longer than `retry_for` are dropped and counted; while a batch is
//! held, new records wait in the queue and are dropped when it is full.

mod sink;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{
    AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering,
};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::record::RequestRecord;
use sink::{close_budget, open_append, Sink};

/// Settings of a [`JsonlWriter`].
///
/// | field | default | meaning |
/// |---|---|---|
/// | `path` | (given) | file appended to; folders are created |
/// | `queue_capacity` | 16384 | records waiting for the writer thread |
/// | `flush_interval` | 200 ms | longest pause between batches |
/// | `max_batch_bytes` | 256 KiB | a batch this large is written at once |
/// | `retry_interval` | 500 ms | pause between attempts after a failure |
/// | `retry_for` | 60 s | how long failed records are retried |
/// | `close_timeout` | 5 s | longest `close` spends writing what is left |
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// The JSONL file.
    pub path: PathBuf,
    /// Bound of the queue between callers and the writer thread. The
    /// thread is woken early once a quarter of it is used.
    pub queue_capacity: usize,
    /// Longest pause of the writer thread between batches: the longest a
    /// record waits in the queue before its write is attempted, when
    /// fewer than a quarter of `queue_capacity` lines are waiting.
    pub flush_interval: Duration,
    /// Batch size that triggers a write before the interval ends.
    pub max_batch_bytes: usize,
    /// Pause between write attempts while writes fail.
    pub retry_interval: Duration,
    /// How long records are kept for retrying before being dropped.
    pub retry_for: Duration,
    /// Longest time `close` spends writing the remaining records.
    pub close_timeout: Duration,
}

impl WriterConfig {
    /// Defaults for writing to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        WriterConfig {
            path: path.into(),
            queue_capacity: 16384,
            flush_interval: Duration::from_millis(200),
            max_batch_bytes: 256 * 1024,
            retry_interval: Duration::from_millis(500),
            retry_for: Duration::from_secs(60),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// Failures of the writer itself (write failures are counted instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriterError {
    /// The background thread could not be started.
    #[error("failed to start the record writer thread")]
    Spawn(#[source] std::io::Error),
    /// `close` gave up waiting for the writer thread.
    #[error("failed to finish writing records within {0:?}")]
    CloseTimedOut(Duration),
}

/// Counters of a writer, from [`JsonlWriter::stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterStats {
    /// Records taken into the queue.
    pub accepted: u64,
    /// Records written to the file.
    pub written: u64,
    /// Records lost: queue full, closed writer, or given up after
    /// `retry_for` of failed writes.
    pub dropped: u64,
    /// Failed attempts to open or write the file.
    pub write_errors: u64,
    /// Whether the last attempt to write succeeded. After a failed
    /// open, opening the file again is enough; after a failed write, it
    /// takes a written line.
    pub healthy: bool,
    /// The last failure, such as `failed to write /path: No space left on
    /// device (os error 28)`; kept after recovery.
    pub last_error: Option<String>,
}

/// State shared by the handles and the writer thread.
#[derive(Debug, Default)]
struct Shared {
    accepted: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
    healthy: AtomicBool,
    /// Set by `close`: no more records are taken.
    closing: AtomicBool,
    /// Set once no `submit` can still be sending: the thread may finish.
    sealed: AtomicBool,
    /// `submit` calls between their `closing` check and their send.
    in_flight: AtomicUsize,
    /// Lines sent but not yet taken by the writer thread: added to after
    /// each send, taken from in bulk by the thread, so it can dip below
    /// zero for a moment. Its crossing of `wake_at` wakes the thread.
    queued: AtomicIsize,
    last_error: Mutex<Option<String>>,
    done: Mutex<bool>,
    done_signal: Condvar,
}

impl Shared {
    fn set_healthy(&self) {
        self.healthy.store(true, Ordering::Relaxed);
    }

    fn set_failed(&self, path: &std::path::Path, err: &std::io::Error) {
        self.write_errors.fetch_add(1, Ordering::Relaxed);
        self.healthy.store(false, Ordering::Relaxed);
        let text = format!("failed to write {}: {err}", path.display());
        *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(text);
    }

    fn mark_done(&self) {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.done_signal.notify_all();
    }
}

/// The count of queued lines at which `submit` wakes the writer thread: a
/// quarter of the queue, which leaves three quarters to absorb the burst
/// while the thread is scheduled.
fn wake_at(config: &WriterConfig) -> isize {
    let capacity = config.queue_capacity.max(1);
    isize::try_from(capacity / 4).unwrap_or(isize::MAX).max(1)
}

struct Inner {
    tx: SyncSender<Vec<u8>>,
    shared: Arc<Shared>,
    config: WriterConfig,
    thread: std::thread::Thread,
    wake_at: isize,
}

/// A cheap, cloneable handle that appends records to the metrics file.
///
/// Made by [`JsonlWriter::open`] together with a [`WriterGuard`].
#[derive(Clone)]
pub struct JsonlWriter {
    inner: Arc<Inner>,
}

impl fmt::Debug for JsonlWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonlWriter")
            .field("path", &self.inner.config.path)
            .field("stats", &self.stats())
            .finish()
    }
}

impl JsonlWriter {
    /// Starts a writer for `config.path`.
    ///
    /// The file is opened here, so `stats()` tells at once whether it is
    /// writable; a failure is counted and retried, not returned. Keep the
    /// guard alive for as long as records are submitted.
    pub fn open(
        config: WriterConfig,
    ) -> Result<(JsonlWriter, WriterGuard), WriterError> {
        let shared = Arc::new(Shared::default());
        let file = match open_append(&config.path) {
            Ok(file) => {
                shared.set_healthy();
                Some(file)
            }
            Err(err) => {
                shared.set_failed(&config.path, &err);
                None
            }
        };

        let wake_at = wake_at(&config);
        let (tx, rx) = mpsc::sync_channel(config.queue_capacity.max(1));
        let sink = Sink::new(config.clone(), shared.clone(), rx, file, wake_at);
        let thread = std::thread::Builder::new()
            .name("metrics-jsonl".into())
            .spawn(move || sink.run())
            .map_err(WriterError::Spawn)?
            .thread()
            .clone();

        let inner = Inner { tx, shared, config, thread, wake_at };
        let writer = JsonlWriter { inner: Arc::new(inner) };
        let guard = WriterGuard { writer: writer.clone() };
        Ok((writer, guard))
    }

    /// Queues `record` for writing; never blocks. Returns `false` when the
    /// record was dropped (queue full or writer closed); drops are counted
    /// in [`stats`](JsonlWriter::stats).
    pub fn submit(&self, record: &RequestRecord) -> bool {
        // Room for the whole line at once: keys, timestamp and numbers
        // take under 256 bytes, and a growing buffer cost a realloc on
        // every typical line.
        let strings = [
            &record.request_id,
            &record.surface_id,
            &record.user_id,
            &record.mode,
        ];
        let optional = [&record.conversation_id, &record.error];
        let len = strings.iter().map(|s| s.len()).sum::<usize>()
            + optional
                .iter()
                .flat_map(|s| s.as_deref())
                .map(str::len)
                .sum::<usize>();
        let mut line = Vec::with_capacity(256 + len);
        record.write_json_line(&mut line);
        self.submit_line(line)
    }

    fn submit_line(&self, line: Vec<u8>) -> bool {
        let shared = &self.inner.shared;

        // `close` waits for `in_flight` to reach zero after raising
        // `closing`, so a line is either refused here or sent before the
        // writer thread takes its last look at the queue.
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let sent = !shared.closing.load(Ordering::SeqCst)
            && self.inner.tx.try_send(line).is_ok();
        if sent {
            shared.accepted.fetch_add(1, Ordering::Relaxed);

            // The count rises one at a time, so exactly one sender sees
            // it reach `wake_at` on each rise; the thread takes from it
            // in bulk and checks it before sleeping, so a crossing is
            // never missed.
            let before = shared.queued.fetch_add(1, Ordering::Relaxed);
            if before + 1 == self.inner.wake_at {
                self.inner.thread.unpark();
            }
        } else {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        sent
    }

    /// Current counters and health.
    pub fn stats(&self) -> WriterStats {
        let s = &self.inner.shared;
        let last_error =
            s.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        WriterStats {
            accepted: s.accepted.load(Ordering::Relaxed),
            written: s.written.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            write_errors: s.write_errors.load(Ordering::Relaxed),
            healthy: s.healthy.load(Ordering::Relaxed),
            last_error,
        }
    }

    /// Stops taking records, writes every accepted one and syncs the file.
    ///
    /// Waits at most `close_timeout` plus one `flush_interval`; records
    /// the thread could not write by then are counted as dropped. Later
    /// calls return at once. Submitting after `close` drops the record.
    pub fn close(&self) -> Result<WriterStats, WriterError> {
        let shared = &self.inner.shared;
        let budget = close_budget(&self.inner.config);
        let deadline = Instant::now() + budget;
        shared.closing.store(true, Ordering::SeqCst);
        while shared.in_flight.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return Err(WriterError::CloseTimedOut(budget));
            }
            std::thread::yield_now();
        }
        shared.sealed.store(true, Ordering::SeqCst);

        // Wake the thread rather than wait out its flush interval.
        self.inner.thread.unpark();

        let done = shared.done.lock().unwrap_or_else(PoisonError::into_inner);
        let wait = deadline.saturating_duration_since(Instant::now());
        let (done, _) = shared
            .done_signal
            .wait_timeout_while(done, wait, |done| !*done)
            .unwrap_or_else(PoisonError::into_inner);
        if !*done {
            return Err(WriterError::CloseTimedOut(budget));
        }
        drop(done);
        Ok(self.stats())
    }
}

/// Closes the writer when dropped, waiting a bounded time (see
/// [`JsonlWriter::close`]); keep it alive for the life of the service.
#[must_use = "dropping the guard closes the writer at once"]
#[derive(Debug)]
pub struct WriterGuard {
    writer: JsonlWriter,
}

impl WriterGuard {
    /// Closes the writer now and reports the final counters.
    pub fn close(self) -> Result<WriterStats, WriterError> {
        self.writer.close()
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        // The outcome stays readable through `stats()` of any handle.
        let _ = self.writer.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_is_woken_at_a_quarter_of_the_queue() {
        // (queue_capacity, wake_at)
        let cases = [(0, 1), (1, 1), (7, 1), (8, 2), (64, 16), (16384, 4096)];
        for (capacity, want) in cases {
            let config = WriterConfig {
                queue_capacity: capacity,
                ..WriterConfig::new("m.jsonl")
            };
            assert_eq!(wake_at(&config), want, "capacity {capacity}");
        }
    }
}
