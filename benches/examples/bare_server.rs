//! The baseline of `benches/server.sh`: a bare hyper server answering
//! `GET /health` with the body of `maestra-backend` and
//! `POST /api/maestra/chat` with the same handler (`chat::parse`, the
//! local responder, the same reply writer and `X-Request-Id`), but with no
//! records, logs, metrics, rate limit or auth.
//!
//! `cargo run --release -p maestra-benches --example bare_server
//! [ADDR]` (default `127.0.0.1:8826`); prints `listening on ADDR`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use maestra_backend::chat::{self, ChatReply};
use maestra_backend::ids;
use time::OffsetDateTime;
use tokio::net::TcpListener;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const PRICE_PER_1K_TOKENS_USD: f64 = 0.002;
const MAX_BODY_BYTES: usize = 65536;

fn main() {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8826".into())
        .parse()
        .expect("an address such as 127.0.0.1:8826");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(serve(addr));
}

async fn serve(addr: SocketAddr) {
    let listener = TcpListener::bind(addr).await.expect("a free port");
    eprintln!("listening on {}", listener.local_addr().unwrap());
    let started = Arc::new(Instant::now());

    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let started = Arc::clone(&started);
        let service = service_fn(move |req| handle(req, Arc::clone(&started)));
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    started: Arc<Instant>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let resp = match (req.uri().path(), req.method()) {
        ("/health", &Method::GET) => health(&started),
        ("/api/maestra/chat", &Method::POST) => chat(req).await,
        _ => json(StatusCode::NOT_FOUND, b"{}".to_vec()),
    };
    Ok(resp)
}

/// The same document as the server's healthy `/health`, written without
/// serde as the server's is.
fn health(started: &Instant) -> Response<Full<Bytes>> {
    let body = format!(
        "{{\"status\":\"ok\",\"service\":\"maestra-backend\",\
         \"version\":\"{VERSION}\",\"uptime_seconds\":{}}}",
        started.elapsed().as_secs()
    );
    json(StatusCode::OK, body.into_bytes())
}

async fn chat(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let started_at = OffsetDateTime::now_utc();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| ids::is_valid_id(v))
        .map(String::from)
        .unwrap_or_else(ids::new_request_id);

    let body =
        match Limited::new(req.into_body(), MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return json(StatusCode::BAD_REQUEST, b"{}".to_vec()),
        };
    let request = match chat::parse(&body) {
        Ok(request) => request,
        Err(refusal) => {
            let (err, _) = *refusal;
            return json(err.status, err.body(&request_id));
        }
    };

    let answer = maestra_backend::local_answer(&request.message);
    let conversation_id =
        request.conversation_id.clone().unwrap_or_else(|| {
            ids::new_conversation_id(&request.user_id, started_at)
        });
    let reply = ChatReply {
        request_id: &request_id,
        conversation_id: &conversation_id,
        mode: &request.mode,
        reply: &answer.reply,
        tokens: answer.tokens,
        cost_usd: answer.tokens as f64 / 1000.0 * PRICE_PER_1K_TOKENS_USD,
        latency_ms: started.elapsed().as_millis() as u64,
    };
    let mut resp = json(StatusCode::OK, reply.to_json());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
