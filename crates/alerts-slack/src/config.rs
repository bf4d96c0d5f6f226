//! [`AlerterConfig`]: the webhook, limits and hooks of an alerter.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::event::DeliveryEvent;
use crate::webhook::{WebhookUrl, WebhookUrlError};

/// The environment variable holding the webhook URL.
pub const ENV_WEBHOOK_URL: &str = "MAESTRA_SLACK_WEBHOOK_URL";

/// The environment variable holding the fold cooldown in seconds.
pub const ENV_COOLDOWN_S: &str = "MAESTRA_ALERT_COOLDOWN_S";

/// A callback receiving every [`DeliveryEvent`], on the alerter's thread.
pub type EventCallback = Arc<dyn Fn(&DeliveryEvent) + Send + Sync>;

/// How an [`Alerter`](crate::Alerter) delivers: the webhook, pacing,
/// retries, timeouts, queue, folding and hooks.
///
/// Built with [`AlerterConfig::new`] (or [`AlerterConfig::disabled`], or
/// [`AlerterConfig::from_env`]) and then the setters below.
///
/// | setter | default | meaning |
/// |---|---|---|
/// | `webhook` | none | none: every call answers `Disabled` |
/// | `cooldown` | 300 s | repeats of a fold key inside it are folded |
/// | `min_interval` | 1 s | least time between two webhook requests |
/// | `max_attempts` | 4 | HTTP attempts per message, the first included |
/// | `backoff` | 1 s | first pause after a `5xx` or transport error |
/// | `max_backoff` | 30 s | cap of that pause, which doubles per retry |
/// | `max_retry_after` | 30 s | cap of a `429`'s `Retry-After` |
/// | `connect_timeout` | 5 s | to open the connection (TCP and TLS) |
/// | `timeout` | 10 s | for a whole request, connection included |
/// | `queue_capacity` | 256 | waiting alerts; more are dropped, counted |
/// | `drain_on_drop` | 2 s | queue drain when the last handle drops |
/// | `on_event` | none | callback: sent, failed, dropped, folded |
/// | `clock` | [`SystemClock`] | time source of the fold cooldown |
///
/// [`from_env`](Self::from_env) reads `cooldown` from
/// `MAESTRA_ALERT_COOLDOWN_S`.
#[derive(Clone)]
pub struct AlerterConfig {
    pub(crate) webhook: Option<WebhookUrl>,
    pub(crate) cooldown: Duration,
    pub(crate) min_interval: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) drain_on_drop: Duration,
    pub(crate) on_event: Option<EventCallback>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// The environment held a value the alerter cannot use.
///
/// The message names the variable; for the webhook it never repeats the
/// value, which is a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `MAESTRA_SLACK_WEBHOOK_URL` is not an acceptable webhook URL.
    #[error("invalid {ENV_WEBHOOK_URL}: {0}")]
    Webhook(#[source] WebhookUrlError),
    /// `MAESTRA_ALERT_COOLDOWN_S` is not a whole number of seconds.
    #[error(
        "invalid {ENV_COOLDOWN_S}={value:?}: expected a whole number of \
         seconds"
    )]
    Cooldown {
        /// The value found.
        value: String,
    },
}

impl Default for AlerterConfig {
    fn default() -> Self {
        AlerterConfig {
            webhook: None,
            cooldown: Duration::from_secs(300),
            min_interval: Duration::from_secs(1),
            max_attempts: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            queue_capacity: 256,
            drain_on_drop: Duration::from_secs(2),
            on_event: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl AlerterConfig {
    /// The defaults, delivering to `webhook`.
    pub fn new(webhook: WebhookUrl) -> Self {
        AlerterConfig::default().webhook(Some(webhook))
    }

    /// The defaults with no webhook: alerts are disabled.
    pub fn disabled() -> Self {
        AlerterConfig::default()
    }

    /// The defaults, with the webhook from `MAESTRA_SLACK_WEBHOOK_URL`
    /// (unset or empty: disabled) and the cooldown from
    /// `MAESTRA_ALERT_COOLDOWN_S` (unset or empty: 300).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when either variable is set to something unusable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) reading variables through `lookup`.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = AlerterConfig::default();

        if let Some(url) = lookup(ENV_WEBHOOK_URL) {
            let url = url.trim();
            if !url.is_empty() {
                let url =
                    WebhookUrl::parse(url).map_err(ConfigError::Webhook)?;
                config.webhook = Some(url);
            }
        }

        if let Some(value) = lookup(ENV_COOLDOWN_S) {
            let trimmed = value.trim();
            if !trimmed.is_empty() {
                let secs = trimmed.parse::<u64>().map_err(|_| {
                    ConfigError::Cooldown { value: value.clone() }
                })?;
                config.cooldown = Duration::from_secs(secs);
            }
        }

        Ok(config)
    }

    /// Sets or clears the webhook; `None` disables alerts.
    pub fn webhook(mut self, webhook: Option<WebhookUrl>) -> Self {
        self.webhook = webhook;
        self
    }

    /// Sets the fold cooldown; zero turns folding off.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Sets the least time between two requests to the webhook.
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// Sets the HTTP attempts per message, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first retry wait after a `5xx` or transport error.
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the cap of the doubling retry wait.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Sets the cap of a `429`'s `Retry-After`.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Sets the connection timeout (TCP and TLS).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout of a whole request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how many alerts may wait (at least 1).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Sets how long dropping the last [`Alerter`](crate::Alerter) handle
    /// may spend draining the queue.
    pub fn drain_on_drop(mut self, wait: Duration) -> Self {
        self.drain_on_drop = wait;
        self
    }

    /// Sets the callback receiving every [`DeliveryEvent`]. It runs on the
    /// alerter's thread, so it should be quick; a panic in it is caught.
    /// It should not own a clone of the [`Alerter`](crate::Alerter): the
    /// alerter owns the callback, and the cycle would keep both alive.
    pub fn on_event(
        mut self,
        callback: impl Fn(&DeliveryEvent) + Send + Sync + 'static,
    ) -> Self {
        self.on_event = Some(Arc::new(callback));
        self
    }

    /// Sets the clock of the fold cooldown.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The webhook, if any.
    pub fn webhook_url(&self) -> Option<&WebhookUrl> {
        self.webhook.as_ref()
    }

    /// The fold cooldown.
    pub fn cooldown_duration(&self) -> Duration {
        self.cooldown
    }
}

impl fmt::Debug for AlerterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlerterConfig")
            .field("webhook", &self.webhook)
            .field("cooldown", &self.cooldown)
            .field("min_interval", &self.min_interval)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_retry_after", &self.max_retry_after)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("queue_capacity", &self.queue_capacity)
            .field("drain_on_drop", &self.drain_on_drop)
            .field("on_event", &self.on_event.as_ref().map(|_| "<callback>"))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(
        vars: &'a [(&'a str, &'a str)],
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        }
    }

    /// Variables set, and the enabled flag and cooldown expected (`None`:
    /// an error).
    type EnvCase<'a> = (&'a [(&'a str, &'a str)], Option<(bool, u64)>);

    #[test]
    fn environment_table() {
        let hook = "https://hooks.slack.com/services/T0AAA/B0BBB/CCCSECRET";
        let cases: &[EnvCase<'_>] = &[
            (&[], Some((false, 300))),
            (&[(ENV_WEBHOOK_URL, "")], Some((false, 300))),
            (&[(ENV_WEBHOOK_URL, hook)], Some((true, 300))),
            (&[(ENV_COOLDOWN_S, "60")], Some((false, 60))),
            (&[(ENV_COOLDOWN_S, " 0 ")], Some((false, 0))),
            (&[(ENV_COOLDOWN_S, "")], Some((false, 300))),
            (&[(ENV_COOLDOWN_S, "abc")], None),
            (&[(ENV_COOLDOWN_S, "-1")], None),
            (&[(ENV_WEBHOOK_URL, "http://hooks.slack.com/x")], None),
        ];
        for (vars, want) in cases {
            let got = AlerterConfig::from_lookup(lookup(vars));
            match (got, want) {
                (Ok(config), Some((enabled, secs))) => {
                    assert_eq!(config.webhook.is_some(), *enabled, "{vars:?}");
                    assert_eq!(config.cooldown.as_secs(), *secs, "{vars:?}");
                }
                (Err(_), None) => {}
                (got, want) => panic!("{vars:?}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn errors_name_the_variable_not_the_secret() {
        let secret = "http://hooks.slack.com/services/T0/B0/TOKENSECRET";
        let vars = [(ENV_WEBHOOK_URL, secret)];
        let err = AlerterConfig::from_lookup(lookup(&vars)).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(
                shown.contains(ENV_WEBHOOK_URL) || shown.contains("Webhook")
            );
            assert!(!shown.contains("TOKENSECRET"), "{shown}");
        }

        let vars = [(ENV_COOLDOWN_S, "abc")];
        let err = AlerterConfig::from_lookup(lookup(&vars)).unwrap_err();
        assert!(err.to_string().contains(ENV_COOLDOWN_S), "{err}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let url = WebhookUrl::parse(
            "https://hooks.slack.com/services/T0TEAM/B0HOOK/TOKENSECRET",
        )
        .unwrap();
        let config = AlerterConfig::new(url).on_event(|_| {});
        let shown = format!("{config:?}");
        assert!(shown.contains("<callback>"), "{shown}");
        for secret in ["TEAM", "B0HOOK", "TOKENSECRET"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
