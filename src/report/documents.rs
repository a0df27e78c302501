//! The JSON documents of the commands other than `run`/`prove` whose shape pp publishes:
//! `pp.verify/v1` (`pp verify-attestation --json`), `pp.attest/v1` and `pp.keygen/v1`
//! (`pp attest --json`), `pp.gc/v1` (`pp gc --json`) and `pp.error/v1` (any command's error
//! under `--json`). Types only; the
//! commands fill and print them.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::bundle::attest::VerifyReport;

/// Version of `pp verify-attestation --json`'s document.
pub const VERIFY_SCHEMA: &str = "pp.verify/v1";
/// Version of the error document every command prints under `--json`.
pub const ERROR_SCHEMA: &str = "pp.error/v1";
/// Version of the `pp gc --json` document.
pub const GC_SCHEMA: &str = "pp.gc/v1";

/// `pp verify-attestation --json`: the verification's report with the fields every pp document
/// has.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VerifyDocument {
    #[schemars(extend("const" = VERIFY_SCHEMA))]
    pub schema_version: &'static str,
    /// True exactly when the bundle verified (the same as `ok`, which is kept as its alias).
    pub success: bool,
    /// What to do about a bundle that failed; `null` when it verified.
    pub hint: Option<String>,
    /// The session status the bundle records (`proven`, …; `running` or `interrupted` for an
    /// unfinished one), when its `repro.json` could be read.
    pub bundle_status: Option<String>,
    #[serde(flatten)]
    pub report: VerifyReport,
}

/// Version of `pp attest BUNDLE --json`'s document.
pub const ATTEST_SCHEMA: &str = "pp.attest/v1";
/// Version of `pp attest --generate-key F --json`'s document.
pub const KEYGEN_SCHEMA: &str = "pp.keygen/v1";

/// `pp attest BUNDLE --json`: the attestation written.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AttestDocument {
    #[schemars(extend("const" = ATTEST_SCHEMA))]
    pub schema_version: &'static str,
    /// Always true: a failure is a `pp.error/v1` document.
    pub success: bool,
    /// The written `attestation.json`.
    pub attestation: PathBuf,
    /// keyids of the signatures in the envelope (empty when unsigned).
    pub signed_with: Vec<String>,
    /// What the user should know (an unsigned attestation under `mode: auto`).
    pub warnings: Vec<String>,
}

/// `pp attest --generate-key F --json`: the key pair written.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KeygenDocument {
    #[schemars(extend("const" = KEYGEN_SCHEMA))]
    pub schema_version: &'static str,
    /// Always true: a failure is a `pp.error/v1` document.
    pub success: bool,
    /// The private key (PKCS#8 PEM).
    pub private_key: PathBuf,
    /// The public key (SPKI PEM), the private key's path plus `.pub`.
    pub public_key: PathBuf,
    /// The key's securesystemslib keyid, as signatures name it.
    pub keyid: Option<String>,
}

/// The document of an error under `--json` (a bad flag, a bad policy file, a bug): stdout
/// still carries exactly one JSON document.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ErrorDocument {
    #[schemars(extend("const" = ERROR_SCHEMA))]
    pub schema_version: &'static str,
    #[schemars(extend("const" = false))]
    pub success: bool,
    /// The error and its causes; for a command line pp cannot parse, the parser's sentence
    /// naming the flag or value.
    pub error: String,
    /// What to do about it; always present, `null` when there is nothing the user can do.
    pub hint: Option<String>,
    /// The exit code pp ends with.
    pub exit_code: u8,
}

impl ErrorDocument {
    pub fn new(error: String, hint: Option<String>, exit_code: u8) -> Self {
        Self {
            schema_version: ERROR_SCHEMA,
            success: false,
            error,
            hint,
            exit_code,
        }
    }
}

/// A session `pp gc` removed (or, with `--dry-run`, would remove).
#[derive(Debug, Serialize, JsonSchema)]
pub struct GcRemoved {
    pub session_id: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub age_secs: u64,
}

/// `pp gc --json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GcDocument {
    #[schemars(extend("const" = GC_SCHEMA))]
    pub schema_version: &'static str,
    pub success: bool,
    /// The `.pp-artifacts` folder pruned; `null` when there is none.
    pub artifacts: Option<PathBuf>,
    pub dry_run: bool,
    pub keep: usize,
    pub older_than_secs: Option<u64>,
    /// Removed sessions (with `--dry-run`: the ones that would be).
    pub removed: Vec<GcRemoved>,
    /// Sessions kept, by id.
    pub kept: Vec<String>,
    /// Sessions kept because they may still be running.
    pub running: Vec<String>,
    pub freed_bytes: u64,
    /// Sessions that could not be removed, with why.
    pub errors: Vec<String>,
}

/// Version of the `pp doctor --json` document.
pub const DOCTOR_SCHEMA: &str = "pp.doctor/v1";

/// `pp doctor --json`: the resolved policy and what this machine can enforce, each layer as
/// its probe found it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DoctorDocument {
    #[schemars(extend("const" = DOCTOR_SCHEMA))]
    pub schema_version: &'static str,
    pub success: bool,
    pub policy: DoctorPolicy,
    /// `--command C`: whether the policy allows it and how it would run.
    pub command_check: Option<CommandCheck>,
    pub machine: DoctorMachine,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DoctorPolicy {
    /// The policy file; `null` when none was found and the defaults apply.
    pub path: Option<String>,
    /// `file` or `defaults`.
    pub source: &'static str,
    pub sha256: Option<String>,
    /// The effective policy after defaults (the bundle's `policy.json`).
    pub effective: crate::policy::PolicyDoc,
    /// Globs no candidate may write, whatever the policy says.
    pub protected: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CommandCheck {
    pub command: String,
    pub allowed: bool,
    /// How it runs: `{"shell": …}` through `sh -c`, or `{"argv": […]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_as: Option<crate::policy::Invocation>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DoctorMachine {
    pub os: &'static str,
    pub arch: &'static str,
    pub git: Probed,
    pub network_isolation: Probed,
    pub confinement: Probed,
    pub overlay_sandbox: Probed,
    /// The backend `auto` picks here.
    pub auto_backend: &'static str,
    pub container_runtime: ContainerReport,
}

/// One layer or tool as its probe found it: `available`, and what the probe saw or why not.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Probed {
    pub available: bool,
    /// How the layer is had here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
    /// The tool's version (`git`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The bubblewrap run (`confinement`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bwrap: Option<PathBuf>,
    /// The layers a confined command got (`confinement`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<crate::sandbox::ConfinementLayers>,
    /// Milliseconds to mount the probe's overlay (`overlay_sandbox`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_ms: Option<f64>,
    /// What was run to find out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The policy's container runtime, probed step by step: client, engine, image, a container.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContainerReport {
    pub name: String,
    /// The client's version, or `{"error": …}`.
    pub client: ClientProbe,
    pub engine: EngineProbe,
    pub image: ImageProbe,
    pub start: StartProbe,
    /// Every step answered.
    pub usable: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ClientProbe {
    Version(String),
    Failed { error: String },
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EngineProbe {
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ImageProbe {
    pub name: String,
    pub present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StartProbe {
    pub ran: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Version of the `pp completions --json` document.
pub const COMPLETIONS_SCHEMA: &str = "pp.completions/v1";
/// Version of the `pp man --json` document.
pub const MAN_SCHEMA: &str = "pp.man/v1";

/// `pp completions SHELL --json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CompletionsDocument {
    #[schemars(extend("const" = COMPLETIONS_SCHEMA))]
    pub schema_version: &'static str,
    pub success: bool,
    pub shell: String,
    /// The completion script.
    pub script: String,
}

/// `pp man --json`: the page itself, or (with `--out-dir`) where the pages were written.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ManDocument {
    #[schemars(extend("const" = MAN_SCHEMA))]
    pub schema_version: &'static str,
    pub success: bool,
    /// `pp.1` in roff, without `--out-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// The folder written, with `--out-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// The pages written there, with `--out-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
}
