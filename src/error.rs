//! The top-level error: every failure of a command that is not a session status, mapped to the
//! documented exit codes (2 for what the user can fix, 1 for bugs) by an exhaustive match.
//! Hints are data: each error says what the user can do through [`Error::hint`], and the entry
//! prints it on its own `hint:` line (and in the JSON error document's `hint` field); messages
//! never carry it.

use crate::bundle::BundleError;
use crate::bundle::attest::AttestError;
use crate::console::OutputError;
use crate::exec::ExecError;
use crate::patch::{PatchError, Rejection};
use crate::policy::PolicyError;
use crate::propose::ProposeError;
use crate::sandbox::SandboxError;
use crate::settings::SettingsError;

/// Exit code for usage and configuration errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for internal errors (bugs, unexpected I/O failures).
pub const EXIT_INTERNAL: u8 = 1;
/// Exit code for a verification or replay mismatch.
pub const EXIT_MISMATCH: u8 = 13;
/// Exit code after SIGINT/SIGTERM.
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Propose(ProposeError),
    /// Something the user asked for or handed over that pp cannot use, and what to do instead.
    #[error("{message}")]
    Usage { message: String, hint: String },
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Attest(#[from] AttestError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("failed to {what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("interrupted")]
    Interrupted,
    /// The policy's write rules were checked when it loaded; failing to compile them is a bug.
    #[error("internal error: failed to compile the policy's write rules")]
    WriteRules(#[source] PatchError),
    /// A background task of pp's own died.
    #[error("internal error: {what} failed")]
    Task {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error("internal error: failed to encode the JSON output")]
    EncodeOutput(#[source] serde_json::Error),
    /// pp's own `final.patch` (the rendering of a parsed patch) no longer parses.
    #[error("internal error: final.patch does not parse")]
    FinalPatch(#[source] Rejection),
    /// A file pp wrote itself in this session cannot be read back.
    #[error("internal error: the bundle's {what} is unreadable")]
    Unreadable {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// An invariant of pp's own code does not hold.
    #[error("internal error: {0}")]
    Bug(&'static str),
}

impl Error {
    /// What the user can do about it, when pp knows.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Settings(e) => e.hint(),
            Self::Policy(e) => e.hint().map(str::to_owned),
            Self::Propose(e) => e.hint().map(str::to_owned),
            Self::Usage { hint, .. } => Some(hint.clone()),
            Self::Attest(e) => e.hint().map(str::to_owned),
            Self::Sandbox(e) => e.hint().map(str::to_owned),
            Self::Output(e) => Some(e.hint()),
            // A policy file's globs are checked as it loads, but replay compiles a bundle's
            // policy.json as written.
            Self::WriteRules(e) => e.hint().map(str::to_owned),
            Self::Bundle(_)
            | Self::Exec(_)
            | Self::Io { .. }
            | Self::Interrupted
            | Self::Task { .. }
            | Self::EncodeOutput(_)
            | Self::FinalPatch(_)
            | Self::Unreadable { .. }
            | Self::Bug(_) => None,
        }
    }

    /// The documented exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Settings(_) | Self::Policy(_) | Self::Usage { .. } => EXIT_USAGE,
            Self::Propose(e) => match e {
                ProposeError::Config { .. } => EXIT_USAGE,
                ProposeError::Interrupted => EXIT_INTERRUPTED,
                ProposeError::Unusable { .. } | ProposeError::Failed { .. } => EXIT_INTERNAL,
            },
            Self::Attest(e) => match e {
                AttestError::NotADirectory { .. }
                | AttestError::UnsafeBundle { .. }
                | AttestError::Repro { .. }
                | AttestError::HmacKeyTooShort { .. }
                | AttestError::MissingHmacKey
                | AttestError::MissingEd25519Key
                | AttestError::PrivateKey { .. }
                | AttestError::PublicKey { .. }
                | AttestError::KeyFileExists { .. } => EXIT_USAGE,
                AttestError::Read { .. }
                | AttestError::Write { .. }
                | AttestError::Randomness { .. }
                | AttestError::Encode { .. } => EXIT_INTERNAL,
            },
            Self::Exec(e) => match e {
                ExecError::Interrupted { .. } => EXIT_INTERRUPTED,
                ExecError::LogDir { .. } | ExecError::Spawn { .. } | ExecError::Wait { .. } => {
                    EXIT_INTERNAL
                }
            },
            Self::Interrupted => EXIT_INTERRUPTED,
            // A bundle the user handed us that cannot be read is theirs to fix.
            Self::Bundle(e) => match e {
                BundleError::Read { .. } => EXIT_USAGE,
                BundleError::Write { .. } | BundleError::Encode { .. } => EXIT_INTERNAL,
            },
            // So is a backend this machine cannot provide (replay reports it; sessions refuse
            // first).
            Self::Sandbox(e) => match e {
                SandboxError::Unsupported { .. } | SandboxError::Git { .. } => EXIT_USAGE,
                SandboxError::Create { .. } | SandboxError::Copy { .. } => EXIT_INTERNAL,
            },
            Self::Io { .. }
            | Self::Output(_)
            | Self::WriteRules(_)
            | Self::Task { .. }
            | Self::EncodeOutput(_)
            | Self::FinalPatch(_)
            | Self::Unreadable { .. }
            | Self::Bug(_) => EXIT_INTERNAL,
        }
    }
}
