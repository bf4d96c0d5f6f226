//! [`Clock`]: where the aggregator gets the time, so tests can move it.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

/// A source of wall-clock time in milliseconds since the Unix epoch.
///
/// The aggregator reads it on every `record` and `snapshot`, so an
/// implementation should be cheap. [`SystemClock`] is the default;
/// [`ManualClock`] lets tests step through windows, TTLs and UTC days.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_unix_ms(&self) -> i64;
}

/// The operating system's real-time clock.
///
/// On Linux it reads `CLOCK_REALTIME_COARSE`: the time of the last timer
/// tick, a few milliseconds old at most (4 ms at the usual 250 Hz), for
/// about a sixth of the cost of the precise clock (6 ns against 46 ns
/// on the benchmark machine, where the precise clock was a third of
/// `Aggregator::record`). The aggregator counts in whole seconds, so a
/// request a few milliseconds after a second turns may count in the
/// second before. Elsewhere it reads `SystemTime`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> i64 {
        #[cfg(target_os = "linux")]
        if let Some(ms) = coarse_unix_ms() {
            return ms;
        }
        precise_unix_ms()
    }
}

fn precise_unix_ms() -> i64 {
    let now = std::time::SystemTime::now();
    match now.duration_since(std::time::UNIX_EPOCH) {
        // Seconds and milliseconds apart: `as_millis` divides a u128,
        // which showed in the profile of `Aggregator::record`.
        Ok(d) => i64::try_from(d.as_secs()).map_or(i64::MAX, |s| {
            s.saturating_mul(1000) + i64::from(d.subsec_millis())
        }),
        Err(e) => {
            let back = e.duration().as_millis();
            -i64::try_from(back).unwrap_or(i64::MAX)
        }
    }
}

/// The coarse real-time clock, `None` if the kernel refuses it.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
// `time_t` and `c_long` are 32 bits on some Linux targets.
#[allow(clippy::useless_conversion)]
fn coarse_unix_ms() -> Option<i64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };

    // SAFETY: `ts` is a valid, writable timespec that outlives the call,
    // and the clock id is a constant defined by the C library; the call
    // writes nothing else.
    let rc =
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = i64::from(ts.tv_sec);
    Some(secs.saturating_mul(1000) + i64::from(ts.tv_nsec) / 1_000_000)
}

/// A clock that only moves when told to; share it with an `Arc`.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock { ms: AtomicI64::new(unix_ms(start)) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ms.fetch_add(by, Ordering::SeqCst);
    }

    /// Puts the clock at `at`, forward or back.
    pub fn set(&self, at: OffsetDateTime) {
        self.ms.store(unix_ms(at), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// Milliseconds since the Unix epoch of `at`.
pub(crate) fn unix_ms(at: OffsetDateTime) -> i64 {
    let ms = at.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The instant `ms` milliseconds after the Unix epoch (clamped to what
/// `OffsetDateTime` can hold).
pub(crate) fn from_unix_ms(ms: i64) -> OffsetDateTime {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2025-12-28 23:59:59 UTC));
        assert_eq!(from_unix_ms(clock.now_unix_ms()).second(), 59);

        clock.advance(Duration::from_millis(1500));
        let now = from_unix_ms(clock.now_unix_ms());
        assert_eq!(now, datetime!(2025-12-29 00:00:00.5 UTC));

        clock.set(datetime!(1969-12-31 23:59:59 UTC));
        assert_eq!(clock.now_unix_ms(), -1000);
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(SystemClock.now_unix_ms() > 1_704_067_200_000);
    }

    #[test]
    fn system_clock_is_within_a_tick_of_the_precise_one() {
        let before = precise_unix_ms();
        let now = SystemClock.now_unix_ms();
        let after = precise_unix_ms();
        assert!(now <= after, "{now} after {after}");
        assert!(before - now <= 50, "{now} lags {before}");
    }
}
