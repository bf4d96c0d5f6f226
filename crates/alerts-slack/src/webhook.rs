//! [`WebhookUrl`]: a validated webhook address that never shows its secret.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A Slack incoming-webhook URL, checked and kept secret.
///
/// The path of a webhook URL is its credential, so the whole URL is never
/// shown: [`Debug`](fmt::Debug) and [`Display`](fmt::Display) print a
/// redacted form, `https://hooks.slack.com/services/T0…/***` (scheme,
/// host, and the first two characters of the segment after `/services/`),
/// or `https://host/***` for other paths.
///
/// Accepted: `https://` URLs with a host, and plain `http://` only for
/// loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`), which is what
/// local fakes and tests use. Rejected: other schemes, a missing host,
/// user information (`user@host`), whitespace and control characters.
///
/// ```
/// use alerts_slack::WebhookUrl;
///
/// let url: WebhookUrl =
///     "https://hooks.slack.com/services/T0123/B0456/secret".parse()?;
/// assert_eq!(url.to_string(), "https://hooks.slack.com/services/T0…/***");
/// assert!("http://hooks.slack.com/x".parse::<WebhookUrl>().is_err());
/// # Ok::<(), alerts_slack::WebhookUrlError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    full: String,
    redacted: String,
    loopback: bool,
}

/// Why a webhook URL was refused. The messages never repeat the URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookUrlError {
    /// The URL is empty.
    #[error("failed to use webhook URL: it is empty")]
    Empty,
    /// The URL holds whitespace or control characters.
    #[error(
        "failed to use webhook URL: it contains whitespace or control \
         characters"
    )]
    InvalidCharacter,
    /// The scheme is neither `https` nor `http`.
    #[error("failed to use webhook URL: the scheme must be https")]
    UnsupportedScheme,
    /// Plain `http` with a host that is not loopback.
    #[error(
        "failed to use webhook URL: plain http is allowed only for \
         loopback hosts; use https"
    )]
    InsecureHttp,
    /// No host after the scheme, or a malformed one.
    #[error("failed to use webhook URL: the host is missing or malformed")]
    InvalidHost,
    /// `user:password@` before the host.
    #[error(
        "failed to use webhook URL: user information before the host is \
         not allowed"
    )]
    UserInfo,
}

impl WebhookUrl {
    /// Checks `url` and wraps it.
    ///
    /// # Errors
    ///
    /// A [`WebhookUrlError`] naming the rule the URL breaks.
    pub fn parse(url: &str) -> Result<Self, WebhookUrlError> {
        if url.is_empty() {
            return Err(WebhookUrlError::Empty);
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(WebhookUrlError::InvalidCharacter);
        }

        let (scheme, rest) =
            url.split_once("://").ok_or(WebhookUrlError::UnsupportedScheme)?;
        let secure = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(WebhookUrlError::UnsupportedScheme);
        };

        // The authority runs to the first `/`, `?` or `#`.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err(WebhookUrlError::UserInfo);
        }
        let host = host_of(authority).ok_or(WebhookUrlError::InvalidHost)?;

        let loopback = is_loopback(host);
        if !secure && !loopback {
            return Err(WebhookUrlError::InsecureHttp);
        }

        let scheme = if secure { "https" } else { "http" };
        Ok(WebhookUrl {
            full: url.to_owned(),
            redacted: redact(scheme, authority, path),
            loopback,
        })
    }

    /// The whole URL, secret included. Pass it only to the HTTP client.
    pub fn expose_secret(&self) -> &str {
        &self.full
    }

    /// The redacted form shown by `Debug` and `Display`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Whether the host is loopback (a local fake or test server).
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }
}

impl FromStr for WebhookUrl {
    type Err = WebhookUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WebhookUrl::parse(s)
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WebhookUrl").field(&self.redacted).finish()
    }
}

/// The host of `authority` (which may end in `:port`), if well formed.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner.split_once(']')?;
        if v6.is_empty()
            || !v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
        {
            return None;
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (&authority[..v6.len() + 2], port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
        if host.is_empty() || !host.chars().all(ok) {
            return None;
        }
        (host, port)
    };

    if let Some(port) = port {
        port.parse::<u16>().ok()?;
    }
    Some(host)
}

/// Whether `host` (as written in the URL) names this machine.
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host == "[::1]" {
        return true;
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// `scheme://authority` and a path hiding everything after two characters
/// of the first segment past `/services/`.
fn redact(scheme: &str, authority: &str, path: &str) -> String {
    let shown = path
        .strip_prefix("/services/")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let prefix: String = segment.chars().take(2).collect();
            format!("/services/{prefix}…/***")
        })
        .unwrap_or_else(|| "/***".to_owned());
    format!("{scheme}://{}{shown}", authority.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_table() {
        use WebhookUrlError::*;
        let cases: &[(&str, Result<&str, WebhookUrlError>)] = &[
            (
                "https://hooks.slack.com/services/T0123/B0456/XYZsecret",
                Ok("https://hooks.slack.com/services/T0…/***"),
            ),
            (
                "HTTPS://Hooks.Slack.com/services/T0123/B0456/XYZsecret",
                Ok("https://hooks.slack.com/services/T0…/***"),
            ),
            (
                "https://hooks.slack.com/workflows/T0123/A1/secret",
                Ok("https://hooks.slack.com/***"),
            ),
            ("https://example.com", Ok("https://example.com/***")),
            (
                "https://hooks.slack.com:443/services/T",
                Ok("https://hooks.slack.com:443/services/T…/***"),
            ),
            (
                "http://127.0.0.1:8080/services/TA/B/C",
                Ok("http://127.0.0.1:8080/services/TA…/***"),
            ),
            ("http://127.9.9.9/hook", Ok("http://127.9.9.9/***")),
            (
                "http://localhost:9/services/T0/B/C",
                Ok("http://localhost:9/services/T0…/***"),
            ),
            ("http://[::1]:9/x", Ok("http://[::1]:9/***")),
            ("", Err(Empty)),
            ("https://hooks.slack.com/ x", Err(InvalidCharacter)),
            ("https://hooks.slack.com/\nx", Err(InvalidCharacter)),
            ("ftp://hooks.slack.com/x", Err(UnsupportedScheme)),
            ("hooks.slack.com/services/x", Err(UnsupportedScheme)),
            ("http://hooks.slack.com/services/T0/B/C", Err(InsecureHttp)),
            ("http://128.0.0.1/x", Err(InsecureHttp)),
            ("http://10.0.0.1/x", Err(InsecureHttp)),
            ("http://[::2]/x", Err(InsecureHttp)),
            ("http://localhost.evil.com/x", Err(InsecureHttp)),
            ("https:///services/T0/B/C", Err(InvalidHost)),
            ("https://host:99999/x", Err(InvalidHost)),
            ("https://host:/x", Err(InvalidHost)),
            ("https://ho_st/x", Err(InvalidHost)),
            ("https://[::1/x", Err(InvalidHost)),
            ("https://user:pw@hooks.slack.com/x", Err(UserInfo)),
        ];
        for (input, want) in cases {
            let got = WebhookUrl::parse(input);
            match (got, want) {
                (Ok(url), Ok(shown)) => {
                    assert_eq!(url.to_string(), *shown, "{input:?}");
                    assert_eq!(url.expose_secret(), *input);
                }
                (Err(err), Err(want)) => assert_eq!(&err, want, "{input:?}"),
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn loopback_is_recognised() {
        let cases = [
            ("http://127.0.0.1:1/x", true),
            ("http://localhost/x", true),
            ("https://[::1]/x", true),
            ("https://hooks.slack.com/x", false),
        ];
        for (input, want) in cases {
            assert_eq!(WebhookUrl::parse(input).unwrap().is_loopback(), want);
        }
    }

    #[test]
    fn no_output_shows_the_secret() {
        let url = WebhookUrl::parse(
            "https://hooks.slack.com/services/T0TEAM/B0HOOK/TOKENSECRET",
        )
        .unwrap();
        for shown in [format!("{url}"), format!("{url:?}"), format!("{url:#?}")]
        {
            for secret in ["TEAM", "B0HOOK", "TOKENSECRET"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }
}
