//! Every `--json` answer equals what the observability note's own jq
//! pipeline prints for the same question, on a hand-written fixture (with
//! bad lines mixed in for maestra-stats, left out for jq, which stops at
//! the first) and on generated data spanning many read blocks.

#![allow(clippy::print_stderr)]

mod support;

use std::fs;
use std::io::Write;
use std::path::Path;

use serde_json::Value;
use support::*;

const FIXTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/good.jsonl");

/// Lines that are not records, one of each kind.
const BAD_LINES: [&[u8]; 9] = [
    b"",
    b"   \t",
    b"not json at all",
    br#"{"timestamp":"2025-12-27T00:00:00Z","surface_id":"cli","latency"#,
    br#"{"timestamp":"2025-12-27T00:00:00Z","surface_id":"cli","latency_ms":"fast","status_code":200,"cost_usd":0}"#,
    br#"{"timestamp":"not a time","surface_id":"cli","latency_ms":1,"status_code":200,"cost_usd":0}"#,
    b"[1,2,3]",
    b"null",
    b"{\"timestamp\":\"2025-12-27T00:00:00Z\",\"surface_id\":\"\xff\xfe\",\"latency_ms\":1,\"status_code\":200,\"cost_usd\":0}",
];

/// The good fixture with a bad line after every second record.
fn mixed_fixture(dir: &Path) -> (std::path::PathBuf, usize) {
    let good = fs::read(FIXTURE).unwrap();
    let mut mixed = Vec::new();
    let mut bad = BAD_LINES.iter().cycle();
    let mut inserted = 0;
    for (i, line) in good.split_inclusive(|&b| b == b'\n').enumerate() {
        mixed.extend_from_slice(line);
        if i % 2 == 1 && inserted < BAD_LINES.len() {
            mixed.extend_from_slice(bad.next().unwrap());
            mixed.push(b'\n');
            inserted += 1;
        }
    }

    // A torn last line, as after a hard crash of the writer.
    mixed.extend_from_slice(br#"{"timestamp":"2025-12-28T23:00:00Z","surf"#);
    let path = dir.join("mixed.jsonl");
    fs::write(&path, mixed).unwrap();
    (path, inserted + 1)
}

fn skipped_message(n: usize) -> String {
    format!("skipped {n} bad line{}", if n == 1 { "" } else { "s" })
}

/// Checks every question on `records` (maestra-stats) against jq on
/// `clean` (the same records without bad lines).
fn check_all(records: &Path, clean: &Path, bad: usize, extra: &[&str]) {
    let path = records.to_str().unwrap();
    for (question, pipeline) in NOTE_PIPELINES {
        let mut args = vec!["--file", path, "--json"];
        args.extend(question.split(' '));
        args.extend(extra);
        let output = stats(&args, None);
        assert!(output.status.success(), "{question}: {}", stderr(&output));
        if bad > 0 {
            assert!(
                stderr(&output).contains(&skipped_message(bad)),
                "{question}: {}",
                stderr(&output)
            );
        }

        let ours_text = String::from_utf8(output.stdout).unwrap();
        let jq_text = shell(pipeline, clean);
        let ours: Value = serde_json::from_str(&ours_text).unwrap();
        let jq: Value = serde_json::from_str(&jq_text).unwrap();
        assert!(same_json(&ours, &jq), "{question}:\nours {ours}\njq   {jq}");
        assert_eq!(key_order(&ours_text), key_order(&jq_text), "{question}");
    }

    let mut args = vec!["--file", path, "--json", "latency"];
    args.extend(extra);
    let ours = stats_json(&args);
    let note = note_latency_json(clean);
    assert!(same_json(&ours, &note), "latency:\nours {ours}\nnote {note}");
}

#[test]
fn fixture_answers_equal_the_note_pipelines() {
    if !have_jq() {
        eprintln!("jq not installed at {JQ}; comparison skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mixed, bad) = mixed_fixture(dir.path());
    check_all(Path::new(FIXTURE), Path::new(FIXTURE), 0, &[]);
    check_all(&mixed, Path::new(FIXTURE), bad, &[]);
    check_all(&mixed, Path::new(FIXTURE), bad, &["--threads", "1"]);
}

#[test]
fn fixture_summary_equals_the_note_counts() {
    if !have_jq() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mixed, bad) = mixed_fixture(dir.path());
    let clean = Path::new(FIXTURE);

    let output =
        stats(&["--file", mixed.to_str().unwrap(), "summary", "--json"], None);
    assert!(stderr(&output).contains(&skipped_message(bad)));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let count = |pipeline: &str| -> u64 {
        shell(pipeline, clean).trim().parse().unwrap()
    };

    assert_eq!(summary["requests"], count(r#"cat "$1" | wc -l"#));
    assert_eq!(
        summary["errors"],
        count(r#"cat "$1" | jq -c 'select(.error != null)' | wc -l"#)
    );
    assert_eq!(
        summary["status_errors"],
        count(r#"cat "$1" | jq -c 'select(.status_code >= 400)' | wc -l"#)
    );
    let total: Value = serde_json::from_str(&shell(
        r#"cat "$1" | jq -s 'map(.cost_usd) | add'"#,
        clean,
    ))
    .unwrap();
    assert!(same_json(&summary["total_cost_usd"], &total));

    // awk prints the mean with six significant digits.
    let awk: f64 = shell(NOTE_AVERAGE, clean).trim().parse().unwrap();
    let ours = summary["avg_latency_ms"].as_f64().unwrap();
    assert!((ours - awk).abs() <= awk.abs() * 5e-6, "{ours} vs {awk}");
}

#[test]
fn generated_answers_equal_the_note_pipelines() {
    if !have_jq() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.jsonl");
    let mixed = dir.path().join("mixed.jsonl");

    // About 9 MB: several read blocks, so the ordered fold across threads
    // is exercised.
    let mut file = fs::File::create(&clean).unwrap();
    generate::write_lines(40_000, 7, None, &mut file).unwrap();
    file.flush().unwrap();
    let mut file = fs::File::create(&mixed).unwrap();
    let bad = generate::write_lines(40_000, 7, Some(997), &mut file).unwrap();
    file.flush().unwrap();

    check_all(&mixed, &clean, bad as usize, &["--threads", "2"]);
}
