//! The writer thread: every flush interval (or sooner when the queue
//! fills), it takes the waiting lines and writes them, one `write` per
//! file for the whole batch unless a rotation falls inside it.

use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::drain::Shared;
use crate::health::StderrReport;
use crate::queue::{Batch, LineQueue};
use crate::rotate::RotatingFile;

/// What the writer thread alone touches.
pub(crate) struct Writer {
    pub(crate) queue: Arc<LineQueue>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) main: RotatingFile,
    pub(crate) errors: RotatingFile,
    pub(crate) stdout: bool,
    pub(crate) report: StderrReport,
    pub(crate) flush_interval: Duration,
    pub(crate) reopen_seen: u64,
    /// Lets a test hold the writer still, to fill the queue on purpose.
    #[cfg(test)]
    pub(crate) gate: Option<Arc<TestGate>>,
}

/// A lock the writer takes after taking each batch, before writing it,
/// and a count of the batches that got there.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct TestGate {
    pub(crate) lock: std::sync::Mutex<()>,
    pub(crate) arrived: std::sync::atomic::AtomicU64,
}

impl Writer {
    /// Writes batches until the queue is closed and empty, then waits for
    /// a running gzip and returns.
    pub(crate) fn run(mut self) {
        let mut batch = Batch::default();
        loop {
            // Woken early by a filling queue, a reopen request or close.
            std::thread::park_timeout(self.flush_interval);

            // A reopen asked for before this look covers every line
            // logged after the request; lines taken with them may have
            // been logged a little before it and go to the new file too.
            let wanted = self.shared.reopen.load(Ordering::Acquire);
            let closed = self.queue.take(&mut batch);
            if wanted != self.reopen_seen {
                self.reopen_seen = wanted;
                let _ = self.main.reopen();
                let _ = self.errors.reopen();
            }

            if !batch.is_empty() {
                #[cfg(test)]
                if let Some(gate) = &self.gate {
                    gate.arrived.fetch_add(1, Ordering::SeqCst);
                    drop(gate.lock.lock());
                }
                self.write(&batch);
            }
            if closed {
                // `close` set the flag before this take: nothing more.
                break;
            }
        }
        self.main.finish_compression();
        self.errors.finish_compression();
    }

    /// Writes one batch to the files (and stdout when asked).
    fn write(&mut self, batch: &Batch) {
        for line in batch.main_lines() {
            let result = self.main.append_batched(line);
            check(result, &self.main, &mut self.report);
        }
        let result = self.main.flush();
        check(result, &self.main, &mut self.report);

        if !batch.errors.is_empty() {
            for line in batch.error_lines() {
                let result = self.errors.append_batched(line);
                check(result, &self.errors, &mut self.report);
            }
            let result = self.errors.flush();
            check(result, &self.errors, &mut self.report);
        }

        if self.stdout {
            // A closed stdout loses only the console copy.
            let _ = std::io::stdout().lock().write_all(&batch.main);
        }
    }
}

/// Reports a failure of `result` on `file` to stderr.
fn check(
    result: std::io::Result<()>,
    file: &RotatingFile,
    report: &mut StderrReport,
) {
    if result.is_err() {
        let health = file.health();
        let text = health.last_error().unwrap_or_default();
        report.report(&format!(
            "{text}; {} records lost to write errors so far",
            health.write_errors()
        ));
    }
}
