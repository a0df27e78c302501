//! Lenient reading of chat-completion replies and of server error bodies. Servers that call
//! themselves OpenAI-compatible differ in the details, so only `choices[0]`'s text is required;
//! unknown fields, a missing `usage` and unusual `finish_reason` values are accepted.

use serde::Serialize;
use serde_json::Value;

use super::retry::RetryRecord;

/// Token counts as the server reported them; any of them may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
}

/// The text-bearing part of a reply, before timing and retries are attached.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReply {
    /// The assistant's text; empty when the server sent `null` content (callers treat an empty
    /// reply as a failed attempt, not a transport error).
    pub text: String,
    pub model: Option<String>,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    /// The model's refusal, when the server reports one instead of content.
    pub refusal: Option<String>,
    /// The text of every further choice (`n` > 1), in order; choices without text are skipped.
    pub others: Vec<String>,
}

/// A successful completion with everything the bundle records about the exchange.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    pub text: String,
    pub model: Option<String>,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    pub refusal: Option<String>,
    /// The texts of the reply's further choices (asked for with `n`), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<String>,
    /// Duration of the exchange that succeeded.
    pub latency_ms: u64,
    /// Time from the first send to the reply, retries and waits included.
    pub total_ms: u64,
    /// HTTP requests made, the successful one included.
    pub requests: u32,
    pub retries: Vec<RetryRecord>,
    /// Exactly the body of the successful request (the key travels only in a header).
    pub request_body: Value,
    pub raw_response: Value,
}

/// Extracts the reply from a decoded 2xx body, or says why it is not a chat completion.
pub fn parse_reply(body: &Value) -> Result<ParsedReply, String> {
    if !body.is_object() {
        return Err(format!("expected a json object, got {}", kind_of(body)));
    }
    // Some proxies answer 200 with an error object.
    if body.get("choices").is_none()
        && let Some(message) = error_message(body)
    {
        return Err(format!("the server reported an error: {message}"));
    }
    let choice = match body.get("choices") {
        Some(Value::Array(choices)) => choices
            .first()
            .ok_or_else(|| "`choices` is empty".to_owned())?,
        Some(other) => return Err(format!("`choices` is {}, not an array", kind_of(other))),
        None => return Err("the reply has no `choices`".to_owned()),
    };
    let message = choice.get("message");
    let content = message.and_then(|m| m.get("content"));
    let text = match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => content_parts_text(parts),
        Some(Value::Null) | None => match choice.get("text") {
            // Legacy completions shape, still produced by some local servers.
            Some(Value::String(s)) => s.clone(),
            _ if message.is_some() || content.is_some() => String::new(),
            _ => return Err("`choices[0]` has neither `message` nor `text`".to_owned()),
        },
        Some(other) => {
            return Err(format!(
                "`choices[0].message.content` is {}, expected a string or an array of parts",
                kind_of(other)
            ));
        }
    };
    Ok(ParsedReply {
        text,
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        usage: body.get("usage").and_then(parse_usage),
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        refusal: message
            .and_then(|m| m.get("refusal"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        others: other_choices(body),
    })
}

/// The text of `choices[1..]`, for a request that asked for several (`n`).
fn other_choices(body: &Value) -> Vec<String> {
    let Some(Value::Array(choices)) = body.get("choices") else {
        return Vec::new();
    };
    choices
        .iter()
        .skip(1)
        .filter_map(|c| match c.get("message").and_then(|m| m.get("content")) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(parts)) => Some(content_parts_text(parts)),
            _ => c.get("text").and_then(Value::as_str).map(str::to_owned),
        })
        .collect()
}

/// Concatenates the text of content parts: `{"type":"text","text":"…"}`, bare strings, and the
/// `{"text":{"value":"…"}}` shape; parts without text (images, tool output) are skipped.
fn content_parts_text(parts: &[Value]) -> String {
    let mut out = String::new();
    for part in parts {
        let text = match part {
            Value::String(s) => Some(s.as_str()),
            Value::Object(obj) => match obj.get("text") {
                Some(Value::String(s)) => Some(s.as_str()),
                Some(Value::Object(inner)) => inner.get("value").and_then(Value::as_str),
                _ => None,
            },
            _ => None,
        };
        if let Some(text) = text {
            out.push_str(text);
        }
    }
    out
}

fn parse_usage(v: &Value) -> Option<Usage> {
    if !v.is_object() {
        return None;
    }
    // Some servers send floats or strings; take whatever reads as a whole number.
    let count = |key: &str| match v.get(key) {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Some(Usage {
        prompt_tokens: count("prompt_tokens"),
        completion_tokens: count("completion_tokens"),
        total_tokens: count("total_tokens"),
    })
}

/// The human message in an error body: `error.message`, a string `error`, `message`, or
/// FastAPI's `detail` (string or list of `{msg}`).
fn error_message(body: &Value) -> Option<String> {
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    match body.get("error") {
        Some(Value::Object(e)) => {
            if let Some(m) = e.get("message").and_then(Value::as_str).and_then(non_empty) {
                return Some(m);
            }
        }
        Some(Value::String(s)) => {
            if let Some(m) = non_empty(s) {
                return Some(m);
            }
        }
        _ => {}
    }
    if let Some(m) = body
        .get("message")
        .and_then(Value::as_str)
        .and_then(non_empty)
    {
        return Some(m);
    }
    match body.get("detail") {
        Some(Value::String(s)) => non_empty(s),
        Some(Value::Array(items)) => {
            let msgs: Vec<String> = items
                .iter()
                .filter_map(|i| {
                    let msg = i.get("msg").and_then(Value::as_str)?;
                    let loc = i.get("loc").map(|l| format!(" at {l}")).unwrap_or_default();
                    Some(format!("{msg}{loc}"))
                })
                .collect();
            (!msgs.is_empty()).then(|| msgs.join("; "))
        }
        _ => None,
    }
}

/// The message to show for an error reply: the JSON error message when there is one, otherwise
/// the start of the body text.
pub fn server_message(body_text: &str) -> String {
    const MAX: usize = 500;
    if let Ok(json) = serde_json::from_str::<Value>(body_text)
        && let Some(m) = error_message(&json)
    {
        return truncate(&m, MAX);
    }
    let trimmed = body_text.trim();
    if trimmed.is_empty() {
        "(empty body)".to_owned()
    } else {
        truncate(trimmed, MAX)
    }
}

/// The `error.code` or `error.type` of an error body, for telling quota from rate limits.
pub(crate) fn error_code(body_text: &str) -> Option<String> {
    let json: Value = serde_json::from_str(body_text).ok()?;
    let err = json.get("error")?;
    err.get("code")
        .and_then(Value::as_str)
        .or_else(|| err.get("type").and_then(Value::as_str))
        .map(str::to_owned)
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn standard_reply() {
        let r = parse_reply(&json!({
            "id": "x", "object": "chat.completion", "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
        }))
        .unwrap();
        assert_eq!(r.text, "hello");
        assert_eq!(r.model.as_deref(), Some("gpt-4.1-mini"));
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            r.usage,
            Some(Usage {
                prompt_tokens: Some(5),
                completion_tokens: Some(1),
                total_tokens: Some(6)
            })
        );
    }

    #[test]
    fn lenient_reply() {
        let r = parse_reply(&json!({
            "choices": [{"message": {"content": "ok", "reasoning_content": "hmm"},
                         "finish_reason": "eos_token", "extra": [1, 2]}],
            "system_fingerprint": null, "unknown": {"nested": true}
        }))
        .unwrap();
        assert_eq!(r.text, "ok");
        assert_eq!(r.usage, None);
        assert_eq!(r.model, None);
        assert_eq!(r.finish_reason.as_deref(), Some("eos_token"));

        let r = parse_reply(&json!({
            "choices": [{"message": {"content": "x"}, "finish_reason": null}],
            "usage": {"prompt_tokens": 3.0, "completion_tokens": "4"}
        }))
        .unwrap();
        assert_eq!(r.finish_reason, None);
        let usage = r.usage.unwrap();
        assert_eq!(usage.prompt_tokens, Some(3));
        assert_eq!(usage.completion_tokens, Some(4));
        assert_eq!(usage.total_tokens, None);
    }

    #[test]
    fn content_parts_are_joined() {
        let r = parse_reply(&json!({
            "choices": [{"message": {"content": [
                {"type": "text", "text": "{\"diff\": "},
                {"type": "image_url", "image_url": {"url": "data:"}},
                "\"x\"",
                {"type": "output_text", "text": {"value": "}"}}
            ]}}]
        }))
        .unwrap();
        assert_eq!(r.text, "{\"diff\": \"x\"}");
    }

    #[test]
    fn null_content_and_refusal() {
        let r = parse_reply(&json!({
            "choices": [{"message": {"content": null, "refusal": "I can't"},
                         "finish_reason": "content_filter"}]
        }))
        .unwrap();
        assert_eq!(r.text, "");
        assert_eq!(r.refusal.as_deref(), Some("I can't"));
    }

    #[test]
    fn legacy_text_shape() {
        let r =
            parse_reply(&json!({"choices": [{"text": "abc", "finish_reason": "length"}]})).unwrap();
        assert_eq!(r.text, "abc");
        assert_eq!(r.finish_reason.as_deref(), Some("length"));
    }

    #[test]
    fn invalid_replies() {
        for (body, needle) in [
            (json!([1]), "json object"),
            (json!({}), "no `choices`"),
            (json!({"choices": []}), "empty"),
            (json!({"choices": "x"}), "not an array"),
            (json!({"choices": [{"index": 0}]}), "neither"),
            (
                json!({"choices": [{"message": {"content": 5}}]}),
                "a number",
            ),
            (json!({"error": {"message": "overloaded"}}), "overloaded"),
        ] {
            let err = parse_reply(&body).unwrap_err();
            assert!(err.contains(needle), "{body}: {err}");
        }
    }

    #[test]
    fn server_messages() {
        assert_eq!(
            server_message(
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#
            ),
            "Incorrect API key provided"
        );
        assert_eq!(
            server_message(r#"{"error":"model not loaded"}"#),
            "model not loaded"
        );
        assert_eq!(server_message(r#"{"message":"nope"}"#), "nope");
        assert_eq!(
            server_message(
                r#"{"detail":[{"loc":["body","response_format"],"msg":"extra fields not permitted"}]}"#
            ),
            r#"extra fields not permitted at ["body","response_format"]"#
        );
        assert_eq!(
            server_message("<html>502 Bad Gateway</html>"),
            "<html>502 Bad Gateway</html>"
        );
        assert_eq!(server_message("   "), "(empty body)");
        assert!(server_message(&"é".repeat(600)).ends_with('…'));
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            error_code(r#"{"error":{"message":"m","type":"insufficient_quota","code":"insufficient_quota"}}"#).as_deref(),
            Some("insufficient_quota")
        );
        assert_eq!(error_code("{}"), None);
    }
}
