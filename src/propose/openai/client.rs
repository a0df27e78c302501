//! The chat-completions HTTP client: one `POST {base_url}/chat/completions` per call, retried on
//! transient failures within a budget, with optional parameters dropped for the session when the
//! server rejects them. It sends what it is given; redacting prompts is the caller's job.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Url, redirect};
use serde_json::Value;

use super::config::{Flavor, HttpConfig, mask_url_password, millis};
use super::error::HttpError;
use super::request::{ChatMessage, Compat, build_request_body};
use super::response::{Completion, error_code, parse_reply, server_message, truncate};
use super::retry::{
    RetryKind, RetryRecord, backoff_delay, is_retryable_status, parse_retry_after,
    parse_retry_after_ms,
};

/// Largest reply body read; a chat completion of a few thousand tokens is far smaller.
const MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

/// An OpenAI-compatible chat client. Cheap to share by reference; remembers for its lifetime
/// which optional parameters the server rejected.
#[derive(Debug)]
pub struct ChatClient {
    cfg: HttpConfig,
    endpoint: Url,
    /// The endpoint as shown in messages (URL password masked).
    shown_url: String,
    http: reqwest::Client,
    compat: Mutex<Compat>,
}

/// What one HTTP exchange produced.
enum Exchange {
    Reply {
        status: u16,
        headers: HeaderMap,
        body: String,
        /// The body passed [`MAX_REPLY_BYTES`] and was cut there.
        truncated: bool,
    },
    Connect(String),
    Timeout,
}

/// What the retry loop does next.
enum Step {
    Done(Box<Completion>),
    Fallback {
        compat: Compat,
        reason: String,
        status: u16,
    },
    Retry {
        kind: RetryKind,
        status: Option<u16>,
        reason: String,
        retry_after: Option<Duration>,
    },
    Fail(HttpError),
}

/// Makes `ring` rustls' process-wide crypto provider (reqwest is built without one, see
/// Cargo.toml); reqwest panics when building a client without it. A provider installed earlier
/// stays: installing is idempotent.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl ChatClient {
    /// Builds the client; fails only on a base URL that cannot take a path or a TLS backend
    /// that cannot start.
    pub fn new(cfg: HttpConfig) -> Result<Self, HttpError> {
        let endpoint = cfg.endpoint()?;
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            // A redirected POST turns into a GET and loses the prompt; report it instead.
            .redirect(redirect::Policy::none())
            .user_agent(concat!("pp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HttpError::Client)?;
        Ok(ChatClient {
            shown_url: mask_url_password(endpoint.as_str()),
            compat: Mutex::new(Compat::initial(cfg.json_mode)),
            cfg,
            endpoint,
            http,
        })
    }

    pub fn config(&self) -> &HttpConfig {
        &self.cfg
    }

    /// The URL requests go to, safe to display.
    pub fn endpoint(&self) -> &str {
        &self.shown_url
    }

    /// The parameters the server has accepted so far.
    pub fn compat(&self) -> Compat {
        *self.compat.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The body [`ChatClient::complete`] would send now, for recording a request that failed.
    pub fn request_body(&self, messages: &[ChatMessage]) -> Value {
        build_request_body(&self.cfg, messages, self.compat())
    }

    /// Sends `messages` and returns the assistant's reply, retrying transient failures (which
    /// are recorded in the result, not counted as attempts).
    pub async fn complete(&self, messages: &[ChatMessage]) -> Result<Completion, HttpError> {
        self.complete_n(messages, 1).await
    }

    /// As [`ChatClient::complete`], asking for `n` choices (the `n` parameter, sent only when
    /// above 1). A server may return fewer: the caller asks again for the rest.
    pub async fn complete_n(
        &self,
        messages: &[ChatMessage],
        n: u32,
    ) -> Result<Completion, HttpError> {
        let started = Instant::now();
        let mut retries: Vec<RetryRecord> = Vec::new();
        let mut backoff_retries: u32 = 0;
        let mut requests: u32 = 0;
        loop {
            let compat = self.compat();
            let mut body = build_request_body(&self.cfg, messages, compat);
            if n > 1
                && let Some(map) = body.as_object_mut()
            {
                map.insert("n".to_owned(), serde_json::json!(n));
            }
            let sent = Instant::now();
            requests += 1;
            let exchange = self.send(&body).await;
            let latency = sent.elapsed();
            let step = self.judge(exchange, compat, body, &retries);
            match step {
                Step::Done(mut completion) => {
                    completion.latency_ms = millis(latency);
                    completion.total_ms = millis(started.elapsed());
                    completion.requests = requests;
                    completion.retries = retries;
                    return Ok(*completion);
                }
                Step::Fail(err) => return Err(err),
                Step::Fallback {
                    compat: next,
                    reason,
                    status,
                } => {
                    tracing::warn!(url = %self.shown_url, status, "{reason}");
                    *self.compat.lock().unwrap_or_else(|e| e.into_inner()) = next;
                    retries.push(RetryRecord {
                        kind: RetryKind::Fallback,
                        status: Some(status),
                        reason,
                        wait_ms: 0,
                        retry_after_ms: None,
                        at_ms: millis(started.elapsed()),
                    });
                }
                Step::Retry {
                    kind,
                    status,
                    reason,
                    retry_after,
                } => {
                    let wait = match retry_after {
                        Some(asked) => asked.min(self.cfg.retry_after_cap),
                        None => backoff_delay(
                            backoff_retries,
                            self.cfg.backoff_base,
                            self.cfg.backoff_cap,
                            fastrand::f64(),
                        ),
                    };
                    let elapsed = started.elapsed();
                    if backoff_retries >= self.cfg.max_retries
                        || elapsed + wait > self.cfg.retry_budget
                    {
                        return Err(self.give_up(kind, reason, retries));
                    }
                    tracing::warn!(
                        url = %self.shown_url,
                        wait_ms = millis(wait),
                        "model request failed ({reason}); retrying"
                    );
                    retries.push(RetryRecord {
                        kind,
                        status,
                        reason,
                        wait_ms: millis(wait),
                        retry_after_ms: retry_after.map(millis),
                        at_ms: millis(elapsed),
                    });
                    backoff_retries += 1;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn send(&self, body: &Value) -> Exchange {
        let mut request = self.http.post(self.endpoint.clone()).json(body);
        if let Some(key) = &self.cfg.api_key {
            // `bearer_auth` marks the header sensitive, so reqwest never logs it.
            request = request.bearer_auth(key.expose());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return self.transport_failure(&e),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut response = response;
        let mut bytes: Vec<u8> = Vec::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_REPLY_BYTES {
                        // Stop reading: memory stays bounded whatever the server sends.
                        truncated = true;
                        break;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return self.transport_failure(&e),
            }
        }
        Exchange::Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            truncated,
        }
    }

    fn transport_failure(&self, e: &reqwest::Error) -> Exchange {
        // A connect timeout is a connection problem, so test `is_connect` first.
        if e.is_connect() {
            Exchange::Connect(self.scrub(&error_chain(e)))
        } else if e.is_timeout() {
            Exchange::Timeout
        } else {
            Exchange::Connect(self.scrub(&error_chain(e)))
        }
    }

    /// Decides what an exchange means: done, a fallback, a retry, or a final error.
    fn judge(
        &self,
        exchange: Exchange,
        compat: Compat,
        request_body: Value,
        retries: &[RetryRecord],
    ) -> Step {
        let (status, headers, body, truncated) = match exchange {
            Exchange::Connect(cause) => {
                return Step::Retry {
                    kind: RetryKind::Connect,
                    status: None,
                    reason: cause,
                    retry_after: None,
                };
            }
            Exchange::Timeout => {
                return Step::Retry {
                    kind: RetryKind::Timeout,
                    status: None,
                    reason: format!("no reply within {:?}", self.cfg.request_timeout),
                    retry_after: None,
                };
            }
            Exchange::Reply {
                status,
                headers,
                body,
                truncated,
            } => (status, headers, body, truncated),
        };
        let url = self.shown_url.clone();
        if (200..300).contains(&status) && truncated {
            return Step::Fail(HttpError::InvalidResponse {
                url,
                reason: format!("the reply is larger than {MAX_REPLY_BYTES} bytes"),
                raw: None,
                retries: retries.to_vec(),
            });
        }
        if (200..300).contains(&status) {
            return self.accept(status, &body, request_body, retries);
        }
        let message = self.scrub(&server_message(&body));
        if is_retryable_status(status) {
            if status == 429 && error_code(&body).as_deref() == Some("insufficient_quota") {
                return Step::Fail(HttpError::QuotaExceeded {
                    url,
                    message,
                    retries: retries.to_vec(),
                });
            }
            return Step::Retry {
                kind: RetryKind::Status,
                status: Some(status),
                reason: format!("http {status}: {message}"),
                retry_after: retry_after(&headers),
            };
        }
        if let Some((next, reason)) = fallback_for(status, &body, compat) {
            return Step::Fallback {
                compat: next,
                reason,
                status,
            };
        }
        let flavor = self.cfg.flavor;
        Step::Fail(match status {
            401 | 403 => HttpError::Auth {
                url,
                status,
                message,
                hint: match self.cfg.api_key {
                    Some(_) => format!(
                        "check {} and that the key may use model {:?}",
                        flavor.api_key_var(),
                        self.cfg.model
                    ),
                    None => format!("no key is set; export {}", flavor.api_key_var()),
                },
                retries: retries.to_vec(),
            },
            404 => HttpError::NotFound {
                url,
                message,
                hint: format!(
                    "check {} (it usually ends in /v1) and {} (now {:?})",
                    flavor.base_url_var(),
                    flavor.model_var(),
                    self.cfg.model
                ),
                retries: retries.to_vec(),
            },
            300..=399 => {
                let to = headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("(no location)");
                HttpError::BadRequest {
                    url,
                    status,
                    message: format!(
                        "redirected to {}; set {} to the final url",
                        mask_url_password(to),
                        flavor.base_url_var()
                    ),
                    retries: retries.to_vec(),
                }
            }
            _ => HttpError::BadRequest {
                url,
                status,
                message,
                retries: retries.to_vec(),
            },
        })
    }

    fn accept(
        &self,
        status: u16,
        body: &str,
        request_body: Value,
        retries: &[RetryRecord],
    ) -> Step {
        let invalid = |reason: String, raw: Option<Box<Value>>| {
            Step::Fail(HttpError::InvalidResponse {
                url: self.shown_url.clone(),
                reason,
                raw,
                retries: retries.to_vec(),
            })
        };
        let raw: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => {
                return invalid(
                    format!(
                        "http {status} body is not json ({e}): {}",
                        truncate(&self.scrub(body.trim()), 200)
                    ),
                    None,
                );
            }
        };
        match parse_reply(&raw) {
            Ok(reply) => Step::Done(Box::new(Completion {
                text: reply.text,
                model: reply.model,
                usage: reply.usage,
                finish_reason: reply.finish_reason,
                refusal: reply.refusal,
                others: reply.others,
                latency_ms: 0,
                total_ms: 0,
                requests: 0,
                retries: Vec::new(),
                request_body,
                raw_response: raw,
            })),
            Err(reason) => invalid(self.scrub(&reason), Some(Box::new(raw))),
        }
    }

    fn give_up(&self, kind: RetryKind, last: String, retries: Vec<RetryRecord>) -> HttpError {
        let url = self.shown_url.clone();
        let base_var = self.cfg.flavor.base_url_var();
        match kind {
            RetryKind::Connect => HttpError::Unreachable {
                hint: format!(
                    "is the server running at {}? check {base_var}",
                    mask_url_password(&self.cfg.base_url)
                ),
                url,
                cause: last,
                retries,
            },
            RetryKind::Timeout => HttpError::Timeout {
                url,
                after: self.cfg.request_timeout,
                hint: match self.cfg.flavor {
                    Flavor::Local => {
                        "a local model may need longer; raise PP_LOCAL_TIMEOUT_SEC".to_owned()
                    }
                    Flavor::OpenAi => "the api may be overloaded; try again later".to_owned(),
                },
                retries,
            },
            RetryKind::Status | RetryKind::Fallback => {
                HttpError::BudgetExhausted { url, last, retries }
            }
        }
    }

    /// Removes the key from text that came from the server or the network stack.
    fn scrub(&self, text: &str) -> String {
        match &self.cfg.api_key {
            Some(key) if key.expose().len() >= 4 => text.replace(key.expose(), "[redacted]"),
            _ => text.to_owned(),
        }
    }
}

/// The next [`Compat`] when a 400/422 says an optional parameter is the problem, with the reason
/// to record. Each parameter is dropped at most once, so this cannot loop.
fn fallback_for(status: u16, body: &str, compat: Compat) -> Option<(Compat, String)> {
    if status != 400 && status != 422 {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let mut next = compat;
    if compat.response_format && (status == 422 || lower.contains("response_format")) {
        next.response_format = false;
        return Some((
            next,
            format!("http {status}: server rejected response_format; continuing without it"),
        ));
    }
    if status == 400
        && !compat.max_completion_tokens
        && lower.contains("max_tokens")
        && lower.contains("max_completion_tokens")
    {
        next.max_completion_tokens = true;
        return Some((
            next,
            "http 400: server wants max_completion_tokens instead of max_tokens".to_owned(),
        ));
    }
    if status == 400
        && compat.temperature
        && lower.contains("temperature")
        && (lower.contains("unsupported") || lower.contains("not support"))
    {
        next.temperature = false;
        return Some((
            next,
            "http 400: server rejected temperature; using its default".to_owned(),
        ));
    }
    None
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    text("retry-after-ms")
        .and_then(parse_retry_after_ms)
        .or_else(|| {
            text(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, jiff::Timestamp::now()))
        })
}

/// The innermost cause of a transport error: reqwest's own message is only "error sending
/// request for url (…)", while the cause says what happened ("Connection refused (os error
/// 111)", "invalid peer certificate: UnknownIssuer").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = e;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    innermost.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_format_fallback() {
        let c = Compat::initial(true);
        let (next, reason) = fallback_for(
            400,
            r#"{"error":{"message":"Unknown parameter: 'response_format'"}}"#,
            c,
        )
        .unwrap();
        assert!(!next.response_format);
        assert!(reason.contains("response_format"));
        // 422 (FastAPI validation) also drops it, but only while it is still being sent.
        assert!(fallback_for(422, "{}", c).is_some());
        assert!(fallback_for(422, "{}", next).is_none());
        assert!(fallback_for(400, "response_format", next).is_none());
        assert!(fallback_for(401, "response_format", c).is_none());
        assert!(fallback_for(400, "context length exceeded", c).is_none());
    }

    #[test]
    fn max_tokens_and_temperature_fallbacks() {
        let c = Compat::initial(false);
        let body = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.";
        let (next, _) = fallback_for(400, body, c).unwrap();
        assert!(next.max_completion_tokens);
        assert!(fallback_for(400, body, next).is_none());

        let body = "Unsupported value: 'temperature' does not support 0 with this model.";
        let (next, _) = fallback_for(400, body, c).unwrap();
        assert!(!next.temperature);
        assert!(fallback_for(400, body, next).is_none());
    }

    #[test]
    fn retry_after_prefers_milliseconds_header() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    /// TLS works with the `ring` provider (reqwest is built without one): a request to an
    /// https URL sends a TLS ClientHello, and a server answering in plain text is an error, not
    /// a panic.
    #[tokio::test]
    async fn https_speaks_tls_through_the_ring_provider() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut record = [0u8; 3];
            s.read_exact(&mut record).unwrap();
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            record
        });
        let mut cfg = HttpConfig::new(Flavor::OpenAi, format!("https://127.0.0.1:{port}/v1"), "m");
        cfg.max_retries = 0;
        let client = ChatClient::new(cfg).unwrap();
        let reply = client.complete(&[ChatMessage::user("hi")]).await;
        assert!(reply.is_err(), "a plain-text server passed for TLS");
        // A TLS handshake record (0x16) of TLS 1.x (0x03 0x01 in a ClientHello's record).
        assert_eq!(server.join().unwrap(), [0x16, 0x03, 0x01]);
    }

    #[test]
    fn scrub_removes_the_key() {
        let mut cfg = HttpConfig::new(Flavor::OpenAi, "https://x/v1", "m");
        cfg.api_key = Some(super::super::ApiKey::new("sk-abcdef123456"));
        let client = ChatClient::new(cfg).unwrap();
        assert_eq!(
            client.scrub("Incorrect API key provided: sk-abcdef123456."),
            "Incorrect API key provided: [redacted]."
        );
    }
}
