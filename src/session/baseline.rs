//! The baseline stage: run every target on the untouched sandbox, classify the failure, and
//! rerun the failing targets to check it recurs. Returns the [`Baseline`] the attempts work
//! against, or how the session ends (`already_passing`, `infra_stop`, `not_reproducible`);
//! which, `decide` says.

use std::ops::ControlFlow;

use super::decide::{self, End};
use super::events::{Event, Phase};
use super::recorder::{Provenance, Recorder};
use super::verify::{FailingFirst, Runner};
use crate::bundle::schema::RunSummary;
use crate::context::Classification;
use crate::error::Error;
use crate::outcome::TargetRun;
use crate::policy::Target;
use crate::settings::Settings;

/// A failure worth proving a fix for: it is the code's, and it recurs.
pub(super) struct Baseline {
    /// The baseline's failed runs: the evidence a proposer gets.
    pub failed: Vec<TargetRun>,
    /// The failing targets narrowed to their failing tests, for staged runs.
    pub first: FailingFirst,
}

/// The runs as the events summarise them.
fn summaries(runs: &[TargetRun]) -> Vec<RunSummary> {
    runs.iter().map(TargetRun::summary).collect()
}

/// Runs the baseline (into `rec.baseline`), records the user's tree's provenance once the
/// background task is done, and checks the failure.
pub(super) async fn establish(
    settings: &Settings,
    rec: &mut Recorder,
    runner: &Runner,
    provenance: tokio::task::JoinHandle<Provenance>,
) -> Result<ControlFlow<End, Baseline>, Error> {
    let base_dir = rec.path("attempts/0_baseline");
    rec.baseline = runner
        .run_all(&rec.targets, &base_dir, Phase::Baseline)
        .await?;
    rec.provenance(settings, provenance).await?;
    rec.event(Event::Baseline {
        runs: summaries(&rec.baseline),
    });
    if let Some(end) = decide::after_baseline(&rec.baseline) {
        rec.classification = rec
            .baseline
            .iter()
            .filter(|r| !r.passed())
            .map(|r| &r.classification)
            .find(|c| matches!(c, Classification::Infra { .. }))
            .cloned();
        rec.final_runs = rec.baseline.clone();
        return Ok(ControlFlow::Break(end));
    }
    rec.classification = Some(Classification::Code);
    let failing: Vec<Target> = rec
        .targets
        .iter()
        .filter(|t| {
            rec.baseline
                .iter()
                .any(|r| r.target == t.name && !r.passed())
        })
        .cloned()
        .collect();
    let policy = &settings.doc().policy;
    let mut first = FailingFirst::new(&rec.targets, &rec.baseline, policy.failing_first);
    // Reproduce: a failure that does not recur is flaky, and no proof can rest on it. The
    // failing tests alone are enough to see it recur.
    for k in 1..=policy.reproduce_runs {
        let reruns = runner
            .rerun_failing(
                &mut first,
                &failing,
                &base_dir.join(format!("rerun_{k}")),
                Phase::Reproduce { run: k },
            )
            .await?;
        rec.event(Event::Reproduce {
            run: k,
            runs: summaries(&reruns),
        });
        if let Some(end) = decide::after_rerun(k, &reruns) {
            record(rec, &first)?;
            rec.final_runs = rec.baseline.clone();
            return Ok(ControlFlow::Break(end));
        }
    }
    record(rec, &first)?;
    let failed = rec.baseline.iter().filter(|r| !r.passed()).cloned();
    Ok(ControlFlow::Continue(Baseline {
        failed: failed.collect(),
        first,
    }))
}

/// Records how the failing targets are narrowed: `attempts/0_baseline/failing_first.json`.
fn record(rec: &Recorder, first: &FailingFirst) -> Result<(), Error> {
    rec.event(Event::FailingFirst {
        selection: first.notes(),
    });
    rec.writer()
        .write_json("attempts/0_baseline/failing_first.json", &first.notes())?;
    Ok(())
}
