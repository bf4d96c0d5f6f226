//! The two drains around the channel: [`Front`] on the logging threads,
//! counting what the full channel turns away, and [`FileDrain`] on the
//! writer thread, formatting lines into the files.

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use slog::{Drain, OwnedKVList, Record, KV};
use slog_async::{AsyncCore, AsyncError};

use crate::format::{now_ms, Formatter, Scratch, STAMP_KEY};
use crate::health::StderrReport;
use crate::rotate::RotatingFile;

/// Counters shared by the drains, the guard and every handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Records turned away since start, never reset.
    pub(crate) dropped: AtomicU64,
    /// Turned-away records not yet reported in the log.
    pub(crate) unreported: AtomicU64,
    /// Bumped by `LogHandle::reopen`; the writer reopens when it changes.
    pub(crate) reopen: AtomicU64,
}

/// The event type of the line reporting records lost to a full channel.
///
/// That line is a `WARNING` with the number lost in `count`. It goes in
/// the main log whatever the configured level, because a loss must never
/// pass unseen, and it comes before the record that found room again.
pub const DROPPED_EVENT: &str = "log_records_dropped";

/// What became of a record handed to the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Queued for the writer.
    Yes,
    /// Turned away by a full channel.
    Full,
    /// Turned away because the writer has stopped.
    Closed,
}

/// Runs on the logging threads: filters by level, stamps the time and
/// hands the record to the channel without ever waiting.
pub(crate) struct Front {
    pub(crate) core: AsyncCore,
    pub(crate) min: slog::Level,
    pub(crate) shared: Arc<Shared>,
}

impl Front {
    /// Hands the record to the channel without waiting.
    fn send(&self, record: &Record<'_>, values: &OwnedKVList) -> Sent {
        match self.core.log(record, values) {
            Ok(()) => Sent::Yes,
            Err(AsyncError::Full) => Sent::Full,
            // The writer has stopped: nothing will make room.
            Err(_) => Sent::Closed,
        }
    }

    /// Puts the count of unreported drops in the log, if there is room.
    pub(crate) fn report_dropped(&self) -> Sent {
        let count = self.shared.unreported.swap(0, Ordering::Relaxed);
        if count == 0 {
            return Sent::Yes;
        }
        let sent = self.send(
            &slog::record!(
                slog::Level::Warning,
                "",
                &format_args!("log records dropped: the log channel was full"),
                slog::b!(
                    "event_type" => DROPPED_EVENT,
                    "count" => count,
                    STAMP_KEY => now_ms()
                )
            ),
            &OwnedKVList::from(slog::o!()),
        );
        if sent != Sent::Yes {
            // Still no room: the report waits for the next record.
            self.shared.unreported.fetch_add(count, Ordering::Relaxed);
        }
        sent
    }
}

impl Drain for Front {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &Record<'_>,
        values: &OwnedKVList,
    ) -> Result<(), slog::Never> {
        if !record.level().is_at_least(self.min) {
            return Ok(());
        }
        if self.shared.unreported.load(Ordering::Relaxed) > 0 {
            self.report_dropped();
        }

        // The time of the call, not of the write, goes in the line.
        let stamped = Stamped { inner: record.kv(), ms: now_ms() };
        let rstatic = slog::RecordStatic {
            location: record.location(),
            tag: record.tag(),
            level: record.level(),
        };
        let stamped_record =
            Record::new(&rstatic, record.msg(), slog::BorrowedKV(&stamped));

        if self.send(&stamped_record, values) != Sent::Yes {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            self.shared.unreported.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn is_enabled(&self, level: slog::Level) -> bool {
        level.is_at_least(self.min)
    }
}

/// The record's own key-values plus the time stamp.
struct Stamped<'a> {
    inner: slog::BorrowedKV<'a>,
    ms: u64,
}

impl KV for Stamped<'_> {
    fn serialize(
        &self,
        record: &Record<'_>,
        serializer: &mut dyn slog::Serializer,
    ) -> slog::Result {
        self.inner.serialize(record, serializer)?;
        serializer.emit_u64(STAMP_KEY, self.ms)
    }
}

/// Runs on the writer thread: one line per record, into each file it
/// belongs to, in a single write each.
pub(crate) struct FileDrain {
    pub(crate) formatter: Formatter,
    pub(crate) state: RefCell<WriterState>,
    pub(crate) shared: Arc<Shared>,
}

/// What the writer thread alone touches.
pub(crate) struct WriterState {
    pub(crate) main: RotatingFile,
    pub(crate) errors: RotatingFile,
    pub(crate) stdout: bool,
    pub(crate) report: StderrReport,
    pub(crate) reopen_seen: u64,
    pub(crate) scratch: Scratch,
    pub(crate) line: Vec<u8>,
    /// Lets a test hold the writer still, to fill the channel on purpose.
    #[cfg(test)]
    pub(crate) gate: Option<Arc<TestGate>>,
}

/// A lock the writer takes before each record, and a count of arrivals.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct TestGate {
    pub(crate) lock: std::sync::Mutex<()>,
    pub(crate) arrived: AtomicU64,
}

impl WriterState {
    /// Appends `line` to `file`, reporting a failure on stderr.
    fn append(file: &mut RotatingFile, report: &mut StderrReport, line: &[u8]) {
        if file.append(line).is_err() {
            let health = file.health();
            let text = health.last_error().unwrap_or_default();
            report.report(&format!(
                "{text}; {} records lost to write errors so far",
                health.write_errors()
            ));
        }
    }
}

impl Drain for FileDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &Record<'_>,
        values: &OwnedKVList,
    ) -> Result<(), slog::Never> {
        let Ok(mut guard) = self.state.try_borrow_mut() else {
            return Ok(());
        };
        let state = &mut *guard;

        #[cfg(test)]
        if let Some(gate) = &state.gate {
            gate.arrived.fetch_add(1, Ordering::SeqCst);
            drop(gate.lock.lock());
        }

        let wanted = self.shared.reopen.load(Ordering::Relaxed);
        if wanted != state.reopen_seen {
            state.reopen_seen = wanted;
            let _ = state.main.reopen();
            let _ = state.errors.reopen();
        }

        state.line.clear();
        self.formatter.format(
            record,
            values,
            &mut state.scratch,
            &mut state.line,
        );

        WriterState::append(&mut state.main, &mut state.report, &state.line);
        if record.level().is_at_least(slog::Level::Error) {
            WriterState::append(
                &mut state.errors,
                &mut state.report,
                &state.line,
            );
        }
        if state.stdout {
            // A closed stdout loses only the console copy.
            let _ = std::io::stdout().lock().write_all(&state.line);
        }
        Ok(())
    }
}
