//! The command line as a person and a script meet it: tables, stdin, the
//! default file, help, and exit statuses.

mod support;

use std::fs;
use std::path::Path;

use serde_json::Value;
use support::*;

const FIXTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/good.jsonl");

fn stdout(args: &[&str]) -> String {
    let output = stats(args, None);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// Display width: the fixture's CJK surface takes two columns a char.
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| if ('\u{3000}'..='\u{9fff}').contains(&c) { 2 } else { 1 })
        .sum()
}

#[test]
fn latency_table_is_the_note_awk_output() {
    let ours = stdout(&["--file", FIXTURE, "latency"]);
    assert_eq!(ours, "Min: 0\nP50: 234\nP95: 30000\nP99: 30000\nMax: 30000\n");
    if have_jq() {
        assert_eq!(ours, shell(NOTE_LATENCY, Path::new(FIXTURE)));
    }
}

#[test]
fn tables_are_aligned_and_hold_the_json_answer() {
    let cases = [
        ("requests", ["SURFACE", "REQUESTS"], "surface", "count"),
        ("errors", ["STATUS", "REQUESTS"], "status", "count"),
        ("errors --by error", ["ERROR", "REQUESTS"], "error", "count"),
        ("cost --by day", ["DATE", "COST_USD"], "date", "cost"),
        ("cost --by surface", ["SURFACE", "COST_USD"], "surface", "cost"),
    ];
    for (question, header, key, value) in cases {
        let mut args = vec!["--file", FIXTURE];
        args.extend(question.split(' '));
        let table = stdout(&args);
        args.push("--json");
        let answer = stats_json(&args);
        let rows = answer.as_array().unwrap();

        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), rows.len() + 1, "{question}:\n{table}");
        let head: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(head, header, "{question}");

        // The number column is right-aligned: every line ends at the
        // same column, and the first column starts every line.
        let widths: Vec<usize> = lines.iter().map(|l| width(l)).collect();
        assert!(widths.iter().all(|&w| w == widths[0]), "{question}:\n{table}");

        for (line, row) in lines[1..].iter().zip(rows) {
            let (name, number) = line.trim_end().rsplit_once(' ').unwrap();
            let want_name = match &row[key] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(name.trim_end(), want_name, "{question}");
            let number: f64 = number.parse().unwrap();
            let want = row[value].as_f64().unwrap();
            assert!((number - want).abs() < 5e-7, "{question}: {line}");
        }
    }
}

#[test]
fn summary_table_lists_the_totals() {
    let table = stdout(&["--file", FIXTURE, "summary"]);
    let want = [
        ("requests", "20"),
        ("errors", "8"),
        ("status >= 400", "8"),
        ("avg latency ms", "1833.30"),
        ("total cost usd", "0.624328"),
    ];
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), want.len(), "{table}");
    for (line, (label, value)) in lines.iter().zip(want) {
        assert!(line.starts_with(label) && line.ends_with(value), "{line}");
        assert_eq!(line.len(), lines[0].len(), "{table}");
    }
}

#[test]
fn stdin_reads_like_a_file() {
    let bytes = fs::read(FIXTURE).unwrap();
    for question in ["summary", "latency", "cost --by surface"] {
        let mut args = vec!["--file", "-", "--json"];
        args.extend(question.split(' '));
        let piped = stats(&args, Some(&bytes));
        assert!(piped.status.success());
        args[1] = FIXTURE;
        let direct = stats(&args, None);
        assert_eq!(piped.stdout, direct.stdout, "{question}");
    }
}

#[test]
fn default_file_is_the_servers() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".8825");
    fs::create_dir(&dir).unwrap();
    fs::copy(FIXTURE, dir.join("maestra_metrics.jsonl")).unwrap();
    let home_str = home.path().to_str().unwrap();

    let output = stats_env(&["summary", "--json"], None, &[("HOME", home_str)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["requests"], 20);

    // MAESTRA_METRICS_PATH wins, as for the server.
    let other = home.path().join("other.jsonl");
    fs::write(
        &other,
        fs::read(FIXTURE).unwrap().split(|&b| b == b'\n').next().unwrap(),
    )
    .unwrap();
    let env =
        [("HOME", home_str), ("MAESTRA_METRICS_PATH", other.to_str().unwrap())];
    let output = stats_env(&["summary", "--json"], None, &env);
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["requests"], 1);
}

#[test]
fn empty_input_gives_empty_answers() {
    let empty = tempfile::NamedTempFile::new().unwrap();
    let path = empty.path().to_str().unwrap();
    let cases = [
        ("cost", "[]"),
        ("requests", "[]"),
        ("errors", "[]"),
        (
            "latency",
            r#"{"min":null,"p50":null,"p95":null,"p99":null,"max":null}"#,
        ),
        (
            "summary",
            r#"{"requests":0,"errors":0,"status_errors":0,"avg_latency_ms":null,"total_cost_usd":0.0}"#,
        ),
    ];
    for (question, want) in cases {
        let got = stats_json(&["--file", path, question, "--json"]);
        assert_eq!(
            got,
            serde_json::from_str::<Value>(want).unwrap(),
            "{question}"
        );
    }
    let output = stats(&["--file", path, "latency"], None);
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "no records\n");
    assert!(output.stderr.is_empty());
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    let cases: [&[&str]; 7] = [
        &[],
        &["frobnicate"],
        &["latency", "--bogus"],
        &["cost", "--by", "week"],
        &["errors", "--by"],
        &["latency", "--since", "2025-02-30"],
        &["latency", "--until", "tomorrow"],
    ];
    for args in cases {
        let output = stats(args, None);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
        assert!(message.starts_with("maestra-stats: "), "{message}");
        assert!(output.stdout.is_empty());
    }

    // With no HOME and no MAESTRA_METRICS_PATH there is no default file.
    let output = stats_env(&["latency"], None, &[("HOME", "")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--file"), "{}", stderr(&output));
}

#[test]
fn missing_file_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let output = stats(&["--file", missing.to_str().unwrap(), "latency"], None);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1);
    assert!(
        message.contains("failed to open") && message.contains("nope.jsonl"),
        "{message}"
    );

    // A directory opens but cannot be read.
    let output =
        stats(&["--file", dir.path().to_str().unwrap(), "latency"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("failed to read"), "{}", stderr(&output));
}

#[test]
fn help_and_version() {
    let help = stdout(&["--help"]);
    for word in [
        "Usage:", "summary", "latency", "errors", "cost", "requests",
        "--since", "--json",
    ] {
        assert!(help.contains(word), "help lacks {word}");
    }
    assert_eq!(stdout(&["-h"]), help);
    let version = stdout(&["--version"]);
    assert_eq!(
        version,
        format!("maestra-stats {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_kind_of_bad_line_is_counted() {
    let good = fs::read_to_string(FIXTURE).unwrap();
    let first = good.lines().next().unwrap();
    let input = format!(
        "{first}\n\n  \nnot json\n{{\"timestamp\"\n[]\n\"text\"\n{}\n{first}",
        first.replace("\"latency_ms\":234", "\"latency_ms\":-1")
    );
    let output =
        stats(&["--file", "-", "summary", "--json"], Some(input.as_bytes()));
    assert!(output.status.success());
    assert_eq!(stderr(&output).trim(), "maestra-stats: skipped 7 bad lines");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["requests"], 2);

    let one = format!("{first}\ngarbage\n");
    let output = stats(&["--file", "-", "summary"], Some(one.as_bytes()));
    assert_eq!(stderr(&output).trim(), "maestra-stats: skipped 1 bad line");
}
