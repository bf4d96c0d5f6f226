//! Start-up and orderly stop: the order in which the parts are made, and
//! the reverse order in which they are flushed.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alerts_slack::WebhookUrl;
use log_json::LogConfig;
use metrics_core::{Aggregator, AggregatorConfig, JsonlWriter, WriterConfig};
use slog::{crit, error, info, warn, Logger};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::alerting::{texts, Alerts};
use crate::app::{App, Counters, VERSION};
use crate::auth::Keys;
use crate::config::Config;
use crate::history::History;
use crate::ratelimit::RateLimiter;
use crate::responder::Responder;
use crate::{monitor, server};

/// Time the alert queue gets to drain at a stop.
const ALERT_DRAIN: Duration = Duration::from_secs(5);

/// Runs the server until SIGTERM or SIGINT; the process's exit status.
pub async fn run(config: Config) -> ExitCode {
    let started = Instant::now();

    let (log, log_guard) = match LogConfig::new(&config.log_dir)
        .level(config.log_level)
        .stdout(config.log_stdout)
        .max_bytes(config.log_max_bytes)
        .keep(config.log_keep)
        .build()
    {
        Ok(built) => built,
        Err(e) => {
            eprintln!(
                "maestra-backend: failed to set up logs in {}: {e}",
                config.log_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };

    let webhook =
        match config.slack_webhook_url.as_deref().map(WebhookUrl::parse) {
            None => None,
            Some(Ok(url)) => Some(url),
            Some(Err(e)) => {
                eprintln!(
                    "maestra-backend: invalid MAESTRA_SLACK_WEBHOOK_URL: {e}"
                );
                log_guard.shutdown();
                return ExitCode::from(2);
            }
        };

    let aggregator = Arc::new(Aggregator::new(AggregatorConfig {
        conversation_ttl: config.conversation_ttl,
        window: config.alert_window,
        ..AggregatorConfig::default()
    }));
    restore_daily_cost(&config, &aggregator, &log);

    let (writer, writer_guard) =
        match JsonlWriter::open(WriterConfig::new(&config.metrics_path)) {
            Ok(opened) => opened,
            Err(e) => {
                eprintln!(
                    "maestra-backend: failed to start the records writer: {e}"
                );
                log_guard.shutdown();
                return ExitCode::FAILURE;
            }
        };

    let alerts =
        Arc::new(Alerts::new(webhook, config.alert_cooldown, log.clone()));

    let listener = match TcpListener::bind(config.bind).await {
        Ok(listener) => listener,
        Err(e) => {
            crit!(log, "Failed to bind {}: {e}", config.bind;
                "event_type" => "bind_failed",
                "address" => config.bind.to_string());
            eprintln!("maestra-backend: failed to bind {}: {e}", config.bind);
            let _ = writer_guard.close();
            alerts.shutdown(Duration::ZERO);
            log_guard.shutdown();
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(config.bind);

    if !config.auth_enabled() && !addr.ip().is_loopback() {
        warn!(log, "No API keys are set and the server listens beyond \
                    loopback: anyone who can reach it can use it";
            "event_type" => "auth_disabled",
            "address" => addr.to_string());
    }

    let app = Arc::new(App {
        started,
        keys: Keys::new(&config.api_keys),
        limiter: RateLimiter::new(config.rate_limit, config.rate_window),
        responder: Arc::new(Responder::new(config.upstream.clone())),
        history: History::new(config.history_interval.as_secs()),
        counters: Counters::default(),
        config,
        aggregator,
        writer,
        log: log.clone(),
        log_handle: log_guard.handle(),
        alerts: Arc::clone(&alerts),
    });

    info!(log, "Maestra backend started on http://{addr}";
        "event_type" => "service_started",
        "version" => VERSION,
        "address" => addr.to_string(),
        "responder" => app.responder.kind(),
        "auth" => app.config.auth_enabled());
    alerts.raise(texts::started(VERSION, &addr.to_string()));
    eprintln!("maestra-backend {VERSION} listening on http://{addr}");

    monitor::sample(&app, started);
    let (stop_tx, stop_rx) = watch::channel(false);
    let monitor =
        tokio::spawn(monitor::run(Arc::clone(&app), started, stop_rx));

    server::serve(Arc::clone(&app), listener, stop_signal(log.clone())).await;

    let snapshot = app.aggregator.snapshot(crate::app::SERVICE, VERSION);
    info!(log, "Maestra backend stopping";
        "event_type" => "service_stopping",
        "uptime_seconds" => snapshot.uptime_seconds,
        "total_requests" => snapshot.total_requests);
    alerts.raise(texts::stopping(
        snapshot.uptime_seconds,
        snapshot.total_requests,
    ));

    let _ = stop_tx.send(true);
    let _ = monitor.await;

    // Records first: they are what the day's cost limit is restored from.
    match writer_guard.close() {
        Ok(records) => info!(log, "Metrics records flushed";
            "event_type" => "records_flushed",
            "written" => records.written,
            "dropped" => records.dropped),
        Err(e) => error!(log, "Failed to flush every metrics record: {e}";
            "event_type" => "record_write_failed"),
    }
    alerts.shutdown(ALERT_DRAIN);
    drop(app);
    log_guard.shutdown();
    ExitCode::SUCCESS
}

/// Seeds today's cost from the metrics file so a restart does not reset
/// the daily limit.
fn restore_daily_cost(config: &Config, aggregator: &Aggregator, log: &Logger) {
    let today = time::OffsetDateTime::now_utc().date();
    match metrics_core::today_totals(&config.metrics_path, today) {
        Ok(totals) => {
            aggregator.seed_daily(today, totals.cost_usd, totals.requests);
            info!(log, "Restored today's cost from the metrics file";
                "event_type" => "daily_cost_restored",
                "daily_cost_usd" => totals.cost_usd,
                "requests" => totals.requests);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            warn!(log, "Failed to read today's cost from the metrics file: {e}";
                "event_type" => "daily_cost_restore_failed",
                "path" => config.metrics_path.display().to_string());
        }
    }
}

/// Resolves at SIGTERM or SIGINT.
async fn stop_signal(log: Logger) {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let name = tokio::select! {
        () = ctrl_c => "SIGINT",
        () = term => "SIGTERM",
    };
    info!(log, "Received {name}, stopping";
        "event_type" => "signal_received",
        "signal" => name);
}
