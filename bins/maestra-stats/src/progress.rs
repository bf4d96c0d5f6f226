//! A progress line on stderr for long reads, shown only to a person
//! watching a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Reads shorter than this never show progress at all.
const QUIET_FOR: Duration = Duration::from_millis(700);

/// How often the line is redrawn.
const REDRAW_EVERY: Duration = Duration::from_millis(200);

/// Tracks bytes read and redraws one stderr line now and then.
pub struct Progress {
    enabled: bool,
    total: Option<u64>,
    done: u64,
    started: Instant,
    drawn_at: Option<Instant>,
}

impl Progress {
    /// Progress over `total` bytes (unknown for stdin); silent unless
    /// stderr is a terminal.
    pub fn new(total: Option<u64>) -> Self {
        Self {
            enabled: std::io::stderr().is_terminal(),
            total,
            done: 0,
            started: Instant::now(),
            drawn_at: None,
        }
    }

    /// Counts `bytes` more as read.
    pub fn advance(&mut self, bytes: usize) {
        self.done += bytes as u64;
        if !self.enabled || self.started.elapsed() < QUIET_FOR {
            return;
        }
        if self.drawn_at.is_some_and(|at| at.elapsed() < REDRAW_EVERY) {
            return;
        }
        self.drawn_at = Some(Instant::now());
        let mib = self.done as f64 / (1 << 20) as f64;
        let line = match self.total.filter(|&t| t > 0) {
            Some(total) => {
                let percent = self.done as f64 * 100.0 / total as f64;
                format!("reading: {percent:3.0}% ({mib:.0} MiB)")
            }
            None => format!("reading: {mib:.0} MiB"),
        };
        // Progress is a courtesy: a failed write to stderr is ignored.
        let _ = write!(std::io::stderr(), "\r{line}\x1b[K");
    }

    /// Erases the progress line, if one was drawn.
    pub fn finish(&mut self) {
        if self.drawn_at.take().is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
