//! Running the proof targets in the sandbox and judging the result: exit codes, test counts
//! compared with the baseline, and the integrity rule of DESIGN §5. Each run of a session is
//! reported as it starts and ends (`run_start`, `run_end`), with a heartbeat while it runs.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

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
    }
}
