//! The finish: minimize the winner, write the rest of the bundle (`final.patch`,
//! `environment.json`, `final_summary.md`, the finished `repro.json`), remove or keep the
//! sandbox, `--apply`, and sign last. Returns the [`Outcome`] the report renders.

use std::time::Instant;

use super::attempt::{Attempter, Winner};
use super::decide::End;
use super::events::Event;
use super::recorder::Recorder;
use super::{Outcome, Status, TargetOutcome, TargetRun, minimize};
use crate::error::Error;
use crate::sandbox::Sandbox;
use crate::settings::Settings;

/// What the loop left: how it ended, and the winner with its attempter when proven.
pub(super) struct Ended<'s> {
    pub end: End,
    pub winner: Option<(Winner, Attempter<'s>)>,
}

/// Writes the rest of the bundle, cleans up, signs, applies; the outcome for the report.
pub(super) async fn finish(
    settings: &Settings,
    mut rec: Recorder,
    sandbox: Option<Sandbox>,
    ended: Ended<'_>,
) -> Result<Outcome, Error> {
    if let Some((w, bench)) = &ended.winner {
        let (patch_text, files) = minimize::minimized(settings, &mut rec, bench, w).await;
        rec.winner_patch = Some(patch_text);
        rec.changed_files = files;
    }
    let final_patch = rec.final_patch()?;
    let sandbox_kept = teardown(settings, &mut rec, sandbox);
    rec.environment(settings)?;
    let mut outcome = outcome(settings, &rec, ended.end, final_patch, sandbox_kept);
    if let Some((w, bench)) = &ended.winner {
        outcome.patch_note = bench.search_note(w.attempt);
    }
    if settings.apply && outcome.status == Status::Proven {
        apply(settings, &rec, &mut outcome);
    }
    let summary = crate::report::final_summary(
        &outcome,
        &rec.baseline,
        &rec.final_runs,
        rec.winner_patch.as_deref(),
    );
    rec.final_summary(&summary)?;
    if settings.attest.enabled {
        rec.event(Event::Signing {
            mode: serde_json::to_value(settings.attest.mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        });
    }
    rec.event(Event::SessionEnd {
        status: outcome.status.into(),
        success: outcome.status.success(),
        attempts_used: outcome.attempts_used,
        applied: outcome.applied,
        message: outcome.message.clone(),
    });
    rec.repro(settings, Some(&outcome))?;
    // Signing comes last: nothing may be written to the bundle after it.
    if settings.attest.enabled {
        outcome.attestation = Some(super::sign::sign_bundle(settings, rec.dir())?);
    }
    outcome.duration_ms = rec.elapsed_ms();
    Ok(outcome)
}

/// Keeps the sandbox (`--keep-sandbox`: its path) or removes it.
fn teardown(
    settings: &Settings,
    rec: &mut Recorder,
    sandbox: Option<Sandbox>,
) -> Option<std::path::PathBuf> {
    let clock = Instant::now();
    match sandbox {
        Some(s) if settings.keep_sandbox => Some(s.keep()),
        Some(s) => {
            if let Err(e) = s.cleanup() {
                tracing::warn!("{e}");
            }
            rec.sandbox_removed(clock.elapsed());
            None
        }
        None => None,
    }
}

fn outcome(
    settings: &Settings,
    rec: &Recorder,
    end: End,
    final_patch: std::path::PathBuf,
    sandbox_kept: Option<std::path::PathBuf>,
) -> Outcome {
    let run_of = |runs: &'_ [TargetRun], name: &str| -> Option<TargetRun> {
        runs.iter().find(|r| r.target == name).cloned()
    };
    let target = |name: &str, command: String| {
        let (before, after) = (run_of(&rec.baseline, name), run_of(&rec.final_runs, name));
        TargetOutcome {
            name: name.to_owned(),
            command,
            baseline_exit_code: before.as_ref().map(|r| r.capture.exit_code),
            final_exit_code: after.as_ref().map(|r| r.capture.exit_code),
            baseline_tests: before
                .as_ref()
                .and_then(|r| r.tests.as_ref())
                .map(Into::into),
            final_tests: after
                .as_ref()
                .and_then(|r| r.tests.as_ref())
                .map(Into::into),
            baseline_duration_ms: before.as_ref().map(|r| r.capture.duration_ms),
            final_duration_ms: after.as_ref().map(|r| r.capture.duration_ms),
        }
    };
    let targets = if rec.targets.is_empty() {
        // Refused before they were resolved (a command the policy does not allow): listed as
        // asked for, none of them ran.
        settings
            .targets
            .iter()
            .map(|t| target(&t.name, spec_command(t)))
            .collect()
    } else {
        rec.targets
            .iter()
            .map(|t| target(&t.name, t.invocation.display()))
            .collect()
    };
    Outcome {
        status: end.status,
        session_id: rec.session_id.clone(),
        attempts_used: rec.attempts_used,
        final_exit_code: final_exit(rec, end.status),
        duration_ms: rec.elapsed_ms(),
        proof_bundle: rec.dir().to_owned(),
        final_patch: Some(final_patch),
        attestation: None,
        message: end.message,
        hint: end.hint,
        applied: false,
        apply_refused: None,
        sandbox_kept,
        targets,
        changed_files: rec.changed_files.clone(),
        patch_note: None,
        patch: rec.winner_patch.clone().filter(|p| !p.is_empty()),
        failures: rec.failures.clone(),
    }
}

/// A target's command as the policy file spells it (`cmd`, or `argv` joined with shell quoting).
fn spec_command(t: &crate::policy::TargetSpec) -> String {
    match (&t.cmd, &t.argv) {
        (Some(cmd), _) => cmd.clone(),
        (None, Some(argv)) => {
            shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
        }
        (None, None) => String::new(),
    }
}

/// The exit code the summary reports: `None` when no target ran (refused, or stopped before
/// the baseline), 0 for a success, else the first failed run's.
fn final_exit(rec: &Recorder, status: Status) -> Option<i32> {
    if rec.baseline.is_empty() && rec.final_runs.is_empty() {
        return None;
    }
    if status.success() {
        return Some(0);
    }
    Some(
        rec.final_runs
            .iter()
            .chain(rec.baseline.iter())
            .find(|r| !r.passed())
            .map(|r| r.capture.exit_code)
            .unwrap_or(0),
    )
}

/// `--apply`: the proof stands whatever happens here; a refusal is reported beside it.
fn apply(settings: &Settings, rec: &Recorder, outcome: &mut Outcome) {
    let Some(patch_text) = &rec.winner_patch else {
        return;
    };
    match super::apply::apply_to_workspace(settings, rec.writer(), patch_text) {
        Ok(()) => {
            outcome.applied = true;
            rec.event(Event::Applied {
                workspace: settings.workspace.clone(),
            });
        }
        Err(e) => {
            tracing::warn!("{e}");
            let (message, hint) = (e.to_string(), e.hint());
            outcome.apply_refused = Some(message);
            if outcome.hint.is_none() {
                outcome.hint = hint;
            }
        }
    }
}
