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
