//! Severity-tagged Slack incoming-webhook alerts that never delay the
//! caller.
//!
//! An [`Alerter`] owns a thread that posts to one webhook with a blocking
//! HTTP client (ureq). Callers hand it an [`Alert`] and go on:
//! [`Alerter::notify`] only queues, and [`Alerter::alert`] returns a
//! future, runtime-agnostic, that resolves once Slack took the message or
//! it finally failed.
//!
//! ```
//! use alerts_slack::{Alert, Alerter, AlerterConfig, Outcome, Severity};
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread()
//! #         .build().unwrap().block_on(f)
//! # }
//!
//! // Without a webhook every call succeeds as `Disabled`, so callers need
//! // no special case; `Alerter::from_env()` reads the webhook from
//! // MAESTRA_SLACK_WEBHOOK_URL.
//! let alerter = Alerter::new(AlerterConfig::disabled());
//!
//! let alert = Alert::new(
//!     Severity::Error,
//!     "Maestra Backend Error",
//!     "Request failed with status 502",
//! )
//! .field("surface_id", "windsurf")
//! .field("user_id", "justinharmon")
//! .field("error", "upstream_error");
//!
//! assert_eq!(
//!     alert.text(),
//!     "🔴 Maestra Backend Error\nRequest failed with status 502\n\
//!      surface_id: windsurf\nuser_id: justinharmon\nerror: upstream_error",
//! );
//! let outcome = block_on(alerter.alert(alert));
//! assert_eq!(outcome, Outcome::Disabled);
//! ```
//!
//! # Delivery
//!
//! - The payload is `{"text": …, "attachments": [{"color": …,
//!   "fallback": …}]}`: the text laid out as in [`Alert`], the attachment
//!   giving the severity's colour bar. Text over [`MAX_TEXT_CHARS`]
//!   characters is cut on a character boundary.
//! - Requests are paced: at most one per
//!   [`min_interval`](AlerterConfig::min_interval) (1 s), retries
//!   included. The pacing belongs to one `Alerter`; two alerters on the
//!   same webhook pace separately.
//! - `429`: wait `Retry-After` seconds (capped at 30 s) and retry. `5xx`,
//!   timeouts and connection failures: retry after 1 s, 2 s, 4 s, …
//!   Up to 4 attempts in all. Other answers (redirects included) fail at
//!   once, with Slack's error text (`invalid_payload`,
//!   `channel_not_found`, …) in the [`DeliveryError`]. A `Retry-After`
//!   given as an HTTP date rather than seconds is not read; the backoff
//!   wait is used instead.
//! - Connections honour `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` and
//!   `NO_PROXY` as ureq reads them, except for loopback webhooks.
//! - The queue holds 256 alerts; beyond that alerts are dropped and
//!   counted.
//! - Folding: an alert whose fold key (by default severity and title)
//!   was queued less than the [`cooldown`](AlerterConfig::cooldown)
//!   (300 s) ago is not sent, only counted, and resolves at once as
//!   [`Outcome::Folded`]. The next message of that key delivered after the
//!   cooldown ends with a line such as `(3 similar alerts folded in the
//!   300 s after the previous one)`. The window opens when an alert is
//!   queued, whatever becomes of it; if the message carrying the count
//!   fails, the count is only in [`Stats::folded`].
//! - [`Alerter::shutdown`] drains the queue within a deadline; what is left
//!   is dropped and counted.
//!
//! The library never prints or logs. What happens to each alert is counted
//! in [`Stats`] and, when [`AlerterConfig::on_event`] is set, handed to a
//! callback as a [`DeliveryEvent`] on the alerter's thread, so the service
//! can log it with its own logger.
//!
//! The webhook URL is a secret: [`WebhookUrl`] shows itself only redacted
//! (`https://hooks.slack.com/services/T0…/***`), and no error, event or
//! `Debug` output of this crate contains it whole.
//!
//! # Process-wide alerter
//!
//! [`get_slack_alerter`] returns one alerter for the whole process, made
//! from the environment on first use; [`install_slack_alerter`] sets a
//! configured one instead.

mod alert;
mod alerter;
mod clock;
mod config;
mod event;
mod global;
mod severity;
mod transport;
mod webhook;
mod worker;

pub use alert::{Alert, MAX_TEXT_CHARS};
pub use alerter::{Alerter, Delivery, DrainGuard};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AlerterConfig, ConfigError, EventCallback, ENV_COOLDOWN_S, ENV_WEBHOOK_URL,
};
pub use event::{
    DeliveryError, DeliveryEvent, DropReason, Enqueue, Outcome, Stats,
};
pub use global::{get_slack_alerter, install_slack_alerter};
pub use severity::{ParseSeverityError, Severity};
pub use webhook::{WebhookUrl, WebhookUrlError};
