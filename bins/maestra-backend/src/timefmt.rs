//! Timestamps in the one text form the server shows.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// RFC 3339 in UTC to the second, ending in `Z`:
/// `2025-12-28T15:30:00Z`.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at =
        at.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

/// Whole seconds from `now` to the next 00:00 UTC, at least 1.
pub fn secs_to_utc_midnight(now: OffsetDateTime) -> u64 {
    let now = now.to_offset(time::UtcOffset::UTC);
    let elapsed = u64::from(now.hour()) * 3600
        + u64::from(now.minute()) * 60
        + u64::from(now.second());
    (86_400 - elapsed).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn format() {
        assert_eq!(
            rfc3339(datetime!(2025-12-28 15:30:00.789 UTC)),
            "2025-12-28T15:30:00Z"
        );
        assert_eq!(
            rfc3339(datetime!(2025-12-28 16:30:00 +1)),
            "2025-12-28T15:30:00Z"
        );
    }

    #[test]
    fn midnight() {
        assert_eq!(
            secs_to_utc_midnight(datetime!(2025-12-28 23:59:00 UTC)),
            60
        );
        assert_eq!(
            secs_to_utc_midnight(datetime!(2025-12-28 00:00:00 UTC)),
            86_400
        );
    }
}
