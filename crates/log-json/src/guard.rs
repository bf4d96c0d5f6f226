//! [`LogGuard`], which flushes the logs at the end, and [`LogHandle`],
//! which reads their health at any time.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::drain::{Front, Shared};
use crate::health::FileHealth;
use crate::queue::{LineQueue, Sent};

/// Flushes every queued record when dropped or shut down.
///
/// Shutting down first puts any pending count of dropped records in the
/// log, then lets the writer thread write every record already queued
/// and close the files (waiting for a running gzip). The wait is bounded
/// by [`LogConfig::shutdown_timeout`](crate::LogConfig::shutdown_timeout):
/// past it the guard returns and the writer carries on alone, so lines
/// still queued are lost only if the process exits right away. Records
/// logged after shutdown are counted as dropped.
#[must_use = "dropping the guard at once stops the log writer"]
pub struct LogGuard {
    front: Arc<Front>,
    /// Disconnected when the writer thread has ended; in a mutex only so
    /// that the guard can be shared between threads.
    writer_done: Option<Mutex<Receiver<()>>>,
    timeout: Duration,
    handle: LogHandle,
}

impl LogGuard {
    pub(crate) fn new(
        front: Arc<Front>,
        writer_done: Receiver<()>,
        timeout: Duration,
        handle: LogHandle,
    ) -> LogGuard {
        let writer_done = Some(Mutex::new(writer_done));
        LogGuard { front, writer_done, timeout, handle }
    }

    /// A handle on the counters and health of these logs.
    pub fn handle(&self) -> LogHandle {
        self.handle.clone()
    }

    /// Flushes and stops the writer; true when it finished in time.
    pub fn shutdown(mut self) -> bool {
        self.finish()
    }

    fn finish(&mut self) -> bool {
        let Some(writer_done) = self.writer_done.take() else {
            return true;
        };
        let writer_done =
            writer_done.into_inner().unwrap_or_else(PoisonError::into_inner);
        let deadline = Instant::now() + self.timeout;

        // The count of dropped records goes in before the last lines.
        while self.front.report_dropped() == Sent::Full
            && Instant::now() < deadline
        {
            self.front.queue.wake();
            std::thread::sleep(Duration::from_millis(1));
        }

        self.front.queue.close();
        let left = deadline.saturating_duration_since(Instant::now());
        match writer_done.recv_timeout(left) {
            // The thread drops its sender when it ends.
            Err(RecvTimeoutError::Disconnected) | Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.finish();
    }
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard")
            .field("timeout", &self.timeout)
            .field("running", &self.writer_done.is_some())
            .finish_non_exhaustive()
    }
}

/// Counters and health of the logs, cheap to clone and share.
#[derive(Clone, Debug)]
pub struct LogHandle {
    shared: Arc<Shared>,
    queue: Arc<LineQueue>,
    main: Arc<FileHealth>,
    errors: Arc<FileHealth>,
}

impl LogHandle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        queue: Arc<LineQueue>,
        main: Arc<FileHealth>,
        errors: Arc<FileHealth>,
    ) -> LogHandle {
        LogHandle { shared, queue, main, errors }
    }

    /// Records dropped since start because the queue was full (or the
    /// writer had stopped).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Writes that failed since start, over both files.
    pub fn write_errors(&self) -> u64 {
        self.main.write_errors() + self.errors.write_errors()
    }

    /// False while the last write to either file failed.
    pub fn is_healthy(&self) -> bool {
        self.main.is_healthy() && self.errors.is_healthy()
    }

    /// The latest problem, the failing file's first, naming the file.
    pub fn last_error(&self) -> Option<String> {
        if !self.main.is_healthy() {
            return self.main.last_error();
        }
        if !self.errors.is_healthy() {
            return self.errors.last_error();
        }
        self.main.last_error().or_else(|| self.errors.last_error())
    }

    /// Asks the writer to reopen both files, after an external tool
    /// moved them. Every line logged after this call goes to the new
    /// files; the writer acts on it at once rather than at its next
    /// flush.
    pub fn reopen(&self) {
        self.shared.reopen.fetch_add(1, Ordering::Release);
        self.queue.wake();
    }
}
