//! The fast scanner: reads the plain lines our writer produces (any key
//! order, extra scalar keys, whole-second or fractional timestamps) with
//! no allocation, and declines everything unusual.
//!
//! Declining is always safe: [`crate::record::parse_line`] then asks
//! `serde_json`, which has the final word. So the scanner only needs to be
//! right on what it accepts, and it declines string escapes, nested
//! values, repeated keys, non-plain integers and anything it is unsure of.

use std::borrow::Cow;

use crate::record::{Record, MAX_EXACT_INT};
use crate::timestamp::parse_rfc3339;

/// Keys the scanner knows, as bits of a "seen" mask.
const TIMESTAMP: u16 = 1 << 0;
const SURFACE_ID: u16 = 1 << 1;
const LATENCY_MS: u16 = 1 << 2;
const STATUS_CODE: u16 = 1 << 3;
const COST_USD: u16 = 1 << 4;
const ERROR: u16 = 1 << 5;
const REQUEST_ID: u16 = 1 << 6;
const USER_ID: u16 = 1 << 7;
const MODE: u16 = 1 << 8;
const CONVERSATION_ID: u16 = 1 << 9;
const TOKENS: u16 = 1 << 10;
const REQUIRED: u16 =
    TIMESTAMP | SURFACE_ID | LATENCY_MS | STATUS_CODE | COST_USD;

/// Scans one line; `None` means "not sure, ask the reference parser".
pub fn scan(line: &[u8]) -> Option<Record<'_>> {
    let mut cur = Cursor { text: line, at: 0 };
    let mut seen = 0u16;
    let mut timestamp = "";
    let mut surface_id = "";
    let mut latency_ms = 0;
    let mut status_code = 0;
    let mut cost_usd = 0.0;
    let mut error = None;

    cur.skip_ws();
    cur.expect(b'{')?;
    cur.skip_ws();
    loop {
        let key = cur.plain_string()?;
        cur.skip_ws();
        cur.expect(b':')?;
        cur.skip_ws();

        let bit = match key {
            "timestamp" => {
                timestamp = cur.plain_string()?;
                TIMESTAMP
            }
            "surface_id" => {
                surface_id = cur.plain_string()?;
                SURFACE_ID
            }
            "latency_ms" => {
                latency_ms = cur.plain_unsigned()?;
                LATENCY_MS
            }
            "status_code" => {
                status_code = cur.plain_unsigned()? as i64;
                STATUS_CODE
            }
            "cost_usd" => {
                cost_usd = cur.number()?;
                COST_USD
            }
            "error" => {
                error = cur.string_or_null()?;
                ERROR
            }
            "conversation_id" => {
                cur.string_or_null()?;
                CONVERSATION_ID
            }
            "request_id" | "user_id" | "mode" => {
                cur.plain_string()?;
                match key {
                    "request_id" => REQUEST_ID,
                    "user_id" => USER_ID,
                    _ => MODE,
                }
            }
            "tokens" => {
                cur.plain_unsigned()?;
                TOKENS
            }
            _ => {
                cur.skip_scalar()?;
                0
            }
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;

        cur.skip_ws();
        match cur.next()? {
            b',' => cur.skip_ws(),
            b'}' => break,
            _ => return None,
        }
    }

    cur.skip_ws();
    if cur.at != line.len() || seen & REQUIRED != REQUIRED {
        return None;
    }
    let instant = parse_rfc3339(timestamp.as_bytes())?;
    Some(Record {
        timestamp: Cow::Borrowed(timestamp),
        instant,
        surface_id: Cow::Borrowed(surface_id),
        latency_ms,
        status_code,
        cost_usd,
        error: error.map(Cow::Borrowed),
    })
}

/// A read position in one line.
struct Cursor<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.at += 1;
        }
    }

    /// A string with no escapes and no control characters; non-ASCII text
    /// is checked to be UTF-8.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => {}
            }
        }
        std::str::from_utf8(&self.text[start..self.at - 1]).ok()
    }

    fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        self.plain_string().map(Some)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// A plain non-negative integer up to 2^53: digits only, no leading
    /// zero, no fraction or exponent (those go to the reference parser).
    fn plain_unsigned(&mut self) -> Option<u64> {
        let start = self.at;
        let mut value = 0u64;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.at += 1;
        }
        let digits = self.at - start;
        let leading_zero = digits > 1 && self.text[start] == b'0';
        let continues = matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        if digits == 0 || leading_zero || continues || value > MAX_EXACT_INT {
            return None;
        }
        Some(value)
    }

    /// Any JSON number, checked against the JSON grammar (Rust's float
    /// parser alone would also take `1.`, `.5`, `+1` or `inf`) and then
    /// rounded correctly by the standard library.
    fn number(&mut self) -> Option<f64> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.require_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.require_digits()?;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).ok()?;
        let value: f64 = text.parse().ok()?;

        // serde_json rejects numbers beyond the double range.
        value.is_finite().then_some(value)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn require_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }

    /// Skips a value the analyses do not use; nested values are declined.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.plain_string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_with_serde;

    const OURS: &str = r#"{"timestamp":"2025-12-28T15:30:00.123Z","request_id":"req_abc123","surface_id":"windsurf","user_id":"justinharmon","conversation_id":"conv_2025-12-28_jh_abc12345","mode":"advisor","latency_ms":234,"status_code":200,"tokens":150,"cost_usd":0.001,"error":null}"#;

    /// The scanner either declines or agrees with the reference parser.
    fn agrees(line: &str) -> bool {
        let fast = scan(line.as_bytes());
        let slow = parse_with_serde(line.as_bytes());
        match fast {
            None => true,
            Some(record) => slow.as_ref() == Some(&record),
        }
    }

    #[test]
    fn takes_our_writers_lines_without_help() {
        let record = scan(OURS.as_bytes()).expect("fast path");
        assert!(matches!(record.timestamp, Cow::Borrowed(_)));
        assert_eq!(Some(record), parse_with_serde(OURS.as_bytes()));
    }

    #[test]
    fn takes_reordered_and_extended_lines() {
        let cases = [
            r#"{"cost_usd":0.25,"status_code":500,"latency_ms":7,"surface_id":"cli","timestamp":"2025-12-28T15:30:00Z","error":"upstream_error"}"#,
            r#" { "timestamp" : "2025-12-28T15:30:00+02:00" , "surface_id" : "café" , "latency_ms" : 0 , "status_code" : 200 , "cost_usd" : -1.5e-3 , "region" : "eu" , "ok" : true , "n" : null } "#,
        ];
        for line in cases {
            assert!(scan(line.as_bytes()).is_some(), "{line}");
            assert!(agrees(line), "{line}");
        }
    }

    #[test]
    fn declines_what_it_cannot_vouch_for() {
        let cases = [
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w\u00e9","latency_ms":1,"status_code":200,"cost_usd":1}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w","latency_ms":1.0,"status_code":200,"cost_usd":1}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w","latency_ms":01,"status_code":200,"cost_usd":1}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w","latency_ms":1,"status_code":200,"cost_usd":1,"x":[1]}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"a","surface_id":"b","latency_ms":1,"status_code":200,"cost_usd":1}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w","latency_ms":1,"status_code":200,"cost_usd":1.}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w","latency_ms":1,"status_code":200,"cost_usd":1e999}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w","latency_ms":1,"status_code":200,"cost_usd":1}}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w","latency_ms":1,"status_code":200,"cost_usd":1,}"#,
            "{\"timestamp\":\"2025-12-28T15:30:00Z\",\"surface_id\":\"a\tb\",\"latency_ms\":1,\"status_code\":200,\"cost_usd\":1}",
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w","latency_ms":1,"status_code":200,"cost_usd":+1}"#,
            r#"{"timestamp":"2025-12-28T15:30:00Z","surface_id":"w","latency_ms":1,"status_code":200"#,
        ];
        for line in cases {
            assert!(scan(line.as_bytes()).is_none(), "{line}");
        }
    }

    #[test]
    fn rejects_invalid_utf8_like_the_reference() {
        let mut line = OURS.as_bytes().to_vec();
        let at = line.windows(8).position(|w| w == b"windsurf").unwrap();
        line[at] = 0xff;
        assert!(scan(&line).is_none());
        assert!(parse_with_serde(&line).is_none());
    }

    /// Costs written with many digits must round to the same double in
    /// both parsers, or group sums could differ from jq's by an ulp.
    #[test]
    fn rounds_costs_like_the_reference() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let digits = next() % 10_u64.pow((next() % 19) as u32 + 1);
            let exponent = (next() % 40) as i32 - 30;
            let cost = format!("{digits}e{exponent}");
            let plain = format!("0.{:0>17}", next() % 100_000_000_000_000_000);
            for text in [cost, plain] {
                let line = format!(
                    r#"{{"timestamp":"2025-12-28T15:30:00Z","surface_id":"s","latency_ms":1,"status_code":200,"cost_usd":{text}}}"#
                );
                let fast = scan(line.as_bytes()).expect("fast path");
                let slow = parse_with_serde(line.as_bytes()).unwrap();
                assert_eq!(
                    fast.cost_usd.to_bits(),
                    slow.cost_usd.to_bits(),
                    "{text}"
                );
            }
        }
    }

    /// Cutting a valid line anywhere, or flipping any byte, never makes
    /// the scanner disagree with the reference.
    #[test]
    fn torn_and_mangled_lines_agree() {
        for end in 0..OURS.len() {
            assert!(agrees(&OURS[..end]), "{}", &OURS[..end]);
        }
        let bytes = OURS.as_bytes();
        for at in 0..bytes.len() {
            for replacement in [b' ', b'"', b'}', b',', b'0', b'x', b'\\'] {
                let mut line = bytes.to_vec();
                line[at] = replacement;
                let fast = scan(&line);
                if let Some(record) = fast {
                    assert_eq!(
                        parse_with_serde(&line).as_ref(),
                        Some(&record),
                        "{}",
                        String::from_utf8_lossy(&line)
                    );
                }
            }
        }
    }
}
