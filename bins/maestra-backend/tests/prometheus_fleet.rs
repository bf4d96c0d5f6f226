//! The Prometheus path end to end: promtool checks of deploy/prometheus,
//! two real servers scraped every second by a real Prometheus, known
//! traffic read back through its query API, and the shipped alerts firing.
//!
//! Skipped with a note when `promtool` or `prometheus` is missing, unless
//! `CI` is set, where that is a failure.

#![allow(clippy::print_stderr)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Everything, from the promtool checks to the last alert, fits in this.
const BUDGET: Duration = Duration::from_secs(85);

/// The contract's bucket bounds in milliseconds (`le` times 1000).
const BUCKETS_MS: [u64; 11] =
    [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// The scrape job of the two servers under traffic.
const JOB: &str = "{job=\"maestra-backend\"}";

/// The key of the third server, the one started with API keys on.
const SCRAPE_KEY: &str = "scrape-key-0f3a";

/// Traffic sent after the priming round: (chats, unknown paths).
const TRAFFIC_A: (usize, usize) = (29, 5);
const TRAFFIC_B: (usize, usize) = (5, 3);

#[test]
fn fleet_is_scraped_recorded_and_alerted_on() {
    if !tools_present() {
        return;
    }
    let deadline = Instant::now() + BUDGET;
    let deploy = deploy_dir();

    // The shipped files first: a broken rule must fail here, before any
    // process is started.
    let work = tempfile::tempdir().expect("temp dir");
    check_deploy_files(&deploy, work.path());

    let a = Instance::start(None);
    let mut b = Instance::start(None);
    let keyed = Instance::start(Some(SCRAPE_KEY));
    let targets = [a.addr, b.addr];
    let prom =
        Prometheus::start(&deploy, work.path(), &targets, keyed.addr, deadline);

    // Both targets scraped once before any traffic: every histogram and
    // error series then starts at 0 in Prometheus, so the rates below
    // are exact ratios of what the servers counted.
    wait_for("both targets up", deadline, || {
        let up = prom.query("count(up{job=\"maestra-backend\"} == 1)");
        (first_value(&up) == Some(2.0)).then_some(())
    });
    wait_for("histograms scraped", deadline, || {
        let q = format!("count(maestra_request_duration_seconds_count{JOB})");
        (first_value(&prom.query(&q)) == Some(2.0)).then_some(())
    });
    check_live_exposition(a.addr, work.path());

    // With API keys on, the key read from credentials_file (written with
    // a trailing newline, as `echo` leaves it) lets the scrape in, and a
    // wrong one is answered 401.
    wait_for("the keyed scrape up", deadline, || {
        let up = prom.query("up{job=\"maestra-keyed\"} == 1");
        (up.len() == 1).then_some(())
    });
    let refused = wait_for("the wrong key refused", deadline, || {
        prom.target_error("maestra-wrong-key").filter(|e| !e.is_empty())
    });
    assert!(refused.contains("401"), "wrong key: {refused}");

    // One request of each kind per instance creates the lazily created
    // maestra_requests_total series; waiting for Prometheus to see them
    // keeps the main traffic out of a series' first sample.
    for inst in [&a, &b] {
        inst.send(1, 1);
    }
    wait_for("priming traffic scraped", deadline, || {
        let q = format!("sum(maestra_requests_total{JOB})");
        (first_value(&prom.query(&q)) == Some(4.0)).then_some(())
    });

    a.send(TRAFFIC_A.0, TRAFFIC_A.1);
    b.send(TRAFFIC_B.0, TRAFFIC_B.1);
    let chats = 2 + TRAFFIC_A.0 + TRAFFIC_B.0;
    let unknown = 2 + TRAFFIC_A.1 + TRAFFIC_B.1;
    let total = (chats + unknown) as f64;

    let lat_a = a.latencies(1 + TRAFFIC_A.0 + 1 + TRAFFIC_A.1, deadline);
    let lat_b = b.latencies(1 + TRAFFIC_B.0 + 1 + TRAFFIC_B.1, deadline);

    // Totals, straight from the counters.
    wait_for("all requests scraped", deadline, || {
        let q = format!("sum(maestra_requests_total{JOB})");
        (first_value(&prom.query(&q)) == Some(total)).then_some(())
    });
    let q = format!("sum(maestra_request_duration_seconds_count{JOB})");
    assert_eq!(prom.value(&q), total, "histogram count against requests");
    let q = format!("sum(maestra_errors_total{JOB})");
    assert_eq!(prom.value(&q), unknown as f64, "unknown paths are 4xx");
    let ratio = prom.value(&format!(
        "sum(maestra_errors_total{JOB}) / sum(maestra_requests_total{JOB})"
    ));
    let expected_ratio = unknown as f64 / total;
    assert!(
        (ratio - expected_ratio).abs() < 1e-12,
        "error ratio {ratio}, sent {unknown} errors in {total}"
    );

    // Recorded figures per instance. Each series read here starts at 0
    // and is scraped at the same instants as the others of its target,
    // so rate() scales them all by one extrapolation factor: ratios,
    // quantiles and averages equal what the requests sent and the
    // records in the JSONL file give.
    let sent = [(&a, &lat_a, 1 + TRAFFIC_A.1), (&b, &lat_b, 1 + TRAFFIC_B.1)];
    for (inst, lat, errors) in sent {
        let sel = format!("{{instance=\"{}\"}}", inst.addr);
        let want = errors as f64 / lat.len() as f64;
        let expr = format!("instance:maestra_errors:ratio_rate5m{sel}");
        wait_for(&expr, deadline, || {
            first_value(&prom.query(&expr)).filter(|v| close(*v, want))
        });

        for (q, name) in [(0.95, "p95"), (0.99, "p99")] {
            let want = bucket_quantile(q, lat);
            let expr = format!(
                "instance:maestra_request_duration_seconds:{name}_rate5m{sel}"
            );
            let got = wait_for(&expr, deadline, || {
                first_value(&prom.query(&expr)).filter(|v| close(*v, want))
            });
            eprintln!("{} {name}: {got} s (records: {want} s)", inst.addr);
        }

        let mean_s = lat.iter().sum::<u64>() as f64 / lat.len() as f64 / 1e3;
        let expr = format!(
            "instance:maestra_request_duration_seconds:avg_rate5m{sel}"
        );
        wait_for(&expr, deadline, || {
            first_value(&prom.query(&expr)).filter(|v| close(*v, mean_s))
        });
    }

    // Fleet quantiles mix two targets' extrapolations, so they are held to
    // the bucket that holds every recorded latency.
    let slowest = lat_a.iter().chain(&lat_b).copied().max().unwrap_or(0);
    let bound = bucket_bound_s(slowest);
    for name in ["p95", "p99"] {
        let expr =
            format!("job:maestra_request_duration_seconds:{name}_rate5m{JOB}");
        let v = prom.value(&expr);
        assert!(v > 0.0 && v <= bound, "{expr} = {v}, bucket bound {bound}");
    }

    // Fleet ratios add rates of two targets scraped at different
    // instants, whose extrapolations differ by a little.
    let rec = prom.value(&format!("job:maestra_errors:ratio_rate5m{JOB}"));
    assert!(
        (rec - expected_ratio).abs() < expected_ratio * 0.1,
        "job:maestra_errors:ratio_rate5m = {rec}, sent {expected_ratio}"
    );
    assert!(prom.value(&format!("job:maestra_requests:rate5m{JOB}")) > 0.0);

    // The split by surface and status holds both kinds of request.
    for (surface, status) in [("windsurf", "2xx"), ("unknown", "4xx")] {
        let expr = format!(
            "job_surface_status:maestra_requests:rate5m\
             {{job=\"maestra-backend\",surface=\"{surface}\",\
             status=\"{status}\"}}"
        );
        assert!(prom.value(&expr) > 0.0, "{expr}");
    }

    // a answered more than 20 requests with over 5% errors: the alert
    // fires. b's error ratio is higher but it saw fewer than 20 requests,
    // which the guard must keep quiet.
    let a_label = a.addr.to_string();
    let b_label = b.addr.to_string();
    wait_for("MaestraHighErrorRate firing for a", deadline, || {
        prom.alert_state("MaestraHighErrorRate", &a_label)
            .filter(|s| s == "firing")
    });
    assert_eq!(prom.alert_state("MaestraHighErrorRate", &b_label), None);
    assert_eq!(prom.alert_state("MaestraRateLimited", &a_label), None);
    assert_eq!(prom.alert_state("MaestraInstanceDown", &a_label), None);

    // An instance dies: its scrapes fail and the alert fires for it alone.
    b.kill();
    wait_for("MaestraInstanceDown firing for b", deadline, || {
        prom.alert_state("MaestraInstanceDown", &b_label)
            .filter(|s| s == "firing")
    });
    assert_eq!(prom.alert_state("MaestraInstanceDown", &a_label), None);
}

/// True when both tools run; otherwise a note, or a failure under CI.
fn tools_present() -> bool {
    let missing: Vec<&str> = ["promtool", "prometheus"]
        .into_iter()
        .filter(|tool| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_or(true, |s| !s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set and {missing:?} cannot be run"
    );
    eprintln!(
        "note: prometheus_fleet skipped, {missing:?} not installed \
         (Debian package `prometheus`)"
    );
    false
}

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus")
}

/// promtool (and amtool when present) on everything in deploy/prometheus.
fn check_deploy_files(deploy: &Path, work: &Path) {
    // `check config` also wants the key file to exist. It is git-ignored,
    // so the shipped config is checked from a copy with an empty one.
    let copy = work.join("deploy");
    fs::create_dir_all(copy.join("rules")).expect("create copy");
    fs::create_dir_all(copy.join("secrets")).expect("create copy");
    fs::create_dir_all(copy.join("targets")).expect("create copy");
    fs::copy(deploy.join("prometheus.yml"), copy.join("prometheus.yml"))
        .expect("copy prometheus.yml");
    for name in rule_files(deploy) {
        let from = deploy.join("rules").join(&name);
        fs::copy(from, copy.join("rules").join(&name)).expect("copy rules");
    }
    fs::write(copy.join("secrets/maestra_api_key"), "").expect("key file");
    run_clean(
        "promtool",
        &["check", "config", "--lint-fatal", "prometheus.yml"],
        &copy,
    );

    // The commented file_sd alternative, with the shipped example list.
    let example = "maestra-backend.example.yml";
    fs::copy(
        deploy.join("targets").join(example),
        copy.join("targets").join(example),
    )
    .expect("copy targets");
    let file_sd = "scrape_configs:\n\
        \x20 - job_name: maestra-backend\n\
        \x20   metrics_path: /metrics/prometheus\n\
        \x20   file_sd_configs:\n\
        \x20     - files: [targets/maestra-backend.example.yml]\n";
    fs::write(copy.join("file_sd.yml"), file_sd).expect("file_sd config");
    run_clean("promtool", &["check", "config", "file_sd.yml"], &copy);

    // The federation example for a global Prometheus.
    run_clean("promtool", &["check", "config", "global.yml"], deploy);

    let mut args = vec!["check", "rules", "--lint-fatal"];
    let rules: Vec<String> =
        rule_files(deploy).iter().map(|n| format!("rules/{n}")).collect();
    args.extend(rules.iter().map(String::as_str));
    run_clean("promtool", &args, deploy);

    let tests: Vec<String> = yaml_files(&deploy.join("tests"))
        .iter()
        .map(|n| format!("tests/{n}"))
        .collect();
    assert!(tests.len() >= 2, "rule unit tests missing: {tests:?}");
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    run_clean("promtool", &args, deploy);

    let amtool = Command::new("amtool").arg("--version").output();
    if amtool.is_ok_and(|o| o.status.success()) {
        run_clean("amtool", &["check-config", "alertmanager.yml"], deploy);
    } else {
        eprintln!("note: amtool not installed, alertmanager.yml unchecked");
    }
}

fn rule_files(deploy: &Path) -> Vec<String> {
    let names = yaml_files(&deploy.join("rules"));
    assert!(names.len() >= 2, "rule files missing: {names:?}");
    names
}

fn yaml_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("failed to list {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    names
}

/// Runs a checker; any failure, warning or lint finding fails the test.
fn run_clean(tool: &str, args: &[&str], dir: &Path) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("failed to run {tool}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let finding = ["FAILED", "WARNING", "error"]
        .iter()
        .any(|w| text.to_lowercase().contains(&w.to_lowercase()));
    assert!(
        out.status.success() && !finding,
        "{tool} {args:?} in {}:\n{text}",
        dir.display()
    );
}

/// `promtool check metrics` on what a live server serves.
fn check_live_exposition(addr: SocketAddr, work: &Path) {
    let (status, body) = http(addr, "GET", "/metrics/prometheus", None);
    assert_eq!(status, 200, "{body}");
    for family in [
        "maestra_requests_total",
        "maestra_errors_total",
        "maestra_request_duration_seconds",
        "maestra_daily_cost_limit_usd",
        "maestra_rate_limited_total",
        "maestra_healthy",
    ] {
        assert!(
            body.contains(&format!("# TYPE {family} ")),
            "{family} missing from /metrics/prometheus"
        );
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .current_dir(work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool check metrics");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool check metrics");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "promtool check metrics found:\n{text}"
    );
}

/// Polls `f` every 200 ms until it yields, or fails at `deadline`.
fn wait_for<T>(
    what: &str,
    deadline: Instant,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(200));
    }
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1e-3)
}

/// The upper bound in seconds of the bucket a latency falls in.
fn bucket_bound_s(latency_ms: u64) -> f64 {
    BUCKETS_MS
        .iter()
        .find(|&&le| latency_ms <= le)
        .map_or(f64::INFINITY, |&le| le as f64 / 1e3)
}

/// What `histogram_quantile` answers for these latencies, computed the
/// way Prometheus does: cumulative bucket counts, the first bucket whose
/// count reaches the rank, linear interpolation inside it.
fn bucket_quantile(q: f64, latencies_ms: &[u64]) -> f64 {
    let cumulative: Vec<f64> = BUCKETS_MS
        .iter()
        .map(|&le| latencies_ms.iter().filter(|&&l| l <= le).count() as f64)
        .collect();
    let total = latencies_ms.len() as f64;
    let rank = q * total;
    let Some(b) = cumulative.iter().position(|&c| c >= rank) else {
        // The rank is in +Inf: Prometheus answers the highest finite bound.
        return BUCKETS_MS[BUCKETS_MS.len() - 1] as f64 / 1e3;
    };
    let end = BUCKETS_MS[b] as f64 / 1e3;
    let (start, below) = match b {
        0 => (0.0, 0.0),
        _ => (BUCKETS_MS[b - 1] as f64 / 1e3, cumulative[b - 1]),
    };
    start + (end - start) * ((rank - below) / (cumulative[b] - below))
}

fn first_value(result: &[(BTreeMap<String, String>, f64)]) -> Option<f64> {
    result.first().map(|(_, v)| *v)
}

/// A child process killed and reaped when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One maestra-backend with its own folders.
struct Instance {
    server: Option<common::Server>,
    setup: common::Setup,
    addr: SocketAddr,
}

impl Instance {
    /// Starts a server, with API keys on when `keys` is given.
    fn start(keys: Option<&str>) -> Instance {
        let mut setup = common::Setup::new();
        setup.set("MAESTRA_RATE_LIMIT", 100_000);
        if let Some(keys) = keys {
            setup.set("MAESTRA_API_KEYS", keys);
        }
        let server = setup.start();
        Instance { addr: server.addr, server: Some(server), setup }
    }

    /// Sends `chats` chat requests and `unknown` requests to a path that
    /// does not exist, checking each answer.
    fn send(&self, chats: usize, unknown: usize) {
        let body =
            br#"{"message":"hello","user_id":"u1","surface_id":"windsurf"}"#;
        for _ in 0..chats {
            let (status, text) =
                http(self.addr, "POST", "/api/maestra/chat", Some(body));
            assert_eq!(status, 200, "chat: {text}\n{}", self.stderr());
        }
        for i in 0..unknown {
            let path = format!("/no/such/path/{i}");
            let (status, text) = http(self.addr, "GET", &path, None);
            assert_eq!(status, 404, "{path}: {text}\n{}", self.stderr());
        }
    }

    /// The latencies of the JSONL records, once `expected` are written.
    fn latencies(&self, expected: usize, deadline: Instant) -> Vec<u64> {
        let path = self.setup.metrics_path();
        wait_for("the JSONL records", deadline, || {
            let text = fs::read_to_string(&path).ok()?;
            let lat: Vec<u64> = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter_map(|v| v["latency_ms"].as_u64())
                .collect();
            (lat.len() == expected).then_some(lat)
        })
    }

    /// Kills the process at once, as a crash would.
    fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill();
        }
    }

    fn stderr(&self) -> String {
        self.server.as_ref().map(common::Server::stderr).unwrap_or_default()
    }
}

/// A Prometheus server scraping the given targets every second.
struct Prometheus {
    _proc: Guard,
    addr: SocketAddr,
    log: PathBuf,
}

impl Prometheus {
    fn start(
        deploy: &Path,
        work: &Path,
        targets: &[SocketAddr],
        keyed: SocketAddr,
        deadline: Instant,
    ) -> Self {
        let dir = work.join("prometheus");
        fs::create_dir_all(&dir).expect("prometheus dir");

        // The shipped alert rules with every `for` cut to 1s, so the test
        // sees them fire in seconds; the recording rules as shipped.
        let alerts =
            fs::read_to_string(deploy.join("rules/maestra-alerts.yml"))
                .expect("read alert rules");
        let fast: String = alerts
            .lines()
            .map(|line| {
                let body = line.trim_start();
                let indent = &line[..line.len() - body.len()];
                match body.starts_with("for: ") {
                    true => format!("{indent}for: 1s\n"),
                    false => format!("{line}\n"),
                }
            })
            .collect();
        assert!(fast.contains("for: 1s"), "no `for` found to shorten");
        fs::write(dir.join("alerts-fast.yml"), fast).expect("write rules");

        // The two servers under traffic run with keys off, where an empty
        // key file must not get in the way; the third has keys on and is
        // scraped once with its key and once with a wrong one.
        let keys = [
            ("maestra-backend", "key", String::new(), targets.to_vec()),
            (
                "maestra-keyed",
                "good-key",
                format!("{SCRAPE_KEY}\n"),
                vec![keyed],
            ),
            ("maestra-wrong-key", "bad-key", "wrong\n".into(), vec![keyed]),
        ];
        let mut jobs = String::new();
        for (job, file, key, targets) in keys {
            fs::write(dir.join(file), key).expect("key file");
            let targets: Vec<String> =
                targets.iter().map(|t| format!("\"{t}\"")).collect();
            jobs.push_str(&format!(
                "  - job_name: {job}\n\
                 \x20   metrics_path: /metrics/prometheus\n\
                 \x20   authorization:\n\
                 \x20     type: Bearer\n\
                 \x20     credentials_file: {file}\n\
                 \x20   static_configs:\n\
                 \x20     - targets: [{targets}]\n",
                targets = targets.join(", "),
            ));
        }
        let config = format!(
            "global:\n\
             \x20 scrape_interval: 1s\n\
             \x20 scrape_timeout: 1s\n\
             \x20 evaluation_interval: 1s\n\
             rule_files:\n\
             \x20 - {recording}\n\
             \x20 - alerts-fast.yml\n\
             scrape_configs:\n\
             {jobs}",
            recording = deploy.join("rules/maestra-recording.yml").display(),
        );
        let config_path = dir.join("prometheus.yml");
        fs::write(&config_path, config).expect("write config");

        let addr = free_addr();
        let log = dir.join("prometheus.log");
        let log_file = fs::File::create(&log).expect("prometheus log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("start prometheus");
        let prom = Prometheus { _proc: Guard(child), addr, log };

        loop {
            if try_http(addr, "GET", "/-/ready", None)
                .is_ok_and(|(status, _)| status == 200)
            {
                return prom;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not become ready:\n{}",
                fs::read_to_string(&prom.log).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// An instant query; each sample as its labels and value.
    fn query(&self, expr: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let path = format!("/api/v1/query?query={}", url_encode(expr));
        let (status, body) = http(self.addr, "GET", &path, None);
        assert_eq!(status, 200, "query {expr}: {body}");
        let v: Value = serde_json::from_str(&body).expect("query JSON");
        v["data"]["result"]
            .as_array()
            .map(|samples| {
                samples
                    .iter()
                    .map(|s| {
                        let labels = s["metric"]
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .map(|(k, v)| {
                                        let v = v.as_str().unwrap_or("");
                                        (k.clone(), v.to_owned())
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        let value = s["value"][1]
                            .as_str()
                            .and_then(|t| t.parse().ok())
                            .unwrap_or(f64::NAN);
                        (labels, value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The value of a query expected to give exactly one sample.
    fn value(&self, expr: &str) -> f64 {
        let result = self.query(expr);
        if result.len() != 1 {
            let (_, rules) = http(self.addr, "GET", "/api/v1/rules", None);
            panic!("{expr} gave {result:?}; rules: {rules}");
        }
        result[0].1
    }

    /// The last scrape error of a job's single target ("" when none).
    fn target_error(&self, job: &str) -> Option<String> {
        let (status, body) = http(self.addr, "GET", "/api/v1/targets", None);
        assert_eq!(status, 200, "targets: {body}");
        let v: Value = serde_json::from_str(&body).expect("targets JSON");
        v["data"]["activeTargets"].as_array()?.iter().find_map(|t| {
            (t["labels"]["job"] == job)
                .then(|| t["lastError"].as_str().unwrap_or("").to_owned())
        })
    }

    /// The state (`pending` or `firing`) of an alert for one instance.
    fn alert_state(&self, name: &str, instance: &str) -> Option<String> {
        let (status, body) = http(self.addr, "GET", "/api/v1/alerts", None);
        assert_eq!(status, 200, "alerts: {body}");
        let v: Value = serde_json::from_str(&body).expect("alerts JSON");
        v["data"]["alerts"].as_array()?.iter().find_map(|a| {
            let labels = &a["labels"];
            (labels["alertname"] == name && labels["instance"] == instance)
                .then(|| a["state"].as_str().unwrap_or("").to_owned())
        })
    }
}

/// A loopback address with a port free a moment ago.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("free port");
    listener.local_addr().expect("local addr")
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One HTTP/1.1 exchange; panics on a transport error.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> (u16, String) {
    try_http(addr, method, path, body)
        .unwrap_or_else(|e| panic!("{method} http://{addr}{path}: {e}"))
}

/// One HTTP/1.1 exchange with `Connection: close`: status and body.
fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> std::io::Result<(u16, String)> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    let body = body.unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"
    );
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let bad = |what: &str| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
    };
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let rest = &raw[split + 4..];
    let body = if chunked {
        dechunk(rest).ok_or_else(|| bad("chunks"))?
    } else {
        rest.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Joins a chunked body; `None` when it is cut short.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
