//! The chat-completions request body: messages plus the generation parameters, shaped by what
//! the server has shown it accepts. Pure; the key never enters the body (it goes in a header).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::config::{HttpConfig, temperature_json};

/// One chat message. Callers redact `content` before it gets here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "system".to_owned(),
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "user".to_owned(),
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "assistant".to_owned(),
            content: content.into(),
        }
    }
}

/// Which optional parameters the server has accepted so far. Starts optimistic and only ever
/// loses features, each after one rejection, for the rest of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Compat {
    /// Send `response_format: {"type": "json_object"}`.
    pub response_format: bool,
    /// Send `temperature` (some reasoning models accept only their default).
    pub temperature: bool,
    /// Name the token limit `max_completion_tokens` instead of `max_tokens` (newer OpenAI models
    /// reject the old name).
    pub max_completion_tokens: bool,
}

impl Compat {
    /// Everything on, as for a server not yet heard from.
    pub fn initial(json_mode: bool) -> Self {
        Compat {
            response_format: json_mode,
            temperature: true,
            max_completion_tokens: false,
        }
    }
}

/// Builds the JSON body sent to `/chat/completions`.
pub fn build_request_body(cfg: &HttpConfig, messages: &[ChatMessage], compat: Compat) -> Value {
    let mut body = Map::new();
    body.insert("model".to_owned(), json!(cfg.model));
    body.insert("messages".to_owned(), json!(messages));
    if compat.temperature {
        body.insert("temperature".to_owned(), temperature_json(cfg.temperature));
    }
    let limit_name = if compat.max_completion_tokens {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    body.insert(limit_name.to_owned(), json!(cfg.max_tokens));
    body.insert("stream".to_owned(), json!(false));
    if compat.response_format {
        body.insert("response_format".to_owned(), json!({"type": "json_object"}));
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propose::openai::{ApiKey, Flavor};

    fn cfg() -> HttpConfig {
        let mut cfg = HttpConfig::new(Flavor::OpenAi, "https://x/v1", "gpt-test");
        cfg.api_key = Some(ApiKey::new("sk-should-not-appear"));
        cfg.max_tokens = 123;
        cfg
    }

    #[test]
    fn full_body() {
        let body = build_request_body(
            &cfg(),
            &[
                ChatMessage::system("be brief"),
                ChatMessage::user("fix it, reply in JSON"),
            ],
            Compat::initial(true),
        );
        assert_eq!(
            body,
            json!({
                "model": "gpt-test",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "fix it, reply in JSON"}
                ],
                "temperature": 0.0,
                "max_tokens": 123,
                "stream": false,
                "response_format": {"type": "json_object"}
            })
        );
        assert!(!body.to_string().contains("sk-should-not-appear"));
    }

    #[test]
    fn degraded_body() {
        let compat = Compat {
            response_format: false,
            temperature: false,
            max_completion_tokens: true,
        };
        let body = build_request_body(&cfg(), &[ChatMessage::user("hi")], compat);
        assert!(body.get("response_format").is_none());
        assert!(body.get("temperature").is_none());
        assert!(body.get("max_tokens").is_none());
        assert_eq!(body["max_completion_tokens"], json!(123));
    }
}
