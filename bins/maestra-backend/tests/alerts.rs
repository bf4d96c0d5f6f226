//! Slack alerts raised by the real binary, received by a fake webhook on
//! loopback.

mod common;

use std::time::Duration;

use common::{chat_body, dead_port, fake_upstream, FakeHttp, FakeSlack, Setup};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const KEY: &str = "k-secret-key-123";

fn all_text_under(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for file in common::files_under(dir) {
        out.push_str(&String::from_utf8_lossy(&std::fs::read(file).unwrap()));
    }
    out
}

#[test]
fn errors_auth_failures_and_rate_limits_reach_slack() {
    let slack = FakeSlack::start();
    let mut setup = Setup::new();
    setup
        .set("MAESTRA_SLACK_WEBHOOK_URL", slack.url())
        .set("MAESTRA_API_KEYS", KEY)
        .set("MAESTRA_RATE_LIMIT", 3)
        .set(
            "MAESTRA_UPSTREAM_URL",
            format!("http://127.0.0.1:{}", dead_port()),
        )
        .set("MAESTRA_UPSTREAM_API_KEY", "sk-upstream-secret-456");
    let server = setup.start();
    let auth = [("authorization", &*format!("Bearer {KEY}"))];
    let body = chat_body("hello", "justinharmon", "windsurf");

    let started = slack.wait_text("🟢 Maestra Backend Started", WAIT).unwrap();
    assert!(started.contains(&format!("http://{}", server.addr)), "{started}");

    assert_eq!(server.chat_with(&body, &auth).status, 502);
    assert_eq!(
        slack.wait_text("🔴 Maestra Backend Error", WAIT).unwrap(),
        "🔴 Maestra Backend Error\nRequest failed with status 502\n\
         surface_id: windsurf\nuser_id: justinharmon\nerror: upstream_error"
    );

    assert_eq!(server.chat(&body).status, 401);
    assert_eq!(
        slack.wait_text("🟠 Authentication Failure", WAIT).unwrap(),
        "🟠 Authentication Failure\nIP: 127.0.0.1\nAttempts: 1"
    );

    // A repeat of the same failure is folded, not sent again.
    assert_eq!(server.chat_with(&body, &auth).status, 502);
    assert_eq!(server.chat_with(&body, &auth).status, 429);
    assert_eq!(
        slack.wait_text("🟠 Rate Limit Exceeded", WAIT).unwrap(),
        "🟠 Rate Limit Exceeded\nIP: 127.0.0.1\nRequests: 4/3\nWindow: 60s"
    );
    let errors = slack
        .texts()
        .iter()
        .filter(|t| t.starts_with("🔴 Maestra Backend Error"))
        .count();
    assert_eq!(errors, 1);

    let metrics = server.get_with("/metrics", &auth).json();
    assert!(metrics["alerts_folded"].as_u64().unwrap() >= 1, "{metrics}");
    let prometheus = server.get_with("/metrics/prometheus", &auth).text();
    let stderr_so_far = server.stderr();

    assert!(server.stop().success());
    let stopping =
        slack.wait_text("⚪ Maestra Backend Stopping", WAIT).unwrap();
    assert!(stopping.contains("Requests: 4"), "{stopping}");

    // The payload carries a colour by severity.
    let payloads: Vec<Value> = slack
        .http
        .bodies()
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    assert!(payloads.iter().all(|p| p["attachments"][0]["color"].is_string()));

    // Delivery is logged, and no secret is anywhere.
    let log = std::fs::read_to_string(setup.log_path()).unwrap();
    assert!(log.contains("\"event_type\":\"alert_sent\""));
    let everything = format!(
        "{}{}{}{}",
        all_text_under(setup.dir.path()),
        metrics,
        prometheus,
        stderr_so_far
    );
    for secret in [KEY, "sk-upstream-secret-456", "T0SECRET", "XSECRETTOKEN"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[test]
fn the_cost_limit_alert_names_the_spend() {
    let slack = FakeSlack::start();
    let mut setup = Setup::new();
    setup
        .set("MAESTRA_SLACK_WEBHOOK_URL", slack.url())
        .set("MAESTRA_DAILY_COST_LIMIT_USD", "0.01")
        .set("MAESTRA_PRICE_PER_1K_TOKENS_USD", "1");
    let server = setup.start();
    let body = chat_body(&"word ".repeat(40), "u1", "windsurf");

    let first = server.chat(&body).json();
    assert_eq!(server.chat(&body).status, 429);
    let text = slack.wait_text("🟠 Daily Cost Limit Exceeded", WAIT).unwrap();
    let spent = first["cost_usd"].as_f64().unwrap();
    assert_eq!(
        text,
        format!(
            "🟠 Daily Cost Limit Exceeded\nDaily cost: ${spent:.2}\n\
             Limit: $0.01\nRequests: 1"
        )
    );
}

#[test]
fn thresholds_alert_and_resolve() {
    let slack = FakeSlack::start();
    let upstream = fake_upstream(Duration::from_millis(150), 5);
    let mut setup = Setup::new();
    setup
        .set("MAESTRA_SLACK_WEBHOOK_URL", slack.url())
        .set("MAESTRA_UPSTREAM_URL", format!("http://{}/v1", upstream.addr))
        .set("MAESTRA_ALERT_CHECK_S", 1)
        .set("MAESTRA_ALERT_WINDOW_S", 3)
        .set("MAESTRA_ALERT_MIN_REQUESTS", 5)
        .set("MAESTRA_LATENCY_THRESHOLD_MS", 20);
    let server = setup.start();

    for _ in 0..8 {
        assert_eq!(server.get("/nowhere").status, 404);
    }
    for _ in 0..2 {
        assert_eq!(server.chat(&chat_body("hi", "u1", "s")).status, 200);
    }

    let high = slack.wait_text("🔴 High Error Rate", WAIT).unwrap();
    assert!(high.contains("Errors: 8/10"), "{high}");
    assert!(high.contains("Window: 3s"), "{high}");
    let slow = slack.wait_text("🟠 High Latency", WAIT).unwrap();
    assert!(slow.contains("above 20 ms"), "{slow}");

    // Without traffic the window empties and both conditions clear.
    assert!(slack.wait_text("✅ Resolved: High Error Rate", WAIT).is_some());
    assert!(slack.wait_text("✅ Resolved: High Latency", WAIT).is_some());
}

#[test]
fn a_refusing_slack_is_logged_and_never_blocks_requests() {
    let slack = FakeHttp::start(|_, _| (400, vec![], "invalid_payload".into()));
    let mut setup = Setup::new();
    setup.set(
        "MAESTRA_SLACK_WEBHOOK_URL",
        format!("http://{}/services/T0SECRET/B0SECRET/XSECRET", slack.addr),
    );
    let server = setup.start();

    for _ in 0..3 {
        assert_eq!(server.chat(&chat_body("hi", "u1", "s")).status, 200);
    }
    let failed = common::wait_for(WAIT, || {
        let m = server.metrics();
        (m["alerts_failed"].as_u64()? >= 1).then_some(m)
    });
    assert!(failed.is_some(), "no alert failure counted");
    assert!(server.stop().success());

    let log = std::fs::read_to_string(setup.log_path()).unwrap();
    let line = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["event_type"] == "alert_failed")
        .expect("an alert_failed line");
    assert_eq!(line["level"], "ERROR");
    let message = line["message"].as_str().unwrap();
    assert!(message.contains("Slack"), "{message}");
    assert!(message.contains("invalid_payload"), "{message}");
    assert!(!log.contains("XSECRET") && !log.contains("T0SECRET"));
}
