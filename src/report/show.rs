//! `pp show`: a bundle as a person reads it. [`ShowReport`] is the `pp.show/v1` document (what
//! `--json` prints and what the HTML page shows); [`text`] is the terminal report: the bundle's
//! own `final_summary.md` (the session wrote it with [`super::final_summary`]; it is not
//! rendered twice), then the attempts and what the viewer's keys say of the attestation. Pure:
//! the bundle was read by `bundle::view`, the attestation checked by the caller.

use std::fmt::Write;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::bundle::schema::{AttemptKind, RunSummary};
use crate::bundle::view::BundleView;

/// Version of the `pp show --json` document.
pub const SHOW_SCHEMA: &str = "pp.show/v1";

/// The `pp.show/v1` document: a bundle's session, as recorded, and what the viewer's keys say
/// of it. Fields are only ever added within v1.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ShowReport {
    #[schemars(extend("const" = SHOW_SCHEMA))]
    pub schema_version: &'static str,
    /// True: the bundle was read and shown. The session's own outcome is `status` and
    /// `session_success`.
    pub success: bool,
    /// The `proof_bundle` folder shown.
    pub bundle: PathBuf,
    pub session_id: String,
    /// The recorded status (`proven`, `not_proven`, …, or `running` for an unfinished session).
    pub status: String,
    /// The recorded `success` of the session.
    pub session_success: bool,
    /// False for a session that did not finish (crashed, interrupted, still running).
    pub complete: bool,
    pub message: String,
    pub hint: Option<String>,
    pub command: Option<String>,
    pub provider: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub attempts_used: u32,
    /// Every proof target, before (baseline) and after (the last run).
    pub targets: Vec<ShowTarget>,
    /// The attempts in order, each with why it did not pass.
    pub attempts: Vec<ShowAttempt>,
    pub changed_files: Vec<String>,
    /// `final.patch`'s text; `null` when the bundle has none.
    pub final_patch: Option<String>,
    /// `final.patch` was longer than shown.
    pub final_patch_truncated: bool,
    pub attestation: ShowAttestation,
    /// Commands that check and rerun this bundle.
    pub replay: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ShowTarget {
    pub name: String,
    pub command: String,
    /// The baseline run (`null` when none is recorded).
    pub before: Option<RunSummary>,
    /// The last run (the proof's when proven).
    pub after: Option<RunSummary>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ShowAttempt {
    pub attempt: u32,
    pub outcome: AttemptKind,
    /// The policy rule that refused the candidate, when one did.
    pub rule: Option<String>,
    pub proposer: Option<String>,
    /// What the next attempt was told: why this one failed.
    pub reason: String,
    /// The candidate diff, when there was one.
    pub candidate: Option<String>,
    pub candidate_truncated: bool,
}

/// What the viewer's own keys say of the bundle's attestation (`pp verify-attestation`'s
/// verdict; the bundle is never trusted for its keys).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ShowAttestation {
    /// The bundle has an `attestation.json`.
    pub present: bool,
    /// Verified with the viewer's keys (the digests match and a supplied key checks a signature).
    pub verified: bool,
    /// `unsigned`, `hmac` or `ed25519`: meaningful only when `verified`.
    pub trust: String,
    /// Which of the viewer's keys checked a signature (`hmac-sha256`, `ed25519:<hex>`).
    pub signed_by: Vec<String>,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

impl ShowReport {
    /// The report of `view`, with the attestation verdict and the replay commands.
    pub fn new(view: &BundleView, attestation: ShowAttestation) -> Self {
        let r = &view.repro;
        let result = r.result.clone().unwrap_or_default();
        let targets = r
            .targets
            .iter()
            .map(|t| ShowTarget {
                name: t.name.clone(),
                command: t
                    .cmd
                    .clone()
                    .or_else(|| {
                        t.argv.as_ref().map(|a| {
                            shlex::try_join(a.iter().map(String::as_str)).unwrap_or_default()
                        })
                    })
                    .unwrap_or_default(),
                before: r.baseline.iter().find(|b| b.target == t.name).cloned(),
                after: result
                    .final_runs
                    .iter()
                    .find(|b| b.target == t.name)
                    .cloned(),
            })
            .collect();
        let attempts = view
            .attempts
            .iter()
            .map(|a| ShowAttempt {
                attempt: a.record.attempt,
                outcome: a.record.outcome,
                rule: a.record.rule.clone(),
                proposer: a.record.proposer.clone(),
                reason: a.record.feedback.clone(),
                candidate: a.candidate.as_ref().map(|c| c.text.clone()),
                candidate_truncated: a.candidate.as_ref().is_some_and(|c| c.truncated),
            })
            .collect();
        let quoted = shlex::try_quote(&view.dir.to_string_lossy())
            .map(|q| q.into_owned())
            .unwrap_or_else(|_| view.dir.display().to_string());
        Self {
            schema_version: SHOW_SCHEMA,
            success: true,
            bundle: view.dir.clone(),
            session_id: r.session_id.clone(),
            status: r.status.as_str().to_owned(),
            session_success: r.success,
            complete: r.complete,
            message: result.message,
            hint: result.hint,
            command: r.command.clone(),
            provider: r.provider.clone(),
            started_at: r.timings.started_at.clone(),
            duration_ms: r.timings.duration_ms,
            attempts_used: result.attempts_used,
            targets,
            attempts,
            changed_files: result.changed_files,
            final_patch: view.final_patch.as_ref().map(|p| p.text.clone()),
            final_patch_truncated: view.final_patch.as_ref().is_some_and(|p| p.truncated),
            attestation,
            replay: vec![
                format!("pp verify-attestation {quoted}"),
                format!("pp replay {quoted}"),
            ],
        }
    }
}

/// `text` with terminal control characters (escape sequences a hostile bundle could carry)
/// made visible; newlines and tabs stay.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// An attempt's outcome as a reader says it.
pub fn outcome_words(k: AttemptKind) -> &'static str {
    match k {
        AttemptKind::ProposerUnusable => "proposer unusable",
        AttemptKind::ProposerFailed => "proposer failed",
        AttemptKind::NoChange => "no change proposed",
        AttemptKind::Rejected => "rejected",
        AttemptKind::Duplicate => "duplicate of an earlier candidate",
        AttemptKind::VerificationFailed => "verification failed",
        AttemptKind::Passed => "passed",
    }
}

/// One line on the attestation for a person.
pub fn attestation_line(a: &ShowAttestation) -> String {
    if !a.present {
        "not signed: the bundle has no attestation.json".to_owned()
    } else if a.verified {
        let by = if a.signed_by.is_empty() {
            String::new()
        } else {
            format!(", signed by {}", a.signed_by.join(", "))
        };
        format!("verified with your keys (trust: {}{by})", a.trust)
    } else {
        format!("NOT verified with your keys: {}", a.problems.join("; "))
    }
}

/// A reason in one line: its first line, and when that announces a list (`…:`), the list's
/// first items.
fn reason_line(reason: &str) -> String {
    let mut lines = reason.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default().to_owned();
    if !first.ends_with(':') {
        return first;
    }
    let rest: Vec<&str> = lines.take_while(|l| l.starts_with("- ")).take(3).collect();
    if rest.is_empty() {
        first
    } else {
        format!("{first} {}", rest.join("; "))
    }
}

/// The terminal report: `final_summary.md` as the session wrote it (or, for a session that
/// never wrote one, its recorded status), the attempts, the attestation verdict.
pub fn text(report: &ShowReport, final_summary: Option<&str>) -> String {
    let mut s = String::new();
    match final_summary {
        Some(md) => {
            let _ = writeln!(s, "{}", md.trim_end());
        }
        None => {
            let _ = writeln!(s, "# pp proof summary\n");
            let _ = writeln!(
                s,
                "- **Status:** `{}`{}",
                report.status,
                if report.complete {
                    ""
                } else {
                    " (the session did not finish; it wrote no final_summary.md)"
                }
            );
            let _ = writeln!(s, "- **Session:** `{}`", report.session_id);
            if !report.message.is_empty() {
                let _ = writeln!(s, "- **Result:** {}", report.message);
            }
        }
    }
    if !report.attempts.is_empty() {
        let _ = writeln!(s, "\n## Attempts\n");
        for a in &report.attempts {
            let reason = reason_line(&a.reason);
            let by = a
                .proposer
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            let rule = a
                .rule
                .as_deref()
                .map(|r| format!(" [rule: {r}]"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "{}. {}{by}{rule}: {reason}",
                a.attempt,
                outcome_words(a.outcome)
            );
        }
    }
    let _ = writeln!(
        s,
        "\n## Attestation\n\n{}",
        attestation_line(&report.attestation)
    );
    for n in &report.attestation.notes {
        let _ = writeln!(s, "note: {n}");
    }
    printable(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_one_line() {
        let r = "The candidate applied, but verification failed:\n- target `default` failed with exit code 1\n\nOutput of `x`:\n";
        assert_eq!(
            reason_line(r),
            "The candidate applied, but verification failed: - target `default` failed with exit code 1"
        );
        assert_eq!(
            reason_line("every proof target passed"),
            "every proof target passed"
        );
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(
            printable("a\x1b[31mb\tc\n\u{9b}"),
            "a\u{fffd}[31mb\tc\n\u{fffd}"
        );
    }
}
