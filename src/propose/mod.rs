//! Proposers: where candidate patches come from. A proposer only ever returns text; the session
//! decides what happens to it. This module owns the request sent, the choice of proposer and the
//! fallback chain; `reply` reads what comes back.

mod command;
pub mod openai;
mod prompt;
mod reply;
pub mod search;
pub mod suggest;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::exec::Cancel;
use crate::redact::Redactor;

pub use prompt::{SYSTEM_PROMPT, render_prompt};
pub use reply::{Proposal, parse_reply, split_replies};

/// One proposer of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSpec {
    /// Proposes nothing.
    Stub,
    /// The built-in deterministic proposer: the compilers' and interpreters' own suggestions.
    Suggest,
    /// The built-in search over small edits at the lines fault localization ranks first
    /// (`search`); the session runs it, since it tries candidates against the tests.
    Search,
    /// An external program (argv).
    Command(Vec<String>),
    /// OpenAI's API (or any OpenAI-compatible endpoint) configured by `PP_OPENAI_*`.
    OpenAi,
    /// A local OpenAI-compatible server configured by `PP_LOCAL_*`.
    Local,
}

impl ProviderSpec {
    /// True for proposers that ask a model (or the user's own program): what `auto` adds
    /// after `suggest` when one is configured.
    pub fn is_model(&self) -> bool {
        !matches!(self, Self::Stub | Self::Suggest | Self::Search)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Stub => "stub",
            Self::Suggest => "suggest",
            Self::Search => "search",
            Self::Command(_) => "command",
            Self::OpenAi => "openai",
            Self::Local => "local",
        }
    }
}

/// Errors of a proposer.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// A configuration error the user must fix (exit 2).
    #[error("{message}")]
    Config { message: String, hint: String },
    /// The proposer cannot be used at all (auth refused, endpoint missing): infra_stop.
    #[error("proposer `{proposer}` is unusable: {message}")]
    Unusable {
        proposer: String,
        message: String,
        hint: String,
    },
    /// This request failed; the next attempt may succeed.
    #[error("the proposer failed: {message}")]
    Failed { message: String },
    #[error("interrupted while waiting for the proposer")]
    Interrupted,
}

impl ProposeError {
    /// What the user can do about it: set for the errors that are theirs to fix.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::Config { hint, .. } | Self::Unusable { hint, .. } => Some(hint),
            Self::Failed { .. } | Self::Interrupted => None,
        }
    }

    /// The message and its hint on one line, for records that keep a single text (the chain's
    /// fallbacks, the log, the attempt record of an unusable proposer).
    pub fn text_with_hint(&self) -> String {
        match self.hint() {
            Some(h) => format!("{self} (hint: {h})"),
            None => self.to_string(),
        }
    }
}

/// Parses `--provider` / `PP_PROVIDER` / `policy.provider.name`: one name or a comma-separated
/// fallback chain (`openai,local`). `command:PATH` names an external program; a bare `command`
/// uses `policy.provider.command`.
pub fn parse_chain(
    text: &str,
    policy_command: Option<&[String]>,
) -> Result<Vec<ProviderSpec>, ProposeError> {
    let mut chain = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let spec = match part {
            "stub" => ProviderSpec::Stub,
            "suggest" => ProviderSpec::Suggest,
            "search" => ProviderSpec::Search,
            "openai" => ProviderSpec::OpenAi,
            "local" => ProviderSpec::Local,
            "command" => match policy_command {
                Some(argv) => ProviderSpec::Command(argv.to_vec()),
                None => {
                    return Err(ProposeError::Config {
                        message: "provider `command` needs a program".into(),
                        hint: "use `--provider command:PATH` or set `policy.provider.command: [prog, args…]`".into(),
                    });
                }
            },
            p if p.starts_with("command:") => {
                let path = &p["command:".len()..];
                if path.is_empty() {
                    return Err(ProposeError::Config {
                        message: "`command:` names no program".into(),
                        hint: "write `--provider command:/path/to/proposer`".into(),
                    });
                }
                ProviderSpec::Command(vec![path.to_owned()])
            }
            other => {
                return Err(ProposeError::Config {
                    message: format!("unknown provider `{other}`"),
                    hint: "choose from auto, suggest, search, stub, openai, local, command, command:PATH (comma-separated for a fallback chain)".into(),
                });
            }
        };
        chain.push(spec);
    }
    if chain.is_empty() {
        return Err(ProposeError::Config {
            message: "no provider named".into(),
            hint: "e.g. `--provider stub`".into(),
        });
    }
    Ok(chain)
}

/// The request handed to a proposer (`pp.request/v1`). External `command` proposers receive it
/// as JSON on stdin; model proposers receive `prompt`.
#[derive(Debug, Clone, Serialize)]
pub struct ProposalRequest {
    pub schema_version: &'static str,
    pub session_id: String,
    pub attempt: u32,
    pub max_attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_context: Option<String>,
    pub targets: Vec<TargetRef>,
    pub failures: Vec<FailureEvidence>,
    pub context: crate::context::FailureContext,
    pub policy: RequestPolicy,
    pub previous_attempts: Vec<PreviousAttempt>,
    /// Set when diffs keep failing to apply and one file is editable: the proposer is asked for
    /// that file's whole new content instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whole_file: Option<WholeFile>,
    /// Candidates asked for (`policy.candidates`); absent when 1. A `command` proposer may
    /// answer with a JSON list of replies; model proposers get the `n` parameter.
    #[serde(skip_serializing_if = "is_one")]
    pub candidates: u32,
    pub reply_format: &'static str,
    pub prompt: String,
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A file offered for a whole-file rewrite, with its current content.
#[derive(Debug, Clone, Serialize)]
pub struct WholeFile {
    pub path: String,
    pub content: String,
}

impl ProposalRequest {
    /// The request with every free-text field passed through the redactor.
    pub fn redacted(&self, r: &Redactor) -> Self {
        let red = |s: &str| r.redact(s).into_owned();
        let mut out = self.clone();
        out.user_context = self.user_context.as_deref().map(red);
        for f in &mut out.failures {
            f.output_tail = red(&f.output_tail);
            f.command = red(&f.command);
        }
        for t in &mut out.targets {
            t.command = red(&t.command);
        }
        for a in &mut out.context.assertions {
            *a = red(a);
        }
        for sn in &mut out.context.snippets {
            sn.text = red(&sn.text);
        }
        for l in out
            .context
            .locations
            .iter_mut()
            .chain(out.context.hints.iter_mut())
        {
            l.message = l.message.as_deref().map(red);
        }
        for p in &mut out.previous_attempts {
            p.feedback = red(&p.feedback);
            p.diff = p.diff.as_deref().map(red);
        }
        if let Some(w) = &mut out.whole_file {
            w.content = red(&w.content);
        }
        out.prompt = red(&self.prompt);
        out
    }
}

pub const REQUEST_SCHEMA: &str = "pp.request/v1";
pub const REPLY_FORMAT: &str = "a JSON object {\"diff\": \"<unified diff>\", \"rationale\": \"…\", \"risk_notes\": \"…\", \"confidence\": 0.0-1.0}; also accepted: a unified diff (bare or fenced), or {\"path\": \"…\", \"content\": \"<whole new file>\"}";

#[derive(Debug, Clone, Serialize)]
pub struct TargetRef {
    pub name: String,
    pub command: String,
}

/// What one failing target showed.
#[derive(Debug, Clone, Serialize)]
pub struct FailureEvidence {
    pub target: String,
    pub command: String,
    pub exit_code: i32,
    pub output_tail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestPolicy {
    pub write_allowlist: Vec<String>,
    pub deny_write: Vec<String>,
    pub protected: Vec<String>,
    pub max_files_changed: usize,
    pub max_patch_bytes: u64,
}

/// An earlier candidate of this session and why it failed.
#[derive(Debug, Clone, Serialize)]
pub struct PreviousAttempt {
    pub attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    pub outcome: String,
    pub feedback: String,
}

/// Where and how a proposer may run.
#[derive(Debug, Clone)]
pub struct ProposeIo {
    pub redactor: std::sync::Arc<Redactor>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub log_dir: PathBuf,
    pub timeout: Duration,
    pub max_reply_bytes: u64,
    pub cancel: Cancel,
    /// For `suggest`: the policy-allowed `cargo check --message-format=json`, set up to run
    /// in the sandbox like the targets; `None` when the policy does not allow it.
    pub cargo_check: Option<suggest::CargoCheck>,
}

/// A proposer's answer, as recorded in the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub proposer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub latency_ms: u64,
    /// Proposers of the chain that failed before this one answered.
    pub fallbacks: Vec<String>,
    #[serde(skip)]
    pub raw_reply: String,
    pub proposal: Proposal,
    /// For model proposers: endpoint, what was sent (redacted, no key), the raw response, token
    /// usage, retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<serde_json::Value>,
    /// For `suggest`: the suggestions found, what became of each, and the candidate chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// The further candidates of the same answer (`policy.candidates` above 1), in order:
    /// `raw_reply` and `proposal` are the first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
}

/// One further candidate of an answer.
#[derive(Debug, Clone, Serialize)]
pub struct Alternative {
    #[serde(skip)]
    pub raw_reply: String,
    pub proposal: Proposal,
}

impl Alternative {
    fn new(raw_reply: String) -> Self {
        Self {
            proposal: parse_reply(&raw_reply),
            raw_reply,
        }
    }
}

impl Exchange {
    /// Every candidate of the answer, the first included: its reply text and what was read.
    pub fn candidates(&self) -> Vec<(&str, &Proposal)> {
        std::iter::once((self.raw_reply.as_str(), &self.proposal))
            .chain(
                self.alternatives
                    .iter()
                    .map(|a| (a.raw_reply.as_str(), &a.proposal)),
            )
            .collect()
    }
}

/// The model endpoints a session may call, one client each (so a parameter fallback learnt on
/// the first request holds for the session).
#[derive(Debug, Default)]
pub struct ModelClients {
    pub openai: Option<openai::ChatClient>,
    pub local: Option<openai::ChatClient>,
}

impl ModelClients {
    /// Builds a client for each HTTP proposer of the chain from its resolved configuration.
    pub fn new(
        chain: &[ProviderSpec],
        openai_cfg: Option<&openai::HttpConfig>,
        local_cfg: Option<&openai::HttpConfig>,
    ) -> Result<Self, ProposeError> {
        let make = |cfg: Option<&openai::HttpConfig>,
                    name: &str|
         -> Result<Option<openai::ChatClient>, ProposeError> {
            match cfg {
                Some(c) if chain.iter().any(|s| s.name() == name) => {
                    openai::ChatClient::new(c.clone()).map(Some).map_err(|e| {
                        ProposeError::Unusable {
                            proposer: name.into(),
                            message: e.to_string(),
                            hint: e.hint().unwrap_or_else(|| {
                                "check the PP_OPENAI_* / PP_LOCAL_* settings".into()
                            }),
                        }
                    })
                }
                _ => Ok(None),
            }
        };
        Ok(Self {
            openai: make(openai_cfg, "openai")?,
            local: make(local_cfg, "local")?,
        })
    }
}

/// Asks the chain, in order, until one proposer answers. `suggest` answering "no further
/// suggestion" counts as not answering when a proposer follows it, so a model gets the same
/// attempt.
pub async fn propose(
    chain: &[ProviderSpec],
    clients: &ModelClients,
    request: &ProposalRequest,
    io: &ProposeIo,
) -> Result<Exchange, ProposeError> {
    let mut fallbacks = Vec::new();
    let mut skipped_suggest = None;
    let mut last = None;
    for (k, spec) in chain.iter().enumerate() {
        let has_next = k + 1 < chain.len();
        let result = ask_one(spec, clients, request, io, has_next).await;
        // What a proposer said is stored and applied only after redaction: a reply may echo a
        // secret it saw (an external program has the user's environment).
        for name in ["stdout.log", "stderr.log"] {
            let _ = io
                .redactor
                .redact_file(&io.log_dir.join("proposer").join(name));
        }
        match result {
            Ok(ex)
                if matches!(spec, ProviderSpec::Suggest | ProviderSpec::Search)
                    && ex.proposal.body.is_none()
                    && has_next =>
            {
                let why = ex.proposal.empty_reason.unwrap_or_default();
                tracing::info!("{}: {why}; asking the next proposer", spec.name());
                fallbacks.push(format!("{}: {why}", spec.name()));
                if *spec == ProviderSpec::Suggest {
                    skipped_suggest = ex.details;
                }
            }
            Ok(mut ex) => {
                ex.fallbacks = fallbacks;
                // What suggest looked at stays on record with the answer that was used.
                if ex.details.is_none() {
                    ex.details = skipped_suggest.map(|d| json!({"suggest": d}));
                }
                if let std::borrow::Cow::Owned(clean) = io.redactor.redact(&ex.raw_reply) {
                    ex.proposal = parse_reply(&clean);
                    ex.raw_reply = clean;
                }
                for alt in &mut ex.alternatives {
                    if let std::borrow::Cow::Owned(clean) = io.redactor.redact(&alt.raw_reply) {
                        *alt = Alternative::new(clean);
                    }
                }
                if let Some(h) = &mut ex.http {
                    io.redactor.redact_json(h);
                }
                if let Some(d) = &mut ex.details {
                    io.redactor.redact_json(d);
                }
                return Ok(ex);
            }
            Err(ProposeError::Interrupted) => return Err(ProposeError::Interrupted),
            Err(e) => {
                let e = redact_error(e, &io.redactor);
                let text = e.text_with_hint();
                tracing::warn!("proposer {} failed: {text}", spec.name());
                fallbacks.push(format!("{}: {text}", spec.name()));
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or(ProposeError::Failed {
        message: "the proposer chain is empty".into(),
    }))
}

/// The error with any secret in its text redacted (a proposer's stderr is quoted in it).
fn redact_error(e: ProposeError, r: &Redactor) -> ProposeError {
    let red = |s: String| r.redact(&s).into_owned();
    match e {
        ProposeError::Config { message, hint } => ProposeError::Config {
            message: red(message),
            hint,
        },
        ProposeError::Unusable {
            proposer,
            message,
            hint,
        } => ProposeError::Unusable {
            proposer,
            message: red(message),
            hint,
        },
        ProposeError::Failed { message } => ProposeError::Failed {
            message: red(message),
        },
        ProposeError::Interrupted => ProposeError::Interrupted,
    }
}

/// `has_next`: another proposer follows this one in the chain.
async fn ask_one(
    spec: &ProviderSpec,
    clients: &ModelClients,
    request: &ProposalRequest,
    io: &ProposeIo,
    has_next: bool,
) -> Result<Exchange, ProposeError> {
    match spec {
        ProviderSpec::Stub => Ok(Exchange {
            proposer: "stub".into(),
            model: None,
            latency_ms: 0,
            fallbacks: Vec::new(),
            raw_reply: String::new(),
            proposal: Proposal::empty("the stub proposer proposes no change"),
            http: None,
            details: None,
            alternatives: Vec::new(),
        }),
        // The session runs the search itself before asking the chain (it tries candidates
        // against the tests); reached here, it has run already or is off.
        ProviderSpec::Search => Ok(Exchange {
            proposer: "search".into(),
            model: None,
            latency_ms: 0,
            fallbacks: Vec::new(),
            raw_reply: String::new(),
            proposal: Proposal::empty(
                "search proposes once per session, and has (or `policy.search.enabled` is false)",
            ),
            http: None,
            details: None,
            alternatives: Vec::new(),
        }),
        // With a model after it, suggest offers only its best candidates and leaves the
        // remaining attempts to the model instead of trying every suggestion on its own.
        ProviderSpec::Suggest => {
            suggest::propose(request, io, io.cargo_check.as_ref(), !has_next).await
        }
        ProviderSpec::Command(argv) => {
            let json = serde_json::to_vec_pretty(request).map_err(|e| ProposeError::Failed {
                message: format!("failed to encode the request: {e}"),
            })?;
            let reply = command::ask(
                argv,
                &json,
                &io.cwd,
                io.env.clone(),
                io.timeout,
                io.log_dir.join("proposer"),
                io.max_reply_bytes,
                &io.cancel,
            )
            .await?;
            // A JSON list on stdout is several candidates; any one-reply form is one.
            let mut replies = split_replies(&reply.stdout).into_iter();
            let first = replies.next().unwrap_or_default();
            Ok(Exchange {
                proposer: "command".into(),
                model: None,
                latency_ms: reply.duration_ms,
                fallbacks: Vec::new(),
                proposal: parse_reply(&first),
                raw_reply: first,
                http: None,
                details: None,
                alternatives: replies.map(Alternative::new).collect(),
            })
        }
        ProviderSpec::OpenAi | ProviderSpec::Local => {
            let client = match spec {
                ProviderSpec::OpenAi => clients.openai.as_ref(),
                _ => clients.local.as_ref(),
            };
            let Some(client) = client else {
                return Err(ProposeError::Unusable {
                    proposer: spec.name().into(),
                    message: "no endpoint is configured".into(),
                    hint: "set PP_OPENAI_API_KEY (openai) or PP_LOCAL_BASE_URL (local)".into(),
                });
            };
            ask_model(spec.name(), client, request, io).await
        }
    }
}

/// One model exchange, plus one sharper retry when the reply holds no usable change.
async fn ask_model(
    name: &str,
    client: &openai::ChatClient,
    request: &ProposalRequest,
    io: &ProposeIo,
) -> Result<Exchange, ProposeError> {
    let mut messages = vec![
        openai::ChatMessage::system(SYSTEM_PROMPT),
        openai::ChatMessage::user(io.redactor.redact(&request.prompt).into_owned()),
    ];
    let mut exchanges = Vec::new();
    let mut total_ms = 0;
    let wanted = request.candidates.max(1) as usize;
    let failed = |e: openai::HttpError| {
        if e.is_infra() {
            ProposeError::Unusable {
                proposer: name.into(),
                message: e.to_string(),
                // The transport's own hint is the more precise one when it has one.
                hint: e.hint().unwrap_or_else(|| {
                    "check the endpoint, model name and key (PP_OPENAI_* / PP_LOCAL_*)".to_owned()
                }),
            }
        } else {
            ProposeError::Failed {
                message: format!("{name}: {e}"),
            }
        }
    };
    let record = |c: &openai::Completion| {
        json!({
            "endpoint": client.endpoint(),
            "request": c.request_body,
            "response": c.raw_response,
            "usage": c.usage,
            "finish_reason": c.finish_reason,
            "latency_ms": c.latency_ms,
            "retries": c.retries,
        })
    };
    for round in 0..2 {
        let mut cancel = io.cancel.clone();
        let completion = tokio::select! {
            r = client.complete_n(&messages, wanted as u32) => r,
            () = cancel.cancelled() => return Err(ProposeError::Interrupted),
        };
        let completion = completion.map_err(failed)?;
        total_ms += completion.total_ms;
        exchanges.push(record(&completion));
        let mut texts: Vec<String> = std::iter::once(completion.text.clone())
            .chain(completion.others.iter().cloned())
            .take(wanted)
            .collect();
        // A server that ignores `n` answers with one choice: the rest are asked one by one.
        while texts.len() < wanted {
            let mut cancel = io.cancel.clone();
            let more = tokio::select! {
                r = client.complete(&messages) => r,
                () = cancel.cancelled() => return Err(ProposeError::Interrupted),
            };
            let more = more.map_err(failed)?;
            total_ms += more.total_ms;
            exchanges.push(record(&more));
            texts.push(more.text);
        }
        let mut texts = texts.into_iter();
        let first = texts.next().unwrap_or_default();
        let proposal = parse_reply(&first);
        let alternatives: Vec<Alternative> = texts.map(Alternative::new).collect();
        let empty =
            proposal.body.is_none() && alternatives.iter().all(|a| a.proposal.body.is_none());
        if !empty || round == 1 {
            return Ok(Exchange {
                proposer: name.into(),
                model: completion
                    .model
                    .clone()
                    .or_else(|| Some(client.config().model.clone())),
                latency_ms: total_ms,
                fallbacks: Vec::new(),
                raw_reply: first,
                proposal,
                http: Some(json!({"config": client.config().summary(), "exchanges": exchanges})),
                details: None,
                alternatives,
            });
        }
        // An empty or no-op reply: ask once more, more sharply.
        messages.push(openai::ChatMessage::assistant(first));
        messages.push(openai::ChatMessage::user(format!(
            "Your reply contained no usable change ({}). Reply with only the JSON object {{\"diff\": \"<unified diff with --- a/PATH and +++ b/PATH headers>\", \"rationale\": \"...\", \"risk_notes\": \"...\", \"confidence\": 0.5}} and nothing else. The diff must change at least one line.",
            proposal.empty_reason.unwrap_or_default()
        )));
    }
    Err(ProposeError::Failed {
        message: format!("{name}: no reply"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_parse() {
        assert_eq!(
            parse_chain("openai, local", None).unwrap(),
            vec![ProviderSpec::OpenAi, ProviderSpec::Local]
        );
        assert_eq!(
            parse_chain("command:/bin/p", None).unwrap(),
            vec![ProviderSpec::Command(vec!["/bin/p".into()])]
        );
        let e = parse_chain("gpt", None).unwrap_err();
        assert!(e.to_string().contains("unknown provider `gpt`"), "{e}");
        assert!(e.hint().is_some_and(|h| h.contains("choose from")), "{e}");
        assert!(parse_chain("command", None).is_err());
        assert_eq!(
            parse_chain("suggest,openai", None).unwrap(),
            vec![ProviderSpec::Suggest, ProviderSpec::OpenAi]
        );
    }
}
