//! [`RotatingFile`]: an append-only file rotated by size, usable alone.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::health::{system_clock, Clock, FileHealth};
use crate::Error;

/// How often at most the writer checks that its path still names the file
/// it holds open, so that external rotation is noticed without a `stat` on
/// every line.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Bytes of lines [`RotatingFile::append_batched`] gathers before it
/// writes them without waiting for a flush, which bounds the memory a
/// batch holds and the lines a failed write can take with it.
pub const BATCH_BYTES: usize = 64 * 1024;

/// How a [`RotatingFile`] rotates and creates files.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `max_bytes` | `10485760` (10 MiB) | rotate before a file passes it |
/// | `keep` | `5` | rotated files kept (`X.log.1` newest); `0`: none |
/// | `gzip` | `false` | gzip rotated files to `X.log.N.gz` |
/// | `mode` | `0o640` | Unix mode of every file created |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotateOptions {
    /// Size a file may reach; a single larger line goes whole into a file
    /// of its own.
    pub max_bytes: u64,
    /// Number of rotated files kept; older ones are deleted.
    pub keep: usize,
    /// Whether rotated files are gzip-compressed.
    pub gzip: bool,
    /// Unix permission bits of every file this writer creates.
    pub mode: u32,
}

impl Default for RotateOptions {
    fn default() -> RotateOptions {
        RotateOptions { max_bytes: 10 << 20, keep: 5, gzip: false, mode: 0o640 }
    }
}

/// A file that only grows by whole lines and rotates by size.
///
/// Each [`append`](RotatingFile::append) is one `write` of the whole
/// buffer on a file opened for appending, so readers and other appenders
/// never see half of it. When the next line would take the file past
/// `max_bytes`, `X.log` becomes `X.log.1`, older files shift up one
/// number, and the oldest beyond `keep` is deleted.
///
/// [`append_batched`] gathers whole lines and writes them together on
/// [`flush`](Write::flush), in one `write`, which costs a busy writer one
/// system call per batch instead of one per line. A batch is written
/// early when the next line would cross `max_bytes`, so files rotate
/// between the same lines as with one `append` per line; and at
/// [`BATCH_BYTES`]. Lines still gathered are written by `append`,
/// [`reopen`] and drop, before anything else happens to the file.
///
/// The writer lives beside external rotation tools: [`reopen`] opens the
/// path anew, and once per [`CHECK_INTERVAL`] it compares the device and
/// inode of its open file with the path's, reopening when the file was
/// moved or deleted. A failed write drops the open file; the next append
/// creates the folder and file again, and a line torn by the failure is
/// terminated before new ones are added.
///
/// [`reopen`]: RotatingFile::reopen
/// [`append_batched`]: RotatingFile::append_batched
///
/// ```
/// use log_json::{RotateOptions, RotatingFile};
///
/// let dir = tempfile::tempdir()?;
/// let options = RotateOptions { max_bytes: 16, ..RotateOptions::default() };
/// let mut file = RotatingFile::open(dir.path().join("x.log"), options)?;
/// file.append(b"first line\n")?;
/// file.append(b"second line\n")?;
/// assert!(dir.path().join("x.log.1").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RotatingFile {
    path: PathBuf,
    options: RotateOptions,
    file: Option<File>,
    /// Device and inode of `file`, to notice when the path moves on.
    id: Option<(u64, u64)>,
    /// Bytes in `file`, as far as this writer knows.
    size: u64,
    health: Arc<FileHealth>,
    clock: Clock,
    last_check: Instant,
    /// The gzip of the last rotated file, finished before the next shift.
    compressor: Option<JoinHandle<Result<(), String>>>,
    /// Whole lines gathered by `append_batched`, not yet written.
    batch: Vec<u8>,
    /// Number of lines in `batch`, counted as lost if its write fails.
    batch_lines: u64,
}

impl RotatingFile {
    /// Opens `path` for appending, creating it and its folder.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `max_bytes` is zero,
    /// [`Error::CreateDir`] or [`Error::Open`] when the folder or file
    /// cannot be created.
    pub fn open(
        path: impl Into<PathBuf>,
        options: RotateOptions,
    ) -> Result<RotatingFile, Error> {
        RotatingFile::with_clock(path.into(), options, system_clock())
    }

    pub(crate) fn with_clock(
        path: PathBuf,
        options: RotateOptions,
        clock: Clock,
    ) -> Result<RotatingFile, Error> {
        if options.max_bytes == 0 {
            return Err(Error::InvalidConfig("max_bytes must be above zero"));
        }
        if let Some(parent) = parent_of(&path) {
            fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }

        let last_check = clock();
        let mut file = RotatingFile {
            path,
            options,
            file: None,
            id: None,
            size: 0,
            health: Arc::default(),
            clock,
            last_check,
            compressor: None,
            batch: Vec::new(),
            batch_lines: 0,
        };
        file.open_file().map_err(|source| Error::Open {
            path: file.path.clone(),
            source,
        })?;
        Ok(file)
    }

    /// The path lines are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write errors and the last problem of this file, shared.
    pub fn health(&self) -> Arc<FileHealth> {
        self.health.clone()
    }

    /// Appends one record, normally one line ending in `\n`, in one write.
    ///
    /// Rotates first when the record would take the file past
    /// `max_bytes`; a record larger than that goes whole into a fresh file.
    /// Lines gathered by [`append_batched`](RotatingFile::append_batched)
    /// are written before it.
    ///
    /// # Errors
    ///
    /// The I/O error that kept the record (or the gathered lines) from the
    /// file. It is also counted in [`FileHealth`]; the next call tries
    /// again from scratch.
    pub fn append(&mut self, record: &[u8]) -> io::Result<()> {
        let earlier = self.flush_batch();
        let now = self.write_now(record, 1);
        earlier.and(now)
    }

    /// Gathers one whole line (ending in `\n`) for the next
    /// [`flush`](Write::flush), which writes every gathered line at once.
    ///
    /// The lines gathered so far are written first when this one would
    /// take the file past `max_bytes` (the rotation then falls before it,
    /// as with [`append`](RotatingFile::append)) or when they have reached
    /// [`BATCH_BYTES`].
    ///
    /// # Errors
    ///
    /// The I/O error of writing the earlier lines, counted in
    /// [`FileHealth`] per line lost; this line is kept for the next flush.
    pub fn append_batched(&mut self, line: &[u8]) -> io::Result<()> {
        let before = self.size.saturating_add(self.batch.len() as u64);
        let crosses = before > 0
            && before.saturating_add(line.len() as u64)
                > self.options.max_bytes;
        let result = if crosses || self.batch.len() >= BATCH_BYTES {
            self.flush_batch()
        } else {
            Ok(())
        };
        self.batch.extend_from_slice(line);
        self.batch_lines += 1;
        result
    }

    /// Writes the gathered lines in one write, keeping the buffer.
    fn flush_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let lines = std::mem::take(&mut self.batch_lines);
        let result = self.write_now(&batch, lines);

        // One huge line must not pin its buffer for the life of the file.
        self.batch = batch;
        self.batch.clear();
        if self.batch.capacity() > 2 * BATCH_BYTES {
            self.batch.shrink_to(BATCH_BYTES);
        }
        result
    }

    /// Writes `record`, holding `lines` lines, in one write, rotating
    /// first if it would take the file past `max_bytes`.
    fn write_now(&mut self, record: &[u8], lines: u64) -> io::Result<()> {
        let now = (self.clock)();
        if self.file.is_some()
            && now.saturating_duration_since(self.last_check) >= CHECK_INTERVAL
        {
            self.last_check = now;
            self.follow_path();
        }

        if self.file.is_none() {
            if let Err(err) = self.open_file() {
                self.health.failed_records(&self.path, "open", &err, lines);
                return Err(err);
            }
        }

        let len = record.len() as u64;
        if self.size > 0
            && self.size.saturating_add(len) > self.options.max_bytes
        {
            if let Err(err) = self.rotate() {
                self.health.failed_records(&self.path, "rotate", &err, lines);
                return Err(err);
            }
        }

        let Some(file) = self.file.as_mut() else {
            let err = io::Error::new(io::ErrorKind::NotFound, "no open file");
            self.health.failed_records(&self.path, "write", &err, lines);
            return Err(err);
        };
        match write_whole(file, record) {
            Ok(()) => {
                self.size += len;
                self.health.succeeded();
                Ok(())
            }
            Err((written, err)) => {
                // A full disk can take part of a line: that part is cut
                // off again, so the file never holds half a record in its
                // middle. Should the cut fail, the reopen below still
                // ends the torn tail before the next line.
                if written > 0 {
                    let _ = take_back(file, written);
                }

                // Start over on the next line: the folder or file may be
                // back by then, and a torn tail gets terminated.
                self.file = None;
                self.health.failed_records(&self.path, "write", &err, lines);
                Err(err)
            }
        }
    }

    /// Closes the file and opens the path again, creating it if needed.
    ///
    /// Call this after an external tool moved the file (for example on
    /// `SIGHUP` from logrotate); the writer also notices on its own within
    /// [`CHECK_INTERVAL`] of the next line.
    ///
    /// # Errors
    ///
    /// The I/O error of opening; the next append tries again.
    pub fn reopen(&mut self) -> io::Result<()> {
        // Lines gathered before the move belong to the old file; a failure
        // here is counted and reported like any other write.
        let _ = self.flush_batch();
        self.file = None;
        self.open_file().inspect_err(|err| {
            self.health.failed(&self.path, "reopen", err);
        })
    }

    /// Waits for the gzip of the last rotated file, if one is running.
    pub fn finish_compression(&mut self) {
        if let Some(job) = self.compressor.take() {
            let outcome = job.join().unwrap_or_else(|_| {
                Err("the gzip thread panicked".to_string())
            });
            if let Err(text) = outcome {
                self.health.note(text);
            }
        }
    }

    /// Reopens when the path no longer names the open file, and re-reads
    /// the size in case someone truncated it.
    fn follow_path(&mut self) {
        let moved = match fs::metadata(&self.path) {
            Err(_) => true,
            Ok(meta) => file_id(&meta).is_some() && file_id(&meta) != self.id,
        };
        if moved {
            self.file = None;
            return;
        }
        if let Some(Ok(meta)) = self.file.as_ref().map(File::metadata) {
            self.size = meta.len();
        }
    }

    /// Opens the path for appending, creating folder and file as needed.
    fn open_file(&mut self) -> io::Result<()> {
        if let Some(parent) = parent_of(&self.path) {
            fs::create_dir_all(parent).map_err(|err| {
                let text = format!(
                    "failed to create folder {}: {err}",
                    parent.display()
                );
                io::Error::new(err.kind(), text)
            })?;
        }

        let mut file = open_append(&self.path, self.options.mode)?;
        let meta = file.metadata()?;
        let mut size = meta.len();

        // A line cut short by a crash or a failed write is terminated so
        // the next line starts on a line of its own.
        if size > 0 && last_byte(&file, size)? != Some(b'\n') {
            file.write_all(b"\n")?;
            size += 1;
        }

        self.id = file_id(&meta);
        self.size = size;
        self.file = Some(file);
        Ok(())
    }

    /// Shifts the rotated files up one number and starts a fresh file.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        self.finish_compression();
        let keep = self.options.keep;

        // Files beyond `keep`, left by a run with a larger setting, go too.
        let mut n = keep.max(1);
        loop {
            let plain = remove_if_present(&self.rotated(n, false))?;
            let packed = remove_if_present(&self.rotated(n, true))?;
            if !plain && !packed && n > keep {
                break;
            }
            n += 1;
        }

        if keep == 0 {
            remove_if_present(&self.path)?;
            return self.open_file();
        }

        for n in (1..keep).rev() {
            for gz in [false, true] {
                rename_if_present(
                    &self.rotated(n, gz),
                    &self.rotated(n + 1, gz),
                )?;
            }
        }
        rename_if_present(&self.path, &self.rotated(1, false))?;

        if self.options.gzip {
            let source = self.rotated(1, false);
            let target = self.rotated(1, true);
            let mode = self.options.mode;
            let job = std::thread::Builder::new()
                .name("log-json-gzip".into())
                .spawn(move || compress(&source, &target, mode));
            // Without a thread the file simply stays uncompressed.
            if let Ok(job) = job {
                self.compressor = Some(job);
            }
        }
        self.open_file()
    }

    /// `X.log.N`, or `X.log.N.gz`.
    fn rotated(&self, n: usize, gz: bool) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        if gz {
            name.push(".gz");
        }
        PathBuf::from(name)
    }
}

/// Writes all of `buf`; on failure, also says how many bytes went in.
fn write_whole(
    out: &mut impl Write,
    buf: &[u8],
) -> Result<(), (u64, io::Error)> {
    let mut done = 0;
    while done < buf.len() {
        match out.write(&buf[done..]) {
            Ok(0) => {
                return Err((done as u64, io::ErrorKind::WriteZero.into()))
            }
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err((done as u64, err)),
        }
    }
    Ok(())
}

/// Removes the last `bytes` bytes of `file`.
fn take_back(file: &File, bytes: u64) -> io::Result<()> {
    let len = file.metadata()?.len();
    file.set_len(len.saturating_sub(bytes))
}

impl Write for RotatingFile {
    /// Appends the whole buffer as one record; see
    /// [`append`](RotatingFile::append).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.append(buf)?;
        Ok(buf.len())
    }

    /// Writes the lines gathered by
    /// [`append_batched`](RotatingFile::append_batched), if any, in one
    /// write; `write` itself is never buffered.
    fn flush(&mut self) -> io::Result<()> {
        self.flush_batch()
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        let _ = self.flush_batch();
        self.finish_compression();
    }
}

impl std::fmt::Debug for RotatingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingFile")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("size", &self.size)
            .field("open", &self.file.is_some())
            .field("batched_lines", &self.batch_lines)
            .finish_non_exhaustive()
    }
}

/// The folder of `path`, unless it is the current one.
fn parent_of(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

/// Removes `path`; false when it was not there.
fn remove_if_present(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// Renames `from` to `to` when `from` exists.
fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// Gzips `source` into `target` through a temporary name, then removes
/// `source`; a failure leaves `source` as it was.
fn compress(source: &Path, target: &Path, mode: u32) -> Result<(), String> {
    let mut partial = target.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);

    let run = || -> io::Result<()> {
        let mut input = File::open(source)?;
        let output = create_truncated(&partial, mode)?;
        let mut encoder =
            flate2::write::GzEncoder::new(output, flate2::Compression::fast());
        io::copy(&mut input, &mut encoder)?;
        encoder.finish()?.sync_all()?;
        fs::rename(&partial, target)?;
        fs::remove_file(source)
    };
    run().map_err(|err| {
        let _ = fs::remove_file(&partial);
        format!("failed to compress {}: {err}", source.display())
    })
}

#[cfg(unix)]
fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    let mut options = OpenOptions::new();
    options.read(true).append(true);
    match options.clone().create_new(true).mode(mode).open(path) {
        Ok(file) => {
            // The umask may have narrowed the mode; the setting stands.
            file.set_permissions(fs::Permissions::from_mode(mode))?;
            Ok(file)
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            options.open(path)
        }
        Err(err) => Err(err),
    }
}

#[cfg(not(unix))]
fn open_append(path: &Path, _mode: u32) -> io::Result<File> {
    OpenOptions::new().read(true).append(true).create(true).open(path)
}

#[cfg(unix)]
fn create_truncated(path: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(file)
}

#[cfg(not(unix))]
fn create_truncated(path: &Path, _mode: u32) -> io::Result<File> {
    File::create(path)
}

#[cfg(unix)]
fn file_id(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(unix)]
fn last_byte(file: &File, size: u64) -> io::Result<Option<u8>> {
    use std::os::unix::fs::FileExt;
    let mut byte = [0u8; 1];
    match file.read_at(&mut byte, size - 1)? {
        1 => Ok(Some(byte[0])),
        _ => Ok(None),
    }
}

#[cfg(not(unix))]
fn last_byte(_file: &File, _size: u64) -> io::Result<Option<u8>> {
    Ok(Some(b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::test_clock::ManualClock;

    fn options(max_bytes: u64, keep: usize) -> RotateOptions {
        RotateOptions { max_bytes, keep, ..RotateOptions::default() }
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn rotates_exactly_at_the_boundary() {
        // Lines of 10 bytes into files of at most 30 bytes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut file = RotatingFile::open(&path, options(30, 3)).unwrap();
        for i in 0..7 {
            file.append(format!("line {i:03}\n").as_bytes()).unwrap();
        }
        assert_eq!(read(&path), "line 006\n");
        assert_eq!(
            read(&dir.path().join("x.log.1")),
            "line 003\nline 004\nline 005\n"
        );
        assert_eq!(
            read(&dir.path().join("x.log.2")),
            "line 000\nline 001\nline 002\n"
        );
        assert!(!dir.path().join("x.log.3").exists());
    }

    #[test]
    fn keeps_exactly_keep_rotated_files() {
        for keep in [0usize, 1, 2, 5] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.log");
            let mut file = RotatingFile::open(&path, options(6, keep)).unwrap();
            for i in 10..30 {
                file.append(format!("{i}\n").as_bytes()).unwrap();
            }

            // Two lines per file: the newest pair stays in x.log.
            assert_eq!(read(&path), "28\n29\n", "keep {keep}");
            for n in 1..=keep {
                let first = 28 - 2 * n;
                let want = format!("{first}\n{}\n", first + 1);
                let got = read(&dir.path().join(format!("x.log.{n}")));
                assert_eq!(got, want, "keep {keep}, file {n}");
            }
            let files = fs::read_dir(dir.path()).unwrap().count();
            assert_eq!(files, keep + 1, "keep {keep}");
        }
    }

    #[test]
    fn oversized_line_goes_whole_into_a_fresh_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut file = RotatingFile::open(&path, options(8, 5)).unwrap();
        let big = format!("{}\n", "b".repeat(20));
        file.append(b"aa\n").unwrap();
        file.append(big.as_bytes()).unwrap();
        file.append(b"cc\n").unwrap();
        assert_eq!(read(&path), "cc\n");
        assert_eq!(read(&dir.path().join("x.log.1")), big);
        assert_eq!(read(&dir.path().join("x.log.2")), "aa\n");
    }

    #[test]
    fn shrinking_keep_removes_older_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        for n in 1..=6 {
            fs::write(dir.path().join(format!("x.log.{n}")), "old\n").unwrap();
        }
        let mut file = RotatingFile::open(&path, options(4, 2)).unwrap();
        for line in ["a\n", "b\n", "c\n"] {
            file.append(line.as_bytes()).unwrap();
        }
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["x.log", "x.log.1", "x.log.2"]);
        assert_eq!(read(&dir.path().join("x.log.2")), "old\n");
    }

    #[cfg(unix)]
    #[test]
    fn files_get_the_configured_mode() {
        use std::os::unix::fs::PermissionsExt;

        let mode_of =
            |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        for (mode, gzip) in [(0o640, false), (0o600, true), (0o644, true)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.log");
            let opts = RotateOptions { mode, gzip, ..options(4, 3) };
            let mut file = RotatingFile::open(&path, opts).unwrap();
            for line in ["a\n", "b\n", "c\n"] {
                file.append(line.as_bytes()).unwrap();
            }
            file.finish_compression();
            let rotated = if gzip { "x.log.1.gz" } else { "x.log.1" };
            assert_eq!(mode_of(&path), mode);
            assert_eq!(mode_of(&dir.path().join(rotated)), mode);
        }
    }

    #[test]
    fn gzip_compresses_rotated_files() {
        use std::io::Read;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let opts = RotateOptions { gzip: true, ..options(4, 2) };
        let mut file = RotatingFile::open(&path, opts).unwrap();
        for line in ["a\n", "b\n", "c\n", "d\n", "e\n", "f\n", "g\n"] {
            file.append(line.as_bytes()).unwrap();
        }
        drop(file);

        let gunzip = |n: usize| {
            let name = dir.path().join(format!("x.log.{n}.gz"));
            let mut text = String::new();
            flate2::read::GzDecoder::new(File::open(name).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            text
        };
        assert_eq!(read(&path), "g\n");
        assert_eq!(gunzip(1), "e\nf\n");
        assert_eq!(gunzip(2), "c\nd\n");
        let files = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 3);
    }

    #[test]
    fn explicit_reopen_follows_an_external_move() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut file = RotatingFile::open(&path, options(1 << 20, 5)).unwrap();
        file.append(b"before\n").unwrap();
        fs::rename(&path, dir.path().join("moved.log")).unwrap();
        file.reopen().unwrap();
        file.append(b"after\n").unwrap();
        assert_eq!(read(&dir.path().join("moved.log")), "before\n");
        assert_eq!(read(&path), "after\n");
    }

    #[test]
    fn notices_a_moved_or_deleted_file_once_a_second() {
        for delete in [false, true] {
            let clock = ManualClock::new();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.log");
            let opts = options(1 << 20, 5);
            let mut file =
                RotatingFile::with_clock(path.clone(), opts, clock.clock())
                    .unwrap();
            file.append(b"one\n").unwrap();
            let moved = dir.path().join("x.log.old");
            if delete {
                fs::remove_file(&path).unwrap();
            } else {
                fs::rename(&path, &moved).unwrap();
            }

            // Inside the interval the old handle is still used.
            file.append(b"two\n").unwrap();
            assert!(!path.exists());

            clock.advance(CHECK_INTERVAL);
            file.append(b"three\n").unwrap();
            assert_eq!(read(&path), "three\n");
            if !delete {
                assert_eq!(read(&moved), "one\ntwo\n");
            }
        }
    }

    #[test]
    fn follows_external_truncation() {
        let clock = ManualClock::new();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut file = RotatingFile::with_clock(
            path.clone(),
            options(10, 5),
            clock.clock(),
        )
        .unwrap();
        file.append(b"12345678\n").unwrap();
        File::options().write(true).open(&path).unwrap().set_len(0).unwrap();
        clock.advance(CHECK_INTERVAL);
        file.append(b"abc\n").unwrap();
        assert_eq!(read(&path), "abc\n");
        assert!(!dir.path().join("x.log.1").exists());
    }

    #[test]
    fn terminates_a_torn_last_line_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        fs::write(&path, "whole\ntorn").unwrap();
        let mut file = RotatingFile::open(&path, options(1 << 20, 5)).unwrap();
        file.append(b"next\n").unwrap();
        assert_eq!(read(&path), "whole\ntorn\nnext\n");
    }

    #[test]
    fn write_errors_are_counted_and_writing_recovers() {
        let clock = ManualClock::new();
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("logs");
        let path = folder.join("x.log");
        let mut file = RotatingFile::with_clock(
            path.clone(),
            options(1 << 20, 5),
            clock.clock(),
        )
        .unwrap();
        let health = file.health();
        file.append(b"one\n").unwrap();

        // A plain file where the folder was makes every reopen fail.
        fs::remove_dir_all(&folder).unwrap();
        fs::write(&folder, "in the way").unwrap();
        clock.advance(CHECK_INTERVAL);
        assert!(file.append(b"lost 1\n").is_err());
        assert!(file.append(b"lost 2\n").is_err());
        assert_eq!(health.write_errors(), 2);
        assert!(!health.is_healthy());
        let last = health.last_error().unwrap();
        assert!(last.contains("x.log"), "{last}");

        fs::remove_file(&folder).unwrap();
        file.append(b"back\n").unwrap();
        assert!(health.is_healthy());
        assert_eq!(read(&path), "back\n");
    }

    /// Takes a few bytes, then fails as a full disk does.
    struct FillsUp {
        room: usize,
        taken: Vec<u8>,
    }

    impl Write for FillsUp {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from_raw_os_error(28));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_short_write_is_taken_back_whole() {
        let cases: [(usize, Result<(), u64>); 3] =
            [(100, Ok(())), (4, Err(4)), (0, Err(0))];
        for (room, want) in cases {
            let mut out = FillsUp { room, taken: Vec::new() };
            let got = write_whole(&mut out, b"{\"a\":1}\n").map_err(|e| e.0);
            assert_eq!(got, want, "room {room}");
        }

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        fs::write(&path, "whole\n{\"par").unwrap();
        let file = File::options().append(true).open(&path).unwrap();
        take_back(&file, 5).unwrap();
        assert_eq!(read(&path), "whole\n");
    }

    #[test]
    fn batched_lines_rotate_between_the_same_lines_as_single_appends() {
        // (max_bytes, keep, line lengths): each run once line by line and
        // once batched with a flush every `flush_every` lines.
        let cases: &[(u64, usize, &[usize], usize)] = &[
            (30, 3, &[10; 7], 7),
            (30, 3, &[10; 7], 2),
            (25, 2, &[10, 10, 4, 12, 3, 9, 9, 1], 8),
            (8, 5, &[3, 21, 3, 5, 5], 5),
            (6, 0, &[3, 3, 3, 3, 3], 3),
            (1 << 20, 1, &[7; 50], 50),
        ];
        for &(max_bytes, keep, lengths, flush_every) in cases {
            let lines: Vec<Vec<u8>> = lengths
                .iter()
                .enumerate()
                .map(|(i, &len)| {
                    let mut line = vec![b'a' + (i % 26) as u8; len - 1];
                    line.push(b'\n');
                    line
                })
                .collect();

            let single = tempfile::tempdir().unwrap();
            let batched = tempfile::tempdir().unwrap();
            let opts = options(max_bytes, keep);
            let mut one =
                RotatingFile::open(single.path().join("x.log"), opts).unwrap();
            let mut many =
                RotatingFile::open(batched.path().join("x.log"), opts).unwrap();
            for (i, line) in lines.iter().enumerate() {
                one.append(line).unwrap();
                many.append_batched(line).unwrap();
                if (i + 1) % flush_every == 0 {
                    many.flush().unwrap();
                }
            }
            many.flush().unwrap();

            for name in ["x.log", "x.log.1", "x.log.2", "x.log.3", "x.log.6"] {
                let want = read(&single.path().join(name));
                let got = read(&batched.path().join(name));
                assert_eq!(got, want, "{max_bytes} {lengths:?}: {name}");
            }
        }
    }

    #[test]
    fn batched_lines_wait_for_flush_reopen_or_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut file = RotatingFile::open(&path, options(1 << 20, 5)).unwrap();
        file.append_batched(b"one\n").unwrap();
        file.append_batched(b"two\n").unwrap();
        assert_eq!(read(&path), "");
        file.flush().unwrap();
        assert_eq!(read(&path), "one\ntwo\n");

        // An unbuffered append keeps the order of the lines.
        file.append_batched(b"three\n").unwrap();
        file.append(b"four\n").unwrap();
        assert_eq!(read(&path), "one\ntwo\nthree\nfour\n");

        // Lines gathered before a move go to the moved file.
        file.append_batched(b"five\n").unwrap();
        let moved = dir.path().join("moved.log");
        fs::rename(&path, &moved).unwrap();
        file.reopen().unwrap();
        assert!(read(&moved).ends_with("four\nfive\n"));

        file.append_batched(b"six\n").unwrap();
        drop(file);
        assert_eq!(read(&path), "six\n");
    }

    #[test]
    fn a_large_batch_is_written_without_waiting_for_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut file = RotatingFile::open(&path, options(1 << 30, 5)).unwrap();
        let line = [b"x".repeat(1023), b"\n".to_vec()].concat();
        let lines = BATCH_BYTES / line.len() + 1;
        for _ in 0..lines {
            file.append_batched(&line).unwrap();
        }
        let written = fs::metadata(&path).unwrap().len() as usize;
        assert_eq!(written, BATCH_BYTES);
    }

    #[test]
    fn a_failed_batch_counts_each_line_lost() {
        let clock = ManualClock::new();
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("logs");
        let path = folder.join("x.log");
        let mut file = RotatingFile::with_clock(
            path.clone(),
            options(1 << 20, 5),
            clock.clock(),
        )
        .unwrap();
        let health = file.health();

        fs::remove_dir_all(&folder).unwrap();
        fs::write(&folder, "in the way").unwrap();
        clock.advance(CHECK_INTERVAL);
        for line in ["a\n", "b\n", "c\n"] {
            file.append_batched(line.as_bytes()).unwrap();
        }
        assert!(file.flush().is_err());
        assert_eq!(health.write_errors(), 3);

        fs::remove_file(&folder).unwrap();
        file.append_batched(b"back\n").unwrap();
        file.flush().unwrap();
        assert!(health.is_healthy());
        assert_eq!(read(&path), "back\n");
    }

    #[test]
    fn zero_max_bytes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = RotatingFile::open(dir.path().join("x"), options(0, 1))
            .unwrap_err();
        assert!(err.to_string().contains("max_bytes"), "{err}");
    }
}
