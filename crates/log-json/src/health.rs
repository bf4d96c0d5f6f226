//! Health of a log file: write errors counted, the last one kept, and the
//! rate-limited stderr report that is the last resort for telling anyone.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A source of the current instant, replaced in tests.
pub(crate) type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The real clock.
pub(crate) fn system_clock() -> Clock {
    Arc::new(Instant::now)
}

/// At most one stderr line per this interval, whatever fails.
pub(crate) const REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// Write state of one log file, shared between its writer and handles.
#[derive(Debug, Default)]
pub struct FileHealth {
    write_errors: AtomicU64,
    failing: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl FileHealth {
    /// Records that were not written because of an I/O error.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }

    /// False from a failed write until the next successful one.
    pub fn is_healthy(&self) -> bool {
        !self.failing.load(Ordering::Relaxed)
    }

    /// The latest write error, naming the file; kept after recovery.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or(None)
    }

    /// Notes a failed write of `path`, keeping the error text.
    pub(crate) fn failed(&self, path: &Path, what: &str, err: &io::Error) {
        self.failed_records(path, what, err, 1);
    }

    /// Notes a failed write of `path` that lost `records` records (a
    /// whole batch), keeping the error text.
    pub(crate) fn failed_records(
        &self,
        path: &Path,
        what: &str,
        err: &io::Error,
        records: u64,
    ) {
        self.write_errors.fetch_add(records.max(1), Ordering::Relaxed);
        self.failing.store(true, Ordering::Relaxed);
        let text = format!("failed to {what} {}: {err}", path.display());
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(text);
        }
    }

    /// Notes a problem that loses no record (such as a failed gzip).
    pub(crate) fn note(&self, text: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(text);
        }
    }

    /// Notes a successful write.
    pub(crate) fn succeeded(&self) {
        // A plain load first keeps the hot path free of cache-line writes.
        if self.failing.load(Ordering::Relaxed) {
            self.failing.store(false, Ordering::Relaxed);
        }
    }
}

/// Prints a problem to stderr at most once per [`REPORT_INTERVAL`].
pub(crate) struct StderrReport {
    clock: Clock,
    last: Option<Instant>,
    suppressed: u64,
}

impl StderrReport {
    /// A reporter that has printed nothing yet.
    pub(crate) fn new(clock: Clock) -> StderrReport {
        StderrReport { clock, last: None, suppressed: 0 }
    }

    /// The line to print now for `text`, or `None` inside the interval.
    pub(crate) fn line(&mut self, text: &str) -> Option<String> {
        let now = (self.clock)();
        let due = match self.last {
            None => true,
            Some(last) => now.duration_since(last) >= REPORT_INTERVAL,
        };
        if !due {
            self.suppressed += 1;
            return None;
        }

        let line = if self.suppressed > 0 {
            format!(
                "log-json: {text} ({} more problems since the last report; \
                 the next report comes in a minute at the earliest)",
                self.suppressed
            )
        } else {
            format!(
                "log-json: {text} (the next report comes in a minute at \
                 the earliest)"
            )
        };
        self.last = Some(now);
        self.suppressed = 0;
        Some(line)
    }

    /// Prints `text` to stderr unless a line went out less than a minute
    /// ago. This is the documented last resort: the log itself is broken.
    pub(crate) fn report(&mut self, text: &str) {
        if let Some(line) = self.line(text) {
            use std::io::Write as _;
            let _ = writeln!(io::stderr().lock(), "{line}");
        }
    }
}

#[cfg(test)]
pub(crate) mod test_clock {
    use super::*;

    /// A clock that moves only when told.
    #[derive(Clone)]
    pub(crate) struct ManualClock(Arc<Mutex<Instant>>);

    impl ManualClock {
        pub(crate) fn new() -> ManualClock {
            ManualClock(Arc::new(Mutex::new(Instant::now())))
        }

        pub(crate) fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }

        pub(crate) fn clock(&self) -> Clock {
            let inner = self.0.clone();
            Arc::new(move || *inner.lock().unwrap())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_clock::ManualClock;
    use super::*;

    #[test]
    fn reports_at_most_once_a_minute() {
        let clock = ManualClock::new();
        let mut report = StderrReport::new(clock.clock());
        let steps: &[(u64, bool)] =
            &[(0, true), (1, false), (30, false), (29, true), (59, false)];
        for &(advance, printed) in steps {
            clock.advance(Duration::from_secs(advance));
            let line = report.line("failed to write x.log: disk full");
            assert_eq!(line.is_some(), printed, "after +{advance}s");
        }
        clock.advance(Duration::from_secs(1));
        let line = report.line("again").unwrap();
        assert!(line.contains("1 more problems"), "{line}");
    }

    #[test]
    fn health_follows_failures_and_recovery() {
        let health = FileHealth::default();
        assert!(health.is_healthy());
        assert_eq!(health.last_error(), None);

        let err = io::Error::other("disk full");
        health.failed(Path::new("/l/x.log"), "write", &err);
        health.failed(Path::new("/l/x.log"), "write", &err);
        assert!(!health.is_healthy());
        assert_eq!(health.write_errors(), 2);
        let last = health.last_error().unwrap();
        assert_eq!(last, "failed to write /l/x.log: disk full");

        health.succeeded();
        assert!(health.is_healthy());
        assert_eq!(health.write_errors(), 2);
    }
}
