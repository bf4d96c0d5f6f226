//! [`Front`], the slog drain on the logging threads: it filters by level,
//! formats each record into its finished line and queues the line for the
//! writer thread, counting what a full queue turns away.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use slog::{Drain, OwnedKVList, Record};

use crate::format::{Formatter, Scratch};
use crate::queue::{LineQueue, Sent};

/// Counters shared by the drain, the writer, the guard and every handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Records turned away since start, never reset.
    pub(crate) dropped: AtomicU64,
    /// Turned-away records not yet reported in the log.
    pub(crate) unreported: AtomicU64,
    /// Bumped by `LogHandle::reopen`; the writer reopens when it changes.
    pub(crate) reopen: AtomicU64,
}

/// The event type of the line reporting records lost to a full queue.
///
/// That line is a `WARNING` with the number lost in `count`. It goes in
/// the main log whatever the configured level, because a loss must never
/// pass unseen, and it comes before the record that found room again.
pub const DROPPED_EVENT: &str = "log_records_dropped";

/// The buffers a logging thread formats its lines in, kept between calls.
#[derive(Default)]
struct LineBuf {
    scratch: Scratch,
    line: Vec<u8>,
}

/// Above this a thread's line buffer is given back after use, so that
/// one huge record does not pin its memory.
const KEEP_LINE_BYTES: usize = 64 * 1024;

thread_local! {
    static LINE_BUF: RefCell<LineBuf> = RefCell::new(LineBuf::default());
}

/// Runs on the logging threads: filters by level, formats the record into
/// its finished line and appends that to the queue without ever waiting.
///
/// Formatting here, not on the writer thread, means the queue holds plain
/// bytes: no boxed copy of every key and value for another core to free.
pub(crate) struct Front {
    pub(crate) queue: Arc<LineQueue>,
    pub(crate) min: slog::Level,
    pub(crate) formatter: Formatter,
    pub(crate) shared: Arc<Shared>,
    /// The empty logger values of the dropped-records line.
    pub(crate) no_values: OwnedKVList,
}

impl Front {
    /// A front formatting with `formatter` and letting `min` and above
    /// through to `queue`.
    pub(crate) fn new(
        queue: Arc<LineQueue>,
        min: slog::Level,
        formatter: Formatter,
        shared: Arc<Shared>,
    ) -> Front {
        let no_values = OwnedKVList::from(slog::o!());
        Front { queue, min, formatter, shared, no_values }
    }

    /// Formats the record (the time of the call goes in the line) and
    /// queues the line without waiting.
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
        let error = record.level().is_at_least(slog::Level::Error);
        let sent = self.queue.push(&buf.line, error);
        if buf.line.capacity() > KEEP_LINE_BYTES {
            buf.line = Vec::new();
        }
        sent
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
