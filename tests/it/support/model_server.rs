//! A scripted OpenAI-compatible HTTP server for tests: it listens on 127.0.0.1, answers each
//! request with the next scripted reply (status, headers, body, optional delay, or never), and
//! logs every request for assertions. It runs on its own thread and runtime, so sync tests that
//! spawn the `pp` binary and async tests that call the client directly can both use it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Read the request, then hold the connection open without answering until shutdown.
    pub never_answer: bool,
}

impl Reply {
    /// A reply with a raw body and `Content-Type: application/json`.
    pub fn raw(status: u16, body: impl Into<String>) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: body.into(),
            delay: None,
            never_answer: false,
        }
    }

    /// A reply whose body is `value`.
    pub fn json(status: u16, value: &Value) -> Self {
        Reply::raw(status, value.to_string())
    }

    /// A 200 chat completion whose message content is `content`.
    pub fn completion(content: &str) -> Self {
        Reply::json(
            200,
            &json!({
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": 0,
                "model": "scripted-model",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            }),
        )
    }

    /// A 200 chat completion with one choice per entry of `contents` (an answer to `n`).
    pub fn choices(contents: &[&str]) -> Self {
        let choices: Vec<Value> = contents
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({
                    "index": i,
                    "message": {"role": "assistant", "content": c},
                    "finish_reason": "stop"
                })
            })
            .collect();
        Reply::json(
            200,
            &json!({
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": 0,
                "model": "scripted-model",
                "choices": choices,
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            }),
        )
    }

    /// An OpenAI-style error reply: `{"error": {"message": …, "type": …}}`.
    pub fn error(status: u16, message: &str) -> Self {
        Reply::json(
            status,
            &json!({"error": {"message": message, "type": "scripted_error", "code": null}}),
        )
    }

    /// A request that is read but never answered.
    pub fn never() -> Self {
        Reply {
            never_answer: true,
            ..Reply::raw(200, "")
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub received_at: Instant,
}

impl Recorded {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (`Value::Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Method, path, headers and body as one string, for "contains no secret" assertions.
    pub fn everything(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        format!(
            "{} {}\n{}\n\n{}",
            self.method,
            self.path,
            headers.join("\n"),
            self.body
        )
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    /// Served once the script is empty; `None` means answer 400 "script exhausted".
    fallback: Option<Reply>,
    log: Vec<Recorded>,
}

/// The running server. Dropping it stops the server and closes held connections.
pub struct ModelServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: watch::Sender<bool>,
}

impl ModelServer {
    /// Starts a server that answers requests with `script`, in order.
    pub fn start(script: impl IntoIterator<Item = Reply>) -> Self {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the scripted model server");
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let addr = listener.local_addr().expect("listener address");
        let state = Arc::new(Mutex::new(State {
            script: script.into_iter().collect(),
            ..State::default()
        }));
        let (shutdown, stop) = watch::channel(false);
        let thread_state = Arc::clone(&state);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test server runtime");
            runtime.block_on(serve(listener, thread_state, stop));
        });
        ModelServer {
            addr,
            state,
            shutdown,
        }
    }

    /// After the script runs out, answer every further request with `reply`.
    pub fn with_fallback(self, reply: Reply) -> Self {
        self.state.lock().expect("server state").fallback = Some(reply);
        self
    }

    /// Appends a reply to the script.
    pub fn push(&self, reply: Reply) {
        self.state
            .lock()
            .expect("server state")
            .script
            .push_back(reply);
    }

    /// `http://127.0.0.1:PORT/v1`, the value for `PP_*_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("server state").log.clone()
    }

    /// Scripted replies not yet served.
    pub fn remaining(&self) -> usize {
        self.state.lock().expect("server state").script.len()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn serve(
    listener: std::net::TcpListener,
    state: Arc<Mutex<State>>,
    stop: watch::Receiver<bool>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    let mut stop_accepting = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                tokio::spawn(handle(stream, Arc::clone(&state), stop.clone()));
            }
            _ = stop_accepting.changed() => return,
        }
    }
}

/// Serves one connection: one request, one reply, then close (`Connection: close`), which keeps
/// clients from reusing a connection the script may want to hang.
async fn handle(mut stream: TcpStream, state: Arc<Mutex<State>>, mut stop: watch::Receiver<bool>) {
    let Some(recorded) = read_request(&mut stream).await else {
        return;
    };
    let reply = {
        let mut s = state.lock().expect("server state");
        s.log.push(recorded);
        s.script
            .pop_front()
            .or_else(|| s.fallback.clone())
            .unwrap_or_else(|| Reply::error(400, "scripted model server: script exhausted"))
    };
    if reply.never_answer {
        let _ = stop.wait_for(|stopped| *stopped).await;
        return;
    }
    if let Some(delay) = reply.delay {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(reply.body.as_bytes()).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

/// Reads a request head and a `Content-Length` body (what reqwest sends for JSON).
async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let received_at = Instant::now();
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        received_at,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Scripted",
    }
}
