//! Provider configuration for the OpenAI-compatible client, resolved from environment variables
//! through a lookup closure so the settings layer reads the environment exactly once.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde_json::{Value, json};

/// Which OpenAI-compatible endpoint family a configuration targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The hosted OpenAI API (or anything configured through `PP_OPENAI_*`).
    OpenAi,
    /// A local server such as vLLM, LM Studio or llama.cpp (`PP_LOCAL_*`).
    Local,
}

impl Flavor {
    /// The provider name as users type it in `PP_PROVIDER`.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::OpenAi => "openai",
            Flavor::Local => "local",
        }
    }

    /// The variable holding the base URL, named in hints.
    pub fn base_url_var(self) -> &'static str {
        match self {
            Flavor::OpenAi => "PP_OPENAI_BASE_URL",
            Flavor::Local => "PP_LOCAL_BASE_URL",
        }
    }

    /// The variable holding the API key, named in hints.
    pub fn api_key_var(self) -> &'static str {
        match self {
            Flavor::OpenAi => "PP_OPENAI_API_KEY",
            Flavor::Local => "PP_LOCAL_API_KEY",
        }
    }

    /// The variable holding the model name, named in hints.
    pub fn model_var(self) -> &'static str {
        match self {
            Flavor::OpenAi => "PP_OPENAI_MODEL",
            Flavor::Local => "PP_LOCAL_MODEL",
        }
    }
}

/// A bearer token. Its `Debug` prints `[redacted]` and it has no `Display` or `Serialize`, so it
/// cannot leak into logs, bundles or error messages by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key value.
    pub fn new(value: impl Into<String>) -> Self {
        ApiKey(value.into())
    }

    /// The secret itself, for the `Authorization` header and for scrubbing server messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Default model for the hosted API: cheap, fast and good at diffs.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4.1-mini";
/// Default model for local servers: the one the README's vLLM example serves.
pub const DEFAULT_LOCAL_MODEL: &str = "Qwen/Qwen2.5-Coder-7B-Instruct";
/// Default hosted base URL.
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// Default local base URL (vLLM's default port).
pub const DEFAULT_LOCAL_BASE_URL: &str = "http://127.0.0.1:8000/v1";
/// Default completion budget in tokens.
pub const DEFAULT_MAX_TOKENS: u32 = 2000;

/// Everything the chat client needs; built by [`HttpConfig::from_lookup`] or by hand in tests.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub flavor: Flavor,
    /// Base URL without the trailing `/chat/completions`, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    pub max_tokens: u32,
    pub temperature: f32,
    /// Ask for `response_format: {"type": "json_object"}` (dropped for the session if the server
    /// rejects it).
    pub json_mode: bool,
    pub connect_timeout: Duration,
    /// Whole-request timeout (send, wait, read the body) for one HTTP exchange.
    pub request_timeout: Duration,
    /// No retry is started once `elapsed + wait` would pass this, counted from the first send.
    pub retry_budget: Duration,
    pub max_retries: u32,
    /// First backoff step; each retry doubles it (capped at [`HttpConfig::backoff_cap`]) with jitter.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Longest wait a server's `Retry-After` can impose.
    pub retry_after_cap: Duration,
}

impl HttpConfig {
    /// Defaults for a flavor with the given base URL and model, no key.
    pub fn new(flavor: Flavor, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        HttpConfig {
            flavor,
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            max_tokens: DEFAULT_MAX_TOKENS,
            temperature: 0.0,
            json_mode: true,
            connect_timeout: Duration::from_secs(10),
            request_timeout: match flavor {
                Flavor::OpenAi => Duration::from_secs(120),
                Flavor::Local => Duration::from_secs(240),
            },
            retry_budget: Duration::from_secs(120),
            max_retries: 6,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
        }
    }

    /// Resolves the configuration for `flavor` from environment variables (DESIGN §1), read
    /// through `env` so callers control where values come from. Empty values count as unset.
    ///
    /// `openai` requires `PP_OPENAI_API_KEY`; `local` takes `PP_LOCAL_API_KEY` if set.
    pub fn from_lookup(
        flavor: Flavor,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let (base_default, model_default) = match flavor {
            Flavor::OpenAi => (DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_MODEL),
            Flavor::Local => (DEFAULT_LOCAL_BASE_URL, DEFAULT_LOCAL_MODEL),
        };
        let base_var = flavor.base_url_var();
        let base_url = match get(base_var) {
            Some(raw) => normalize_base_url(base_var, &raw)?,
            None => base_default.to_owned(),
        };
        let model = get(flavor.model_var()).unwrap_or_else(|| model_default.to_owned());
        let mut cfg = HttpConfig::new(flavor, base_url, model);

        cfg.api_key = get(flavor.api_key_var()).map(ApiKey::new);
        if flavor == Flavor::OpenAi && cfg.api_key.is_none() {
            return Err(ConfigError::MissingApiKey {
                var: flavor.api_key_var(),
            });
        }
        if flavor == Flavor::OpenAi
            && let Some(raw) = get("PP_OPENAI_MAX_TOKENS")
        {
            cfg.max_tokens = parse_max_tokens("PP_OPENAI_MAX_TOKENS", &raw)?;
        }
        if flavor == Flavor::Local
            && let Some(raw) = get("PP_LOCAL_TIMEOUT_SEC")
        {
            cfg.request_timeout = parse_seconds("PP_LOCAL_TIMEOUT_SEC", &raw)?;
        }
        Ok(cfg)
    }

    /// `{base_url}/chat/completions`, keeping any query string of the base URL.
    pub fn endpoint(&self) -> Result<Url, ConfigError> {
        let var = self.flavor.base_url_var();
        let mut url = Url::parse(&self.base_url).map_err(|e| ConfigError::InvalidUrl {
            var,
            value: mask_url_password(&self.base_url),
            reason: e.to_string(),
        })?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| ConfigError::InvalidUrl {
                    var,
                    value: mask_url_password(&self.base_url),
                    reason: "it cannot be a base".to_owned(),
                })?;
            segments.pop_if_empty().push("chat").push("completions");
        }
        Ok(url)
    }

    /// A description safe to store in a bundle: everything but the key, whose presence is noted.
    pub fn summary(&self) -> Value {
        json!({
            "provider": self.flavor.name(),
            "base_url": mask_url_password(&self.base_url),
            "model": self.model,
            "api_key_set": self.api_key.is_some(),
            "max_tokens": self.max_tokens,
            "temperature": temperature_json(self.temperature),
            "json_mode": self.json_mode,
            "connect_timeout_ms": millis(self.connect_timeout),
            "request_timeout_ms": millis(self.request_timeout),
            "retry_budget_ms": millis(self.retry_budget),
            "max_retries": self.max_retries,
        })
    }
}

/// A bad provider setting; every variant names the variable and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={value:?} is not a usable url: {reason}")]
    InvalidUrl {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("{var}={value:?} is not {expected}")]
    InvalidNumber {
        var: &'static str,
        value: String,
        expected: &'static str,
        hint: &'static str,
    },
    #[error("{var} is not set")]
    MissingApiKey { var: &'static str },
}

impl ConfigError {
    /// What to do about it; every variant has an answer.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::InvalidUrl { .. } => "give an http(s) base url such as http://127.0.0.1:8000/v1 (without /chat/completions)".to_owned(),
            Self::InvalidNumber { hint, .. } => (*hint).to_owned(),
            Self::MissingApiKey { var } => {
                format!("export {var}=<your key>, or pick another provider with PP_PROVIDER")
            }
        })
    }
}

fn normalize_base_url(var: &'static str, raw: &str) -> Result<String, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidUrl {
        var,
        value: mask_url_password(raw),
        reason,
    };
    let url = Url::parse(raw).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme is {:?}, expected http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host".to_owned()));
    }
    if url
        .path()
        .trim_end_matches('/')
        .ends_with("/chat/completions")
    {
        return Err(invalid(
            "it already ends in /chat/completions, which pp appends itself".to_owned(),
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn parse_max_tokens(var: &'static str, raw: &str) -> Result<u32, ConfigError> {
    match raw.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::InvalidNumber {
            var,
            value: raw.to_owned(),
            expected: "a positive whole number of tokens",
            hint: "use e.g. 2000, or unset it for the default",
        }),
    }
}

fn parse_seconds(var: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    // A day is far beyond any sane model call; larger values are almost certainly typos (ms).
    const MAX_SECS: f64 = 86_400.0;
    match raw.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= MAX_SECS => Ok(Duration::from_secs_f64(s)),
        _ => Err(ConfigError::InvalidNumber {
            var,
            value: raw.to_owned(),
            expected: "a positive number of seconds (at most 86400)",
            hint: "use e.g. 240, or unset it for the default",
        }),
    }
}

/// Hides the password of `scheme://user:pass@host` so URLs can appear in messages and bundles.
pub(crate) fn mask_url_password(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one, which this one has.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// Temperature as a JSON number without f32 widening noise (0.2f32 would become 0.200000003).
pub(crate) fn temperature_json(t: f32) -> Value {
    let rounded = (f64::from(t) * 1000.0).round() / 1000.0;
    json!(rounded)
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn openai_defaults() {
        let env = lookup(&[("PP_OPENAI_API_KEY", "sk-test")]);
        let cfg = HttpConfig::from_lookup(Flavor::OpenAi, &env).unwrap();
        assert_eq!(cfg.base_url, "https://api.openai.com/v1");
        assert_eq!(cfg.model, "gpt-4.1-mini");
        assert_eq!(cfg.max_tokens, 2000);
        assert_eq!(cfg.temperature, 0.0);
        assert_eq!(cfg.api_key.as_ref().map(ApiKey::expose), Some("sk-test"));
        assert_eq!(
            cfg.endpoint().unwrap().as_str(),
            "https://api.openai.com/v1/chat/completions"
        );
    }

    #[test]
    fn openai_requires_a_key() {
        let env = lookup(&[("PP_OPENAI_API_KEY", "  ")]);
        let err = HttpConfig::from_lookup(Flavor::OpenAi, &env).unwrap_err();
        assert_eq!(
            err,
            ConfigError::MissingApiKey {
                var: "PP_OPENAI_API_KEY"
            }
        );
        assert!(!err.to_string().contains("hint"), "{err}");
        assert!(
            err.hint()
                .is_some_and(|h| h.contains("export PP_OPENAI_API_KEY"))
        );
    }

    #[test]
    fn local_reads_its_own_variables() {
        let env = lookup(&[
            ("PP_LOCAL_BASE_URL", "http://10.0.0.2:9000/v1/"),
            ("PP_LOCAL_MODEL", "qwen"),
            ("PP_LOCAL_TIMEOUT_SEC", "30"),
            ("PP_OPENAI_MAX_TOKENS", "not used by local"),
        ]);
        let cfg = HttpConfig::from_lookup(Flavor::Local, &env).unwrap();
        assert_eq!(cfg.base_url, "http://10.0.0.2:9000/v1");
        assert_eq!(cfg.model, "qwen");
        assert_eq!(cfg.request_timeout, Duration::from_secs(30));
        assert!(cfg.api_key.is_none());
        assert_eq!(
            cfg.endpoint().unwrap().as_str(),
            "http://10.0.0.2:9000/v1/chat/completions"
        );
    }

    #[test]
    fn local_defaults() {
        let cfg = HttpConfig::from_lookup(Flavor::Local, &lookup(&[])).unwrap();
        assert_eq!(cfg.base_url, "http://127.0.0.1:8000/v1");
        assert_eq!(cfg.request_timeout, Duration::from_secs(240));
    }

    #[test]
    fn bad_timeout_names_variable_and_value() {
        for bad in ["soon", "0", "-3", "NaN", "1e9"] {
            let env = lookup(&[("PP_LOCAL_TIMEOUT_SEC", bad)]);
            let err = HttpConfig::from_lookup(Flavor::Local, &env).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("PP_LOCAL_TIMEOUT_SEC"), "{msg}");
            assert!(msg.contains(bad), "{msg}");
            assert!(err.hint().is_some(), "{msg}");
        }
    }

    #[test]
    fn bad_max_tokens() {
        let env = lookup(&[("PP_OPENAI_API_KEY", "k"), ("PP_OPENAI_MAX_TOKENS", "2k")]);
        let msg = HttpConfig::from_lookup(Flavor::OpenAi, &env)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("PP_OPENAI_MAX_TOKENS=\"2k\""), "{msg}");
    }

    #[test]
    fn bad_urls_are_rejected_with_the_variable() {
        for bad in [
            "localhost:8000",
            "ftp://example.com/v1",
            "not a url",
            "http://127.0.0.1:8000/v1/chat/completions",
        ] {
            let env = lookup(&[("PP_LOCAL_BASE_URL", bad)]);
            let err = HttpConfig::from_lookup(Flavor::Local, &env).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::InvalidUrl {
                        var: "PP_LOCAL_BASE_URL",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn url_passwords_are_masked_in_errors_and_summaries() {
        assert_eq!(
            mask_url_password("https://bob:hunter2@host/v1"),
            "https://bob:***@host/v1"
        );
        let mut cfg = HttpConfig::new(Flavor::Local, "http://u:hunter2@h/v1", "m");
        cfg.api_key = Some(ApiKey::new("sk-very-secret"));
        let summary = cfg.summary().to_string();
        assert!(!summary.contains("hunter2"), "{summary}");
        assert!(!summary.contains("sk-very-secret"), "{summary}");
    }

    #[test]
    fn key_never_appears_in_debug() {
        let mut cfg = HttpConfig::new(Flavor::OpenAi, DEFAULT_OPENAI_BASE_URL, "m");
        cfg.api_key = Some(ApiKey::new("sk-very-secret"));
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("sk-very-secret"));
        assert!(dbg.contains("[redacted]"));
    }

    #[test]
    fn endpoint_keeps_query() {
        let cfg = HttpConfig::new(Flavor::Local, "http://h/openai/v1?api-version=2", "m");
        assert_eq!(
            cfg.endpoint().unwrap().as_str(),
            "http://h/openai/v1/chat/completions?api-version=2"
        );
    }

    #[test]
    fn temperature_has_no_float_noise() {
        assert_eq!(temperature_json(0.2), json!(0.2));
        assert_eq!(temperature_json(0.0), json!(0.0));
    }
}
