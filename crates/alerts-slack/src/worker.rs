//! The queue shared with callers, and the thread that delivers from it.
//!
//! Callers take the lock only to fold, count and push; the thread takes it
//! to pop, and waits on a condition variable so that a shutdown or a new
//! event wakes it from any pause (pacing, backoff, `Retry-After`).

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::alert::Alert;
use crate::config::{AlerterConfig, EventCallback};
use crate::event::{
    DeliveryError, DeliveryEvent, DropReason, Enqueue, Outcome, Stats,
};
use crate::transport::{Attempt, Transport};

/// Fold windows kept before expired ones are pruned.
const FOLD_TABLE_SOFT_CAP: usize = 1024;

/// Least room for folded and dropped events waiting for the thread.
const MIN_NOTICE_ROOM: usize = 64;

/// `base + by`, or a century later when that overflows: configured waits
/// may be `Duration::MAX`, and an overflowing `Instant` would panic.
pub(crate) fn later(base: Instant, by: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    base.checked_add(by).or_else(|| base.checked_add(CENTURY)).unwrap_or(base)
}

/// Where the outcome of one alert goes.
pub(crate) enum Reply {
    /// Nobody waits ([`notify`](crate::Alerter::notify)).
    None,
    /// An `.await`ing caller.
    Async(tokio::sync::oneshot::Sender<Outcome>),
    /// A blocked thread.
    Blocking(mpsc::SyncSender<Outcome>),
}

impl Reply {
    fn send(self, outcome: Outcome) {
        // A caller that stopped waiting is no error.
        match self {
            Reply::None => {}
            Reply::Async(tx) => {
                let _ = tx.send(outcome);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(outcome);
            }
        }
    }
}

/// One queued alert, with the repeats folded before it.
struct Job {
    alert: Alert,
    folded: u64,
    reply: Reply,
}

/// The cooldown window of one fold key.
struct FoldWindow {
    opened: Instant,
    folded: u64,
}

/// Everything behind the lock.
struct State {
    queue: VecDeque<Job>,
    folds: HashMap<String, FoldWindow>,
    notices: Vec<DeliveryEvent>,
    closed: bool,
    deadline: Option<Instant>,
    finished: bool,
}

/// The counters, readable without the lock.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    folded: AtomicU64,
    dropped: AtomicU64,
    events_lost: AtomicU64,
}

/// What callers and the delivery thread share.
pub(crate) struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    done: Condvar,
    counters: Counters,
    config: AlerterConfig,
}

impl Shared {
    pub(crate) fn new(config: AlerterConfig) -> Self {
        Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                folds: HashMap::new(),
                notices: Vec::new(),
                closed: false,
                deadline: None,
                finished: false,
            }),
            wake: Condvar::new(),
            done: Condvar::new(),
            counters: Counters::default(),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code holding the lock can panic half-way through an update
        // that matters, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Folds, queues or drops `alert`; never waits for delivery.
    pub(crate) fn submit(&self, alert: Alert, reply: Reply) -> Enqueue {
        let mut st = self.lock();

        if st.closed {
            self.drop_alert(&mut st, &alert, DropReason::Shutdown);
            drop(st);
            reply.send(Outcome::Dropped(DropReason::Shutdown));
            return Enqueue::Dropped;
        }

        let key = alert.effective_fold_key();
        let now = self.config.clock.now();
        let cooldown = self.config.cooldown;
        if let Some(window) = st.folds.get_mut(&key) {
            if !cooldown.is_zero()
                && now.saturating_duration_since(window.opened) < cooldown
            {
                window.folded += 1;
                self.counters.folded.fetch_add(1, Ordering::Relaxed);
                let event = DeliveryEvent::Folded {
                    title: alert.title().to_owned(),
                    severity: alert.severity(),
                    fold_key: key,
                };
                self.push_notice(&mut st, event);
                drop(st);
                reply.send(Outcome::Folded);
                return Enqueue::Folded;
            }
        }

        // A full queue drops before opening a window, so the next repeat
        // is not folded behind an alert that was never sent.
        if st.queue.len() >= self.config.queue_capacity {
            self.drop_alert(&mut st, &alert, DropReason::QueueFull);
            drop(st);
            reply.send(Outcome::Dropped(DropReason::QueueFull));
            return Enqueue::Dropped;
        }

        let folded = if cooldown.is_zero() {
            0
        } else {
            if st.folds.len() >= FOLD_TABLE_SOFT_CAP {
                st.folds.retain(|_, w| {
                    now.saturating_duration_since(w.opened) < cooldown
                });
            }
            let window = FoldWindow { opened: now, folded: 0 };
            st.folds.insert(key, window).map_or(0, |old| old.folded)
        };

        st.queue.push_back(Job { alert, folded, reply });
        drop(st);
        self.wake.notify_all();
        Enqueue::Queued
    }

    /// Counts a dropped alert and tells the callback.
    fn drop_alert(&self, st: &mut State, alert: &Alert, reason: DropReason) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        let event = DeliveryEvent::Dropped {
            title: alert.title().to_owned(),
            severity: alert.severity(),
            reason,
        };
        self.push_notice(st, event);
    }

    /// Leaves an event for the thread to hand to the callback.
    fn push_notice(&self, st: &mut State, event: DeliveryEvent) {
        if self.config.on_event.is_none() {
            return;
        }
        let room = self.config.queue_capacity.max(MIN_NOTICE_ROOM);
        if st.notices.len() >= room {
            self.counters.events_lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        st.notices.push(event);
        self.wake.notify_all();
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> Stats {
        let queued = self.lock().queue.len() as u64;
        let c = &self.counters;
        Stats {
            sent: c.sent.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            folded: c.folded.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            queued,
            events_lost: c.events_lost.load(Ordering::Relaxed),
        }
    }

    /// Stops taking alerts, lets the thread drain until `deadline`, and
    /// waits for it. Returns whether the thread finished in time.
    pub(crate) fn shutdown(&self, deadline: Instant) -> bool {
        let mut st = self.lock();
        st.closed = true;
        st.deadline = Some(st.deadline.map_or(deadline, |d| d.min(deadline)));
        self.wake.notify_all();

        // A request started before the shutdown may outlive the deadline
        // by its own timeout; a little slack lets a prompt answer land.
        let give_up = later(deadline, Duration::from_millis(250));
        while !st.finished {
            let now = Instant::now();
            if now >= give_up {
                break;
            }
            st = self
                .done
                .wait_timeout(st, give_up - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if st.finished {
            return true;
        }

        // The thread is stuck in a request: what waits behind it is
        // dropped now, and its events go out when the thread comes back.
        let left: Vec<Job> = st.queue.drain(..).collect();
        let mut replies = Vec::with_capacity(left.len());
        for job in left {
            self.drop_alert(&mut st, &job.alert, DropReason::Shutdown);
            replies.push(job.reply);
        }
        drop(st);
        for reply in replies {
            reply.send(Outcome::Dropped(DropReason::Shutdown));
        }
        false
    }
}

/// The delivery thread's loop: pop, pace, post, retry, report.
pub(crate) struct Worker<'a> {
    shared: &'a Shared,
    transport: Transport,
    last_request: Option<Instant>,
}

impl<'a> Worker<'a> {
    pub(crate) fn new(shared: &'a Shared, transport: Transport) -> Self {
        Worker { shared, transport, last_request: None }
    }

    /// Runs until shut down and drained (or out of time).
    pub(crate) fn run(mut self) {
        while let Some(job) = self.next_job() {
            self.deliver(job);
        }

        let mut st = self.shared.lock();
        let notices = std::mem::take(&mut st.notices);
        drop(st);
        self.emit_all(notices);

        let mut st = self.shared.lock();
        st.finished = true;
        drop(st);
        self.shared.done.notify_all();
    }

    /// The next alert to deliver, or `None` when it is time to stop. Hands
    /// waiting events to the callback meanwhile.
    fn next_job(&mut self) -> Option<Job> {
        let mut st = self.shared.lock();
        loop {
            if !st.notices.is_empty() {
                let notices = std::mem::take(&mut st.notices);
                drop(st);
                self.emit_all(notices);
                st = self.shared.lock();
                continue;
            }

            let past_deadline =
                st.deadline.is_some_and(|d| Instant::now() >= d);
            if past_deadline {
                let left: Vec<Job> = st.queue.drain(..).collect();
                if left.is_empty() {
                    return None;
                }
                for job in left {
                    self.give_up(&mut st, job, DropReason::Shutdown);
                }
                continue;
            }

            if let Some(job) = st.queue.pop_front() {
                return Some(job);
            }
            if st.closed {
                return None;
            }

            st = match st.deadline {
                Some(d) => {
                    let wait = d.saturating_duration_since(Instant::now());
                    self.shared
                        .wake
                        .wait_timeout(st, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => {
                    self.shared.wake.wait(st).unwrap_or_else(|e| e.into_inner())
                }
            };
        }
    }

    /// Drops `job` at shutdown: counted, reported, resolved.
    fn give_up(&self, st: &mut State, job: Job, reason: DropReason) {
        self.shared.drop_alert(st, &job.alert, reason);
        job.reply.send(Outcome::Dropped(reason));
    }

    /// Sends one alert with pacing and retries, then reports how it went.
    fn deliver(&mut self, job: Job) {
        let config = &self.shared.config;
        let text =
            job.alert.text_with_folded(job.folded, config.cooldown.as_secs());
        let body = job.alert.payload(&text);
        let mut attempts = 0u32;
        let mut pause = Duration::ZERO;

        loop {
            // Pacing counts every request, retries included.
            let mut start = later(Instant::now(), pause);
            if let Some(last) = self.last_request {
                start = start.max(later(last, config.min_interval));
            }
            let Some(timeout) = self.wait_until(start) else {
                let mut st = self.shared.lock();
                self.give_up(&mut st, job, DropReason::Shutdown);
                return;
            };

            attempts += 1;
            let result = self.transport.post(&body, timeout);
            self.last_request = Some(Instant::now());

            let error = match result {
                Attempt::Delivered => {
                    self.shared.counters.sent.fetch_add(1, Ordering::Relaxed);
                    self.emit(&DeliveryEvent::Sent {
                        title: job.alert.title().to_owned(),
                        severity: job.alert.severity(),
                        attempts,
                        folded: job.folded,
                    });
                    job.reply.send(Outcome::Sent);
                    return;
                }
                Attempt::RateLimited(after) => {
                    let after = after.unwrap_or_else(|| self.backoff(attempts));
                    pause = after.min(config.max_retry_after);
                    DeliveryError::RateLimited
                }
                Attempt::Retry(error) => {
                    pause = self.backoff(attempts);
                    error
                }
                Attempt::Fatal(error) => {
                    self.fail(job, attempts, error);
                    return;
                }
            };

            if attempts >= config.max_attempts {
                self.fail(job, attempts, error);
                return;
            }
        }
    }

    /// The pause after failed attempt number `attempts`: the base doubled
    /// each time, capped.
    fn backoff(&self, attempts: u32) -> Duration {
        let config = &self.shared.config;
        let factor = 1u32 << attempts.saturating_sub(1).min(20);
        config.backoff.saturating_mul(factor).min(config.max_backoff)
    }

    /// Counts, reports and resolves a message given up on.
    fn fail(&self, job: Job, attempts: u32, error: DeliveryError) {
        self.shared.counters.failed.fetch_add(1, Ordering::Relaxed);
        self.emit(&DeliveryEvent::Failed {
            title: job.alert.title().to_owned(),
            severity: job.alert.severity(),
            attempts,
            error: error.clone(),
        });
        job.reply.send(Outcome::Failed(error));
    }

    /// Waits until `start`, handing events to the callback meanwhile.
    /// Returns the timeout for the request about to start (shortened near a
    /// shutdown deadline; `None` is the agent's own), or no value when the
    /// deadline comes first.
    fn wait_until(&self, start: Instant) -> Option<Option<Duration>> {
        let mut st = self.shared.lock();
        loop {
            if !st.notices.is_empty() {
                let notices = std::mem::take(&mut st.notices);
                drop(st);
                self.emit_all(notices);
                st = self.shared.lock();
                continue;
            }

            let now = Instant::now();
            if let Some(deadline) = st.deadline {
                if deadline <= start.max(now) {
                    return None;
                }
            }
            if now >= start {
                let timeout = st
                    .deadline
                    .map(|d| (d - now).min(self.shared.config.timeout));
                return Some(timeout);
            }

            st = self
                .shared
                .wake
                .wait_timeout(st, start - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn emit_all(&self, events: Vec<DeliveryEvent>) {
        for event in &events {
            self.emit(event);
        }
    }

    /// Hands one event to the callback; a panic in it does not stop the
    /// thread.
    fn emit(&self, event: &DeliveryEvent) {
        let callback: Option<&EventCallback> =
            self.shared.config.on_event.as_ref();
        if let Some(callback) = callback {
            let _ = catch_unwind(AssertUnwindSafe(|| callback(event)));
        }
    }
}
