//! What the real binary leaves on disk and serves for scrapers: the JSON
//! logs, the metrics file under the note's jq commands, and Prometheus
//! text checked by promtool.

#![allow(clippy::print_stderr)]

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use common::{chat_body, http, read_jsonl, Setup};
use serde_json::{json, Value};

/// True when `tool` runs; under CI a missing tool is a failure.
fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is required under CI"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// Runs a shell pipeline from the note with its path replaced.
fn note_command(command: &str, path: &std::path::Path) -> String {
    let command = command
        .replace("~/.8825/maestra_metrics.jsonl", &path.display().to_string());
    let out = Command::new("sh").arg("-c").arg(&command).output().unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn jq_json(command: &str, path: &std::path::Path) -> Value {
    serde_json::from_str(&note_command(command, path)).unwrap()
}

/// Drives known traffic and stops the server; returns the setup.
fn known_traffic() -> Setup {
    let setup = Setup::new();
    let server = setup.start();
    for i in 0..5 {
        let r =
            server.chat(&chat_body(&format!("question {i}"), "jh", "windsurf"));
        assert_eq!(r.status, 200);
    }
    for i in 0..3 {
        assert_eq!(
            server.chat(&chat_body(&format!("q{i}"), "ab", "cli")).status,
            200
        );
    }
    assert_eq!(server.get("/nope").status, 404);
    assert_eq!(server.get("/nope/again").status, 404);
    let bad =
        http(server.addr, "POST", "/api/maestra/chat", &[], Some(b"{oops"));
    assert_eq!(bad.status, 400);
    assert!(server.stop().success());
    setup
}

#[test]
fn every_jq_command_of_the_note_answers_right() {
    if !have("jq") {
        return;
    }
    let setup = known_traffic();
    let path = setup.metrics_path();
    let records = read_jsonl(&path);
    assert_eq!(records.len(), 11);

    // Section 3.
    let all = note_command("cat ~/.8825/maestra_metrics.jsonl | jq '.'", &path);
    assert_eq!(all.matches("\"request_id\"").count(), 11);
    let lines =
        note_command("cat ~/.8825/maestra_metrics.jsonl | wc -l", &path);
    assert_eq!(lines.trim(), "11");

    let avg = note_command(
        "cat ~/.8825/maestra_metrics.jsonl | jq '.latency_ms' | awk '{sum+=$1} END {print sum/NR}'",
        &path,
    );
    let sum: u64 =
        records.iter().map(|r| r["latency_ms"].as_u64().unwrap()).sum();
    let want = sum as f64 / 11.0;
    assert!((avg.trim().parse::<f64>().unwrap() - want).abs() < 1e-3, "{avg}");

    let errors = note_command(
        "cat ~/.8825/maestra_metrics.jsonl | jq 'select(.error != null)'",
        &path,
    );
    assert_eq!(errors.matches("\"request_id\"").count(), 3);

    let by_surface = jq_json(
        "cat ~/.8825/maestra_metrics.jsonl | jq -s 'group_by(.surface_id) | map({surface: .[0].surface_id, count: length})'",
        &path,
    );
    assert_eq!(
        by_surface,
        json!([
            {"surface": "cli", "count": 3},
            {"surface": "unknown", "count": 3},
            {"surface": "windsurf", "count": 5}
        ])
    );

    // Section 6.
    let percentiles = note_command(
        r#"cat ~/.8825/maestra_metrics.jsonl | jq '.latency_ms' | sort -n | awk '
  BEGIN { count=0 }
  { latencies[count++]=$1 }
  END {
    print "Min:", latencies[0]
    print "P50:", latencies[int(count*0.5)]
    print "P95:", latencies[int(count*0.95)]
    print "P99:", latencies[int(count*0.99)]
    print "Max:", latencies[count-1]
  }
'"#,
        &path,
    );
    let mut sorted: Vec<u64> =
        records.iter().map(|r| r["latency_ms"].as_u64().unwrap()).collect();
    sorted.sort_unstable();
    let want = format!(
        "Min: {}\nP50: {}\nP95: {}\nP99: {}\nMax: {}\n",
        sorted[0], sorted[5], sorted[10], sorted[10], sorted[10]
    );
    assert_eq!(percentiles, want);

    let by_status = jq_json(
        "cat ~/.8825/maestra_metrics.jsonl | jq -s 'group_by(.status_code) | map({status: .[0].status_code, count: length})'",
        &path,
    );
    assert_eq!(
        by_status,
        json!([
            {"status": 200, "count": 8},
            {"status": 400, "count": 1},
            {"status": 404, "count": 2}
        ])
    );

    let common_errors = jq_json(
        "cat ~/.8825/maestra_metrics.jsonl | jq -s 'map(select(.error != null)) | group_by(.error) | map({error: .[0].error, count: length}) | sort_by(-.count)'",
        &path,
    );
    assert_eq!(
        common_errors,
        json!([
            {"error": "not_found", "count": 2},
            {"error": "invalid_request", "count": 1}
        ])
    );

    let daily = jq_json(
        r#"cat ~/.8825/maestra_metrics.jsonl | jq -s 'group_by(.timestamp | split("T")[0]) | map({date: .[0].timestamp | split("T")[0], cost: (map(.cost_usd) | add)})'"#,
        &path,
    );
    let total: f64 =
        records.iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum();
    let days = daily.as_array().unwrap();
    let summed: f64 = days.iter().map(|d| d["cost"].as_f64().unwrap()).sum();
    assert!((summed - total).abs() < 1e-12);
    assert!(days.iter().all(|d| d["date"].as_str().unwrap().len() == 10));

    let cost_by_surface = jq_json(
        "cat ~/.8825/maestra_metrics.jsonl | jq -s 'group_by(.surface_id) | map({surface: .[0].surface_id, cost: (map(.cost_usd) | add)})'",
        &path,
    );
    let mut want: BTreeMap<String, f64> = BTreeMap::new();
    for r in &records {
        *want
            .entry(r["surface_id"].as_str().unwrap().to_string())
            .or_default() += r["cost_usd"].as_f64().unwrap();
    }
    for entry in cost_by_surface.as_array().unwrap() {
        let surface = entry["surface"].as_str().unwrap();
        assert!(
            (entry["cost"].as_f64().unwrap() - want[surface]).abs() < 1e-12
        );
    }
    assert_eq!(want["unknown"], 0.0);
}

#[test]
fn logs_are_json_lines_split_by_level() {
    let setup = Setup::new();
    let server = setup.start();
    let long =
        format!("{}\n{{\"level\":\"CRITICAL\"}} ünïcode", "x".repeat(150));
    assert_eq!(server.chat(&chat_body(&long, "jh", "windsurf")).status, 200);
    assert_eq!(server.get("/nope").status, 404);
    assert!(server.stop().success());

    let main: Vec<Value> = read_jsonl(&setup.log_path());
    let errors: Vec<Value> = read_jsonl(&setup.error_log_path());
    for line in &main {
        for key in ["timestamp", "logger", "level", "event_type", "message"] {
            assert!(line[key].is_string(), "{key} missing: {line}");
        }
        assert_eq!(line["logger"], "MaestraBackend");
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let events: Vec<&str> =
        main.iter().map(|l| l["event_type"].as_str().unwrap()).collect();
    for event in [
        "service_started",
        "request_received",
        "request_completed",
        "service_stopping",
    ] {
        assert!(events.contains(&event), "{event} not in {events:?}");
    }

    let received = main
        .iter()
        .find(|l| {
            l["event_type"] == "request_received"
                && l["surface_id"] == "windsurf"
        })
        .unwrap();
    assert_eq!(received["user_id"], "jh");
    let preview = received["message_preview"].as_str().unwrap();
    assert!(preview.chars().count() <= 100, "{preview}");

    let not_found = main
        .iter()
        .find(|l| {
            l["event_type"] == "request_completed" && l["status_code"] == 404
        })
        .unwrap();
    assert_eq!(not_found["level"], "WARNING");

    assert!(errors
        .iter()
        .all(|l| l["level"] == "ERROR" || l["level"] == "CRITICAL"));
    let main_errors = main
        .iter()
        .filter(|l| l["level"] == "ERROR" || l["level"] == "CRITICAL")
        .count();
    assert_eq!(errors.len(), main_errors);
}

#[test]
fn live_prometheus_text_passes_promtool() {
    if !have("promtool") {
        return;
    }
    let server = Setup::new().start();
    for surface in ["windsurf", "cli"] {
        server.chat(&chat_body("hi", "u1", surface));
    }
    server.get("/nope");
    let resp = server.get("/metrics/prometheus");
    assert_eq!(resp.status, 200);
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = resp.text();
    for family in [
        "maestra_uptime_seconds",
        "maestra_requests_total",
        "maestra_errors_total",
        "maestra_request_duration_seconds",
        "maestra_cost_usd_total",
        "maestra_active_conversations",
        "maestra_daily_cost_usd",
    ] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
    }
    assert!(text.contains(
        r#"maestra_requests_total{surface="windsurf",status="2xx"} 1"#
    ));
    assert!(text.contains(
        r#"maestra_requests_total{surface="unknown",status="4xx"} 1"#
    ));

    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && findings.trim().is_empty(), "{findings}");
}
