//! The chat exchange: what a client sends and what it gets back.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::ids::{is_valid_id, MAX_ID_LEN};

/// Longest message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 32_768;

/// A validated chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The user's message, 1 to [`MAX_MESSAGE_CHARS`] characters.
    pub message: String,
    /// Who sent it.
    pub user_id: String,
    /// Where it was sent from; `unknown` when not given.
    pub surface_id: String,
    /// The conversation it continues, if the client named one.
    pub conversation_id: Option<String>,
    /// How to answer; `advisor` when not given.
    pub mode: String,
}

/// What the client sent that can still go into the record when the
/// request as a whole is refused: only fields that are valid identifiers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    /// `user_id`, when valid.
    pub user_id: Option<String>,
    /// `surface_id`, when valid.
    pub surface_id: Option<String>,
    /// `conversation_id`, when valid.
    pub conversation_id: Option<String>,
    /// `mode`, when valid.
    pub mode: Option<String>,
}

/// The successful answer.
#[derive(Debug, Serialize)]
pub struct ChatReply<'a> {
    /// The request's id, as in the `X-Request-Id` header.
    pub request_id: &'a str,
    /// The conversation, given or generated.
    pub conversation_id: &'a str,
    /// The mode answered in.
    pub mode: &'a str,
    /// The answer's text.
    pub reply: &'a str,
    /// Tokens used.
    pub tokens: u64,
    /// `tokens / 1000 * price`.
    pub cost_usd: f64,
    /// Time from the request's arrival to this answer.
    pub latency_ms: u64,
}

/// Parses and checks a chat body. On failure the error names the field,
/// and `Known` holds whatever identifiers were valid, for the record.
pub fn parse(body: &[u8]) -> Result<ChatRequest, Box<(ApiError, Known)>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let why = if e.is_eof() {
            "the body is empty or cut short".to_string()
        } else if e.is_syntax() || e.is_data() {
            format!("the body is not valid JSON ({e})")
        } else {
            "the body could not be read as JSON".to_string()
        };
        Box::new((ApiError::invalid(why), Known::default()))
    })?;
    let Value::Object(obj) = value else {
        return Err(Box::new((
            ApiError::invalid("the body must be a JSON object"),
            Known::default(),
        )));
    };

    let known = Known {
        user_id: valid_id(&obj, "user_id"),
        surface_id: valid_id(&obj, "surface_id"),
        conversation_id: valid_id(&obj, "conversation_id"),
        mode: valid_id(&obj, "mode"),
    };
    check(&obj).map_err(|e| Box::new((e, known)))
}

fn check(obj: &Map<String, Value>) -> Result<ChatRequest, ApiError> {
    let message = match obj.get("message") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(ApiError::invalid("message must be a string")),
        None => return Err(ApiError::invalid("message is required")),
    };
    let chars = message.chars().count();
    if chars == 0 || chars > MAX_MESSAGE_CHARS {
        return Err(ApiError::invalid(format!(
            "message must be 1 to {MAX_MESSAGE_CHARS} characters, not {chars}"
        )));
    }

    let user_id = match id_field(obj, "user_id")? {
        Some(id) => id,
        None => return Err(ApiError::invalid("user_id is required")),
    };

    Ok(ChatRequest {
        message: message.clone(),
        user_id,
        surface_id: id_field(obj, "surface_id")?
            .unwrap_or_else(|| "unknown".to_string()),
        conversation_id: id_field(obj, "conversation_id")?,
        mode: id_field(obj, "mode")?.unwrap_or_else(|| "advisor".to_string()),
    })
}

/// An optional identifier field: absent or null is `None`; present, it
/// must be a string of the identifier shape.
fn id_field(
    obj: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if is_valid_id(s) => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ApiError::invalid(format!(
            "{name} must be 1 to {MAX_ID_LEN} characters of A-Z a-z 0-9 \
             _ . : @ -"
        ))),
        Some(_) => Err(ApiError::invalid(format!("{name} must be a string"))),
    }
}

fn valid_id(obj: &Map<String, Value>, name: &str) -> Option<String> {
    match obj.get(name) {
        Some(Value::String(s)) if is_valid_id(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_request() {
        let r = parse(
            br#"{"message":"What next?","user_id":"jh","surface_id":"windsurf",
                "conversation_id":"conv_1","mode":"coach"}"#,
        )
        .unwrap();
        assert_eq!(r.message, "What next?");
        assert_eq!(r.surface_id, "windsurf");
        assert_eq!(r.conversation_id.as_deref(), Some("conv_1"));
        assert_eq!(r.mode, "coach");
    }

    #[test]
    fn defaults() {
        let r = parse(br#"{"message":"hi","user_id":"u"}"#).unwrap();
        assert_eq!(r.surface_id, "unknown");
        assert_eq!(r.mode, "advisor");
        assert_eq!(r.conversation_id, None);
    }

    #[test]
    fn refusals_name_the_problem() {
        let long = format!(
            r#"{{"message":"{}","user_id":"u"}}"#,
            "é".repeat(MAX_MESSAGE_CHARS + 1)
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let cases: Vec<(&[u8], &str)> = vec![
            (b"", "empty"),
            (b"{", "cut short"),
            (b"not json", "not valid JSON"),
            (b"[1,2]", "JSON object"),
            (deep.as_bytes(), "JSON"),
            (br#"{"user_id":"u"}"#, "message is required"),
            (br#"{"message":5,"user_id":"u"}"#, "message must be a string"),
            (br#"{"message":"","user_id":"u"}"#, "1 to 32768"),
            (long.as_bytes(), "not 32769"),
            (br#"{"message":"hi"}"#, "user_id is required"),
            (br#"{"message":"hi","user_id":7}"#, "user_id must be a string"),
            (br#"{"message":"hi","user_id":"a b"}"#, "user_id must be 1"),
            (
                br#"{"message":"hi","user_id":"u","surface_id":"x\ny"}"#,
                "surface_id must be 1",
            ),
            (b"\xff\xfe", "JSON"),
        ];
        for (body, want) in cases {
            let (err, _) = *parse(body).unwrap_err();
            assert_eq!(err.code, "invalid_request");
            assert!(err.message.contains(want), "{want}: {}", err.message);
        }
    }

    #[test]
    fn valid_identifiers_survive_a_refusal() {
        let (_, known) =
            *parse(br#"{"message":"","user_id":"u1","surface_id":"bad id"}"#)
                .unwrap_err();
        assert_eq!(known.user_id.as_deref(), Some("u1"));
        assert_eq!(known.surface_id, None);
    }
}
