//! The session's top function: the pipeline of DESIGN §3, stage by stage. Each stage returns
//! a named value or how the session ends (`ControlFlow::Break`); the attempt loop asks
//! `decide::next` what to do after each attempt.

use std::ops::ControlFlow;

use super::attempt::{AttemptOutcome, Attempter};
use super::baseline;
use super::decide::{self, Budget, End, Next};
use super::events::{Event, Watchers};
use super::finish::{self, Ended};
use super::recorder::Recorder;
use super::setup;
use super::{Outcome, Status};
use crate::bundle::schema::AttemptKind;
use crate::error::Error;
use crate::exec::{Cancel, ExecError};
use crate::outcome::FailureMark;
use crate::propose::ProviderSpec;
use crate::sandbox::Sandbox;
use crate::settings::Settings;

/// Proves the settings' targets; always leaves a bundle behind.
/// `watchers` see every event as it is recorded (`--events`, the progress display).
pub async fn run_session(
    settings: &Settings,
    cancel: Cancel,
    watchers: Watchers,
) -> Result<Outcome, Error> {
    let mut rec = Recorder::open(settings, watchers)?;
    let mut sandbox: Option<Sandbox> = None;
    let ended = match prove(settings, &mut rec, &mut sandbox, &cancel).await {
        Ok(ended) => ended,
        Err(Error::Exec(ExecError::Interrupted { .. }) | Error::Interrupted) => Ended {
            end: End::new(
                Status::Interrupted,
                "interrupted by a signal; the sandbox was removed",
                None,
            ),
            winner: None,
        },
        Err(e) => {
            rec.event(Event::Error {
                message: e.to_string(),
            });
            let _ = rec.repro(settings, None);
            return Err(e);
        }
    };
    finish::finish(settings, rec, sandbox, ended).await
}

/// Setup → workbench → baseline → attempts; how the session ended.
async fn prove<'s>(
    settings: &'s Settings,
    rec: &mut Recorder,
    sandbox: &mut Option<Sandbox>,
    cancel: &Cancel,
) -> Result<Ended<'s>, Error> {
    let stop = |end| Ok(Ended { end, winner: None });
    let plan = match setup::plan(settings, rec).await {
        ControlFlow::Continue(plan) => plan,
        ControlFlow::Break(end) => return stop(end),
    };
    let mut provenance = Some(setup::provenance(settings));
    // Kept to open more sandboxes of the same kind when candidates (`policy.candidates`) or
    // search trials are verified at once; none is opened unless needed.
    let lanes = Some(plan.clone());
    let runner =
        match setup::open_workbench(settings, rec, plan, &mut provenance, sandbox, cancel).await? {
            ControlFlow::Continue(runner) => runner,
            ControlFlow::Break(end) => return stop(end),
        };
    let Some(provenance) = provenance else {
        return Err(Error::Bug("the workspace was hashed twice"));
    };
    let baseline = match baseline::establish(settings, rec, &runner, provenance).await? {
        ControlFlow::Continue(b) => b,
        ControlFlow::Break(end) => return stop(end),
    };
    let attempter = Attempter::new(settings, rec, runner, &baseline, lanes)?;
    rec.failures = failure_marks(&attempter.context);
    attempts(settings, rec, attempter, cancel).await
}

/// The workspace positions of the failure evidence, editable ones first, then the project's
/// other files it names (tests, protected files), each once; a message from the output where
/// the position has none of its own.
fn failure_marks(ctx: &crate::context::FailureContext) -> Vec<FailureMark> {
    let mut marks: Vec<FailureMark> = Vec::new();
    for loc in ctx.locations.iter().chain(&ctx.hints) {
        if !loc.in_workspace
            || marks
                .iter()
                .any(|m| m.path == loc.path && m.line == loc.line)
        {
            continue;
        }
        marks.push(FailureMark {
            path: loc.path.clone(),
            line: loc.line,
            column: loc.column,
            message: loc
                .message
                .clone()
                .or_else(|| ctx.assertions.first().cloned()),
        });
    }
    marks
}

/// Attempts until `decide::next` says the session ends.
async fn attempts<'s>(
    settings: &'s Settings,
    rec: &mut Recorder,
    attempter: Attempter<'s>,
    cancel: &Cancel,
) -> Result<Ended<'s>, Error> {
    let budget = Budget {
        max_attempts: settings.doc().policy.limits.max_attempts,
        deterministic: !settings.chain.iter().any(ProviderSpec::is_model),
    };
    let mut history: Vec<AttemptOutcome> = Vec::new();
    loop {
        let verdicts: Vec<AttemptKind> = history.iter().map(AttemptOutcome::kind).collect();
        let end = match decide::next(&verdicts, budget) {
            Next::Attempt { number, whole_file } => {
                if cancel.is_cancelled() {
                    return Err(Error::Interrupted);
                }
                rec.attempts_used = number;
                let outcome = attempter.attempt(number, whole_file, &history, rec).await?;
                let (kind, rule) = (outcome.kind(), outcome.rule());
                rec.attempt(number, kind, rule, outcome.feedback(), outcome.diff())?;
                history.push(outcome);
                continue;
            }
            Next::Proven { attempt } => match history.pop() {
                Some(AttemptOutcome::Passed { winner, .. }) => {
                    let end =
                        End::new(Status::Proven, format!("proven in attempt {attempt}"), None);
                    return Ok(Ended {
                        end,
                        winner: Some((*winner, attempter)),
                    });
                }
                _ => return Err(Error::Bug("a proof without a passing attempt")),
            },
            Next::ProposerUnusable => match history.pop() {
                Some(AttemptOutcome::ProposerUnusable { message, hint, .. }) => End {
                    status: Status::InfraStop,
                    message,
                    hint,
                },
                _ => return Err(Error::Bug("an unusable proposer that answered")),
            },
            Next::Exhausted => {
                if rec.final_runs.is_empty() {
                    rec.final_runs = rec.baseline.clone();
                }
                let chain = &settings.chain;
                let model = chain.iter().any(ProviderSpec::is_model);
                decide::not_proven(
                    rec.attempts_used,
                    model,
                    chain.contains(&ProviderSpec::Suggest) || chain.contains(&ProviderSpec::Search),
                )
            }
        };
        return Ok(Ended { end, winner: None });
    }
}
