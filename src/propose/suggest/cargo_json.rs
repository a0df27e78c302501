//! `cargo check --message-format=json`: the replacements rustc marks `MachineApplicable`, read
//! from its JSON diagnostics. The command runs only when the policy allows it (an
//! `allowed_commands` entry or `allowed_argv` entry that is `cargo check` with
//! `--message-format=json`), in the session's sandbox with the session's isolation and
//! filtered environment; the session decides that and hands over a `CargoCheck`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use super::model::{Edit, Suggestion};
use crate::exec::{Cancel, CommandSpec, Isolation};
use crate::policy::{Invocation, PolicyDoc};
use crate::redact::Redactor;

/// How to run the allowed check command in the sandbox. Its output is kept for the session:
/// every attempt starts from the same source, so one run serves them all.
#[derive(Debug, Clone)]
pub struct CargoCheck {
    pub invocation: Invocation,
    /// Where the check runs: the session's command directory (for the overlay backend, the
    /// workspace's own path inside the sandbox's mount namespace).
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub isolation: Isolation,
    /// The sandbox's watcher, as for the session's own commands.
    pub watch: Option<crate::exec::GroupWatch>,
    pub timeout: Duration,
    pub max_output_bytes: u64,
    pub log_dir: PathBuf,
    pub cache: Arc<Mutex<Option<String>>>,
}

impl CargoCheck {
    /// The JSON lines the command printed (run once, then cached).
    pub async fn output(&self, cancel: &Cancel, redactor: &Redactor) -> Option<String> {
        if let Ok(guard) = self.cache.lock()
            && let Some(out) = guard.as_ref()
        {
            return Some(out.clone());
        }
        let spec = CommandSpec {
            invocation: self.invocation.clone(),
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            timeout: self.timeout,
            log_dir: self.log_dir.clone(),
            max_output_bytes: self.max_output_bytes,
            tail_bytes: 4096,
            isolation: self.isolation.clone(),
            stdin: None,
            watch: self.watch.clone(),
        };
        let cap = match crate::exec::run(&spec, cancel).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("suggest: `{}` did not run: {e}", self.invocation.display());
                return None;
            }
        };
        // The logs go into the bundle: scrub them as the targets' logs are.
        for name in ["stdout.log", "stderr.log"] {
            let path = self.log_dir.join(name);
            if let std::borrow::Cow::Owned(clean) = redactor.redact(&crate::exec::read_log(&path))
                && let Err(e) = crate::bundle::write_atomic(&path, clean.as_bytes())
            {
                tracing::warn!("failed to redact {}: {e}", path.display());
            }
        }
        let out = crate::exec::read_log(&self.log_dir.join("stdout.log"));
        tracing::info!(
            "suggest: `{}` exited {} with {} bytes of diagnostics",
            self.invocation.display(),
            cap.exit_code,
            out.len()
        );
        if let Ok(mut guard) = self.cache.lock() {
            *guard = Some(out.clone());
        }
        Some(out)
    }
}

/// The policy's own spelling of `cargo check … --message-format=json`, when it allows one.
pub fn cargo_check_invocation(doc: &PolicyDoc) -> Option<Invocation> {
    let p = &doc.policy;
    let is_check = |words: &[String]| {
        words.len() >= 2
            && words[0] == "cargo"
            && words[1] == "check"
            && words.iter().any(|w| w == "--message-format=json")
    };
    let from_commands = p.allowed_commands.iter().flatten().find_map(|c| {
        let words = shlex::split(c)?;
        // A shell string with pipes or redirections is not just the check.
        let plain = !c.contains(['|', '>', '<', ';', '&', '`', '$']);
        (plain && is_check(&words)).then(|| Invocation::Shell(c.clone()))
    });
    from_commands.or_else(|| {
        p.allowed_argv
            .iter()
            .flatten()
            .find(|a| is_check(a))
            .map(|a| Invocation::Argv(a.clone()))
    })
}

#[derive(Debug, Deserialize)]
struct Line {
    reason: String,
    message: Option<Diagnostic>,
}

#[derive(Debug, Deserialize)]
struct Diagnostic {
    message: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    spans: Vec<Span>,
    #[serde(default)]
    children: Vec<Diagnostic>,
}

#[derive(Debug, Deserialize)]
struct Span {
    file_name: String,
    byte_start: usize,
    byte_end: usize,
    line_start: u32,
    line_end: u32,
    #[serde(default)]
    text: Vec<SpanText>,
    suggested_replacement: Option<String>,
    suggestion_applicability: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SpanText {
    text: String,
    highlight_start: usize,
    highlight_end: usize,
}

/// The machine-applicable suggestions in cargo's JSON output; other lines are ignored.
pub fn parse(text: &str, first_group: u32) -> Vec<Suggestion> {
    let mut out = Vec::new();
    let mut group = first_group;
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let Ok(parsed) = serde_json::from_str::<Line>(line) else {
            continue;
        };
        let (true, Some(diag)) = (parsed.reason == "compiler-message", parsed.message) else {
            continue;
        };
        // As with the human output: errors only (see `rustc.rs`).
        if diag.level != "error" {
            continue;
        }
        for child in std::iter::once(&diag).chain(diag.children.iter()) {
            let spans: Vec<&Span> = child
                .spans
                .iter()
                .filter(|s| {
                    s.suggested_replacement.is_some()
                        && s.suggestion_applicability.as_deref() == Some("MachineApplicable")
                })
                .collect();
            let Some(first) = spans.first() else {
                continue;
            };
            // One suggestion may span several places, all in one file.
            if spans.iter().any(|s| s.file_name != first.file_name) {
                continue;
            }
            let edits = spans
                .iter()
                .map(|s| Edit::Bytes {
                    start: s.byte_start,
                    end: s.byte_end,
                    expect: expected_text(s),
                    new: s.suggested_replacement.clone().unwrap_or_default(),
                })
                .collect();
            out.push(Suggestion {
                source: "cargo_json",
                rule: "machine_applicable",
                diagnostic: format!("{} (help: {})", diag.message, child.message),
                path: first.file_name.clone(),
                edits,
                group,
                alternative: 0,
            });
            group += 1;
        }
    }
    out
}

/// The span's own text when it lies on one line and is non-empty: a check that the file is
/// the one rustc saw.
fn expected_text(s: &Span) -> Option<String> {
    if s.line_start != s.line_end || s.byte_end <= s.byte_start {
        return None;
    }
    let t = s.text.first()?;
    let start = t.highlight_start.checked_sub(1)?;
    let len = t.highlight_end.checked_sub(t.highlight_start)?;
    Some(t.text.chars().skip(start).take(len).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_spelling_is_found() {
        let mut doc = PolicyDoc::default();
        assert!(cargo_check_invocation(&doc).is_none());
        doc.policy.allowed_commands = Some(vec![
            "cargo test".into(),
            "cargo check --offline --message-format=json".into(),
        ]);
        assert_eq!(
            cargo_check_invocation(&doc),
            Some(Invocation::Shell(
                "cargo check --offline --message-format=json".into()
            ))
        );
        doc.policy.allowed_commands =
            Some(vec!["cargo check --message-format=json | tee x".into()]);
        assert!(cargo_check_invocation(&doc).is_none());
    }
}
