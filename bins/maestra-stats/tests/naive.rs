//! maestra-stats against a naive computation (everything in memory,
//! sorted and summed the obvious way) on generated data with bad lines,
//! with and without filters, on one thread and two.

mod support;

use std::collections::BTreeMap;
use std::fs;

use serde_json::{json, Value};
use support::*;

/// The naive answers for records kept by the filter.
struct Naive {
    records: Vec<Value>,
}

impl Naive {
    fn new(good: &[u8], keep: impl Fn(&Value) -> bool) -> Self {
        let records = good
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice::<Value>(line).unwrap())
            .filter(|record| keep(record))
            .collect();
        Self { records }
    }

    fn count_by(
        &self,
        key: impl Fn(&Value) -> Option<Value>,
    ) -> Vec<(String, Value, u64)> {
        let mut groups: BTreeMap<String, (Value, u64)> = BTreeMap::new();
        for record in &self.records {
            if let Some(value) = key(record) {
                // Status codes sort as numbers: pad them to sort as text.
                let sort_key = match &value {
                    Value::Number(n) => format!("{:020}", n.as_i64().unwrap()),
                    other => other.as_str().unwrap().to_owned(),
                };
                groups.entry(sort_key).or_insert((value, 0)).1 += 1;
            }
        }
        groups.into_iter().map(|(k, (v, n))| (k, v, n)).collect()
    }

    fn sum_by(&self, key: impl Fn(&Value) -> String) -> Vec<(String, f64)> {
        let mut groups: BTreeMap<String, f64> = BTreeMap::new();
        for record in &self.records {
            let cost = record["cost_usd"].as_f64().unwrap();
            groups
                .entry(key(record))
                .and_modify(|sum| *sum += cost)
                .or_insert(cost);
        }
        groups.into_iter().collect()
    }

    fn answer(&self, question: &str) -> Value {
        let surface = |r: &Value| r["surface_id"].as_str().unwrap().to_owned();
        let day = |r: &Value| r["timestamp"].as_str().unwrap()[..10].to_owned();
        match question {
            "requests" => Value::Array(
                self.count_by(|r| Some(r["surface_id"].clone()))
                    .into_iter()
                    .map(|(_, s, n)| json!({"surface": s, "count": n}))
                    .collect(),
            ),
            "errors --by status" => Value::Array(
                self.count_by(|r| Some(r["status_code"].clone()))
                    .into_iter()
                    .map(|(_, s, n)| json!({"status": s, "count": n}))
                    .collect(),
            ),
            "errors --by error" => {
                let mut groups = self.count_by(|r| {
                    Some(r.get("error")?.clone()).filter(|e| !e.is_null())
                });
                groups.sort_by_key(|g| std::cmp::Reverse(g.2));
                Value::Array(
                    groups
                        .into_iter()
                        .map(|(_, e, n)| json!({"error": e, "count": n}))
                        .collect(),
                )
            }
            "cost --by day" => Value::Array(
                self.sum_by(day)
                    .into_iter()
                    .map(|(d, c)| json!({"date": d, "cost": c}))
                    .collect(),
            ),
            "cost --by surface" => Value::Array(
                self.sum_by(surface)
                    .into_iter()
                    .map(|(s, c)| json!({"surface": s, "cost": c}))
                    .collect(),
            ),
            "latency" => {
                let mut sorted: Vec<u64> = self
                    .records
                    .iter()
                    .map(|r| r["latency_ms"].as_u64().unwrap())
                    .collect();
                sorted.sort_unstable();
                let n = sorted.len();
                let at = |q: f64| sorted[(n as f64 * q) as usize];
                json!({"min": sorted[0], "p50": at(0.5), "p95": at(0.95),
                       "p99": at(0.99), "max": sorted[n - 1]})
            }
            "summary" => {
                let n = self.records.len() as u64;
                let errors = self
                    .records
                    .iter()
                    .filter(|r| !r["error"].is_null())
                    .count();
                let status_errors = self
                    .records
                    .iter()
                    .filter(|r| r["status_code"].as_i64().unwrap() >= 400)
                    .count();
                let latency: u64 = self
                    .records
                    .iter()
                    .map(|r| r["latency_ms"].as_u64().unwrap())
                    .sum();
                let mut total: Option<f64> = None;
                for r in &self.records {
                    let c = r["cost_usd"].as_f64().unwrap();
                    total = Some(total.map_or(c, |t| t + c));
                }
                json!({"requests": n, "errors": errors, "status_errors": status_errors,
                       "avg_latency_ms": latency as f64 / n as f64,
                       "total_cost_usd": total.unwrap_or(0.0)})
            }
            _ => unreachable!("{question}"),
        }
    }
}

const QUESTIONS: [&str; 7] = [
    "summary",
    "latency",
    "errors --by status",
    "errors --by error",
    "cost --by day",
    "cost --by surface",
    "requests",
];

#[test]
fn answers_equal_a_naive_computation() {
    let dir = tempfile::tempdir().unwrap();
    let (mut good, mut mixed) = (Vec::new(), Vec::new());
    generate::write_lines(30_000, 42, None, &mut good).unwrap();
    let bad = generate::write_lines(30_000, 42, Some(503), &mut mixed).unwrap();
    let path = dir.path().join("mixed.jsonl");
    fs::write(&path, &mixed).unwrap();
    let path = path.to_str().unwrap();

    let date = |r: &Value| r["timestamp"].as_str().unwrap()[..10].to_owned();
    type Keep = Box<dyn Fn(&Value) -> bool>;
    let filters: Vec<(Vec<&str>, Keep)> = vec![
        (vec![], Box::new(|_| true)),
        (vec!["--surface", "café"], Box::new(|r| r["surface_id"] == "café")),
        (
            vec!["--since", "2025-12-24", "--until", "2025-12-26"],
            Box::new(move |r| {
                ("2025-12-24".into().."2025-12-26".into()).contains(&date(r))
            }),
        ),
        (
            vec!["--since", "2025-12-27T00:00:00Z", "--surface", "cli"],
            Box::new(move |r| {
                date(r).as_str() >= "2025-12-27" && r["surface_id"] == "cli"
            }),
        ),
    ];

    for (filter_args, keep) in &filters {
        let naive = Naive::new(&good, keep);
        assert!(
            naive.records.len() > 500,
            "{filter_args:?} keeps enough records"
        );
        for question in QUESTIONS {
            let want = naive.answer(question);
            for threads in ["1", "2"] {
                let mut args =
                    vec!["--file", path, "--json", "--threads", threads];
                args.extend(question.split(' '));
                args.extend(filter_args);
                let output = stats(&args, None);
                assert!(output.status.success(), "{args:?}");
                assert!(
                    stderr(&output)
                        .contains(&format!("skipped {bad} bad lines")),
                    "{args:?}: {}",
                    stderr(&output)
                );
                let got: Value =
                    serde_json::from_slice(&output.stdout).unwrap();
                assert!(
                    same_json(&got, &want),
                    "{args:?}\ngot  {got}\nwant {want}"
                );
            }
        }
    }
}
