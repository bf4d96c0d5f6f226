//! [`Alerter`]: the handle callers use, and the future and guard it gives.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::alert::Alert;
use crate::config::{AlerterConfig, ConfigError};
use crate::event::{DropReason, Enqueue, Outcome, Stats};
use crate::transport::Transport;
use crate::webhook::WebhookUrl;
use crate::worker::{later, Reply, Shared, Worker};

/// Sends alerts to one Slack webhook from its own thread.
///
/// Cheap to clone; clones share the thread and the queue. With no webhook
/// configured there is no thread and every call answers
/// [`Outcome::Disabled`] / [`Enqueue::Disabled`].
///
/// When the last clone is dropped the queue is drained for at most
/// [`drain_on_drop`](AlerterConfig::drain_on_drop) (2 s by default), which
/// blocks the dropping thread that long at worst; call
/// [`shutdown`](Alerter::shutdown) to choose the wait. A process-wide
/// alerter in a `static` is never dropped: shut it down explicitly, or
/// hold a [`DrainGuard`] in `main`.
#[derive(Clone)]
pub struct Alerter {
    inner: Arc<Inner>,
}

struct Inner {
    webhook: Option<WebhookUrl>,
    shared: Option<Arc<Shared>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    drain_on_drop: Duration,
}

impl Alerter {
    /// Starts an alerter (and its thread, when a webhook is set).
    ///
    /// # Panics
    ///
    /// When the operating system refuses to start a thread; see
    /// [`Alerter::try_new`] for the fallible form.
    pub fn new(config: AlerterConfig) -> Self {
        match Self::try_new(config) {
            Ok(alerter) => alerter,
            Err(err) => {
                panic!("failed to start the Slack alerter thread: {err}")
            }
        }
    }

    /// Starts an alerter, reporting a thread that could not start.
    ///
    /// # Errors
    ///
    /// The error of [`std::thread::Builder::spawn`].
    pub fn try_new(config: AlerterConfig) -> io::Result<Self> {
        let drain_on_drop = config.drain_on_drop;
        let Some(webhook) = config.webhook.clone() else {
            return Ok(Alerter::from_inner(None, None, None, drain_on_drop));
        };

        let transport = Transport::new(webhook.clone(), &config);
        let shared = Arc::new(Shared::new(config));
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("alerts-slack".to_owned())
            .spawn(move || Worker::new(&for_thread, transport).run())?;

        Ok(Alerter::from_inner(
            Some(webhook),
            Some(shared),
            Some(thread),
            drain_on_drop,
        ))
    }

    fn from_inner(
        webhook: Option<WebhookUrl>,
        shared: Option<Arc<Shared>>,
        thread: Option<JoinHandle<()>>,
        drain_on_drop: Duration,
    ) -> Self {
        let inner = Inner {
            webhook,
            shared,
            thread: Mutex::new(thread),
            drain_on_drop,
        };
        Alerter { inner: Arc::new(inner) }
    }

    /// An alerter that sends nothing; every call answers `Disabled`.
    pub fn disabled() -> Self {
        Alerter::new(AlerterConfig::disabled())
    }

    /// An alerter configured by [`AlerterConfig::from_env`].
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `MAESTRA_SLACK_WEBHOOK_URL` or
    /// `MAESTRA_ALERT_COOLDOWN_S` is set to something unusable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Alerter::new(AlerterConfig::from_env()?))
    }

    /// Whether a webhook is configured.
    pub fn is_enabled(&self) -> bool {
        self.inner.shared.is_some()
    }

    /// The webhook, if any (it shows itself redacted).
    pub fn webhook(&self) -> Option<&WebhookUrl> {
        self.inner.webhook.as_ref()
    }

    /// Queues `alert` and returns at once, saying what became of it.
    pub fn notify(&self, alert: Alert) -> Enqueue {
        match &self.inner.shared {
            Some(shared) => shared.submit(alert, Reply::None),
            None => Enqueue::Disabled,
        }
    }

    /// Queues `alert` and returns a future resolving once it was sent,
    /// folded, dropped or finally failed.
    ///
    /// The alert is queued by this call, not by the first poll: dropping
    /// the future does not cancel it. The future needs no particular
    /// runtime; the alerter's thread wakes it.
    pub fn alert(&self, alert: Alert) -> Delivery {
        let Some(shared) = &self.inner.shared else {
            return Delivery::ready(Outcome::Disabled);
        };

        let (tx, rx) = tokio::sync::oneshot::channel();
        shared.submit(alert, Reply::Async(tx));
        Delivery { state: DeliveryState::Waiting(rx) }
    }

    /// Like [`alert`](Alerter::alert), blocking the calling thread until
    /// the outcome is known (up to the retries' total wait). For plain
    /// threads; in async code `.await` [`alert`](Alerter::alert) instead.
    pub fn alert_blocking(&self, alert: Alert) -> Outcome {
        let Some(shared) = &self.inner.shared else {
            return Outcome::Disabled;
        };

        let (tx, rx) = mpsc::sync_channel(1);
        shared.submit(alert, Reply::Blocking(tx));
        rx.recv().unwrap_or(Outcome::Dropped(DropReason::Shutdown))
    }

    /// The counters since start.
    pub fn stats(&self) -> Stats {
        match &self.inner.shared {
            Some(shared) => shared.stats(),
            None => Stats::default(),
        }
    }

    /// Stops taking alerts, delivers what is queued for at most `wait`, and
    /// stops the thread. What is still queued then is dropped and counted.
    /// Later calls to `notify` and `alert` answer `Dropped`.
    ///
    /// Returns the final counters. A request already in flight when the
    /// wait ends may finish (or time out) a moment later on its own.
    pub fn shutdown(&self, wait: Duration) -> Stats {
        let Some(shared) = &self.inner.shared else {
            return Stats::default();
        };

        if shared.shutdown(later(Instant::now(), wait)) {
            let thread = self
                .inner
                .thread
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
        shared.stats()
    }

    /// A guard that shuts this alerter down, waiting at most `wait`, when
    /// it goes out of scope.
    pub fn drain_guard(&self, wait: Duration) -> DrainGuard {
        DrainGuard { alerter: self.clone(), wait }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.shutdown(later(Instant::now(), self.drain_on_drop));
        }
    }
}

impl fmt::Debug for Alerter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alerter")
            .field("webhook", &self.inner.webhook)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Shuts an [`Alerter`] down when dropped, draining its queue for a
/// bounded wait. Made by [`Alerter::drain_guard`].
#[must_use = "the alerter is drained when the guard is dropped"]
#[derive(Debug)]
pub struct DrainGuard {
    alerter: Alerter,
    wait: Duration,
}

impl Drop for DrainGuard {
    fn drop(&mut self) {
        self.alerter.shutdown(self.wait);
    }
}

/// The future of [`Alerter::alert`], resolving to the [`Outcome`].
#[must_use = "the alert is already queued; await this to learn the outcome"]
#[derive(Debug)]
pub struct Delivery {
    state: DeliveryState,
}

#[derive(Debug)]
enum DeliveryState {
    Ready(Option<Outcome>),
    Waiting(tokio::sync::oneshot::Receiver<Outcome>),
}

impl Delivery {
    fn ready(outcome: Outcome) -> Self {
        Delivery { state: DeliveryState::Ready(Some(outcome)) }
    }
}

impl Future for Delivery {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        match &mut self.state {
            DeliveryState::Ready(outcome) => Poll::Ready(
                outcome
                    .take()
                    .unwrap_or(Outcome::Dropped(DropReason::Shutdown)),
            ),
            DeliveryState::Waiting(rx) => Pin::new(rx).poll(cx).map(|got| {
                // The sender vanishes only if the thread died unwinding.
                got.unwrap_or(Outcome::Dropped(DropReason::Shutdown))
            }),
        }
    }
}
