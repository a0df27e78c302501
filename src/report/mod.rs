//! What users read: the `pp.summary/v1` JSON document, the short human summary on stdout,
//! `final_summary.md` in the bundle, and, in `github`, what GitHub Actions reads (workflow
//! commands, the job summary, step outputs). Pure rendering; the caller prints or writes.

mod documents;
pub mod github;

pub use documents::{
    ATTEST_SCHEMA, AttestDocument, COMPLETIONS_SCHEMA, ClientProbe, CommandCheck,
    CompletionsDocument, ContainerReport, DOCTOR_SCHEMA, DoctorDocument, DoctorMachine,
    DoctorPolicy, ERROR_SCHEMA, EngineProbe, ErrorDocument, GC_SCHEMA, GcDocument, GcRemoved,
    ImageProbe, KEYGEN_SCHEMA, KeygenDocument, MAN_SCHEMA, ManDocument, Probed, StartProbe,
    VERIFY_SCHEMA, VerifyDocument,
};

pub mod html;
pub mod show;

use std::fmt::Write;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::outcome::{Outcome, Status, TargetOutcome, TargetRun};

/// Version of the JSON summary of `run` / `prove`.
pub const SUMMARY_SCHEMA: &str = "pp.summary/v1";

/// The `pp.summary/v1` document `pp run --json` and `pp prove --json` print. Field order is
/// API; fields are only ever added within v1, and the optional ones at the end appear only when
/// they have a value.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Summary {
    #[schemars(extend("const" = SUMMARY_SCHEMA))]
    pub schema_version: &'static str,
    pub status: Status,
    /// True exactly when `status` is `proven` or `already_passing`.
    pub success: bool,
    pub attempts_used: u32,
    /// 0 for a success, else the exit code of the first target whose last run failed; `null`
    /// when no target ran (refused by the policy, or stopped before the baseline).
    pub final_exit_code: Option<i32>,
    /// `final.patch` in the bundle; `null` when the session ended before writing one.
    pub final_patch: Option<PathBuf>,
    pub proof_bundle: PathBuf,
    pub session_id: String,
    pub message: String,
    /// What to do about it, when the user can do something.
    pub hint: Option<String>,
    /// Whether `--apply` wrote `final.patch` to the working tree.
    pub applied: bool,
    pub changed_files: Vec<String>,
    /// Every proof target with its exit codes, test counts and durations before and after;
    /// listed even when the session was refused before any ran.
    pub targets: Vec<TargetOutcome>,
    /// The whole session's wall time, in milliseconds.
    pub duration_ms: u64,
    /// `attestation.json`, when the bundle was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<PathBuf>,
    /// The sandbox kept by `--keep-sandbox`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<PathBuf>,
    /// Why `--apply` did not write the patch (the proof itself stands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_refused: Option<String>,
    /// Where the patch came from, when a reviewer should know (a patch found by `search`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_note: Option<String>,
}

/// The JSON summary of a session.
pub fn summary(o: &Outcome) -> Summary {
    Summary {
        schema_version: SUMMARY_SCHEMA,
        status: o.status,
        success: o.status.success(),
        attempts_used: o.attempts_used,
        final_exit_code: o.final_exit_code,
        final_patch: o.final_patch.clone(),
        proof_bundle: o.proof_bundle.clone(),
        session_id: o.session_id.clone(),
        message: o.message.clone(),
        hint: o.hint.clone(),
        applied: o.applied,
        changed_files: o.changed_files.clone(),
        targets: o.targets.clone(),
        duration_ms: o.duration_ms,
        attestation: o.attestation.clone(),
        sandbox: o.sandbox_kept.clone(),
        apply_refused: o.apply_refused.clone(),
        patch_note: o.patch_note.clone(),
    }
}

/// A few lines for a person.
pub fn human_summary(o: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "status: {} (exit {})",
        o.status.as_str(),
        o.status.exit_code()
    );
    let _ = writeln!(s, "{}", o.message);
    if let Some(h) = &o.hint {
        let _ = writeln!(s, "hint: {h}");
    }
    if !o.changed_files.is_empty() {
        let _ = writeln!(s, "changed: {}", o.changed_files.join(", "));
    }
    if let Some(n) = &o.patch_note {
        let _ = writeln!(s, "note: the patch was {n}");
    }
    let _ = writeln!(s, "attempts: {}", o.attempts_used);
    let _ = writeln!(s, "bundle: {}", o.proof_bundle.display());
    if let Some(a) = &o.attestation {
        let _ = writeln!(s, "attestation: {}", a.display());
    }
    if o.applied {
        let _ = writeln!(s, "applied final.patch to the working tree");
    }
    if let Some(r) = &o.apply_refused {
        let _ = writeln!(s, "--apply refused: {r}");
    }
    if let Some(k) = &o.sandbox_kept {
        let _ = writeln!(s, "sandbox kept at {}", k.display());
    }
    s
}

fn excerpt(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let mut out = String::new();
    if start > 0 {
        let _ = writeln!(out, "[… {start} earlier lines …]");
    }
    for l in &lines[start..] {
        let _ = writeln!(out, "{l}");
    }
    out
}

fn tests_cell(r: &TargetRun) -> String {
    match &r.tests {
        Some(t) => format!("{} ran, {} passed, {} failed", t.ran, t.passed, t.failed),
        None => "—".to_owned(),
    }
}

/// `final_summary.md`: what failed, what changed, before/after, how to replay.
pub fn final_summary(
    o: &Outcome,
    baseline: &[TargetRun],
    final_runs: &[TargetRun],
    patch: Option<&str>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# pp proof summary\n");
    let _ = writeln!(
        s,
        "- **Status:** `{}` (exit {})",
        o.status.as_str(),
        o.status.exit_code()
    );
    let _ = writeln!(s, "- **Session:** `{}`", o.session_id);
    let _ = writeln!(s, "- **Attempts used:** {}", o.attempts_used);
    let _ = writeln!(s, "- **Result:** {}", o.message);
    if let Some(h) = &o.hint {
        let _ = writeln!(s, "- **Hint:** {h}");
    }
    let _ = writeln!(s, "\n## Before and after\n");
    let _ = writeln!(
        s,
        "| target | command | before (exit) | before (tests) | after (exit) | after (tests) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for t in &o.targets {
        let b = baseline.iter().find(|r| r.target == t.name);
        let a = final_runs.iter().find(|r| r.target == t.name);
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {} | {} |",
            t.name,
            t.command.replace('|', "\\|"),
            b.map(|r| r.capture.exit_code.to_string())
                .unwrap_or_else(|| "—".into()),
            b.map(tests_cell).unwrap_or_else(|| "—".into()),
            a.map(|r| r.capture.exit_code.to_string())
                .unwrap_or_else(|| "—".into()),
            a.map(tests_cell).unwrap_or_else(|| "—".into()),
        );
    }
    let failing: Vec<&TargetRun> = baseline.iter().filter(|r| !r.passed()).collect();
    if !failing.is_empty() {
        let _ = writeln!(s, "\n## What failed\n");
        for r in failing {
            let _ = writeln!(
                s,
                "`{}` exited with {}. Last lines of its output:\n\n```text\n{}```\n",
                r.capture.command,
                r.capture.exit_code,
                excerpt(&r.capture.combined_tail(), 30)
            );
        }
    }
    match patch.filter(|p| !p.is_empty()) {
        Some(p) => {
            let _ = writeln!(
                s,
                "\n## What changed\n\nFiles: {}\n",
                o.changed_files.join(", ")
            );
            if let Some(n) = &o.patch_note {
                let _ = writeln!(s, "**Note:** the patch was {n}.\n");
            }
            let _ = writeln!(s, "```diff\n{}```", excerpt(p, 200));
        }
        None => {
            let _ = writeln!(
                s,
                "\n## What changed\n\nNothing: no candidate was accepted."
            );
        }
    }
    let _ = writeln!(s, "\n## Verification\n");
    match o.status {
        Status::Proven => {
            let _ = writeln!(
                s,
                "Every proof target exited 0 with the patch applied, and the test counts held against the baseline."
            );
        }
        _ => {
            let _ = writeln!(s, "No proof: {}", o.message);
        }
    }
    let _ = writeln!(
        s,
        "\n## Replay\n\n```sh\npp verify-attestation {0}\npp replay {0}\n```",
        o.proof_bundle.display()
    );
    s
}
