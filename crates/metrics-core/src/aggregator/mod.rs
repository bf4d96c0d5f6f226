//! [`Aggregator`]: lock-free running totals of request metrics.

mod conversations;
mod daily;
mod hash;
mod shard;
mod surfaces;
mod tagged;
mod window;

use std::sync::Arc;
use std::time::Duration;

use time::Date;

use crate::clock::{from_unix_ms, Clock, SystemClock};
use crate::histogram::LatencyHistogram;
use crate::record::RequestRecord;
use crate::snapshot::{Snapshot, SurfaceCounts};
use conversations::ConversationTable;
use daily::{date_of, day_number, day_number_of, to_nanos, to_usd, DayCounter};
use shard::{bump, class_of, duration_bucket, read, stripe, Shard, CLASSES};
use surfaces::SurfaceTable;
use window::{ratio, rounded_mean, WindowShape};

pub use daily::DailyTotals;
pub use surfaces::OTHER_SURFACE;
pub use window::WindowStats;

/// Settings of an [`Aggregator`].
///
/// | field | default | meaning |
/// |---|---|---|
/// | `conversation_ttl` | 1800 s | activity span of a conversation |
/// | `conversation_slots` | 16384 | size of the conversation table |
/// | `surface_cap` | 32 | surfaces counted by name |
/// | `window` | 300 s | length of the rolling window |
/// | `shards` | 0 (auto) | counter stripes held by threads |
/// | `clock` | [`SystemClock`] | time source |
///
/// A conversation is active while it had a request within the TTL, in
/// whole seconds. The table takes 16 bytes a slot and is rounded up to a
/// power of two; when it is crowded, new conversations go uncounted (see
/// [`Snapshot::conversations_untracked`]). Surfaces beyond the cap fold
/// into `other`. The window is cut into at most 60 buckets of whole
/// seconds. Shards are rounded up to a power of two; auto is twice the
/// CPUs, at most 64. A thread recording takes a stripe for itself when
/// the one its thread picks is free, and writes it without locked
/// instructions; the others share one more stripe, written with atomic
/// adds.
///
/// The latency histogram is fixed: 16 buckets per power of two, quantiles
/// within 1/32 of the true value (see [`LatencyHistogram`]).
#[derive(Debug, Clone)]
pub struct AggregatorConfig {
    /// How long a conversation stays active after its last request.
    pub conversation_ttl: Duration,
    /// Size of the conversation table.
    pub conversation_slots: usize,
    /// Distinct surfaces counted by name.
    pub surface_cap: usize,
    /// Length of the rolling window.
    pub window: Duration,
    /// Counter stripes that threads hold for themselves; 0 picks twice
    /// the CPUs. One shared stripe is always added.
    pub shards: usize,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig {
            conversation_ttl: Duration::from_secs(1800),
            conversation_slots: 16384,
            surface_cap: 32,
            window: Duration::from_secs(300),
            shards: 0,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Running totals of request metrics, shared by reference between
/// threads (`Send + Sync`).
///
/// [`record`](Aggregator::record) writes a stripe of counters that the
/// calling thread holds for itself, with plain loads and stores, or the
/// shared stripe with atomic adds: no lock, no allocation (except once
/// per new surface name, when its slot is claimed, and once per thread,
/// when it takes its stripe). Times come from the configured [`Clock`], never
/// from the record's `timestamp`: a record with a skewed or replayed
/// timestamp still lands in the current window and UTC day.
#[derive(Debug)]
pub struct Aggregator {
    /// The stripes threads hold, then the shared one.
    shards: Arc<[Shard]>,
    surfaces: SurfaceTable,
    conversations: ConversationTable,
    window: WindowShape,
    seed: DayCounter,
    clock: Arc<dyn Clock>,
    started_ms: i64,
}

impl Default for Aggregator {
    fn default() -> Self {
        Self::new(AggregatorConfig::default())
    }
}

impl Aggregator {
    /// An aggregator with the given settings, started now.
    pub fn new(config: AggregatorConfig) -> Self {
        let shards = match config.shards {
            0 => {
                std::thread::available_parallelism().map_or(4, |n| n.get() * 2)
            }
            n => n,
        };
        let shards = shards.clamp(1, 64).next_power_of_two() + 1;
        let surfaces = SurfaceTable::new(config.surface_cap);
        let ttl_s = i64::try_from(config.conversation_ttl.as_secs())
            .unwrap_or(i64::MAX);

        Aggregator {
            shards: (0..shards).map(|_| Shard::new(surfaces.rows())).collect(),
            surfaces,
            conversations: ConversationTable::new(
                config.conversation_slots,
                ttl_s,
            ),
            window: WindowShape::new(config.window.as_secs()),
            seed: DayCounter::default(),
            started_ms: config.clock.now_unix_ms(),
            clock: config.clock,
        }
    }

    /// Counts one completed request.
    pub fn record(&self, r: &RequestRecord) {
        let now_ms = self.clock.now_unix_ms();
        let now_s = now_ms.div_euclid(1000);
        let (shard, access) = stripe(&self.shards);
        let nanos = to_nanos(r.cost_usd);

        bump(&shard.requests, 1, access);
        if r.status_code >= 500 {
            bump(&shard.errors_5xx, 1, access);
        } else if r.status_code >= 400 {
            bump(&shard.errors_4xx, 1, access);
        }
        bump(&shard.latency_sum_ms, r.latency_ms, access);
        bump(&shard.cost_nanos, nanos, access);
        if let Some(b) = duration_bucket(r.latency_ms) {
            bump(&shard.duration[b], 1, access);
        }
        let bucket = crate::histogram::bucket_of(r.latency_ms);
        bump(&shard.latency[bucket], 1, access);

        let row = self.surfaces.row_of(&r.surface_id);
        bump(shard.surface(row, class_of(r.status_code)), 1, access);

        self.window.record(
            &shard.window,
            now_s,
            r.status_code,
            r.latency_ms,
            access,
        );
        shard.daily.add(day_number(now_ms), nanos, 1, access);
        if let Some(id) = r.conversation_id.as_deref().filter(|c| !c.is_empty())
        {
            self.conversations.touch(id, now_s);
        }
    }

    /// Restores the spend of UTC day `day` (read back from the metrics
    /// file at start-up), replacing any earlier seed. It counts only while
    /// `day` is the clock's current UTC day.
    pub fn seed_daily(&self, day: Date, cost_usd: f64, requests: u64) {
        self.seed.set(day_number_of(day), to_nanos(cost_usd), requests);
    }

    /// Spend of the clock's current UTC day, seed included.
    pub fn daily(&self) -> DailyTotals {
        let today = day_number(self.clock.now_unix_ms());
        let (mut nanos, mut requests) = self.seed.get(today);
        for shard in self.shards.iter() {
            let (n, r) = shard.daily.get(today);
            nanos += n;
            requests += r;
        }
        DailyTotals { day: date_of(today), cost_usd: to_usd(nanos), requests }
    }

    /// Cost of the current UTC day in US dollars, seed included.
    pub fn daily_cost_usd(&self) -> f64 {
        self.daily().cost_usd
    }

    /// Figures of the rolling window ending now.
    pub fn window(&self) -> WindowStats {
        let now_s = self.clock.now_unix_ms().div_euclid(1000);
        let mut stats = WindowStats {
            window_seconds: self.window.len_s(),
            ..WindowStats::default()
        };
        for shard in self.shards.iter() {
            self.window.sum(&shard.window, now_s, &mut stats);
        }
        stats.finish()
    }

    /// Conversations with a request within the TTL.
    pub fn active_conversations(&self) -> u64 {
        let now_s = self.clock.now_unix_ms().div_euclid(1000);
        self.conversations.active(now_s)
    }

    /// All figures now, labelled with the service's name and version.
    pub fn snapshot(&self, service: &str, version: &str) -> Snapshot {
        let now_ms = self.clock.now_unix_ms();
        let mut latency = LatencyHistogram::new();
        let mut sums = [0u64; 5];
        let mut duration = [0u64; 11];
        let rows = self.surfaces.rows();
        let mut by_row = vec![[0u64; CLASSES]; rows];

        for shard in self.shards.iter() {
            let totals = [
                &shard.requests,
                &shard.errors_4xx,
                &shard.errors_5xx,
                &shard.latency_sum_ms,
                &shard.cost_nanos,
            ];
            for (sum, counter) in sums.iter_mut().zip(totals) {
                *sum += read(counter);
            }
            for (sum, counter) in duration.iter_mut().zip(&shard.duration) {
                *sum += read(counter);
            }
            for (bucket, counter) in shard.latency.iter().enumerate() {
                latency.add_bucket(bucket, read(counter));
            }
            for (i, counter) in shard.surface_counts().iter().enumerate() {
                by_row[i / CLASSES][i % CLASSES] += read(counter);
            }
        }
        let [requests, e4xx, e5xx, latency_sum_ms, cost_nanos] = sums;

        // Prometheus wants cumulative buckets that never pass `_count`.
        let mut running = 0;
        for bucket in duration.iter_mut() {
            running += *bucket;
            *bucket = running;
        }
        let duration_count = requests.max(running);

        let mut surfaces: Vec<SurfaceCounts> = by_row
            .into_iter()
            .enumerate()
            .filter_map(|(row, by_class)| {
                let named = self.surfaces.name(row)?;
                let seen = row != self.surfaces.other()
                    || by_class.iter().any(|&c| c > 0);
                seen.then(|| SurfaceCounts {
                    surface: named.to_owned(),
                    by_class,
                })
            })
            .collect();

        // Sorted by name for stable output; `other` stays last.
        let named = surfaces.len()
            - usize::from(
                surfaces.last().is_some_and(|s| s.surface == OTHER_SURFACE),
            );
        surfaces[..named].sort_by(|a, b| a.surface.cmp(&b.surface));

        let errors = e4xx + e5xx;
        let window = self.window();
        let daily = self.daily();
        Snapshot {
            timestamp: from_unix_ms(now_ms),
            uptime_seconds: u64::try_from(
                now_ms.saturating_sub(self.started_ms) / 1000,
            )
            .unwrap_or(0),
            total_requests: requests,
            total_errors: errors,
            avg_latency_ms: rounded_mean(latency_sum_ms, requests),
            total_cost_usd: to_usd(cost_nanos),
            active_conversations: self.active_conversations(),
            service: service.to_owned(),
            version: version.to_owned(),
            error_rate: ratio(errors, requests),
            p50_latency_ms: latency.quantile(0.5),
            p95_latency_ms: latency.quantile(0.95),
            p99_latency_ms: latency.quantile(0.99),
            total_4xx: e4xx,
            total_5xx: e5xx,
            daily_cost_usd: daily.cost_usd,
            window_seconds: window.window_seconds,
            window_requests: window.requests,
            window_errors: window.errors,
            window_error_rate: window.error_rate,
            window_avg_latency_ms: window.avg_latency_ms,
            window,
            day: daily.day,
            daily_requests: daily.requests,
            surfaces,
            duration_buckets: duration,
            duration_count,
            latency_sum_ms,
            latency,
            conversations_untracked: self.conversations.untracked(),
        }
    }
}
