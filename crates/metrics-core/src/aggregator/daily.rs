//! The current UTC day's spend: day numbers, cost units and the seed
//! restored at start-up.

use time::Date;

use super::shard::Access;
use super::tagged::Tagged;

const DAY_MS: i64 = 86_400_000;

/// Julian day number of 1970-01-01.
const EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// Cost is counted in nano-dollars so that it can be added with integer
/// atomics and summed without rounding drift.
const NANOS_PER_USD: f64 = 1e9;

/// Days since 1970-01-01 of the instant `now_ms`.
pub(crate) fn day_number(now_ms: i64) -> i64 {
    now_ms.div_euclid(DAY_MS)
}

/// Days since 1970-01-01 of `date`.
pub(crate) fn day_number_of(date: Date) -> i64 {
    i64::from(date.to_julian_day()) - EPOCH_JULIAN_DAY
}

/// The date of day number `day`.
pub(crate) fn date_of(day: i64) -> Date {
    let julian = i32::try_from(day + EPOCH_JULIAN_DAY).unwrap_or(0);
    Date::from_julian_day(julian).unwrap_or(Date::MIN)
}

/// `cost_usd` in nano-dollars; negative, NaN and infinite costs count 0.
pub(crate) fn to_nanos(cost_usd: f64) -> u64 {
    if cost_usd.is_finite() && cost_usd > 0.0 {
        // Adding a half and truncating rounds like `round` for positive
        // values without its library call; `as` saturates, which is the
        // wanted cap for absurd values.
        (cost_usd * NANOS_PER_USD + 0.5) as u64
    } else {
        0
    }
}

/// Nano-dollars back to dollars.
pub(crate) fn to_usd(nanos: u64) -> f64 {
    nanos as f64 / NANOS_PER_USD
}

/// Spend of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyTotals {
    /// The UTC day counted.
    pub day: Date,
    /// Cost of the day's requests in US dollars.
    pub cost_usd: f64,
    /// Requests counted that day.
    pub requests: u64,
}

/// A day's cost and request count, tagged with the day so that they read
/// as zero once it is over. Counts saturate at 2^48 - 1 (about 281 000
/// dollars a day per shard).
#[derive(Debug, Default)]
pub(crate) struct DayCounter {
    cost_nanos: Tagged<48>,
    requests: Tagged<48>,
}

impl DayCounter {
    /// Adds one request costing `nanos` to day `day`.
    pub(crate) fn add(
        &self,
        day: i64,
        nanos: u64,
        requests: u64,
        access: Access,
    ) {
        self.cost_nanos.add(day as u64, nanos, access);
        self.requests.add(day as u64, requests, access);
    }

    /// Replaces the counts with these for day `day`.
    pub(crate) fn set(&self, day: i64, nanos: u64, requests: u64) {
        self.cost_nanos.set(day as u64, nanos);
        self.requests.set(day as u64, requests);
    }

    /// `(nano-dollars, requests)` of day `day`.
    pub(crate) fn get(&self, day: i64) -> (u64, u64) {
        let tag = day as u64;
        (self.cost_nanos.get(tag), self.requests.get(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn day_numbers_round_trip() {
        let cases = [
            (datetime!(1970-01-01 00:00 UTC), 0),
            (datetime!(2025-12-28 23:59:59.999 UTC), 20450),
            (datetime!(1969-12-31 23:00 UTC), -1),
        ];
        for (at, want) in cases {
            let day = day_number(crate::clock::unix_ms(at));
            assert_eq!(day, want, "{at}");
            assert_eq!(date_of(day), at.date());
            assert_eq!(day_number_of(at.date()), want);
        }
        assert_eq!(date_of(20451), date!(2025 - 12 - 29));
    }

    #[test]
    fn cost_units() {
        let cases = [
            (0.001, 1_000_000),
            (-1.0, 0),
            (f64::NAN, 0),
            (1e-10, 0),
            (f64::INFINITY, 0),
        ];
        for (usd, nanos) in cases {
            assert_eq!(to_nanos(usd), nanos, "{usd}");
        }
        assert_eq!(to_usd(to_nanos(0.003) * 4), 0.012);
    }
}
