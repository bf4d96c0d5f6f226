//! [`LineQueue`]: the bounded hand-over of finished lines from the
//! logging threads to the writer thread.
//!
//! A logging thread appends its line to one shared buffer under a mutex
//! held only for the copy, and does not wake the writer: the writer takes
//! the whole buffer every flush interval. Waking a sleeping thread costs
//! the caller a system call and, on a busy machine, a context switch on
//! each side; at two lines per request that cost more than the rest of
//! logging together (see docs/PERFORMANCE.md). Only the line that brings
//! the queue to a quarter of its capacity, or its bytes to
//! [`WAKE_BYTES`], wakes the writer, so a burst is written before it
//! fills the queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;

/// Queued bytes at which the writer is woken before its interval ends,
/// which also bounds the memory a burst of long lines holds.
pub(crate) const WAKE_BYTES: usize = 1024 * 1024;

/// Above this a buffer handed back by the writer is shrunk, so that one
/// burst does not pin its memory.
const KEEP_BYTES: usize = 4 * 1024 * 1024;

/// What became of a line handed to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Queued for the writer.
    Yes,
    /// Turned away by a full queue.
    Full,
    /// Turned away because the writer has stopped taking lines.
    Closed,
}

/// Lines waiting for the writer, back to back, with the length of each so
/// that the writer can cut rotation between them without scanning.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Every line, for the all-levels log.
    pub(crate) main: Vec<u8>,
    /// Byte length of each line in `main`, in order.
    pub(crate) main_lens: Vec<usize>,
    /// The `ERROR` and `CRITICAL` lines again, for the error-only log.
    pub(crate) errors: Vec<u8>,
    /// Byte length of each line in `errors`, in order.
    pub(crate) error_lens: Vec<usize>,
}

impl Batch {
    /// Whether no line is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.main_lens.is_empty()
    }

    /// Lines held.
    pub(crate) fn lines(&self) -> usize {
        self.main_lens.len()
    }

    /// Empties the batch, keeping its buffers unless they grew large.
    pub(crate) fn clear(&mut self) {
        for bytes in [&mut self.main, &mut self.errors] {
            bytes.clear();
            if bytes.capacity() > KEEP_BYTES {
                bytes.shrink_to(WAKE_BYTES);
            }
        }
        self.main_lens.clear();
        self.error_lens.clear();
    }

    /// Each line of the all-levels log.
    pub(crate) fn main_lines(&self) -> impl Iterator<Item = &[u8]> {
        split(&self.main, &self.main_lens)
    }

    /// Each line of the error-only log.
    pub(crate) fn error_lines(&self) -> impl Iterator<Item = &[u8]> {
        split(&self.errors, &self.error_lens)
    }
}

fn split<'a>(
    bytes: &'a [u8],
    lens: &'a [usize],
) -> impl Iterator<Item = &'a [u8]> {
    let mut at = 0;
    lens.iter().map(move |&len| {
        let line = &bytes[at..at + len];
        at += len;
        line
    })
}

/// The queue: a batch filling up, its bound, and the writer to wake.
#[derive(Debug)]
pub(crate) struct LineQueue {
    pending: Mutex<Pending>,
    capacity: usize,
    wake_at: usize,
    writer: OnceLock<Thread>,
    /// Times the writer was woken by a line or by `close`.
    wakes: AtomicU64,
}

#[derive(Debug, Default)]
struct Pending {
    batch: Batch,
    closed: bool,
}

impl LineQueue {
    /// A queue holding at most `capacity` lines (at least one).
    pub(crate) fn new(capacity: usize) -> LineQueue {
        let capacity = capacity.max(1);
        LineQueue {
            pending: Mutex::new(Pending::default()),
            capacity,
            wake_at: (capacity / 4).max(1),
            writer: OnceLock::new(),
            wakes: AtomicU64::new(0),
        }
    }

    /// Names the thread that [`push`](LineQueue::push) and
    /// [`close`](LineQueue::close) wake.
    pub(crate) fn set_writer(&self, thread: Thread) {
        let _ = self.writer.set(thread);
    }

    /// Wakes the writer thread, if it has started.
    pub(crate) fn wake(&self) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
        if let Some(thread) = self.writer.get() {
            thread.unpark();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A thread can only panic here on allocation failure, which
        // aborts; the batch is whole lines either way.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends one whole line (ending in `\n`); `error` puts it in the
    /// error-only log too. Never waits for the writer.
    pub(crate) fn push(&self, line: &[u8], error: bool) -> Sent {
        let mut pending = self.lock();
        if pending.closed {
            return Sent::Closed;
        }
        let batch = &mut pending.batch;
        if batch.lines() >= self.capacity {
            return Sent::Full;
        }

        let bytes_before = batch.main.len();
        batch.main.extend_from_slice(line);
        batch.main_lens.push(line.len());
        if error {
            batch.errors.extend_from_slice(line);
            batch.error_lens.push(line.len());
        }

        // Each threshold is crossed by exactly one push per batch.
        let wake = batch.lines() == self.wake_at
            || (bytes_before < WAKE_BYTES && batch.main.len() >= WAKE_BYTES);
        drop(pending);
        if wake {
            self.wake();
        }
        Sent::Yes
    }

    /// Swaps the waiting lines with `spare` (emptied first), and says
    /// whether the queue is closed: then nothing more will arrive.
    pub(crate) fn take(&self, spare: &mut Batch) -> bool {
        spare.clear();
        let mut pending = self.lock();
        std::mem::swap(&mut pending.batch, spare);
        pending.closed
    }

    /// Refuses every later line and wakes the writer to take the last
    /// batch.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.wake();
    }

    /// Whether [`close`](LineQueue::close) was called.
    #[cfg(test)]
    fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Times the writer was woken early since start.
    #[cfg(test)]
    fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_out_whole_in_order_with_errors_apart() {
        let queue = LineQueue::new(8);
        assert_eq!(queue.push(b"a\n", false), Sent::Yes);
        assert_eq!(queue.push(b"bb\n", true), Sent::Yes);
        assert_eq!(queue.push(b"ccc\n", false), Sent::Yes);

        let mut batch = Batch::default();
        assert!(!queue.take(&mut batch));
        let main: Vec<&[u8]> = batch.main_lines().collect();
        let errors: Vec<&[u8]> = batch.error_lines().collect();
        assert_eq!(main, [&b"a\n"[..], b"bb\n", b"ccc\n"]);
        assert_eq!(errors, [&b"bb\n"[..]]);

        // The next take starts empty and hands the old buffers back.
        assert!(!queue.take(&mut batch));
        assert!(batch.is_empty());
    }

    #[test]
    fn a_full_queue_turns_lines_away_until_taken() {
        let queue = LineQueue::new(2);
        assert_eq!(queue.push(b"1\n", false), Sent::Yes);
        assert_eq!(queue.push(b"2\n", false), Sent::Yes);
        assert_eq!(queue.push(b"3\n", false), Sent::Full);

        let mut batch = Batch::default();
        queue.take(&mut batch);
        assert_eq!(batch.lines(), 2);
        assert_eq!(queue.push(b"4\n", false), Sent::Yes);
    }

    #[test]
    fn a_closed_queue_refuses_and_says_so() {
        let queue = LineQueue::new(4);
        assert_eq!(queue.push(b"1\n", false), Sent::Yes);
        queue.close();
        assert!(queue.is_closed());
        assert_eq!(queue.push(b"2\n", false), Sent::Closed);

        let mut batch = Batch::default();
        assert!(queue.take(&mut batch));
        assert_eq!(batch.lines(), 1);
    }

    #[test]
    fn the_writer_is_woken_at_a_quarter_and_at_wake_bytes() {
        let queue = LineQueue::new(8);
        assert_eq!(queue.push(b"1\n", false), Sent::Yes);
        assert_eq!(queue.wakes(), 0, "woken before a quarter");
        assert_eq!(queue.push(b"2\n", false), Sent::Yes);
        assert_eq!(queue.wakes(), 1, "not woken at a quarter");
        assert_eq!(queue.push(b"3\n", false), Sent::Yes);
        assert_eq!(queue.wakes(), 1, "woken again past a quarter");

        // A fresh batch: one long line crosses the byte threshold.
        let mut batch = Batch::default();
        queue.take(&mut batch);
        let long = vec![b'x'; WAKE_BYTES];
        assert_eq!(queue.push(&long, false), Sent::Yes);
        assert_eq!(queue.wakes(), 2, "not woken at WAKE_BYTES");
    }
}
