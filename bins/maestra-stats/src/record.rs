//! One metrics record, what makes a line a valid one, and the parser that
//! decides it.
//!
//! A line is a record when it holds one JSON object whose known fields
//! have these types (other keys are allowed and ignored):
//!
//! | key | type | required |
//! |---|---|---|
//! | `timestamp` | RFC 3339 string | yes |
//! | `surface_id` | string | yes |
//! | `latency_ms` | integer, 0 to 2^53 | yes |
//! | `status_code` | integer | yes |
//! | `cost_usd` | number | yes |
//! | `error` | string or null | no (missing is null) |
//! | `conversation_id` | string or null | no |
//! | `request_id`, `user_id`, `mode` | string | no |
//! | `tokens` | integer, 0 to 2^53 | no |
//!
//! Every other line (blank, torn, garbage, wrong types) is a bad line.
//! [`parse_line`] tries the fast scanner first and asks `serde_json` only
//! when the scanner declines, so both must agree on every line the scanner
//! accepts; the tests in `scan` hold them to that. Before both, lines in
//! our writer's exact layout take [`crate::layout`], held by its tests to
//! a subset of what the scanner accepts, with the same values.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::scan;
use crate::timestamp::{parse_rfc3339, Instant};

/// Largest integer a double holds exactly; jq reads numbers as doubles,
/// so larger integers would not survive its round trip.
pub const MAX_EXACT_INT: u64 = 1 << 53;

/// The fields of a record the analyses use.
#[derive(Clone, Debug, PartialEq)]
pub struct Record<'a> {
    /// The timestamp as written.
    pub timestamp: Cow<'a, str>,
    /// The timestamp as an instant, for the `--since`/`--until` filters.
    pub instant: Instant,
    /// Which client surface sent the request.
    pub surface_id: Cow<'a, str>,
    /// Request latency in milliseconds.
    pub latency_ms: u64,
    /// HTTP status of the answer.
    pub status_code: i64,
    /// Cost of the request in US dollars; left at 0 by
    /// [`crate::layout::scan_line`] for a question that ignores costs
    /// (it is still checked to be a valid, finite number).
    pub cost_usd: f64,
    /// The error code, when the request failed.
    pub error: Option<Cow<'a, str>>,
}

impl Record<'_> {
    /// The day a record belongs to, cut exactly as the note's jq does
    /// (`.timestamp | split("T")[0]`): everything before the first `T`.
    pub fn date(&self) -> &str {
        let ts: &str = &self.timestamp;
        ts.split('T').next().unwrap_or(ts)
    }
}

/// Parses one line (without its newline); `None` means a bad line.
pub fn parse_line(line: &[u8]) -> Option<Record<'_>> {
    // JSON text is UTF-8; serde_json would refuse the line too.
    parse_text(std::str::from_utf8(line).ok()?)
}

/// [`parse_line`] for a line already known to be UTF-8.
pub fn parse_text(line: &str) -> Option<Record<'_>> {
    match scan::scan(line) {
        Some(record) => Some(record),
        None => parse_with_serde(line.as_bytes()),
    }
}

/// The reference parser: `serde_json` decides what is JSON, then the field
/// rules above decide what is a record. Keys repeated in one object keep
/// their last value, as in jq.
pub fn parse_with_serde(line: &[u8]) -> Option<Record<'static>> {
    let value: Value = serde_json::from_slice(line).ok()?;
    let Value::Object(map) = value else {
        return None;
    };

    optional_string(&map, "request_id")?;
    optional_string(&map, "user_id")?;
    optional_string(&map, "mode")?;
    nullable_string(&map, "conversation_id")?;
    if let Some(tokens) = map.get("tokens") {
        as_integer(tokens)
            .filter(|t| (0..=MAX_EXACT_INT as i128).contains(t))?;
    }

    let timestamp = map.get("timestamp")?.as_str()?.to_owned();
    let instant = parse_rfc3339(timestamp.as_bytes())?;
    let surface_id = map.get("surface_id")?.as_str()?.to_owned();
    let latency_ms = as_integer(map.get("latency_ms")?)
        .filter(|l| (0..=MAX_EXACT_INT as i128).contains(l))?
        as u64;
    let status_code = as_integer(map.get("status_code")?)
        .and_then(|s| i64::try_from(s).ok())?;
    let cost_usd = map.get("cost_usd")?.as_f64()?;
    let error = nullable_string(&map, "error")?.map(Cow::Owned);

    Some(Record {
        timestamp: Cow::Owned(timestamp),
        instant,
        surface_id: Cow::Owned(surface_id),
        latency_ms,
        status_code,
        cost_usd,
        error,
    })
}

/// `Some(())` when the key is absent or a string.
fn optional_string(map: &Map<String, Value>, key: &str) -> Option<()> {
    match map.get(key) {
        None | Some(Value::String(_)) => Some(()),
        Some(_) => None,
    }
}

/// `Some(None)` when absent or null, `Some(Some(text))` for a string,
/// `None` for any other type.
fn nullable_string(
    map: &Map<String, Value>,
    key: &str,
) -> Option<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(text)) => Some(Some(text.clone())),
        Some(_) => None,
    }
}

/// An integer-valued JSON number (`200`, `200.0`, `2e2`), as jq sees them
/// all as the same double.
fn as_integer(value: &Value) -> Option<i128> {
    let number = value.as_number()?;
    if let Some(int) = number.as_i64() {
        return Some(i128::from(int));
    }
    if let Some(int) = number.as_u64() {
        return Some(i128::from(int));
    }
    let float = number.as_f64()?;
    let in_range = float.abs() <= MAX_EXACT_INT as f64;
    (float.fract() == 0.0 && in_range).then_some(float as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = r#"{"timestamp":"2025-12-28T15:30:00.123Z","request_id":"req_abc123","surface_id":"windsurf","user_id":"justinharmon","conversation_id":"conv_2025-12-28_jh_abc12345","mode":"advisor","latency_ms":234,"status_code":200,"tokens":150,"cost_usd":0.001,"error":null}"#;

    #[test]
    fn reads_our_writers_line() {
        let record = parse_with_serde(OURS.as_bytes()).unwrap();
        assert_eq!(record.timestamp, "2025-12-28T15:30:00.123Z");
        assert_eq!(record.date(), "2025-12-28");
        assert_eq!(record.surface_id, "windsurf");
        assert_eq!(record.latency_ms, 234);
        assert_eq!(record.status_code, 200);
        assert_eq!(record.cost_usd, 0.001);
        assert_eq!(record.error, None);
    }

    #[test]
    fn field_rules() {
        let base = r#""timestamp":"2025-12-28T15:30:00Z","surface_id":"s","latency_ms":1,"status_code":200,"cost_usd":0.5"#;
        let cases: &[(&str, bool)] = &[
            ("", true),
            (r#","error":"boom""#, true),
            (r#","error":null,"conversation_id":null"#, true),
            (r#","extra":{"nested":[1,2]}"#, true),
            (r#","error":7"#, false),
            (r#","tokens":"many""#, false),
            (r#","tokens":-1"#, false),
            (r#","mode":null"#, false),
            (r#","conversation_id":3"#, false),
            (r#","latency_ms":-5"#, false),
            (r#","latency_ms":2.5"#, false),
            (r#","latency_ms":9007199254740993"#, false),
            (r#","latency_ms":"fast""#, false),
            (r#","status_code":"200""#, false),
            (r#","cost_usd":null"#, false),
            (r#","timestamp":"yesterday""#, false),
        ];
        for (extra, ok) in cases {
            let line = format!("{{{base}{extra}}}");
            assert_eq!(parse_line(line.as_bytes()).is_some(), *ok, "{line}");
            let reference = parse_with_serde(line.as_bytes());
            assert_eq!(reference.is_some(), *ok, "{line}");
        }
    }

    #[test]
    fn missing_required_fields_and_non_objects_are_bad() {
        for line in [
            r#"{"surface_id":"s","latency_ms":1,"status_code":200,"cost_usd":1}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","latency_ms":1,"status_code":200,"cost_usd":1}"#,
            "[1,2]",
            "42",
            "",
            "   ",
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"#,
        ] {
            assert!(parse_line(line.as_bytes()).is_none(), "{line}");
        }
    }

    #[test]
    fn integral_floats_count_as_integers() {
        let line = r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"s","latency_ms":2e2,"status_code":404.0,"cost_usd":1}"#;
        let record = parse_line(line.as_bytes()).unwrap();
        assert_eq!((record.latency_ms, record.status_code), (200, 404));
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let line = r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"a","surface_id":"b","latency_ms":1,"status_code":200,"cost_usd":1}"#;
        assert_eq!(parse_line(line.as_bytes()).unwrap().surface_id, "b");
    }
}
