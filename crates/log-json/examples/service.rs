//! A service writing both JSON logs: `cargo run -p log-json --example service`.
//!
//! The logs go to the folder named by the first argument, or to a fresh
//! temporary folder, and the lines written are printed at the end.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use log_json::{preview, Level, LogConfig};
use slog::{error, info, o, warn};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| temp.path().to_path_buf(), Into::into);

    // The server reads these from MAESTRA_LOG_*; fixed here for the demo.
    let config = LogConfig::new(&dir)
        .level(Level::Info)
        .stdout(false)
        .max_bytes(10 << 20)
        .keep(5);
    let (main_path, error_path) =
        (config.file_path(), config.error_file_path());
    let (root, guard) = config.build()?;
    let handle = guard.handle();
    let log = root.new(o!("service" => "maestra-backend"));

    info!(log, "Service started"; "event_type" => "service_started",
        "version" => env!("CARGO_PKG_VERSION"));

    // One chat request, as the server logs it.
    let started = Instant::now();
    let message = "What should I do next? I have three open threads and \
                   a deadline on Friday, and I keep switching between them.";
    let request = log.new(o!("request_id" => "req_3f9a0c12b7e4"));
    info!(request, "Request received";
        "event_type" => "request_received",
        "surface_id" => "windsurf",
        "user_id" => "justinharmon",
        "conversation_id" => "conv_2025-12-28_jh_abc12345",
        "message_preview" => preview(message, 100).as_ref());
    warn!(request, "Upstream slow, retrying";
        "event_type" => "upstream_error", "attempt" => 1);
    error!(request, "Request failed";
        "event_type" => "request_completed", "status_code" => 502,
        "latency_ms" => started.elapsed().as_millis() as u64);

    info!(log, "Service stopping"; "event_type" => "service_stopping");
    let flushed = guard.shutdown();

    println!("flushed in time: {flushed}, dropped: {}", handle.dropped());
    for path in [main_path, error_path] {
        println!("\n{}:", path.display());
        print!("{}", std::fs::read_to_string(&path)?);
    }
    Ok(())
}
