//! [`LogGuard`], which flushes the logs at the end, and [`LogHandle`],
//! which reads their health at any time.

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use slog_async::AsyncGuard;

use crate::drain::{Front, Sent, Shared};
use crate::health::FileHealth;

/// Flushes every queued record when dropped or shut down.
///
/// Shutting down first puts any pending count of dropped records in the
/// log, then lets the writer thread finish every record already queued
/// and close the files (waiting for a running gzip). The wait is bounded
/// by [`LogConfig::shutdown_timeout`](crate::LogConfig::shutdown_timeout):
/// past it the guard returns and the writer carries on alone, so lines
/// still queued are lost only if the process exits right away. Records
/// logged after shutdown are counted as dropped.
#[must_use = "dropping the guard at once stops the log writer"]
pub struct LogGuard {
    front: Arc<Front>,
    async_guard: Option<AsyncGuard>,
    timeout: Duration,
    handle: LogHandle,
}

impl LogGuard {
    pub(crate) fn new(
        front: Arc<Front>,
        async_guard: AsyncGuard,
        timeout: Duration,
        handle: LogHandle,
    ) -> LogGuard {
        LogGuard { front, async_guard: Some(async_guard), timeout, handle }
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
        let Some(async_guard) = self.async_guard.take() else {
            return true;
        };
        let deadline = Instant::now() + self.timeout;

        // The count of dropped records goes in before the last lines.
        while self.front.report_dropped() == Sent::Full
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }

        // Dropping the slog-async guard waits for the writer without a
        // limit, so it waits on a thread of its own.
        let (done_tx, done_rx) = mpsc::channel();
        let waiter = std::thread::Builder::new()
            .name("log-json-shutdown".into())
            .spawn(move || {
                drop(async_guard);
                let _ = done_tx.send(());
            });
        if waiter.is_err() {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        done_rx.recv_timeout(left).is_ok()
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
            .field("running", &self.async_guard.is_some())
            .finish_non_exhaustive()
    }
}

/// Counters and health of the logs, cheap to clone and share.
#[derive(Clone, Debug)]
pub struct LogHandle {
    shared: Arc<Shared>,
    main: Arc<FileHealth>,
    errors: Arc<FileHealth>,
}

impl LogHandle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        main: Arc<FileHealth>,
        errors: Arc<FileHealth>,
    ) -> LogHandle {
        LogHandle { shared, main, errors }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Records dropped since start because the channel was full (or the
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

    /// Asks the writer to reopen both files before its next line, after
    /// an external tool moved them.
    pub fn reopen(&self) {
        self.shared.reopen.fetch_add(1, Ordering::Relaxed);
    }
}
