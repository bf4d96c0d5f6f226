//! Shared helpers for the black-box tests: running the built binary,
//! running the note's own jq pipelines, and comparing JSON answers.

#![allow(dead_code)]

pub mod generate;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The jq the note's pipelines are run with.
pub const JQ: &str = "/usr/bin/jq";

/// The note's shell pipelines (sections 3 and 6), keyed by the
/// maestra-stats arguments that answer the same question. `FILE` is
/// replaced by the path.
pub const NOTE_PIPELINES: [(&str, &str); 5] = [
    (
        "errors --by status",
        r#"cat "$1" | jq -s 'group_by(.status_code) | map({status: .[0].status_code, count: length})'"#,
    ),
    (
        "errors --by error",
        r#"cat "$1" | jq -s 'map(select(.error != null)) | group_by(.error) | map({error: .[0].error, count: length}) | sort_by(-.count)'"#,
    ),
    (
        "cost --by day",
        r#"cat "$1" | jq -s 'group_by(.timestamp | split("T")[0]) | map({date: .[0].timestamp | split("T")[0], cost: (map(.cost_usd) | add)})'"#,
    ),
    (
        "cost --by surface",
        r#"cat "$1" | jq -s 'group_by(.surface_id) | map({surface: .[0].surface_id, cost: (map(.cost_usd) | add)})'"#,
    ),
    (
        "requests --by surface",
        r#"cat "$1" | jq -s 'group_by(.surface_id) | map({surface: .[0].surface_id, count: length})'"#,
    ),
];

/// The note's latency percentile pipeline.
pub const NOTE_LATENCY: &str = r#"cat "$1" | jq '.latency_ms' | sort -n | awk '
  BEGIN { count=0 }
  { latencies[count++]=$1 }
  END {
    print "Min:", latencies[0]
    print "P50:", latencies[int(count*0.5)]
    print "P95:", latencies[int(count*0.95)]
    print "P99:", latencies[int(count*0.99)]
    print "Max:", latencies[count-1]
  }
'"#;

/// The note's average latency pipeline.
pub const NOTE_AVERAGE: &str =
    r#"cat "$1" | jq '.latency_ms' | awk '{sum+=$1} END {print sum/NR}'"#;

/// Whether jq is installed; the comparisons with the note need it.
pub fn have_jq() -> bool {
    Path::new(JQ).exists()
}

/// Runs maestra-stats with `args`, feeding `stdin` if given. The
/// environment's metrics path is removed so only the arguments count.
pub fn stats(args: &[&str], stdin: Option<&[u8]>) -> Output {
    stats_env(args, stdin, &[])
}

/// [`stats`] with extra environment variables.
pub fn stats_env(
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_maestra-stats"));
    command
        .args(args)
        .env_remove("MAESTRA_METRICS_PATH")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("maestra-stats runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input).expect("stdin takes the input");
    }
    child.wait_with_output().expect("maestra-stats finishes")
}

/// Runs maestra-stats and parses its JSON answer; it must succeed.
pub fn stats_json(args: &[&str]) -> Value {
    let output = stats(args, None);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

/// Runs a shell pipeline with `$1` set to `file`, returning stdout.
pub fn shell(pipeline: &str, file: &Path) -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg(pipeline)
        .arg("sh")
        .arg(file)
        .output()
        .expect("sh runs");
    assert!(output.status.success(), "{pipeline}: {}", stderr(&output));
    String::from_utf8(output.stdout).expect("pipelines print UTF-8")
}

/// The note's latency lines turned into maestra-stats' `latency --json`.
pub fn note_latency_json(file: &Path) -> Value {
    let text = shell(NOTE_LATENCY, file);
    let mut object = serde_json::Map::new();
    for line in text.lines() {
        let (label, value) = line.split_once(": ").expect("awk prints 'X: v'");
        let value: Value = serde_json::from_str(value).expect("a number");
        object.insert(label.to_lowercase(), value);
    }
    Value::Object(object)
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// JSON equality with numbers compared as doubles (jq prints `3` where
/// serde_json prints `3.0`, and 17 digits where it prints the shortest).
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && same_json(vx, vy))
        }
        _ => a == b,
    }
}

/// The keys of each object in order, to check key order (serde_json's
/// map sorts keys, so order is read from the text).
pub fn key_order(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for piece in text.split('"').collect::<Vec<_>>().windows(2) {
        if piece[1].trim_start().starts_with(':') {
            keys.push(piece[0].to_owned());
        }
    }
    keys
}
