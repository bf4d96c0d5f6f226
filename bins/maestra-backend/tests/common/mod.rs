//! What the black-box tests share: starting the real binary, a small
//! HTTP client, and a fake Slack webhook, all on loopback.

#![allow(dead_code, clippy::print_stderr)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The fields of a metrics record, in the order the file holds them.
pub const RECORD_FIELDS: [&str; 11] = [
    "timestamp",
    "request_id",
    "surface_id",
    "user_id",
    "conversation_id",
    "mode",
    "latency_ms",
    "status_code",
    "tokens",
    "cost_usd",
    "error",
];

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_maestra-backend");

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub stderr: Arc<Mutex<String>>,
}

/// The folders and environment a server runs with.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
}

impl Setup {
    /// Temporary folders for records and logs, a free loopback port.
    pub fn new() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env = HashMap::new();
        env.insert("MAESTRA_BIND".into(), "127.0.0.1:0".into());
        env.insert(
            "MAESTRA_METRICS_PATH".into(),
            dir.path().join("metrics.jsonl").display().to_string(),
        );
        env.insert(
            "MAESTRA_LOG_DIR".into(),
            dir.path().join("logs").display().to_string(),
        );
        env.insert("HOME".into(), dir.path().display().to_string());
        Setup { dir, env }
    }

    /// Sets a variable for the server.
    pub fn set(&mut self, name: &str, value: impl ToString) -> &mut Setup {
        self.env.insert(name.into(), value.to_string());
        self
    }

    pub fn metrics_path(&self) -> PathBuf {
        self.dir.path().join("metrics.jsonl")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("logs").join("maestra_backend.log")
    }

    pub fn error_log_path(&self) -> PathBuf {
        self.dir.path().join("logs").join("maestra_backend_error.log")
    }

    /// Starts the server and waits for its listening line.
    pub fn start(&self) -> Server {
        self.spawn(Command::new(BIN))
    }

    /// Starts the server through `sh -c SCRIPT`, where the script ends by
    /// `exec`ing the binary given as `$0` (for limits set by a wrapper
    /// such as `prlimit`); waits for its listening line.
    pub fn start_via_shell(&self, script: &str) -> Server {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script).arg(BIN);
        self.spawn(command)
    }

    /// Runs `command` with this setup's environment and waits for the
    /// server's listening line on its stderr, which is kept afterwards.
    fn spawn(&self, mut command: Command) -> Server {
        let mut child = command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start maestra-backend");

        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr);
        let seen = Arc::new(Mutex::new(String::new()));
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let mut line = String::new();
            let n = lines.read_line(&mut line).unwrap_or(0);
            seen.lock().unwrap().push_str(&line);
            if n == 0 || Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not start: {}", seen.lock().unwrap());
            }
            if let Some(rest) = line.trim().split("listening on http://").nth(1)
            {
                break rest.parse::<SocketAddr>().expect("address");
            }
        };

        let sink = Arc::clone(&seen);
        thread::spawn(move || {
            let mut rest = String::new();
            let _ = lines.read_to_string(&mut rest);
            sink.lock().unwrap().push_str(&rest);
        });

        Server { child, addr, dir: self.dir.path().to_path_buf(), stderr: seen }
    }
}

impl Server {
    pub fn get(&self, path: &str) -> Resp {
        http(self.addr, "GET", path, &[], None)
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        http(self.addr, "GET", path, headers, None)
    }

    /// A chat request with the given JSON body.
    pub fn chat(&self, body: &Value) -> Resp {
        self.chat_with(body, &[])
    }

    pub fn chat_with(&self, body: &Value, headers: &[(&str, &str)]) -> Resp {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        let body = serde_json::to_vec(body).unwrap();
        http(self.addr, "POST", "/api/maestra/chat", &h, Some(&body))
    }

    pub fn metrics(&self) -> Value {
        self.get("/metrics").json()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> ExitStatus {
        signal(&self.child, "TERM");
        wait_exit(&mut self.child, Duration::from_secs(30))
    }

    /// Sends SIGKILL and waits for the exit.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// One HTTP/1.1 exchange on a fresh connection; panics when no answer
/// comes back (see [`try_http`] for tests where that is expected).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    try_http(addr, method, path, headers, body)
        .unwrap_or_else(|| panic!("no answer to {method} {path}"))
}

/// Parses one HTTP response (with a Content-Length body or to the end).
pub fn parse_response(raw: &[u8]) -> Resp {
    let end =
        raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
            panic!("no response head: {:?}", String::from_utf8_lossy(raw))
        });
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(n) = headers.get("content-length").and_then(|v| v.parse().ok())
    {
        body.truncate(n);
    }
    Resp { status, headers, body }
}

/// A chat body.
pub fn chat_body(message: &str, user: &str, surface: &str) -> Value {
    serde_json::json!({"message": message, "user_id": user, "surface_id": surface})
}

/// Every line of a JSONL file, parsed; panics on a bad line.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("bad line {l:?}: {e}"))
        })
        .collect()
}

/// Polls `f` until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// What a fake server answers: status, extra headers, body.
pub type Reply = (u16, Vec<(String, String)>, String);

/// A scripted HTTP/1.1 server on loopback, recording each request's
/// path and body. Stands in for Slack and for the chat upstream.
pub struct FakeHttp {
    pub addr: SocketAddr,
    pub requests: Seen,
}

/// Path and body of every request a fake server received.
pub type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

impl FakeHttp {
    pub fn start(
        handler: impl Fn(&str, &[u8]) -> Reply + Send + Sync + 'static,
    ) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, handler) = (Arc::clone(&seen), Arc::clone(&handler));
                thread::spawn(move || serve(stream, &seen, &*handler));
            }
        });
        FakeHttp { addr, requests }
    }

    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.requests.lock().unwrap().iter().map(|(_, b)| b.clone()).collect()
    }
}

fn serve(
    stream: TcpStream,
    seen: &Mutex<Vec<(String, Vec<u8>)>>,
    handler: &(dyn Fn(&str, &[u8]) -> Reply + Send + Sync),
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap().push((path.clone(), body.clone()));

        let (status, headers, text) = handler(&path, &body);
        let mut out = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n",
            text.len()
        );
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&text);
        if writer.write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}

/// A fake Slack incoming webhook that accepts every message.
pub struct FakeSlack {
    pub http: FakeHttp,
}

impl FakeSlack {
    pub fn start() -> FakeSlack {
        FakeSlack { http: FakeHttp::start(|_, _| (200, vec![], "ok".into())) }
    }

    /// The URL to configure; its secret part is `T0SECRET/B0SECRET/...`.
    pub fn url(&self) -> String {
        format!(
            "http://{}/services/T0SECRET/B0SECRET/XSECRETTOKEN",
            self.http.addr
        )
    }

    /// The `text` of every payload received so far.
    pub fn texts(&self) -> Vec<String> {
        self.http
            .bodies()
            .iter()
            .filter_map(|b| serde_json::from_slice::<Value>(b).ok())
            .map(|p| p["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Waits until a text starting with `prefix` arrived; returns it.
    pub fn wait_text(&self, prefix: &str, limit: Duration) -> Option<String> {
        wait_for(limit, || {
            self.texts().into_iter().find(|t| t.starts_with(prefix))
        })
    }
}

/// A fake OpenAI-compatible upstream answering after `delay`.
pub fn fake_upstream(delay: Duration, tokens: u64) -> FakeHttp {
    FakeHttp::start(move |path, _| {
        thread::sleep(delay);
        if path != "/v1/chat/completions" {
            return (404, vec![], "{}".into());
        }
        let body = serde_json::json!({
            "choices": [{"message": {"role": "assistant", "content": "Upstream says hi"}}],
            "usage": {"total_tokens": tokens},
        });
        (
            200,
            vec![("Content-Type".into(), "application/json".into())],
            body.to_string(),
        )
    })
}

/// A loopback port nothing listens on.
pub fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// One HTTP/1.1 exchange that reports a refused, reset or unanswered
/// connection as `None` instead of panicking: for load and fault tests
/// where the server may be gone.
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Option<Resp> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&out).ok()?;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return None;
    }
    Some(parse_response(&raw))
}

/// Writes `bytes` on a fresh connection and returns whatever comes back
/// until the server closes or `limit` passes. Write errors are ignored:
/// a server may close early on hostile input, and what it sent before
/// is still read.
pub fn raw_exchange(
    addr: SocketAddr,
    bytes: &[u8],
    limit: Duration,
) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let _ = stream.set_write_timeout(Some(limit));
    let _ = stream.write_all(bytes);
    read_until_closed(&mut stream, limit)
}

/// Reads from `stream` until end of file, a reset, or `limit`.
pub fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let deadline = Instant::now() + limit;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return raw;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// A number field of `/proc/PID/status`, such as `VmRSS` (in kB) or
/// `Threads`.
pub fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A loopback server that accepts connections and never answers: a
/// hanging Slack or upstream. Connections are closed when it is dropped.
pub struct Hanging {
    pub addr: SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Hanging {
    pub fn start() -> Hanging {
        use std::sync::atomic::{AtomicBool, Ordering};

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(s) = stream {
                    held.push(s);
                }
            }
        });
        Hanging { addr, stop, thread: Some(thread) }
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
