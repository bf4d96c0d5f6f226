//! A background worker service that is not an HTTP server, using all
//! three crates the way `maestra-backend` does:
//!
//! - each job ends in one `RequestRecord`, counted by an `Aggregator` and
//!   queued for the JSONL file by a `JsonlWriter`;
//! - each job is logged as JSON lines through `log-json`;
//! - a failed job raises a Slack alert that never delays the worker.
//!
//! `cargo run -p maestra-examples --example worker_service [DIR]`
//! (default: a temporary folder). Set `MAESTRA_SLACK_WEBHOOK_URL` to send
//! the alerts; without it they are only counted as disabled.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alerts_slack::{Alert, Alerter, Severity};
use log_json::{Level, LogConfig};
use metrics_core::{Aggregator, JsonlWriter, RequestRecord, WriterConfig};
use slog::{info, warn};
use time::OffsetDateTime;

/// One unit of work: every seventh job fails.
fn run_job(n: u64) -> Result<u64, &'static str> {
    std::thread::sleep(Duration::from_millis(2));
    if n % 7 == 6 {
        Err("upstream_error")
    } else {
        Ok(50 + n * 13 % 200)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map_or_else(|| temp.path().to_path_buf(), Into::into);

    // Logs first, so that everything after can report through them.
    let (log, log_guard) =
        LogConfig::new(dir.join("logs")).level(Level::Info).build()?;
    let metrics = Aggregator::default();
    let (records, records_guard) =
        JsonlWriter::open(WriterConfig::new(dir.join("metrics.jsonl")))?;
    let alerter = Alerter::from_env()?;

    for n in 0..30 {
        let started = Instant::now();
        let outcome = run_job(n);
        let (status, tokens, error) = match outcome {
            Ok(tokens) => (200, tokens, None),
            Err(code) => (502, 0, Some(code.to_string())),
        };
        let record = RequestRecord {
            timestamp: OffsetDateTime::now_utc(),
            request_id: format!("job_{n:04}"),
            surface_id: "worker".into(),
            user_id: "batch".into(),
            conversation_id: None,
            mode: "advisor".into(),
            latency_ms: started.elapsed().as_millis() as u64,
            status_code: status,
            tokens,
            cost_usd: tokens as f64 / 1000.0 * 0.002,
            error,
        };

        // Both calls only touch memory; the file is written elsewhere.
        metrics.record(&record);
        records.submit(&record);

        if let Some(code) = &record.error {
            warn!(log, "Job failed"; "event_type" => "job_failed",
                "request_id" => &record.request_id, "error" => code);
            alerter.notify(
                Alert::new(Severity::Error, "Worker Job Failed", code.as_str())
                    .field("job", &record.request_id),
            );
        } else {
            info!(log, "Job done"; "event_type" => "job_done",
                "request_id" => &record.request_id, "tokens" => tokens);
        }
    }

    // Stop in order: records, then alerts, then the logs that report
    // on both.
    let written = records_guard.close()?;
    let alerts = alerter.shutdown(Duration::from_secs(5));
    info!(log, "Worker stopping"; "event_type" => "service_stopping",
        "records_written" => written.written, "alerts_sent" => alerts.sent);
    log_guard.shutdown();

    let snapshot = metrics.snapshot("worker-service", "0.1.0");
    println!("{}", serde_json::to_string_pretty(&snapshot)?);
    println!("records: {} written to {}", written.written, dir.display());
    println!(
        "alerts: {} sent, {} folded (same title within the cooldown)",
        alerts.sent, alerts.folded
    );
    Ok(())
}
