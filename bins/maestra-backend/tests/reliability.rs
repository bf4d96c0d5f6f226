//! Reliability under faults and hostile input, CI-sized: hard crash and
//! orderly stop under load, a full disk, a failing Slack, a failing
//! upstream, hostile HTTP, and secrets. Each test drives the real binary
//! on loopback and asserts behaviour only; the long runs and the measured
//! figures live in `scripts/reliability/` and `docs/RELIABILITY.md`.

#![allow(clippy::print_stderr)]

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    chat_body, dead_port, fake_upstream, files_under, parse_response,
    proc_status, raw_exchange, read_until_closed, try_http, wait_for, FakeHttp,
    FakeSlack, Hanging, Server, Setup,
};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// Lines of a JSONL file, each parsed or kept as the raw text.
fn lines_of(path: &Path) -> Vec<Result<Value, String>> {
    let bytes = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .split_terminator('\n')
        .map(|l| serde_json::from_str(l).map_err(|_| l.to_string()))
        .collect()
}

/// True when `v` has every field of a metrics record.
fn is_record(v: &Value) -> bool {
    common::RECORD_FIELDS.iter().all(|k| v.get(k).is_some())
}

/// Asserts every line of every log file under `dir` is one JSON object;
/// returns the parsed lines.
fn log_lines(dir: &Path) -> Vec<Value> {
    let mut all = Vec::new();
    for file in files_under(dir) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if !name.contains(".log") || name.ends_with(".gz") {
            continue;
        }
        for line in lines_of(&file) {
            let v = line.unwrap_or_else(|l| {
                panic!("{name}: a log line is not JSON: {l:?}")
            });
            assert!(v.is_object(), "{name}: not an object: {v}");
            all.push(v);
        }
    }
    all
}

/// Clients posting chats on fresh connections until told to stop or the
/// server goes away; what they got back is kept.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<Vec<(u16, String)>>>,
    answered: Arc<AtomicU64>,
}

impl Load {
    /// `clients` threads; every fifth request of each is an invalid body,
    /// so answers of several statuses are counted.
    fn start(addr: SocketAddr, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let threads = (0..clients)
            .map(|c| {
                let (stop, answered) =
                    (Arc::clone(&stop), Arc::clone(&answered));
                thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut i = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        i += 1;
                        let body = if i % 5 == 0 {
                            b"{not json".to_vec()
                        } else {
                            serde_json::to_vec(&chat_body(
                                &format!("load {c} {i}"),
                                &format!("user{c}"),
                                "load",
                            ))
                            .unwrap()
                        };
                        let h = [("content-type", "application/json")];
                        match try_http(
                            addr,
                            "POST",
                            "/api/maestra/chat",
                            &h,
                            Some(&body),
                        ) {
                            Some(r) => {
                                let id = r
                                    .header("x-request-id")
                                    .unwrap_or_default()
                                    .to_string();
                                got.push((r.status, id));
                                answered.fetch_add(1, Ordering::SeqCst);
                            }
                            // The server is gone or going.
                            None => break,
                        }
                    }
                    got
                })
            })
            .collect();
        Load { stop, threads, answered }
    }

    fn wait_answered(&self, n: u64) {
        let reached = wait_for(WAIT, || {
            (self.answered.load(Ordering::SeqCst) >= n).then_some(())
        });
        assert!(reached.is_some(), "the load never reached {n} answers");
    }

    fn finish(self) -> Vec<(u16, String)> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    }
}

/// Stops the server with SIGTERM and returns all it wrote to stderr.
fn stderr_after_stop(server: Server) -> String {
    let sink = Arc::clone(&server.stderr);
    assert!(server.stop().success());
    // The reader thread finishes at the end of the pipe.
    thread::sleep(Duration::from_millis(200));
    let text = sink.lock().unwrap().clone();
    text
}

fn today() -> String {
    let out = Command::new("date").args(["-u", "+%Y-%m-%d"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn hard_crash_under_load_leaves_a_readable_file_and_the_days_spend() {
    let setup = Setup::new();
    let path = setup.metrics_path();
    let server = setup.start();
    let load = Load::start(server.addr, 4);
    load.wait_answered(150);
    let written =
        wait_for(WAIT, || (lines_of(&path).len() >= 100).then_some(()));
    assert!(written.is_some(), "records did not reach the disk");
    server.kill();
    let answered = load.finish();
    assert!(answered.len() >= 150);
    let at_kill = lines_of(&path).len();

    // Every line but possibly the last is a whole record.
    let lines = lines_of(&path);
    assert!(!lines.is_empty(), "no record reached the disk before the kill");
    for line in &lines[..lines.len() - 1] {
        assert!(line.as_ref().is_ok_and(is_record), "{line:?}");
    }

    // SIGKILL between two write calls rarely tears a line by itself, so
    // the torn tail a crash can leave is added here.
    let torn = r#"{"timestamp":"2026-01-01T00:00:00Z","request_id":"req_to"#;
    let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
    let torn_line = format!("{}{torn}", &text[text.rfind('\n').unwrap() + 1..]);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(torn.as_bytes())
        .unwrap();

    let day = today();
    let spent: f64 = lines_of(&path)
        .iter()
        .filter_map(|l| l.as_ref().ok())
        .filter(|v| v["timestamp"].as_str().unwrap().starts_with(&day))
        .map(|v| v["cost_usd"].as_f64().unwrap())
        .sum();
    assert!(spent > 0.0);

    let server = setup.start();
    let restored = server.metrics()["daily_cost_usd"].as_f64().unwrap();
    assert!(
        (restored - spent).abs() < 1e-9,
        "daily cost after restart {restored}, file says {spent}"
    );
    eprintln!(
        "figure: crash: {} answered, {at_kill} records on disk at SIGKILL, \
         daily cost restored {restored} = file {spent}",
        answered.len()
    );
    for i in 0..5 {
        let r = server.chat(&chat_body(&format!("after {i}"), "jh", "s"));
        assert_eq!(r.status, 200);
    }
    assert!(server.stop().success());

    // The torn line was ended before the new records: it is the only bad
    // line, and the five new records follow it whole.
    let lines = lines_of(&path);
    let bad: Vec<_> = lines.iter().filter_map(|l| l.as_ref().err()).collect();
    assert_eq!(bad, vec![&torn_line]);
    let torn_at = lines.iter().position(|l| l.is_err()).unwrap();
    let after = &lines[torn_at + 1..];
    assert_eq!(after.len(), 5);
    assert!(after.iter().all(|l| l.as_ref().is_ok_and(is_record)));
}

#[test]
fn orderly_stop_under_load_writes_every_answered_request() {
    let setup = Setup::new();
    let server = setup.start();
    let load = Load::start(server.addr, 4);
    load.wait_answered(150);
    let status = server.stop();
    let answered = load.finish();
    assert!(status.success(), "{status:?}");

    let records: Vec<Value> = lines_of(&setup.metrics_path())
        .into_iter()
        .map(|l| l.unwrap())
        .collect();
    assert_eq!(records.len(), answered.len(), "records vs answers");
    let on_disk: HashSet<&str> =
        records.iter().map(|r| r["request_id"].as_str().unwrap()).collect();
    let ids: HashSet<&str> =
        answered.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(on_disk, ids);
    let count = |code| answered.iter().filter(|(s, _)| *s == code).count();
    eprintln!(
        "figure: sigterm: {} answered ({} x 200, {} x 400, {} x 429) = {} \
         records",
        answered.len(),
        count(200),
        count(400),
        count(429),
        records.len()
    );
    assert!(answered.iter().any(|(s, _)| *s == 400));
    assert!(answered.iter().any(|(s, _)| *s == 200));

    let completed: HashSet<String> = log_lines(&setup.dir.path().join("logs"))
        .iter()
        .filter(|l| l["event_type"] == "request_completed")
        .map(|l| l["request_id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        assert!(completed.contains(*id), "{id} has no request_completed line");
    }
}

/// A folder whose writes can be made to fail and succeed again.
enum Disk {
    /// A 256 KiB tmpfs, filled by a filler file.
    Tmpfs { dir: PathBuf },
    /// No mount allowed: a file-size limit on the server process instead.
    SizeLimit,
}

impl Disk {
    /// A tmpfs at `dir`, or the file-size limit when `limit` is asked
    /// for or mounting is not allowed.
    fn mount(dir: PathBuf, limit: bool) -> Disk {
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = !limit
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
                .arg(&dir)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if mounted {
            Disk::Tmpfs { dir }
        } else {
            Disk::SizeLimit
        }
    }

    fn fill(&self, server: &Server, metrics: &Path) {
        match self {
            Disk::Tmpfs { dir } => {
                let mut f = std::fs::File::create(dir.join("filler")).unwrap();
                let chunk = vec![b'x'; 4096];
                while f.write_all(&chunk).is_ok() {}
                let _ = f.write_all(b"x");
            }
            Disk::SizeLimit => {
                // A few bytes of room, so the next record is cut short
                // as on a disk that fills in the middle of a write.
                let len = std::fs::metadata(metrics).unwrap().len();
                let limit = format!("--fsize={}:", len + 10);
                prlimit(server.child.id(), &limit);
            }
        }
    }

    fn free(&self, server: &Server) {
        match self {
            Disk::Tmpfs { dir } => {
                std::fs::remove_file(dir.join("filler")).unwrap();
            }
            Disk::SizeLimit => {
                prlimit(server.child.id(), "--fsize=unlimited:");
            }
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if let Disk::Tmpfs { dir } = self {
            let _ = Command::new("umount").arg("-l").arg(&*dir).status();
        }
    }
}

fn prlimit(pid: u32, arg: &str) {
    let ok = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), arg])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "prlimit {arg} failed");
}

#[test]
fn full_disk_degrades_health_alerts_and_recovers_by_itself() {
    // The file-size limit always runs: it cuts a record in the middle
    // every time. The tmpfs runs where mounting is allowed.
    full_disk(true);
    full_disk(false);
}

fn full_disk(limit: bool) {
    let slack = FakeSlack::start();
    let mut setup = Setup::new();
    let disk = Disk::mount(setup.dir.path().join("disk"), limit);
    let data = setup.dir.path().join("disk");
    let metrics = data.join("metrics.jsonl");
    setup
        .set("MAESTRA_METRICS_PATH", metrics.display())
        .set("MAESTRA_LOG_DIR", data.join("logs").display())
        .set("MAESTRA_SLACK_WEBHOOK_URL", slack.url());
    let server = match disk {
        // The shell ignores SIGXFSZ so a write over the limit fails with
        // EFBIG instead of killing the server.
        Disk::SizeLimit => setup.start_via_shell("trap '' XFSZ; exec \"$0\""),
        Disk::Tmpfs { .. } => setup.start(),
    };
    let body = chat_body("hello", "jh", "disk");
    for _ in 0..3 {
        assert_eq!(server.chat(&body).status, 200);
    }
    assert_eq!(server.get("/health").status, 200);
    let flushed =
        wait_for(WAIT, || (lines_of(&metrics).len() == 3).then_some(()));
    assert!(flushed.is_some());

    disk.fill(&server, &metrics);
    let mut sent = 3;
    let degraded = wait_for(WAIT, || {
        // Requests keep being answered while nothing can be written.
        assert_eq!(server.chat(&body).status, 200);
        sent += 1;
        let health = server.get("/health");
        let records_failed =
            server.metrics()["record_write_errors"].as_u64().unwrap() > 0;
        (health.status == 503 && records_failed).then(|| health.json())
    })
    .expect("health never said degraded");
    assert_eq!(degraded["status"], "degraded");
    assert!(!degraded["problems"].as_array().unwrap().is_empty());
    let m = server.metrics();
    assert!(m["record_write_errors"].as_u64().unwrap() > 0, "{m}");
    assert_eq!(m["healthy"], false);
    let prom = server.get("/metrics/prometheus").text();
    assert!(prom.contains("\nmaestra_healthy 0\n"), "{prom}");
    slack
        .wait_text("🔴 Metrics or Logs Not Written", WAIT)
        .expect("no write-failure alert");

    // Nothing is sent from here: health must come back without traffic.
    disk.free(&server);
    let healthy = wait_for(WAIT, || {
        let h = server.get("/health");
        (h.status == 200).then_some(h)
    });
    assert!(
        healthy.is_some(),
        "health did not recover by itself: {}",
        server.get("/health").text()
    );
    slack
        .wait_text("✅ Resolved: Metrics or Logs Not Written", WAIT)
        .expect("no resolved alert");

    for _ in 0..3 {
        assert_eq!(server.chat(&body).status, 200);
    }
    sent += 3;
    let dropped = server.metrics()["records_dropped"].as_u64().unwrap();
    assert!(server.stop().success());

    // Records held back while the disk was full were written once space
    // came back, and no line is torn.
    let lines = lines_of(&metrics);
    for line in &lines {
        assert!(line.as_ref().is_ok_and(is_record), "{line:?}");
    }
    assert_eq!(dropped, 0);
    assert_eq!(lines.len(), sent);
    let kind = match disk {
        Disk::Tmpfs { .. } => "tmpfs",
        Disk::SizeLimit => "file-size limit",
    };
    eprintln!(
        "figure: disk ({kind}): {sent} answered 200, {} records written, \
         {dropped} dropped, {} record write errors during the outage",
        lines.len(),
        m["record_write_errors"]
    );
    log_lines(&data.join("logs"));
}

/// Chats posted from `clients` threads, `each` per thread; their statuses.
fn chats(server: &Server, clients: usize, each: usize) -> Vec<u16> {
    let addr = server.addr;
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            thread::spawn(move || {
                (0..each)
                    .map(|i| {
                        let body = serde_json::to_vec(&chat_body(
                            &format!("m {c} {i}"),
                            "u",
                            "s",
                        ))
                        .unwrap();
                        try_http(
                            addr,
                            "POST",
                            "/api/maestra/chat",
                            &[],
                            Some(&body),
                        )
                        .map_or(0, |r| r.status)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
}

/// Wrong-key requests, each raising an authentication alert.
fn raise_alerts(server: &Server, n: usize) {
    for _ in 0..n {
        let r = server.get_with("/metrics", &[("x-api-key", "wrong")]);
        assert_eq!(r.status, 401);
    }
}

#[test]
fn chats_complete_while_slack_hangs_and_alerts_are_counted() {
    let slack = Hanging::start();
    let mut setup = Setup::new();
    setup
        .set(
            "MAESTRA_SLACK_WEBHOOK_URL",
            format!("http://{}/services/T0SECRET/B0SECRET/XTOKEN", slack.addr),
        )
        .set("MAESTRA_API_KEYS", "k-hang-key")
        .set("MAESTRA_ALERT_COOLDOWN_S", 3600);
    let server = setup.start();
    let key = [("x-api-key", "k-hang-key")];

    raise_alerts(&server, 20);
    for i in 0..40 {
        let r = server.chat_with(&chat_body(&format!("q{i}"), "u", "s"), &key);
        assert_eq!(r.status, 200);
    }
    let m = server.get_with("/metrics", &key).json();
    assert!(m["alerts_folded"].as_u64().unwrap() >= 19, "{m}");
    assert_eq!(m["alerts_sent"], 0);
    eprintln!(
        "figure: slack hang: 40 chats answered 200, alerts folded {}, \
         dropped {}",
        m["alerts_folded"], m["alerts_dropped"]
    );

    // A hung webhook delays the stop by the alert drain, not forever.
    assert!(server.stop().success());
}

#[test]
fn slack_refused_or_failing_is_retried_counted_and_logged() {
    // Refused: every alert fails after its retries, and says so.
    let mut setup = Setup::new();
    let url = format!(
        "http://127.0.0.1:{}/services/T0SECRET/B0SECRET/XTOKEN",
        dead_port()
    );
    setup.set("MAESTRA_SLACK_WEBHOOK_URL", &url);
    let server = setup.start();
    for i in 0..10 {
        let r = server.chat(&chat_body(&format!("q{i}"), "u", "s"));
        assert_eq!(r.status, 200);
    }
    let failed = wait_for(Duration::from_secs(60), || {
        let n = server.metrics()["alerts_failed"].as_u64().unwrap();
        (n >= 1).then_some(n)
    });
    assert!(failed.is_some(), "the refused alert was never counted");
    eprintln!("figure: slack refused: alerts_failed {}", failed.unwrap());
    assert!(server.stop().success());
    let logs = log_lines(&setup.dir.path().join("logs"));
    let failure = logs
        .iter()
        .find(|l| l["event_type"] == "alert_failed")
        .expect("no alert_failed line");
    assert!(failure["message"].as_str().unwrap().contains("Slack"));
    let all = logs.iter().map(Value::to_string).collect::<String>();
    assert!(!all.contains("XTOKEN") && !all.contains("B0SECRET"));

    // 429, then 500, then accepted: the start-up alert gets
    // through in the end.
    let calls = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&calls);
    let flaky = FakeHttp::start(move |_, _| {
        match seen.fetch_add(1, Ordering::SeqCst) {
            0 => (
                429,
                vec![("Retry-After".into(), "1".into())],
                "rate_limited".into(),
            ),
            1 => (500, vec![], "oops".into()),
            _ => (200, vec![], "ok".into()),
        }
    });
    let mut setup = Setup::new();
    setup.set(
        "MAESTRA_SLACK_WEBHOOK_URL",
        format!("http://{}/services/T0/B0/X", flaky.addr),
    );
    let server = setup.start();
    let sent = wait_for(Duration::from_secs(60), || {
        let n = server.metrics()["alerts_sent"].as_u64().unwrap();
        (n >= 1).then_some(n)
    });
    assert!(sent.is_some(), "the alert was not retried through");
    assert!(calls.load(Ordering::SeqCst) >= 3);
    eprintln!(
        "figure: slack 429 then 500: sent after {} webhook calls",
        calls.load(Ordering::SeqCst)
    );
    assert_eq!(server.metrics()["alerts_failed"], 0);
    assert!(server.get("/health").status == 200);
    assert!(server.stop().success());
}

#[test]
fn upstream_faults_are_clear_502s_without_leaking_threads() {
    let hanging = Hanging::start();
    let garbage = FakeHttp::start(|_, _| (200, vec![], "garbage".into()));
    let bad_http = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                let _ = s.write_all(b"NOT HTTP AT ALL\r\n\r\n");
            }
        });
        addr
    };
    let cases: [(String, &str); 4] = [
        (format!("http://127.0.0.1:{}/v1", dead_port()), "reach"),
        (format!("http://{}/v1", hanging.addr), "within 1 s"),
        (format!("http://{}/v1", garbage.addr), "not a chat completion"),
        (format!("http://{bad_http}/v1"), "reach"),
    ];

    for (url, want) in cases {
        let slack = FakeSlack::start();
        let mut setup = Setup::new();
        setup
            .set("MAESTRA_UPSTREAM_URL", &url)
            .set("MAESTRA_UPSTREAM_API_KEY", "sk-upstream-SECRET")
            .set("MAESTRA_UPSTREAM_TIMEOUT_S", 1)
            .set("MAESTRA_SLACK_WEBHOOK_URL", slack.url());
        let server = setup.start();
        let pid = server.child.id();
        let r = server.chat(&chat_body("hi", "u", "s"));
        assert_eq!(r.status, 502, "{url}");
        let err = r.json();
        assert_eq!(err["error"]["code"], "upstream_error");
        let text = err["error"]["message"].as_str().unwrap();
        assert!(text.contains(want), "{url}: {text}");
        assert!(!r.text().contains("SECRET") && !r.text().contains(&url));
        slack
            .wait_text("🔴 Maestra Backend Error", WAIT)
            .expect("no error alert");

        // Many failing requests, six at a time: the blocking pool grows
        // to the concurrency, not to the number of requests.
        let before = proc_status(pid, "Threads").unwrap();
        let statuses = chats(&server, 6, 5);
        assert!(statuses.iter().all(|s| *s == 502), "{statuses:?}");
        let after = proc_status(pid, "Threads").unwrap();
        assert!(after <= before + 8, "{url}: threads {before} -> {after}");
        eprintln!(
            "figure: upstream {want:?}: 31 x 502, threads {before} -> {after}"
        );
        assert!(server.stop().success());
    }
}

/// A hostile request and whether it is a counted one the server should
/// answer (some are cut off without an answer, which is fine).
fn hostile_requests(addr: SocketAddr) -> Vec<(&'static str, Vec<u8>)> {
    let post = |body: &[u8], extra: &str| {
        let mut r = format!(
            "POST /api/maestra/chat HTTP/1.1\r\nHost: {addr}\r\n\
             Connection: close\r\n{extra}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    let get = |target: &str, extra: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             {extra}\r\n"
        )
        .into_bytes()
    };
    let deep_arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_objects = format!(
        r#"{{"message":{}1{},"user_id":"u"}}"#,
        r#"{"a":"#.repeat(5_000),
        "}".repeat(5_000)
    );
    let injection = "x\n{\"level\":\"CRITICAL\",\"event_type\":\"injected\"}";
    let many_headers: String =
        (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let huge_header = format!("X-Big: {}\r\n", "a".repeat(1 << 20));
    let long_path = format!("/{}", "a".repeat(100_000));
    let mut chunked = format!(
        "POST /api/maestra/chat HTTP/1.1\r\nHost: {addr}\r\n\
         Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..40 {
        chunked.extend_from_slice(format!("{:x}\r\n", 4096).as_bytes());
        chunked.extend_from_slice(&[b'a'; 4096]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");

    vec![
        ("malformed JSON", post(b"{oops", "")),
        ("empty body", post(b"", "")),
        ("deep arrays", post(deep_arrays.as_bytes(), "")),
        ("deep objects", post(deep_objects.as_bytes(), "")),
        ("message number", post(br#"{"message":5,"user_id":"u"}"#, "")),
        ("user_id array", post(br#"{"message":"m","user_id":["u"]}"#, "")),
        ("user_id object", post(br#"{"message":"m","user_id":{}}"#, "")),
        ("big number", post(br#"{"message":"m","user_id":1e999999}"#, "")),
        (
            "invalid UTF-8",
            post(b"{\"message\":\"\xff\xfe\",\"user_id\":\"u\"}", ""),
        ),
        (
            "NUL in user_id",
            post(br#"{"message":"m","user_id":"a\u0000b"}"#, ""),
        ),
        (
            "ANSI escape in surface",
            post(
                br#"{"message":"m","user_id":"u","surface_id":"\u001b[31m"}"#,
                "",
            ),
        ),
        (
            "log injection in identifiers",
            post(
                json!({"message": injection, "user_id": injection,
                       "conversation_id": injection, "mode": injection})
                .to_string()
                .as_bytes(),
                "",
            ),
        ),
        (
            "log injection in the message",
            post(
                json!({"message": injection, "user_id": "u"})
                    .to_string()
                    .as_bytes(),
                "",
            ),
        ),
        (
            "request id with a header break",
            post(b"{}", "X-Request-Id: a\r\nX-Injected: 1\r\n"),
        ),
        (
            "request id with bytes over 127",
            post(b"{}", "X-Request-Id: réq\r\n"),
        ),
        (
            "request id with a control byte",
            post(b"{}", "X-Request-Id: a\x01b\r\n"),
        ),
        (
            "request id with JSON in it",
            post(b"{}", "X-Request-Id: \"},{\"event_type\":\"injected\r\n"),
        ),
        ("huge Content-Length", {
            let mut r = format!(
                "POST /api/maestra/chat HTTP/1.1\r\nHost: {addr}\r\n\
                 Connection: close\r\nContent-Length: 1000000000\r\n\r\n"
            )
            .into_bytes();
            r.extend_from_slice(&[b'a'; 70_000]);
            r
        }),
        ("Content-Length overflow", {
            format!(
                "POST /api/maestra/chat HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Length: 99999999999999999999999\r\n\r\n"
            )
            .into_bytes()
        }),
        ("huge chunked body", chunked),
        ("bad chunk size", {
            format!(
                "POST /api/maestra/chat HTTP/1.1\r\nHost: {addr}\r\n\
                 Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"
            )
            .into_bytes()
        }),
        ("Content-Length with chunked", {
            format!(
                "POST /api/maestra/chat HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
                 0\r\n\r\n"
            )
            .into_bytes()
        }),
        ("two Content-Lengths", {
            format!(
                "POST /api/maestra/chat HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}"
            )
            .into_bytes()
        }),
        ("header flood", get("/health", &many_headers)),
        ("huge header", get("/health", &huge_header)),
        ("dot-dot path", get("/metrics/../api/maestra/chat", "")),
        ("double slash", get("//health", "")),
        ("percent-encoded path", get("/%68ealth", "")),
        ("encoded NUL", get("/api/maestra/chat%00", "")),
        ("very long path", get(&long_path, "")),
        ("absolute-form URI", get(&format!("http://{addr}/health"), "")),
        ("asterisk-form", get("*", "")),
        (
            "unknown method",
            b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        ("HTTP/1.0 without Host", b"GET /health HTTP/1.0\r\n\r\n".to_vec()),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        ("TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec()),
        ("binary garbage", (0..=255u8).cycle().take(4096).collect()),
        ("bare newlines", b"GET /health HTTP/1.1\nHost: x\n\n".to_vec()),
    ]
}

#[test]
fn hostile_input_never_gets_a_5xx_a_panic_or_a_torn_line() {
    let mut setup = Setup::new();
    setup
        .set("MAESTRA_HEADER_TIMEOUT_S", 1)
        .set("MAESTRA_BODY_TIMEOUT_S", 1)
        .set("MAESTRA_LOG_LEVEL", "DEBUG");
    let server = setup.start();
    let limit = Duration::from_secs(10);

    for (name, bytes) in hostile_requests(server.addr) {
        let raw = raw_exchange(server.addr, &bytes, limit);
        if raw.windows(4).any(|w| w == b"\r\n\r\n") {
            let r = parse_response(&raw);
            assert!(r.status < 500, "{name}: {} {}", r.status, r.text());
            eprintln!("figure: hostile {name}: {}", r.status);
        } else {
            eprintln!("figure: hostile {name}: closed without an answer");
        }
        assert_eq!(server.get("/health").status, 200, "after {name}");
    }

    // Slowloris: a byte of headers every 200 ms is cut off by the header
    // timeout; a body that stops coming gets a 400.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    let cut = Instant::now();
    let mut closed = false;
    for _ in 0..100 {
        thread::sleep(Duration::from_millis(200));
        if slow.write_all(b"X-Slow: 1\r\n").is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed, "a slow client was not cut off in {:?}", cut.elapsed());
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(
        b"POST /api/maestra/chat HTTP/1.1\r\nHost: x\r\n\
          Content-Length: 100\r\n\r\n{\"message\":",
    )
    .unwrap();
    let raw = read_until_closed(&mut slow, limit);
    assert_eq!(parse_response(&raw).status, 400);

    // Pipelined requests on one connection are answered in order.
    let body = chat_body("piped", "u", "s").to_string();
    let one = format!(
        "POST /api/maestra/chat HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-N\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut all = String::new();
    for n in 1..=3 {
        all.push_str(&one.replace("pipe-N", &format!("pipe-{n}")));
    }
    all.push_str(
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let raw = raw_exchange(server.addr, all.as_bytes(), limit);
    let text = String::from_utf8_lossy(&raw);
    let order: Vec<usize> = (1..=3)
        .map(|n| text.find(&format!("x-request-id: pipe-{n}")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(text.matches("HTTP/1.1 200").count(), 4, "{text}");

    assert_eq!(server.get("/health").status, 200);
    let stderr = stderr_after_stop(server);
    assert!(!stderr.contains("panicked"), "{stderr}");

    for line in lines_of(&setup.metrics_path()) {
        let v = line.expect("a torn or injected metrics line");
        assert!(is_record(&v), "{v}");
        assert_ne!(v["event_type"], "injected");
    }
    let logs = log_lines(&setup.dir.path().join("logs"));
    assert!(logs.iter().all(|l| l["event_type"] != "injected"));
    assert!(logs.iter().all(|l| l["logger"] == "MaestraBackend"));
}

const KEY_A: &str = "k-alpha-SECRET1";
const KEY_B: &str = "k-beta-SECRET2";
const UPSTREAM_KEY: &str = "sk-upstream-SECRET3";

fn basic(user_pass: &str) -> String {
    let out = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(user_pass.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    format!("Basic {}", String::from_utf8(out.stdout).unwrap())
}

#[test]
fn secrets_never_leak_and_auth_cannot_be_bypassed() {
    let slack = FakeSlack::start();
    let upstream = fake_upstream(Duration::ZERO, 40);
    let mut setup = Setup::new();
    setup
        .set("MAESTRA_API_KEYS", format!("{KEY_A},{KEY_B}"))
        .set("MAESTRA_UPSTREAM_URL", format!("http://{}/v1", upstream.addr))
        .set("MAESTRA_UPSTREAM_API_KEY", UPSTREAM_KEY)
        .set("MAESTRA_SLACK_WEBHOOK_URL", slack.url())
        .set("MAESTRA_RATE_LIMIT", 40)
        .set("MAESTRA_MAX_BODY_BYTES", 1000)
        .set("MAESTRA_LOG_LEVEL", "DEBUG");
    let server = setup.start();
    let bodies = Mutex::new(Vec::<String>::new());
    let keep = |r: common::Resp| {
        bodies.lock().unwrap().push(r.text());
        r.status
    };

    let upper = KEY_A.to_uppercase();
    let lower = KEY_A.to_lowercase();
    let refused: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("x-forwarded-for", "127.0.0.1".into())],
        vec![(
            "authorization",
            format!("Bearer {}", &KEY_A[..KEY_A.len() - 1]),
        )],
        vec![("authorization", format!("Bearer {KEY_A}x"))],
        vec![("authorization", format!("Bearer x{KEY_A}"))],
        vec![("authorization", "Bearer ".into())],
        vec![("authorization", "Bearer".into())],
        vec![("authorization", format!("Bearer {upper}"))],
        vec![("authorization", format!("Bearer {lower}"))],
        vec![("authorization", format!("Bearer {KEY_A},{KEY_B}"))],
        vec![("authorization", format!("Bearer\t{KEY_A}"))],
        vec![("authorization", format!("Token {KEY_A}"))],
        vec![("authorization", KEY_A.into())],
        vec![("authorization", basic(&format!("maestra:{KEY_A}x")))],
        vec![("authorization", basic(&format!("{KEY_A}:")))],
        vec![("authorization", basic(KEY_A))],
        vec![("x-api-key", "".into())],
        vec![("x-api-key", "k-alpha -SECRET1".to_string())],
        vec![("x-api-key", upper.clone())],
        vec![("x-api-key", format!("wrong, {KEY_A}"))],
        vec![("x-api-key", "wrong".into()), ("x-api-key", KEY_A.into())],
        vec![
            ("x-api-key", "wrong".into()),
            ("authorization", format!("Bearer {KEY_A}")),
        ],
    ];
    for headers in &refused {
        let h: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = chat_body("hi", "u", "s");
        assert_eq!(keep(server.chat_with(&body, &h)), 401, "{headers:?}");
        for path in ["/metrics", "/metrics/prometheus", "/metrics/history"] {
            assert_eq!(keep(server.get_with(path, &h)), 401, "{path} {h:?}");
        }
    }
    for path in ["/metrics/", "/METRICS", "/metrics?x=1/../", "/dashboard/"] {
        let r = server.get(path);
        assert!(r.status == 401 || r.status == 404, "{path}: {}", r.status);
        assert!(!r.text().contains("total_requests"), "{path}");
        keep(r);
    }

    let accepted: Vec<(&str, String)> = vec![
        ("authorization", format!("Bearer {KEY_A}")),
        ("authorization", format!("bearer {KEY_B}")),
        ("x-api-key", KEY_B.into()),
        ("authorization", basic(&format!("anyone:{KEY_A}"))),
    ];
    for (k, v) in &accepted {
        let r = server.chat_with(&chat_body("hi", "u", "s"), &[(k, v)]);
        assert_eq!(keep(r), 200, "{k}: {v}");
    }

    // Other error answers, whose bodies are searched too.
    let auth = [("x-api-key", KEY_A)];
    keep(server.get_with("/nope", &auth));
    keep(server.get_with("/api/maestra/chat", &auth));
    let big = chat_body(&"x".repeat(2000), "u", "s");
    assert_eq!(keep(server.chat_with(&big, &auth)), 413);
    keep(server.chat_with(&json!({"message": 1}), &auth));
    let mut scraped = Vec::new();
    for path in ["/metrics", "/metrics/prometheus", "/metrics/history"] {
        scraped.push(server.get_with(path, &auth).text());
    }
    let stderr = stderr_after_stop(server);

    let mut haystacks: Vec<(String, String)> = files_under(setup.dir.path())
        .into_iter()
        .map(|f| {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap())
                .into_owned();
            (f.display().to_string(), text)
        })
        .collect();
    haystacks.push(("stderr".into(), stderr));
    for (i, b) in bodies.into_inner().unwrap().into_iter().enumerate() {
        haystacks.push((format!("answer {i}"), b));
    }
    for (i, s) in scraped.into_iter().enumerate() {
        haystacks.push((format!("scrape {i}"), s));
    }
    assert!(haystacks.len() > 100);
    let secrets =
        [KEY_A, KEY_B, UPSTREAM_KEY, "T0SECRET/B0SECRET", "XSECRETTOKEN"];
    eprintln!(
        "figure: secrets: {} refused header sets, {} texts searched",
        refused.len(),
        haystacks.len()
    );
    for (name, text) in &haystacks {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} found in {name}");
        }
    }
    let upstream_saw = upstream.requests.lock().unwrap().len();
    assert_eq!(upstream_saw, accepted.len());
}

#[test]
fn forged_forwarded_for_does_not_buy_requests_without_trust_proxy() {
    let mut setup = Setup::new();
    setup.set("MAESTRA_RATE_LIMIT", 3);
    let server = setup.start();
    let statuses: Vec<u16> = (0..6)
        .map(|i| {
            let ip = format!("10.0.0.{i}");
            let h = [("x-forwarded-for", ip.as_str())];
            server.chat_with(&chat_body("hi", "u", "s"), &h).status
        })
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    assert!(server.stop().success());
}
