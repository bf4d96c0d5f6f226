//! Putting one request on disk: serialising the record plus
//! `JsonlWriter::submit` on the caller's thread, beside
//! `serde_json::to_writer` of the same record into a reused `Vec`; then
//! the records per second the writer sustains from two producer threads
//! into a file on tmpfs (`/dev/shm`, or the temp folder elsewhere).
//!
//! `cargo bench -p maestra-benches --bench submit -- --warm-up-time 1
//! --measurement-time 3`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use maestra_benches::sample_record;
use metrics_core::{JsonlWriter, WriterConfig};

/// A folder on tmpfs, so that the disk does not set the pace.
fn tmpfs_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

/// The tuned writer settings: a queue deep enough for a few milliseconds
/// at full speed and a short pause between batches. The sustained rate is
/// also measured with the defaults (16384 lines, 200 ms), where the
/// writer thread is woken by the queue filling rather than by its pause.
fn config(path: &Path) -> WriterConfig {
    WriterConfig {
        queue_capacity: 1 << 16,
        flush_interval: Duration::from_millis(1),
        ..WriterConfig::new(path)
    }
}

fn caller_side(c: &mut Criterion) {
    let r = sample_record();
    let dir = tmpfs_dir();
    let mut group = c.benchmark_group("to disk/caller");

    let mut buf = Vec::with_capacity(512);
    group.bench_function("serde_json::to_writer into Vec", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(&r)).unwrap();
            buf.push(b'\n');
        })
    });

    // Timed in runs of 8192 records, well inside the queue, with the
    // writer allowed to catch up between runs (untimed): a full queue
    // would drop records, and a drop costs less than a queued line.
    let (writer, guard) =
        JsonlWriter::open(config(&dir.path().join("caller.jsonl"))).unwrap();
    group.bench_function("metrics_core serialise + submit", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let run = left.min(8192);
                let start = Instant::now();
                for _ in 0..run {
                    writer.submit(black_box(&r));
                }
                timed += start.elapsed();
                left -= run;
                while writer.stats().written < writer.stats().accepted {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            timed
        })
    });
    group.finish();

    let stats = guard.close().unwrap();
    assert_eq!(stats.dropped, 0, "the caller-side runs must not drop");
    report(&format!(
        "caller side: accepted {} written {} dropped {}",
        stats.accepted, stats.written, stats.dropped
    ));
}

/// Writer settings for a file.
type Settings = fn(&Path) -> WriterConfig;

/// Two threads submit `iters` records between them; the time runs until
/// every one of them is in the file. A refused record (full queue) is
/// submitted again after a yield, so the figure is what the writer
/// thread drains, not what the queue can hold.
fn two_producers(dir: &Path, iters: u64, config: Settings) -> Duration {
    static NEXT: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("sustained-{n}.jsonl"));
    let (writer, guard) = JsonlWriter::open(config(&path)).unwrap();
    let r = sample_record();
    let per_thread = iters.div_ceil(2);

    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..per_thread {
                    while !writer.submit(&r) {
                        std::thread::yield_now();
                    }
                }
            });
        }
    });
    let stats = guard.close().unwrap();
    let elapsed = start.elapsed();

    assert_eq!(stats.written, per_thread * 2);
    std::fs::remove_file(&path).unwrap();
    elapsed
}

fn sustained(c: &mut Criterion) {
    let dir = tmpfs_dir();
    let cases: [(&str, Settings); 2] = [
        ("queue 65536, flush 1 ms", config),
        ("defaults", |path| WriterConfig::new(path)),
    ];
    let mut group = c.benchmark_group("to disk/writer, 2 producers");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    for (name, config) in cases {
        let id = format!("metrics_core JsonlWriter, {name}");
        group.bench_function(id, |b| {
            b.iter_custom(|iters| two_producers(dir.path(), iters, config))
        });
    }
    group.finish();

    // One plain figure next to criterion's: a million records.
    for (name, config) in cases {
        let elapsed = two_producers(dir.path(), 1_000_000, config);
        report(&format!(
            "sustained, {name}: 1000000 records from 2 threads in {:.3} s \
             = {:.0} records/s",
            elapsed.as_secs_f64(),
            1e6 / elapsed.as_secs_f64()
        ));
    }
}

#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}

criterion_group!(benches, caller_side, sustained);
criterion_main!(benches);
