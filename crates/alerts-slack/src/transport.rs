//! One HTTP POST to the webhook with ureq, and what its answer means.

use std::io;
use std::time::Duration;

use crate::config::AlerterConfig;
use crate::event::DeliveryError;
use crate::webhook::WebhookUrl;

/// Most bytes of a response body read for an error message.
const BODY_READ_LIMIT: u64 = 4096;

/// Most characters of a response body kept in an error.
const BODY_KEEP_CHARS: usize = 200;

/// What one attempt tells the retry loop.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Slack accepted the message.
    Delivered,
    /// `429`: wait this long (uncapped, from `Retry-After`) and retry.
    RateLimited(Option<Duration>),
    /// Worth retrying after a backoff.
    Retry(DeliveryError),
    /// Retrying will not help.
    Fatal(DeliveryError),
}

/// Posts JSON bodies to one webhook.
pub(crate) struct Transport {
    agent: ureq::Agent,
    webhook: WebhookUrl,
}

impl Transport {
    /// An agent with the configured timeouts, reading every status as a
    /// response and following no redirect.
    pub(crate) fn new(webhook: WebhookUrl, config: &AlerterConfig) -> Self {
        let mut builder = ureq::Agent::config_builder()
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("alerts-slack/", env!("CARGO_PKG_VERSION")));

        // A proxy from the environment must not capture local fakes.
        if webhook.is_loopback() {
            builder = builder.proxy(None);
        }

        let agent = ureq::Agent::new_with_config(builder.build());
        Transport { agent, webhook }
    }

    /// Posts `body`; `timeout` shortens the whole exchange (used when a
    /// shutdown deadline is near).
    pub(crate) fn post(
        &self,
        body: &str,
        timeout: Option<Duration>,
    ) -> Attempt {
        let mut request = self
            .agent
            .post(self.webhook.expose_secret())
            .header("Content-Type", "application/json");
        if let Some(timeout) = timeout {
            request = request.config().timeout_global(Some(timeout)).build();
        }

        let mut response = match request.send(body) {
            Ok(response) => response,
            Err(err) => return self.classify_error(err),
        };

        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Attempt::Delivered;
        }
        if status == 429 {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Attempt::RateLimited(wait);
        }

        let text = response
            .body_mut()
            .with_config()
            .limit(BODY_READ_LIMIT)
            .read_to_string()
            .unwrap_or_default();
        let body = self.clean_body(&text);
        if status >= 500 {
            Attempt::Retry(DeliveryError::Server { status, body })
        } else {
            Attempt::Fatal(DeliveryError::Rejected { status, body })
        }
    }

    /// Maps a ureq error to our words; ureq's own messages can quote the
    /// URL, so none of them is kept.
    fn classify_error(&self, err: ureq::Error) -> Attempt {
        use ureq::Error as E;
        match err {
            E::Timeout(_) => Attempt::Retry(DeliveryError::Timeout),
            E::Io(io) => {
                let error = match io.kind() {
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                        DeliveryError::Timeout
                    }
                    kind => DeliveryError::Connect(io_kind_text(kind)),
                };
                Attempt::Retry(error)
            }
            E::HostNotFound => Attempt::Retry(DeliveryError::Connect(
                "host name not resolved".to_owned(),
            )),
            E::ConnectionFailed => Attempt::Retry(DeliveryError::Connect(
                "connection failed".to_owned(),
            )),
            E::Protocol(_) | E::BodyStalled => Attempt::Retry(
                DeliveryError::Transport("malformed HTTP answer".to_owned()),
            ),
            E::Tls(_) => Attempt::Fatal(DeliveryError::Transport(
                "TLS failure".to_owned(),
            )),
            E::BadUri(_) | E::Http(_) | E::RequireHttpsOnly(_) => {
                Attempt::Fatal(DeliveryError::Transport(
                    "the webhook URL was refused by the HTTP client".to_owned(),
                ))
            }
            _ => Attempt::Retry(DeliveryError::Transport(
                "HTTP client failure".to_owned(),
            )),
        }
    }

    /// Trims and cuts a response body, hiding the URL should it be there.
    fn clean_body(&self, text: &str) -> String {
        let text = text.trim();
        let text =
            text.replace(self.webhook.expose_secret(), self.webhook.redacted());
        match text.char_indices().nth(BODY_KEEP_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        }
    }
}

/// A short, stable description of a socket failure.
fn io_kind_text(kind: io::ErrorKind) -> String {
    let text = match kind {
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::ConnectionReset => "connection reset",
        io::ErrorKind::ConnectionAborted => "connection aborted",
        io::ErrorKind::NotConnected => "not connected",
        io::ErrorKind::AddrNotAvailable => "address not available",
        io::ErrorKind::BrokenPipe => "connection closed",
        io::ErrorKind::UnexpectedEof => "connection closed early",
        _ => return format!("socket error ({kind:?})"),
    };
    text.to_owned()
}
