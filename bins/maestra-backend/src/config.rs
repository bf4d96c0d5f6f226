//! Start-up configuration, read once from the environment.
//!
//! Every variable has a default, so the server starts with nothing set.
//! A malformed value stops start-up with a one-line error that names the
//! variable; values of secret variables are never repeated in that error.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use log_json::Level;

/// One environment variable the server reads: its name, the default shown
/// by `--help`, and what it means.
struct Var {
    name: &'static str,
    default: &'static str,
    meaning: &'static str,
}

/// Every variable, in the order `--help` lists them.
const VARS: &[Var] = &[
    Var {
        name: "MAESTRA_BIND",
        default: "127.0.0.1:8825",
        meaning: "listen address (unset with PORT set: 0.0.0.0:$PORT)",
    },
    Var {
        name: "MAESTRA_METRICS_PATH",
        default: "~/.8825/maestra_metrics.jsonl",
        meaning: "per-request metrics file (parent created)",
    },
    Var {
        name: "MAESTRA_LOG_DIR",
        default: "~/Library/Logs on macOS, ~/.8825/logs elsewhere",
        meaning: "holds maestra_backend.log and maestra_backend_error.log",
    },
    Var {
        name: "MAESTRA_LOG_LEVEL",
        default: "INFO",
        meaning: "DEBUG, INFO, WARNING, ERROR or CRITICAL",
    },
    Var {
        name: "MAESTRA_LOG_STDOUT",
        default: "0 (1 when REPL_ID is set)",
        meaning: "1: JSON log lines also on stdout",
    },
    Var {
        name: "MAESTRA_LOG_MAX_BYTES",
        default: "10485760",
        meaning: "rotate a log file when it would pass this size",
    },
    Var {
        name: "MAESTRA_LOG_KEEP",
        default: "5",
        meaning: "rotated files kept per log (.1 newest ... .N)",
    },
    Var {
        name: "MAESTRA_SLACK_WEBHOOK_URL",
        default: "unset",
        meaning: "Slack incoming webhook; unset: alerts are only logged",
    },
    Var {
        name: "MAESTRA_ALERT_COOLDOWN_S",
        default: "300",
        meaning: "identical alerts inside this window are folded into one",
    },
    Var {
        name: "MAESTRA_ALERT_WINDOW_S",
        default: "300",
        meaning: "window of the threshold alerts",
    },
    Var {
        name: "MAESTRA_ALERT_CHECK_S",
        default: "10",
        meaning: "how often thresholds are checked",
    },
    Var {
        name: "MAESTRA_ALERT_MIN_REQUESTS",
        default: "20",
        meaning: "fewer requests in the window never fire the error alert",
    },
    Var {
        name: "MAESTRA_ERROR_RATE_THRESHOLD",
        default: "0.05",
        meaning: "error-rate alert above this fraction",
    },
    Var {
        name: "MAESTRA_LATENCY_THRESHOLD_MS",
        default: "1000",
        meaning: "latency alert above this average",
    },
    Var {
        name: "MAESTRA_API_KEYS",
        default: "unset",
        meaning: "comma-separated API keys; unset: no auth",
    },
    Var {
        name: "MAESTRA_RATE_LIMIT",
        default: "100",
        meaning: "API requests allowed per client IP per window",
    },
    Var {
        name: "MAESTRA_RATE_WINDOW_S",
        default: "60",
        meaning: "rate-limit window",
    },
    Var {
        name: "MAESTRA_TRUST_PROXY",
        default: "0",
        meaning: "1: client IP is the first X-Forwarded-For entry",
    },
    Var {
        name: "MAESTRA_DAILY_COST_LIMIT_USD",
        default: "5.00",
        meaning: "UTC-day spend limit",
    },
    Var {
        name: "MAESTRA_PRICE_PER_1K_TOKENS_USD",
        default: "0.002",
        meaning: "cost of a request = tokens / 1000 x price",
    },
    Var {
        name: "MAESTRA_UPSTREAM_URL",
        default: "unset: built-in local responder",
        meaning: "OpenAI-compatible base URL (POST {url}/chat/completions)",
    },
    Var {
        name: "MAESTRA_UPSTREAM_API_KEY",
        default: "unset",
        meaning: "bearer key sent to the upstream",
    },
    Var {
        name: "MAESTRA_UPSTREAM_MODEL",
        default: "unset",
        meaning: "model named in upstream requests",
    },
    Var {
        name: "MAESTRA_UPSTREAM_TIMEOUT_S",
        default: "30",
        meaning: "upstream request timeout",
    },
    Var {
        name: "MAESTRA_CONVERSATION_TTL_S",
        default: "1800",
        meaning:
            "a conversation is active while it had a request this recently",
    },
    Var {
        name: "MAESTRA_MAX_BODY_BYTES",
        default: "65536",
        meaning: "larger request bodies get 413",
    },
    Var {
        name: "MAESTRA_HEADER_TIMEOUT_S",
        default: "10",
        meaning: "a client must send its request head within this time",
    },
    Var {
        name: "MAESTRA_BODY_TIMEOUT_S",
        default: "30",
        meaning: "a client must send its request body within this time",
    },
    Var {
        name: "MAESTRA_HISTORY_INTERVAL_S",
        default: "10",
        meaning: "seconds between the dashboard's history points",
    },
];

/// Variables whose values are secrets: an error about them never shows
/// the value.
const SECRET_VARS: &[&str] = &[
    "MAESTRA_API_KEYS",
    "MAESTRA_SLACK_WEBHOOK_URL",
    "MAESTRA_UPSTREAM_API_KEY",
    "MAESTRA_UPSTREAM_URL",
];

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid {name}{shown}: {reason}")]
pub struct ConfigError {
    name: &'static str,
    shown: String,
    reason: String,
}

impl ConfigError {
    fn new(name: &'static str, value: &str, reason: impl Into<String>) -> Self {
        let shown = if SECRET_VARS.contains(&name) {
            String::new()
        } else {
            format!("={value:?}")
        };
        ConfigError { name, shown, reason: reason.into() }
    }
}

/// The OpenAI-compatible service that answers chat messages.
#[derive(Clone)]
pub struct Upstream {
    /// Base URL; requests go to `{base}/chat/completions`.
    pub base_url: String,
    /// Bearer key, if the upstream needs one.
    pub api_key: Option<String>,
    /// Model named in each request.
    pub model: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base_url", &"***")
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Everything the server reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub metrics_path: PathBuf,
    pub log_dir: PathBuf,
    pub log_level: Level,
    pub log_stdout: bool,
    pub log_max_bytes: u64,
    pub log_keep: usize,
    /// Kept as text: the alerts crate validates and redacts it.
    pub slack_webhook_url: Option<String>,
    pub alert_cooldown: Duration,
    pub alert_window: Duration,
    pub alert_check: Duration,
    pub alert_min_requests: u64,
    pub error_rate_threshold: f64,
    pub latency_threshold_ms: u64,
    pub api_keys: Vec<String>,
    pub rate_limit: u64,
    pub rate_window: Duration,
    pub trust_proxy: bool,
    pub daily_cost_limit_usd: f64,
    pub price_per_1k_tokens_usd: f64,
    pub upstream: Option<Upstream>,
    pub conversation_ttl: Duration,
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub history_interval: Duration,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(&std::env::vars().collect())
    }

    /// Reads the configuration from the given variables; tests use this
    /// to avoid touching the process environment.
    pub fn from_vars(
        vars: &HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let env = Env { vars };
        let home = env.get("HOME").map(PathBuf::from);

        let bind = match env.get("MAESTRA_BIND") {
            Some(v) => parse_addr("MAESTRA_BIND", v)?,
            None => match env.get("PORT") {
                Some(p) => {
                    let port: u16 = p.parse().map_err(|_| {
                        ConfigError::new("PORT", p, "expected a port number")
                    })?;
                    SocketAddr::from(([0, 0, 0, 0], port))
                }
                None => SocketAddr::from(([127, 0, 0, 1], 8825)),
            },
        };

        let metrics_path = match (env.get("MAESTRA_METRICS_PATH"), &home) {
            (Some(p), _) => PathBuf::from(p),
            (None, Some(h)) => metrics_core::metrics_path_under(h),
            (None, None) => {
                return Err(ConfigError::new(
                    "MAESTRA_METRICS_PATH",
                    "",
                    "unset, and HOME is unset too: set one of them",
                ))
            }
        };

        let log_dir = match (env.get("MAESTRA_LOG_DIR"), &home) {
            (Some(d), _) => PathBuf::from(d),
            (None, Some(h)) if cfg!(target_os = "macos") => {
                h.join("Library").join("Logs")
            }
            (None, Some(h)) => h.join(".8825").join("logs"),
            (None, None) => {
                return Err(ConfigError::new(
                    "MAESTRA_LOG_DIR",
                    "",
                    "unset, and HOME is unset too: set one of them",
                ))
            }
        };

        let log_level = match env.get("MAESTRA_LOG_LEVEL") {
            Some(v) => v.parse().map_err(|_| {
                ConfigError::new(
                    "MAESTRA_LOG_LEVEL",
                    v,
                    "expected DEBUG, INFO, WARNING, ERROR or CRITICAL",
                )
            })?,
            None => Level::Info,
        };

        let log_stdout = match env.get("MAESTRA_LOG_STDOUT") {
            Some(v) => parse_bool("MAESTRA_LOG_STDOUT", v)?,
            None => env.get("REPL_ID").is_some(),
        };

        let upstream = match env.get("MAESTRA_UPSTREAM_URL") {
            Some(url) => Some(Upstream {
                base_url: parse_base_url("MAESTRA_UPSTREAM_URL", url)?,
                api_key: env.get("MAESTRA_UPSTREAM_API_KEY").map(String::from),
                model: env.get("MAESTRA_UPSTREAM_MODEL").map(String::from),
                timeout: env.secs("MAESTRA_UPSTREAM_TIMEOUT_S", 30)?,
            }),
            None => None,
        };

        let api_keys = match env.get("MAESTRA_API_KEYS") {
            Some(v) => parse_keys("MAESTRA_API_KEYS", v)?,
            None => Vec::new(),
        };

        Ok(Config {
            bind,
            metrics_path,
            log_dir,
            log_level,
            log_stdout,
            log_max_bytes: env.positive("MAESTRA_LOG_MAX_BYTES", 10_485_760)?,
            log_keep: env.number("MAESTRA_LOG_KEEP", 5)? as usize,
            slack_webhook_url: env
                .get("MAESTRA_SLACK_WEBHOOK_URL")
                .map(String::from),
            alert_cooldown: env
                .secs_or_zero("MAESTRA_ALERT_COOLDOWN_S", 300)?,
            alert_window: env.secs("MAESTRA_ALERT_WINDOW_S", 300)?,
            alert_check: env.secs("MAESTRA_ALERT_CHECK_S", 10)?,
            alert_min_requests: env.number("MAESTRA_ALERT_MIN_REQUESTS", 20)?,
            error_rate_threshold: env
                .fraction("MAESTRA_ERROR_RATE_THRESHOLD", 0.05)?,
            latency_threshold_ms: env
                .positive("MAESTRA_LATENCY_THRESHOLD_MS", 1000)?,
            api_keys,
            rate_limit: env.positive("MAESTRA_RATE_LIMIT", 100)?,
            rate_window: env.secs("MAESTRA_RATE_WINDOW_S", 60)?,
            trust_proxy: match env.get("MAESTRA_TRUST_PROXY") {
                Some(v) => parse_bool("MAESTRA_TRUST_PROXY", v)?,
                None => false,
            },
            daily_cost_limit_usd: env
                .money("MAESTRA_DAILY_COST_LIMIT_USD", 5.0)?,
            price_per_1k_tokens_usd: env
                .money("MAESTRA_PRICE_PER_1K_TOKENS_USD", 0.002)?,
            upstream,
            conversation_ttl: env.secs("MAESTRA_CONVERSATION_TTL_S", 1800)?,
            max_body_bytes: env.positive("MAESTRA_MAX_BODY_BYTES", 65_536)?
                as usize,
            header_timeout: env.secs("MAESTRA_HEADER_TIMEOUT_S", 10)?,
            body_timeout: env.secs("MAESTRA_BODY_TIMEOUT_S", 30)?,
            history_interval: env.secs("MAESTRA_HISTORY_INTERVAL_S", 10)?,
        })
    }

    /// True when requests must carry an API key.
    pub fn auth_enabled(&self) -> bool {
        !self.api_keys.is_empty()
    }
}

/// The text of `--help`: usage and every variable with its default.
pub fn help_text() -> String {
    let mut out = format!(
        "maestra-backend {}\n\
         The Maestra chat backend with metrics, JSON logs and Slack \
         alerts.\n\n\
         Usage: maestra-backend [--help | --version]\n\n\
         Configuration is read from these environment variables:\n\n",
        env!("CARGO_PKG_VERSION")
    );
    for var in VARS {
        out.push_str(&format!(
            "  {:<33} {}\n  {:<33} default: {}\n",
            var.name, var.meaning, "", var.default
        ));
    }
    out.push_str(
        "\nEndpoints: GET /health, GET /metrics, GET /metrics/prometheus,\n\
         GET /dashboard, GET /metrics/history, POST /api/maestra/chat.\n",
    );
    out
}

/// Lookup of variables, treating empty values as unset.
struct Env<'a> {
    vars: &'a HashMap<String, String>,
}

impl Env<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn number(
        &self,
        name: &'static str,
        default: u64,
    ) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                ConfigError::new(name, v, "expected a whole number")
            }),
        }
    }

    fn positive(
        &self,
        name: &'static str,
        default: u64,
    ) -> Result<u64, ConfigError> {
        let n = self.number(name, default)?;
        if n == 0 {
            return Err(ConfigError::new(name, "0", "must be at least 1"));
        }
        Ok(n)
    }

    fn secs(
        &self,
        name: &'static str,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        self.positive(name, default).map(Duration::from_secs)
    }

    fn secs_or_zero(
        &self,
        name: &'static str,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default).map(Duration::from_secs)
    }

    fn money(
        &self,
        name: &'static str,
        default: f64,
    ) -> Result<f64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
                _ => Err(ConfigError::new(
                    name,
                    v,
                    "expected an amount in USD, 0 or more",
                )),
            },
        }
    }

    fn fraction(
        &self,
        name: &'static str,
        default: f64,
    ) -> Result<f64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
                _ => Err(ConfigError::new(
                    name,
                    v,
                    "expected a fraction between 0 and 1",
                )),
            },
        }
    }
}

fn parse_addr(name: &'static str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse().map_err(|_| {
        ConfigError::new(name, v, "expected IP:PORT, e.g. 127.0.0.1:8825")
    })
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(name, v, "expected 1 or 0")),
    }
}

fn parse_keys(name: &'static str, v: &str) -> Result<Vec<String>, ConfigError> {
    let keys: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(String::from)
        .collect();
    if keys.is_empty() {
        return Err(ConfigError::new(name, v, "no key in the list"));
    }
    if keys.iter().any(|k| k.chars().any(|c| c.is_control() || c == ' ')) {
        return Err(ConfigError::new(
            name,
            v,
            "a key holds a space or a control character",
        ));
    }
    Ok(keys)
}

fn parse_base_url(name: &'static str, v: &str) -> Result<String, ConfigError> {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| {
            ConfigError::new(name, v, "expected an http:// or https:// URL")
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ConfigError::new(name, v, "the URL has no host"));
    }
    Ok(v.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> =
            [("HOME".to_string(), "/home/test".to_string())].into();
        for (k, v) in pairs {
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    #[test]
    fn defaults_need_nothing_but_home() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8825");
        assert_eq!(
            c.metrics_path,
            PathBuf::from("/home/test/.8825/maestra_metrics.jsonl")
        );
        assert_eq!(c.rate_limit, 100);
        assert_eq!(c.daily_cost_limit_usd, 5.0);
        assert!(!c.auth_enabled());
        assert!(c.upstream.is_none());
    }

    #[test]
    fn port_is_used_when_bind_is_unset() {
        let c = Config::from_vars(&vars(&[("PORT", "3000")])).unwrap();
        assert_eq!(c.bind.to_string(), "0.0.0.0:3000");
        let c = Config::from_vars(&vars(&[
            ("PORT", "3000"),
            ("MAESTRA_BIND", "127.0.0.1:9"),
        ]))
        .unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:9");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases = [
            ("MAESTRA_RATE_LIMIT", "abc"),
            ("MAESTRA_RATE_LIMIT", "0"),
            ("MAESTRA_BIND", "nowhere"),
            ("MAESTRA_LOG_LEVEL", "LOUD"),
            ("MAESTRA_ERROR_RATE_THRESHOLD", "2"),
            ("MAESTRA_DAILY_COST_LIMIT_USD", "-1"),
            ("MAESTRA_TRUST_PROXY", "maybe"),
            ("MAESTRA_UPSTREAM_URL", "ftp://x"),
        ];
        for (name, value) in cases {
            let err = Config::from_vars(&vars(&[(name, value)])).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(name), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }

    #[test]
    fn secret_values_are_not_repeated() {
        let err = Config::from_vars(&vars(&[(
            "MAESTRA_UPSTREAM_URL",
            "sk-secret-looking",
        )]))
        .unwrap_err();
        assert!(!err.to_string().contains("sk-secret"));
    }

    #[test]
    fn keys_are_split_and_trimmed() {
        let c = Config::from_vars(&vars(&[("MAESTRA_API_KEYS", " a , b,,")]))
            .unwrap();
        assert_eq!(c.api_keys, vec!["a", "b"]);
    }

    #[test]
    fn help_lists_every_variable() {
        let help = help_text();
        for var in VARS {
            assert!(help.contains(var.name));
        }
    }
}
