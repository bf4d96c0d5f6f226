//! One JSON log call on the caller's thread: `log-json` (slog with its
//! async file drain) beside `tracing` with `tracing-subscriber`'s JSON
//! format on `tracing-appender`'s non-blocking writer, with the same
//! fields, each writing a file in its own fresh folder of one temp folder.
//!
//! A sample builds a fresh logger whose queue holds every call of the
//! sample, so neither side drops or blocks; the time covers the calls
//! only (what a request handler pays), while the writer thread runs
//! alongside. After criterion, a paced run logs 10 000 records in one
//! second through `log-json` with its default queue and reports drops.
//!
//! `cargo bench -p maestra-benches --bench log -- --warm-up-time 1
//! --measurement-time 3`

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

const PREVIEW: &str = "Which of my three projects should I finish first \
                       before the Friday deadline?";

fn fresh_dir(root: &Path) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = root.join(format!("run-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn log_json_calls(root: &Path, iters: u64) -> Duration {
    let dir = fresh_dir(root);
    let (log, guard) = log_json::LogConfig::new(&dir)
        .channel_size(iters as usize + 1)
        .max_bytes(u64::MAX)
        .shutdown_timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let handle = guard.handle();

    let start = Instant::now();
    for i in 0..iters {
        slog::info!(log, "Request completed";
            "event_type" => "request_completed",
            "request_id" => "req_3f9a0c12b7e4",
            "surface_id" => "windsurf",
            "user_id" => "justinharmon",
            "conversation_id" => "conv_2025-12-28_jh_abc12345",
            "message_preview" => PREVIEW,
            "status_code" => 200u16,
            "latency_ms" => i);
    }
    let elapsed = start.elapsed();

    assert!(guard.shutdown());
    assert_eq!(handle.dropped(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
    elapsed
}

fn tracing_calls(root: &Path, iters: u64) -> Duration {
    let dir = fresh_dir(root);
    let file = tracing_appender::rolling::never(&dir, "tracing.log");
    let (writer, guard) =
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .buffered_lines_limit(iters as usize + 1)
            .lossy(false)
            .finish(file);
    let subscriber =
        tracing_subscriber::fmt().json().with_writer(writer).finish();

    let elapsed = tracing::subscriber::with_default(subscriber, || {
        let start = Instant::now();
        for i in 0..iters {
            tracing::info!(
                event_type = "request_completed",
                request_id = "req_3f9a0c12b7e4",
                surface_id = "windsurf",
                user_id = "justinharmon",
                conversation_id = "conv_2025-12-28_jh_abc12345",
                message_preview = PREVIEW,
                status_code = 200u16,
                latency_ms = i,
                "Request completed"
            );
        }
        start.elapsed()
    });

    drop(guard);
    std::fs::remove_dir_all(&dir).unwrap();
    elapsed
}

fn log_call(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("log call");
    group.sample_size(20);
    group.bench_function("log_json", |b| {
        b.iter_custom(|iters| log_json_calls(root.path(), iters))
    });
    group.bench_function("tracing_json_non_blocking", |b| {
        b.iter_custom(|iters| tracing_calls(root.path(), iters))
    });
    group.finish();
}

/// 10 000 records paced over one second through the default settings
/// (queue of 8192); reports what was written and dropped.
fn paced(_: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let config = log_json::LogConfig::new(root.path());
    let path = config.file_path();
    let (log, guard) = config.build().unwrap();
    let handle = guard.handle();

    let start = Instant::now();
    for i in 0..10_000u64 {
        // Each record waits for its slot of 100 microseconds.
        let due = Duration::from_micros(i * 100);
        while start.elapsed() < due {
            std::hint::spin_loop();
        }
        slog::info!(log, "Request completed";
            "event_type" => "request_completed",
            "request_id" => "req_3f9a0c12b7e4",
            "message_preview" => PREVIEW,
            "latency_ms" => i);
    }
    let took = start.elapsed();
    assert!(guard.shutdown());

    let lines = std::fs::read_to_string(&path).unwrap().lines().count();
    report(&format!(
        "paced: 10000 records in {:.3} s, {lines} lines written, {} dropped",
        took.as_secs_f64(),
        handle.dropped()
    ));
}

#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}

criterion_group!(benches, log_call, paced);
criterion_main!(benches);
