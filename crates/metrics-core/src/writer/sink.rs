//! The writer thread: gathers lines into batches and appends them to the
//! file, reopening it and retrying after errors.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Shared, WriterConfig};

/// A batch held back by failing writes stops taking new lines at this many
/// times the batch size; the queue then fills and drops are counted.
const HELD_BATCHES: usize = 4;

/// Opens `path` for appending, creating its folder, and terminates a last
/// line left without its newline (a torn line after a crash).
pub(super) fn open_append(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file =
        OpenOptions::new().read(true).append(true).create(true).open(path)?;

    if file.metadata()?.len() > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}

fn lines_in(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// State of the writer thread.
pub(super) struct Sink {
    pub(super) config: WriterConfig,
    pub(super) shared: Arc<Shared>,
    pub(super) rx: Receiver<Vec<u8>>,
    pub(super) file: Option<File>,
    buf: Vec<u8>,
    failing_since: Option<Instant>,
    next_try: Instant,
    /// Whether the last failure was opening the file: only then does a
    /// later open alone, with nothing to write, bring health back.
    open_failed: bool,
    /// Queued lines at which callers wake the thread (see `submit`).
    wake_at: isize,
}

impl Sink {
    pub(super) fn new(
        config: WriterConfig,
        shared: Arc<Shared>,
        rx: Receiver<Vec<u8>>,
        file: Option<File>,
        wake_at: isize,
    ) -> Self {
        let now = Instant::now();
        let failing_since = file.is_none().then_some(now);
        Sink {
            open_failed: file.is_none(),
            wake_at,
            buf: Vec::with_capacity(config.max_batch_bytes),
            config,
            shared,
            rx,
            file,
            failing_since,
            next_try: now,
        }
    }

    /// Runs until the writer is closed or every handle is gone, then
    /// writes what is left.
    ///
    /// The thread sleeps between batches instead of blocking on the
    /// queue: a wake-up per record cost several microseconds in the
    /// benchmark. Senders wake it only when the queue passes `wake_at`,
    /// once per crossing, and `close` wakes it.
    pub(super) fn run(mut self) {
        loop {
            std::thread::park_timeout(self.pause(Instant::now()));

            // Read before draining: every line sent before `close` sealed
            // the writer is then in the queue.
            let sealed = self.shared.sealed.load(Ordering::SeqCst);
            let gone = self.drain();

            // With no file, an attempt is made even without lines, so that
            // health comes back as soon as the file can be opened.
            if !self.buf.is_empty() || self.file.is_none() {
                self.flush(Instant::now());
            }
            if sealed || gone {
                break;
            }
        }
        self.finish();
    }

    /// How long to sleep: the flush interval, or less when a retry is due
    /// sooner, or not at all when the queue already holds `wake_at` lines.
    ///
    /// The last check matters when senders brought the count up past
    /// `wake_at` while the thread had taken lines it had not yet
    /// subtracted: that crossing woke a running thread, and no sender
    /// will see another until the count drops below `wake_at` again.
    fn pause(&self, now: Instant) -> Duration {
        let interval = self.config.flush_interval;
        match self.failing_since {
            Some(_) => {
                self.next_try.saturating_duration_since(now).min(interval)
            }
            None if self.shared.queued.load(Ordering::SeqCst)
                >= self.wake_at =>
            {
                Duration::ZERO
            }
            None => interval,
        }
    }

    /// Takes `taken` lines off the count of queued lines.
    fn settle(&self, taken: &mut isize) {
        if *taken > 0 {
            self.shared.queued.fetch_sub(*taken, Ordering::SeqCst);
            *taken = 0;
        }
    }

    /// Moves queued lines into the batch, writing full batches on the way;
    /// true when every handle is gone. While writes fail, lines beyond a
    /// few batches are left in the queue.
    fn drain(&mut self) -> bool {
        let limit = self.config.max_batch_bytes.max(1);
        let mut taken = 0;
        let gone = loop {
            let failing = self.failing_since.is_some();
            if failing && self.buf.len() >= limit.saturating_mul(HELD_BATCHES) {
                break false;
            }
            match self.rx.try_recv() {
                Ok(line) => self.buf.extend_from_slice(&line),
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
            taken += 1;
            if self.buf.len() >= limit && !failing {
                // Subtracted before the write so that senders filling
                // the queue meanwhile can cross `wake_at` again.
                self.settle(&mut taken);
                self.flush(Instant::now());
            }
        };
        self.settle(&mut taken);
        gone
    }

    /// Tries to write the batch, at most once per retry interval while
    /// failing; gives up on lines held longer than `retry_for`.
    fn flush(&mut self, now: Instant) {
        if self.failing_since.is_some() && now < self.next_try {
            return;
        }
        // Opening the file proves nothing after a failed write (a full
        // disk opens fine): then health waits for lines to be written.
        let proves_health = !self.buf.is_empty() || self.open_failed;
        match self.write_batch() {
            Ok(()) => {
                if proves_health {
                    self.shared.set_healthy();
                }
                self.failing_since = None;
            }
            Err(err) => {
                self.shared.set_failed(&self.config.path, &err);
                let since = *self.failing_since.get_or_insert(now);
                self.next_try = now + self.config.retry_interval;
                if now.duration_since(since) >= self.config.retry_for {
                    self.give_up(now);
                }
            }
        }
    }

    fn write_batch(&mut self) -> io::Result<()> {
        let mut file = match self.file.take() {
            Some(file) => file,
            None => match open_append(&self.config.path) {
                Ok(file) => file,
                Err(err) => {
                    self.open_failed = true;
                    return Err(err);
                }
            },
        };
        self.open_failed = false;

        // Where the last whole line ends in the file: a failure that
        // leaves part of a line behind is cut back to here.
        let mut whole_end = match file.metadata() {
            Ok(meta) => meta.len(),
            Err(err) => return Err(err),
        };

        while !self.buf.is_empty() {
            let err = match file.write(&self.buf) {
                Ok(0) => io::Error::from(io::ErrorKind::WriteZero),
                Ok(n) => {
                    let torn = self.buf[n - 1] != b'\n';
                    let whole = self.buf[..n]
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |i| i + 1);
                    let head = self.buf[whole..n].to_vec();
                    self.count_written(n);
                    whole_end += whole as u64;
                    if !torn {
                        continue;
                    }

                    // A short write stopped inside a line: finish it now so
                    // no other line can follow its first part.
                    let end = self.line_end();
                    match file.write_all(&self.buf[..end]) {
                        Ok(()) => {
                            self.count_written(end);
                            whole_end += (head.len() + end) as u64;
                            continue;
                        }
                        Err(err) => {
                            // A full disk took part of the line: cut it off
                            // and keep the whole line for the next attempt.
                            // Should the cut fail, the line is dropped and
                            // the reopen ends the torn tail.
                            if file.set_len(whole_end).is_ok() {
                                self.buf.splice(0..0, head);
                            } else {
                                self.drop_first_line();
                            }
                            err
                        }
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                    continue;
                }
                Err(err) => err,
            };

            // The file is dropped so that the next attempt reopens it, and
            // the open terminates any line the failure left torn.
            return Err(err);
        }
        self.file = Some(file);
        Ok(())
    }

    /// Length up to and including the first newline of the buffer.
    fn line_end(&self) -> usize {
        let at = self.buf.iter().position(|&b| b == b'\n');
        at.map_or(self.buf.len(), |i| i + 1)
    }

    fn count_written(&mut self, n: usize) {
        let written = lines_in(&self.buf[..n]);
        self.shared.written.fetch_add(written, Ordering::Relaxed);
        self.buf.drain(..n);
    }

    /// Drops the rest of a line whose start is torn in the file.
    fn drop_first_line(&mut self) {
        let end = self.line_end();
        self.buf.drain(..end);
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops the held lines, counted, after `retry_for` of failures.
    fn give_up(&mut self, now: Instant) {
        let lost = lines_in(&self.buf);
        self.shared.dropped.fetch_add(lost, Ordering::Relaxed);
        self.buf.clear();
        self.failing_since = Some(now);
    }

    /// Writes everything still queued, retrying failures until the close
    /// timeout, then syncs the file and reports done.
    fn finish(mut self) {
        while let Ok(line) = self.rx.try_recv() {
            self.buf.extend_from_slice(&line);
        }

        let deadline = Instant::now() + self.config.close_timeout;
        let retry_deadline = Instant::now() + self.config.retry_for;
        while !self.buf.is_empty() {
            let now = Instant::now();
            if now >= deadline || now >= retry_deadline {
                self.give_up(now);
                break;
            }
            self.next_try = now;
            self.flush(now);
            if !self.buf.is_empty() {
                std::thread::sleep(
                    self.config.retry_interval.min(
                        deadline.saturating_duration_since(Instant::now()),
                    ),
                );
            }
        }
        if let Some(file) = self.file.as_ref() {
            let _ = file.sync_data();
        }
        self.shared.mark_done();
    }
}

/// The time a closing writer may still spend, for the caller's wait.
pub(super) fn close_budget(config: &WriterConfig) -> Duration {
    config.close_timeout + config.flush_interval
}
