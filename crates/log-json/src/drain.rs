//! The two drains around the channel: [`Front`] on the logging threads,
//! formatting each record into its line and counting what the full
//! channel turns away, and [`FileDrain`] on the writer thread, gathering
//! the lines and writing them to the files in batches.

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use slog::{Drain, OwnedKVList, Record};
use slog_async::{AsyncCore, AsyncError};

use crate::format::{Formatter, Scratch};
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
    /// Lines the channel has accepted; the writer flushes its batch once
    /// it has taken as many, so no line waits for a later one.
    pub(crate) sent: AtomicU64,
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

/// Where every line crossing the channel claims to come from: the line
/// is finished, so the record's own location is of no further use.
static LINE_LOCATION: slog::RecordLocation = slog::RecordLocation {
    file: "",
    line: 0,
    column: 0,
    function: "",
    module: "",
};

/// The record statics of the lines crossing the channel, one per level
/// so that the writer can still route `ERROR` and `CRITICAL` lines.
static LINE_STATICS: [slog::RecordStatic<'static>; 6] = {
    const fn at(level: slog::Level) -> slog::RecordStatic<'static> {
        slog::RecordStatic { location: &LINE_LOCATION, tag: "", level }
    }
    [
        at(slog::Level::Critical),
        at(slog::Level::Error),
        at(slog::Level::Warning),
        at(slog::Level::Info),
        at(slog::Level::Debug),
        at(slog::Level::Trace),
    ]
};

/// The buffers a logging thread formats its lines in, kept between calls.
#[derive(Default)]
struct LineBuf {
    scratch: Scratch,
    line: Vec<u8>,
}

/// Above this a thread's line buffer is given back after use, so that
/// one huge record does not pin its memory.
const KEEP_LINE_BYTES: usize = 64 * 1024;

/// Most lines the writer gathers before it writes them, caught up or not.
const MAX_BATCH_LINES: usize = 256;

thread_local! {
    static LINE_BUF: RefCell<LineBuf> = RefCell::new(LineBuf::default());
}

/// Runs on the logging threads: filters by level, formats the record into
/// its finished line and hands that to the channel without ever waiting.
///
/// Formatting here, not on the writer thread, means slog-async carries one
/// owned string per record (the line, as the record's message) instead of
/// one boxed copy of every key and value, which the writer would free on
/// another core.
pub(crate) struct Front {
    pub(crate) core: AsyncCore,
    pub(crate) min: slog::Level,
    pub(crate) formatter: Formatter,
    pub(crate) shared: Arc<Shared>,
    /// The logger values sent with every line: none, as the line holds
    /// them already; kept to avoid building a list per record.
    pub(crate) no_values: OwnedKVList,
}

impl Front {
    /// A front formatting with `formatter` and letting `min` and above
    /// through to `core`.
    pub(crate) fn new(
        core: AsyncCore,
        min: slog::Level,
        formatter: Formatter,
        shared: Arc<Shared>,
    ) -> Front {
        let no_values = OwnedKVList::from(slog::o!());
        Front { core, min, formatter, shared, no_values }
    }

    /// Formats the record (the time of the call goes in the line) and
    /// hands the line to the channel without waiting.
    fn send(&self, record: &Record<'_>, values: &OwnedKVList) -> Sent {
        let used = LINE_BUF.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => Some(self.format_and_send(record, values, &mut buf)),
            // A value whose formatting logs again: use fresh buffers.
            Err(_) => None,
        });
        match used {
            Ok(Some(sent)) => sent,
            // Also reached from a thread-local destructor at thread exit.
            _ => self.format_and_send(record, values, &mut LineBuf::default()),
        }
    }

    fn format_and_send(
        &self,
        record: &Record<'_>,
        values: &OwnedKVList,
        buf: &mut LineBuf,
    ) -> Sent {
        buf.line.clear();
        self.formatter.format(record, values, &mut buf.scratch, &mut buf.line);
        let sent = self.send_line(record.level(), &buf.line);
        if buf.line.capacity() > KEEP_LINE_BYTES {
            buf.line = Vec::new();
        }
        sent
    }

    /// Hands one finished line to the channel as the message of a record
    /// without key-values, which slog-async copies into one `String`.
    fn send_line(&self, level: slog::Level, line: &[u8]) -> Sent {
        // The formatter writes only UTF-8 (JSON text of `str` values), so
        // the lossy branch is never taken; it keeps this free of `unsafe`.
        let text = match std::str::from_utf8(line) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(line),
        };
        let rstatic = &LINE_STATICS[level.as_usize() - 1];
        let logged = self.core.log(
            &Record::new(
                rstatic,
                &format_args!("{text}"),
                slog::BorrowedKV(&()),
            ),
            &self.no_values,
        );
        match logged {
            Ok(()) => {
                self.shared.sent.fetch_add(1, Ordering::Relaxed);
                Sent::Yes
            }
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
                slog::b!("event_type" => DROPPED_EVENT, "count" => count)
            ),
            &self.no_values,
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

        if self.send(record, values) != Sent::Yes {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            self.shared.unreported.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn is_enabled(&self, level: slog::Level) -> bool {
        level.is_at_least(self.min)
    }
}

/// Runs on the writer thread: takes the finished lines off the channel
/// and writes them in batches, one write per file for all the lines that
/// were waiting.
///
/// slog-async hands over one record at a time and says nothing of what is
/// still queued, so the writer counts: once it has taken as many lines as
/// the channel accepted ([`Shared::sent`]), none is on its way and the
/// batch is written before the writer waits for more.
pub(crate) struct FileDrain {
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
    /// Lines taken off the channel since start.
    pub(crate) received: u64,
    /// Lines gathered since the last flush.
    pub(crate) gathered: usize,
    /// The line being handled.
    pub(crate) line: Vec<u8>,
    /// Lines gathered for stdout, written with the files' batches.
    pub(crate) console: Vec<u8>,
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

    /// Adds the current line to the batches it belongs to.
    fn gather(&mut self, level: slog::Level) {
        let result = self.main.append_batched(&self.line);
        WriterState::check(result, &self.main, &mut self.report);
        if level.is_at_least(slog::Level::Error) {
            let result = self.errors.append_batched(&self.line);
            WriterState::check(result, &self.errors, &mut self.report);
        }
        if self.stdout {
            self.console.extend_from_slice(&self.line);
        }
        self.gathered += 1;
    }

    /// Writes every gathered line, one write per file.
    fn flush(&mut self) {
        self.gathered = 0;
        let result = self.main.flush();
        WriterState::check(result, &self.main, &mut self.report);
        let result = self.errors.flush();
        WriterState::check(result, &self.errors, &mut self.report);
        if !self.console.is_empty() {
            // A closed stdout loses only the console copy.
            let _ = std::io::stdout().lock().write_all(&self.console);
            self.console.clear();
        }
    }
}

impl Drop for WriterState {
    fn drop(&mut self) {
        // Every line is flushed once the writer has caught up; this only
        // matters if it stops in the middle of a batch.
        self.flush();
    }
}

impl Drain for FileDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &Record<'_>,
        _values: &OwnedKVList,
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

        // Reopening writes what was gathered to the old file first.
        let wanted = self.shared.reopen.load(Ordering::Relaxed);
        if wanted != state.reopen_seen {
            state.reopen_seen = wanted;
            let _ = state.main.reopen();
            let _ = state.errors.reopen();
        }

        // The message is the finished line, formatted by `Front`.
        state.line.clear();
        let _ = state.line.write_fmt(*record.msg());
        state.gather(record.level());
        state.received += 1;

        // A line counted in `sent` but not yet received is still on its
        // way and will come through here; the counter may lag behind a
        // successful send, which only makes the flush come early.
        // Under a load that never lets it catch up, the writer still
        // flushes every `MAX_BATCH_LINES`, so that no line (an error line
        // in its own file, a console line) waits long.
        let caught_up =
            state.received >= self.shared.sent.load(Ordering::Relaxed);
        if caught_up || state.gathered >= MAX_BATCH_LINES {
            state.flush();
        }
        if state.line.capacity() > KEEP_LINE_BYTES {
            state.line = Vec::new();
        }
        Ok(())
    }
}
