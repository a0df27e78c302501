//! The session of DESIGN §3: baseline, classification, reproduction, attempts, verification,
//! minimization, bundle and report. Also `replay`, which reruns a bundle without a model, and
//! `--apply`.

mod apply;
mod replay;
mod run;
mod sign;
mod verify;
mod workbench;

use std::path::PathBuf;

use serde::Serialize;

pub use replay::{ReplayOptions, ReplayOutcome, replay};
pub use run::run_session;
pub use sign::{sign_keys, verify_bundle, verify_key_configured, verify_keys};

/// Whether commands can be confined here as `policy` asks, and with which layers (used by
/// `pp doctor`).
pub async fn probe_confinement(
    policy: &crate::policy::Policy,
    self_exe: &std::path::Path,
    env: &[(String, String)],
) -> Result<crate::sandbox::ConfinementLayers, crate::sandbox::Unconfinable> {
    match workbench::plan_confined(policy, self_exe, env).await? {
        workbench::Plan::Confined { layers, .. } => Ok(layers),
        workbench::Plan::Container(_) => unreachable!("plan_confined never plans a container"),
    }
}
pub use verify::{TargetRun, Verification};

/// How a session ended. Names are API (`status` in the JSON summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
        match self {
            Self::Proven => "proven",
            Self::AlreadyPassing => "already_passing",
            Self::NotProven => "not_proven",
            Self::PolicyViolation => "policy_violation",
            Self::InfraStop => "infra_stop",
            Self::NotReproducible => "not_reproducible",
            Self::Interrupted => "interrupted",
        }
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

/// Per-target exit codes before and after.
#[derive(Debug, Clone, Serialize)]
pub struct TargetOutcome {
    pub name: String,
    pub command: String,
    pub baseline_exit_code: Option<i32>,
    pub final_exit_code: Option<i32>,
}

/// What a session produced; rendered as the JSON summary and the human report.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    pub session_id: String,
    pub attempts_used: u32,
    pub final_exit_code: i32,
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
}
