//! RFC 3339 timestamps and calendar dates turned into comparable instants.
//!
//! Hand-written rather than built on a date library because every record
//! line goes through [`parse_rfc3339`]: it has to cost a few nanoseconds.

/// A point in time: seconds since the Unix epoch plus nanoseconds.
///
/// Ordering is chronological, whatever offset the text was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// Nanoseconds within the second, below 1 000 000 000.
    pub nanos: u32,
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`.
///
/// `t` and `z` are accepted in lower case as RFC 3339 allows; fraction
/// digits past the ninth are ignored. Returns `None` for anything else,
/// including impossible dates such as February 30.
pub fn parse_rfc3339(text: &[u8]) -> Option<Instant> {
    if text.len() < 20 {
        return None;
    }
    let (days, rest) = parse_date_prefix(text)?;
    parse_after_date(days, rest)
}

/// The rest of [`parse_rfc3339`] once the date is read: `rest` is what
/// follows `YYYY-MM-DD` (`THH:MM:SS...`), `days` the date's days since the
/// epoch. Lets a caller that met the same date on the previous line skip
/// reading it again.
pub fn parse_after_date(days: i64, rest: &[u8]) -> Option<Instant> {
    if rest.len() < 10 || !matches!(rest[0], b'T' | b't') {
        return None;
    }
    let hour = two_digits(&rest[1..3])?;
    let minute = two_digits(&rest[4..6])?;
    let second = two_digits(&rest[7..9])?;
    if rest[3] != b':' || rest[6] != b':' {
        return None;
    }

    // A leap second (:60) is allowed by RFC 3339; it folds into the next
    // second, which keeps the ordering right for every real record.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }

    let mut at = 9;
    let mut nanos = 0u32;
    if rest.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        let mut scale = 100_000_000u32;
        while let Some(d) = rest.get(at).filter(|b| b.is_ascii_digit()) {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
            at += 1;
        }
        if at == start {
            return None;
        }
    }

    let offset = parse_offset(&rest[at..])?;
    let secs = days * 86_400
        + i64::from(hour) * 3_600
        + i64::from(minute) * 60
        + i64::from(second)
        - offset;
    Some(Instant { secs, nanos })
}

/// Parses a filter bound: a date `YYYY-MM-DD` (midnight UTC starting that
/// day) or a full RFC 3339 timestamp.
pub fn parse_bound(text: &str) -> Option<Instant> {
    let bytes = text.as_bytes();
    if bytes.len() == 10 {
        let (days, _) = parse_date_prefix(bytes)?;
        return Some(Instant { secs: days * 86_400, nanos: 0 });
    }
    parse_rfc3339(bytes)
}

/// Reads `YYYY-MM-DD` at the start of `text`, giving days since the epoch
/// and the bytes after the date.
pub fn parse_date_prefix(text: &[u8]) -> Option<(i64, &[u8])> {
    if text.len() < 10 || text[4] != b'-' || text[7] != b'-' {
        return None;
    }
    let year = i64::from(two_digits(&text[0..2])?) * 100
        + i64::from(two_digits(&text[2..4])?);
    let month = two_digits(&text[5..7])?;
    let day = two_digits(&text[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in(year, month) {
        return None;
    }
    Some((days_from_civil(year, month, day), &text[10..]))
}

/// Reads the zone designator that must end a timestamp, in seconds east
/// of UTC.
fn parse_offset(text: &[u8]) -> Option<i64> {
    match text {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = two_digits(&[*h1, *h2])?;
            let minutes = two_digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = i64::from(hours) * 3_600 + i64::from(minutes) * 60;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => None,
    }
}

fn two_digits(pair: &[u8]) -> Option<u32> {
    match pair {
        [a @ b'0'..=b'9', b @ b'0'..=b'9'] => {
            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => None,
    }
}

fn days_in(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date, by the
/// usual era arithmetic (400-year cycles of 146 097 days).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nanos: u32) -> Option<Instant> {
        Some(Instant { secs, nanos })
    }

    #[test]
    fn parses_the_shapes_writers_use() {
        let cases: &[(&str, Option<Instant>)] = &[
            ("1970-01-01T00:00:00Z", at(0, 0)),
            ("2025-12-28T15:30:00Z", at(1_766_935_800, 0)),
            ("2025-12-28T15:30:00.123Z", at(1_766_935_800, 123_000_000)),
            ("2025-12-28T15:30:00.1234567891Z", at(1_766_935_800, 123_456_789)),
            ("2025-12-28t15:30:00z", at(1_766_935_800, 0)),
            ("2025-12-28T16:30:00+01:00", at(1_766_935_800, 0)),
            ("2025-12-28T10:30:00-05:00", at(1_766_935_800, 0)),
            ("2024-02-29T00:00:00Z", at(1_709_164_800, 0)),
            ("1969-12-31T23:59:59Z", at(-1, 0)),
            ("2025-12-28T15:30:00", None),
            ("2025-12-28 15:30:00Z", None),
            ("2025-02-29T00:00:00Z", None),
            ("2025-13-01T00:00:00Z", None),
            ("2025-12-28T24:00:00Z", None),
            ("2025-12-28T15:30:00.Z", None),
            ("2025-12-28T15:30:00+0100", None),
            ("2025-12-28T15:30:00Zjunk", None),
            ("2025-1a-28T15:30:00Z", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_rfc3339(text.as_bytes()), *want, "{text}");
        }
    }

    #[test]
    fn bounds_take_dates_or_timestamps() {
        let cases: &[(&str, Option<Instant>)] = &[
            ("2025-12-28", at(1_766_880_000, 0)),
            ("2000-03-01", at(951_868_800, 0)),
            ("2025-12-28T15:30:00Z", at(1_766_935_800, 0)),
            ("2025-12-32", None),
            ("yesterday", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_bound(text), *want, "{text}");
        }
    }
}
