//! Pacing, retries, failures and folding against a fake webhook.

mod support;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerts_slack::{
    Alert, Alerter, AlerterConfig, DeliveryError, DeliveryEvent, Enqueue,
    ManualClock, Outcome, Severity, WebhookUrl,
};
use support::{Answer, FakeWebhook};

/// Pacing and retry waits are behaviours here, not speed claims: the
/// assertions allow this much early arrival for timer granularity.
const TOLERANCE: Duration = Duration::from_millis(100);

type Events = Arc<Mutex<Vec<DeliveryEvent>>>;

fn config(url: &str, events: &Events) -> AlerterConfig {
    let events = Arc::clone(events);
    AlerterConfig::new(WebhookUrl::parse(url).unwrap())
        .min_interval(Duration::from_millis(10))
        .backoff(Duration::from_millis(20))
        .on_event(move |event| events.lock().unwrap().push(event.clone()))
}

fn text_of(body: &str) -> String {
    let payload: serde_json::Value = serde_json::from_str(body).unwrap();
    payload["text"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn two_alerts_are_at_least_the_interval_apart() {
    let fake = FakeWebhook::start(vec![]);
    let config = config(&fake.url(), &Events::default())
        .min_interval(Duration::from_secs(1));
    let alerter = Alerter::new(config);

    let first = alerter.alert(Alert::new(Severity::Info, "One", ""));
    let second = alerter.alert(Alert::new(Severity::Info, "Two", ""));
    assert_eq!(first.await, Outcome::Sent);
    assert_eq!(second.await, Outcome::Sent);

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    assert!(gap + TOLERANCE >= Duration::from_secs(1), "{gap:?}");
}

#[tokio::test]
async fn rate_limit_waits_retry_after_then_delivers() {
    let retry_after = vec![("Retry-After", "1".to_owned())];
    let fake = FakeWebhook::start(vec![Answer::Status(
        429,
        retry_after,
        "rate_limited".to_owned(),
    )]);
    let events = Events::default();
    let alerter = Alerter::new(config(&fake.url(), &events));

    let outcome =
        alerter.alert(Alert::new(Severity::Warning, "Busy", "")).await;

    assert_eq!(outcome, Outcome::Sent);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    assert!(gap + TOLERANCE >= Duration::from_secs(1), "{gap:?}");
    assert_eq!(requests[0].body, requests[1].body);
    let events = events.lock().unwrap();
    assert!(
        matches!(events.as_slice(), [DeliveryEvent::Sent { attempts: 2, .. }]),
        "{events:?}"
    );
}

#[tokio::test]
async fn retry_after_is_capped() {
    let retry_after = vec![("Retry-After", "3600".to_owned())];
    let fake = FakeWebhook::start(vec![Answer::Status(
        429,
        retry_after,
        String::new(),
    )]);
    let config = config(&fake.url(), &Events::default())
        .max_retry_after(Duration::from_millis(50));
    let alerter = Alerter::new(config);

    let outcome =
        alerter.alert(Alert::new(Severity::Warning, "Busy", "")).await;

    assert_eq!(outcome, Outcome::Sent);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let cases: &[(&[u16], u32, Outcome)] = &[
        (&[500], 4, Outcome::Sent),
        (&[502, 503, 504], 4, Outcome::Sent),
        (
            &[500, 500],
            2,
            Outcome::Failed(DeliveryError::Server {
                status: 500,
                body: "oops".to_owned(),
            }),
        ),
    ];
    for (statuses, max_attempts, want) in cases {
        let script =
            statuses.iter().map(|s| Answer::status(*s, "oops")).collect();
        let fake = FakeWebhook::start(script);
        let config =
            config(&fake.url(), &Events::default()).max_attempts(*max_attempts);
        let alerter = Alerter::new(config);

        let outcome = alerter.alert(Alert::new(Severity::Error, "E", "")).await;

        assert_eq!(&outcome, want, "{statuses:?}");
        let expected = (statuses.len() + 1).min(*max_attempts as usize);
        assert_eq!(fake.requests().len(), expected, "{statuses:?}");

        // Doubling waits: 20 ms, then 40 ms, then 80 ms.
        let at: Vec<_> = fake.requests().iter().map(|r| r.at).collect();
        for (i, pair) in at.windows(2).enumerate() {
            let want = Duration::from_millis(20 << i);
            assert!(pair[1] - pair[0] + TOLERANCE / 10 >= want, "{i}");
        }
    }
}

#[tokio::test]
async fn client_errors_fail_at_once_with_slacks_text() {
    let cases = [
        (400, "invalid_payload"),
        (403, "action_prohibited"),
        (404, "channel_not_found"),
        (410, "channel_is_archived"),
        (302, "moved"),
    ];
    for (status, text) in cases {
        let fake = FakeWebhook::start(vec![Answer::status(status, text)]);
        let events = Events::default();
        let alerter = Alerter::new(config(&fake.url(), &events));

        let outcome = alerter.alert(Alert::new(Severity::Error, "E", "")).await;

        let want = DeliveryError::Rejected { status, body: text.to_owned() };
        assert_eq!(outcome, Outcome::Failed(want.clone()));
        assert!(want.to_string().contains(text));
        assert_eq!(fake.requests().len(), 1, "{status}");
        let events = events.lock().unwrap();
        match events.as_slice() {
            [DeliveryEvent::Failed { attempts: 1, error, .. }] => {
                assert_eq!(error, &want);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(alerter.stats().failed, 1);
    }
}

#[tokio::test]
async fn refused_connections_are_retried_then_fail() {
    // A port that was just free: nothing listens there now.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/services/T0/B0/X");
    let events = Events::default();
    let alerter = Alerter::new(config(&url, &events).max_attempts(3));

    let outcome = alerter.alert(Alert::new(Severity::Error, "E", "")).await;

    let want = DeliveryError::Connect("connection refused".to_owned());
    assert_eq!(outcome, Outcome::Failed(want.clone()));
    let events = events.lock().unwrap();
    match events.as_slice() {
        [DeliveryEvent::Failed { attempts: 3, error, .. }] => {
            assert_eq!(error, &want);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn timeouts_are_retried() {
    let fake = FakeWebhook::start(vec![Answer::Hang]);
    let config = config(&fake.url(), &Events::default())
        .timeout(Duration::from_millis(300));
    let alerter = Alerter::new(config);

    let outcome = alerter.alert(Alert::new(Severity::Error, "E", "")).await;

    assert_eq!(outcome, Outcome::Sent);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn repeats_are_folded_and_counted_in_the_next_message() {
    let fake = FakeWebhook::start(vec![]);
    let clock = Arc::new(ManualClock::new());
    let events = Events::default();
    let config = config(&fake.url(), &events)
        .cooldown(Duration::from_secs(300))
        .clock(clock.clone());
    let alerter = Alerter::new(config);
    let boom = || Alert::new(Severity::Error, "Boom", "It broke");

    assert_eq!(alerter.alert(boom()).await, Outcome::Sent);
    for _ in 0..3 {
        assert_eq!(alerter.alert(boom()).await, Outcome::Folded);
    }
    assert_eq!(alerter.notify(boom()), Enqueue::Folded);

    // Another title, or another explicit key, is not a repeat.
    let other = Alert::new(Severity::Error, "Other", "");
    assert_eq!(alerter.alert(other).await, Outcome::Sent);
    let keyed = boom().fold_key("boom-user-2");
    assert_eq!(alerter.alert(keyed).await, Outcome::Sent);

    clock.advance(Duration::from_secs(299));
    assert_eq!(alerter.alert(boom()).await, Outcome::Folded);
    clock.advance(Duration::from_secs(1));
    assert_eq!(alerter.alert(boom()).await, Outcome::Sent);
    assert_eq!(alerter.alert(boom()).await, Outcome::Folded);

    let texts: Vec<String> =
        fake.requests().iter().map(|r| text_of(&r.body)).collect();
    assert_eq!(
        texts,
        [
            "🔴 Boom\nIt broke",
            "🔴 Other",
            "🔴 Boom\nIt broke",
            "🔴 Boom\nIt broke\n(5 similar alerts folded in the 300 s after \
             the previous one)",
        ]
    );
    let stats = alerter.shutdown(Duration::from_secs(2));
    assert_eq!((stats.sent, stats.folded), (4, 6));

    let events = events.lock().unwrap();
    let folded = events
        .iter()
        .filter(|e| matches!(e, DeliveryEvent::Folded { .. }))
        .count();
    assert_eq!(folded, 6);
    assert!(events
        .iter()
        .any(|e| matches!(e, DeliveryEvent::Sent { folded: 5, .. })));
}

#[tokio::test]
async fn zero_cooldown_sends_every_repeat() {
    let fake = FakeWebhook::start(vec![]);
    let config =
        config(&fake.url(), &Events::default()).cooldown(Duration::ZERO);
    let alerter = Alerter::new(config);

    for _ in 0..3 {
        let alert = Alert::new(Severity::Info, "Same", "");
        assert_eq!(alerter.alert(alert).await, Outcome::Sent);
    }
    assert_eq!(fake.requests().len(), 3);
}
