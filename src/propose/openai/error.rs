//! Why a chat completion failed, after retries. Every kind except an unreadable reply is an
//! infrastructure failure the session reports as `infra_stop`; none of them contains the key.

use std::time::Duration;

use serde_json::Value;

use super::config::ConfigError;
use super::retry::RetryRecord;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The settings cannot produce a request (bad base URL).
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("failed to build the http client: {0}")]
    Client(#[source] reqwest::Error),

    /// 401 or 403: the key is missing, wrong, or lacks access to the model.
    #[error("model server at {url} refused the credentials (http {status}): {message}")]
    Auth {
        url: String,
        status: u16,
        message: String,
        hint: String,
        retries: Vec<RetryRecord>,
    },

    /// 404: wrong base URL or unknown model.
    #[error("model endpoint {url} answered http 404: {message}")]
    NotFound {
        url: String,
        message: String,
        hint: String,
        retries: Vec<RetryRecord>,
    },

    /// A 4xx the client cannot work around (400, 413, 422 without a fallback left, …).
    #[error("model server at {url} rejected the request (http {status}): {message}")]
    BadRequest {
        url: String,
        status: u16,
        message: String,
        retries: Vec<RetryRecord>,
    },

    /// 429 with `insufficient_quota`: waiting will not help.
    #[error("model server at {url} reports the account's quota is used up (http 429): {message}")]
    QuotaExceeded {
        url: String,
        message: String,
        retries: Vec<RetryRecord>,
    },

    /// No connection could be made (or it kept breaking) within the retry budget.
    #[error(
        "could not reach the model server at {url}: {cause} ({})",
        retries_phrase(.retries)
    )]
    Unreachable {
        url: String,
        cause: String,
        hint: String,
        retries: Vec<RetryRecord>,
    },

    /// The last exchange got no complete reply within the request timeout.
    #[error(
        "model server at {url} did not answer within {after:?} ({})",
        retries_phrase(.retries)
    )]
    Timeout {
        url: String,
        after: Duration,
        hint: String,
        retries: Vec<RetryRecord>,
    },

    /// Retryable failures (429, 5xx, …) outlasted the retry budget or count.
    #[error("model server at {url} kept failing, gave up after {}; last: {last}", retries_phrase(.retries))]
    BudgetExhausted {
        url: String,
        last: String,
        retries: Vec<RetryRecord>,
    },

    /// A 2xx reply that is not a chat completion.
    #[error("model server at {url} sent a reply that is not a chat completion: {reason}")]
    InvalidResponse {
        url: String,
        reason: String,
        /// The decoded body when it was JSON, for the bundle.
        raw: Option<Box<Value>>,
        retries: Vec<RetryRecord>,
    },
}

impl HttpError {
    /// True when the failure is the endpoint's or the network's, not the model's answer: the
    /// session stops with `infra_stop` instead of spending an attempt.
    pub fn is_infra(&self) -> bool {
        !matches!(self, HttpError::InvalidResponse { .. })
    }

    /// Retries made before giving up (including ones before a final 4xx), for the bundle.
    pub fn retries(&self) -> &[RetryRecord] {
        match self {
            HttpError::Auth { retries, .. }
            | HttpError::NotFound { retries, .. }
            | HttpError::BadRequest { retries, .. }
            | HttpError::QuotaExceeded { retries, .. }
            | HttpError::Unreachable { retries, .. }
            | HttpError::Timeout { retries, .. }
            | HttpError::BudgetExhausted { retries, .. }
            | HttpError::InvalidResponse { retries, .. } => retries,
            HttpError::Config(_) | HttpError::Client(_) => &[],
        }
    }

    /// What the user can do about it, when the client knows better than "check the settings".
    pub fn hint(&self) -> Option<String> {
        match self {
            HttpError::Config(e) => e.hint(),
            HttpError::Auth { hint, .. }
            | HttpError::NotFound { hint, .. }
            | HttpError::Unreachable { hint, .. }
            | HttpError::Timeout { hint, .. } => Some(hint.clone()),
            HttpError::QuotaExceeded { .. } => {
                Some("check the plan and billing of the account behind the key".to_owned())
            }
            HttpError::Client(_)
            | HttpError::BadRequest { .. }
            | HttpError::BudgetExhausted { .. }
            | HttpError::InvalidResponse { .. } => None,
        }
    }

    /// A stable snake_case name for the kind, for JSON summaries and bundle records.
    pub fn kind(&self) -> &'static str {
        match self {
            HttpError::Config(_) => "config",
            HttpError::Client(_) => "client",
            HttpError::Auth { .. } => "auth",
            HttpError::NotFound { .. } => "not_found",
            HttpError::BadRequest { .. } => "bad_request",
            HttpError::QuotaExceeded { .. } => "quota_exceeded",
            HttpError::Unreachable { .. } => "unreachable",
            HttpError::Timeout { .. } => "timeout",
            HttpError::BudgetExhausted { .. } => "budget_exhausted",
            HttpError::InvalidResponse { .. } => "invalid_response",
        }
    }
}

fn retries_phrase(retries: &[RetryRecord]) -> String {
    match retries.len() {
        0 => "no retry".to_owned(),
        1 => "1 retry".to_owned(),
        n => format!("{n} retries"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_invalid_response_is_not_infra() {
        let invalid = HttpError::InvalidResponse {
            url: "u".into(),
            reason: "r".into(),
            raw: None,
            retries: vec![],
        };
        assert!(!invalid.is_infra());
        let auth = HttpError::Auth {
            url: "u".into(),
            status: 401,
            message: "bad key".into(),
            hint: "check PP_OPENAI_API_KEY".into(),
            retries: vec![],
        };
        assert!(auth.is_infra());
        assert_eq!(auth.kind(), "auth");
        let msg = auth.to_string();
        assert!(msg.contains("http 401") && msg.contains("bad key"), "{msg}");
        assert!(!msg.contains("hint"), "{msg}");
        assert_eq!(auth.hint().as_deref(), Some("check PP_OPENAI_API_KEY"));
    }
}
