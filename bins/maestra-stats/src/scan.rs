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

/// Our writer's key order, each key quoted and followed by its colon.
const WRITER_ORDER: [(&[u8], u16); 11] = [
    (b"\"timestamp\":", TIMESTAMP),
    (b"\"request_id\":", REQUEST_ID),
    (b"\"surface_id\":", SURFACE_ID),
    (b"\"user_id\":", USER_ID),
    (b"\"conversation_id\":", CONVERSATION_ID),
    (b"\"mode\":", MODE),
    (b"\"latency_ms\":", LATENCY_MS),
    (b"\"status_code\":", STATUS_CODE),
    (b"\"tokens\":", TOKENS),
    (b"\"cost_usd\":", COST_USD),
    (b"\"error\":", ERROR),
];

/// The bit of a known key, 0 for any other.
fn key_bit(key: &str) -> u16 {
    match key {
        "timestamp" => TIMESTAMP,
        "surface_id" => SURFACE_ID,
        "latency_ms" => LATENCY_MS,
        "status_code" => STATUS_CODE,
        "cost_usd" => COST_USD,
        "error" => ERROR,
        "request_id" => REQUEST_ID,
        "user_id" => USER_ID,
        "mode" => MODE,
        "conversation_id" => CONVERSATION_ID,
        "tokens" => TOKENS,
        _ => 0,
    }
}

/// Scans one line; `None` means "not sure, ask the reference parser".
///
/// The line comes as `&str` because UTF-8 is checked once per block, far
/// cheaper than once per string value.
pub fn scan(line: &str) -> Option<Record<'_>> {
    let mut cur = Cursor { text: line, bytes: line.as_bytes(), at: 0 };
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
    for field in 0.. {
        // Our writer's lines confirm each expected key in one comparison;
        // any other key order takes the general path.
        let bit = match WRITER_ORDER.get(field) {
            Some((quoted, bit)) if cur.rest_starts_with(quoted) => {
                cur.at += quoted.len();
                *bit
            }
            _ => {
                let key = cur.plain_string()?;
                cur.skip_ws();
                cur.expect(b':')?;
                key_bit(key)
            }
        };
        cur.skip_ws();

        match bit {
            TIMESTAMP => timestamp = cur.plain_string()?,
            SURFACE_ID => surface_id = cur.plain_string()?,
            LATENCY_MS => latency_ms = cur.plain_unsigned()?,
            STATUS_CODE => status_code = cur.plain_unsigned()? as i64,
            COST_USD => cost_usd = cur.number()?,
            ERROR => error = cur.string_or_null()?,
            CONVERSATION_ID => cur.string_or_null().map(drop)?,
            REQUEST_ID | USER_ID | MODE => cur.plain_string().map(drop)?,
            TOKENS => cur.plain_unsigned().map(drop)?,
            _ => cur.skip_scalar()?,
        }
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

/// The high bit of each byte of `word` (read little-endian) that may be
/// `"`, `\\` or below 0x20: the classic has-zero-byte test on
/// `word ^ pattern`. A byte may be flagged falsely, but only above a byte
/// flagged truly (the borrow runs upwards), so the lowest flag is always
/// a real stop and no stop is ever missed.
fn string_stops(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control
}

/// Powers of ten a double holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
    1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The value of a grammar-checked decimal like `0.000734` without an
/// exponent, when its digits make an integer below 2^53 and it has at
/// most 22 fraction digits: then integer and power of ten are both exact
/// doubles and one division rounds correctly (Clinger's fast path).
/// `None` sends the text to the full parser.
fn exact_small_decimal(text: &str) -> Option<f64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut mantissa = 0u64;
    let mut fraction_digits = None;
    for byte in digits.bytes() {
        match byte {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                if mantissa > MAX_EXACT_INT {
                    return None;
                }
                fraction_digits = fraction_digits.map(|n: usize| n + 1);
            }
            b'.' => fraction_digits = Some(0),
            _ => return None,
        }
    }
    let scale = *POW10.get(fraction_digits.unwrap_or(0))?;
    let value = mantissa as f64 / scale;
    Some(if negative { -value } else { value })
}

/// A read position in one line (or in a block of lines, for
/// [`crate::layout`]).
pub struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// Index of the next byte to read.
    pub at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at byte `at` of `text`.
    pub fn new(text: &'a str, at: usize) -> Self {
        Self { text, bytes: text.as_bytes(), at }
    }

    /// Consumes `want` if the text continues with it. The length is a
    /// constant, so the comparison compiles to a few word compares.
    pub fn literal_of<const N: usize>(&mut self, want: &[u8; N]) -> Option<()> {
        let end = self.at.checked_add(N)?;
        let got: &[u8; N] = self.bytes.get(self.at..end)?.try_into().ok()?;
        (got == want).then(|| self.at = end)
    }

    /// `starts_with` as an inlined byte loop: for keys of a dozen bytes
    /// a call to the library's memcmp cost more than the comparison.
    fn rest_starts_with(&self, prefix: &[u8]) -> bool {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        rest.len() >= prefix.len()
            && prefix.iter().zip(rest).all(|(want, got)| want == got)
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.at..).unwrap_or_default()
    }

    /// Consumes the next `len` bytes as text.
    pub fn take(&mut self, len: usize) -> Option<&'a str> {
        let end = self.at.checked_add(len)?;
        let text = self.text.get(self.at..end)?;
        self.at = end;
        Some(text)
    }

    /// The next byte, if any.
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Consumes and returns the next byte.
    pub fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    /// Consumes the next byte if it is `want`.
    pub fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.at += 1;
        }
    }

    /// A string with no escapes and no control characters.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        self.plain_string_rest()
    }

    /// [`Self::plain_string`] after its opening quote: the text up to the
    /// closing quote, which is consumed.
    pub fn plain_string_rest(&mut self) -> Option<&'a str> {
        let start = self.at;
        let mut at = start;

        // Eight bytes at a time until a word holds a quote, a backslash or
        // a control byte; its lowest flag says where, and which one it is.
        // Only the last few bytes of the text go byte by byte.
        while let Some(word) = self.bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(word.try_into().ok()?);
            let stops = string_stops(word);
            if stops != 0 {
                at += (stops.trailing_zeros() / 8) as usize;
                if self.bytes[at] != b'"' {
                    return None;
                }
                self.at = at + 1;
                return self.text.get(start..at);
            }
            at += 8;
        }
        loop {
            match *self.bytes.get(at)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => at += 1,
            }
        }
        self.at = at + 1;

        // Both ends sit next to an ASCII quote, so on char boundaries.
        self.text.get(start..at)
    }

    /// `null`, or a plain string.
    pub fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        self.plain_string().map(Some)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// A plain non-negative integer up to 2^53: digits only, no leading
    /// zero, no fraction or exponent (those go to the reference parser).
    pub fn plain_unsigned(&mut self) -> Option<u64> {
        let rest = self.bytes.get(self.at..)?;

        // Seventeen digits cannot overflow a u64, and more would be past
        // 2^53 anyway: the loop needs no overflow checks.
        let mut value = 0u64;
        let mut digits = 0;
        for &byte in rest.iter().take(17) {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            value = value * 10 + u64::from(digit);
            digits += 1;
        }
        let leading_zero = digits > 1 && rest[0] == b'0';
        let continues =
            matches!(rest.get(digits), Some(b'0'..=b'9' | b'.' | b'e' | b'E'));
        if digits == 0 || leading_zero || continues || value > MAX_EXACT_INT {
            return None;
        }
        self.at += digits;
        Some(value)
    }

    /// Any JSON number, checked against the JSON grammar (Rust's float
    /// parser alone would also take `1.`, `.5`, `+1` or `inf`) and then
    /// rounded correctly by the standard library.
    pub fn number(&mut self) -> Option<f64> {
        let (text, _) = self.number_text()?;
        let value = match exact_small_decimal(text) {
            Some(value) => value,
            None => text.parse().ok()?,
        };

        // serde_json rejects numbers beyond the double range.
        value.is_finite().then_some(value)
    }

    /// Checks that a number follows, exactly as [`Self::number`] would
    /// accept it, without converting it when that is not needed: a number
    /// without exponent and with fewer than 300 digits is below the
    /// largest double (about 1.8e308), so it is finite.
    pub fn number_checked(&mut self) -> Option<()> {
        let start = self.at;
        let (text, exponent) = self.number_text()?;
        if text.len() < 300 && !exponent {
            return Some(());
        }
        self.at = start;
        self.number().map(drop)
    }

    /// The text of a number that follows the JSON grammar, and whether it
    /// has an exponent.
    fn number_text(&mut self) -> Option<(&'a str, bool)> {
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
        let exponent = matches!(self.peek(), Some(b'e' | b'E'));
        if exponent {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.require_digits()?;
        }
        Some((self.text.get(start..self.at)?, exponent))
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
            _ => self.number_checked(),
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
        let fast = scan(line);
        let slow = parse_with_serde(line.as_bytes());
        match fast {
            None => true,
            Some(record) => slow.as_ref() == Some(&record),
        }
    }

    #[test]
    fn takes_our_writers_lines_without_help() {
        let record = scan(OURS).expect("fast path");
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
            assert!(scan(line).is_some(), "{line}");
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
            assert!(scan(line).is_none(), "{line}");
        }
    }

    #[test]
    fn rejects_invalid_utf8_like_the_reference() {
        let mut line = OURS.as_bytes().to_vec();
        let at = line.windows(8).position(|w| w == b"windsurf").unwrap();
        line[at] = 0xff;
        assert!(crate::record::parse_line(&line).is_none());
        assert!(parse_with_serde(&line).is_none());
    }

    /// The word-at-a-time string reader stops exactly where a byte loop
    /// would, on strings mixing quotes, backslashes, control bytes,
    /// their neighbours and multi-byte characters at every alignment.
    #[test]
    fn strings_end_where_a_byte_loop_says() {
        let pieces = [
            "a", "\"", "\\", "\u{1f}", "\u{0}", " ", "!", "#", "[", "]", "é",
            "€",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            state = state.wrapping_add(1);

            let bytes = text.as_bytes();
            let stop =
                bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            let want = match stop {
                Some(at) if bytes[at] == b'"' => Some((&text[..at], at + 1)),
                _ => None,
            };
            let mut cur = Cursor::new(&text, 0);
            let got = cur.plain_string_rest().map(|s| (s, cur.at));
            assert_eq!(got, want, "{text:?}");
        }
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
                let fast = scan(&line).expect("fast path");
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
        for at in 0..OURS.len() {
            for replacement in [" ", "\"", "}", ",", "0", "x", "\\", "é"] {
                let mut line = OURS.to_owned();
                line.replace_range(at..at + 1, replacement);
                assert!(agrees(&line), "{line}");
            }
        }
    }
}
