//! [`Clock`]: where the alerter reads the time that decides folding.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A source of monotonic time for the fold cooldown.
///
/// Only folding reads this clock, so tests can step through a cooldown
/// without waiting. Pacing, retry waits and timeouts always use real time:
/// they pace a real HTTP peer.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock, [`Instant::now`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to, for tests.
///
/// ```
/// use alerts_slack::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(301));
/// assert_eq!(clock.now() - start, Duration::from_secs(301));
/// ```
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl ManualClock {
    /// A clock standing at the real current instant.
    pub fn new() -> Self {
        ManualClock { now: Mutex::new(Instant::now()) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = crate::worker::later(*now, by);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock").finish_non_exhaustive()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
