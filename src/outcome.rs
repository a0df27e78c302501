//! What a session produced, as plain data: its [`Status`] (the statuses and exit codes of
//! DESIGN §1), the [`Outcome`] the report renders, and each target's run ([`TargetRun`]). The
//! session makes these values; the report and the bundle's records read them. It owns no
//! behaviour beyond reading them.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::bundle::schema::{RecordedStatus, RunSummary};
use crate::context::{Classification, RunnerProgress, TestEvidence, TestSummary};
use crate::exec::Capture;

/// How a session ended. Names are API (`status` in the JSON summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Proven,
    AlreadyPassing,
    NotProven,
    PolicyViolation,
    InfraStop,
    NotReproducible,
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        RecordedStatus::from(self).as_str()
    }

    /// The documented exit code of DESIGN §1.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Proven | Self::AlreadyPassing => 0,
            Self::NotProven => 10,
            Self::PolicyViolation => 11,
            Self::InfraStop => 12,
            Self::NotReproducible => 14,
            Self::Interrupted => 130,
        }
    }

    pub fn success(self) -> bool {
        matches!(self, Self::Proven | Self::AlreadyPassing)
    }
}

/// Per-target exit codes, test counts and durations before (the baseline) and after (the
/// targets' last runs: the proof's when proven). Each is `null` when that run did not happen
/// (a target refused by the policy never ran) or, for the counts, when its output showed none.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TargetOutcome {
    pub name: String,
    pub command: String,
    pub baseline_exit_code: Option<i32>,
    pub final_exit_code: Option<i32>,
    /// The test runner's counts in the baseline run.
    pub baseline_tests: Option<TestCounts>,
    /// The test runner's counts in the last run.
    pub final_tests: Option<TestCounts>,
    /// Wall time of the baseline run, in milliseconds.
    pub baseline_duration_ms: Option<u64>,
    /// Wall time of the last run, in milliseconds.
    pub final_duration_ms: Option<u64>,
}

/// A run's test counts, as the test-summary parser read them from its output (the full lists of
/// names are in `repro.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TestCounts {
    /// The report's kind: `libtest`, `nextest`, `pytest`, `unittest`, `gotest`, `jest`,
    /// `vitest`, `junit` or `plain`.
    pub format: String,
    /// Tests that ran to a verdict (`passed + failed`).
    pub ran: u32,
    pub passed: u32,
    pub failed: u32,
    /// Skipped, ignored or deselected tests.
    pub skipped: u32,
    /// False when the counts are only a lower bound (`go test` without `-v`).
    pub counts_exact: bool,
}

impl From<&TestSummary> for TestCounts {
    fn from(t: &TestSummary) -> Self {
        Self {
            format: t.format.clone(),
            ran: t.ran,
            passed: t.passed,
            failed: t.failed,
            skipped: t.skipped,
            counts_exact: t.counts_exact,
        }
    }
}

/// A failure position pp extracted from the baseline's output, in the user's workspace: where a
/// CI annotation points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureMark {
    /// Workspace-relative, `/`-separated.
    pub path: String,
    pub line: u32,
    pub column: Option<u32>,
    /// The diagnostic or exception reported there, when the output gave one.
    pub message: Option<String>,
}

/// What a session produced; rendered as the JSON summary and the human report.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    pub session_id: String,
    pub attempts_used: u32,
    /// The exit code of the first failing last run, 0 for a success; `None` when nothing ran.
    pub final_exit_code: Option<i32>,
    /// The whole session's wall time, in milliseconds.
    pub duration_ms: u64,
    pub proof_bundle: PathBuf,
    pub final_patch: Option<PathBuf>,
    pub attestation: Option<PathBuf>,
    pub message: String,
    pub hint: Option<String>,
    pub applied: bool,
    /// Why `--apply` did not write the patch (the proof itself stands).
    pub apply_refused: Option<String>,
    pub sandbox_kept: Option<PathBuf>,
    pub targets: Vec<TargetOutcome>,
    pub changed_files: Vec<String>,
    /// What a reviewer should know of where the patch came from (a patch found by `search`).
    pub patch_note: Option<String>,
    /// The proven patch's text (`final.patch`), when a candidate won.
    #[serde(skip)]
    pub patch: Option<String>,
    /// Where the baseline failed, in the workspace, best first (empty when no attempt was
    /// prepared: the session ended before, or nothing was located).
    #[serde(skip)]
    pub failures: Vec<FailureMark>,
}

impl From<Status> for RecordedStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Proven => Self::Proven,
            Status::AlreadyPassing => Self::AlreadyPassing,
            Status::NotProven => Self::NotProven,
            Status::PolicyViolation => Self::PolicyViolation,
            Status::InfraStop => Self::InfraStop,
            Status::NotReproducible => Self::NotReproducible,
            Status::Interrupted => Self::Interrupted,
        }
    }
}

/// One target's run.
#[derive(Debug, Clone, Serialize)]
pub struct TargetRun {
    pub target: String,
    #[serde(flatten)]
    pub capture: Capture,
    pub tests: Option<TestSummary>,
    /// How far the test runner got (started, finished, the test in progress).
    pub runner: Option<RunnerProgress>,
    pub classification: Classification,
}

impl TargetRun {
    pub fn passed(&self) -> bool {
        self.capture.passed()
    }

    pub fn evidence(&self) -> TestEvidence<'_> {
        TestEvidence {
            summary: self.tests.as_ref(),
            progress: self.runner.as_ref(),
        }
    }

    /// For a run stopped at its time limit inside a test: what to tell the proposer.
    pub fn hang_note(&self) -> Option<String> {
        if !(self.capture.timed_out || self.capture.exit_code == 124)
            || self.classification != Classification::Code
        {
            return None;
        }
        let runner = self.runner.as_ref()?;
        Some(match &runner.running {
            Some(test) => format!(
                "the command was stopped at its time limit while test `{test}` was running: this test hangs (an endless loop, or a wait that never ends)"
            ),
            None => format!(
                "the command was stopped at its time limit after {} had started (`{}`): a test hangs (an endless loop, or a wait that never ends)",
                runner.runner, runner.started
            ),
        })
    }
}

impl TargetRun {
    /// The run as `repro.json` and the events summarise it.
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            target: self.target.clone(),
            exit_code: self.capture.exit_code,
            timed_out: self.capture.timed_out,
            duration_ms: self.capture.duration_ms,
            tests: self.tests.clone(),
        }
    }
}
