//! Who answers a chat message: the built-in local responder, or an
//! OpenAI-compatible upstream.

use std::time::Duration;

use serde_json::{json, Value};

use crate::config::Upstream;

/// An answer to one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The text returned to the client.
    pub reply: String,
    /// Tokens used, as the upstream reports them or estimated.
    pub tokens: u64,
}

/// Why the upstream gave no answer. Messages never hold the URL or key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpstreamError {
    /// No answer within the configured time.
    #[error("the upstream did not answer within {0} s")]
    Timeout(u64),
    /// The connection could not be made or broke.
    #[error("could not reach the upstream: {0}")]
    Unreachable(String),
    /// The upstream answered with a failure status.
    #[error("the upstream answered with status {0}")]
    Status(u16),
    /// The upstream answered 2xx with something that is not a completion.
    #[error("the upstream answer is not a chat completion: {0}")]
    BadAnswer(&'static str),
}

/// Answers chat messages.
pub enum Responder {
    /// Deterministic answers made from the message, without a network.
    Local,
    /// Answers from an OpenAI-compatible service.
    Remote { agent: ureq::Agent, upstream: Upstream },
}

impl Responder {
    /// The responder the configuration asks for.
    pub fn new(upstream: Option<Upstream>) -> Responder {
        match upstream {
            None => Responder::Local,
            Some(upstream) => {
                let config = ureq::Agent::config_builder()
                    .timeout_global(Some(upstream.timeout))
                    .timeout_connect(Some(
                        upstream.timeout.min(Duration::from_secs(10)),
                    ))
                    .http_status_as_error(false)
                    .user_agent(concat!(
                        "maestra-backend/",
                        env!("CARGO_PKG_VERSION")
                    ))
                    .build();
                let agent = ureq::Agent::new_with_config(config);
                Responder::Remote { agent, upstream }
            }
        }
    }

    /// A short name for logs: `local` or `upstream`.
    pub fn kind(&self) -> &'static str {
        match self {
            Responder::Local => "local",
            Responder::Remote { .. } => "upstream",
        }
    }

    /// Answers `message`. Blocking for the upstream: call it from a
    /// blocking-capable thread.
    pub fn answer(&self, message: &str) -> Result<Answer, UpstreamError> {
        match self {
            Responder::Local => Ok(local_answer(message)),
            Responder::Remote { agent, upstream } => {
                remote_answer(agent, upstream, message)
            }
        }
    }
}

/// A reply chosen from the message's content, the same every time for the
/// same message, with tokens estimated at four characters each.
pub fn local_answer(message: &str) -> Answer {
    const NEXT_STEPS: &[&str] = &[
        "Write down the one outcome that matters most this week.",
        "Pick the smallest task that moves it forward and start it now.",
        "List what is blocking you and ask for help on the first item.",
        "Review yesterday's notes and close one open loop.",
        "Block an hour without meetings for the hardest piece.",
    ];
    let hash = message.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let words = message.split_whitespace().count();
    let step = NEXT_STEPS[(hash % NEXT_STEPS.len() as u64) as usize];
    let reply = format!(
        "Maestra (local responder) read your {words}-word message. \
         Suggested next step: {step}"
    );
    let tokens = estimate_tokens(message) + estimate_tokens(&reply);
    Answer { reply, tokens }
}

/// Roughly four characters a token, at least one.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

fn remote_answer(
    agent: &ureq::Agent,
    upstream: &Upstream,
    message: &str,
) -> Result<Answer, UpstreamError> {
    let url = format!("{}/chat/completions", upstream.base_url);
    let mut body = json!({
        "messages": [{ "role": "user", "content": message }],
    });
    if let Some(model) = &upstream.model {
        body["model"] = json!(model);
    }

    let mut request =
        agent.post(&url).header("content-type", "application/json");
    if let Some(key) = &upstream.api_key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let timeout_s = upstream.timeout.as_secs();
    let mut response =
        request.send_json(&body).map_err(|e| map_error(e, timeout_s))?;

    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(UpstreamError::Status(status));
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(4 << 20)
        .read_to_string()
        .map_err(|e| map_error(e, timeout_s))?;
    parse_completion(&text, message)
}

/// Reads the reply text and the token count out of a completion.
fn parse_completion(
    text: &str,
    message: &str,
) -> Result<Answer, UpstreamError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|_| UpstreamError::BadAnswer("not JSON"))?;
    let reply = value
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or(UpstreamError::BadAnswer("no choices[0].message.content"))?
        .to_string();
    let tokens = value
        .pointer("/usage/total_tokens")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| estimate_tokens(message) + estimate_tokens(&reply));
    Ok(Answer { reply, tokens })
}

/// ureq's own messages can name the URL, so only the kind is kept.
fn map_error(e: ureq::Error, timeout_s: u64) -> UpstreamError {
    match e {
        ureq::Error::Timeout(_) => UpstreamError::Timeout(timeout_s),
        ureq::Error::Io(io) => {
            UpstreamError::Unreachable(io.kind().to_string())
        }
        ureq::Error::HostNotFound => {
            UpstreamError::Unreachable("host not found".into())
        }
        ureq::Error::Protocol(_) => {
            UpstreamError::Unreachable("malformed HTTP answer".into())
        }
        ureq::Error::BodyExceedsLimit(_) => {
            UpstreamError::BadAnswer("answer over 4 MiB")
        }
        _ => UpstreamError::Unreachable("request failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_answers_are_deterministic() {
        let a = local_answer("What should I do next?");
        let b = local_answer("What should I do next?");
        assert_eq!(a, b);
        assert!(a.reply.contains("5-word message"));
        assert!(a.tokens >= estimate_tokens("What should I do next?"));
    }

    #[test]
    fn token_estimate() {
        assert_eq!(estimate_tokens(""), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("éééé"), 1);
    }

    #[test]
    fn completions() {
        let ok = r#"{"choices":[{"message":{"role":"assistant",
            "content":"Hi"}}],"usage":{"total_tokens":42}}"#;
        assert_eq!(
            parse_completion(ok, "x").unwrap(),
            Answer { reply: "Hi".into(), tokens: 42 }
        );
        let no_usage = r#"{"choices":[{"message":{"content":"Hello"}}]}"#;
        assert_eq!(parse_completion(no_usage, "abcd").unwrap().tokens, 3);
        for bad in ["", "garbage", "{}", r#"{"choices":[]}"#] {
            assert!(parse_completion(bad, "x").is_err(), "{bad}");
        }
    }
}
