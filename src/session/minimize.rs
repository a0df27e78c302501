//! Minimization: the winning diff without the hunks the proof does not need. Subsets are
//! applied to the same sandbox, verified, and undone (delta debugging, `patch::minimize`), at
//! most [`MINIMIZE_MAX_RUNS`] runs. Anything going wrong falls back to the whole winner.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::attempt::{Attempter, Winner};
use super::events::{Event, Phase};
use super::recorder::Recorder;
use crate::bundle::schema::{LineMinimizationRecord, MinimizationRecord, MinimizeRunRecord};
use crate::exec::ExecError;
use crate::patch::{self, Patch};
use crate::settings::Settings;

/// Verification runs minimization may spend; ddmin's own worst case (n² + 3n) bounds it below
/// this for small patches.
const MINIMIZE_MAX_RUNS: usize = 16;

/// The winning diff, minimized when the policy asks and there is something to drop, and the
/// files it changes. Two passes share the run budget: hunks first, then the changed lines of
/// the hunks kept (a replaced line, its deletion and insertion, counts once), so a rewrite whose
/// needed lines share a hunk with noise (a reworded docstring beside the fix) still shrinks.
pub(super) async fn minimized(
    settings: &Settings,
    rec: &mut Recorder,
    bench: &Attempter<'_>,
    w: &Winner,
) -> (String, Vec<String>) {
    rec.event(Event::Winner { attempt: w.attempt });
    let whole = (w.changes.diff(), w.changes.changed_paths());
    let units = patch::hunks(&w.patch);
    let finer = |p: &Patch| patch::changed_lines(p) > patch::hunks(p).len();
    if !settings.doc().policy.minimize || (units.len() < 2 && !finer(&w.patch)) {
        return whole;
    }
    if let Err(e) = w.changes.undo(&bench.root) {
        tracing::warn!("minimization skipped: failed to undo the winner: {e}");
        return whole;
    }
    rec.event(Event::Minimize {
        attempt: w.attempt,
        hunks: units.len(),
    });
    let trials = Trials {
        bench,
        rec,
        attempt: w.attempt,
        count: AtomicUsize::new(0),
    };
    let by_hunks = if units.len() >= 2 {
        let run = patch::minimize(units.len(), MINIMIZE_MAX_RUNS, |subset: Vec<usize>| {
            trials.run(patch::sub_patch(&w.patch, &subset))
        });
        match run.await {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!("minimization stopped: {e}");
                return whole;
            }
        }
    } else {
        None
    };
    let after_hunks = match &by_hunks {
        Some(m) => patch::sub_patch(&w.patch, &m.kept),
        None => w.patch.clone(),
    };
    let spent = by_hunks.as_ref().map_or(0, |m| m.runs.len());
    let left = MINIMIZE_MAX_RUNS.saturating_sub(spent);
    let lines = patch::changed_lines(&after_hunks);
    let by_lines = if left > 0 && finer(&after_hunks) {
        let run = patch::minimize(lines, left, |subset: Vec<usize>| {
            trials.run(patch::sub_patch_lines(&after_hunks, &subset))
        });
        run.await
            .inspect_err(|e| tracing::warn!("line minimization stopped: {e}"))
            .ok()
    } else {
        None
    };
    let result = match &by_lines {
        Some(m) => patch::sub_patch_lines(&after_hunks, &m.kept),
        None => after_hunks,
    };
    let unchanged = by_hunks
        .as_ref()
        .is_none_or(|m| m.kept.len() == units.len())
        && by_lines.as_ref().is_none_or(|m| m.kept.len() == lines);
    let (text, paths) = if unchanged {
        whole
    } else {
        let mut paths: Vec<String> = result.files.iter().map(|f| f.path().to_owned()).collect();
        paths.dedup();
        (patch::render(&result), paths)
    };
    let record = |runs: Vec<patch::MinimizeRun>| {
        runs.into_iter()
            .map(|r| MinimizeRunRecord {
                subset: r.subset,
                passed: r.passed,
            })
            .collect()
    };
    let (kept, runs, exhausted) = match by_hunks {
        Some(m) => (m.kept, record(m.runs), m.exhausted),
        None => ((0..units.len()).collect(), Vec::new(), false),
    };
    rec.minimized(MinimizationRecord {
        hunks_before: units.len(),
        hunks_after: kept.len(),
        kept,
        runs,
        max_runs: MINIMIZE_MAX_RUNS,
        exhausted,
        lines: by_lines.map(|m| LineMinimizationRecord {
            units_before: lines,
            units_after: m.kept.len(),
            kept: m.kept,
            runs: record(m.runs),
            exhausted: m.exhausted,
        }),
        patch_bytes_before: w.changes.diff().len(),
        patch_bytes_after: text.len(),
    });
    (text, paths)
}

/// Minimization's verification runs: apply a sub-patch in the sandbox, verify it (the failing
/// tests alone, then every target), undo it. Logs under `attempts/<n>/minimize/`.
struct Trials<'a, 's> {
    bench: &'a Attempter<'s>,
    rec: &'a Recorder,
    attempt: u32,
    count: AtomicUsize,
}

impl Trials<'_, '_> {
    async fn run(&self, sub: Patch) -> Result<bool, ExecError> {
        let k = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let dir = self
            .rec
            .path(&format!("attempts/{}/minimize", self.attempt));
        let phase = Phase::Minimize {
            attempt: self.attempt,
            run: u32::try_from(k).unwrap_or(u32::MAX),
        };
        let bench = self.bench;
        let Ok(changes) = patch::apply(&bench.root, &sub, &bench.rules) else {
            return Ok(false);
        };
        let verification = bench
            .runner
            .verify_staged(
                &self.rec.baseline,
                &self.rec.targets,
                &bench.first,
                (&dir.join(format!("failing_first_{k}")), phase),
                (&dir.join(format!("run_{k}")), phase),
            )
            .await;
        let undo = changes.undo(&bench.root);
        Ok(undo.is_ok() && verification?.passed)
    }
}
