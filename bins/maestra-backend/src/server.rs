//! The HTTP/1.1 listener: accepting, serving, and stopping in order.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use slog::{error, warn};
use tokio::net::TcpListener;

use crate::app::{self, App};

/// How long requests in flight may take to finish once a stop is asked.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves connections from `listener` until `stop` resolves, then lets
/// requests in flight finish for up to [`DRAIN_TIMEOUT`].
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder.header_read_timeout(app.config.header_timeout).keep_alive(true);
    tokio::pin!(stop);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little
                    // rather than spin, and keep serving.
                    warn!(app.log, "Failed to accept a connection: {e}";
                        "event_type" => "accept_failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);

        let conn = Arc::new(app::Conn::new(Arc::clone(&app), peer));
        let service =
            service_fn(move |req| app::handle(Arc::clone(&conn), req));
        // Each connection gets its own timer, which keeps the one header
        // timeout of the connection from request to request.
        let conn = builder
            .clone()
            .timer(ConnTimer::default())
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Client resets and header timeouts end here; they are the
            // client's business, not the server's.
            let _ = conn.await;
        });
    }

    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        error!(app.log, "Requests still in flight after the drain timeout";
            "event_type" => "shutdown_timeout",
            "timeout_s" => DRAIN_TIMEOUT.as_secs());
    }
}

/// The timer of one connection, for hyper's header read timeout.
///
/// Hyper asks for a new sleep each time it starts reading a request head
/// and drops it once the head is in. With tokio's timer as it is, every
/// request thus put an entry in the runtime's timer wheel and took it out
/// again, each under the driver's lock. Here the connection keeps one
/// tokio timer for its life. A new head timeout leaves it where it is,
/// since it can only be due earlier; when it fires before the timeout's
/// deadline, it is moved to that deadline. The wheel thus sees one
/// change per timeout period rather than two per request, and a client
/// that sends no head is still cut off at the same deadline.
#[derive(Default)]
struct ConnTimer {
    /// The connection's tokio timer while no sleep holds it.
    idle: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let mut sleep = ConnSleep {
            deadline: deadline.into(),
            timer: lock(&self.idle).take(),
            idle: Arc::clone(&self.idle),
        };
        sleep.keep_within_deadline();
        Box::pin(sleep)
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<ConnSleep>() {
            Some(sleep) => {
                let sleep = sleep.get_mut();
                sleep.deadline = new_deadline.into();
                sleep.keep_within_deadline();
            }
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// One sleep of a [`ConnTimer`]: due at `deadline`, borrowing the
/// connection's tokio timer, which may be set earlier.
struct ConnSleep {
    deadline: tokio::time::Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    idle: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl ConnSleep {
    /// A timer set later than the deadline would fire late: move it.
    fn keep_within_deadline(&mut self) {
        if let Some(timer) = &mut self.timer {
            if timer.deadline() > self.deadline {
                timer.as_mut().reset(self.deadline);
            }
        }
    }
}

impl Future for ConnSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let deadline = this.deadline;
        let timer = this.timer.get_or_insert_with(|| {
            Box::pin(tokio::time::sleep_until(deadline))
        });
        while timer.as_mut().poll(cx).is_ready() {
            if timer.deadline() >= deadline {
                return Poll::Ready(());
            }
            // Set for an earlier head: now is the time to move it.
            timer.as_mut().reset(deadline);
        }
        Poll::Pending
    }
}

impl Sleep for ConnSleep {}

impl Drop for ConnSleep {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            *lock(&self.idle) = Some(timer);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The slot holds a timer or nothing; a panic elsewhere while it was
    // locked cannot leave it half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Awaits `sleep` and returns when it completed, relative to `t0`.
    async fn fired(sleep: Pin<Box<dyn Sleep>>, t0: Instant) -> Duration {
        sleep.await;
        t0.elapsed()
    }

    #[tokio::test]
    async fn a_sleep_ends_at_its_deadline() {
        let timer = ConnTimer::default();
        let t0 = Instant::now();
        let at = fired(timer.sleep_until(t0 + 50 * MS), t0).await;
        assert!(at >= 50 * MS, "{at:?}");
    }

    #[tokio::test]
    async fn a_timer_left_by_an_earlier_head_is_moved_not_obeyed() {
        let timer = ConnTimer::default();
        let t0 = Instant::now();
        // A head that came in time: its sleep was polled (so the timer is
        // set for 50 ms) and dropped.
        let mut first = timer.sleep_until(t0 + 50 * MS);
        let waker = std::task::Waker::noop();
        let pending = first.as_mut().poll(&mut Context::from_waker(waker));
        assert!(pending.is_pending());
        drop(first);
        assert!(lock(&timer.idle).is_some(), "the timer is kept");

        // The next head has until 200 ms: the timer firing at 50 ms must
        // not end it.
        let at = fired(timer.sleep_until(t0 + 200 * MS), t0).await;
        assert!(at >= 200 * MS, "{at:?}");
    }

    #[tokio::test]
    async fn a_timer_set_later_than_a_deadline_is_brought_forward() {
        let timer = ConnTimer::default();
        let t0 = Instant::now();
        let mut first = timer.sleep_until(t0 + 10_000 * MS);
        let waker = std::task::Waker::noop();
        let pending = first.as_mut().poll(&mut Context::from_waker(waker));
        assert!(pending.is_pending());
        drop(first);

        let at = fired(timer.sleep_until(t0 + 50 * MS), t0).await;
        assert!(at >= 50 * MS && at < 5_000 * MS, "{at:?}");

        // And through hyper's reset as well.
        let t1 = Instant::now();
        let mut sleep = timer.sleep_until(t1 + 10_000 * MS);
        timer.reset(&mut sleep, t1 + 50 * MS);
        let at = fired(sleep, t1).await;
        assert!(at >= 50 * MS && at < 5_000 * MS, "{at:?}");
    }
}
