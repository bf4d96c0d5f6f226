//! Another service embedding metrics-core: worker threads record each
//! request in a shared aggregator and queue it for the JSONL file, then
//! the service prints its `/metrics` JSON and Prometheus text.
//!
//! `cargo run -p metrics-core --example embed [PATH]` (default: a file in
//! a temporary folder).

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use metrics_core::prometheus::{self, PromText};
use metrics_core::reader::RecordReader;
use metrics_core::{
    today_totals, Aggregator, JsonlWriter, RequestRecord, WriterConfig,
};
use time::OffsetDateTime;

/// Pretends to answer a chat request and returns its record.
fn handle(worker: usize, n: usize) -> RequestRecord {
    let started = Instant::now();
    let tokens = 40 + (n * 37 % 300) as u64;
    let status = if n % 50 == 7 { 502 } else { 200 };
    std::thread::sleep(std::time::Duration::from_micros(200));

    RequestRecord {
        timestamp: OffsetDateTime::now_utc(),
        request_id: format!("req_{worker}_{n:05}"),
        surface_id: ["windsurf", "cli", "web"][n % 3].into(),
        user_id: "justinharmon".into(),
        conversation_id: Some(format!("conv_{worker}_{}", n / 10)),
        mode: "advisor".into(),
        latency_ms: started.elapsed().as_millis() as u64 + (n % 400) as u64,
        status_code: status,
        tokens,
        cost_usd: tokens as f64 / 1000.0 * 0.002,
        error: (status != 200).then(|| "upstream_error".into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| scratch.path().join("maestra_metrics.jsonl"));

    // Restore today's spend from the file before taking new requests.
    let metrics = Aggregator::default();
    let today = OffsetDateTime::now_utc().date();
    if path.exists() {
        let totals = today_totals(&path, today)?;
        metrics.seed_daily(today, totals.cost_usd, totals.requests);
    }
    let (records, guard) = JsonlWriter::open(WriterConfig::new(&path))?;

    std::thread::scope(|s| {
        for worker in 0..4 {
            let (metrics, records) = (&metrics, records.clone());
            s.spawn(move || {
                for n in 0..250 {
                    let record = handle(worker, n);
                    metrics.record(&record);
                    records.submit(&record);
                }
            });
        }
    });

    // Orderly shutdown: every accepted record is on disk after this.
    let stats = guard.close()?;
    println!("writer: {stats:?}");

    let snap = metrics.snapshot("embed-example", env!("CARGO_PKG_VERSION"));
    println!("{}", serde_json::to_string_pretty(&snap)?);

    let mut text = String::new();
    let mut prom = PromText::new(&mut text);
    prom.snapshot(&snap)?;
    prom.counter(
        "maestra_records_dropped_total",
        "Records the JSONL writer dropped.",
        stats.dropped as f64,
    )?;
    println!("content-type: {}\n{text}", prometheus::CONTENT_TYPE);

    let mut reader = RecordReader::open(&path)?;
    let read = reader.by_ref().filter_map(Result::ok).count();
    println!(
        "{read} records in {}, {} bad lines",
        path.display(),
        reader.skipped()
    );
    Ok(())
}
