//! Running the proof targets in the sandbox and judging the result: exit codes, test counts
//! compared with the baseline, and the integrity rule of DESIGN §5. Each run of a session is
//! reported as it starts and ends (`run_start`, `run_end`), with a heartbeat while it runs.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::events::{Busy, Event, Events, Phase};
use crate::context::{self, Classification};
use crate::exec::{Cancel, CommandSpec, ExecError, Isolation};
pub use crate::outcome::TargetRun;
use crate::policy::{Limits, Target};

/// The largest JUnit report read.
const JUNIT_MAX_BYTES: u64 = 64 << 20;

/// The verdict over every target for one candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub passed: bool,
    pub runs: Vec<TargetRun>,
    pub problems: Vec<String>,
    /// Set when the failing tests, run alone first, still failed: `runs` are those narrowed
    /// runs and the full targets were not run (see [`FailingFirst`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub failing_tests_only: bool,
}

/// The baseline's failing targets, each narrowed to its failing tests where its runner allows
/// (`context::narrow`: pytest and unittest `-k`, libtest and nextest filters, `go test -run`,
/// jest and vitest `-t`). DESIGN §5: verification runs the failing tests first and the full
/// targets only when they pass; the full run is the proof. Reproduction reruns and
/// minimization use it too; `policy.failing_first: false` turns all of that off.
#[derive(Debug, Clone, Default)]
pub struct FailingFirst {
    /// Every target that failed in the baseline, narrowed where its runner allows.
    pub targets: Vec<Target>,
    /// The names of the targets in `targets` that are narrowed.
    narrowed: BTreeSet<String>,
    /// Per target: the narrowed command, its runner and tests, or why it runs whole.
    notes: serde_json::Map<String, Value>,
    /// `policy.failing_first`.
    enabled: bool,
}

impl FailingFirst {
    /// Narrows the targets that failed in `baseline`. The selection is derived from the allowed
    /// command only (its arguments gain a selector, nothing else) and recorded.
    pub fn new(targets: &[Target], baseline: &[TargetRun], enabled: bool) -> Self {
        let mut me = Self {
            enabled,
            ..Self::default()
        };
        for t in targets {
            let Some(run) = baseline.iter().find(|r| r.target == t.name) else {
                continue;
            };
            if run.passed() {
                continue;
            }
            let failing = run
                .tests
                .as_ref()
                .map(|s| s.failing.clone())
                .unwrap_or_default();
            // Where no test passed, the failing tests are the whole run: running them alone
            // first would run everything twice.
            let none_passed = run
                .tests
                .as_ref()
                .is_some_and(|s| s.counts_exact && s.passed == 0);
            let narrowed = if none_passed {
                Err("no test passed in the baseline: the failing tests are the whole run".into())
            } else {
                let stderr = crate::exec::read_log(&run.capture.log_dir.join("stderr.log"));
                context::narrow(&t.invocation, &failing, &stderr)
            };
            match narrowed {
                Ok(sel) => {
                    me.notes.insert(
                        t.name.clone(),
                        json!({"command": sel.invocation.display(), "runner": sel.runner, "tests": sel.names}),
                    );
                    me.narrowed.insert(t.name.clone());
                    me.targets.push(Target {
                        invocation: sel.invocation,
                        ..t.clone()
                    });
                }
                Err(why) => {
                    me.notes.insert(
                        t.name.clone(),
                        json!({"command": t.invocation.display(), "why_whole": why}),
                    );
                    me.targets.push(t.clone());
                }
            }
        }
        me
    }

    /// What the bundle records: per target, the narrowed command or why it runs whole.
    pub fn notes(&self) -> Value {
        json!({"enabled": self.enabled, "targets": self.notes})
    }

    /// The narrowed targets staged runs start with; none when the policy turns staging off.
    fn stage(&self) -> Vec<Target> {
        if !self.enabled {
            return Vec::new();
        }
        self.targets
            .iter()
            .filter(|t| self.narrowed.contains(&t.name))
            .cloned()
            .collect()
    }

    /// Gives up `target`'s selection: from now on it runs whole.
    fn run_whole(&mut self, target: &Target, why: String) {
        if self.narrowed.remove(&target.name) {
            self.notes.insert(
                target.name.clone(),
                json!({"command": target.invocation.display(), "why_whole": why}),
            );
        }
    }
}

/// Whether a run of a target narrowed to its failing tests shows them failing: tests failed,
/// tests failed to load, or the run hung. A narrowed run that fails otherwise (no test
/// selected, a runner that exits non-zero for another reason) shows nothing either way.
fn shows_failing_tests(run: &TargetRun) -> bool {
    !run.passed()
        && (run.capture.timed_out
            || run
                .tests
                .as_ref()
                .is_some_and(|t| t.failed > 0 || !t.load_errors.is_empty()))
}

/// How targets are run in this session.
#[derive(Debug, Clone)]
pub struct Runner {
    pub cwd: std::path::PathBuf,
    /// Where pp itself reads and writes the sandbox's files. Differs from `cwd` for the overlay
    /// backend, whose commands see the workspace's own path inside their mount namespace while
    /// that path, seen from pp, is the user's untouched tree.
    pub files: std::path::PathBuf,
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    pub isolation: Isolation,
    pub cancel: Cancel,
    /// Secrets scrubbed from logs and tails before anything reads or stores them.
    pub redactor: Option<std::sync::Arc<crate::redact::Redactor>>,
    /// The sandbox's watcher, told of every command's process group (see `exec::GroupWatch`).
    pub watch: Option<crate::exec::GroupWatch>,
    /// Where each run's start and end are reported, and a heartbeat while it runs (a session's
    /// runner; replay logs instead).
    pub events: Option<Events>,
}

impl Runner {
    /// Runs every target in order, for `phase`; logs under `log_root/<target>/`.
    pub async fn run_all(
        &self,
        targets: &[Target],
        log_root: &Path,
        phase: Phase,
    ) -> Result<Vec<TargetRun>, ExecError> {
        let mut runs = Vec::with_capacity(targets.len());
        for t in targets {
            runs.push(self.run_one(t, &log_root.join(&t.name), phase).await?);
        }
        Ok(runs)
    }

    /// Reruns the failing targets to check the failure recurs. A narrowed target runs alone
    /// first; when that run does not show its tests failing again, the target is run whole
    /// (logs under `<target>/whole/`), and runs whole from then on.
    pub async fn rerun_failing(
        &self,
        first: &mut FailingFirst,
        failing: &[Target],
        log_root: &Path,
        phase: Phase,
    ) -> Result<Vec<TargetRun>, ExecError> {
        let stage = first.stage();
        let mut runs = Vec::with_capacity(failing.len());
        for t in failing {
            let dir = log_root.join(&t.name);
            let Some(narrowed) = stage.iter().find(|s| s.name == t.name) else {
                runs.push(self.run_one(t, &dir, phase).await?);
                continue;
            };
            let alone = self.run_one(narrowed, &dir, phase).await?;
            if shows_failing_tests(&alone) {
                runs.push(alone);
                continue;
            }
            first.run_whole(
                t,
                format!(
                    "run alone, the failing tests did not fail again (exit {}): the selection does not reproduce the failure",
                    alone.capture.exit_code
                ),
            );
            runs.push(self.run_one(t, &dir.join("whole"), phase).await?);
        }
        Ok(runs)
    }

    /// Verifies a candidate in two stages: the failing tests alone (logs under `first.0`, runs
    /// reported as `first.1`), and only when they no longer fail, every target in full
    /// (`full.0`, `full.1`), judged against the baseline. The full run is the proof; the first
    /// stage only rejects early.
    pub async fn verify_staged(
        &self,
        baseline: &[TargetRun],
        targets: &[Target],
        selection: &FailingFirst,
        first: (&Path, Phase),
        full: (&Path, Phase),
    ) -> Result<Verification, ExecError> {
        let stage = selection.stage();
        if !stage.is_empty() {
            let runs = self.run_all(&stage, first.0, first.1).await?;
            let problems: Vec<String> = runs
                .iter()
                .filter(|r| shows_failing_tests(r))
                .map(|r| {
                    let names = r.tests.as_ref().map(|t| t.failing.join(", "));
                    format!(
                        "target `{}`: the tests that failed in the baseline, run alone, still fail (exit {}{}{}); the full targets were not run",
                        r.target,
                        r.capture.exit_code,
                        if r.capture.timed_out { ", timed out" } else { "" },
                        names
                            .filter(|n| !n.is_empty())
                            .map(|n| format!(": {n}"))
                            .unwrap_or_default(),
                    )
                })
                .collect();
            if !problems.is_empty() {
                return Ok(Verification {
                    passed: false,
                    runs,
                    problems,
                    failing_tests_only: true,
                });
            }
        }
        Ok(judge(
            baseline,
            self.run_all(targets, full.0, full.1).await?,
        ))
    }

    pub async fn run_one(
        &self,
        target: &Target,
        log_dir: &Path,
        phase: Phase,
    ) -> Result<TargetRun, ExecError> {
        let spec = CommandSpec {
            invocation: target.invocation.clone(),
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            timeout: Duration::from_secs(self.limits.per_command_timeout_sec),
            log_dir: log_dir.to_owned(),
            max_output_bytes: self.limits.max_output_bytes,
            tail_bytes: self.limits.output_tail_bytes,
            isolation: self.isolation.clone(),
            stdin: None,
            watch: self.watch.clone(),
        };
        // The report is read where the code under test wrote it: never through a symlink out
        // of the sandbox, for the removal as for the read.
        let junit = target.junit.as_deref().map(Path::new);
        if let Some(j) = junit {
            // A report left by an earlier run must never stand in for this one.
            let _ = crate::beneath::remove_file(&self.files, j);
        }
        let events = self.events.as_ref().filter(|_| phase.reported());
        match events {
            Some(ev) => ev.emit(Event::RunStart {
                phase,
                target: target.name.clone(),
                command: target.invocation.display(),
                log_dir: log_dir.to_owned(),
            }),
            None => tracing::info!("running {}: {}", target.name, target.invocation.display()),
        }
        let run = crate::exec::run(&spec, &self.cancel);
        let result = match events {
            Some(ev) => {
                let busy = Busy::Run {
                    phase,
                    target: &target.name,
                };
                ev.while_busy(busy, run).await
            }
            None => run.await,
        };
        if let Some(r) = &self.redactor {
            // Also when interrupted: whatever the command printed is in the bundle.
            for name in ["stdout.log", "stderr.log"] {
                if let Err(e) = r.redact_file(&log_dir.join(name)) {
                    tracing::warn!("failed to redact {}: {e}", log_dir.join(name).display());
                }
            }
        }
        let mut capture = result?;
        if let Some(r) = &self.redactor {
            capture.stdout_tail = r.redact(&capture.stdout_tail).into_owned();
            capture.stderr_tail = r.redact(&capture.stderr_tail).into_owned();
        }
        let output = capture.combined_tail();
        // Test summaries come from the whole stored output: libtest prints one result line per
        // test binary, and a tail could miss the first ones.
        let mut full = crate::exec::read_log(&log_dir.join("stdout.log"));
        full.push('\n');
        full.push_str(&crate::exec::read_log(&log_dir.join("stderr.log")));
        let tests = match &junit {
            Some(j) => crate::beneath::read_to_string(&self.files, j, JUNIT_MAX_BYTES)
                .ok()
                .and_then(|xml| context::junit_summary(&xml)),
            None => context::test_summary(&full),
        };
        let runner = context::runner_progress(&full);
        let classification = if capture.passed() {
            Classification::Code
        } else {
            context::classify(
                capture.exit_code,
                capture.timed_out,
                &output,
                runner.as_ref(),
            )
        };
        if events.is_none() {
            tracing::info!(
                "{}: exit {}{}",
                target.name,
                capture.exit_code,
                if capture.timed_out {
                    " (timed out)"
                } else {
                    ""
                }
            );
        }
        let run = TargetRun {
            target: target.name.clone(),
            capture,
            tests,
            runner,
            classification,
        };
        if let Some(ev) = events {
            ev.emit(Event::RunEnd {
                phase,
                run: run.summary(),
            });
        }
        // Every run's record sits beside its logs (baseline, reruns, verification, confirmation).
        match serde_json::to_vec_pretty(&run) {
            Ok(bytes) => {
                if let Err(e) = crate::bundle::write_atomic(&log_dir.join("result.json"), &bytes) {
                    tracing::warn!("failed to record {}: {e}", log_dir.display());
                }
            }
            Err(e) => tracing::warn!("failed to encode the result of {}: {e}", target.name),
        }
        Ok(run)
    }
}

/// Judges a candidate's runs against the baseline's.
pub fn judge(baseline: &[TargetRun], runs: Vec<TargetRun>) -> Verification {
    let mut problems = Vec::new();
    for run in &runs {
        if !run.passed() {
            let timed_out = match run.hang_note() {
                Some(note) => format!(" ({note})"),
                None if run.capture.timed_out => " (timed out)".to_owned(),
                None => String::new(),
            };
            problems.push(format!(
                "target `{}` failed with exit code {}{timed_out}",
                run.target, run.capture.exit_code,
            ));
            continue;
        }
        let base = baseline.iter().find(|b| b.target == run.target);
        for p in context::integrity_problems(
            &run.capture.command,
            base.map(TargetRun::evidence).unwrap_or_default(),
            run.evidence(),
            run.capture.exit_code,
        ) {
            problems.push(format!("target `{}`: {p}", run.target));
        }
    }
    Verification {
        passed: problems.is_empty(),
        runs,
        problems,
        failing_tests_only: false,
    }
}
