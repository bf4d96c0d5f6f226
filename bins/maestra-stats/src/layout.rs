//! The fastest path: a line laid out exactly as our writer lays it out
//! (metrics-core's `write_json_line`: every key, in its order, no
//! spaces), read straight out of a block of lines.
//!
//! Knowing the layout, each key is confirmed with one fixed-length
//! comparison, the line's end is found by reading up to it (no separate
//! search for the newline), and a number the question does not use is
//! checked but not converted. Anything else is declined, and the caller
//! goes on to [`crate::scan`] and, past it, to `serde_json`; so this path
//! only has to be right on the lines it takes. It takes a subset of what
//! [`crate::scan::scan`] takes, with the same values (tested below).

use std::borrow::Cow;

use crate::record::Record;
use crate::scan::Cursor;
use crate::timestamp::{
    parse_after_date, parse_date_prefix, parse_rfc3339, Instant,
};

/// Which conversions a question needs beyond the latency, status, times
/// and strings, which are always read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wants {
    /// Convert `cost_usd` to a double; when false it is only checked to
    /// be a valid, finite number, and [`Record::cost_usd`] is left at 0.
    pub cost: bool,
}

/// What one line leaves for the next: the last date read and its day
/// number, since consecutive lines almost always share their date.
#[derive(Debug, Default)]
pub struct Memo {
    date: Option<([u8; 10], i64)>,
}

/// Reads the line starting at byte `start` of `text`.
///
/// Gives the record and the index where the line ends (its newline, or
/// the end of `text`), or `None` when the line is not in our writer's
/// layout or not valid.
pub fn scan_line<'a>(
    text: &'a str,
    start: usize,
    wants: Wants,
    memo: &mut Memo,
) -> Option<(Record<'a>, usize)> {
    let mut cur = Cursor::new(text, start);

    cur.literal_of(b"{\"timestamp\":\"")?;
    let (timestamp, instant) = timestamp(&mut cur, memo)?;
    cur.literal_of(b",\"request_id\":\"")?;
    cur.plain_string_rest()?;
    cur.literal_of(b",\"surface_id\":\"")?;
    let surface_id = cur.plain_string_rest()?;
    cur.literal_of(b",\"user_id\":\"")?;
    cur.plain_string_rest()?;
    cur.literal_of(b",\"conversation_id\":")?;
    cur.string_or_null()?;
    cur.literal_of(b",\"mode\":\"")?;
    cur.plain_string_rest()?;

    cur.literal_of(b",\"latency_ms\":")?;
    let latency_ms = cur.plain_unsigned()?;
    cur.literal_of(b",\"status_code\":")?;
    let status_code = cur.plain_unsigned()? as i64;
    cur.literal_of(b",\"tokens\":")?;
    cur.plain_unsigned()?;
    cur.literal_of(b",\"cost_usd\":")?;
    let cost_usd = if wants.cost {
        cur.number()?
    } else {
        cur.number_checked()?;
        0.0
    };
    cur.literal_of(b",\"error\":")?;
    let error = cur.string_or_null()?;
    cur.expect(b'}')?;

    // Trailing spaces or a `\r` are valid JSON too, but our writer never
    // writes them: the general scanner takes those lines.
    if !matches!(cur.peek(), None | Some(b'\n')) {
        return None;
    }
    let record = Record {
        timestamp: Cow::Borrowed(timestamp),
        instant,
        surface_id: Cow::Borrowed(surface_id),
        latency_ms,
        status_code,
        cost_usd,
        error: error.map(Cow::Borrowed),
    };
    Some((record, cur.at))
}

/// The timestamp string after its opening quote, and its instant.
///
/// Our writer's `YYYY-MM-DDTHH:MM:SS.mmmZ` (or whole seconds) is found by
/// its length and read without a separate scan for the closing quote:
/// every byte of it is then checked as a digit or separator. Other shapes
/// take the general string scan.
fn timestamp<'a>(
    cur: &mut Cursor<'a>,
    memo: &mut Memo,
) -> Option<(&'a str, Instant)> {
    let rest = cur.rest();
    let len = if rest.get(23..25) == Some(b"Z\"") {
        24
    } else if rest.get(19..21) == Some(b"Z\"") {
        20
    } else {
        let text = cur.plain_string_rest()?;
        return Some((text, parse_rfc3339(text.as_bytes())?));
    };

    let bytes = &rest[..len];
    let date: [u8; 10] = bytes[..10].try_into().ok()?;
    let days = match memo.date {
        Some((seen, days)) if seen == date => days,
        _ => {
            let (days, _) = parse_date_prefix(&date)?;
            memo.date = Some((date, days));
            days
        }
    };
    let instant = parse_after_date(days, &bytes[10..])?;
    let text = cur.take(len)?;
    cur.expect(b'"')?;
    Some((text, instant))
}

/// The benchmark's data generator, shared with the integration tests.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../tests/support/generate.rs"]
mod generate;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_with_serde;
    use crate::scan::scan;

    use super::generate;

    const OURS: &str = r#"{"timestamp":"2025-12-28T15:30:00.123Z","request_id":"req_abc123","surface_id":"windsurf","user_id":"justinharmon","conversation_id":"conv_2025-12-28_jh_abc12345","mode":"advisor","latency_ms":234,"status_code":200,"tokens":150,"cost_usd":0.001,"error":null}"#;

    const ALL: Wants = Wants { cost: true };
    const NO_COST: Wants = Wants { cost: false };

    /// This path either declines `line` or agrees with both the general
    /// scanner and the reference parser; without the cost it agrees on
    /// everything else and still declines exactly the same lines.
    fn agrees(line: &str) -> bool {
        // The memo holds our line's date, as when a line follows another.
        let mut memo = Memo::default();
        scan_line(OURS, 0, ALL, &mut memo).expect("fast path");
        let fast = scan_line(line, 0, ALL, &mut memo);
        let lean = scan_line(line, 0, NO_COST, &mut Memo::default());
        if fast.is_some() != lean.is_some() {
            return false;
        }
        let Some((record, end)) = fast else {
            return true;
        };
        let general = scan(line);
        let reference = parse_with_serde(line.as_bytes());
        let without_cost = Record { cost_usd: 0.0, ..record.clone() };
        end == line.len()
            && general.as_ref() == Some(&record)
            && reference.as_ref() == Some(&record)
            && lean.map(|(r, _)| r) == Some(without_cost)
    }

    #[test]
    fn takes_our_writers_lines() {
        let (record, end) =
            scan_line(OURS, 0, ALL, &mut Memo::default()).expect("fast path");
        assert_eq!(end, OURS.len());
        assert_eq!(record.latency_ms, 234);
        assert_eq!(record.cost_usd, 0.001);
        assert!(agrees(OURS));

        let failed = OURS
            .replace(r#""error":null"#, r#""error":"upstream_error""#)
            .replace(r#""conv_2025-12-28_jh_abc12345""#, "null");
        let (record, _) = scan_line(&failed, 0, ALL, &mut Memo::default())
            .expect("fast path");
        assert_eq!(record.error.as_deref(), Some("upstream_error"));
        assert!(agrees(&failed));
    }

    #[test]
    fn reads_a_line_inside_a_block_up_to_its_newline() {
        let block = format!("{OURS}\n{OURS}\nnot json\n{OURS}");
        let memo = &mut Memo::default();
        let (_, end) = scan_line(&block, 0, ALL, memo).unwrap();
        assert_eq!(end, OURS.len());
        let second = end + 1;
        let (_, end) = scan_line(&block, second, NO_COST, memo).unwrap();
        assert_eq!(&block[end..end + 1], "\n");
        assert!(scan_line(&block, end + 1, ALL, memo).is_none());
        let last = block.len() - OURS.len();
        assert_eq!(scan_line(&block, last, ALL, memo).unwrap().1, block.len());
    }

    #[test]
    fn declines_other_layouts_for_the_general_scanner() {
        let cases = [
            format!(" {OURS}"),
            format!("{OURS} "),
            format!("{OURS}\r"),
            OURS.replace(r#","mode":"advisor""#, ""),
            OURS.replace(r#""request_id""#, r#""request_ID""#),
            OURS.replace(":234,", ": 234,"),
            OURS.replace(r#","tokens":150"#, r#","tokens":150,"x":1"#),
        ];
        for line in &cases {
            assert!(
                scan_line(line, 0, ALL, &mut Memo::default()).is_none(),
                "{line}"
            );
            assert!(
                scan_line(line, 0, NO_COST, &mut Memo::default()).is_none(),
                "{line}"
            );
            assert!(
                crate::record::parse_text(line).is_some(),
                "still a record: {line}"
            );
        }
    }

    /// The checks every field keeps when its value is not converted:
    /// each of these lines is bad, with or without the cost.
    #[test]
    fn unconverted_fields_are_still_checked() {
        let cases = [
            OURS.replace("0.001", "1e999"),
            OURS.replace("0.001", "-1e400"),
            OURS.replace("0.001", "\"0.001\""),
            OURS.replace("0.001", "null"),
            OURS.replace("0.001", "01"),
            OURS.replace("0.001", "1."),
            OURS.replace("0.001", ".5"),
            OURS.replace("0.001", "+1"),
            OURS.replace("0.001", "1e"),
            OURS.replace("0.001", &format!("1{}", "0".repeat(400))),
            OURS.replace(":150,", ":-1,"),
            OURS.replace(":150,", ":9007199254740993,"),
            OURS.replace(":150,", ":\"many\","),
            OURS.replace("2025-12-28T15", "2025-02-30T15"),
            OURS.replace(r#""advisor""#, "null"),
            OURS.replace(r#""justinharmon""#, "7"),
            OURS.replace(r#""conv_2025-12-28_jh_abc12345""#, "true"),
        ];
        for line in &cases {
            for wants in [ALL, NO_COST] {
                assert!(
                    scan_line(line, 0, wants, &mut Memo::default()).is_none(),
                    "{line}"
                );
            }
            assert!(parse_with_serde(line.as_bytes()).is_none(), "{line}");
        }

        // Long plain costs and exponents in range are fine either way.
        for cost in
            [format!("1{}", "0".repeat(290)), "1e300".into(), "-2.5E-7".into()]
        {
            let line = OURS.replace("0.001", &cost);
            assert!(
                scan_line(&line, 0, NO_COST, &mut Memo::default()).is_some(),
                "{line}"
            );
            assert!(agrees(&line), "{line}");
        }
    }

    /// metrics-core's writer produces exactly the layout read here. A
    /// changed writer would only make files slower to read, never read
    /// wrongly, so this test is what would notice.
    #[test]
    fn metrics_core_lines_take_this_path() {
        let failed = OURS
            .replace(r#""error":null"#, r#""error":"upstream_error""#)
            .replace(r#""conv_2025-12-28_jh_abc12345""#, "null");
        for line in [OURS, &failed] {
            let record: metrics_core::RequestRecord =
                serde_json::from_str(line).unwrap();
            let mut buf = Vec::new();
            record.write_json_line(&mut buf);
            let text = std::str::from_utf8(&buf).unwrap();
            let text = text.strip_suffix('\n').unwrap();
            let memo = &mut Memo::default();
            assert!(scan_line(text, 0, ALL, memo).is_some(), "{text}");
            assert!(agrees(text), "{text}");
        }
    }

    /// The generated benchmark data: every line in our writer's layout
    /// takes this path, and agrees.
    #[test]
    fn generated_lines_take_this_path_and_agree() {
        let mut data = Vec::new();
        generate::write_lines(5_000, 7, None, &mut data).unwrap();
        let text = String::from_utf8(data).unwrap();
        let mut taken = 0;
        for line in text.lines() {
            taken += usize::from(
                scan_line(line, 0, ALL, &mut Memo::default()).is_some(),
            );
            assert!(agrees(line), "{line}");
        }
        let ours = text.lines().filter(|l| l.contains("request_id")).count();
        assert_eq!(taken, ours);
    }

    /// Each date is read once and remembered for the lines after it, but
    /// only for exactly the same ten bytes.
    #[test]
    fn the_date_memo_never_carries_over_to_another_date() {
        let days = [
            ("2025-12-28", Some(1_766_880_000)),
            ("2025-12-28", Some(1_766_880_000)),
            ("2025-02-30", None),
            ("2025-12-29", Some(1_766_966_400)),
            ("2024-02-29", Some(1_709_164_800)),
            ("2025-02-29", None),
            ("2025-02-29", None),
        ];
        let mut memo = Memo::default();
        for (day, secs) in days {
            let line = OURS.replace(
                "2025-12-28T15:30:00.123Z",
                &format!("{day}T00:00:00.500Z"),
            );
            let got = scan_line(&line, 0, ALL, &mut memo);
            assert_eq!(got.map(|(r, _)| r.instant.secs), secs, "{line}");
        }
    }

    /// Cutting our writer's line anywhere, or changing any byte, never
    /// makes this path disagree with the general scanner or the reference.
    #[test]
    fn torn_and_mangled_lines_agree() {
        for end in 0..OURS.len() {
            assert!(agrees(&OURS[..end]), "{}", &OURS[..end]);
        }
        for at in 0..OURS.len() {
            for replacement in
                [" ", "\"", "}", ",", "0", "9", "x", "\\", "é", "\n", "e"]
            {
                let mut line = OURS.to_owned();
                line.replace_range(at..at + 1, replacement);
                let line = line.split('\n').next().unwrap_or_default();
                assert!(agrees(line), "{line}");
            }
        }
    }
}
