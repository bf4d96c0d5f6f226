//! A fake Slack webhook on loopback: records requests, answers per script.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The secret parts of the fake URL; no output may contain them.
pub const SECRETS: [&str; 3] = ["TEAMID", "B0HOOK", "TOKENSECRET"];

/// The path the fake webhook is reached at.
pub const PATH: &str = "/services/T0TEAMID/B0HOOK/TOKENSECRET";

/// The longest a scripted hang lasts if never released.
const HANG_LIMIT: Duration = Duration::from_secs(15);

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A status, extra headers and a body.
    Status(u16, Vec<(&'static str, String)>, String),
    /// Read the request, then hold the connection until released.
    Hang,
}

impl Answer {
    /// `200 ok`, what Slack answers on success.
    pub fn ok() -> Self {
        Answer::Status(200, Vec::new(), "ok".to_owned())
    }

    /// A status with a body.
    pub fn status(status: u16, body: &str) -> Self {
        Answer::Status(status, Vec::new(), body.to_owned())
    }
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// When its body was fully read.
    pub at: Instant,
    /// The request line's path.
    pub path: String,
    /// The body.
    pub body: String,
}

struct Inner {
    script: Mutex<VecDeque<Answer>>,
    recorded: Mutex<Vec<Recorded>>,
    arrived: Condvar,
    released: Mutex<bool>,
    release: Condvar,
    stop: AtomicBool,
}

/// The fake webhook; stops when dropped.
pub struct FakeWebhook {
    inner: Arc<Inner>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl FakeWebhook {
    /// Starts a fake answering `script` in order, then `200 ok`.
    pub fn start(script: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inner = Arc::new(Inner {
            script: Mutex::new(script.into()),
            recorded: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            released: Mutex::new(false),
            release: Condvar::new(),
            stop: AtomicBool::new(false),
        });

        let for_thread = Arc::clone(&inner);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if for_thread.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let inner = Arc::clone(&for_thread);
                std::thread::spawn(move || serve(&inner, stream));
            }
        });

        FakeWebhook { inner, port, thread: Some(thread) }
    }

    /// The URL to configure, secret path included.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{PATH}", self.port)
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.recorded.lock().unwrap().clone()
    }

    /// Waits (at most 20 s) until `n` requests arrived; returns them all.
    pub fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let give_up = Instant::now() + Duration::from_secs(20);
        let mut recorded = self.inner.recorded.lock().unwrap();
        while recorded.len() < n {
            let now = Instant::now();
            assert!(now < give_up, "only {} of {n} requests", recorded.len());
            recorded = self
                .inner
                .arrived
                .wait_timeout(recorded, give_up - now)
                .unwrap()
                .0;
        }
        recorded.clone()
    }

    /// Lets every held connection answer `200 ok`.
    pub fn release(&self) {
        *self.inner.released.lock().unwrap() = true;
        self.inner.release.notify_all();
    }
}

impl Drop for FakeWebhook {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.release();
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request, records it and answers per the script.
fn serve(inner: &Inner, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some((path, body)) = read_request(&mut stream) else { return };

    let answer = inner.script.lock().unwrap().pop_front();
    inner.recorded.lock().unwrap().push(Recorded {
        at: Instant::now(),
        path,
        body,
    });
    inner.arrived.notify_all();

    let (status, headers, body) = match answer.unwrap_or_else(Answer::ok) {
        Answer::Status(status, headers, body) => (status, headers, body),
        Answer::Hang => {
            let give_up = Instant::now() + HANG_LIMIT;
            let mut released = inner.released.lock().unwrap();
            while !*released && Instant::now() < give_up {
                released = inner
                    .release
                    .wait_timeout(released, Duration::from_millis(50))
                    .unwrap()
                    .0;
            }
            (200, Vec::new(), "ok".to_owned())
        }
    };

    let mut head = format!(
        "HTTP/1.1 {status} Fake\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

/// The path and body of one HTTP/1.1 request with a Content-Length.
fn read_request(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };

    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let path = head.split_whitespace().nth(1)?.to_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);

    while data.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&data[head_end..head_end + length]);
    Some((path, body.into_owned()))
}
