//! The bundle's JSON formats as types: `repro.json` ([`Repro`]), `environment.json`
//! ([`Environment`]), `attempts/<n>/outcome.json` ([`AttemptRecord`]), the isolation record
//! both carry ([`IsolationRecord`]), and replay's status ([`ReplayStatus`]). The session writes
//! them, replay and the attestation predicate read them; nobody indexes their JSON by string.
//!
//! Field names, their order and their values are API (DESIGN §8): fields are only ever added
//! within a schema version. Parts another subsystem owns and serialises itself (the sandbox's
//! description, the confinement layers, the endpoints' summaries) are carried as JSON values;
//! their JSON Schemas (`docs/schemas/`, see `crate::schemas`) still name the owner's type where
//! it has one (`#[schemars(with = ...)]`).
//! Reading is lenient: a missing field takes its default, so older bundles still read.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SourceInfo;
use crate::context::{Classification, TestSummary};

/// Version of `repro.json`.
pub const REPRO_SCHEMA: &str = "pp.repro/v1";
/// Version of `environment.json`.
pub const ENVIRONMENT_SCHEMA: &str = "pp.environment/v1";
/// Version of the `pp replay` document.
pub const REPLAY_SCHEMA: &str = "pp.replay/v1";

/// `repro.json`: what ran, where, under which policy, and how it ended. Written when the session
/// starts (`status: running`, `complete: false`) and again when it ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Repro {
    #[schemars(extend("const" = REPRO_SCHEMA))]
    pub schema_version: String,
    /// False while the session runs and for an interrupted one.
    pub complete: bool,
    pub session_id: String,
    pub status: RecordedStatus,
    pub success: bool,
    /// `pp run`'s command line; `null` for `pp prove`.
    pub command: Option<String>,
    pub targets: Vec<ReproTarget>,
    pub policy_path: Option<String>,
    pub policy_sha256: Option<String>,
    pub provider: String,
    pub provider_chain: Vec<String>,
    #[serde(deserialize_with = "lenient")]
    pub endpoints: Endpoints,
    /// The proposer that answered last.
    pub proposer: Option<String>,
    pub model: Option<String>,
    pub pp_version: String,
    #[serde(deserialize_with = "lenient")]
    pub timings: Timings,
    /// The sandbox's own description (`sandbox::SandboxInfo`).
    #[schemars(with = "Option<crate::sandbox::SandboxInfo>")]
    pub sandbox: Option<serde_json::Value>,
    #[serde(deserialize_with = "lenient")]
    pub isolation: IsolationRecord,
    pub source: SourceInfo,
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    pub git_remote_url: Option<String>,
    pub git_dirty: bool,
    pub workspace_manifest_sha256: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub runtime: Runtime,
    pub container: Option<ContainerRecord>,
    #[serde(deserialize_with = "lenient")]
    pub classification: Option<Classification>,
    #[serde(deserialize_with = "lenient")]
    pub baseline: Vec<RunSummary>,
    #[serde(deserialize_with = "lenient")]
    pub attempts: Vec<AttemptRecord>,
    #[serde(deserialize_with = "lenient")]
    pub minimization: Option<MinimizationRecord>,
    pub result: Option<ReproResult>,
}

/// Reads a part of `repro.json` nothing downstream depends on, whatever its shape: a bundle
/// from another pp version may hold values this one does not know, and replay still reads the
/// parts it needs.
fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

/// A session's status as `repro.json` records it: a final status (README, "Statuses and exit
/// codes"), or `running` while the session has not ended (what a crash leaves behind).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordedStatus {
    #[default]
    Running,
    Proven,
    AlreadyPassing,
    NotProven,
    PolicyViolation,
    InfraStop,
    NotReproducible,
    Interrupted,
}

impl RecordedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Proven => "proven",
            Self::AlreadyPassing => "already_passing",
            Self::NotProven => "not_proven",
            Self::PolicyViolation => "policy_violation",
            Self::InfraStop => "infra_stop",
            Self::NotReproducible => "not_reproducible",
            Self::Interrupted => "interrupted",
        }
    }
}

/// A proof target as recorded: at least one of `cmd` and `argv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ReproTarget {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
}

/// The model endpoints' settings (their `summary()`), without keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Endpoints {
    /// The `openai` endpoint's settings (base URL, model, limits; never the key).
    pub openai: Option<serde_json::Value>,
    /// The `local` endpoint's settings (base URL, model, limits; never the key).
    pub local: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Timings {
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: u64,
    /// Hashing the user's tree.
    pub manifest_ms: Option<f64>,
    pub sandbox_setup_ms: Option<f64>,
    pub sandbox_teardown_ms: Option<f64>,
}

/// The platform and, in a container, the engine and image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Runtime {
    pub os: String,
    pub arch: String,
    pub container_runtime: Option<String>,
    pub container_runtime_version: Option<String>,
    pub container_client_version: Option<String>,
    pub container_image_id: Option<String>,
}

/// The container engine and image commands ran on (`sandbox::EngineInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ContainerRecord {
    pub runtime: String,
    pub client_version: String,
    pub server_version: String,
    pub image: String,
    /// The image's id; older bundles record none (replay then runs the tag, and says so).
    pub image_id: Option<String>,
}

/// One target's run, as `repro.json` and the events summarise it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RunSummary {
    pub target: String,
    pub exit_code: i32,
    pub timed_out: bool,
    pub duration_ms: u64,
    pub tests: Option<TestSummary>,
}

/// How the session ended; `null` in `repro.json` while it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ReproResult {
    pub status: RecordedStatus,
    pub attempts_used: u32,
    /// `null` when no target ran (refused before the baseline).
    pub final_exit_code: Option<i32>,
    pub final_patch_sha256: Option<String>,
    pub changed_files: Vec<String>,
    pub applied: bool,
    pub apply_refused: Option<String>,
    pub message: String,
    pub hint: Option<String>,
    /// The last runs of the targets: the proof's when proven. Replay holds a replay to their
    /// test counts.
    #[serde(rename = "final")]
    pub final_runs: Vec<RunSummary>,
}

/// `attempts/<n>/outcome.json`, also an `attempt` event and an entry of `repro.json`'s
/// `attempts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub outcome: AttemptKind,
    /// The rule that refused the candidate (`rejected`), or `duplicate`.
    pub rule: Option<String>,
    /// What the next attempt was told.
    pub feedback: String,
    pub proposer: Option<String>,
    /// sha256 of the candidate's canonical diff, when there was one.
    pub diff_sha256: Option<String>,
}

/// How one attempt ended, as recorded. Names are API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptKind {
    /// The model endpoint cannot be used at all; the session stops (`infra_stop`).
    ProposerUnusable,
    /// The proposer failed this time (a bad reply, a transient error).
    #[default]
    ProposerFailed,
    /// The proposer had nothing to propose.
    NoChange,
    /// The candidate did not parse, or the policy or the sandbox's files refused it.
    Rejected,
    /// The candidate makes exactly the change of an earlier attempt whose verification failed.
    Duplicate,
    /// The candidate applied but the proof targets or the integrity checks failed.
    VerificationFailed,
    /// Every proof target passed.
    Passed,
}

/// What minimization did (`repro.json`'s `minimization`, the `minimized` event).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MinimizationRecord {
    pub hunks_before: usize,
    pub hunks_after: usize,
    /// The hunks kept, by index.
    pub kept: Vec<usize>,
    pub runs: Vec<MinimizeRunRecord>,
    pub max_runs: usize,
    /// Whether `max_runs` stopped the search before it finished.
    pub exhausted: bool,
    /// The finer pass over the changed lines of the hunks kept (a deleted line and the line
    /// replacing it count once), within what is left of `max_runs`; absent when it did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<LineMinimizationRecord>,
    /// Bytes of the winning diff before minimization.
    pub patch_bytes_before: usize,
    /// Bytes of `final.patch`.
    pub patch_bytes_after: usize,
}

/// The line pass of minimization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LineMinimizationRecord {
    pub units_before: usize,
    pub units_after: usize,
    /// The units kept, by index.
    pub kept: Vec<usize>,
    pub runs: Vec<MinimizeRunRecord>,
    /// Whether the budget stopped the search before it finished.
    pub exhausted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MinimizeRunRecord {
    pub subset: Vec<usize>,
    pub passed: bool,
}

/// The isolation actually applied to the session's commands (`repro.json` and
/// `environment.json`). Which fields are present depends on `applied`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct IsolationRecord {
    pub network: IsolationNetwork,
    pub applied: Applied,
    /// Why isolation was unavailable (`applied: unavailable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Confined on the host: loopback `up` in a private network namespace, or the `host`'s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback: Option<Loopback>,
    /// Confined on the host: the layers the probe saw (`sandbox::ConfinementLayers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::sandbox::ConfinementLayers>")]
    pub confinement: Option<serde_json::Value>,
    /// The overlay backend: where the overlay was mounted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<String>,
    /// In a container: `none` under `network: deny`, else `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

impl IsolationRecord {
    /// Before anything was decided (a session that stopped before planning isolation).
    pub fn unknown() -> Self {
        Self::default()
    }

    /// Isolation the policy asks for cannot be had here.
    pub fn unavailable(network: impl Into<IsolationNetwork>, reason: impl Into<String>) -> Self {
        Self {
            network: network.into(),
            applied: Applied::Unavailable,
            reason: Some(reason.into()),
            ..Self::default()
        }
    }
}

/// The policy's `network`, or `unknown` before the policy was applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IsolationNetwork {
    Deny,
    Allow,
    #[default]
    Unknown,
}

/// What confined the commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    /// Confined on the host without a private network namespace (`network: allow`).
    #[default]
    None,
    /// Confined on the host in a private network namespace.
    NetworkNamespace,
    /// A container per command.
    Container,
    /// Nothing ran: the isolation asked for is not available here.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Loopback {
    Up,
    Host,
}

/// `environment.json`: the machine and what the commands' environment held (names only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Environment {
    #[schemars(extend("const" = ENVIRONMENT_SCHEMA))]
    pub schema_version: String,
    pub pp_version: String,
    pub os: String,
    pub arch: String,
    pub kernel: Option<String>,
    pub git_version: Option<String>,
    /// The sandbox's own description (`sandbox::SandboxInfo`).
    #[schemars(with = "Option<crate::sandbox::SandboxInfo>")]
    pub sandbox: Option<serde_json::Value>,
    pub isolation: IsolationRecord,
    pub container: Option<ContainerRecord>,
    /// Variables the commands got.
    pub env_passed: Vec<String>,
    /// Of those, the ones passed into the container.
    pub env_passed_into_container: Option<Vec<String>>,
    /// Variables withheld from the commands (pp's secrets, `policy.env.deny`).
    pub env_withheld: Vec<String>,
}

/// The `https://pp.dev/proof/v1` predicate of a bundle's attestation: `repro.json`'s fields a
/// verifier and replay need, copied leniently (a field `repro.json` lacks, or holds in another
/// shape, is `null`; the signature vouches for what was copied, not for its shape). `targets`
/// is normalised to `[{name, cmd, argv}]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ProofPredicate {
    pub status: serde_json::Value,
    pub command: serde_json::Value,
    pub targets: serde_json::Value,
    pub policy_sha256: serde_json::Value,
    #[serde(deserialize_with = "lenient")]
    pub source: PredicateSource,
    pub sandbox: serde_json::Value,
    pub isolation: serde_json::Value,
    pub provider: serde_json::Value,
    pub model: serde_json::Value,
    pub pp_version: serde_json::Value,
    pub timings: serde_json::Value,
    #[serde(deserialize_with = "lenient")]
    pub attester: Attester,
}

impl ProofPredicate {
    /// The recorded status, when it is a string.
    pub fn status(&self) -> Option<&str> {
        self.status.as_str()
    }
}

/// The source a proof was made on, as the predicate records it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PredicateSource {
    pub git_commit: serde_json::Value,
    pub git_dirty: serde_json::Value,
    pub dirty_diff_sha256: serde_json::Value,
    pub untracked_sha256: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Attester {
    pub name: String,
    pub version: String,
}

/// How a replay ended (`status` of the `pp.replay/v1` document). Names are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplayStatus {
    /// Every recorded target passed with `final.patch` applied, with the proof's test counts
    /// (exit 0).
    Replayed,
    /// A target failed, or exited 0 without the tests the proof ran (exit 13).
    Failed,
    /// The source is not the one the proof was made on (exit 13).
    DifferentSource,
    /// `final.patch` does not apply to the source (exit 13).
    PatchFailed,
    /// The bundle records another status than `proven`: nothing to replay (exit 13).
    NoProof,
    /// The container engine could not run the targets; the replay says nothing about the proof
    /// (exit 12).
    InfraStop,
    /// Verification came first and failed, or nothing vouches for the bundle; nothing ran
    /// (exit 13).
    AttestationFailed,
}

impl ReplayStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replayed => "replayed",
            Self::Failed => "failed",
            Self::DifferentSource => "different_source",
            Self::PatchFailed => "patch_failed",
            Self::NoProof => "no_proof",
            Self::InfraStop => "infra_stop",
            Self::AttestationFailed => "attestation_failed",
        }
    }
}

impl std::fmt::Display for ReplayStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
