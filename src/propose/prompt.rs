//! The text prompt for model proposers, rendered from a request. Pure.

use std::fmt::Write;

use super::ProposalRequest;

pub const SYSTEM_PROMPT: &str = "You fix failing software. You only propose a patch; the user's own tests decide whether it works. Reply with exactly one JSON object: {\"diff\": \"<unified diff against the files shown, with --- a/PATH and +++ b/PATH headers>\", \"rationale\": \"<one paragraph>\", \"risk_notes\": \"<what could break>\", \"confidence\": <0.0-1.0>}. Change as little as possible. Never weaken, skip or delete tests. Only touch files the policy allows.";

/// Renders the user message of a chat request.
pub fn render_prompt(req: &ProposalRequest) -> String {
    let mut p = String::new();
    let _ = writeln!(
        p,
        "# Task\nAttempt {} of {}: make every proof target pass.",
        req.attempt, req.max_attempts
    );
    if let Some(ctx) = &req.user_context {
        let _ = writeln!(p, "\n# Context from the user\n{}", ctx.trim());
    }
    let _ = writeln!(p, "\n# Proof targets");
    for t in &req.targets {
        let _ = writeln!(p, "- {}: `{}`", t.name, t.command);
    }
    for f in &req.failures {
        let _ = writeln!(
            p,
            "\n# Failure of `{}` (exit {})\n```\n{}\n```",
            f.command,
            f.exit_code,
            f.output_tail.trim_end()
        );
    }
    if !req.context.assertions.is_empty() {
        let _ = writeln!(p, "\n# Failing assertions");
        for a in &req.context.assertions {
            let _ = writeln!(p, "- {a}");
        }
    }
    if !req.context.snippets.is_empty() {
        let _ = writeln!(p, "\n# Code");
        for s in &req.context.snippets {
            let _ = writeln!(
                p,
                "\n{} (lines {}-{}):\n```\n{}\n```",
                s.path,
                s.start_line,
                s.end_line,
                s.text.trim_end()
            );
        }
    }
    let _ = writeln!(
        p,
        "\n# Policy\nFiles you may change: {}\nFiles you may not change: {}\nAt most {} files and {} bytes of diff.",
        req.policy.write_allowlist.join(", "),
        req.policy
            .deny_write
            .iter()
            .chain(&req.policy.protected)
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        req.policy.max_files_changed,
        req.policy.max_patch_bytes
    );
    if !req.previous_attempts.is_empty() {
        let _ = writeln!(p, "\n# Earlier attempts that failed");
        for a in &req.previous_attempts {
            let _ = writeln!(
                p,
                "\n## Attempt {} ({})\n{}",
                a.attempt,
                a.outcome,
                a.feedback.trim_end()
            );
            if let Some(d) = &a.diff {
                let _ = writeln!(p, "```diff\n{}\n```", d.trim_end());
            }
        }
    }
    if let Some(w) = &req.whole_file {
        let _ = writeln!(
            p,
            "\n# Whole-file rewrite\nYour diffs did not apply. Reply instead with the JSON object {{\"path\": \"{}\", \"content\": \"<the complete new file>\", \"rationale\": \"…\"}}. The file now reads:\n```\n{}\n```",
            w.path,
            w.content.trim_end()
        );
    }
    let _ = writeln!(
        p,
        "\n# Reply format\nReply with JSON only: {}",
        req.reply_format
    );
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{FailureContext, Snippet};
    use crate::propose::{
        FailureEvidence, PreviousAttempt, REPLY_FORMAT, REQUEST_SCHEMA, RequestPolicy, TargetRef,
    };

    fn request() -> ProposalRequest {
        ProposalRequest {
            schema_version: REQUEST_SCHEMA,
            session_id: "S".into(),
            attempt: 2,
            max_attempts: 3,
            user_context: Some("Totals are wrong since the refactor.".into()),
            targets: vec![TargetRef {
                name: "unit".into(),
                command: "pytest -q".into(),
            }],
            failures: vec![FailureEvidence {
                target: "unit".into(),
                command: "pytest -q".into(),
                exit_code: 1,
                output_tail: "E   assert 1 == 5\nFAILED tests/test_calc.py::test_add\n".into(),
            }],
            context: FailureContext {
                assertions: vec!["assert 1 == 5".into()],
                snippets: vec![Snippet {
                    path: "calc.py".into(),
                    start_line: 1,
                    end_line: 2,
                    text: "> 1 | def add(a, b):\n  2 |     return a - b\n".into(),
                }],
                ..FailureContext::default()
            },
            policy: RequestPolicy {
                write_allowlist: vec!["src/**".into()],
                deny_write: vec!["**/.env".into()],
                protected: vec![".git/**".into()],
                max_files_changed: 8,
                max_patch_bytes: 200_000,
            },
            previous_attempts: vec![PreviousAttempt {
                attempt: 1,
                diff: Some("--- a/calc.py\n+++ b/calc.py\n".into()),
                outcome: "rejected: context_not_found".into(),
                feedback: "hunk 1 of calc.py: context not found".into(),
            }],
            whole_file: None,
            candidates: 1,
            reply_format: REPLY_FORMAT,
            prompt: String::new(),
        }
    }

    #[test]
    fn prompt_snapshot() {
        insta::assert_snapshot!(render_prompt(&request()));
    }

    #[test]
    fn whole_file_request_shows_the_file() {
        let mut r = request();
        r.whole_file = Some(crate::propose::WholeFile {
            path: "calc.py".into(),
            content: "x = 1\n".into(),
        });
        let p = render_prompt(&r);
        assert!(
            p.contains("Whole-file rewrite")
                && p.contains("\"path\": \"calc.py\"")
                && p.contains("x = 1"),
            "{p}"
        );
    }
}
