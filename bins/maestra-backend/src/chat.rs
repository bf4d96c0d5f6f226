//! The chat exchange: what a client sends and what it gets back.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{json, ApiError};
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

impl ChatReply<'_> {
    /// The JSON body: the same bytes as `serde_json::to_vec(self)`,
    /// written by hand because serde's generic path costs several times
    /// as much on the one answer every chat request gets.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            160 + self.request_id.len()
                + self.conversation_id.len()
                + self.mode.len()
                + self.reply.len(),
        );
        out.extend_from_slice(b"{\"request_id\":");
        json::push_str(&mut out, self.request_id);
        out.extend_from_slice(b",\"conversation_id\":");
        json::push_str(&mut out, self.conversation_id);
        out.extend_from_slice(b",\"mode\":");
        json::push_str(&mut out, self.mode);
        out.extend_from_slice(b",\"reply\":");
        json::push_str(&mut out, self.reply);
        out.extend_from_slice(b",\"tokens\":");
        json::push_u64(&mut out, self.tokens);
        out.extend_from_slice(b",\"cost_usd\":");
        json::push_f64(&mut out, self.cost_usd);
        out.extend_from_slice(b",\"latency_ms\":");
        json::push_u64(&mut out, self.latency_ms);
        out.push(b'}');
        out
    }
}

/// Parses and checks a chat body. On failure the error names the field,
/// and `Known` holds whatever identifiers were valid, for the record.
pub fn parse(body: &[u8]) -> Result<ChatRequest, Box<(ApiError, Known)>> {
    // Three ways, from the cheapest: the body as clients send it, read
    // directly; any valid JSON object, read by serde_json into the
    // fields; and the generic parse for the wording of the errors.
    let fields = match plain_fields(body) {
        Some(fields) => fields,
        None => match serde_json::from_slice::<Fields<'_>>(body) {
            Ok(fields) => fields,
            // The typed parse says "invalid type" where the document is
            // valid JSON but not an object, and its wording is not the
            // one clients have seen: the generic parse gives the answer,
            // as it always did. Only malformed bodies pay for the third
            // parse.
            Err(_) => slow_fields(body)?,
        },
    };
    fields.check().map_err(|e| Box::new((e, fields.known())))
}

/// The fields of a body in the shape clients send: one JSON object whose
/// values are all strings without escapes, or null. `None` for anything
/// else, which serde_json then reads.
///
/// serde_json checks the UTF-8 of each string separately, which for
/// short strings costs more than the rest of the parse; here the body is
/// checked once. Whatever this accepts, serde_json reads alike (a test
/// compares the two on generated bodies).
fn plain_fields(body: &[u8]) -> Option<Fields<'_>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut p = Plain { text, at: 0 };
    let mut fields = Fields::default();
    p.skip_ws();
    p.eat(b'{')?;
    p.skip_ws();
    if p.eat(b'}').is_none() {
        loop {
            let key = p.string()?;
            p.skip_ws();
            p.eat(b':')?;
            p.skip_ws();
            let value = if p.text[p.at..].starts_with("null") {
                p.at += 4;
                Field::Null
            } else {
                Field::Str(Cow::Borrowed(p.string()?))
            };
            match key {
                "message" => fields.message = value,
                "user_id" => fields.user_id = value,
                "surface_id" => fields.surface_id = value,
                "conversation_id" => fields.conversation_id = value,
                "mode" => fields.mode = value,
                // Read and dropped, as the other parses do.
                _ => {}
            }
            if !p.more()? {
                break;
            }
        }
    }
    p.skip_ws();
    (p.at == p.text.len()).then_some(fields)
}

/// A cursor over a body for [`plain_fields`].
struct Plain<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Plain<'a> {
    /// Skips JSON whitespace, the four bytes serde_json skips.
    fn skip_ws(&mut self) {
        let rest = &self.text.as_bytes()[self.at..];
        self.at += rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\n' | b'\t' | b'\r'))
            .unwrap_or(rest.len());
    }

    /// After a member: true when a `,` announces another, false at the
    /// closing `}`, `None` for anything else.
    fn more(&mut self) -> Option<bool> {
        self.skip_ws();
        if self.eat(b',').is_some() {
            self.skip_ws();
            Some(true)
        } else {
            self.eat(b'}')?;
            Some(false)
        }
    }

    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.text.as_bytes().get(self.at) == Some(&byte)).then(|| {
            self.at += 1;
        })
    }

    /// A string with neither escapes nor control characters (which
    /// serde_json refuses), without its quotes.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = &self.text.as_bytes()[self.at..];
        let len = json::plain_len(rest);
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        // The quotes are ASCII, so both ends are character boundaries.
        let s = &self.text[self.at..self.at + len];
        self.at += len + 1;
        Some(s)
    }
}

/// The error answers of a body the typed parse refused, worded as the
/// generic parse words them; or, should the generic parse accept an
/// object after all, its fields.
fn slow_fields(body: &[u8]) -> Result<Fields<'_>, Box<(ApiError, Known)>> {
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
    let field = |name: &str| match obj.get(name) {
        None => Field::Absent,
        Some(Value::Null) => Field::Null,
        Some(Value::String(s)) => Field::Str(Cow::Owned(s.clone())),
        Some(_) => Field::Other,
    };
    Ok(Fields {
        message: field("message"),
        user_id: field("user_id"),
        surface_id: field("surface_id"),
        conversation_id: field("conversation_id"),
        mode: field("mode"),
    })
}

/// One field of the body as sent. Strings without escapes borrow from
/// the body, so a valid request costs one copy of each string, into the
/// `ChatRequest`.
#[derive(Default)]
enum Field<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
    /// A number, boolean, array or object.
    Other,
}

/// The fields the chat endpoint reads. A key given twice keeps its last
/// value, as in a `serde_json::Map`; other keys are parsed and dropped.
#[derive(Default)]
struct Fields<'a> {
    message: Field<'a>,
    user_id: Field<'a>,
    surface_id: Field<'a>,
    conversation_id: Field<'a>,
    mode: Field<'a>,
}

impl<'a> Fields<'a> {
    fn check(&self) -> Result<ChatRequest, ApiError> {
        let message = match &self.message {
            Field::Str(s) => s,
            Field::Null | Field::Other => {
                return Err(ApiError::invalid("message must be a string"))
            }
            Field::Absent => {
                return Err(ApiError::invalid("message is required"))
            }
        };
        let chars = message.chars().count();
        if chars == 0 || chars > MAX_MESSAGE_CHARS {
            return Err(ApiError::invalid(format!(
                "message must be 1 to {MAX_MESSAGE_CHARS} characters, not \
                 {chars}"
            )));
        }

        let user_id = match id_field(&self.user_id, "user_id")? {
            Some(id) => id,
            None => return Err(ApiError::invalid("user_id is required")),
        };

        Ok(ChatRequest {
            message: message.to_string(),
            user_id,
            surface_id: id_field(&self.surface_id, "surface_id")?
                .unwrap_or_else(|| "unknown".to_string()),
            conversation_id: id_field(
                &self.conversation_id,
                "conversation_id",
            )?,
            mode: id_field(&self.mode, "mode")?
                .unwrap_or_else(|| "advisor".to_string()),
        })
    }

    /// The valid identifiers, for the record of a refused request.
    fn known(&self) -> Known {
        Known {
            user_id: valid_id(&self.user_id),
            surface_id: valid_id(&self.surface_id),
            conversation_id: valid_id(&self.conversation_id),
            mode: valid_id(&self.mode),
        }
    }
}

/// An optional identifier field: absent or null is `None`; present, it
/// must be a string of the identifier shape.
fn id_field(field: &Field<'_>, name: &str) -> Result<Option<String>, ApiError> {
    match field {
        Field::Absent | Field::Null => Ok(None),
        Field::Str(s) if is_valid_id(s) => Ok(Some(s.to_string())),
        Field::Str(_) => Err(ApiError::invalid(format!(
            "{name} must be 1 to {MAX_ID_LEN} characters of A-Z a-z 0-9 \
             _ . : @ -"
        ))),
        Field::Other => {
            Err(ApiError::invalid(format!("{name} must be a string")))
        }
    }
}

fn valid_id(field: &Field<'_>) -> Option<String> {
    match field {
        Field::Str(s) if is_valid_id(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The keys of [`Fields`], and every other key.
enum Key {
    Message,
    UserId,
    SurfaceId,
    ConversationId,
    Mode,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "message" => Key::Message,
                    "user_id" => Key::UserId,
                    "surface_id" => Key::SurfaceId,
                    "conversation_id" => Key::ConversationId,
                    "mode" => Key::Mode,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields<'de>, A::Error> {
                let mut fields = Fields::default();
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::Message => &mut fields.message,
                        Key::UserId => &mut fields.user_id,
                        Key::SurfaceId => &mut fields.surface_id,
                        Key::ConversationId => &mut fields.conversation_id,
                        Key::Mode => &mut fields.mode,
                        Key::Other => {
                            // Parsed into a `Value`, not skipped, so that
                            // whatever the generic parse refuses (numbers
                            // out of range, nesting too deep) is refused
                            // here too.
                            map.next_value::<Value>()?;
                            continue;
                        }
                    };
                    *slot = map.next_value()?;
                }
                Ok(fields)
            }
        }
        d.deserialize_map(FieldsVisitor)
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(
                self,
                s: &'de str,
            ) -> Result<Self::Value, E>
            where
                E: de::Error,
            {
                Ok(Field::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Field<'de>, E>
            where
                E: de::Error,
            {
                Ok(Field::Str(Cow::Owned(s)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Field<'de>, E> {
                Ok(Field::Null)
            }
            fn visit_bool<E: de::Error>(
                self,
                _: bool,
            ) -> Result<Field<'de>, E> {
                Ok(Field::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Field<'de>, E> {
                Ok(Field::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Field<'de>, E> {
                Ok(Field::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Field<'de>, E> {
                Ok(Field::Other)
            }
            // Arrays and objects are parsed as `Value`s for the same
            // reason as unknown keys.
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Field<'de>, A::Error> {
                while seq.next_element::<Value>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Field<'de>, A::Error> {
                while map.next_entry::<String, Value>()?.is_some() {}
                Ok(Field::Other)
            }
        }
        d.deserialize_any(FieldVisitor)
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

    /// The parse as it was before the typed fast path: through a
    /// `serde_json::Value`. The fast path must answer every body alike.
    fn reference(body: &[u8]) -> Result<ChatRequest, Box<(ApiError, Known)>> {
        use serde_json::Map;

        fn id(
            obj: &Map<String, Value>,
            name: &str,
        ) -> Result<Option<String>, ApiError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if is_valid_id(s) => Ok(Some(s.clone())),
                Some(Value::String(_)) => Err(ApiError::invalid(format!(
                    "{name} must be 1 to {MAX_ID_LEN} characters of A-Z a-z \
                     0-9 _ . : @ -"
                ))),
                Some(_) => {
                    Err(ApiError::invalid(format!("{name} must be a string")))
                }
            }
        }
        fn valid(obj: &Map<String, Value>, name: &str) -> Option<String> {
            match obj.get(name) {
                Some(Value::String(s)) if is_valid_id(s) => Some(s.clone()),
                _ => None,
            }
        }
        fn check(obj: &Map<String, Value>) -> Result<ChatRequest, ApiError> {
            let message = match obj.get("message") {
                Some(Value::String(s)) => s,
                Some(_) => {
                    return Err(ApiError::invalid("message must be a string"))
                }
                None => return Err(ApiError::invalid("message is required")),
            };
            let chars = message.chars().count();
            if chars == 0 || chars > MAX_MESSAGE_CHARS {
                return Err(ApiError::invalid(format!(
                    "message must be 1 to {MAX_MESSAGE_CHARS} characters, \
                     not {chars}"
                )));
            }
            let user_id = match id(obj, "user_id")? {
                Some(id) => id,
                None => return Err(ApiError::invalid("user_id is required")),
            };
            Ok(ChatRequest {
                message: message.clone(),
                user_id,
                surface_id: id(obj, "surface_id")?
                    .unwrap_or_else(|| "unknown".to_string()),
                conversation_id: id(obj, "conversation_id")?,
                mode: id(obj, "mode")?.unwrap_or_else(|| "advisor".to_string()),
            })
        }

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
            user_id: valid(&obj, "user_id"),
            surface_id: valid(&obj, "surface_id"),
            conversation_id: valid(&obj, "conversation_id"),
            mode: valid(&obj, "mode"),
        };
        check(&obj).map_err(|e| Box::new((e, known)))
    }

    #[test]
    fn the_fast_path_answers_as_the_generic_parse() {
        let deep = |n: usize| {
            format!(
                r#"{{"message":"hi","user_id":"u","x":{}1{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        let deep_known = |n: usize| {
            format!(
                r#"{{"message":"hi","user_id":"u","mode":{}1{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        let mut bodies: Vec<Vec<u8>> = [
            r#"{"message":"hi","user_id":"u"}"#,
            r#"{"message":"What next?","user_id":"justinharmon",
                "surface_id":"windsurf","conversation_id":"conv_1_jh"}"#,
            r#" { "message" : "hi" , "user_id" : "u" , "mode" : null } "#,
            r#"{"message":"a\"b\\c\nd\u00e9\ud83d\ude00","user_id":"u"}"#,
            r#"{"mess\u0061ge":"escaped key","user_id":"u"}"#,
            r#"{"message":"hi","user_id":"u\u0031"}"#,
            r#"{"message":"first","message":"second","user_id":"u"}"#,
            r#"{"message":5,"message":"now a string","user_id":"u"}"#,
            r#"{"message":"hi","message":5,"user_id":"u"}"#,
            r#"{"message":"hi","user_id":"u","user_id":null}"#,
            r#"{"message":"hi","user_id":"u","extra":{"a":[1,2,{"b":null}]}}"#,
            r#"{"message":"hi","user_id":"u","extra":1e999}"#,
            r#"{"message":"hi","user_id":"u","mode":1e999}"#,
            r#"{"message":"hi","user_id":"u","extra":-0.5e-3}"#,
            r#"{"message":"hi","user_id":"u","extra":18446744073709551616}"#,
            r#"{"message":"hi","user_id":"u","extra":"\ud800"}"#,
            r#"{"message":"\ud800","user_id":"u"}"#,
            r#"{"message":"hi","user_id":"u"} trailing"#,
            r#"{"message":"hi","user_id":"u"}{}"#,
            r#"{"message":"hi","user_id":"u",}"#,
            r#"{"message":"hi" "user_id":"u"}"#,
            r#"{"message":null,"user_id":"u"}"#,
            r#"{"message":true,"user_id":"u"}"#,
            r#"{"message":["a"],"user_id":"u"}"#,
            r#"{"message":{"a":1},"user_id":"u"}"#,
            r#"{"message":"hi","user_id":["u"],"surface_id":"ok"}"#,
            r#"{"message":"hi","user_id":"bad id","surface_id":"ok"}"#,
            r#"{"message":"","user_id":"u","conversation_id":"c","mode":"m"}"#,
            r#"{"message":"hi","user_id":"u","surface_id":7,"mode":"m"}"#,
            r#"{"message":"hi","user_id":"u","conversation_id":{}}"#,
            r#"{"message":"hi","user_id":"u","mode":"bad mode"}"#,
            r#"{}"#,
            r#"[]"#,
            r#"[1,2"#,
            r#""just a string""#,
            r#"null"#,
            r#"42"#,
            r#"{"#,
            r#"{"message""#,
            r#"{"message":"hi","user_id":"u""#,
            "",
            "   ",
            "not json",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        bodies.push(b"\xff\xfe".to_vec());
        bodies.push(b"{\"message\":\"\xff\",\"user_id\":\"u\"}".to_vec());
        for n in [100, 126, 127, 128, 200] {
            bodies.push(deep(n).into_bytes());
            bodies.push(deep_known(n).into_bytes());
        }
        bodies.push(
            format!(r#"{{"message":"{}","user_id":"u"}}"#, "é".repeat(32_768))
                .into_bytes(),
        );
        bodies.push(
            format!(r#"{{"message":"{}","user_id":"u"}}"#, "a".repeat(32_769))
                .into_bytes(),
        );
        bodies.push(
            format!(r#"{{"message":"hi","user_id":"{}"}}"#, "a".repeat(129))
                .into_bytes(),
        );
        for body in &bodies {
            let got = parse(body).map_err(|r| *r);
            assert_eq!(
                got,
                reference(body).map_err(|r| *r),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    /// Bodies made of the pieces clients and attackers send, some cut or
    /// garbled: every one must be answered exactly as the generic parse
    /// answers it, whichever of the three ways reads it.
    #[test]
    fn generated_bodies_are_answered_as_the_generic_parse() {
        const WS: &[&str] = &["", " ", "\n", "\t", "\r", " \r\n ", "\u{a0}"];
        const KEYS: &[&str] = &[
            "message",
            "user_id",
            "surface_id",
            "conversation_id",
            "mode",
            "other",
            "mess\\u0061ge",
            "",
            "MESSAGE",
            "k\"",
        ];
        let long_ok = format!("\"{}\"", "a".repeat(MAX_MESSAGE_CHARS));
        let long_bad = format!("\"{}\"", "é".repeat(MAX_MESSAGE_CHARS + 1));
        let values: Vec<&str> = vec![
            "\"hi\"",
            "\"\"",
            "\"u1\"",
            "\"user.name@example.com\"",
            "\"a b\"",
            "\"é😀\"",
            "\"tab\there\"",
            "\"q\\\"q\"",
            "\"bad\\nid\"",
            "\"\\u0041\"",
            "null",
            "nul",
            "nullx",
            "5",
            "-1.5e3",
            "1e999",
            "true",
            "[]",
            "[1,{\"a\":null}]",
            "{}",
            "{\"x\":\"y\"}",
            &long_ok,
            &long_bad,
        ];
        // xorshift64: a fixed sequence without a dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut plain = 0;
        for _ in 0..20_000 {
            let mut body = String::new();
            body.push_str(WS[next(WS.len())]);
            body.push('{');
            let members = next(6);
            for m in 0..members {
                if m > 0 {
                    body.push_str(WS[next(WS.len())]);
                    body.push(',');
                }
                body.push_str(WS[next(WS.len())]);
                body.push('"');
                body.push_str(KEYS[next(KEYS.len())]);
                body.push('"');
                body.push_str(WS[next(WS.len())]);
                body.push(':');
                body.push_str(WS[next(WS.len())]);
                body.push_str(values[next(values.len())]);
            }
            body.push_str(WS[next(WS.len())]);
            body.push('}');
            body.push_str(WS[next(WS.len())]);
            let mut body = body.into_bytes();
            // One body in four is damaged.
            match next(16) {
                0 => body.truncate(next(body.len() + 1)),
                1 => {
                    let at = next(body.len());
                    body.remove(at);
                }
                2 => body.insert(next(body.len() + 1), b','),
                3 => body.insert(next(body.len() + 1), 0xff),
                _ => {}
            }
            plain += usize::from(plain_fields(&body).is_some());
            assert_eq!(
                parse(&body).map_err(|r| *r),
                reference(&body).map_err(|r| *r),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        // Both the direct reader and the two serde_json ways behind it
        // were taken often enough to mean something.
        assert!(plain > 2_000, "{plain} bodies read directly");
        assert!(20_000 - plain > 2_000, "{plain} bodies read directly");
    }

    #[test]
    fn reply_json_is_what_serde_json_writes() {
        let texts =
            ["", "advisor", "conv_2025-12-28_jh_abc12345", "a\"b\\c\n😀"];
        for text in texts {
            for (tokens, cost_usd, latency_ms) in
                [(0, 0.0, 0), (51, 0.000102, 3), (u64::MAX, 1e300, u64::MAX)]
            {
                let reply = ChatReply {
                    request_id: text,
                    conversation_id: text,
                    mode: text,
                    reply: text,
                    tokens,
                    cost_usd,
                    latency_ms,
                };
                assert_eq!(
                    String::from_utf8(reply.to_json()).unwrap(),
                    serde_json::to_string(&reply).unwrap()
                );
            }
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
