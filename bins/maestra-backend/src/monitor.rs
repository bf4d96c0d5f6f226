//! Background checks: threshold alerts, write health, history points.
//!
//! Each condition alerts once when it starts and sends a `✅ Resolved`
//! message once when it clears, so a long incident is two messages, not
//! one per check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use slog::{error, info};
use tokio::sync::watch;

use crate::alerting::texts;
use crate::app::{App, SERVICE, VERSION};
use crate::views;

/// How often write health is looked at; short so /health and the alert
/// follow a full disk closely.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// Whether each watched condition is currently announced.
#[derive(Default)]
struct Announced {
    error_rate: bool,
    latency: bool,
    write_failure: bool,
    record_write_errors: u64,
}

/// Runs the checks until `stop` changes.
pub async fn run(
    app: Arc<App>,
    started: Instant,
    mut stop: watch::Receiver<bool>,
) {
    let mut announced = Announced::default();
    let mut next_threshold = Instant::now() + app.config.alert_check;
    let mut next_sample = Instant::now() + app.config.history_interval;
    let mut tick = tokio::time::interval(HEALTH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = Instant::now();

        check_writes(&app, &mut announced);
        if now >= next_threshold {
            next_threshold = now + app.config.alert_check;
            check_thresholds(&app, &mut announced);
        }
        if now >= next_sample {
            next_sample += app.config.history_interval;
            sample(&app, started);
        }
    }
}

/// Takes one history point.
pub fn sample(app: &App, started: Instant) {
    let snapshot = app.aggregator.snapshot(SERVICE, VERSION);
    app.history.sample(&snapshot, started.elapsed().as_millis());
}

fn check_writes(app: &App, announced: &mut Announced) {
    let stats = app.writer.stats();
    if stats.write_errors > announced.record_write_errors {
        error!(app.log, "Failed to write metrics records";
            "event_type" => "record_write_failed",
            "write_errors" => stats.write_errors,
            "records_dropped" => stats.dropped,
            "error" => stats.last_error.as_deref());
        announced.record_write_errors = stats.write_errors;
    }

    // The log writer learns that its files are writable again only by
    // writing to them, and a quiet server writes nothing: without this
    // line /health would stay degraded until the next request.
    if !app.log_handle.is_healthy() {
        error!(app.log, "Retrying the log files after a failed write";
            "event_type" => "log_write_retry");
    }

    let problems = views::problems(app);
    match (problems.is_empty(), announced.write_failure) {
        (false, false) => {
            announced.write_failure = true;
            app.alerts.raise(texts::write_failure(&problems));
        }
        (true, true) => {
            announced.write_failure = false;
            info!(app.log, "Records and logs are written again";
                "event_type" => "write_recovered");
            app.alerts.raise(texts::resolved(
                texts::WRITE_FAILURE,
                "Records and logs are written again",
            ));
        }
        _ => {}
    }
}

fn check_thresholds(app: &App, announced: &mut Announced) {
    let config = &app.config;
    let window = app.aggregator.window();
    let window_s = config.alert_window.as_secs();

    let error_rate_high = window.requests >= config.alert_min_requests
        && window.error_rate > config.error_rate_threshold;
    if error_rate_high != announced.error_rate {
        announced.error_rate = error_rate_high;
        let alert = if error_rate_high {
            texts::high_error_rate(
                window.error_rate,
                config.error_rate_threshold,
                window.errors,
                window.requests,
                window_s,
            )
        } else {
            texts::resolved(
                texts::HIGH_ERROR_RATE,
                format!(
                    "Error rate {:.1}% over the last {window_s}s",
                    window.error_rate * 100.0
                ),
            )
        };
        app.alerts.raise(alert);
    }

    let latency_high = window.requests > 0
        && window.avg_latency_ms > config.latency_threshold_ms;
    if latency_high != announced.latency {
        announced.latency = latency_high;
        let alert = if latency_high {
            texts::high_latency(
                window.avg_latency_ms,
                config.latency_threshold_ms,
                window_s,
            )
        } else {
            texts::resolved(
                texts::HIGH_LATENCY,
                format!(
                    "Average latency {} ms over the last {window_s}s",
                    window.avg_latency_ms
                ),
            )
        };
        app.alerts.raise(alert);
    }
}
