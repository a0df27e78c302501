//! What users read: the `pp.summary/v1` JSON document, the short human summary on stdout, and
//! `final_summary.md` in the bundle. Pure rendering; the caller prints or writes.

use std::fmt::Write;

use serde_json::json;

use crate::outcome::{Outcome, Status, TargetRun};

/// Version of the JSON summary of `run` / `prove`.
pub const SUMMARY_SCHEMA: &str = "pp.summary/v1";

/// The JSON summary of a session (DESIGN §1); additive fields only within v1.
pub fn summary_json(o: &Outcome) -> serde_json::Value {
    let mut v = json!({
        "schema_version": SUMMARY_SCHEMA,
        "status": o.status,
        "success": o.status.success(),
        "attempts_used": o.attempts_used,
        "final_exit_code": o.final_exit_code,
        "final_patch": o.final_patch,
        "proof_bundle": o.proof_bundle,
        "session_id": o.session_id,
        "message": o.message,
        "hint": o.hint,
        "applied": o.applied,
        "changed_files": o.changed_files,
        "targets": o.targets,
    });
    if let Some(a) = &o.attestation {
        v["attestation"] = json!(a);
    }
    if let Some(k) = &o.sandbox_kept {
        v["sandbox"] = json!(k);
    }
    if let Some(r) = &o.apply_refused {
        v["apply_refused"] = json!(r);
    }
    if let Some(n) = &o.patch_note {
        v["patch_note"] = json!(n);
    }
    v
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
