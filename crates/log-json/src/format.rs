//! One record as one JSON line: the fixed fields first, then the context.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use slog::{Key, OwnedKVList, Record, Serializer, KV};

use crate::Level;

/// Key of a `u64` giving the line's time in Unix milliseconds instead of
/// the time of formatting; it never reaches the file as a field. Lines
/// are formatted during the logging call, so none of ours carries it.
pub(crate) const STAMP_KEY: &str = "log_json::stamp_ms";

/// Key holding the event type of a record.
const EVENT_TYPE: &str = "event_type";

/// Event type of a record that names none.
const DEFAULT_EVENT_TYPE: &str = "log";

/// Fixed field names a context key may not repeat; such a key is written
/// with the prefix `kv_` so every key of a line stays unique.
const FIXED: [&str; 4] = ["timestamp", "logger", "level", "message"];

/// Writes records as JSON lines; holds what stays the same between lines.
#[derive(Debug)]
pub(crate) struct Formatter {
    /// The `logger` value, already a JSON string with its quotes.
    logger: String,
}

/// Buffers reused from one record to the next.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// JSON text of the context values, back to back.
    values: Vec<u8>,
    /// Each context key with the range of its value in `values`.
    entries: Vec<(Key, Range<usize>)>,
    /// Text of a formatted message or argument.
    text: String,
    /// The second last formatted and its `YYYY-MM-DDTHH:MM:SS` text.
    second: Option<(u64, String)>,
}

impl Formatter {
    /// A formatter writing `logger` in every line.
    pub(crate) fn new(logger: &str) -> Formatter {
        Formatter { logger: json_string(logger) }
    }

    /// Appends the line of `record` (with its trailing newline) to `out`.
    pub(crate) fn format(
        &self,
        record: &Record<'_>,
        values: &OwnedKVList,
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) {
        scratch.values.clear();
        scratch.entries.clear();

        // Record keys first so that they win over the logger's.
        let mut stamp = None;
        let mut collect = Collect {
            values: &mut scratch.values,
            entries: &mut scratch.entries,
            text: &mut scratch.text,
            stamp: &mut stamp,
            first_of_source: 0,
        };
        let _ = record.kv().serialize(record, &mut collect);
        let record_end = collect.entries.len();
        collect.first_of_source = record_end;
        let _ = values.serialize(record, &mut collect);
        let total = scratch.entries.len();

        let stamp_ms = stamp.unwrap_or_else(now_ms);
        out.extend_from_slice(b"{\"timestamp\":\"");
        write_timestamp(stamp_ms, &mut scratch.second, out);
        out.extend_from_slice(b"\",\"logger\":");
        out.extend_from_slice(self.logger.as_bytes());
        out.extend_from_slice(b",\"level\":\"");
        out.extend_from_slice(
            Level::from_slog(record.level()).as_str().as_bytes(),
        );

        // The event type has a fixed place and is not repeated later.
        out.extend_from_slice(b"\",\"event_type\":");
        let event = scratch.entries.iter().position(|(k, _)| *k == EVENT_TYPE);
        match &event {
            Some(i) => {
                let range = scratch.entries[*i].1.clone();
                out.extend_from_slice(&scratch.values[range]);
            }
            None => {
                out.push(b'"');
                out.extend_from_slice(DEFAULT_EVENT_TYPE.as_bytes());
                out.push(b'"');
            }
        }

        out.extend_from_slice(b",\"message\":");
        let msg = record.msg();
        match msg.as_str() {
            Some(text) => write_json_str(text, out),
            None => {
                scratch.text.clear();
                let _ = scratch.text.write_fmt(*msg);
                write_json_str(&scratch.text, out);
            }
        }

        // slog hands over each source newest key first; writing both
        // backwards gives the order of the source code, record first.
        let order = (0..record_end).rev().chain((record_end..total).rev());
        for i in order {
            if Some(i) == event {
                continue;
            }
            let (key, range) = &scratch.entries[i];
            out.push(b',');
            if FIXED.contains(key) {
                scratch.text.clear();
                scratch.text.push_str("kv_");
                scratch.text.push_str(key);
                write_json_str(&scratch.text, out);
            } else {
                write_json_str(key, out);
            }
            out.push(b':');
            out.extend_from_slice(&scratch.values[range.clone()]);
        }
        out.extend_from_slice(b"}\n");
    }
}

/// The current time in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A JSON string literal, quotes included.
fn json_string(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    write_json_str(text, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `text` as a JSON string: quotes, newlines and every control
/// character escaped, so a line can never be split or forged by its data.
///
/// The bytes are those serde_json writes (short escapes where JSON has
/// them, `\u00XX` for the other control characters). Log values hardly
/// ever need an escape, so the text is first checked eight bytes at a
/// time and, when plain, copied in one piece.
fn write_json_str(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if is_plain(bytes) {
        out.extend_from_slice(bytes);
    } else {
        write_escaped(bytes, out);
    }
    out.push(b'"');
}

/// Whether `bytes` hold nothing that a JSON string must escape.
fn is_plain(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        if needs_escape(u64::from_le_bytes(eight)) {
            return false;
        }
    }
    let tail = words.remainder();
    if tail.is_empty() {
        return true;
    }

    // The last eight bytes, overlapping the words already checked, cover
    // the tail in one more test.
    match bytes.len().checked_sub(8) {
        Some(from) => {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(&bytes[from..]);
            !needs_escape(u64::from_le_bytes(eight))
        }
        None => tail.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\'),
    }
}

/// Appends `bytes` with every character JSON requires escaped.
fn write_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether any of the eight bytes in `word` is a control character, `"`
/// or `\`. Exact: each test is the classic "has a byte below n" trick,
/// which has no false answer for the word as a whole.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let control = below(word, 0x20);
    let quote = below(word ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(word ^ (ONES * u64::from(b'\\')), 1);
    (control | quote | backslash) != 0
}

/// Appends `n` in decimal, as `Display` would.
fn write_u64(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `n` in decimal, as `Display` would.
fn write_i64(n: i64, out: &mut Vec<u8>) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(n.unsigned_abs(), out);
}

/// Appends `2025-12-28T15:30:00.123Z` for `ms` after the Unix epoch.
fn write_timestamp(
    ms: u64,
    cache: &mut Option<(u64, String)>,
    out: &mut Vec<u8>,
) {
    let secs = ms / 1000;

    // Most lines share their second with the line before.
    let fresh = !matches!(cache, Some((s, _)) if *s == secs);
    if fresh {
        let at = time::OffsetDateTime::from_unix_timestamp(secs as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let mut text = String::with_capacity(20);
        let _ = write!(
            text,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        *cache = Some((secs, text));
    }
    if let Some((_, text)) = cache {
        out.extend_from_slice(text.as_bytes());
    }
    let millis = (ms % 1000) as u16;
    out.extend_from_slice(&[
        b'.',
        b'0' + (millis / 100) as u8,
        b'0' + (millis / 10 % 10) as u8,
        b'0' + (millis % 10) as u8,
        b'Z',
    ]);
}

/// Gathers the key-values of a record and its logger, each key once.
struct Collect<'a> {
    values: &'a mut Vec<u8>,
    entries: &'a mut Vec<(Key, Range<usize>)>,
    text: &'a mut String,
    stamp: &'a mut Option<u64>,
    /// Index of the first entry from the source being serialized now; a
    /// key seen before it came from a source that wins.
    first_of_source: usize,
}

impl Collect<'_> {
    /// Stores the value that `write` appends, unless the key is taken.
    fn put(
        &mut self,
        key: Key,
        write: impl FnOnce(&mut Vec<u8>, &mut String),
    ) -> slog::Result {
        let earlier = &self.entries[..self.first_of_source];
        if earlier.iter().any(|(k, _)| *k == key) {
            return Ok(());
        }

        let start = self.values.len();
        write(self.values, self.text);
        let range = start..self.values.len();

        // Within one source slog hands over the last-written pair first,
        // so the first one seen is the one that stands.
        let current = &self.entries[self.first_of_source..];
        if current.iter().any(|(k, _)| *k == key) {
            self.values.truncate(start);
            return Ok(());
        }
        self.entries.push((key, range));
        Ok(())
    }

    fn put_display(
        &mut self,
        key: Key,
        value: impl fmt::Display,
    ) -> slog::Result {
        self.put(key, |out, _| {
            let _ = write!(out, "{value}");
        })
    }
}

impl Serializer for Collect<'_> {
    fn emit_arguments(
        &mut self,
        key: Key,
        val: &fmt::Arguments<'_>,
    ) -> slog::Result {
        self.put(key, |out, text| match val.as_str() {
            Some(s) => write_json_str(s, out),
            None => {
                text.clear();
                let _ = text.write_fmt(*val);
                write_json_str(text, out);
            }
        })
    }

    fn emit_str(&mut self, key: Key, val: &str) -> slog::Result {
        self.put(key, |out, _| write_json_str(val, out))
    }

    fn emit_char(&mut self, key: Key, val: char) -> slog::Result {
        let mut buf = [0u8; 4];
        let s: &str = val.encode_utf8(&mut buf);
        self.put(key, |out, _| write_json_str(s, out))
    }

    fn emit_bool(&mut self, key: Key, val: bool) -> slog::Result {
        let text: &[u8] = if val { b"true" } else { b"false" };
        self.put(key, |out, _| out.extend_from_slice(text))
    }

    fn emit_unit(&mut self, key: Key) -> slog::Result {
        self.put(key, |out, _| out.extend_from_slice(b"null"))
    }

    fn emit_none(&mut self, key: Key) -> slog::Result {
        self.put(key, |out, _| out.extend_from_slice(b"null"))
    }

    fn emit_u8(&mut self, key: Key, val: u8) -> slog::Result {
        self.put(key, |out, _| write_u64(u64::from(val), out))
    }
    fn emit_i8(&mut self, key: Key, val: i8) -> slog::Result {
        self.put(key, |out, _| write_i64(i64::from(val), out))
    }
    fn emit_u16(&mut self, key: Key, val: u16) -> slog::Result {
        self.put(key, |out, _| write_u64(u64::from(val), out))
    }
    fn emit_i16(&mut self, key: Key, val: i16) -> slog::Result {
        self.put(key, |out, _| write_i64(i64::from(val), out))
    }
    fn emit_u32(&mut self, key: Key, val: u32) -> slog::Result {
        self.put(key, |out, _| write_u64(u64::from(val), out))
    }
    fn emit_i32(&mut self, key: Key, val: i32) -> slog::Result {
        self.put(key, |out, _| write_i64(i64::from(val), out))
    }
    fn emit_i64(&mut self, key: Key, val: i64) -> slog::Result {
        self.put(key, |out, _| write_i64(val, out))
    }
    fn emit_usize(&mut self, key: Key, val: usize) -> slog::Result {
        self.put(key, |out, _| write_u64(val as u64, out))
    }
    fn emit_isize(&mut self, key: Key, val: isize) -> slog::Result {
        self.put(key, |out, _| write_i64(val as i64, out))
    }
    fn emit_u128(&mut self, key: Key, val: u128) -> slog::Result {
        self.put_display(key, val)
    }
    fn emit_i128(&mut self, key: Key, val: i128) -> slog::Result {
        self.put_display(key, val)
    }

    fn emit_u64(&mut self, key: Key, val: u64) -> slog::Result {
        if key == STAMP_KEY {
            if self.stamp.is_none() {
                *self.stamp = Some(val);
            }
            return Ok(());
        }
        self.put(key, |out, _| write_u64(val, out))
    }

    fn emit_f32(&mut self, key: Key, val: f32) -> slog::Result {
        self.emit_f64(key, f64::from(val))
    }

    fn emit_f64(&mut self, key: Key, val: f64) -> slog::Result {
        // JSON has no NaN or infinity; serde_json writes them as null.
        self.put(key, |out, _| {
            let _ = serde_json::to_writer(&mut *out, &val);
        })
    }

    fn emit_serde(
        &mut self,
        key: Key,
        value: &dyn slog::SerdeValue,
    ) -> slog::Result {
        self.put(key, |out, text| {
            let start = out.len();
            if let Err(err) = serde_json::to_writer(&mut *out, value.as_serde())
            {
                // Keep the line valid: the value becomes the reason.
                out.truncate(start);
                text.clear();
                let _ = write!(text, "unserializable value: {err}");
                write_json_str(text, out);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Formats one record logged through `log` and returns it parsed.
    fn line_of(f: impl FnOnce(&slog::Logger)) -> (String, Value) {
        use std::sync::{Arc, Mutex};

        struct Capture(Arc<Mutex<Vec<u8>>>, Formatter);
        impl slog::Drain for Capture {
            type Ok = ();
            type Err = slog::Never;
            fn log(
                &self,
                record: &Record<'_>,
                values: &OwnedKVList,
            ) -> Result<(), slog::Never> {
                let mut scratch = Scratch::default();
                let mut out = self.0.lock().unwrap();
                self.1.format(record, values, &mut scratch, &mut out);
                Ok(())
            }
        }

        let buf = Arc::new(Mutex::new(Vec::new()));
        let drain = Capture(buf.clone(), Formatter::new("MaestraBackend"));
        let root = slog::Logger::root(drain, slog::o!("service" => "svc"));
        f(&root);
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let value = serde_json::from_str(text.trim_end()).unwrap();
        (text, value)
    }

    #[test]
    fn fixed_fields_come_first_in_order() {
        let (text, v) = line_of(|log| {
            slog::info!(log, "Request received";
                "event_type" => "request_received", "request_id" => "r1");
        });
        assert!(text.starts_with("{\"timestamp\":\""), "{text}");
        let order = ["timestamp", "logger", "level", "event_type", "message"];
        let mut at = 0;
        for key in order {
            let pos = text.find(&format!("\"{key}\":")).unwrap();
            assert!(pos >= at, "{key} out of order in {text}");
            at = pos;
        }
        assert_eq!(v["logger"], "MaestraBackend");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["event_type"], "request_received");
        assert_eq!(v["message"], "Request received");
        assert_eq!(v["request_id"], "r1");
        assert_eq!(v["service"], "svc");
        assert_eq!(text.matches("event_type").count(), 1, "{text}");
    }

    #[test]
    fn timestamp_is_rfc3339_utc_with_milliseconds() {
        let (_, v) = line_of(|log| slog::warn!(log, "x"));
        let ts = v["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.ends_with('Z'), "{ts}");
        let format = time::format_description::well_known::Rfc3339;
        time::OffsetDateTime::parse(ts, &format).unwrap();
        assert_eq!(v["level"], "WARNING");
        assert_eq!(v["event_type"], "log");
    }

    #[test]
    fn stamp_sets_the_timestamp_and_is_not_written() {
        let (text, v) = line_of(|log| {
            slog::info!(log, "x"; STAMP_KEY => 1_766_935_800_123u64);
        });
        assert_eq!(v["timestamp"], "2025-12-28T15:30:00.123Z");
        assert!(!text.contains("stamp_ms"), "{text}");
    }

    #[test]
    fn context_keys_keep_source_order_record_first() {
        let (text, _) = line_of(|log| {
            let child = log.new(slog::o!("request_id" => "r", "k" => 1));
            slog::info!(child, "x"; "surface_id" => "s", "user_id" => "u",
                "conversation_id" => "c", "message_preview" => "m");
        });
        let keys = [
            "surface_id",
            "user_id",
            "conversation_id",
            "message_preview",
            "service",
            "request_id",
            "k",
        ];
        let at: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn record_value_wins_and_each_key_appears_once() {
        let (text, v) = line_of(|log| {
            let child = log.new(slog::o!("user_id" => "logger", "a" => 1));
            slog::info!(child, "x"; "user_id" => "first", "user_id" => "last");
        });
        assert_eq!(v["user_id"], "last", "{text}");
        assert_eq!(text.matches("\"user_id\"").count(), 1, "{text}");
        assert_eq!(v["a"], 1);
    }

    #[test]
    fn values_keep_their_json_types() {
        let (_, v) = line_of(|log| {
            slog::info!(log, "x"; "n" => 42u16, "neg" => -7i64,
                "f" => 1.5f64, "nan" => f64::NAN, "b" => true,
                "none" => None::<u8>, "c" => 'é',
                "fmt" => format_args!("{}-{}", 1, 2));
        });
        assert_eq!(v["n"], 42);
        assert_eq!(v["neg"], -7);
        assert_eq!(v["f"], 1.5);
        assert!(v["nan"].is_null());
        assert_eq!(v["b"], true);
        assert!(v["none"].is_null());
        assert_eq!(v["c"], "é");
        assert_eq!(v["fmt"], "1-2");
    }

    #[test]
    fn serde_values_are_nested() {
        let (_, v) = line_of(|log| {
            let nested = serde_json::json!({"a": [1, 2], "b": {"c": null}});
            slog::info!(log, "x"; "obj" => slog::Serde(nested));
        });
        assert_eq!(v["obj"]["a"][1], 2);
        assert!(v["obj"]["b"]["c"].is_null());
    }

    #[test]
    fn control_characters_cannot_break_the_line() {
        let evil = "a\nb\r\n{\"level\":\"CRITICAL\"}\u{0}\u{1b}[31m\t\"";
        let (text, v) = line_of(|log| {
            slog::info!(log, "{}", evil; "message_preview" => evil,
                "event_type" => evil);
        });
        assert_eq!(text.matches('\n').count(), 1, "{text:?}");
        assert!(text.ends_with("}\n"));
        assert!(!text.bytes().any(|b| b < 0x20 && b != b'\n'), "{text:?}");
        assert_eq!(v["message"], evil);
        assert_eq!(v["message_preview"], evil);
        assert_eq!(v["event_type"], evil);
        assert_eq!(v["level"], "INFO");
    }

    #[test]
    fn strings_are_escaped_byte_for_byte_as_serde_json_does() {
        let mut cases: Vec<String> = (0u8..0x80)
            .map(|b| format!("ab{}cdefghij", char::from(b)))
            .collect();
        cases.extend(
            [
                "",
                "plain text longer than one word of eight bytes",
                "\"\\\"\\",
                "é ü 日本語 🎉 and \u{7f} \u{2028} \u{0}",
                "12345678\n12345678\u{1b}[31m1234567\"",
            ]
            .map(String::from),
        );
        for text in &cases {
            let mut ours = Vec::new();
            write_json_str(text, &mut ours);
            let theirs = serde_json::to_vec(text).unwrap();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }

    #[test]
    fn integers_are_written_as_display_writes_them() {
        let cases = [0i64, 7, -7, 10, 99, 100, i64::MAX, i64::MIN];
        for n in cases {
            let mut out = Vec::new();
            write_i64(n, &mut out);
            assert_eq!(out, n.to_string().into_bytes());
        }
        let mut out = Vec::new();
        write_u64(u64::MAX, &mut out);
        assert_eq!(out, u64::MAX.to_string().into_bytes());
    }

    #[test]
    fn milliseconds_keep_three_digits() {
        for (ms, want) in [(0u64, ".000Z"), (7, ".007Z"), (45, ".045Z")]
            .into_iter()
            .chain([(999, ".999Z"), (1_000, ".000Z")])
        {
            let mut out = Vec::new();
            write_timestamp(1_766_935_800_000 + ms, &mut None, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.ends_with(want), "{ms}: {text}");
        }
    }

    #[test]
    fn context_keys_cannot_repeat_fixed_fields() {
        let (text, v) = line_of(|log| {
            slog::error!(log, "real"; "level" => "fake", "message" => "m2");
        });
        assert_eq!(v["level"], "ERROR");
        assert_eq!(v["message"], "real");
        assert_eq!(v["kv_level"], "fake");
        assert_eq!(v["kv_message"], "m2");
        assert_eq!(text.matches("\"level\"").count(), 1);
    }
}
