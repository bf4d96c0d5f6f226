//! The HTTP/1.1 listener: accepting, serving, and stopping in order.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
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
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(app.config.header_timeout)
        .keep_alive(true);
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
        let conn = builder.serve_connection(TokioIo::new(stream), service);
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
