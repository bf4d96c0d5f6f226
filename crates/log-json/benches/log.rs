//! Records per second from the logging call to the line in the file:
//! this crate's drain beside tracing-subscriber's JSON layer on
//! tracing-appender's non-blocking writer, same fields, same temp folder.
//!
//! Each sample builds a fresh logger whose queue holds every record of
//! the sample, logs them, then flushes. In `log_to_file` the time runs
//! until the last line is in the file, so neither side gains by dropping
//! or lagging behind; `log_call` times only the calls on the logging
//! thread, the cost a request handler sees.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const MESSAGE_PREVIEW: &str = "What should I do next? I have three open \
                               threads and a deadline on Friday.";

/// A fresh folder inside the shared temp folder for each sample.
fn fresh_dir(root: &Path) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = root.join(NEXT.fetch_add(1, Ordering::Relaxed).to_string());
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn count_lines(path: &Path) -> u64 {
    let bytes = fs::read(path).unwrap_or_default();
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Stops the clock once `path` holds `want` lines; a writer whose guard
/// returned before the last line keeps the clock running until then.
fn finish(start: Instant, path: &Path, want: u64) -> Duration {
    let mut elapsed = start.elapsed();
    if count_lines(path) < want {
        while count_lines(path) < want {
            std::thread::sleep(Duration::from_millis(1));
        }
        elapsed = start.elapsed();
    }
    assert_eq!(count_lines(path), want, "{path:?}");
    elapsed
}

fn slog_log_json(root: &Path, iters: u64, calls_only: bool) -> Duration {
    let config = log_json::LogConfig::new(fresh_dir(root))
        .channel_size(iters as usize + 16)
        .max_bytes(u64::MAX)
        .shutdown_timeout(Duration::from_secs(600));
    let path = config.file_path();
    let (log, guard) = config.build().unwrap();
    let handle = guard.handle();

    let start = Instant::now();
    for i in 0..iters {
        slog::info!(log, "Request received";
            "event_type" => "request_received",
            "request_id" => "req_3f9a0c12b7e4",
            "surface_id" => "windsurf",
            "user_id" => "justinharmon",
            "conversation_id" => "conv_2025-12-28_jh_abc12345",
            "message_preview" => MESSAGE_PREVIEW,
            "status_code" => 200u16,
            "latency_ms" => i);
    }
    let calls = start.elapsed();
    assert!(guard.shutdown());
    let elapsed = finish(start, &path, iters);
    assert_eq!(handle.dropped(), 0);
    if calls_only {
        calls
    } else {
        elapsed
    }
}

fn tracing_json(root: &Path, iters: u64, calls_only: bool) -> Duration {
    use tracing_subscriber::fmt::format::FmtSpan;

    let dir = fresh_dir(root);
    let path = dir.join("tracing.log");
    let appender = tracing_appender::rolling::never(&dir, "tracing.log");
    let (writer, guard) =
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .buffered_lines_limit(iters as usize + 16)
            .lossy(false)
            .finish(appender);
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_span_events(FmtSpan::NONE)
        .with_writer(writer)
        .finish();

    tracing::subscriber::with_default(subscriber, || {
        let start = Instant::now();
        for i in 0..iters {
            tracing::info!(
                event_type = "request_received",
                request_id = "req_3f9a0c12b7e4",
                surface_id = "windsurf",
                user_id = "justinharmon",
                conversation_id = "conv_2025-12-28_jh_abc12345",
                message_preview = MESSAGE_PREVIEW,
                status_code = 200u16,
                latency_ms = i,
                "Request received"
            );
        }
        let calls = start.elapsed();
        drop(guard);
        let elapsed = finish(start, &path, iters);
        if calls_only {
            calls
        } else {
            elapsed
        }
    })
}

fn bench(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();

    // From the call until the line is in the file.
    let mut group = c.benchmark_group("log_to_file");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    group.bench_function("log_json", |b| {
        b.iter_custom(|iters| slog_log_json(root.path(), iters, false));
    });
    group.bench_function("tracing_json_appender", |b| {
        b.iter_custom(|iters| tracing_json(root.path(), iters, false));
    });
    group.finish();

    // What the logging thread pays per call; the writer runs alongside.
    let mut group = c.benchmark_group("log_call");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    group.bench_function("log_json", |b| {
        b.iter_custom(|iters| slog_log_json(root.path(), iters, true));
    });
    group.bench_function("tracing_json_appender", |b| {
        b.iter_custom(|iters| tracing_json(root.path(), iters, true));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
