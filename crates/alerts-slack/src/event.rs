//! What happened to an alert: [`Outcome`], [`Enqueue`], [`DeliveryEvent`],
//! [`DeliveryError`] and the [`Stats`] counters.

use crate::severity::Severity;

/// How an alert ended, as resolved by [`Alerter::alert`].
///
/// [`Alerter::alert`]: crate::Alerter::alert
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Slack accepted the message.
    Sent,
    /// A repeat inside the cooldown: counted, not sent.
    Folded,
    /// No webhook is configured; nothing was sent and nothing needs to be.
    Disabled,
    /// Never sent: the queue was full, or the alerter was shutting down.
    Dropped(DropReason),
    /// Every attempt failed; the error holds Slack's answer or the
    /// transport failure.
    Failed(DeliveryError),
}

impl Outcome {
    /// Whether the caller has nothing to worry about: sent, folded or
    /// alerts disabled.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Sent | Outcome::Folded | Outcome::Disabled)
    }
}

/// What [`Alerter::notify`] did with an alert; it never waits.
///
/// [`Alerter::notify`]: crate::Alerter::notify
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Enqueue {
    /// Queued for delivery.
    Queued,
    /// A repeat inside the cooldown: counted, not queued.
    Folded,
    /// No webhook is configured.
    Disabled,
    /// Not queued: the queue was full or the alerter is shut down.
    Dropped,
}

impl Enqueue {
    /// Whether the alert was taken care of (everything but `Dropped`).
    pub fn accepted(self) -> bool {
        self != Enqueue::Dropped
    }
}

/// Why an alert was dropped without being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue was at capacity.
    QueueFull,
    /// The alerter was shut down, or its deadline passed first.
    Shutdown,
}

/// Why delivery failed. Never holds the webhook URL.
///
/// Transport errors are mapped to these variants rather than kept as a
/// source, because the HTTP client's own errors may quote the URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// Slack refused the message (a `4xx` other than `429`, or an
    /// unexpected status); `body` is Slack's error text, such as
    /// `invalid_payload` or `channel_not_found`.
    #[error("failed to deliver alert: Slack answered {status}: {body}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The response body, trimmed and cut to 200 characters.
        body: String,
    },
    /// Slack kept answering `429` until the attempts ran out.
    #[error("failed to deliver alert: Slack kept rate limiting (429)")]
    RateLimited,
    /// Slack answered `5xx` on the last attempt.
    #[error("failed to deliver alert: Slack answered {status}: {body}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The response body, trimmed and cut to 200 characters.
        body: String,
    },
    /// The connection or the whole exchange took longer than allowed.
    #[error("failed to deliver alert: the webhook timed out")]
    Timeout,
    /// No connection could be made (refused, reset, unreachable, name not
    /// resolved).
    #[error("failed to deliver alert: could not connect to the webhook: {0}")]
    Connect(String),
    /// Another transport failure (TLS, protocol), described in our words.
    #[error("failed to deliver alert: {0}")]
    Transport(String),
}

/// One thing the alerter did, handed to the `on_event` callback of
/// [`AlerterConfig`](crate::AlerterConfig) on the alerter's thread.
///
/// `Display` gives a one-line summary that never contains the webhook URL;
/// a logger can use it as the message of `alert_sent` / `alert_failed`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryEvent {
    /// Slack accepted a message.
    Sent {
        /// The alert title.
        title: String,
        /// The alert severity.
        severity: Severity,
        /// HTTP attempts made, 1 when the first one succeeded.
        attempts: u32,
        /// Repeats folded into this message's last line.
        folded: u64,
    },
    /// A message was given up on.
    Failed {
        /// The alert title.
        title: String,
        /// The alert severity.
        severity: Severity,
        /// HTTP attempts made.
        attempts: u32,
        /// Why, with Slack's error text when it gave one.
        error: DeliveryError,
    },
    /// An alert was dropped without being sent.
    Dropped {
        /// The alert title.
        title: String,
        /// The alert severity.
        severity: Severity,
        /// Why.
        reason: DropReason,
    },
    /// A repeat was folded.
    Folded {
        /// The alert title.
        title: String,
        /// The alert severity.
        severity: Severity,
        /// The fold key it matched.
        fold_key: String,
    },
}

impl std::fmt::Display for DeliveryEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryEvent::Sent { title, severity, attempts, .. } => write!(
                f,
                "Slack alert sent ({severity}, {attempts} attempt(s)): {title}"
            ),
            DeliveryEvent::Failed { title, severity, attempts, error } => {
                write!(
                    f,
                    "Slack alert failed ({severity}, {attempts} attempt(s)): \
                     {title}: {error}"
                )
            }
            DeliveryEvent::Dropped { title, severity, reason } => write!(
                f,
                "Slack alert dropped ({severity}, {reason:?}): {title}"
            ),
            DeliveryEvent::Folded { title, severity, .. } => {
                write!(f, "Slack alert folded ({severity}): {title}")
            }
        }
    }
}

/// Counters since the alerter started, read with
/// [`Alerter::stats`](crate::Alerter::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages Slack accepted.
    pub sent: u64,
    /// Messages given up on after their attempts.
    pub failed: u64,
    /// Repeats folded inside the cooldown.
    pub folded: u64,
    /// Alerts dropped: queue full, or left over at shutdown.
    pub dropped: u64,
    /// Alerts waiting in the queue now.
    pub queued: u64,
    /// Folded and dropped events not handed to `on_event` because too many
    /// were waiting (the counters above still count them).
    pub events_lost: u64,
}
