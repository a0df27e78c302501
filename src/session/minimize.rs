//! Minimization: the winning diff without the hunks the proof does not need. Subsets are
//! applied to the same sandbox, verified, and undone (delta debugging, `patch::minimize`), at
//! most [`MINIMIZE_MAX_RUNS`] runs. Anything going wrong falls back to the whole winner.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::attempt::{Attempter, Winner};
use super::events::{Event, Phase};
use super::recorder::Recorder;
use crate::bundle::schema::{MinimizationRecord, MinimizeRunRecord};
use crate::exec::ExecError;
use crate::patch;
use crate::settings::Settings;

/// Verification runs minimization may spend; ddmin's own worst case (n² + 3n) bounds it below
/// this for small patches.
const MINIMIZE_MAX_RUNS: usize = 16;

/// The winning diff, minimized when the policy asks and there is more than one hunk, and the
/// files it changes.
pub(super) async fn minimized(
    settings: &Settings,
    rec: &mut Recorder,
    bench: &Attempter<'_>,
    w: &Winner,
) -> (String, Vec<String>) {
    rec.event(Event::Winner { attempt: w.attempt });
    let whole = (w.changes.diff(), w.changes.changed_paths());
    let units = patch::hunks(&w.patch);
    if !settings.doc().policy.minimize || units.len() < 2 {
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
    let counter = Arc::new(AtomicUsize::new(0));
    let (baseline, targets) = (&rec.baseline, &rec.targets);
    let result = patch::minimize(units.len(), MINIMIZE_MAX_RUNS, |subset: Vec<usize>| {
        let k = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let dir = rec.path(&format!("attempts/{}/minimize", w.attempt));
        let phase = Phase::Minimize {
            attempt: w.attempt,
            run: u32::try_from(k).unwrap_or(u32::MAX),
        };
        async move {
            let sub = patch::sub_patch(&w.patch, &subset);
            let Ok(changes) = patch::apply(&bench.root, &sub, &bench.rules) else {
                return Ok::<bool, ExecError>(false);
            };
            let verification = bench
                .runner
                .verify_staged(
                    baseline,
                    targets,
                    &bench.first,
                    (&dir.join(format!("failing_first_{k}")), phase),
                    (&dir.join(format!("run_{k}")), phase),
                )
                .await;
            let undo = changes.undo(&bench.root);
            Ok(undo.is_ok() && verification?.passed)
        }
    })
    .await;
    let m = match result {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("minimization stopped: {e}");
            return whole;
        }
    };
    let mut kept_paths: Vec<String> = m
        .kept
        .iter()
        .filter_map(|i| units.get(*i))
        .map(|u| u.path.clone())
        .collect();
    kept_paths.dedup();
    let all_kept = m.kept.len() == units.len();
    let subset = (!all_kept).then(|| patch::render_subset(&w.patch, &m.kept));
    rec.minimized(MinimizationRecord {
        hunks_before: units.len(),
        hunks_after: m.kept.len(),
        runs: m
            .runs
            .into_iter()
            .map(|r| MinimizeRunRecord {
                subset: r.subset,
                passed: r.passed,
            })
            .collect(),
        kept: m.kept,
        max_runs: MINIMIZE_MAX_RUNS,
        exhausted: m.exhausted,
    });
    match subset {
        Some(text) => (text, kept_paths),
        None => whole,
    }
}
