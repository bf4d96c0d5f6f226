//! The questions the tool answers, and how each is reduced: a block of
//! lines becomes a [`Partial`], partials are folded in file order into a
//! [`Tally`], and the tally gives the [`Answer`].
//!
//! Each answer mirrors one jq pipeline of the note: groups come out in
//! jq's `group_by` order (keys sorted), costs are added left to right in
//! file order within each group exactly as jq's `add`, and latency
//! percentiles use the note's `sorted[int(count * q)]`.

use std::collections::{BTreeMap, HashMap};

use crate::layout::{scan_line, Memo, Wants};
use crate::record::{parse_line, parse_text, Record};
use crate::timestamp::Instant;

/// What to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Question {
    /// Requests, errors, average latency and total cost.
    Summary,
    /// Min, P50, P95, P99 and Max latency.
    Latency,
    /// Record count per status code (every record).
    ErrorsByStatus,
    /// Count per error code among records whose error is not null.
    ErrorsByError,
    /// Summed cost per day (the timestamp before its `T`).
    CostByDay,
    /// Summed cost per surface.
    CostBySurface,
    /// Record count per surface.
    RequestsBySurface,
}

impl Question {
    /// What the fast path must convert for this question.
    fn wants(self) -> Wants {
        let cost = matches!(
            self,
            Question::Summary | Question::CostByDay | Question::CostBySurface
        );
        Wants { cost }
    }
}

/// Which records take part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Keep records at or after this instant.
    pub since: Option<Instant>,
    /// Keep records strictly before this instant.
    pub until: Option<Instant>,
    /// Keep records of this surface only.
    pub surface: Option<String>,
}

impl Filter {
    fn keeps(&self, record: &Record<'_>) -> bool {
        self.since.is_none_or(|since| record.instant >= since)
            && self.until.is_none_or(|until| record.instant < until)
            && self.surface.as_deref().is_none_or(|s| record.surface_id == s)
    }
}

/// What one block contributes.
#[derive(Debug)]
pub struct Partial {
    /// Lines that are not records.
    pub bad_lines: u64,
    body: Body,
}

#[derive(Debug)]
enum Body {
    Summary { stats: SummaryStats, costs: Vec<f64> },
    Latency(Histogram),
    Status(HashMap<i64, u64>),
    Counts(Groups<u64>),
    Costs(Groups<Vec<f64>>),
}

/// Counters of a summary that add up exactly in any order.
#[derive(Clone, Copy, Debug, Default)]
struct SummaryStats {
    requests: u64,
    errors: u64,
    status_errors: u64,
    latency_sum: u128,
}

/// How often each latency occurs in one block: an array for the common
/// values below a minute, a map for the rest. Indexing an array beats
/// hashing every record.
#[derive(Debug, Default)]
struct Histogram {
    small: Vec<u32>,
    large: HashMap<u64, u64>,
}

impl Histogram {
    const SMALL: u64 = 1 << 16;

    fn add(&mut self, latency: u64) {
        if latency >= Self::SMALL {
            *self.large.entry(latency).or_default() += 1;
            return;
        }
        let at = latency as usize;
        if at >= self.small.len() {
            // Grown to fit the largest latency seen, not to a minute at
            // once: zeroing 256 KiB per block cost more than counting.
            let len = (at + 1).next_power_of_two().max(1024);
            self.small.resize(len, 0);
        }
        self.small[at] += 1;
    }
}

/// [`Histogram`] over the whole input, with counts that cannot overflow.
#[derive(Debug, Default)]
struct LatencyTotals {
    small: Vec<u64>,
    large: HashMap<u64, u64>,
}

impl LatencyTotals {
    /// Adds a block's counts one array slot at a time (the loop
    /// vectorises) rather than one hash per distinct latency.
    fn merge(&mut self, block: Histogram) {
        if self.small.len() < block.small.len() {
            self.small.resize(block.small.len(), 0);
        }
        for (mine, theirs) in self.small.iter_mut().zip(block.small) {
            *mine += u64::from(theirs);
        }
        for (latency, count) in block.large {
            *self.large.entry(latency).or_default() += count;
        }
    }

    fn into_map(self) -> HashMap<u64, u64> {
        let small = self.small.into_iter().enumerate();
        small
            .filter(|&(_, n)| n > 0)
            .map(|(latency, n)| (latency as u64, n))
            .chain(self.large)
            .collect()
    }
}

/// Values per string key in order of first appearance within a block.
#[derive(Debug, Default)]
struct Groups<V> {
    index: HashMap<String, usize>,
    entries: Vec<(String, V)>,
    last: Option<usize>,
}

impl<V: Default> Groups<V> {
    fn slot(&mut self, key: &str) -> &mut V {
        // Records of one day or surface often come in runs: checking the
        // previous key first skips most hash lookups.
        let at = match self.last {
            Some(at) if self.entries[at].0 == key => at,
            _ => match self.index.get(key) {
                Some(&at) => at,
                None => {
                    self.entries.push((key.to_owned(), V::default()));
                    self.index.insert(key.to_owned(), self.entries.len() - 1);
                    self.entries.len() - 1
                }
            },
        };
        self.last = Some(at);
        &mut self.entries[at].1
    }
}

/// Reduces one block of whole lines.
pub fn scan_block(
    block: &[u8],
    question: Question,
    filter: &Filter,
) -> Partial {
    let mut body = match question {
        Question::Summary => {
            Body::Summary { stats: SummaryStats::default(), costs: Vec::new() }
        }
        Question::Latency => Body::Latency(Histogram::default()),
        Question::ErrorsByStatus => Body::Status(HashMap::new()),
        Question::ErrorsByError | Question::RequestsBySurface => {
            Body::Counts(Groups::default())
        }
        Question::CostByDay | Question::CostBySurface => {
            Body::Costs(Groups::default())
        }
    };
    let mut bad_lines = 0;
    for_each_line(block, question.wants(), |parsed| {
        let Some(record) = parsed else {
            bad_lines += 1;
            return;
        };
        if filter.keeps(&record) {
            body.add(question, &record);
        }
    });
    Partial { bad_lines, body }
}

impl Body {
    fn add(&mut self, question: Question, record: &Record<'_>) {
        match self {
            Body::Summary { stats, costs } => {
                stats.requests += 1;
                stats.errors += u64::from(record.error.is_some());
                stats.status_errors += u64::from(record.status_code >= 400);
                stats.latency_sum += u128::from(record.latency_ms);
                costs.push(record.cost_usd);
            }
            Body::Latency(histogram) => histogram.add(record.latency_ms),
            Body::Status(counts) => {
                *counts.entry(record.status_code).or_default() += 1;
            }
            Body::Counts(groups) => match question {
                Question::ErrorsByError => {
                    if let Some(error) = &record.error {
                        *groups.slot(error) += 1;
                    }
                }
                _ => *groups.slot(&record.surface_id) += 1,
            },
            Body::Costs(groups) => {
                let key = match question {
                    Question::CostByDay => record.date(),
                    _ => &record.surface_id,
                };
                groups.slot(key).push(record.cost_usd);
            }
        }
    }
}

/// Calls `visit` with each line of `block` parsed (`None` for a bad line).
/// Every `\n` ends a line, and what follows the last one is a line too
/// unless it is empty (so a blank line is a bad line, as in jq).
fn for_each_line(
    block: &[u8],
    wants: Wants,
    mut visit: impl FnMut(Option<Record<'_>>),
) {
    let block = block.strip_suffix(b"\n").unwrap_or(block);

    // Checking UTF-8 once for the whole block, rather than per string
    // value, saves a fifth of the scanning time.
    let Ok(text) = std::str::from_utf8(block) else {
        block.split(|&b| b == b'\n').for_each(|line| visit(parse_line(line)));
        return;
    };

    // Lines in our writer's layout are read up to their newline by the
    // fast path; any other line is cut at its newline (the library's
    // memchr) and handed to the general parser.
    let mut start = 0;
    let mut memo = Memo::default();
    loop {
        let end = match scan_line(text, start, wants, &mut memo) {
            Some((record, end)) => {
                visit(Some(record));
                end
            }
            None => {
                let end = text[start..]
                    .find('\n')
                    .map_or(text.len(), |at| start + at);
                visit(parse_text(&text[start..end]));
                end
            }
        };
        if end == text.len() {
            return;
        }
        start = end + 1;
    }
}

/// Everything folded so far.
#[derive(Debug)]
pub struct Tally {
    question: Question,
    /// Lines that were not records.
    pub bad_lines: u64,
    summary: SummaryStats,
    total_cost: Option<f64>,
    histogram: LatencyTotals,
    status: BTreeMap<i64, u64>,
    counts: BTreeMap<String, u64>,
    costs: BTreeMap<String, f64>,
}

impl Tally {
    /// An empty tally for `question`.
    pub fn new(question: Question) -> Self {
        Self {
            question,
            bad_lines: 0,
            summary: SummaryStats::default(),
            total_cost: None,
            histogram: LatencyTotals::default(),
            status: BTreeMap::new(),
            counts: BTreeMap::new(),
            costs: BTreeMap::new(),
        }
    }

    /// Folds the next block; blocks must come in file order.
    pub fn absorb(&mut self, partial: Partial) {
        self.bad_lines += partial.bad_lines;
        match partial.body {
            Body::Summary { stats, costs } => {
                self.summary.requests += stats.requests;
                self.summary.errors += stats.errors;
                self.summary.status_errors += stats.status_errors;
                self.summary.latency_sum += stats.latency_sum;
                for cost in costs {
                    add_in_order(&mut self.total_cost, cost);
                }
            }
            Body::Latency(histogram) => self.histogram.merge(histogram),
            Body::Status(counts) => {
                for (status, count) in counts {
                    *self.status.entry(status).or_default() += count;
                }
            }
            Body::Counts(groups) => {
                for (key, count) in groups.entries {
                    *self.counts.entry(key).or_default() += count;
                }
            }
            Body::Costs(groups) => {
                for (key, values) in groups.entries {
                    let mut sum = self.costs.get(&key).copied();
                    for value in values {
                        add_in_order(&mut sum, value);
                    }
                    if let Some(sum) = sum {
                        self.costs.insert(key, sum);
                    }
                }
            }
        }
    }

    /// The answer to the question.
    pub fn answer(self) -> Answer {
        match self.question {
            Question::Summary => Answer::Summary(Summary {
                requests: self.summary.requests,
                errors: self.summary.errors,
                status_errors: self.summary.status_errors,
                avg_latency_ms: (self.summary.requests > 0).then(|| {
                    self.summary.latency_sum as f64
                        / self.summary.requests as f64
                }),
                total_cost_usd: self.total_cost.unwrap_or(0.0),
            }),
            Question::Latency => {
                Answer::Latency(percentiles(self.histogram.into_map()))
            }
            Question::ErrorsByStatus => {
                Answer::StatusCounts(self.status.into_iter().collect())
            }
            Question::ErrorsByError => {
                let mut counts: Vec<_> = self.counts.into_iter().collect();
                // Stable, so equal counts keep group_by's key order, as
                // jq's sort_by(-.count) does.
                counts.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
                Answer::ErrorCounts(counts)
            }
            Question::RequestsBySurface => {
                Answer::SurfaceCounts(self.counts.into_iter().collect())
            }
            Question::CostByDay => {
                Answer::DayCosts(self.costs.into_iter().collect())
            }
            Question::CostBySurface => {
                Answer::SurfaceCosts(self.costs.into_iter().collect())
            }
        }
    }
}

/// jq's `add`: start from the first value (not from zero, which would turn
/// a lone `-0` into `0`) and add left to right.
fn add_in_order(sum: &mut Option<f64>, value: f64) {
    *sum = Some(match *sum {
        Some(sum) => sum + value,
        None => value,
    });
}

/// The note's percentiles over a histogram of latencies: the value at
/// index `int(count * q)` of the sorted list, with the product taken in
/// doubles as awk does.
fn percentiles(histogram: HashMap<u64, u64>) -> Latency {
    let mut runs: Vec<(u64, u64)> = histogram.into_iter().collect();
    runs.sort_unstable();
    let count: u64 = runs.iter().map(|run| run.1).sum();
    if count == 0 {
        return Latency::default();
    }

    let at = |index: u64| {
        let mut seen = 0;
        for &(value, n) in &runs {
            seen += n;
            if index < seen {
                return Some(value);
            }
        }
        runs.last().map(|run| run.0)
    };
    let quantile = |q: f64| at((count as f64 * q) as u64);
    Latency {
        min: at(0),
        p50: quantile(0.5),
        p95: quantile(0.95),
        p99: quantile(0.99),
        max: at(count - 1),
    }
}

/// The computed answer, ready to print.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// See [`Summary`].
    Summary(Summary),
    /// See [`Latency`].
    Latency(Latency),
    /// `(status_code, count)` by ascending status.
    StatusCounts(Vec<(i64, u64)>),
    /// `(error, count)` by descending count, then error.
    ErrorCounts(Vec<(String, u64)>),
    /// `(surface_id, count)` by surface.
    SurfaceCounts(Vec<(String, u64)>),
    /// `(date, cost)` by date.
    DayCosts(Vec<(String, f64)>),
    /// `(surface_id, cost)` by surface.
    SurfaceCosts(Vec<(String, f64)>),
}

/// Totals over the selected records.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Records counted.
    pub requests: u64,
    /// Records whose `error` is not null.
    pub errors: u64,
    /// Records with a status code of 400 or more.
    pub status_errors: u64,
    /// Mean latency (the note's awk `sum/NR`); null without records.
    pub avg_latency_ms: Option<f64>,
    /// Sum of `cost_usd` in file order; 0 without records.
    pub total_cost_usd: f64,
}

/// Latency percentiles in milliseconds; all null without records.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Latency {
    /// Smallest latency.
    pub min: Option<u64>,
    /// `sorted[int(count * 0.5)]`.
    pub p50: Option<u64>,
    /// `sorted[int(count * 0.95)]`.
    pub p95: Option<u64>,
    /// `sorted[int(count * 0.99)]`.
    pub p99: Option<u64>,
    /// Largest latency.
    pub max: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        ts: &str,
        surface: &str,
        latency: u64,
        status: i64,
        cost: &str,
    ) -> String {
        format!(
            r#"{{"timestamp":"{ts}","surface_id":"{surface}","latency_ms":{latency},"status_code":{status},"cost_usd":{cost},"error":{}}}"#,
            if status >= 400 { r#""boom""# } else { "null" }
        )
    }

    fn answer(
        text: &str,
        question: Question,
        filter: &Filter,
    ) -> (Answer, u64) {
        let mut tally = Tally::new(question);
        tally.absorb(scan_block(text.as_bytes(), question, filter));
        let bad = tally.bad_lines;
        (tally.answer(), bad)
    }

    #[test]
    fn percentiles_follow_the_note_index_rule() {
        let cases: &[(&[u64], [u64; 5])] = &[
            (&[5], [5, 5, 5, 5, 5]),
            (&[1, 2], [1, 2, 2, 2, 2]),
            (&[3, 1, 2], [1, 2, 3, 3, 3]),
            (
                &[10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
                [10, 60, 100, 100, 100],
            ),
        ];
        for (values, want) in cases {
            let mut histogram = HashMap::new();
            for v in *values {
                *histogram.entry(*v).or_default() += 1;
            }
            let got = percentiles(histogram);
            let got = [got.min, got.p50, got.p95, got.p99, got.max]
                .map(Option::unwrap);
            assert_eq!(got, *want, "{values:?}");
        }

        // 100 values 1..=100: P95 is sorted[95] = 96, P99 sorted[99] = 100.
        let histogram = (1..=100).map(|v| (v, 1)).collect();
        let got = percentiles(histogram);
        assert_eq!(
            (got.p50, got.p95, got.p99),
            (Some(51), Some(96), Some(100))
        );
        assert_eq!(percentiles(HashMap::new()), Latency::default());
    }

    #[test]
    fn costs_add_left_to_right_per_group() {
        let text = [
            line("2025-12-27T10:00:00Z", "a", 1, 200, "0.1"),
            line("2025-12-28T10:00:00Z", "b", 1, 200, "1e16"),
            line("2025-12-27T11:00:00Z", "a", 1, 200, "0.2"),
            line("2025-12-28T11:00:00Z", "b", 1, 200, "1"),
            line("2025-12-28T12:00:00Z", "a", 1, 200, "-1e16"),
        ]
        .join("\n");
        let (got, _) = answer(&text, Question::CostByDay, &Filter::default());
        let want = Answer::DayCosts(vec![
            ("2025-12-27".into(), 0.1 + 0.2),
            ("2025-12-28".into(), (1e16 + 1.0) + -1e16),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn errors_by_error_sort_by_count_then_key() {
        let mut lines = Vec::new();
        for (error, n) in [("zeta", 2), ("alpha", 2), ("mid", 3)] {
            for _ in 0..n {
                lines.push(format!(
                    r#"{{"timestamp":"2025-12-28T10:00:00Z","surface_id":"s","latency_ms":1,"status_code":500,"cost_usd":0,"error":"{error}"}}"#
                ));
            }
        }
        lines.push(line("2025-12-28T10:00:00Z", "s", 1, 200, "0"));
        let (got, _) = answer(
            &lines.join("\n"),
            Question::ErrorsByError,
            &Filter::default(),
        );
        let want = Answer::ErrorCounts(vec![
            ("mid".into(), 3),
            ("alpha".into(), 2),
            ("zeta".into(), 2),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn filters_are_half_open_and_exact() {
        let text = [
            line("2025-12-27T23:59:59Z", "a", 1, 200, "1"),
            line("2025-12-28T00:00:00Z", "a", 2, 200, "1"),
            line("2025-12-28T23:59:59.999Z", "b", 3, 200, "1"),
            line("2025-12-29T00:00:00Z", "a", 4, 200, "1"),
        ]
        .join("\n");
        let day = |d: &str| crate::timestamp::parse_bound(d);
        let cases = [
            (Filter { since: day("2025-12-28"), ..Filter::default() }, 3),
            (Filter { until: day("2025-12-28"), ..Filter::default() }, 1),
            (
                Filter {
                    since: day("2025-12-28"),
                    until: day("2025-12-29"),
                    ..Filter::default()
                },
                2,
            ),
            (Filter { surface: Some("a".into()), ..Filter::default() }, 3),
            (Filter { surface: Some("zzz".into()), ..Filter::default() }, 0),
        ];
        for (filter, want) in cases {
            let (got, _) = answer(&text, Question::Summary, &filter);
            let Answer::Summary(summary) = got else { unreachable!() };
            assert_eq!(summary.requests, want, "{filter:?}");
        }
    }

    #[test]
    fn bad_lines_are_counted_not_fatal() {
        let text = format!(
            "{}\n\n   \n{{\"timestamp\":\nnot json\n{}\n",
            line("2025-12-28T10:00:00Z", "a", 1, 200, "1"),
            line("2025-12-28T10:00:00Z", "a", 1, 404, "1"),
        );
        let (got, bad) = answer(&text, Question::Summary, &Filter::default());
        assert_eq!(bad, 4);
        let want = Summary {
            requests: 2,
            errors: 1,
            status_errors: 1,
            avg_latency_ms: Some(1.0),
            total_cost_usd: 2.0,
        };
        assert_eq!(got, Answer::Summary(want));
    }
}
