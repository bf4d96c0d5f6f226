//! [`LogConfig`]: where and how the logs are written, and `build`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::drain::{Front, Shared};
use crate::format::Formatter;
use crate::guard::{LogGuard, LogHandle};
use crate::health::{system_clock, StderrReport};
use crate::queue::LineQueue;
use crate::rotate::{RotateOptions, RotatingFile};
use crate::writer::Writer;
use crate::{Error, Level};

/// Default name of the log holding every line at or above the level.
pub const DEFAULT_FILE_NAME: &str = "maestra_backend.log";

/// Default name of the log holding only `ERROR` and `CRITICAL` lines.
pub const DEFAULT_ERROR_FILE_NAME: &str = "maestra_backend_error.log";

/// Default `logger` field of every line.
pub const DEFAULT_LOGGER_NAME: &str = "MaestraBackend";

/// Settings of the JSON logs; [`build`](LogConfig::build) starts them.
///
/// Each setting is a method of the same name:
///
/// | setting | default | meaning |
/// |---|---|---|
/// | `level` | `Level::Info` | least level written |
/// | `stdout` | `false` | every line to stdout too |
/// | `max_bytes` | `10485760` | rotate before a file passes it |
/// | `keep` | `5` | rotated files kept (`.1` newest) |
/// | `gzip` | `false` | gzip rotated files (`.1.gz`) |
/// | `mode` | `0o640` | Unix mode of created files |
/// | `file_name` | `maestra_backend.log` | all-levels log |
/// | `error_file_name` | `maestra_backend_error.log` | error-only log |
/// | `logger_name` | `MaestraBackend` | the `logger` field |
/// | `channel_size` | `8192` | queued records before drops |
/// | `flush_interval` | 100 ms | longest a line waits to be written |
/// | `shutdown_timeout` | 5 s | longest flush wait of the guard |
#[derive(Debug, Clone)]
pub struct LogConfig {
    dir: PathBuf,
    level: Level,
    stdout: bool,
    rotate: RotateOptions,
    file_name: String,
    error_file_name: String,
    logger_name: String,
    channel_size: usize,
    flush_interval: Duration,
    shutdown_timeout: Duration,
    #[cfg(test)]
    gate: Option<Arc<crate::writer::TestGate>>,
}

impl LogConfig {
    /// Logs in `dir` (created when missing), with the defaults above.
    pub fn new(dir: impl Into<PathBuf>) -> LogConfig {
        LogConfig {
            dir: dir.into(),
            level: Level::Info,
            stdout: false,
            rotate: RotateOptions::default(),
            file_name: DEFAULT_FILE_NAME.to_string(),
            error_file_name: DEFAULT_ERROR_FILE_NAME.to_string(),
            logger_name: DEFAULT_LOGGER_NAME.to_string(),
            channel_size: 8192,
            flush_interval: Duration::from_millis(100),
            shutdown_timeout: Duration::from_secs(5),
            #[cfg(test)]
            gate: None,
        }
    }

    /// Least level written; records below it cost one comparison.
    pub fn level(mut self, level: Level) -> LogConfig {
        self.level = level;
        self
    }

    /// Whether every line also goes to stdout, for cloud consoles.
    pub fn stdout(mut self, on: bool) -> LogConfig {
        self.stdout = on;
        self
    }

    /// Size a file may reach before it is rotated; must be above zero.
    pub fn max_bytes(mut self, bytes: u64) -> LogConfig {
        self.rotate.max_bytes = bytes;
        self
    }

    /// Rotated files kept per log; `0` deletes a file when it rotates.
    pub fn keep(mut self, files: usize) -> LogConfig {
        self.rotate.keep = files;
        self
    }

    /// Whether rotated files are gzip-compressed in the background.
    pub fn gzip(mut self, on: bool) -> LogConfig {
        self.rotate.gzip = on;
        self
    }

    /// Unix permission bits of created files, such as `0o600`.
    pub fn mode(mut self, mode: u32) -> LogConfig {
        self.rotate.mode = mode;
        self
    }

    /// File name of the all-levels log inside the folder.
    pub fn file_name(mut self, name: impl Into<String>) -> LogConfig {
        self.file_name = name.into();
        self
    }

    /// File name of the error-only log inside the folder.
    pub fn error_file_name(mut self, name: impl Into<String>) -> LogConfig {
        self.error_file_name = name.into();
        self
    }

    /// Value of the `logger` field of every line.
    pub fn logger_name(mut self, name: impl Into<String>) -> LogConfig {
        self.logger_name = name.into();
        self
    }

    /// Records that may wait for the writer; beyond it they are dropped
    /// and counted. Must be above zero. The writer is woken early once a
    /// quarter of them are waiting.
    pub fn channel_size(mut self, records: usize) -> LogConfig {
        self.channel_size = records;
        self
    }

    /// How often the writer thread writes the lines waiting for it: the
    /// longest a line takes to reach its file while fewer than a quarter
    /// of `channel_size` lines (and under 1 MiB) are waiting. Logging
    /// threads never wake the writer below that, which is what keeps a
    /// log call cheap; must be above zero.
    pub fn flush_interval(mut self, interval: Duration) -> LogConfig {
        self.flush_interval = interval;
        self
    }

    /// Longest time [`LogGuard::shutdown`] (or its drop) waits for the
    /// writer to empty the queue.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> LogConfig {
        self.shutdown_timeout = timeout;
        self
    }

    /// Path of the all-levels log.
    pub fn file_path(&self) -> PathBuf {
        self.dir.join(&self.file_name)
    }

    /// Path of the error-only log.
    pub fn error_file_path(&self) -> PathBuf {
        self.dir.join(&self.error_file_name)
    }

    /// Opens both files and starts the writer thread.
    ///
    /// The logger carries no keys of its own; add them with
    /// `logger.new(slog::o!(...))`. Keep the guard alive until the end of
    /// `main`: dropping it flushes and stops the writer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a zero `max_bytes`, `channel_size` or
    /// `flush_interval`, or a file name that is empty or holds a path
    /// separator; [`Error::CreateDir`] or [`Error::Open`] when the folder
    /// or a file cannot be created; [`Error::Spawn`] when the operating
    /// system cannot start the writer thread.
    pub fn build(self) -> Result<(slog::Logger, LogGuard), Error> {
        self.validate()?;
        std::fs::create_dir_all(&self.dir).map_err(|source| {
            Error::CreateDir { path: self.dir.clone(), source }
        })?;

        let clock = system_clock();
        let main = RotatingFile::with_clock(
            self.file_path(),
            self.rotate,
            clock.clone(),
        )?;
        let errors = RotatingFile::with_clock(
            self.error_file_path(),
            self.rotate,
            clock.clone(),
        )?;
        let queue = Arc::new(LineQueue::new(self.channel_size));
        let shared = Arc::new(Shared::default());
        let handle = LogHandle::new(
            shared.clone(),
            queue.clone(),
            main.health(),
            errors.health(),
        );

        let writer = Writer {
            queue: queue.clone(),
            shared: shared.clone(),
            main,
            errors,
            stdout: self.stdout,
            report: StderrReport::new(clock),
            flush_interval: self.flush_interval,
            reopen_seen: 0,
            #[cfg(test)]
            gate: self.gate.clone(),
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("log-json".to_string())
            .spawn(move || {
                // Dropped when the thread ends, however it ends: that is
                // what the guard waits for.
                let _done = done_tx;
                writer.run();
            })
            .map_err(Error::Spawn)?;
        queue.set_writer(thread.thread().clone());

        let front = Arc::new(Front::new(
            queue,
            self.level.to_slog_filter(),
            Formatter::new(&self.logger_name),
            shared,
        ));
        let logger = slog::Logger::root(front.clone(), slog::o!());
        let guard =
            LogGuard::new(front, done_rx, self.shutdown_timeout, handle);
        Ok((logger, guard))
    }

    fn validate(&self) -> Result<(), Error> {
        if self.rotate.max_bytes == 0 {
            return Err(Error::InvalidConfig("max_bytes must be above zero"));
        }
        if self.channel_size == 0 {
            return Err(Error::InvalidConfig(
                "channel_size must be above zero",
            ));
        }
        if self.flush_interval.is_zero() {
            return Err(Error::InvalidConfig(
                "flush_interval must be above zero",
            ));
        }
        for name in [&self.file_name, &self.error_file_name] {
            let plain = Path::new(name).file_name().map(|n| n == name.as_str());
            if name.is_empty() || plain != Some(true) {
                return Err(Error::InvalidConfig(
                    "file names must be plain names without a folder",
                ));
            }
        }
        if self.file_name == self.error_file_name {
            return Err(Error::InvalidConfig(
                "the main and error files must have different names",
            ));
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn gate(mut self, gate: Arc<crate::writer::TestGate>) -> Self {
        self.gate = Some(gate);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::TestGate;
    use std::sync::atomic::Ordering;

    fn count_lines(path: &Path) -> usize {
        std::fs::read_to_string(path).unwrap_or_default().lines().count()
    }

    #[test]
    fn overflow_is_counted_and_reported_once_there_is_room() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(TestGate::default());
        let config =
            LogConfig::new(dir.path()).channel_size(2).gate(gate.clone());
        let path = config.file_path();
        let (log, guard) = config.build().unwrap();
        let handle = guard.handle();

        // Hold the writer inside its first batch: a sink that is stuck.
        let held = gate.lock.lock().unwrap();
        slog::info!(log, "r"; "i" => 0);
        while gate.arrived.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }

        // Two records fit in the queue, the other seven are dropped.
        for i in 1..10 {
            slog::info!(log, "r"; "i" => i);
        }
        assert_eq!(handle.dropped(), 7);

        drop(held);
        while count_lines(&path) < 3 {
            std::thread::yield_now();
        }
        slog::info!(log, "after");
        assert!(guard.shutdown());

        let text = std::fs::read_to_string(&path).unwrap();
        let values: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let messages: Vec<&str> =
            values.iter().map(|v| v["message"].as_str().unwrap()).collect();
        assert_eq!(values.len(), 5, "{text}");
        assert_eq!(messages[4], "after");
        let report = &values[3];
        assert_eq!(report["event_type"], crate::DROPPED_EVENT);
        assert_eq!(report["count"], 7);
        assert_eq!(report["level"], "WARNING");
        assert_eq!(report["logger"], "MaestraBackend");
        assert_eq!(handle.dropped(), 7);
    }

    #[test]
    fn pending_report_is_written_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(TestGate::default());
        let config =
            LogConfig::new(dir.path()).channel_size(1).gate(gate.clone());
        let path = config.file_path();
        let (log, guard) = config.build().unwrap();

        let held = gate.lock.lock().unwrap();
        slog::info!(log, "r");
        while gate.arrived.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        for _ in 0..4 {
            slog::info!(log, "r");
        }
        let handle = guard.handle();
        assert_eq!(handle.dropped(), 3);

        // Shutdown waits for room and then puts the report in.
        let stopper = std::thread::spawn(move || guard.shutdown());
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(held);
        assert!(stopper.join().unwrap());

        let text = std::fs::read_to_string(&path).unwrap();
        let last: serde_json::Value =
            serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(last["event_type"], "log_records_dropped");
        assert_eq!(last["count"], 3);
    }
}
