//! Every jq command of sections 3 and 6 of the metrics note, run unchanged
//! (only the file path is substituted) on a file this crate wrote.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use metrics_core::{JsonlWriter, RequestRecord, WriterConfig};
use serde_json::{json, Value};
use time::macros::datetime;

/// The note's path, replaced by the test file's.
const NOTE_PATH: &str = "~/.8825/maestra_metrics.jsonl";

const VIEW_ALL: &str = "cat ~/.8825/maestra_metrics.jsonl | jq '.'";
const COUNT: &str = "cat ~/.8825/maestra_metrics.jsonl | wc -l";
const AVERAGE: &str = "cat ~/.8825/maestra_metrics.jsonl | jq '.latency_ms' \
     | awk '{sum+=$1} END {print sum/NR}'";
const ERRORS: &str =
    "cat ~/.8825/maestra_metrics.jsonl | jq 'select(.error != null)'";
const BY_SURFACE: &str = "cat ~/.8825/maestra_metrics.jsonl | jq -s \
     'group_by(.surface_id) | map({surface: .[0].surface_id, count: length})'";
const PERCENTILES: &str = concat!(
    "cat ~/.8825/maestra_metrics.jsonl | jq '.latency_ms' | sort -n | ",
    r#"awk '
  BEGIN { count=0 }
  { latencies[count++]=$1 }
  END {
    print "Min:", latencies[0]
    print "P50:", latencies[int(count*0.5)]
    print "P95:", latencies[int(count*0.95)]
    print "P99:", latencies[int(count*0.99)]
    print "Max:", latencies[count-1]
  }
'"#
);
const BY_STATUS: &str = "cat ~/.8825/maestra_metrics.jsonl | jq -s \
     'group_by(.status_code) | map({status: .[0].status_code, count: length})'";
const COMMON_ERRORS: &str = "cat ~/.8825/maestra_metrics.jsonl | jq -s \
     'map(select(.error != null)) | group_by(.error) | map({error: .[0].error, \
     count: length}) | sort_by(-.count)'";
const DAILY_COST: &str = "cat ~/.8825/maestra_metrics.jsonl | jq -s \
     'group_by(.timestamp | split(\"T\")[0]) | map({date: .[0].timestamp | \
     split(\"T\")[0], cost: (map(.cost_usd) | add)})'";
const SURFACE_COST: &str = "cat ~/.8825/maestra_metrics.jsonl | jq -s \
     'group_by(.surface_id) | map({surface: .[0].surface_id, cost: \
     (map(.cost_usd) | add)})'";

fn run(command: &str, path: &Path) -> String {
    let quoted = format!("'{}'", path.display());
    let command = command.replace(NOTE_PATH, &quoted);
    let out = Command::new("sh").args(["-c", &command]).output().unwrap();
    assert!(out.status.success(), "{command}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Parses a stream of JSON values (jq's output).
fn values(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

fn records() -> Vec<RequestRecord> {
    let days =
        [datetime!(2025-12-27 22:15:01.5 UTC), datetime!(2025-12-28 09:00 UTC)];
    (0..300u64)
        .map(|i| {
            let failed = i % 10 == 3 || i % 25 == 0;
            let error = match (failed, i % 3) {
                (false, _) => None,
                (true, 0) => Some("upstream_error"),
                (true, _) => Some("rate_limited"),
            };
            RequestRecord {
                timestamp: days[(i / 200) as usize],
                request_id: format!("req_{i:04}"),
                surface_id: ["windsurf", "cli", "web \"beta\""]
                    [(i % 3) as usize]
                    .into(),
                user_id: "justinharmon".into(),
                conversation_id: (i % 4 != 0)
                    .then(|| format!("conv_{}", i / 8)),
                mode: "advisor".into(),
                latency_ms: (i * 7919) % 1500 + 20,
                status_code: match error {
                    None => 200,
                    Some("upstream_error") => 502,
                    Some(_) => 429,
                },
                tokens: i,
                cost_usd: i as f64 * 0.000002 + 0.0001,
                error: error.map(String::from),
            }
        })
        .collect()
}

/// Groups `items` by `key` in key order, keeping file order inside.
fn groups<K: Ord, T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> BTreeMap<K, Vec<T>> {
    let mut map: BTreeMap<K, Vec<T>> = BTreeMap::new();
    for item in items {
        map.entry(key(item)).or_default().push(item.clone());
    }
    map
}

fn cost(group: &[RequestRecord]) -> f64 {
    group.iter().fold(0.0, |sum, r| sum + r.cost_usd)
}

#[test]
fn the_notes_commands_work_on_our_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maestra metrics.jsonl");
    let records = records();
    let (writer, guard) = JsonlWriter::open(WriterConfig::new(&path)).unwrap();
    records.iter().for_each(|r| assert!(writer.submit(r)));
    drop(guard);
    let n = records.len();

    // Section 3.
    let all = values(&run(VIEW_ALL, &path));
    let want: Vec<Value> =
        records.iter().map(|r| serde_json::to_value(r).unwrap()).collect();
    assert_eq!(all, want);

    assert_eq!(run(COUNT, &path).trim(), n.to_string());

    let avg: f64 = run(AVERAGE, &path).trim().parse().unwrap();
    let exact =
        records.iter().map(|r| r.latency_ms).sum::<u64>() as f64 / n as f64;
    assert!((avg - exact).abs() <= exact * 1e-5, "{avg} vs {exact}");

    let errors = values(&run(ERRORS, &path));
    let failed: Vec<Value> =
        want.iter().filter(|v| !v["error"].is_null()).cloned().collect();
    assert!(!failed.is_empty());
    assert_eq!(errors, failed);

    let by_surface = groups(&records, |r| r.surface_id.clone());
    let want: Vec<Value> = by_surface
        .iter()
        .map(|(s, g)| json!({"surface": s, "count": g.len()}))
        .collect();
    assert_eq!(values(&run(BY_SURFACE, &path)), [Value::from(want)]);

    // Section 6.
    let mut sorted: Vec<u64> = records.iter().map(|r| r.latency_ms).collect();
    sorted.sort_unstable();
    let at = |q: f64| sorted[(n as f64 * q) as usize];
    let want = format!(
        "Min: {}\nP50: {}\nP95: {}\nP99: {}\nMax: {}\n",
        sorted[0],
        at(0.5),
        at(0.95),
        at(0.99),
        sorted[n - 1]
    );
    assert_eq!(run(PERCENTILES, &path), want);

    let want: Vec<Value> = groups(&records, |r| r.status_code)
        .iter()
        .map(|(s, g)| json!({"status": s, "count": g.len()}))
        .collect();
    assert_eq!(values(&run(BY_STATUS, &path)), [Value::from(want)]);

    let failed: Vec<_> =
        records.iter().filter(|r| r.error.is_some()).cloned().collect();
    let mut want: Vec<(String, usize)> = groups(&failed, |r| r.error.clone())
        .into_iter()
        .map(|(e, g)| (e.unwrap(), g.len()))
        .collect();
    want.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let want: Vec<Value> =
        want.iter().map(|(e, c)| json!({"error": e, "count": c})).collect();
    assert_eq!(values(&run(COMMON_ERRORS, &path)), [Value::from(want)]);

    let want: Vec<Value> = groups(&records, |r| r.timestamp.date())
        .iter()
        .map(|(d, g)| json!({"date": d.to_string(), "cost": cost(g)}))
        .collect();
    assert_eq!(want.len(), 2);
    assert_eq!(values(&run(DAILY_COST, &path)), [Value::from(want)]);

    let want: Vec<Value> = by_surface
        .iter()
        .map(|(s, g)| json!({"surface": s, "cost": cost(g)}))
        .collect();
    assert_eq!(values(&run(SURFACE_COST, &path)), [Value::from(want)]);
}
