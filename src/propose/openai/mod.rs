//! OpenAI-compatible chat-completions transport: configuration from the environment, one HTTP
//! client with retries and parameter fallbacks, and lenient reply parsing. Prompt building, reply
//! interpretation (diffs) and redaction of what is sent are left to the callers.

mod client;
mod config;
mod error;
mod request;
mod response;
mod retry;

pub use client::ChatClient;
pub use config::{
    ApiKey, ConfigError, DEFAULT_LOCAL_BASE_URL, DEFAULT_LOCAL_MODEL, DEFAULT_MAX_TOKENS,
    DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_MODEL, Flavor, HttpConfig,
};
pub use error::HttpError;
pub use request::{ChatMessage, Compat, build_request_body};
pub use response::{Completion, ParsedReply, Usage, parse_reply, server_message};
pub use retry::{RetryKind, RetryRecord, backoff_delay, parse_retry_after};
