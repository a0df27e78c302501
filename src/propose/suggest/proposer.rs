//! The proposer proper: gathers suggestions from the baseline evidence (and from an allowed
//! `cargo check --message-format=json`), builds candidates, and returns the first one no
//! earlier attempt tried. When none is left it returns an empty proposal, so a chain moves on.

use serde_json::json;

use super::cargo_json::{self, CargoCheck};
use super::edit::{Candidate, build_candidates, build_candidates_on};
use super::model::Suggestion;
use super::{python, rustc, typescript};
use crate::context::strip_ansi;
use crate::patch::{ReplyBody, WriteRules};
use crate::propose::{Exchange, Proposal, ProposalRequest, ProposeError, ProposeIo};

/// Every suggestion the tools printed in `output`, in the order printed per source.
pub fn collect(output: &str) -> Vec<Suggestion> {
    let text = strip_ansi(output);
    let mut out = rustc::parse(&text, 0);
    let next = |v: &Vec<Suggestion>| v.iter().map(|s| s.group + 1).max().unwrap_or(0);
    let g = next(&out);
    out.extend(python::parse(&text, g));
    let g = next(&out);
    out.extend(typescript::parse(&text, g));
    out
}

/// Answers one request from the compilers' own suggestions. With `exhaustive`, every
/// candidate is offered in turn (all first choices together, then each suggestion alone);
/// without, only the first choices together and what builds on a failed candidate.
pub async fn propose(
    request: &ProposalRequest,
    io: &ProposeIo,
    cargo_check: Option<&CargoCheck>,
    exhaustive: bool,
) -> Result<Exchange, ProposeError> {
    let started = std::time::Instant::now();
    let output: String = request
        .failures
        .iter()
        .map(|f| f.output_tail.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut suggestions = Vec::new();
    let mut ran_check = None;
    if let Some(check) = cargo_check
        && io.cwd.join("Cargo.toml").is_file()
        && let Some(json_lines) = check.output(&io.cancel, &io.redactor).await
    {
        ran_check = Some(check.invocation.display());
        suggestions = cargo_json::parse(&json_lines, 0);
    }
    let offset = suggestions.iter().map(|s| s.group + 1).max().unwrap_or(0);
    suggestions.extend(collect(&output).into_iter().map(|mut s| {
        s.group += offset;
        s
    }));
    let rules = WriteRules {
        write_allowlist: request.policy.write_allowlist.clone(),
        deny_write: request.policy.deny_write.clone(),
        protected: request.policy.protected.clone(),
        max_files_changed: request.policy.max_files_changed,
        max_patch_bytes: request.policy.max_patch_bytes,
        ..WriteRules::default()
    }
    .compile()
    .map_err(|e| ProposeError::Failed {
        message: format!("suggest: the policy's write rules do not compile: {e}"),
    })?;
    let known: Vec<String> = request
        .context
        .locations
        .iter()
        .filter(|l| l.in_workspace)
        .map(|l| l.path.clone())
        .collect();
    let (mut candidates, notes) = build_candidates(&io.cwd, &suggestions, &rules, &known);
    // Interpreters stop at the first error and compilers hide some behind others: when the
    // last candidate failed with new suggestions in its output, build on it first.
    if !exhaustive {
        candidates.truncate(1);
    }
    let mut follow_up = follow_up(request, io, &rules, &known);
    if let Some((_, more)) = follow_up.as_mut()
        && !exhaustive
    {
        more.truncate(1);
    }
    if let Some((_, ref more)) = follow_up {
        let mut merged = more.clone();
        merged.extend(candidates.into_iter().filter(|c| !more.contains(c)));
        candidates = merged;
    }
    // A candidate an earlier attempt already tried would fail the same way. Diffs are
    // compared by what they make of the files, so a re-rendered (canonical) diff of the same
    // change still counts as tried.
    let earlier: Vec<Files> = request
        .previous_attempts
        .iter()
        .filter_map(|p| p.diff.as_deref())
        .filter_map(|d| patched_files(&io.cwd, d))
        .collect();
    let tried = |diff: &str| {
        let redacted = io.redactor.redact(diff);
        let same_text = request.previous_attempts.iter().any(|p| {
            p.diff
                .as_deref()
                .is_some_and(|d| d == diff || d == redacted.as_ref())
        });
        same_text || patched_files(&io.cwd, diff).is_some_and(|f| earlier.contains(&f))
    };
    let untried: Vec<usize> = (0..candidates.len())
        .filter(|&k| !tried(&candidates[k].diff))
        .collect();
    let details = json!({
        "suggestions": suggestions,
        "notes": notes,
        "candidates": candidates.len(),
        "already_tried": candidates.len() - untried.len(),
        "cargo_check": ran_check,
        "follow_up": follow_up.as_ref().map(|(f, c)| json!({"after_attempt": f.attempt, "suggestions": f.suggestions, "candidates": c.len()})),
        "chosen": untried.first().map(|k| json!({"candidate": k, "suggestions": candidates[*k].used})),
    });
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let Some(&k) = untried.first() else {
        let reason = if suggestions.is_empty() {
            "no further suggestion: the failing output carries no compiler or interpreter suggestion pp can apply".to_owned()
        } else if candidates.is_empty() {
            format!(
                "no further suggestion: {} suggestion(s) found, none applicable to a writable file of the workspace",
                suggestions.len()
            )
        } else {
            "no further suggestion: every candidate built from the suggestions was already tried"
                .to_owned()
        };
        return Ok(exchange(
            Proposal::empty(reason),
            String::new(),
            latency_ms,
            details,
        ));
    };
    let chosen = &candidates[k];
    let mut rationale = String::from("Applied the tools' own suggestions:");
    for &i in &chosen.used {
        if let Some(s) = suggestions.get(i) {
            rationale.push_str(&format!(
                "\n- {} ({}): {} [{}]",
                s.source, s.rule, s.diagnostic, s.path
            ));
        }
    }
    let proposal = Proposal {
        body: Some(ReplyBody::Diff(chosen.diff.clone())),
        kind: "diff",
        rationale: Some(rationale),
        risk_notes: Some(
            "taken verbatim from compiler/interpreter suggestions; verification decides".into(),
        ),
        confidence: None,
        empty_reason: None,
    };
    Ok(exchange(proposal, chosen.diff.clone(), latency_ms, details))
}

/// Suggestions found in the output of the latest candidate that failed verification.
struct FollowUp {
    attempt: u32,
    suggestions: Vec<Suggestion>,
}

/// Candidates that keep the latest failed candidate and add the suggestions its own
/// verification output printed; `None` when there is no such output or nothing in it.
fn follow_up(
    request: &ProposalRequest,
    io: &ProposeIo,
    rules: &crate::patch::CompiledRules,
    known: &[String],
) -> Option<(FollowUp, Vec<Candidate>)> {
    let last = request.previous_attempts.last()?;
    if last.outcome != "verification_failed" {
        return None;
    }
    let diff = last.diff.as_deref()?;
    let suggestions = collect(&last.feedback);
    if suggestions.is_empty() {
        return None;
    }
    let overlay = patched_files(&io.cwd, diff)?;
    let (candidates, _) = build_candidates_on(&io.cwd, &overlay, &suggestions, rules, known);
    (!candidates.is_empty()).then_some((
        FollowUp {
            attempt: last.attempt,
            suggestions,
        },
        candidates,
    ))
}

/// Files as a diff leaves them: path → new text.
type Files = std::collections::BTreeMap<String, String>;

/// What `diff` makes of the files under `root`, computed in memory; `None` when it does not
/// plan cleanly or does more than modify files.
fn patched_files(root: &std::path::Path, diff: &str) -> Option<Files> {
    let patch = crate::patch::parse(diff).ok()?;
    let mut out = Files::new();
    let mut first_id = 0;
    for fp in &patch.files {
        if fp.op != crate::patch::FileOp::Modify {
            return None;
        }
        let path = fp.path().to_owned();
        let original = std::fs::read_to_string(root.join(&path)).ok()?;
        let planned = crate::patch::plan_hunks(&path, &original, &fp.hunks, first_id).ok()?;
        first_id += fp.hunks.len();
        out.insert(path, planned.content);
    }
    Some(out)
}

fn exchange(
    proposal: Proposal,
    raw_reply: String,
    latency_ms: u64,
    details: serde_json::Value,
) -> Exchange {
    Exchange {
        proposer: "suggest".into(),
        model: None,
        latency_ms,
        fallbacks: Vec::new(),
        raw_reply,
        proposal,
        http: None,
        details: Some(details),
        alternatives: Vec::new(),
    }
}
