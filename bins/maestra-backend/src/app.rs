//! The server's shared state and its request handling.
//!
//! Each request is routed, answered, and, when it is a counted one, ends
//! in exactly one record (aggregator and JSONL file) and one
//! `request_completed` log line, whatever path it took.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_LENGTH,
    CONTENT_TYPE, RETRY_AFTER,
};
use hyper::{Method, Request, Response, StatusCode};
use log_json::{preview, LogHandle};
use metrics_core::{Aggregator, JsonlWriter, RequestRecord};
use slog::{error, info, warn, Logger};
use time::OffsetDateTime;

use crate::alerting::{texts, Alerts};
use crate::auth::Keys;
use crate::chat::{self, ChatReply, ChatRequest, Known};
use crate::config::Config;
use crate::error::ApiError;
use crate::history::History;
use crate::ids;
use crate::ratelimit::{Decision, RateLimiter};
use crate::responder::{Responder, UpstreamError};
use crate::timefmt::secs_to_utc_midnight;
use crate::views;

/// The name the server reports itself by.
pub const SERVICE: &str = "maestra-backend";
/// The binary's crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Longest message preview in log lines, in characters.
const PREVIEW_CHARS: usize = 100;

/// The request id header, in and out; made once rather than parsed from
/// a string at each use.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Counters the server keeps beside the aggregator.
#[derive(Default)]
pub struct Counters {
    pub rate_limited: AtomicU64,
    pub auth_failures: AtomicU64,
}

/// Everything a request handler needs, shared by all connections.
pub struct App {
    pub started: Instant,
    pub config: Config,
    pub aggregator: Arc<Aggregator>,
    pub writer: JsonlWriter,
    pub log: Logger,
    pub log_handle: LogHandle,
    pub alerts: Arc<Alerts>,
    pub limiter: RateLimiter,
    pub keys: Keys,
    pub responder: Arc<Responder>,
    pub history: History,
    pub counters: Counters,
}

/// The body type of every answer.
pub type Body = Full<Bytes>;

/// One accepted connection: what every request on it shares.
pub struct Conn {
    pub app: Arc<App>,
    pub peer: SocketAddr,
    /// The peer's IP as logs and alerts show it, formatted once per
    /// connection rather than at each log line.
    peer_ip: String,
}

impl Conn {
    /// The connection from `peer`.
    pub fn new(app: Arc<App>, peer: SocketAddr) -> Conn {
        Conn { app, peer, peer_ip: peer.ip().to_string() }
    }
}

/// What a counted request became, gathered for its record and log line.
#[derive(Default)]
struct Outcome {
    surface_id: Option<String>,
    user_id: Option<String>,
    conversation_id: Option<String>,
    mode: Option<String>,
    tokens: u64,
    cost_usd: f64,
}

impl Outcome {
    fn from_known(known: Known) -> Outcome {
        Outcome {
            surface_id: known.surface_id,
            user_id: known.user_id,
            conversation_id: known.conversation_id,
            mode: known.mode,
            ..Outcome::default()
        }
    }

    /// Takes the identifiers out of the request, which is done with.
    fn from_request(req: ChatRequest) -> Outcome {
        Outcome {
            surface_id: Some(req.surface_id),
            user_id: Some(req.user_id),
            conversation_id: req.conversation_id,
            mode: Some(req.mode),
            ..Outcome::default()
        }
    }
}

/// Per-request facts every step needs, borrowed from the request head
/// and the connection where they live anyway.
struct Ctx<'a> {
    request_id: String,
    started: Instant,
    started_at: OffsetDateTime,
    client_ip: IpAddr,
    conn: &'a Conn,
    method: &'a Method,
    path: &'a str,
}

impl Ctx<'_> {
    /// The client's IP as text: the connection's, made once, unless a
    /// trusted proxy named another.
    fn client_ip_text(&self) -> Cow<'_, str> {
        if self.client_ip == self.conn.peer.ip() {
            Cow::Borrowed(&self.conn.peer_ip)
        } else {
            Cow::Owned(self.client_ip.to_string())
        }
    }
}

/// Routes one request.
pub async fn handle(
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let app = &*conn.app;
    // The head stays here for the context to borrow from; the body goes
    // to the chat handler.
    let (head, body) = req.into_parts();
    let ctx = Ctx {
        request_id: request_id(&head.headers),
        started: Instant::now(),
        started_at: OffsetDateTime::now_utc(),
        client_ip: client_ip(&app.config, &head.headers, conn.peer),
        conn: &conn,
        method: &head.method,
        path: head.uri.path(),
    };
    let headers = &head.headers;

    let response = match (ctx.path, ctx.method) {
        ("/health", &Method::GET) => views::health(app),
        ("/metrics", &Method::GET) => {
            guarded(app, &ctx, headers, || views::metrics_json(app))
        }
        ("/metrics/prometheus", &Method::GET) => {
            guarded(app, &ctx, headers, || views::prometheus(app))
        }
        ("/metrics/history", &Method::GET) => {
            guarded(app, &ctx, headers, || views::history(app))
        }
        ("/dashboard", &Method::GET) => {
            guarded(app, &ctx, headers, views::dashboard)
        }
        ("/api/maestra/chat", &Method::POST) => {
            return Ok(counted_chat(app, &ctx, headers, body).await);
        }
        (path, _) => {
            let err = match allowed_methods(path) {
                Some(allowed) => ApiError::method_not_allowed(allowed),
                None => ApiError::not_found(path),
            };
            log_received(app, &ctx, None);
            let resp = error_response(&err, &ctx.request_id);
            complete(app, &ctx, Outcome::default(), Some(&err));
            resp
        }
    };
    Ok(with_request_id(response, &ctx.request_id))
}

/// The methods a known path answers, for its 405.
fn allowed_methods(path: &str) -> Option<&'static str> {
    match path {
        "/health"
        | "/metrics"
        | "/metrics/prometheus"
        | "/metrics/history"
        | "/dashboard" => Some("GET"),
        "/api/maestra/chat" => Some("POST"),
        _ => None,
    }
}

/// Answers an uncounted, key-protected endpoint.
fn guarded(
    app: &App,
    ctx: &Ctx<'_>,
    headers: &HeaderMap,
    view: impl FnOnce() -> Response<Body>,
) -> Response<Body> {
    if app.keys.allows(headers) {
        return view();
    }

    // A browser's first visit carries no credentials by design: it waits
    // for the challenge below. Only a key that was given and is wrong is
    // an authentication failure.
    let dashboard = ctx.path == "/dashboard";
    let presented = headers.contains_key(AUTHORIZATION)
        || headers.contains_key("x-api-key");
    if presented || !dashboard {
        refuse_auth(app, ctx);
    }
    let mut resp = error_response(&ApiError::unauthorized(), &ctx.request_id);
    if dashboard {
        // Lets a browser ask for the key once; its later same-origin
        // fetches then carry it.
        resp.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Basic realm=\"maestra\""),
        );
    }
    resp
}

/// Counts, logs and alerts one failed authentication.
fn refuse_auth(app: &App, ctx: &Ctx<'_>) {
    app.counters.auth_failures.fetch_add(1, Ordering::Relaxed);
    let attempts = app.limiter.auth_failure(ctx.client_ip, ctx.started);
    let ip = ctx.client_ip_text();
    warn!(app.log, "Missing or invalid API key";
        "event_type" => "auth_failed",
        "request_id" => &ctx.request_id,
        "client_ip" => &*ip,
        "path" => ctx.path,
        "attempts" => attempts);
    app.alerts.raise(texts::auth_failed(&ip, attempts));
}

/// The chat endpoint, ending in its record whatever happens.
async fn counted_chat(
    app: &App,
    ctx: &Ctx<'_>,
    headers: &HeaderMap,
    body: Incoming,
) -> Response<Body> {
    match chat(app, ctx, headers, body).await {
        Ok((resp, outcome)) => {
            complete(app, ctx, outcome, None);
            with_request_id(resp, &ctx.request_id)
        }
        Err(refusal) => {
            let (err, outcome, logged) = *refusal;
            if !logged {
                log_received(app, ctx, None);
            }
            let resp = error_response(&err, &ctx.request_id);
            complete(app, ctx, outcome, Some(&err));
            resp
        }
    }
}

/// A refusal, what is known of the request, and whether
/// `request_received` was already logged.
type Refusal = Box<(ApiError, Outcome, bool)>;

async fn chat(
    app: &App,
    ctx: &Ctx<'_>,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<(Response<Body>, Outcome), Refusal> {
    // The limit comes first: it is the cheapest check, and it also caps
    // how fast one address can guess keys.
    if let Decision::Limited { count, retry_after_s, first } =
        app.limiter.check(ctx.client_ip, ctx.started)
    {
        refuse_rate(app, ctx, count, first);
        let err = ApiError::rate_limited(
            app.config.rate_limit,
            app.config.rate_window.as_secs(),
            retry_after_s,
        );
        return Err(Box::new((err, Outcome::default(), false)));
    }

    if !app.keys.allows(headers) {
        refuse_auth(app, ctx);
        return Err(Box::new((
            ApiError::unauthorized(),
            Outcome::default(),
            false,
        )));
    }

    let body = read_body(app, headers, body)
        .await
        .map_err(|e| Box::new((e, Outcome::default(), false)))?;
    let mut request = chat::parse(&body).map_err(|r| {
        let (e, known) = *r;
        Box::new((e, Outcome::from_known(known), false))
    })?;
    log_received(app, ctx, Some(&request));

    let daily = app.aggregator.daily_cost_usd();
    if daily >= app.config.daily_cost_limit_usd {
        refuse_cost(app, ctx, daily);
        let err = ApiError::cost_limited(
            app.config.daily_cost_limit_usd,
            secs_to_utc_midnight(OffsetDateTime::now_utc()),
        );
        return Err(Box::new((err, Outcome::from_request(request), true)));
    }

    let answer = match answer(app, &request.message).await {
        Ok(answer) => answer,
        Err(e) => {
            error!(app.log, "Upstream failed: {e}";
                "event_type" => "upstream_error",
                "request_id" => &ctx.request_id,
                "surface_id" => &request.surface_id,
                "user_id" => &request.user_id);
            return Err(Box::new((
                ApiError::upstream(e.to_string()),
                Outcome::from_request(request),
                true,
            )));
        }
    };

    let conversation_id = request.conversation_id.take().unwrap_or_else(|| {
        ids::new_conversation_id(&request.user_id, ctx.started_at)
    });
    let cost_usd =
        answer.tokens as f64 / 1000.0 * app.config.price_per_1k_tokens_usd;
    let latency_ms = ctx.started.elapsed().as_millis() as u64;
    let reply = ChatReply {
        request_id: &ctx.request_id,
        conversation_id: &conversation_id,
        mode: &request.mode,
        reply: &answer.reply,
        tokens: answer.tokens,
        cost_usd,
        latency_ms,
    };
    let body = reply.to_json();

    let outcome = Outcome {
        conversation_id: Some(conversation_id),
        tokens: answer.tokens,
        cost_usd,
        ..Outcome::from_request(request)
    };
    Ok((json_response(StatusCode::OK, body), outcome))
}

/// Counts, logs and (once per window and address) alerts a refusal by
/// the rate limit.
fn refuse_rate(app: &App, ctx: &Ctx<'_>, count: u64, first: bool) {
    app.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
    let ip = ctx.client_ip_text();
    warn!(app.log, "Rate limit exceeded";
        "event_type" => "rate_limited",
        "request_id" => &ctx.request_id,
        "client_ip" => &*ip,
        "requests" => count,
        "limit" => app.config.rate_limit);
    if first {
        app.alerts.raise(texts::rate_limited(
            &ip,
            count,
            app.config.rate_limit,
            app.config.rate_window.as_secs(),
        ));
    }
}

fn refuse_cost(app: &App, ctx: &Ctx<'_>, daily: f64) {
    let limit = app.config.daily_cost_limit_usd;
    let requests = app.aggregator.daily().requests;
    warn!(app.log, "Daily cost limit exceeded";
        "event_type" => "cost_limit_exceeded",
        "request_id" => &ctx.request_id,
        "daily_cost_usd" => daily,
        "limit_usd" => limit);
    app.alerts.raise(texts::cost_limited(daily, limit, requests));
}

/// Reads the whole body within the size and time limits.
async fn read_body(
    app: &App,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<Bytes, ApiError> {
    let max = app.config.max_body_bytes;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(ApiError::too_large(max));
    }

    let limited = Limited::new(body, max);
    let timeout = app.config.body_timeout;
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(ApiError::invalid(format!(
            "the request body did not arrive within {} s",
            timeout.as_secs()
        ))),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            Err(ApiError::too_large(max))
        }
        Ok(Err(_)) => {
            Err(ApiError::invalid("the request body could not be read"))
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Asks the responder, off the async threads when it may block.
async fn answer(
    app: &App,
    message: &str,
) -> Result<crate::responder::Answer, UpstreamError> {
    match app.responder.as_ref() {
        Responder::Local => Ok(crate::responder::local_answer(message)),
        Responder::Remote { .. } => {
            let responder = Arc::clone(&app.responder);
            let message = message.to_string();
            tokio::task::spawn_blocking(move || responder.answer(&message))
                .await
                .unwrap_or_else(|_| {
                    Err(UpstreamError::Unreachable(
                        "the request task failed".into(),
                    ))
                })
        }
    }
}

/// Logs `request_received` with what is known of the request.
fn log_received(app: &App, ctx: &Ctx<'_>, req: Option<&ChatRequest>) {
    let ip = ctx.client_ip_text();
    match req {
        Some(r) => info!(app.log, "Request received";
            "event_type" => "request_received",
            "request_id" => &ctx.request_id,
            "method" => ctx.method.as_str(),
            "path" => ctx.path,
            "client_ip" => &*ip,
            "surface_id" => &r.surface_id,
            "user_id" => &r.user_id,
            "conversation_id" => r.conversation_id.as_deref(),
            "mode" => &r.mode,
            "message_preview" => preview(&r.message, PREVIEW_CHARS).as_ref()),
        None => info!(app.log, "Request received";
            "event_type" => "request_received",
            "request_id" => &ctx.request_id,
            "method" => ctx.method.as_str(),
            "path" => ctx.path,
            "client_ip" => &*ip),
    }
}

/// Records a counted request: aggregator, JSONL file, log line, and an
/// alert when the server failed it.
fn complete(
    app: &App,
    ctx: &Ctx<'_>,
    outcome: Outcome,
    err: Option<&ApiError>,
) {
    let status = err.map_or(200, |e| e.status.as_u16());
    let record = RequestRecord {
        timestamp: ctx.started_at,
        request_id: ctx.request_id.clone(),
        surface_id: outcome.surface_id.unwrap_or_else(|| "unknown".into()),
        user_id: outcome.user_id.unwrap_or_else(|| "unknown".into()),
        conversation_id: outcome.conversation_id,
        mode: outcome.mode.unwrap_or_else(|| "advisor".into()),
        latency_ms: ctx.started.elapsed().as_millis() as u64,
        status_code: status,
        tokens: outcome.tokens,
        cost_usd: outcome.cost_usd,
        error: err.map(|e| e.code.to_string()),
    };

    app.aggregator.record(&record);
    app.writer.submit(&record);

    // One line, at the level the status calls for. A success's message
    // is a literal, which the log formatter copies without formatting.
    macro_rules! completed {
        ($level:ident, $($message:tt)+) => {
            $level!(app.log, $($message)+;
                "event_type" => "request_completed",
                "request_id" => &record.request_id,
                "method" => ctx.method.as_str(),
                "path" => ctx.path,
                "surface_id" => &record.surface_id,
                "user_id" => &record.user_id,
                "conversation_id" => record.conversation_id.as_deref(),
                "status_code" => status,
                "latency_ms" => record.latency_ms,
                "tokens" => record.tokens,
                "cost_usd" => record.cost_usd,
                "error" => record.error.as_deref())
        };
    }
    match (status, err) {
        (_, None) => completed!(info, "Request completed"),
        (500.., Some(e)) => completed!(error, "Request failed: {}", e.message),
        (400..=499, Some(e)) => {
            completed!(warn, "Request failed: {}", e.message)
        }
        (_, Some(e)) => completed!(info, "Request failed: {}", e.message),
    }

    if let (500.., Some(e)) = (status, err) {
        app.alerts.raise(texts::request_failed(
            status,
            &record.surface_id,
            &record.user_id,
            e.code,
        ));
    }
}

/// The `X-Request-Id` to use: the client's when it has the identifier
/// shape, a new one otherwise.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| ids::is_valid_id(v))
        .map(String::from)
        .unwrap_or_else(ids::new_request_id)
}

/// The client's address: the peer, or with a trusted proxy the first
/// `X-Forwarded-For` entry that is an IP address.
fn client_ip(config: &Config, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    if config.trust_proxy {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    peer.ip()
}

/// A JSON answer.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The JSON answer of an error, with `Retry-After` for a 429.
fn error_response(err: &ApiError, request_id: &str) -> Response<Body> {
    let mut resp = json_response(err.status, err.body(request_id));
    if let Some(secs) = err.retry_after_s {
        resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    with_request_id(resp, request_id)
}

fn with_request_id(
    mut resp: Response<Body>,
    request_id: &str,
) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    resp
}
