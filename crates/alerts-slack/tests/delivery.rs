//! Delivery to a fake webhook on loopback: payload, events, queueing,
//! shutdown and disabled mode.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerts_slack::{
    Alert, Alerter, AlerterConfig, DeliveryEvent, DropReason, Enqueue, Outcome,
    Severity, WebhookUrl,
};
use support::{Answer, FakeWebhook, PATH, SECRETS};

/// A config for `fake` with short pauses, recording events into `events`.
fn fast_config(
    fake: &FakeWebhook,
    events: &Arc<Mutex<Vec<DeliveryEvent>>>,
) -> AlerterConfig {
    let events = Arc::clone(events);
    AlerterConfig::new(WebhookUrl::parse(&fake.url()).unwrap())
        .min_interval(Duration::from_millis(10))
        .backoff(Duration::from_millis(20))
        .on_event(move |event| events.lock().unwrap().push(event.clone()))
}

fn error_alert() -> Alert {
    Alert::new(
        Severity::Error,
        "Maestra Backend Error",
        "Request failed with status 502",
    )
    .field("surface_id", "windsurf")
    .field("user_id", "justinharmon")
    .field("error", "upstream_error")
}

#[tokio::test]
async fn posts_the_exact_text_and_payload() {
    let fake = FakeWebhook::start(vec![]);
    let events = Arc::default();
    let alerter = Alerter::new(fast_config(&fake, &events));

    let outcome = alerter.alert(error_alert()).await;

    assert_eq!(outcome, Outcome::Sent);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, PATH);
    let payload: serde_json::Value =
        serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({
            "text": "🔴 Maestra Backend Error\n\
                     Request failed with status 502\n\
                     surface_id: windsurf\n\
                     user_id: justinharmon\n\
                     error: upstream_error",
            "attachments": [{
                "color": Severity::Error.color(),
                "fallback": "🔴 Maestra Backend Error",
            }],
        })
    );

    let stats = alerter.shutdown(Duration::from_secs(2));
    assert_eq!((stats.sent, stats.failed, stats.dropped), (1, 0, 0));
    let events = events.lock().unwrap();
    assert!(
        matches!(
            events.as_slice(),
            [DeliveryEvent::Sent { attempts: 1, folded: 0, .. }]
        ),
        "{events:?}"
    );
}

#[test]
fn blocking_alert_works_from_a_plain_thread() {
    let fake = FakeWebhook::start(vec![]);
    let alerter = Alerter::new(fast_config(&fake, &Arc::default()));

    let outcome = std::thread::spawn({
        let alerter = alerter.clone();
        move || alerter.alert_blocking(error_alert())
    })
    .join()
    .unwrap();

    assert_eq!(outcome, Outcome::Sent);
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn the_future_needs_no_tokio_runtime() {
    let fake = FakeWebhook::start(vec![]);
    let alerter = Alerter::new(fast_config(&fake, &Arc::default()));

    let outcome = block_on_thread(alerter.alert(error_alert()));

    assert_eq!(outcome, Outcome::Sent);
}

/// Drives a future by parking this thread, with no runtime at all.
fn block_on_thread<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

#[test]
fn notify_returns_while_the_webhook_hangs() {
    let fake = FakeWebhook::start(vec![Answer::Hang]);
    let alerter = Alerter::new(fast_config(&fake, &Arc::default()));

    assert_eq!(alerter.notify(error_alert()), Enqueue::Queued);
    fake.wait_for(1);

    // The webhook still holds the first request; these return anyway.
    let second = Alert::new(Severity::Warning, "Second", "");
    assert_eq!(alerter.notify(second), Enqueue::Queued);
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(alerter.stats().queued, 1);

    fake.release();
    fake.wait_for(2);
    let stats = alerter.shutdown(Duration::from_secs(5));
    assert_eq!((stats.sent, stats.dropped), (2, 0));
}

#[test]
fn shutdown_drains_the_queue() {
    let fake = FakeWebhook::start(vec![]);
    let alerter = Alerter::new(fast_config(&fake, &Arc::default()));

    for i in 0..3 {
        let alert = Alert::new(Severity::Info, format!("Alert {i}"), "");
        assert_eq!(alerter.notify(alert), Enqueue::Queued);
    }
    let stats = alerter.shutdown(Duration::from_secs(5));

    assert_eq!((stats.sent, stats.dropped, stats.queued), (3, 0, 0));
    let titles: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            v["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(titles, ["🔵 Alert 0", "🔵 Alert 1", "🔵 Alert 2"]);

    // After shutdown nothing is taken, and that is counted.
    assert_eq!(alerter.notify(error_alert()), Enqueue::Dropped);
    assert_eq!(alerter.stats().dropped, 1);
}

#[tokio::test]
async fn overflow_drops_and_counts() {
    let fake = FakeWebhook::start(vec![Answer::Hang]);
    let events = Arc::default();
    let config = fast_config(&fake, &events)
        .queue_capacity(2)
        .timeout(Duration::from_secs(3));
    let alerter = Alerter::new(config);

    // The first is taken by the thread and held by the webhook.
    let first = alerter.alert(Alert::new(Severity::Error, "In flight", ""));
    fake.wait_for(1);

    let mut answers = Vec::new();
    for i in 0..5 {
        let alert = Alert::new(Severity::Error, format!("Queued {i}"), "");
        answers.push(alerter.notify(alert));
    }
    assert_eq!(
        answers,
        [
            Enqueue::Queued,
            Enqueue::Queued,
            Enqueue::Dropped,
            Enqueue::Dropped,
            Enqueue::Dropped
        ]
    );
    let stats = alerter.stats();
    assert_eq!((stats.dropped, stats.queued), (3, 2));

    // Shutting down while the webhook hangs drops the two queued ones.
    let stats = alerter.shutdown(Duration::from_millis(300));
    assert_eq!(stats.dropped, 5, "{stats:?}");
    assert_eq!(stats.queued, 0);

    fake.release();
    let outcome = first.await;
    assert!(
        matches!(outcome, Outcome::Sent | Outcome::Failed(_)),
        "{outcome:?}"
    );

    // The thread hands the drops' events to the callback once the
    // request it was stuck in returns, just after `first` resolves:
    // wait for all six (the first's outcome and five drops).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while events.lock().unwrap().len() < 6
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let events = events.lock().unwrap();
    let dropped = |want: DropReason| {
        events
            .iter()
            .filter(|e| match e {
                DeliveryEvent::Dropped { reason, .. } => *reason == want,
                _ => false,
            })
            .count()
    };
    assert_eq!(dropped(DropReason::QueueFull), 3, "{events:?}");
    assert_eq!(dropped(DropReason::Shutdown), 2, "{events:?}");
}

#[tokio::test]
async fn disabled_mode_succeeds_without_sending() {
    let alerter = Alerter::new(AlerterConfig::disabled());

    assert!(!alerter.is_enabled());
    assert_eq!(alerter.notify(error_alert()), Enqueue::Disabled);
    assert_eq!(alerter.alert(error_alert()).await, Outcome::Disabled);
    assert_eq!(alerter.alert_blocking(error_alert()), Outcome::Disabled);
    assert!(alerter.alert(error_alert()).await.is_ok());
    assert_eq!(alerter.stats(), alerts_slack::Stats::default());
    assert_eq!(alerter.shutdown(Duration::ZERO).sent, 0);
}

#[tokio::test]
async fn no_output_contains_the_secret() {
    let fake = FakeWebhook::start(vec![Answer::status(400, "invalid_payload")]);
    let events = Arc::default();
    let config = fast_config(&fake, &events);
    let config_debug = format!("{config:?}");
    let alerter = Alerter::new(config);

    let outcome = alerter.alert(error_alert()).await;
    let stats = alerter.shutdown(Duration::from_secs(2));

    let url = WebhookUrl::parse(&fake.url()).unwrap();
    let mut shown = vec![
        config_debug,
        format!("{alerter:?}"),
        format!("{outcome:?}"),
        format!("{stats:?}"),
        format!("{url}"),
        format!("{url:?}"),
    ];
    if let Outcome::Failed(error) = &outcome {
        shown.push(error.to_string());
        shown.push(format!("{error:?}"));
    } else {
        panic!("{outcome:?}");
    }
    for event in events.lock().unwrap().iter() {
        shown.push(event.to_string());
        shown.push(format!("{event:?}"));
    }
    for text in &shown {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

#[tokio::test]
async fn a_panicking_callback_does_not_stop_delivery() {
    let fake = FakeWebhook::start(vec![]);
    let config = fast_config(&fake, &Arc::default())
        .on_event(|_| panic!("callback failure on purpose"));
    let alerter = Alerter::new(config);

    for i in 0..2 {
        let alert = Alert::new(Severity::Info, format!("Alert {i}"), "");
        assert_eq!(alerter.alert(alert).await, Outcome::Sent);
    }
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn huge_settings_do_not_panic() {
    let fake = FakeWebhook::start(vec![]);
    let config = fast_config(&fake, &Arc::default())
        .cooldown(Duration::MAX)
        .max_backoff(Duration::MAX)
        .max_retry_after(Duration::MAX)
        .drain_on_drop(Duration::MAX);
    let alerter = Alerter::new(config);

    assert_eq!(alerter.alert(error_alert()).await, Outcome::Sent);
    assert_eq!(alerter.alert(error_alert()).await, Outcome::Folded);
    assert_eq!(alerter.shutdown(Duration::MAX).sent, 1);
}

#[test]
fn event_lines_name_slack_for_the_log() {
    let events = [
        DeliveryEvent::Sent {
            title: "T".to_owned(),
            severity: Severity::Info,
            attempts: 1,
            folded: 0,
        },
        DeliveryEvent::Failed {
            title: "T".to_owned(),
            severity: Severity::Error,
            attempts: 4,
            error: alerts_slack::DeliveryError::Rejected {
                status: 400,
                body: "invalid_payload".to_owned(),
            },
        },
    ];
    for event in events {
        let line = event.to_string();
        assert!(line.contains("Slack") && line.contains('T'), "{line}");
    }
}
