//! Several candidates per attempt (`policy.candidates`), verified at once. Each candidate of an
//! answer is read and checked like a single one (same parse, same policy, same staged
//! verification: the failing tests alone, then every target, which remains the proof), in a
//! sandbox of its own: the session's, or one of the [`Lanes`] opened beside it through the
//! same workbench, at most `policy.parallelism` at a time. The smallest candidate that passes
//! wins. Every candidate is recorded under `attempts/<n>/candidates/<i>/`, with
//! `attempts/<n>/candidates.json` listing the verdicts; an answer with one candidate keeps the
//! single-candidate layout (`attempt`).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use super::attempt::{
    AttemptOutcome, Attempter, Winner, same_change, tail_chars, verification_feedback,
};
use super::events::{CandidateVerdict, Event, Phase};
use super::recorder::Recorder;
use super::verify::{Runner, TargetRun};
use super::workbench::{self, Plan};
use crate::error::Error;
use crate::patch::{self, Patch};
use crate::propose::Exchange;
use crate::sandbox::Sandbox;
use crate::settings::Settings;

/// Bytes of each candidate's feedback passed on to the next attempt.
const FEEDBACK_PER_CANDIDATE: usize = 3000;

/// A sandbox beside the session's own and the runner of its commands.
pub(super) struct Lane {
    runner: Runner,
    /// Held for the runner's sake: dropping it removes the sandbox (its guard does, should pp
    /// die), as for the session's own.
    _sandbox: Sandbox,
}

/// The sandboxes beyond the session's own: opened when first needed, through the one
/// workbench path, and kept for the session so their build caches stay warm, as the first's
/// do. They go when the attempter goes (at the session's end, on an error or an interrupt);
/// `--keep-sandbox` keeps only the session's own.
pub(super) struct Lanes {
    plan: Option<Plan>,
    open: RefCell<Vec<Lane>>,
}

impl Lane {
    /// `base` (the session's runner, or search's with its shorter limit) running its commands
    /// in this sandbox instead.
    pub fn runner(&self, base: &Runner) -> Runner {
        Runner {
            cwd: self.runner.cwd.clone(),
            files: self.runner.files.clone(),
            isolation: self.runner.isolation.clone(),
            watch: self.runner.watch.clone(),
            ..base.clone()
        }
    }
}

impl Lanes {
    pub fn new(plan: Option<Plan>) -> Self {
        Self {
            plan,
            open: RefCell::default(),
        }
    }

    /// At least `extra` sandboxes beside the session's own (fewer when one cannot be made:
    /// the work then shares the ones there are). Taken out; [`Lanes::put_back`] returns them.
    pub fn take(&self, settings: &Settings, base: &Runner, extra: usize) -> Vec<Lane> {
        let mut lanes = std::mem::take(&mut *self.open.borrow_mut());
        while lanes.len() < extra {
            let Some(plan) = self.plan.clone() else { break };
            match open_lane(settings, plan, base) {
                Ok(l) => lanes.push(l),
                Err(e) => {
                    tracing::warn!("cannot open another sandbox; verifying fewer at once: {e}");
                    break;
                }
            }
        }
        lanes
    }

    pub fn put_back(&self, lanes: Vec<Lane>) {
        *self.open.borrow_mut() = lanes;
    }
}

/// Another sandbox of the workspace, made like the session's (`workbench::open`: same backend,
/// same confinement; a container per command for `container`), and `base` pointed at it.
fn open_lane(settings: &Settings, plan: Plan, base: &Runner) -> Result<Lane, Error> {
    let p = &settings.doc().policy;
    let bench = workbench::open(
        &settings.workspace,
        p.sandbox.backend,
        &p.sandbox.exclude,
        &settings.self_exe,
        plan,
    )?;
    let runner = Runner {
        cwd: bench.sandbox.command_cwd().to_owned(),
        files: bench.sandbox.root().to_owned(),
        isolation: bench.isolation,
        watch: bench.sandbox.group_watch(),
        ..base.clone()
    };
    Ok(Lane {
        runner,
        _sandbox: bench.sandbox,
    })
}

/// Polls every future until all are done; their outputs in order. The futures share one
/// task (they borrow the session), so "at once" is concurrency, and the commands they wait
/// for run in parallel.
pub(super) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// A candidate that parsed, waiting for a sandbox.
struct Parsed {
    index: u32,
    diff: String,
    patch: Patch,
}

/// What became of one candidate, as `candidates/<i>/verdict.json` and `candidates.json` say.
#[derive(Debug, Clone, Serialize)]
struct Judged {
    candidate: u32,
    verdict: CandidateVerdict,
    /// The rule that refused it (`rejected`, `duplicate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
    /// What failed, as the next attempt is told.
    feedback: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff_sha256: Option<String>,
    /// Lines the candidate changes (a replaced line counts once): what "smallest" compares.
    #[serde(skip_serializing_if = "Option::is_none")]
    changed_lines: Option<usize>,
    /// The sandbox it ran in (0 is the session's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox: Option<u32>,
    duration_ms: u64,
    #[serde(skip)]
    diff: Option<String>,
    #[serde(skip)]
    applied: Option<String>,
    /// An earlier attempt that made the same change.
    #[serde(skip)]
    same_as_attempt: Option<u32>,
    #[serde(skip)]
    patch: Option<Patch>,
    #[serde(skip)]
    runs: Vec<TargetRun>,
}

impl Judged {
    fn early(index: u32, verdict: CandidateVerdict, rule: Option<&str>, feedback: String) -> Self {
        Self {
            candidate: index,
            verdict,
            rule: rule.map(str::to_owned),
            feedback,
            diff_sha256: None,
            changed_lines: None,
            sandbox: None,
            duration_ms: 0,
            diff: None,
            applied: None,
            same_as_attempt: None,
            patch: None,
            runs: Vec::new(),
        }
    }

    fn with_diff(mut self, diff: &str, patch: &Patch) -> Self {
        self.diff_sha256 = Some(crate::digest::sha256_hex(diff.as_bytes()));
        self.changed_lines = Some(patch::changed_lines(patch));
        self.diff = Some(diff.to_owned());
        self
    }
}

/// Checks, applies and verifies every candidate of `exchange` (attempt `n`), each in its own
/// sandbox, `policy.parallelism` at a time; the smallest that passes wins and is applied to
/// the session's sandbox for minimization. Every other candidate is undone where it ran.
pub(super) async fn judge_all(
    att: &Attempter<'_>,
    n: u32,
    exchange: &Exchange,
    history: &[AttemptOutcome],
    rec: &mut Recorder,
) -> Result<AttemptOutcome, Error> {
    let mut judged: Vec<Judged> = Vec::new();
    let mut queue: Vec<Parsed> = Vec::new();
    for ((raw, proposal), index) in exchange.candidates().into_iter().zip(1u32..) {
        let dir = format!("candidates/{index}");
        rec.attempt_bytes(n, &format!("{dir}/reply.txt"), raw.as_bytes())?;
        let early = |verdict, rule: Option<&str>, feedback: String| {
            Judged::early(index, verdict, rule, feedback)
        };
        let Some(body) = proposal.body.as_ref() else {
            let why = proposal.empty_reason.clone().unwrap_or_default();
            judged.push(early(
                CandidateVerdict::NoChange,
                None,
                format!("no change was proposed: {why}"),
            ));
            continue;
        };
        // The session's sandbox holds the original source here: whole-file rewrites are
        // diffed against it, as for a single candidate.
        let candidate = patch::candidate_diff(&att.root, body)
            .and_then(|d| patch::parse(&d).map(|p| (patch::render(&p), p)));
        let (diff, parsed) = match candidate {
            Ok(x) => x,
            Err(rej) => {
                rec.attempt_json(
                    n,
                    &format!("{dir}/apply.json"),
                    &json!({"applied": false, "rejection": rej}),
                )?;
                judged.push(early(
                    CandidateVerdict::Rejected,
                    Some(rej.rule()),
                    rej.feedback(),
                ));
                continue;
            }
        };
        rec.attempt_bytes(n, &format!("{dir}/candidate.diff"), diff.as_bytes())?;
        if let Some(same) = queue.iter().find(|q| q.diff == diff) {
            let feedback = format!(
                "the same diff as candidate {} of this attempt: verified once",
                same.index
            );
            judged.push(
                early(CandidateVerdict::Duplicate, Some("duplicate"), feedback)
                    .with_diff(&diff, &parsed),
            );
            continue;
        }
        queue.push(Parsed {
            index,
            diff,
            patch: parsed,
        });
    }
    for j in &judged {
        rec.event(Event::CandidateStart {
            attempt: n,
            candidate: j.candidate,
            sandbox: None,
        });
        verdict_event(rec, n, j);
    }
    let p = &att.settings.doc().policy;
    let wanted = p.parallelism().min(queue.len()).max(1);
    let extra = att.lanes.take(att.settings, &att.runner, wanted - 1);
    let runners: Vec<Runner> = std::iter::once(att.runner.clone())
        .chain(extra.iter().map(|l| l.runner(&att.runner)))
        .take(wanted)
        .collect();
    let verified = {
        let rec: &Recorder = rec;
        let next = Cell::new(0usize);
        let done: RefCell<Vec<Judged>> = RefCell::default();
        let lanes = runners.iter().zip(0u32..).map(|(runner, lane)| {
            let (next, done, queue) = (&next, &done, &queue);
            async move {
                loop {
                    let k = next.get();
                    let Some(c) = queue.get(k) else {
                        return Ok::<(), Error>(());
                    };
                    next.set(k + 1);
                    let j = judge_one(att, n, c, runner, lane, history, rec).await?;
                    done.borrow_mut().push(j);
                }
            }
        });
        let results = join_all(lanes.collect()).await;
        att.lanes.put_back(extra);
        results.into_iter().collect::<Result<Vec<()>, Error>>()?;
        done.into_inner()
    };
    judged.extend(verified);
    judged.sort_by_key(|j| j.candidate);
    conclude(att, n, judged, rec)
}

/// Applies candidate `c` in `runner`'s sandbox, verifies it there (runs reported as one
/// candidate), and undoes it whatever the verdict.
async fn judge_one(
    att: &Attempter<'_>,
    n: u32,
    c: &Parsed,
    runner: &Runner,
    lane: u32,
    history: &[AttemptOutcome],
    rec: &Recorder,
) -> Result<Judged, Error> {
    let clock = Instant::now();
    let dir = format!("candidates/{}", c.index);
    rec.event(Event::CandidateStart {
        attempt: n,
        candidate: c.index,
        sandbox: Some(lane),
    });
    let mut judged = Judged::early(c.index, CandidateVerdict::Rejected, None, String::new())
        .with_diff(&c.diff, &c.patch);
    judged.sandbox = Some(lane);
    let root = &runner.files;
    let changes = match patch::apply(root, &c.patch, &att.rules) {
        Ok(ch) => ch,
        Err(rej) => {
            rec.attempt_json(
                n,
                &format!("{dir}/apply.json"),
                &json!({"applied": false, "rejection": rej}),
            )?;
            judged.rule = Some(rej.rule().to_owned());
            judged.feedback = rej.feedback();
            return Ok(finish(rec, n, judged, clock));
        }
    };
    rec.attempt_json(
        n,
        &format!("{dir}/apply.json"),
        &json!({"applied": true, "changed_files": changes.changed_paths(), "report": changes.report()}),
    )?;
    let undo = |what: &str| {
        changes.undo(root).map_err(|e| Error::Io {
            what: format!("{what} in sandbox {lane}"),
            source: e,
        })
    };
    let applied = changes.diff();
    if let Some(of) = same_change(history, &applied) {
        undo("undo a repeated candidate")?;
        judged.verdict = CandidateVerdict::Duplicate;
        judged.rule = Some("duplicate".into());
        judged.same_as_attempt = Some(of);
        judged.feedback = format!(
            "this candidate makes exactly the change attempt {of} made, whose verification failed: not verified again"
        );
        return Ok(finish(rec, n, judged, clock));
    }
    let phase = Phase::Candidate {
        attempt: n,
        candidate: c.index,
    };
    let verification = att
        .verify_in(runner, &format!("attempts/{n}/{dir}"), n, Some(phase), rec)
        .await;
    // Undone whatever happened: the sandbox serves the next candidate, and the winner is
    // applied to the session's own sandbox afresh.
    let undone = undo("undo a verified candidate");
    let verification = verification?;
    undone?;
    rec.attempt_json(n, &format!("{dir}/verification.json"), &verification)?;
    judged.verdict = if verification.passed {
        CandidateVerdict::Passed
    } else if verification.failing_tests_only {
        CandidateVerdict::FailingStillFail
    } else {
        CandidateVerdict::VerificationFailed
    };
    judged.feedback = if verification.passed {
        "every proof target passed".into()
    } else {
        verification_feedback(&verification)
    };
    judged.applied = Some(applied);
    judged.patch = Some(c.patch.clone());
    judged.runs = verification.runs;
    Ok(finish(rec, n, judged, clock))
}

/// Records a candidate's verdict (`verdict.json`, the `candidate_verdict` event).
fn finish(rec: &Recorder, n: u32, mut j: Judged, clock: Instant) -> Judged {
    j.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    let path = format!("candidates/{}/verdict.json", j.candidate);
    if let Err(e) = rec.attempt_json(n, &path, &j) {
        tracing::warn!("failed to record attempt {n}'s {path}: {e}");
    }
    verdict_event(rec, n, &j);
    j
}

fn verdict_event(rec: &Recorder, n: u32, j: &Judged) {
    rec.event(Event::CandidateVerdict {
        attempt: n,
        candidate: j.candidate,
        verdict: j.verdict,
        reason: (j.verdict != CandidateVerdict::Passed)
            .then(|| j.rule.clone().unwrap_or_else(|| j.feedback.clone())),
        changed_lines: j.changed_lines,
        duration_ms: j.duration_ms,
    });
}

/// The smallest passing candidate: fewest changed lines, then fewest diff bytes, then the
/// first in the answer's order, so the choice never depends on which finished first.
fn smallest(judged: &[Judged]) -> Option<&Judged> {
    judged
        .iter()
        .filter(|j| j.verdict == CandidateVerdict::Passed)
        .min_by_key(|j| {
            (
                j.changed_lines.unwrap_or(usize::MAX),
                j.diff.as_ref().map_or(usize::MAX, String::len),
                j.candidate,
            )
        })
}

/// Records the attempt's candidates and turns them into one attempt outcome: the winner
/// (applied to the session's sandbox), or what every candidate's failure tells the next one.
fn conclude(
    att: &Attempter<'_>,
    n: u32,
    judged: Vec<Judged>,
    rec: &mut Recorder,
) -> Result<AttemptOutcome, Error> {
    let winner = smallest(&judged);
    rec.attempt_json(
        n,
        "candidates.json",
        &json!({
            "format_version": 1,
            "asked": att.settings.doc().policy.candidates,
            "answered": judged.len(),
            "winner": winner.map(|w| w.candidate),
            "rule": "the smallest passing candidate wins: fewest changed lines, then fewest diff bytes, then the first; it is minimized afterwards",
            "candidates": &judged,
        }),
    )?;
    // The attempt's own files name what it stands for: the winner, else the first verified.
    let verified = judged.iter().find(|j| j.applied.is_some());
    if let Some(w) = winner {
        let (Some(parsed), Some(diff)) = (&w.patch, &w.diff) else {
            return Err(Error::Bug("a passing candidate without its patch"));
        };
        rec.attempt_bytes(n, "candidate.diff", diff.as_bytes())?;
        rec.final_runs = w.runs.clone();
        let changes = match patch::apply(&att.root, parsed, &att.rules) {
            Ok(c) => c,
            Err(rej) => {
                // It applied to a sandbox of the same source: this would be pp's bug.
                tracing::warn!(
                    "the winning candidate no longer applies: {}",
                    rej.feedback()
                );
                return Err(Error::Bug(
                    "the winning candidate does not apply to the session's sandbox",
                ));
            }
        };
        return Ok(AttemptOutcome::Passed {
            diff: diff.clone(),
            winner: Box::new(Winner {
                attempt: n,
                changes,
                patch: parsed.clone(),
            }),
        });
    }
    if let Some(v) = verified {
        rec.final_runs = v.runs.clone();
    }
    let feedback = combined_feedback(&judged);
    let first_diff = judged.iter().find_map(|j| j.diff.clone());
    if let Some(d) = verified.and_then(|v| v.diff.as_deref()) {
        rec.attempt_bytes(n, "candidate.diff", d.as_bytes())?;
    } else if let Some(d) = &first_diff {
        rec.attempt_bytes(n, "candidate.diff", d.as_bytes())?;
    }
    if let Some(v) = verified {
        return Ok(AttemptOutcome::VerificationFailed {
            feedback,
            diff: v.diff.clone().unwrap_or_default(),
            applied: v.applied.clone().unwrap_or_default(),
        });
    }
    if let Some(r) = judged
        .iter()
        .find(|j| j.verdict == CandidateVerdict::Rejected)
    {
        return Ok(AttemptOutcome::Rejected {
            rule: r.rule.clone().unwrap_or_default(),
            feedback,
            diff: first_diff,
        });
    }
    if let Some((of, diff)) = judged
        .iter()
        .find_map(|j| Some((j.same_as_attempt?, j.diff.clone()?)))
    {
        return Ok(AttemptOutcome::Duplicate { of, feedback, diff });
    }
    Ok(AttemptOutcome::NoChange { feedback })
}

/// What the next attempt is told: each candidate's verdict and why, in order.
fn combined_feedback(judged: &[Judged]) -> String {
    let mut s = format!(
        "{} candidates were tried at once and none passed:\n",
        judged.len()
    );
    for j in judged {
        let verdict = serde_json::to_value(j.verdict).unwrap_or_default();
        s.push_str(&format!(
            "\nCandidate {} ({}):\n{}\n",
            j.candidate,
            verdict.as_str().unwrap_or("?"),
            tail_chars(&j.feedback, FEEDBACK_PER_CANDIDATE)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed(candidate: u32, lines: usize, bytes: usize) -> Judged {
        let mut j = Judged::early(candidate, CandidateVerdict::Passed, None, String::new());
        j.changed_lines = Some(lines);
        j.diff = Some("x".repeat(bytes));
        j
    }

    #[test]
    fn the_smallest_passing_candidate_wins_whatever_the_order_they_finished_in() {
        let failed = Judged::early(1, CandidateVerdict::VerificationFailed, None, String::new());
        let judged = [failed, passed(2, 4, 10), passed(3, 1, 50), passed(4, 1, 20)];
        assert_eq!(smallest(&judged).map(|j| j.candidate), Some(4));
        let tie = [passed(2, 1, 20), passed(1, 1, 20)];
        assert_eq!(smallest(&tie).map(|j| j.candidate), Some(1));
        assert!(smallest(&judged[..1]).is_none());
    }

    #[test]
    fn every_future_is_driven_to_its_end_and_outputs_keep_their_order() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let out = rt.block_on(join_all(
            [30u64, 1, 10]
                .into_iter()
                .map(|ms| async move {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    ms
                })
                .collect(),
        ));
        assert_eq!(out, [30, 1, 10]);
    }

    #[test]
    fn the_next_attempt_hears_every_candidate() {
        let judged = [
            Judged::early(1, CandidateVerdict::NoChange, None, "nothing".into()),
            Judged::early(
                2,
                CandidateVerdict::Rejected,
                Some("path_not_allowed"),
                "no".into(),
            ),
        ];
        let f = combined_feedback(&judged);
        assert!(f.contains("Candidate 1 (no_change):\nnothing"), "{f}");
        assert!(f.contains("Candidate 2 (rejected):\nno"), "{f}");
    }
}
