//! The policy file's shape: every key, its type and its default. Parsing and validation live in
//! `load.rs`; what the values allow lives in `rules.rs`.

use serde::{Deserialize, Serialize};

/// The whole policy document: proof targets plus the `policy:` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    #[serde(default)]
    pub proof_targets: Vec<TargetSpec>,
    #[serde(default)]
    pub policy: Policy,
}

/// One proof target: a name and either a shell command or an exact argv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    /// A JUnit XML report the target writes (workspace-relative); when set, test counts come
    /// from it. pp deletes it before every run so a stale report never counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub junit: Option<String>,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    #[default]
    Deny,
    Allow,
}

/// The `policy:` section. Keys absent from the file take the defaults below; `policy.json` in
/// the bundle records the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub network: Network,
    /// Exact command strings, run through `sh -c`. `None` when the file does not set the key:
    /// `pp run CMD` then allows exactly `CMD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_commands: Option<Vec<String>>,
    /// Exact argv vectors, run without a shell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_argv: Option<Vec<Vec<String>>>,
    pub write_allowlist: Vec<String>,
    pub deny_write: Vec<String>,
    pub limits: Limits,
    pub minimize: bool,
    pub sandbox: SandboxConfig,
    pub attestation: AttestationConfig,
    /// Reruns of a failing baseline before any proposal; one that passes means flaky.
    pub reproduce_runs: u32,
    /// Reruns of a passing candidate before it counts as proven.
    pub confirm_runs: u32,
    /// Whether reproduction reruns, candidates and minimization run the failing tests alone
    /// first (each runner's own selection), the full targets only when those pass.
    pub failing_first: bool,
    /// Candidates asked of the proposer per attempt (`n` for model proposers), each verified
    /// in its own sandbox; the smallest that passes wins.
    pub candidates: u32,
    /// Most candidates (and `search` trials) verified at once, each in its own sandbox.
    /// Absent: the number of cores of the machine (see [`Policy::parallelism`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    pub env: EnvPolicy,
    pub provider: ProviderConfig,
    /// Upper bound, in bytes, of the code snippets sent to a proposer.
    pub context_budget_bytes: usize,
    /// Whether candidates may edit tests: test files (`tests/`, `test_*.py`, `*_test.go`,
    /// `*.spec.ts`, …), test-runner configuration, and test-level edits in any file (see
    /// `patch::test_guard`). Off by default: a candidate that rewrites the judge proves nothing.
    pub allow_test_edits: bool,
    /// Globs no candidate may write, whatever `allow_test_edits` says: the data tests read
    /// (fixtures, golden files, snapshots). Defaults to `DEFAULT_PROTECTED`.
    pub protected: Vec<String>,
    /// The model-free `search` proposer: whether it runs and its budget.
    pub search: SearchConfig,
}

impl Policy {
    /// How many candidates or trials run at once: `policy.parallelism`, or the number of
    /// cores when the file does not say.
    pub fn parallelism(&self) -> usize {
        match self.parallelism {
            Some(n) => n.max(1) as usize,
            None => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        }
    }
}

/// `policy.search`: the budget of the built-in `search` proposer (small edits tried against
/// the failing tests, see `propose::search`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Whether `search` runs where the chain names it (`auto` does).
    pub enabled: bool,
    /// Most candidates tried in a session.
    pub max_trials: u32,
    /// Most seconds spent trying them.
    pub max_seconds: u64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_trials: 200,
            max_seconds: 300,
        }
    }
}

/// The default of `policy.protected`: where test data usually lives.
pub const DEFAULT_PROTECTED: [&str; 5] = [
    "**/testdata/**",
    "**/fixtures/**",
    "**/snapshots/**",
    "**/__snapshots__/**",
    "**/golden/**",
];

impl Default for Policy {
    fn default() -> Self {
        Self {
            network: Network::Deny,
            allowed_commands: None,
            allowed_argv: None,
            write_allowlist: vec!["**".to_owned()],
            deny_write: Vec::new(),
            limits: Limits::default(),
            minimize: true,
            sandbox: SandboxConfig::default(),
            attestation: AttestationConfig::default(),
            reproduce_runs: 1,
            confirm_runs: 0,
            failing_first: true,
            candidates: 1,
            parallelism: None,
            env: EnvPolicy::default(),
            provider: ProviderConfig::default(),
            context_budget_bytes: 24_000,
            allow_test_edits: false,
            protected: DEFAULT_PROTECTED.iter().map(|g| (*g).to_owned()).collect(),
            search: SearchConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_attempts: u32,
    pub max_files_changed: usize,
    pub max_patch_bytes: u64,
    pub per_command_timeout_sec: u64,
    /// Bytes of stdout and of stderr kept on disk per command; the rest is counted, not stored.
    pub max_output_bytes: u64,
    /// Bytes of each stream's end kept in memory for evidence.
    pub output_tail_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_files_changed: 8,
            max_patch_bytes: 200_000,
            per_command_timeout_sec: 600,
            max_output_bytes: 16 * 1024 * 1024,
            output_tail_bytes: 64 * 1024,
        }
    }
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    #[default]
    Auto,
    Copy,
    GitWorktree,
    Container,
    /// Linux: an overlay of the workspace mounted at its own path in a private mount namespace.
    Overlay,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Copy => "copy",
            Self::GitWorktree => "git_worktree",
            Self::Container => "container",
            Self::Overlay => "overlay",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    pub backend: BackendKind,
    pub container_runtime: String,
    pub container_image: String,
    pub container_workdir: String,
    /// `--cpus` of the container backend.
    pub cpu_limit: String,
    /// `--memory` of the container backend.
    pub memory_limit: String,
    /// `--pids-limit` of the container backend: bounds fork bombs and runaway test workers.
    pub pids_limit: u32,
    /// Globs (workspace-relative) left out of a `copy` sandbox: large, regenerable directories.
    pub exclude: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Auto,
            container_runtime: "docker".to_owned(),
            container_image: "python:3.11-slim".to_owned(),
            container_workdir: "/workspace".to_owned(),
            cpu_limit: "2".to_owned(),
            memory_limit: "2g".to_owned(),
            pids_limit: 512,
            exclude: Vec::new(),
        }
    }
}

/// Attestation modes are the attestation module's own (`auto`, `hmac-sha256`, `ed25519`, `none`).
pub use crate::bundle::attest::Mode as AttestMode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AttestationConfig {
    pub enabled: bool,
    pub mode: AttestMode,
    pub key_env: String,
    /// Ed25519 private key (PKCS#8 PEM) used when `mode` is `ed25519` or `auto`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
}

impl Default for AttestationConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            mode: AttestMode::Auto,
            key_env: "PP_ATTEST_HMAC_KEY".to_owned(),
            key_file: None,
        }
    }
}

/// What the commands pp runs see of the user's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EnvPolicy {
    /// When set, only these variables (plus `PATH`, `HOME`, `LANG`, `TERM`, `TMPDIR`, `USER`)
    /// are passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<Vec<String>>,
    /// Variables never passed, on top of pp's own secrets.
    pub deny: Vec<String>,
}

/// Proposer settings; `--provider` and `PP_PROVIDER` take precedence over `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// argv of the `command` proposer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    pub command_timeout_sec: u64,
    /// Seconds an HTTP proposer may spend retrying (429, 5xx, timeouts) for one request.
    pub retry_budget_sec: u64,
    /// Retries of one HTTP request; they never use up attempts.
    pub max_retries: u32,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            name: None,
            command: None,
            command_timeout_sec: 300,
            retry_budget_sec: 120,
            max_retries: 6,
        }
    }
}
