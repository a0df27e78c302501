//! The `search` proposer's session side (see `propose::search`): once per session, in the
//! attempt where the chain reaches it, rank lines (a traced run for Python suites, the failure's
//! frames and the functions the failing tests call), then try small edits one by one in the
//! attempt's sandbox: apply, run the baseline's failing tests alone (each runner's own
//! selection), then every target, undo. The first edit that passes everything is returned as
//! the attempt's proposal and verified like any other candidate.

use std::path::Path;

use serde_json::json;

use super::attempt::Attempter;
use super::events::{Event, Events, Phase};
use super::recorder::Recorder;
use super::verify::{Runner, judge};
use crate::context::DiskTree;
use crate::error::Error;
use crate::outcome::TargetRun;
use crate::patch;
use crate::policy::{BackendKind, Target};
use crate::propose::search::{self, Mutant, PYTHON_TRACER, Spectrum, Trials, Verdict};
use crate::propose::{Exchange, parse_reply};

/// The sandbox directory the tracer lives in while it runs; removed afterwards.
const TRACE_DIR: &str = ".pp-search";
/// Largest trace read back.
const MAX_TRACE_BYTES: u64 = 64 << 20;

/// Runs the search for attempt `n`; its report goes to `attempts/<n>/search.json`.
/// Also returns, when an edit passed, the note a summary of a patch found this way carries.
pub(super) async fn run(
    att: &Attempter<'_>,
    n: u32,
    rec: &Recorder,
) -> Result<(Exchange, Option<String>), Error> {
    let policy = &att.settings.doc().policy;
    let budget = search::Budget {
        max_trials: policy.search.max_trials,
        max_seconds: policy.search.max_seconds,
    };
    let (first, narrowing) = (att.first.targets.clone(), att.first.notes());
    let spectrum = if policy.sandbox.backend == BackendKind::Container {
        None
    } else {
        trace(att, n, rec).await?
    };
    let tree = DiskTree::new(&att.root);
    let editable = |path: &str| att.rules.check_path(path).is_ok();
    let ranking = search::localize(&tree, &att.context, spectrum.as_ref(), &editable);
    let logs = tempfile::Builder::new()
        .prefix("pp-search-")
        .tempdir()
        .map_err(|e| Error::Io {
            what: "create a directory for search's trial logs".into(),
            source: e,
        })?;
    let runner = trial_runner(&att.runner, &rec.baseline);
    let mut trials = SessionTrials {
        runner: &runner,
        root: &att.root,
        rules: &att.rules,
        first,
        targets: &rec.targets,
        baseline: &rec.baseline,
        logs: logs.path(),
        count: 0,
        attempt: n,
        events: rec.events(),
    };
    rec.event(Event::Search {
        attempt: n,
        lines: ranking.len(),
        spectrum: spectrum.is_some(),
    });
    let report = search::search(&att.root, &tree, ranking, &editable, &budget, &mut trials).await;
    if att.runner.cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    rec.attempt_json(
        n,
        "search.json",
        &json!({
            "format_version": report.format_version,
            "spectrum": spectrum.is_some(),
            "failing_first": narrowing,
            "report": &report,
        }),
    )?;
    let tried = report.trials.len();
    let (raw, details) = match (&report.diff, &report.winner) {
        (Some(diff), Some(w)) => (
            diff.clone(),
            json!({"search": {"trials": tried, "winner": w.describe(), "note": report.overfitting_note()}}),
        ),
        _ => (
            String::new(),
            json!({"search": {"trials": tried, "stop": report.stop}}),
        ),
    };
    let mut proposal = parse_reply(&raw);
    if proposal.body.is_none() {
        proposal = crate::propose::Proposal::empty(format!(
            "search tried {tried} candidate(s) and none passed ({})",
            stop_text(&report.stop)
        ));
    }
    let note = report.winner.as_ref().map(|_| report.overfitting_note());
    let exchange = Exchange {
        proposer: "search".into(),
        model: None,
        latency_ms: (report.seconds * 1000.0) as u64,
        fallbacks: Vec::new(),
        raw_reply: raw,
        proposal,
        http: None,
        details: Some(details),
        alternatives: Vec::new(),
    };
    Ok((exchange, note))
}

/// The runner for trials: a mutant that loops forever (`n -= 1` made `n += 1`) is common, so a
/// trial's command may take five times the baseline's slowest run plus 10 s, never more than
/// `policy.limits.per_command_timeout_sec`. A trial stopped at that limit just fails.
fn trial_runner(runner: &Runner, baseline: &[TargetRun]) -> Runner {
    let slowest = baseline
        .iter()
        .map(|r| r.capture.duration_ms)
        .max()
        .unwrap_or(0);
    let mut r = runner.clone();
    let limit = slowest.saturating_mul(5).div_ceil(1000).saturating_add(10);
    r.limits.per_command_timeout_sec = r.limits.per_command_timeout_sec.min(limit);
    r
}

fn stop_text(stop: &search::Stop) -> String {
    match stop {
        search::Stop::Found => "found".into(),
        search::Stop::Exhausted => "every edit of every ranked line was tried".into(),
        search::Stop::TrialLimit => "`policy.search.max_trials` reached".into(),
        search::Stop::TimeLimit => "`policy.search.max_seconds` reached".into(),
        search::Stop::NothingToTry => {
            "no ranked line is in a Python or Rust file the policy lets it edit".into()
        }
        search::Stop::Aborted(why) => format!("stopped: {why}"),
    }
}

/// One traced run of the failing targets when they look like Python: which lines each test
/// ran, for Ochiai. `None` when nothing was traced.
async fn trace(att: &Attempter<'_>, n: u32, rec: &Recorder) -> Result<Option<Spectrum>, Error> {
    let failed: Vec<&TargetRun> = rec.baseline.iter().filter(|r| !r.passed()).collect();
    let python = |t: &Target| {
        let c = t.invocation.display();
        c.contains("python") || c.contains("pytest")
    };
    let targets: Vec<Target> = rec
        .targets
        .iter()
        .filter(|t| python(t) && failed.iter().any(|r| r.target == t.name))
        .cloned()
        .collect();
    let failing: Vec<String> = failed
        .iter()
        .filter_map(|r| r.tests.as_ref())
        .flat_map(|s| s.failing.iter().cloned())
        .collect();
    if targets.is_empty() || failing.is_empty() {
        return Ok(None);
    }
    let dir = att.root.join(TRACE_DIR);
    if std::fs::symlink_metadata(&dir).is_ok() {
        return Ok(None); // the project's own: not pp's to overwrite or remove
    }
    let io = |e| Error::Io {
        what: format!("prepare the tracer in {}", dir.display()),
        source: e,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(dir.join("sitecustomize.py"), PYTHON_TRACER).map_err(io)?;
    let inner = att.runner.cwd.join(TRACE_DIR);
    // Tracing slows Python several times over; the trials' limit (five times the baseline's
    // slowest run plus 10 s) bounds it too. A traced run stopped there leaves no trace, and the
    // ranking falls back to the frames and the called functions.
    let mut runner = trial_runner(&att.runner, &rec.baseline);
    let path = match runner.env.iter().find(|(k, _)| k == "PYTHONPATH") {
        Some((_, v)) if !v.is_empty() => format!("{}:{v}", inner.display()),
        _ => inner.display().to_string(),
    };
    runner.env.retain(|(k, _)| k != "PYTHONPATH");
    runner.env.extend([
        ("PYTHONPATH".to_owned(), path),
        (
            "PP_SEARCH_TRACE_ROOT".to_owned(),
            att.runner.cwd.display().to_string(),
        ),
        (
            "PP_SEARCH_TRACE_OUT".to_owned(),
            inner.join("trace.json").display().to_string(),
        ),
    ]);
    let logs = tempfile::tempdir().map_err(|e| Error::Io {
        what: "create a directory for the traced run's logs".into(),
        source: e,
    })?;
    let ran = runner
        .run_all(&targets, logs.path(), Phase::SearchTrace { attempt: n })
        .await;
    let text = crate::beneath::read_to_string(
        &att.root,
        Path::new(&format!("{TRACE_DIR}/trace.json")),
        MAX_TRACE_BYTES,
    );
    let _ = std::fs::remove_dir_all(&dir);
    ran?;
    Ok(text.ok().and_then(|t| Spectrum::from_trace(&t, &failing)))
}

/// Trials in the attempt's sandbox: apply, the failing tests alone, everything, undo.
struct SessionTrials<'a> {
    runner: &'a Runner,
    root: &'a Path,
    rules: &'a patch::CompiledRules,
    first: Vec<Target>,
    targets: &'a [Target],
    baseline: &'a [TargetRun],
    logs: &'a Path,
    count: u32,
    attempt: u32,
    /// Each trial is one `search_trial` event; its runs are not reported one by one.
    events: Events,
}

impl SessionTrials<'_> {
    fn phase(&self) -> Phase {
        Phase::SearchTrial {
            attempt: self.attempt,
        }
    }

    async fn check(&self, dir: &Path) -> Result<Verdict, String> {
        let runs = self
            .runner
            .run_all(&self.first, &dir.join("failing"), self.phase())
            .await
            .map_err(|e| e.to_string())?;
        if runs.iter().any(|r| !r.passed()) {
            return Ok(Verdict::FailingStillFail);
        }
        let runs = self
            .runner
            .run_all(self.targets, &dir.join("all"), self.phase())
            .await
            .map_err(|e| e.to_string())?;
        Ok(if judge(self.baseline, runs).passed {
            Verdict::Passed
        } else {
            Verdict::BrokeOthers
        })
    }
}

impl Trials for SessionTrials<'_> {
    async fn run(&mut self, mutant: &Mutant, diff: &str) -> Result<Verdict, String> {
        let Ok(parsed) = patch::parse(diff) else {
            return Ok(Verdict::Refused);
        };
        let Ok(changes) = patch::apply(self.root, &parsed, self.rules) else {
            return Ok(Verdict::Refused);
        };
        self.count += 1;
        let dir = self.logs.join(self.count.to_string());
        let clock = std::time::Instant::now();
        let verdict = self.check(&dir).await;
        if let Ok(v) = &verdict {
            self.events.emit(Event::SearchTrial {
                attempt: self.attempt,
                trial: self.count,
                edit: mutant.describe(),
                verdict: *v,
                duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
        }
        let _ = std::fs::remove_dir_all(&dir);
        changes
            .undo(self.root)
            .map_err(|e| format!("cannot undo a trial in the sandbox: {e}"))?;
        verdict
    }
}
