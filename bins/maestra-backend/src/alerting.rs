//! The server's alerts: their texts, the recent-alerts list the dashboard
//! shows, and the log lines about their delivery.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use alerts_slack::{
    Alert, Alerter, AlerterConfig, DeliveryEvent, Enqueue, Severity, Stats,
    WebhookUrl,
};
use serde::Serialize;
use slog::{error, info, warn, Logger};
use time::OffsetDateTime;

use crate::timefmt::rfc3339;

/// Alerts kept for the dashboard.
const RECENT_CAPACITY: usize = 50;

/// One alert as the dashboard lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RecentAlert {
    pub timestamp: String,
    pub severity: &'static str,
    pub title: String,
    pub text: String,
}

/// Raises alerts without ever waiting on Slack.
pub struct Alerts {
    alerter: Alerter,
    recent: Mutex<VecDeque<RecentAlert>>,
    log: Logger,
}

impl Alerts {
    /// An alerter for `webhook` (none: alerts are only logged) whose
    /// delivery results are logged to `log`.
    pub fn new(
        webhook: Option<WebhookUrl>,
        cooldown: Duration,
        log: Logger,
    ) -> Alerts {
        let events_log = log.clone();
        let config = AlerterConfig::disabled()
            .webhook(webhook)
            .cooldown(cooldown)
            .on_event(move |event: &DeliveryEvent| {
                log_delivery(&events_log, event)
            });
        Alerts {
            alerter: Alerter::new(config),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_CAPACITY)),
            log,
        }
    }

    /// Queues `alert`, notes it in the recent list and the log.
    pub fn raise(&self, alert: Alert) {
        let text = alert.text();
        let severity = alert.severity().as_str();
        let title = alert.title().to_string();

        // A repeat folded into an earlier alert is logged by the delivery
        // callback as alert_folded; it must not crowd the recent list.
        if self.alerter.notify(alert) == Enqueue::Folded {
            return;
        }

        info!(self.log, "Alert raised: {title}";
            "event_type" => "alert_raised",
            "severity" => severity,
            "title" => &title,
            "text" => &text);
        let entry = RecentAlert {
            timestamp: rfc3339(OffsetDateTime::now_utc()),
            severity,
            title,
            text,
        };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT_CAPACITY {
            recent.pop_back();
        }
        recent.push_front(entry);
    }

    /// Recent alerts, newest first.
    pub fn recent(&self) -> Vec<RecentAlert> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.iter().cloned().collect()
    }

    /// Delivery counters.
    pub fn stats(&self) -> Stats {
        self.alerter.stats()
    }

    /// Delivers what is queued, waiting at most `deadline`.
    pub fn shutdown(&self, deadline: Duration) {
        self.alerter.shutdown(deadline);
    }
}

fn log_delivery(log: &Logger, event: &DeliveryEvent) {
    match event {
        DeliveryEvent::Sent { title, attempts, .. } => {
            info!(log, "Slack alert sent: {title}";
                "event_type" => "alert_sent",
                "title" => title.as_str(),
                "attempts" => *attempts);
        }
        DeliveryEvent::Failed { title, attempts, error, .. } => {
            error!(log, "Slack alert failed: {title}: {error}";
                "event_type" => "alert_failed",
                "title" => title.as_str(),
                "attempts" => *attempts,
                "error" => error.to_string());
        }
        DeliveryEvent::Dropped { title, .. } => {
            warn!(log, "Slack alert dropped: {event}";
                "event_type" => "alert_dropped",
                "title" => title.as_str());
        }
        DeliveryEvent::Folded { title, .. } => {
            info!(log, "Slack alert folded into an earlier one: {title}";
                "event_type" => "alert_folded",
                "title" => title.as_str());
        }
        _ => {}
    }
}

/// The alert texts of the server, in one place.
pub mod texts {
    use super::*;

    /// A request answered with a 5xx status.
    pub fn request_failed(
        status: u16,
        surface_id: &str,
        user_id: &str,
        error: &str,
    ) -> Alert {
        Alert::new(
            Severity::Error,
            "Maestra Backend Error",
            format!("Request failed with status {status}"),
        )
        .field("surface_id", surface_id)
        .field("user_id", user_id)
        .field("error", error)
        .fold_key(format!("request_failed:{status}:{error}"))
    }

    /// An IP went over its request limit.
    pub fn rate_limited(
        ip: &str,
        count: u64,
        limit: u64,
        window_s: u64,
    ) -> Alert {
        Alert::new(Severity::Warning, "Rate Limit Exceeded", "")
            .field("IP", ip)
            .field("Requests", format!("{count}/{limit}"))
            .field("Window", format!("{window_s}s"))
            .fold_key(format!("rate_limited:{ip}"))
    }

    /// Today's spend reached the limit.
    pub fn cost_limited(daily: f64, limit: f64, requests: u64) -> Alert {
        Alert::new(Severity::Warning, "Daily Cost Limit Exceeded", "")
            .field("Daily cost", format!("${daily:.2}"))
            .field("Limit", format!("${limit:.2}"))
            .field("Requests", requests)
            .fold_key("cost_limited")
    }

    /// Requests with a missing or wrong key.
    pub fn auth_failed(ip: &str, attempts: u64) -> Alert {
        Alert::new(Severity::Warning, "Authentication Failure", "")
            .field("IP", ip)
            .field("Attempts", attempts)
            .fold_key(format!("auth_failed:{ip}"))
    }

    /// The server is up.
    pub fn started(version: &str, addr: &str) -> Alert {
        Alert::new(Severity::Info, "Maestra Backend Started", "")
            .icon("🟢")
            .field("Version", version)
            .field("Address", format!("http://{addr}"))
    }

    /// The server is stopping.
    pub fn stopping(uptime_s: u64, requests: u64) -> Alert {
        Alert::new(Severity::Info, "Maestra Backend Stopping", "")
            .icon("⚪")
            .field("Uptime", format!("{uptime_s}s"))
            .field("Requests", requests)
    }

    /// Title of the error-rate threshold alert.
    pub const HIGH_ERROR_RATE: &str = "High Error Rate";
    /// Title of the latency threshold alert.
    pub const HIGH_LATENCY: &str = "High Latency";
    /// Title of the alert about records or logs that cannot be written.
    pub const WRITE_FAILURE: &str = "Metrics or Logs Not Written";

    /// The windowed error rate is over the threshold.
    pub fn high_error_rate(
        rate: f64,
        threshold: f64,
        errors: u64,
        requests: u64,
        window_s: u64,
    ) -> Alert {
        Alert::new(
            Severity::Error,
            HIGH_ERROR_RATE,
            format!(
                "Error rate {:.1}% is above {:.1}%",
                rate * 100.0,
                threshold * 100.0
            ),
        )
        .field("Errors", format!("{errors}/{requests}"))
        .field("Window", format!("{window_s}s"))
    }

    /// The windowed average latency is over the threshold.
    pub fn high_latency(
        avg_ms: u64,
        threshold_ms: u64,
        window_s: u64,
    ) -> Alert {
        Alert::new(
            Severity::Warning,
            HIGH_LATENCY,
            format!("Average latency {avg_ms} ms is above {threshold_ms} ms"),
        )
        .field("Window", format!("{window_s}s"))
    }

    /// Records or logs cannot be written.
    pub fn write_failure(problems: &[String]) -> Alert {
        Alert::new(Severity::Error, WRITE_FAILURE, problems.join("; "))
    }

    /// A condition announced by the alert titled `title` has cleared.
    pub fn resolved(title: &str, message: impl Into<String>) -> Alert {
        Alert::resolved(title, message)
    }
}
