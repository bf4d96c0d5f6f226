//! Black-box tests of the HTTP API: the real binary on a free loopback
//! port, temporary folders, and plain HTTP.

mod common;

use std::time::Duration;

use common::{chat_body, dead_port, fake_upstream, http, read_jsonl, Setup};
use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn health_answers_without_auth() {
    let mut setup = Setup::new();
    setup.set("MAESTRA_API_KEYS", "k1");
    let server = setup.start();

    let resp = server.get("/health");
    assert_eq!(resp.status, 200);
    let v = resp.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["service"], "maestra-backend");
    assert_eq!(v["version"], VERSION);
    assert!(v["uptime_seconds"].is_u64());
}

#[test]
fn metrics_document_has_the_notes_fields_and_types() {
    let server = Setup::new().start();
    server.chat(&chat_body("hello there", "u1", "windsurf"));
    server.get("/nowhere");

    let v = server.metrics();
    for key in [
        "uptime_seconds",
        "total_requests",
        "total_errors",
        "avg_latency_ms",
        "active_conversations",
        "p50_latency_ms",
        "p95_latency_ms",
        "p99_latency_ms",
        "alerts_sent",
        "alerts_dropped",
        "records_dropped",
        "log_records_dropped",
    ] {
        assert!(v[key].is_u64(), "{key}: {}", v[key]);
    }
    for key in ["total_cost_usd", "error_rate", "daily_cost_usd"] {
        assert!(v[key].is_f64() || v[key].is_u64(), "{key}: {}", v[key]);
    }
    let ts = v["timestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts.contains('T'), "{ts}");
    assert_eq!(v["service"], "maestra-backend");
    assert_eq!(v["version"], VERSION);
    assert_eq!(v["total_requests"], 2);
    assert_eq!(v["total_errors"], 1);
    assert_eq!(v["active_conversations"], 1);
    assert!(v["total_cost_usd"].as_f64().unwrap() > 0.0);
}

#[test]
fn chat_answers_and_is_recorded() {
    let setup = Setup::new();
    let server = setup.start();

    let resp = server.chat_with(
        &chat_body("What should I do next?", "justinharmon", "windsurf"),
        &[("x-request-id", "req_given_1")],
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("x-request-id"), Some("req_given_1"));
    let v = resp.json();
    assert_eq!(v["request_id"], "req_given_1");
    assert_eq!(v["mode"], "advisor");
    let conv = v["conversation_id"].as_str().unwrap();
    assert!(conv.starts_with("conv_") && conv.contains("_ju_"), "{conv}");
    let tokens = v["tokens"].as_u64().unwrap();
    assert!(tokens > 0);
    let cost = v["cost_usd"].as_f64().unwrap();
    assert!((cost - tokens as f64 / 1000.0 * 0.002).abs() < 1e-12);
    assert!(v["reply"].as_str().unwrap().len() > 10);
    assert!(v["latency_ms"].is_u64());

    // The same message gets the same reply.
    let again = server.chat(&chat_body("What should I do next?", "u2", "cli"));
    assert_eq!(again.json()["reply"], v["reply"]);

    // A bad request id is replaced by a fresh one.
    let resp = server.chat_with(
        &chat_body("hi", "u2", "cli"),
        &[("x-request-id", "bad id with spaces")],
    );
    let id = resp.header("x-request-id").unwrap().to_string();
    assert!(id.starts_with("req_") && id.len() == 16, "{id}");

    assert!(server.stop().success());
    let records = read_jsonl(&setup.metrics_path());
    assert_eq!(records.len(), 3);
    let r = &records[0];
    // Fields in the note's order: each key appears after the previous one.
    let line = std::fs::read_to_string(setup.metrics_path()).unwrap();
    let first = line.lines().next().unwrap();
    let positions: Vec<usize> = common::RECORD_FIELDS
        .iter()
        .map(|k| first.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{first}");
    assert_eq!(r.as_object().unwrap().len(), 11);
    assert_eq!(r["request_id"], "req_given_1");
    assert_eq!(r["surface_id"], "windsurf");
    assert_eq!(r["user_id"], "justinharmon");
    assert_eq!(r["conversation_id"], conv);
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["tokens"], tokens);
    assert_eq!(r["error"], Value::Null);
}

#[test]
fn every_error_code_has_the_json_shape() {
    let mut setup = Setup::new();
    setup.set("MAESTRA_MAX_BODY_BYTES", 1000);
    let server = setup.start();
    let addr = server.addr;
    let post = |path: &str, body: &[u8]| {
        http(
            addr,
            "POST",
            path,
            &[("content-type", "application/json")],
            Some(body),
        )
    };

    let big = format!(r#"{{"message":"{}","user_id":"u"}}"#, "a".repeat(2000));
    let cases: Vec<(common::Resp, u16, &str)> = vec![
        (post("/api/maestra/chat", b"{not json"), 400, "invalid_request"),
        (
            post("/api/maestra/chat", br#"{"message":"hi"}"#),
            400,
            "invalid_request",
        ),
        (
            post("/api/maestra/chat", br#"{"message":"hi","user_id":"a\nb"}"#),
            400,
            "invalid_request",
        ),
        (post("/api/maestra/chat", b"\xff\xfe\x00"), 400, "invalid_request"),
        (post("/api/maestra/chat", big.as_bytes()), 413, "payload_too_large"),
        (server.get("/nowhere"), 404, "not_found"),
        (server.get("/api/maestra/chat"), 405, "method_not_allowed"),
        (post("/metrics", b""), 405, "method_not_allowed"),
    ];
    let count = cases.len() as u64;
    for (resp, status, code) in cases {
        assert_eq!(resp.status, status, "{code}: {}", resp.text());
        let v = resp.json();
        assert_eq!(v["error"]["code"], code);
        assert!(v["error"]["message"].as_str().unwrap().len() > 5);
        let id = v["request_id"].as_str().unwrap();
        assert_eq!(resp.header("x-request-id"), Some(id));
    }

    let m = server.metrics();
    assert_eq!(m["total_requests"], count);
    assert_eq!(m["total_errors"], count);
    assert_eq!(m["total_4xx"], count);
}

#[test]
fn api_keys_guard_everything_but_health() {
    let mut setup = Setup::new();
    setup.set("MAESTRA_API_KEYS", "key-one, key-two");
    let server = setup.start();
    let body = chat_body("hi", "u1", "s");

    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong")],
        vec![("authorization", "Bearer key-on")],
        vec![("authorization", "Bearer key-one-more")],
        vec![("authorization", "Bearer KEY-ONE")],
        vec![("x-api-key", "")],
        vec![("x-forwarded-for", "127.0.0.1")],
    ] {
        let resp = server.chat_with(&body, &headers);
        assert_eq!(resp.status, 401, "{headers:?}");
        assert_eq!(resp.json()["error"]["code"], "unauthorized");
    }
    assert_eq!(
        server.chat_with(&body, &[("authorization", "Bearer key-one")]).status,
        200
    );
    assert_eq!(
        server.chat_with(&body, &[("x-api-key", "key-two")]).status,
        200
    );

    for path in ["/metrics", "/metrics/prometheus", "/metrics/history"] {
        assert_eq!(server.get(path).status, 401, "{path}");
        assert_eq!(
            server.get_with(path, &[("x-api-key", "key-one")]).status,
            200
        );
    }
    let key = [("x-api-key", "key-one")];
    let failures = |s: &common::Server| {
        s.get_with("/metrics", &key).json()["auth_failures"].as_u64().unwrap()
    };
    let before = failures(&server);
    let page = server.get("/dashboard");
    assert_eq!(page.status, 401);
    assert!(page.header("www-authenticate").unwrap().starts_with("Basic"));
    // A browser's first, credential-less visit is not a failed login...
    assert_eq!(failures(&server), before);
    // ...a wrong password is. ("maestra:nope")
    let wrong = [("authorization", "Basic bWFlc3RyYTpub3Bl")];
    assert_eq!(server.get_with("/dashboard", &wrong).status, 401);
    assert_eq!(failures(&server), before + 1);
    // "maestra:key-two", as a browser sends it after the prompt.
    let basic = [("authorization", "Basic bWFlc3RyYTprZXktdHdv")];
    assert_eq!(server.get_with("/dashboard", &basic).status, 200);
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn the_101st_request_in_the_window_is_refused() {
    let server = Setup::new().start();
    let body = chat_body("hi", "u1", "s");
    for i in 0..100 {
        assert_eq!(server.chat(&body).status, 200, "request {i}");
    }
    let resp = server.chat(&body);
    assert_eq!(resp.status, 429);
    assert_eq!(resp.json()["error"]["code"], "rate_limited");
    let retry: u64 = resp.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // Other endpoints are not limited.
    assert_eq!(server.get("/metrics").status, 200);
}

#[test]
fn forged_forwarded_for_is_ignored_without_trust_proxy() {
    let mut setup = Setup::new();
    setup.set("MAESTRA_RATE_LIMIT", 2);
    let server = setup.start();
    let body = chat_body("hi", "u1", "s");
    for n in 0..2 {
        let ip = format!("10.0.0.{n}");
        assert_eq!(
            server.chat_with(&body, &[("x-forwarded-for", &ip)]).status,
            200
        );
    }
    let resp = server.chat_with(&body, &[("x-forwarded-for", "10.9.9.9")]);
    assert_eq!(resp.status, 429);
}

#[test]
fn trusted_proxy_limits_per_forwarded_client() {
    let mut setup = Setup::new();
    setup.set("MAESTRA_RATE_LIMIT", 1).set("MAESTRA_TRUST_PROXY", 1);
    let server = setup.start();
    let body = chat_body("hi", "u1", "s");
    let a = [("x-forwarded-for", "10.0.0.1, 127.0.0.1")];
    let b = [("x-forwarded-for", "10.0.0.2")];
    assert_eq!(server.chat_with(&body, &a).status, 200);
    assert_eq!(server.chat_with(&body, &a).status, 429);
    assert_eq!(server.chat_with(&body, &b).status, 200);
}

#[test]
fn daily_cost_limit_survives_a_restart() {
    let mut setup = Setup::new();
    // One request costs about a cent at this price, over the limit.
    setup
        .set("MAESTRA_DAILY_COST_LIMIT_USD", "0.01")
        .set("MAESTRA_PRICE_PER_1K_TOKENS_USD", "1");
    let server = setup.start();
    let body = chat_body(&"word ".repeat(20), "u1", "s");

    assert_eq!(server.chat(&body).status, 200);
    let refused = server.chat(&body);
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert_eq!(refused.json()["error"]["code"], "daily_cost_limit_exceeded");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    let spent = server.metrics()["daily_cost_usd"].as_f64().unwrap();
    assert!(spent >= 0.01, "{spent}");
    assert!(server.stop().success());

    let server = setup.start();
    let m = server.metrics();
    assert_eq!(m["total_requests"], 0);
    assert!((m["daily_cost_usd"].as_f64().unwrap() - spent).abs() < 1e-9);
    let resp = server.chat(&body);
    assert_eq!(resp.status, 429);
    assert_eq!(resp.json()["error"]["code"], "daily_cost_limit_exceeded");
}

#[test]
fn upstream_usage_gives_tokens_and_cost() {
    let upstream = fake_upstream(Duration::ZERO, 1234);
    let mut setup = Setup::new();
    setup
        .set("MAESTRA_UPSTREAM_URL", format!("http://{}/v1", upstream.addr))
        .set("MAESTRA_UPSTREAM_API_KEY", "sk-upstream-secret")
        .set("MAESTRA_UPSTREAM_MODEL", "test-model");
    let server = setup.start();

    let resp = server.chat(&chat_body("hello", "u1", "s"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["reply"], "Upstream says hi");
    assert_eq!(v["tokens"], 1234);
    assert!((v["cost_usd"].as_f64().unwrap() - 1.234 * 0.002).abs() < 1e-12);

    let sent: Value = serde_json::from_slice(&upstream.bodies()[0]).unwrap();
    assert_eq!(sent["model"], "test-model");
    assert_eq!(sent["messages"][0]["content"], "hello");
}

#[test]
fn a_dead_upstream_is_a_clear_502() {
    let mut setup = Setup::new();
    setup
        .set(
            "MAESTRA_UPSTREAM_URL",
            format!("http://127.0.0.1:{}", dead_port()),
        )
        .set("MAESTRA_UPSTREAM_TIMEOUT_S", 2);
    let server = setup.start();

    let resp = server.chat(&chat_body("hello", "u1", "s"));
    assert_eq!(resp.status, 502);
    let v = resp.json();
    assert_eq!(v["error"]["code"], "upstream_error");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("upstream"), "{message}");
    assert!(!message.contains("127.0.0.1"), "{message}");
    // The server keeps answering.
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn a_slow_upstream_times_out() {
    let upstream = fake_upstream(Duration::from_secs(5), 1);
    let mut setup = Setup::new();
    setup
        .set("MAESTRA_UPSTREAM_URL", format!("http://{}/v1", upstream.addr))
        .set("MAESTRA_UPSTREAM_TIMEOUT_S", 1);
    let server = setup.start();
    let resp = server.chat(&chat_body("hello", "u1", "s"));
    assert_eq!(resp.status, 502);
    let message = resp.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("within 1 s"), "{message}");
}

#[test]
fn orderly_stop_keeps_every_answered_record() {
    let upstream = fake_upstream(Duration::from_millis(300), 10);
    let mut setup = Setup::new();
    setup.set("MAESTRA_UPSTREAM_URL", format!("http://{}/v1", upstream.addr));
    let server = setup.start();
    let addr = server.addr;

    // Requests still in flight when the stop comes are finished.
    let in_flight: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let body =
                    serde_json::to_vec(&chat_body("hi", &format!("u{i}"), "s"))
                        .unwrap();
                http(addr, "POST", "/api/maestra/chat", &[], Some(&body)).status
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let status = server.stop();
    assert!(status.success(), "{status:?}");

    let answered = in_flight
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|s| *s == 200)
        .count();
    assert_eq!(answered, 4);
    assert_eq!(read_jsonl(&setup.metrics_path()).len(), 4);
}

#[test]
fn bad_configuration_stops_start_up_with_status_2() {
    for (name, value) in [
        ("MAESTRA_RATE_LIMIT", "abc"),
        ("MAESTRA_BIND", "not-an-address"),
        ("MAESTRA_LOG_LEVEL", "CHATTY"),
        ("MAESTRA_SLACK_WEBHOOK_URL", "ftp://hooks.example/T0SECRETX"),
    ] {
        let mut setup = Setup::new();
        setup.set(name, value);
        let out = std::process::Command::new(common::BIN)
            .env_clear()
            .envs(&setup.env)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(name), "{err}");
        assert!(!err.contains("T0SECRETX"), "{err}");
    }
}

#[test]
fn a_taken_port_is_a_critical_log_and_a_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut setup = Setup::new();
    setup.set("MAESTRA_BIND", taken.local_addr().unwrap());
    let out = std::process::Command::new(common::BIN)
        .env_clear()
        .envs(&setup.env)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = std::fs::read_to_string(setup.error_log_path()).unwrap();
    let line: Value =
        serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "CRITICAL");
    assert_eq!(line["event_type"], "bind_failed");
}

#[test]
fn help_and_version() {
    let out =
        std::process::Command::new(common::BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "MAESTRA_BIND",
        "MAESTRA_METRICS_PATH",
        "MAESTRA_LOG_DIR",
        "MAESTRA_LOG_LEVEL",
        "MAESTRA_LOG_STDOUT",
        "MAESTRA_LOG_MAX_BYTES",
        "MAESTRA_LOG_KEEP",
        "MAESTRA_SLACK_WEBHOOK_URL",
        "MAESTRA_ALERT_COOLDOWN_S",
        "MAESTRA_ALERT_WINDOW_S",
        "MAESTRA_ALERT_CHECK_S",
        "MAESTRA_ALERT_MIN_REQUESTS",
        "MAESTRA_ERROR_RATE_THRESHOLD",
        "MAESTRA_LATENCY_THRESHOLD_MS",
        "MAESTRA_API_KEYS",
        "MAESTRA_RATE_LIMIT",
        "MAESTRA_RATE_WINDOW_S",
        "MAESTRA_TRUST_PROXY",
        "MAESTRA_DAILY_COST_LIMIT_USD",
        "MAESTRA_PRICE_PER_1K_TOKENS_USD",
        "MAESTRA_UPSTREAM_URL",
        "MAESTRA_UPSTREAM_API_KEY",
        "MAESTRA_UPSTREAM_MODEL",
        "MAESTRA_UPSTREAM_TIMEOUT_S",
        "MAESTRA_CONVERSATION_TTL_S",
        "MAESTRA_MAX_BODY_BYTES",
    ] {
        assert!(help.contains(var), "{var}");
    }
    assert!(help.contains("127.0.0.1:8825"));

    let out = std::process::Command::new(common::BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("maestra-backend {VERSION}")
    );
}

#[test]
fn history_has_points_and_thresholds() {
    let mut setup = Setup::new();
    setup.set("MAESTRA_HISTORY_INTERVAL_S", 1);
    let server = setup.start();
    server.chat(&chat_body("hi", "u1", "s"));
    let doc = common::wait_for(Duration::from_secs(10), || {
        let v = server.get("/metrics/history").json();
        let points = v["points"].as_array()?;
        points.iter().any(|p| p["total_requests"] == 1).then_some(v)
    })
    .expect("a point with the request");
    assert_eq!(doc["interval_seconds"], 1);
    assert_eq!(doc["capacity"], 3600);
    assert_eq!(doc["thresholds"]["error_rate"], 0.05);
    assert_eq!(doc["thresholds"]["latency_ms"], 1000);
    let alerts = doc["alerts"].as_array().unwrap();
    assert!(alerts.iter().any(|a| a["title"] == "Maestra Backend Started"));

    let page = server.get("/dashboard");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.text().contains("<html"));
}
