//! The top-level error: every failure of a command that is not a session status, mapped to the
//! documented exit codes (2 for what the user can fix, 1 for bugs) by an exhaustive match.

use crate::bundle::BundleError;
use crate::bundle::attest::AttestError;
use crate::console::OutputError;
use crate::exec::ExecError;
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
    #[error("{message}\nhint: {hint}")]
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
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
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
            Self::Exec(ExecError::Interrupted { .. }) | Self::Interrupted => EXIT_INTERRUPTED,
            // A bundle the user handed us that cannot be read is theirs to fix, and so is a
            // backend this machine cannot provide (replay reports it; sessions refuse first).
            Self::Bundle(BundleError::Read { .. })
            | Self::Sandbox(SandboxError::Unsupported { .. } | SandboxError::Git { .. }) => {
                EXIT_USAGE
            }
            Self::Bundle(_)
            | Self::Sandbox(_)
            | Self::Exec(_)
            | Self::Io { .. }
            | Self::Output(_)
            | Self::Internal(_) => EXIT_INTERNAL,
        }
    }
}
