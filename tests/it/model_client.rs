//! The chat client against a real HTTP server on 127.0.0.1 serving scripted replies.

use std::time::{Duration, Instant};

use crate::support::model_server::{ModelServer, Reply};
use pp::propose::openai::{
    ApiKey, ChatClient, ChatMessage, Flavor, HttpConfig, HttpError, RetryKind,
};
use serde_json::json;

const KEY: &str = "sk-proj-TESTKEY0123456789abcdefXYZ";

fn config(base_url: String) -> HttpConfig {
    let mut cfg = HttpConfig::new(Flavor::OpenAi, base_url, "gpt-test");
    cfg.api_key = Some(ApiKey::new(KEY));
    cfg.max_tokens = 321;
    // Keep backoff short so tests are quick; Retry-After is still honoured in full.
    cfg.backoff_base = Duration::from_millis(50);
    cfg.retry_budget = Duration::from_secs(20);
    cfg
}

fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You fix code. Reply in JSON."),
        ChatMessage::user("tests fail: assert 1 == 2"),
    ]
}

#[tokio::test]
async fn successful_completion_sends_the_expected_request() {
    let server = ModelServer::start([Reply::completion("{\"diff\": \"\"}")]);
    let client = ChatClient::new(config(server.base_url())).unwrap();

    let done = client.complete(&messages()).await.unwrap();

    assert_eq!(done.text, "{\"diff\": \"\"}");
    assert_eq!(done.model.as_deref(), Some("scripted-model"));
    assert_eq!(done.finish_reason.as_deref(), Some("stop"));
    assert_eq!(done.usage.as_ref().and_then(|u| u.total_tokens), Some(15));
    assert!(done.retries.is_empty());
    assert_eq!(done.requests, 1);

    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(
        req.header("content-type")
            .is_some_and(|v| v.starts_with("application/json"))
    );
    let body = req.json();
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You fix code. Reply in JSON."},
            {"role": "user", "content": "tests fail: assert 1 == 2"}
        ])
    );
    assert_eq!(body["temperature"], json!(0.0));
    assert_eq!(body["max_tokens"], json!(321));
    assert_eq!(body["response_format"], json!({"type": "json_object"}));

    // What the bundle records is exactly what was sent, and carries no key.
    assert_eq!(done.request_body, body);
    let recorded = serde_json::to_string(&done).unwrap();
    assert!(!recorded.contains(KEY));
    assert!(!format!("{client:?}").contains(KEY));
    assert!(!format!("{done:?}").contains(KEY));
}

#[tokio::test]
async fn rate_limit_and_server_error_are_retried_honouring_retry_after() {
    let server = ModelServer::start([
        Reply::error(429, "Rate limit reached").header("Retry-After", "1"),
        Reply::error(500, "The server had an error"),
        Reply::completion("fixed"),
    ]);
    let client = ChatClient::new(config(server.base_url())).unwrap();

    let started = Instant::now();
    let done = client.complete(&messages()).await.unwrap();

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(done.text, "fixed");
    assert_eq!(done.requests, 3);
    assert_eq!(done.retries.len(), 2);
    let (first, second) = (&done.retries[0], &done.retries[1]);
    assert_eq!(first.kind, RetryKind::Status);
    assert_eq!(first.status, Some(429));
    assert_eq!(first.retry_after_ms, Some(1000));
    assert_eq!(first.wait_ms, 1000);
    assert!(
        first.reason.contains("Rate limit reached"),
        "{}",
        first.reason
    );
    assert_eq!(second.status, Some(500));
    assert_eq!(second.retry_after_ms, None);

    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen[1].received_at - seen[0].received_at >= Duration::from_secs(1));
}

#[tokio::test]
async fn rejected_response_format_is_dropped_for_the_session() {
    let server = ModelServer::start([
        Reply::error(400, "Invalid parameter: 'response_format' is not supported"),
        Reply::completion("first"),
        Reply::completion("second"),
    ]);
    let client = ChatClient::new(config(server.base_url())).unwrap();

    let first = client.complete(&messages()).await.unwrap();
    assert_eq!(first.text, "first");
    assert_eq!(first.retries.len(), 1);
    assert_eq!(first.retries[0].kind, RetryKind::Fallback);
    assert_eq!(first.retries[0].status, Some(400));
    assert!(first.request_body.get("response_format").is_none());

    let second = client.complete(&messages()).await.unwrap();
    assert_eq!(second.text, "second");
    assert!(second.retries.is_empty());

    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].json().get("response_format").is_some());
    assert!(seen[1].json().get("response_format").is_none());
    assert!(seen[2].json().get("response_format").is_none());
}

#[tokio::test]
async fn unprocessable_entity_also_drops_response_format() {
    let server = ModelServer::start([
        Reply::json(
            422,
            &json!({"detail": [{"loc": ["body"], "msg": "extra fields not permitted"}]}),
        ),
        Reply::completion("ok"),
    ]);
    let client = ChatClient::new(config(server.base_url())).unwrap();
    let done = client.complete(&messages()).await.unwrap();
    assert_eq!(done.text, "ok");
    assert!(!client.compat().response_format);
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_carries_the_server_message() {
    let server = ModelServer::start([
        Reply::error(401, "Incorrect API key provided: sk-proj-****wxyz."),
        Reply::completion("must not be reached"),
    ]);
    let client = ChatClient::new(config(server.base_url())).unwrap();

    let err = client.complete(&messages()).await.unwrap_err();

    match &err {
        HttpError::Auth {
            status, message, ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(message, "Incorrect API key provided: sk-proj-****wxyz.");
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert!(err.is_infra());
    let text = err.to_string();
    assert!(
        err.hint().is_some_and(|h| h.contains("PP_OPENAI_API_KEY")),
        "{text}"
    );
    assert!(!text.contains(KEY));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn server_messages_never_echo_the_key() {
    let server = ModelServer::start([Reply::error(403, &format!("key {KEY} lacks access"))]);
    let client = ChatClient::new(config(server.base_url())).unwrap();
    let err = client.complete(&messages()).await.unwrap_err();
    assert!(
        matches!(err, HttpError::Auth { status: 403, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(KEY), "{err}");
    assert!(!format!("{err:?}").contains(KEY));
}

#[tokio::test]
async fn not_found_names_the_base_url_variable() {
    let server = ModelServer::start([Reply::error(404, "The model `gpt-test` does not exist")]);
    let client = ChatClient::new(config(server.base_url())).unwrap();
    let err = client.complete(&messages()).await.unwrap_err();
    assert!(matches!(err, HttpError::NotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("does not exist"), "{text}");
    assert!(
        err.hint().is_some_and(|h| h.contains("PP_OPENAI_BASE_URL")),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn exhausted_quota_is_not_retried() {
    let server = ModelServer::start([Reply::json(
        429,
        &json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}),
    )]);
    let client = ChatClient::new(config(server.base_url())).unwrap();
    let err = client.complete(&messages()).await.unwrap_err();
    assert!(matches!(err, HttpError::QuotaExceeded { .. }), "{err:?}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn persistent_server_errors_exhaust_the_retry_count() {
    let server = ModelServer::start([]).with_fallback(Reply::error(503, "overloaded"));
    let mut cfg = config(server.base_url());
    cfg.max_retries = 2;
    let client = ChatClient::new(cfg).unwrap();

    let err = client.complete(&messages()).await.unwrap_err();

    match &err {
        HttpError::BudgetExhausted { last, retries, .. } => {
            assert!(
                last.contains("503") && last.contains("overloaded"),
                "{last}"
            );
            assert_eq!(retries.len(), 2);
        }
        other => panic!("expected BudgetExhausted, got {other:?}"),
    }
    assert_eq!(err.retries().len(), 2);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = ModelServer::start([]).with_fallback(Reply::never());
    let mut cfg = config(server.base_url());
    cfg.request_timeout = Duration::from_secs(1);
    cfg.retry_budget = Duration::from_millis(1500);
    let client = ChatClient::new(cfg).unwrap();

    let started = Instant::now();
    let err = client.complete(&messages()).await.unwrap_err();

    assert!(started.elapsed() >= Duration::from_secs(1));
    match &err {
        HttpError::Timeout { after, .. } => assert_eq!(*after, Duration::from_secs(1)),
        other => panic!("expected Timeout, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("{}/chat/completions", server.base_url())),
        "{text}"
    );
    assert!(text.contains("did not answer within 1s"), "{text}");
    // At most one retry fits in a 1.5 s budget with 1 s timeouts.
    assert!((1..=2).contains(&server.requests().len()));
}

#[tokio::test]
async fn connection_refused_is_unreachable_after_the_budget() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base_url = format!("http://127.0.0.1:{port}/v1");
    let mut cfg = config(base_url.clone());
    cfg.retry_budget = Duration::from_millis(800);
    let client = ChatClient::new(cfg).unwrap();

    let err = client.complete(&messages()).await.unwrap_err();

    match &err {
        HttpError::Unreachable { retries, cause, .. } => {
            assert!(!retries.is_empty());
            assert!(retries.iter().all(|r| r.kind == RetryKind::Connect));
            assert!(cause.to_lowercase().contains("refused"), "{cause}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&base_url), "{text}");
    assert!(err.hint().is_some(), "{text}");
}

#[tokio::test]
async fn content_parts_and_missing_usage_are_accepted() {
    let server = ModelServer::start([Reply::json(
        200,
        &json!({"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "finish_reason": "eos"}]}),
    )]);
    let client = ChatClient::new(config(server.base_url())).unwrap();
    let done = client.complete(&messages()).await.unwrap();
    assert_eq!(done.text, "ab");
    assert_eq!(done.usage, None);
    assert_eq!(done.finish_reason.as_deref(), Some("eos"));
}

#[tokio::test]
async fn a_non_json_success_is_an_invalid_response() {
    let server = ModelServer::start([Reply::raw(200, "<html>proxy login</html>")]);
    let client = ChatClient::new(config(server.base_url())).unwrap();
    let err = client.complete(&messages()).await.unwrap_err();
    assert!(matches!(err, HttpError::InvalidResponse { .. }), "{err:?}");
    assert!(!err.is_infra());
    assert!(err.to_string().contains("proxy login"));
}

#[tokio::test]
async fn local_flavor_without_a_key_sends_no_authorization() {
    let server = ModelServer::start([Reply::completion("hi")]);
    let base = server.base_url();
    let env = move |name: &str| match name {
        "PP_LOCAL_BASE_URL" => Some(base.clone()),
        "PP_LOCAL_MODEL" => Some("qwen-local".to_owned()),
        "PP_LOCAL_TIMEOUT_SEC" => Some("5".to_owned()),
        _ => None,
    };
    let cfg = HttpConfig::from_lookup(Flavor::Local, &env).unwrap();
    assert_eq!(cfg.request_timeout, Duration::from_secs(5));
    let client = ChatClient::new(cfg).unwrap();
    client.complete(&messages()).await.unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(seen[0].json()["model"], "qwen-local");
}

#[tokio::test]
async fn redirects_are_reported_not_followed() {
    let server = ModelServer::start([
        Reply::raw(307, "").header("Location", "https://elsewhere.example/v1/chat/completions")
    ]);
    let client = ChatClient::new(config(server.base_url())).unwrap();
    let err = client.complete(&messages()).await.unwrap_err();
    match &err {
        HttpError::BadRequest {
            status, message, ..
        } => {
            assert_eq!(*status, 307);
            assert!(message.contains("https://elsewhere.example"), "{message}");
            assert!(message.contains("PP_OPENAI_BASE_URL"), "{message}");
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_oversized_reply_is_invalid_not_buffered_whole() {
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(17 * 1024 * 1024));
    let server = ModelServer::start([Reply::raw(200, huge)]);
    let client = ChatClient::new(config(server.base_url())).unwrap();
    let err = client.complete(&messages()).await.unwrap_err();
    assert!(matches!(err, HttpError::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[tokio::test]
async fn retries_before_a_final_rejection_are_kept() {
    let server = ModelServer::start([
        Reply::error(502, "bad gateway"),
        Reply::error(401, "invalid key"),
    ]);
    let client = ChatClient::new(config(server.base_url())).unwrap();
    let err = client.complete(&messages()).await.unwrap_err();
    assert!(
        matches!(err, HttpError::Auth { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(err.retries().len(), 1);
    assert_eq!(err.retries()[0].status, Some(502));
}
