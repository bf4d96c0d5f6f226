//! A fixed logging workload to count instructions under callgrind:
//! `valgrind --tool=callgrind --separate-threads=yes \
//!   target/release/examples/log_profile [LINES]`.
//!
//! Two lines per simulated request, as the server writes
//! (`request_received` and `request_completed`, about a dozen keys
//! each), from one thread, paced in bursts of 8 requests so the writer
//! thread runs alongside as it would in service.

use std::time::Duration;

use log_json::{preview, LogConfig};
use slog::{info, o};

const MESSAGE: &str = "What should I do next? I have three open threads \
                       and a deadline on Friday, and the review is due.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests: u64 =
        std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let dir = tempfile::tempdir()?;
    let (root, guard) = LogConfig::new(dir.path()).build()?;
    let log = root.new(o!("service" => "maestra-backend"));

    for i in 0..requests {
        let request_id = format!("req_{i:012x}");
        info!(log, "Request received";
            "event_type" => "request_received",
            "request_id" => &request_id,
            "method" => "POST",
            "path" => "/api/maestra/chat",
            "client_ip" => "127.0.0.1",
            "surface_id" => "windsurf",
            "user_id" => "justinharmon",
            "conversation_id" => Some("conv_2025-12-28_jh_abc12345"),
            "mode" => "chat",
            "message_preview" => preview(MESSAGE, 100).as_ref());
        info!(log, "Request completed";
            "event_type" => "request_completed",
            "request_id" => &request_id,
            "method" => "POST",
            "path" => "/api/maestra/chat",
            "client_ip" => "127.0.0.1",
            "surface_id" => "windsurf",
            "user_id" => "justinharmon",
            "status_code" => 200u16,
            "latency_ms" => 3.25f64,
            "tokens" => 412u32,
            "cost_usd" => 0.0021f64);
        if i % 8 == 7 {
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    let handle = guard.handle();
    assert!(guard.shutdown());
    assert_eq!(handle.dropped(), 0);
    Ok(())
}
