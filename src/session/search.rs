//! The `search` proposer's session side (see `propose::search`): once per session, in the
//! attempt where the chain reaches it, rank lines (a traced run for Python suites, a
//! `RUST_BACKTRACE=1` run of the failing tests for cargo, the failure's frames and the
//! functions the failing tests call), then try small edits one by one in the
//! attempt's sandbox: apply, run the baseline's failing tests alone (each runner's own
//! selection), then every target, undo. The first edit that passes everything is returned as
//! the attempt's proposal and verified like any other candidate. With `policy.parallelism`
//! above 1, up to that many edits are tried at once, each in its own sandbox (the session's and
//! the candidates' [`Lanes`](super::candidates::Lanes)); the winner is still the first passing
//! edit in ranking order, whatever finished first (see [`search_parallel`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use super::attempt::Attempter;
use super::events::{Event, Events, Phase};
use super::recorder::Recorder;
use super::verify::{Runner, judge};
use crate::context::{DiskTree, PathMap};
use crate::error::Error;
use crate::outcome::TargetRun;
use crate::patch;
use crate::patch::{FileRewrite, ReplyBody, candidate_diff};
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
    let parallelism = policy.parallelism();
    let spectrum = if policy.sandbox.backend == BackendKind::Container {
        None
    } else {
        trace(att, n, rec).await?
    };
    let backtrace = backtrace(att, n, rec).await?;
    let tree = DiskTree::new(&att.root);
    let editable = |path: &str| att.rules.check_path(path).is_ok();
    let ranking = search::localize(
        &tree,
        &att.context,
        spectrum.as_ref(),
        &backtrace,
        &editable,
    );
    let logs = tempfile::Builder::new()
        .prefix("pp-search-")
        .tempdir()
        .map_err(|e| Error::Io {
            what: "create a directory for search's trial logs".into(),
            source: e,
        })?;
    let runner = trial_runner(&att.runner, &rec.baseline);
    let count = Cell::new(0);
    let trials = |(runner, sandbox): (Runner, u32)| SessionTrials {
        runner,
        sandbox: (parallelism > 1).then_some(sandbox),
        rules: &att.rules,
        first: first.clone(),
        targets: &rec.targets,
        baseline: &rec.baseline,
        logs: logs.path(),
        count: &count,
        attempt: n,
        events: rec.events(),
    };
    rec.event(Event::Search {
        attempt: n,
        lines: ranking.len(),
        spectrum: spectrum.is_some(),
    });
    let report = if parallelism > 1 {
        let extra = att.lanes.take(att.settings, &runner, parallelism - 1);
        let workers = std::iter::once(runner.clone())
            .chain(extra.iter().map(|l| l.runner(&runner)))
            .zip(0u32..)
            .map(trials)
            .collect();
        let found = search_parallel(&att.root, &tree, ranking, &editable, &budget, workers).await;
        att.lanes.put_back(extra);
        found
    } else {
        let mut one = trials((runner.clone(), 0));
        let report = search::search(&att.root, &tree, ranking, &editable, &budget, &mut one).await;
        (report, Vec::new())
    };
    let (report, beside) = report;
    if att.runner.cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    rec.attempt_json(
        n,
        "search.json",
        &json!({
            "format_version": report.format_version,
            "spectrum": spectrum.is_some(),
            "backtrace": backtrace.len(),
            "failing_first": narrowing,
            "parallelism": parallelism,
            "report": &report,
            "trials_beside_winner": beside,
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
            "no ranked line is in a Python, Rust, JavaScript, TypeScript or Go file the policy lets it edit".into()
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

/// One run of the failing cargo tests alone (the failing-first selection) with
/// `RUST_BACKTRACE=1`: the frames of their backtraces in the project's source, deepest first.
/// The same commands the trials run first, under the trials' time limit. Empty when no failing
/// target is a cargo command.
async fn backtrace(
    att: &Attempter<'_>,
    n: u32,
    rec: &Recorder,
) -> Result<Vec<(String, u32)>, Error> {
    let cargo = |t: &Target| {
        let argv = shlex::split(&t.invocation.display()).unwrap_or_default();
        argv.iter().any(|w| w.rsplit('/').next() == Some("cargo"))
    };
    let targets: Vec<Target> = att
        .first
        .targets
        .iter()
        .filter(|t| cargo(t))
        .cloned()
        .collect();
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let mut runner = trial_runner(&att.runner, &rec.baseline);
    runner.env.retain(|(k, _)| k != "RUST_BACKTRACE");
    runner
        .env
        .push(("RUST_BACKTRACE".to_owned(), "1".to_owned()));
    let logs = tempfile::tempdir().map_err(|e| Error::Io {
        what: "create a directory for the backtrace run's logs".into(),
        source: e,
    })?;
    let runs = runner
        .run_all(&targets, logs.path(), Phase::SearchTrace { attempt: n })
        .await?;
    let p = &att.settings.doc().policy;
    let map = PathMap {
        workspace: att.settings.workspace.clone(),
        sandbox: att.root.clone(),
        container_workdir: (p.sandbox.backend == BackendKind::Container)
            .then(|| PathBuf::from(&p.sandbox.container_workdir)),
    };
    let mut frames: Vec<(String, u32)> = Vec::new();
    for r in &runs {
        for f in search::rust_backtrace(&r.capture.combined_tail(), &map) {
            if !frames.contains(&f) {
                frames.push(f);
            }
        }
    }
    Ok(frames)
}

/// Trials in one sandbox (`runner`'s): apply, the failing tests alone, everything, undo.
struct SessionTrials<'a> {
    runner: Runner,
    /// Which sandbox, when several try edits at once (0 is the session's own).
    sandbox: Option<u32>,
    rules: &'a patch::CompiledRules,
    first: Vec<Target>,
    targets: &'a [Target],
    baseline: &'a [TargetRun],
    logs: &'a Path,
    /// Trials applied so far, in every sandbox: numbers each trial's logs and event.
    count: &'a Cell<u32>,
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
        let root = self.runner.files.clone();
        let Ok(changes) = patch::apply(&root, &parsed, self.rules) else {
            return Ok(Verdict::Refused);
        };
        let trial = self.count.get() + 1;
        self.count.set(trial);
        let dir = self.logs.join(trial.to_string());
        let clock = std::time::Instant::now();
        let verdict = self.check(&dir).await;
        if let Ok(v) = &verdict {
            self.events.emit(Event::SearchTrial {
                attempt: self.attempt,
                trial,
                sandbox: self.sandbox,
                edit: mutant.describe(),
                verdict: *v,
                duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
        }
        let _ = std::fs::remove_dir_all(&dir);
        changes
            .undo(&root)
            .map_err(|e| format!("cannot undo a trial in the sandbox: {e}"))?;
        verdict
    }
}

/// [`search::search`] with one [`SessionTrials`] per sandbox, trying up to that many edits at
/// once. The edits are taken in the same order (each ranked line's in turn), each sandbox
/// taking the next one as it frees up. Once an edit passes, no later-ranked edit is started;
/// the earlier-ranked ones still running finish, and the first passing edit in ranking order
/// wins, so the result is the sequential search's whatever the timing. Every edit started is a
/// trial (`max_trials` counts them all); none is started after `max_seconds`. The report's
/// trials are the ranking's up to the winner, as a sequential search's would be; the
/// later-ranked ones that ran beside it are returned apart.
async fn search_parallel(
    root: &Path,
    tree: &dyn crate::context::SourceTree,
    ranking: Vec<search::RankedLine>,
    editable: &dyn Fn(&str) -> bool,
    budget: &search::Budget,
    workers: Vec<impl Trials>,
) -> (search::Report, Vec<search::Trial>) {
    let started = Instant::now();
    let (queue, localization, more_left) = ordered_edits(root, tree, &ranking, editable, budget);
    let limit = Duration::from_secs(budget.max_seconds);
    let next = Cell::new(0usize);
    let winner = Cell::new(usize::MAX);
    let time_up = Cell::new(false);
    let aborted: RefCell<Option<String>> = RefCell::default();
    let done: RefCell<Vec<Option<search::Trial>>> = RefCell::new(vec![None; queue.len()]);
    let lanes = workers.into_iter().map(|mut worker| {
        let (next, winner, time_up, aborted, done, queue) =
            (&next, &winner, &time_up, &aborted, &done, &queue);
        async move {
            loop {
                let k = next.get();
                if k >= queue.len() || k > winner.get() || aborted.borrow().is_some() {
                    return;
                }
                if started.elapsed() >= limit {
                    time_up.set(true);
                    return;
                }
                next.set(k + 1);
                let (m, diff) = &queue[k];
                let t0 = Instant::now();
                match worker.run(m, diff).await {
                    Ok(verdict) => {
                        if verdict == Verdict::Passed && k < winner.get() {
                            winner.set(k);
                        }
                        done.borrow_mut()[k] = Some(search::Trial {
                            edit: m.describe(),
                            operator: m.operator,
                            verdict,
                            ms: t0.elapsed().as_millis() as u64,
                        });
                    }
                    Err(why) => {
                        aborted.borrow_mut().get_or_insert(why);
                        return;
                    }
                }
            }
        }
    });
    super::candidates::join_all(lanes.collect()).await;
    let won = queue.get(winner.get());
    let stop = match (won, aborted.into_inner()) {
        (Some(_), _) => search::Stop::Found,
        (None, Some(why)) => search::Stop::Aborted(why),
        (None, None) if time_up.get() => search::Stop::TimeLimit,
        (None, None) if queue.is_empty() && !time_up.get() => search::Stop::NothingToTry,
        (None, None) if more_left => search::Stop::TrialLimit,
        (None, None) => search::Stop::Exhausted,
    };
    let mut trials = done.into_inner();
    let beside = match won {
        Some(_) => trials.split_off(winner.get() + 1),
        None => Vec::new(),
    };
    let report = search::Report {
        format_version: 1,
        budget: budget.clone(),
        localization,
        trials: trials.into_iter().flatten().collect(),
        stop,
        winner: won.map(|(m, _)| m.clone()),
        diff: won.map(|(_, d)| d.clone()),
        seconds: started.elapsed().as_secs_f64(),
    };
    (report, beside.into_iter().flatten().collect())
}

/// Every edit the budget lets a search try, in the order `search::search` tries them (each
/// ranked line's edits in turn, lines in files search can parse and may edit), with its diff;
/// the ranked lines reached; and whether edits were left beyond `max_trials`.
fn ordered_edits(
    root: &Path,
    tree: &dyn crate::context::SourceTree,
    ranking: &[search::RankedLine],
    editable: &dyn Fn(&str) -> bool,
    budget: &search::Budget,
) -> (Vec<(Mutant, String)>, Vec<search::RankedLine>, bool) {
    let max = budget.max_trials as usize;
    let mut files: HashMap<String, Option<search::SourceFile>> = HashMap::new();
    let (mut queue, mut reached) = (Vec::new(), Vec::new());
    for ranked in ranking {
        let file = files.entry(ranked.path.clone()).or_insert_with(|| {
            let path = ranked.path.as_str();
            search::Lang::of_path(path)
                .filter(|_| !crate::context::is_test_file(path) && editable(path))
                .and_then(|lang| Some((lang, tree.read(path)?)))
                .and_then(|(lang, text)| search::SourceFile::parse(path, lang, text))
        });
        let Some(file) = file.as_ref() else {
            continue;
        };
        let mutants = file.mutants_at(ranked.line);
        if queue.len() >= max && !mutants.is_empty() {
            return (queue, reached, true);
        }
        reached.push(ranked.clone());
        for m in mutants {
            if queue.len() >= max {
                return (queue, reached, true);
            }
            let body = ReplyBody::Rewrites(vec![FileRewrite {
                path: file.path.clone(),
                content: m.apply(&file.text),
            }]);
            if let Ok(diff) = candidate_diff(root, &body) {
                queue.push((m, diff));
            }
        }
    }
    (queue, reached, false)
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::context::DiskTree;
    use crate::propose::search::{Budget, Stop};

    /// Trials that pass the first `passing` edits started, the first one slowest, and keep
    /// count of how many run at once.
    struct Fake {
        started: Rc<Cell<usize>>,
        running: Rc<Cell<usize>>,
        most: Rc<Cell<usize>>,
        passing: usize,
    }

    impl Trials for Fake {
        async fn run(&mut self, _m: &Mutant, _diff: &str) -> Result<Verdict, String> {
            let k = self.started.get();
            self.started.set(k + 1);
            self.running.set(self.running.get() + 1);
            self.most.set(self.most.get().max(self.running.get()));
            // The first-ranked edit finishes last.
            let ms = if k == 0 { 40 } else { 1 };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            self.running.set(self.running.get() - 1);
            Ok(if k < self.passing {
                Verdict::Passed
            } else {
                Verdict::FailingStillFail
            })
        }
    }

    use crate::propose::search::tests::setup;

    fn run(passing: usize, budget: &Budget) -> (search::Report, usize, Vec<(Mutant, String)>) {
        let (tmp, ranking) = setup();
        let tree = DiskTree::new(tmp.path());
        let (started, running, most) = (Rc::default(), Rc::default(), Rc::default());
        let workers: Vec<Fake> = (0..2)
            .map(|_| Fake {
                started: Rc::clone(&started),
                running: Rc::clone(&running),
                most: Rc::clone(&most),
                passing,
            })
            .collect();
        let order = ordered_edits(tmp.path(), &tree, &ranking, &|_| true, budget).0;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let (report, _) = rt.block_on(search_parallel(
            tmp.path(),
            &tree,
            ranking,
            &|_| true,
            budget,
            workers,
        ));
        (report, most.get(), order)
    }

    #[test]
    fn edits_run_two_at_once_and_the_first_ranked_passing_one_wins_though_it_ends_last() {
        let (report, most, order) = run(2, &Budget::default());
        assert_eq!(most, 2, "the trials ran one after the other");
        assert_eq!(report.stop, Stop::Found);
        // Both started edits passed; the second finished first, the first-ranked still wins,
        // after one trial as in a sequential search.
        assert_eq!(report.trials.len(), 1);
        let winner = report.winner.unwrap();
        assert_eq!(winner.describe(), order[0].0.describe());
        assert_eq!(report.diff.as_deref(), Some(order[0].1.as_str()));
        assert_eq!(report.trials[0].edit, order[0].0.describe());
    }

    #[test]
    fn budgets_hold_with_edits_at_once() {
        let small = Budget {
            max_trials: 3,
            max_seconds: 600,
        };
        let (report, _, _) = run(0, &small);
        assert_eq!((report.stop, report.trials.len()), (Stop::TrialLimit, 3));
        let none = Budget {
            max_trials: 100,
            max_seconds: 0,
        };
        let (report, _, _) = run(0, &none);
        assert_eq!((report.stop, report.trials.len()), (Stop::TimeLimit, 0));
        let (report, _, order) = run(0, &Budget::default());
        assert_eq!(report.stop, Stop::Exhausted);
        assert_eq!(report.trials.len(), order.len());
        assert!(report.winner.is_none());
    }
}
