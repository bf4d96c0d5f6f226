//! [`RequestRecord`]: one line of the metrics JSONL file.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// One counted request, as written to the metrics JSONL file.
///
/// Serialises to exactly the JSON object of the file format, with the
/// fields in this order, `conversation_id` and `error` as `null` when
/// absent, and `timestamp` as RFC 3339 UTC with milliseconds and a `Z`
/// (`2025-12-28T15:30:00.123Z`). Deserialising accepts any RFC 3339
/// timestamp and converts it to UTC.
///
/// A non-finite `cost_usd` is written as `null`, as `serde_json` does, and
/// a `null` cost reads back as `0.0` so that such a line is not lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// When the request completed.
    #[serde(serialize_with = "ser_timestamp")]
    #[serde(deserialize_with = "de_timestamp")]
    pub timestamp: OffsetDateTime,
    /// Request identifier, echoed in `X-Request-Id`.
    pub request_id: String,
    /// Which client surface sent the request (`windsurf`, `unknown`, ...).
    pub surface_id: String,
    /// Who sent the request.
    pub user_id: String,
    /// Conversation the request belongs to, if any.
    pub conversation_id: Option<String>,
    /// Answer mode (`advisor`, ...).
    pub mode: String,
    /// Time from receipt to answer, in milliseconds.
    pub latency_ms: u64,
    /// HTTP status code of the answer.
    pub status_code: u16,
    /// Tokens used by the request.
    pub tokens: u64,
    /// Cost of the request in US dollars.
    #[serde(deserialize_with = "de_cost")]
    pub cost_usd: f64,
    /// Error code of a failed request, `None` on success.
    pub error: Option<String>,
}

impl RequestRecord {
    /// Appends the record to `buf` as one JSON line ending in `\n`.
    ///
    /// The bytes equal `serde_json::to_writer` of the record followed by a
    /// newline; this version avoids serde's machinery and the `time`
    /// formatter because it runs on the request path.
    pub fn write_json_line(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"{\"timestamp\":\"");
        write_timestamp(&self.timestamp, buf);
        buf.extend_from_slice(b"\",\"request_id\":");
        write_str(&self.request_id, buf);
        buf.extend_from_slice(b",\"surface_id\":");
        write_str(&self.surface_id, buf);
        buf.extend_from_slice(b",\"user_id\":");
        write_str(&self.user_id, buf);
        buf.extend_from_slice(b",\"conversation_id\":");
        write_opt_str(self.conversation_id.as_deref(), buf);
        buf.extend_from_slice(b",\"mode\":");
        write_str(&self.mode, buf);
        buf.extend_from_slice(b",\"latency_ms\":");
        write_u64(self.latency_ms, buf);
        buf.extend_from_slice(b",\"status_code\":");
        write_u64(u64::from(self.status_code), buf);
        buf.extend_from_slice(b",\"tokens\":");
        write_u64(self.tokens, buf);
        buf.extend_from_slice(b",\"cost_usd\":");

        // Float text is left to serde_json so both paths agree digit for
        // digit; writing one f64 into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, &self.cost_usd);
        buf.extend_from_slice(b",\"error\":");
        write_opt_str(self.error.as_deref(), buf);
        buf.extend_from_slice(b"}\n");
    }
}

/// Writes `ts` in UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
///
/// RFC 3339 has four-digit years only, so instants outside years
/// 0000..=9999 are clamped to the first or last representable millisecond.
pub(crate) fn write_timestamp(ts: &OffsetDateTime, buf: &mut Vec<u8>) {
    let utc = ts.to_offset(UtcOffset::UTC);
    let (date, t) = (utc.date(), utc.time());
    let fields = if date.year() < 0 {
        [0, 1, 1, 0, 0, 0, 0]
    } else if date.year() > 9999 {
        [9999, 12, 31, 23, 59, 59, 999]
    } else {
        [
            date.year() as u32,
            u32::from(u8::from(date.month())),
            u32::from(date.day()),
            u32::from(t.hour()),
            u32::from(t.minute()),
            u32::from(t.second()),
            u32::from(t.millisecond()),
        ]
    };
    let [y, mo, d, h, mi, s, ms] = fields;
    push_digits(y, 4, buf);
    buf.push(b'-');
    push_digits(mo, 2, buf);
    buf.push(b'-');
    push_digits(d, 2, buf);
    buf.push(b'T');
    push_digits(h, 2, buf);
    buf.push(b':');
    push_digits(mi, 2, buf);
    buf.push(b':');
    push_digits(s, 2, buf);
    buf.push(b'.');
    push_digits(ms, 3, buf);
    buf.push(b'Z');
}

fn push_digits(mut v: u32, width: usize, buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.resize(start + width, b'0');
    for slot in buf[start..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn write_u64(mut v: u64, buf: &mut Vec<u8>) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn write_opt_str(s: Option<&str>, buf: &mut Vec<u8>) {
    match s {
        Some(s) => write_str(s, buf),
        None => buf.extend_from_slice(b"null"),
    }
}

/// Writes `s` as a JSON string escaped the way serde_json does: `"`, `\`
/// and control characters below 0x20 only, short forms where JSON has one,
/// `\u00xx` with lowercase hex otherwise. Everything else is raw UTF-8.
pub(crate) fn write_str(s: &str, buf: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    buf.push(b'"');
    let mut start = 0;
    while let Some(i) = next_escape(bytes, start) {
        let b = bytes[i];
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            _ => b'u',
        };
        buf.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == b'u' {
            let esc = [b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)]];
            buf.extend_from_slice(&esc);
            buf.push(HEX[usize::from(b & 0xf)]);
        } else {
            buf.extend_from_slice(&[b'\\', short]);
        }
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// Index of the first byte at or after `from` that JSON escapes.
///
/// Eight bytes are tested at once (a byte below 0x20, or equal to `"` or
/// `\`, sets its high bit in the mask), since ids are rarely escaped and
/// the byte-at-a-time test was half the cost of a line.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let special = |b: u8| b < 0x20 || b == b'"' || b == b'\\';

    let mut i = from;
    while i + 8 <= bytes.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i..i + 8]);
        let v = u64::from_le_bytes(w);
        let quote = v ^ (ONES * u64::from(b'"'));
        let slash = v ^ (ONES * u64::from(b'\\'));
        let zero = |x: u64| x.wrapping_sub(ONES) & !x;
        let mask =
            (zero(quote) | zero(slash) | v.wrapping_sub(ONES * 0x20) & !v)
                & HIGH;
        if mask != 0 {
            // The mask says some byte here is special, exactly; find it.
            return (i..i + 8).find(|&j| special(bytes[j]));
        }
        i += 8;
    }
    (i..bytes.len()).find(|&j| special(bytes[j]))
}

fn ser_timestamp<S: Serializer>(
    ts: &OffsetDateTime,
    ser: S,
) -> Result<S::Ok, S::Error> {
    let mut buf = Vec::with_capacity(24);
    write_timestamp(ts, &mut buf);

    // Only ASCII digits and separators were written above.
    let text = std::str::from_utf8(&buf).unwrap_or_default();
    ser.serialize_str(text)
}

fn de_timestamp<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<OffsetDateTime, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(de)?;
    parse_timestamp(&text).map_err(serde::de::Error::custom)
}

/// Parses an RFC 3339 timestamp and converts it to UTC.
pub(crate) fn parse_timestamp(
    text: &str,
) -> Result<OffsetDateTime, time::error::Parse> {
    let ts = OffsetDateTime::parse(text, &Rfc3339)?;
    Ok(ts.to_offset(UtcOffset::UTC))
}

fn de_cost<'de, D: Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(de)?.unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sample() -> RequestRecord {
        RequestRecord {
            timestamp: datetime!(2025-12-28 15:30:00.123 UTC),
            request_id: "req_abc123".into(),
            surface_id: "windsurf".into(),
            user_id: "justinharmon".into(),
            conversation_id: Some("conv_2025-12-28_jh_abc12345".into()),
            mode: "advisor".into(),
            latency_ms: 234,
            status_code: 200,
            tokens: 150,
            cost_usd: 0.001,
            error: None,
        }
    }

    fn line(r: &RequestRecord) -> String {
        let mut buf = Vec::new();
        r.write_json_line(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn matches_the_file_format() {
        let want = concat!(
            r#"{"timestamp":"2025-12-28T15:30:00.123Z","#,
            r#""request_id":"req_abc123","surface_id":"windsurf","#,
            r#""user_id":"justinharmon","#,
            r#""conversation_id":"conv_2025-12-28_jh_abc12345","#,
            r#""mode":"advisor","latency_ms":234,"status_code":200,"#,
            r#""tokens":150,"cost_usd":0.001,"error":null}"#,
            "\n"
        );
        assert_eq!(line(&sample()), want);
    }

    #[test]
    fn hand_writer_equals_serde_json() {
        let strings = [
            "",
            "plain",
            "quote \" and backslash \\",
            "controls \u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "unicode é 漢字 🎉 \u{2028}",
            "</script>",
        ];
        let costs = [
            0.0,
            -0.0,
            0.001,
            0.1 + 0.2,
            1e-7,
            1e16,
            12.34,
            5.5e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            123456.789,
            f64::NAN,
            f64::INFINITY,
        ];
        let stamps = [
            datetime!(2025-12-28 15:30:00 UTC),
            datetime!(2025-01-02 03:04:05.999_999 +05:30),
            datetime!(0001-01-01 00:00:00.001 UTC),
            datetime!(9999-12-31 23:59:59.999 UTC),
        ];
        for (i, s) in strings.iter().enumerate() {
            for (j, &cost) in costs.iter().enumerate() {
                let mut r = sample();
                r.timestamp = stamps[(i + j) % stamps.len()];
                r.request_id = s.to_string();
                r.mode = format!("{s}{s}");
                r.error = (j % 2 == 0).then(|| s.to_string());
                r.conversation_id = (j % 3 == 0).then(|| s.to_string());
                r.cost_usd = cost;
                r.latency_ms = u64::MAX >> (j * 4);
                r.status_code = u16::MAX >> i;
                let mut want = serde_json::to_vec(&r).unwrap();
                want.push(b'\n');
                assert_eq!(line(&r), String::from_utf8(want).unwrap());
            }
        }
    }

    #[test]
    fn escapes_land_anywhere_in_a_word() {
        // Every position across two 8-byte words, next to bytes that are
        // close to the special ones but plain.
        let specials = ['"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', 'é', '!'];
        for at in 0..20 {
            for c in specials {
                let s = format!("{}{c}{}", "a".repeat(at), "#]".repeat(5));
                let mut buf = Vec::new();
                write_str(&s, &mut buf);
                let want = serde_json::to_string(&s).unwrap();
                assert_eq!(String::from_utf8(buf).unwrap(), want, "{s:?}");
            }
        }
    }

    #[test]
    fn reads_any_rfc3339_and_null_cost() {
        let cases = [
            ("2025-12-28T15:30:00Z", datetime!(2025-12-28 15:30 UTC)),
            (
                "2025-12-28T17:30:00.5+02:00",
                datetime!(2025-12-28 15:30:00.5 UTC),
            ),
            ("2025-12-28t15:30:00z", datetime!(2025-12-28 15:30 UTC)),
        ];
        for (text, want) in cases {
            let json =
                line(&sample()).replace("2025-12-28T15:30:00.123Z", text);
            let json = json.replace("0.001", "null");
            let r: RequestRecord = serde_json::from_str(&json).unwrap();
            assert_eq!(r.timestamp, want, "{text}");
            assert_eq!(r.timestamp.offset(), UtcOffset::UTC);
            assert_eq!(r.cost_usd, 0.0);
        }
    }

    #[test]
    fn round_trips() {
        let r = sample();
        let back: RequestRecord = serde_json::from_str(&line(&r)).unwrap();
        assert_eq!(back, r);
    }
}
