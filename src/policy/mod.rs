//! The policy: which commands may run, which files may change and how much, with or without
//! network. This stage is pure: it reads one file and answers questions; it never runs anything.

mod load;
mod model;
mod rules;

use std::path::PathBuf;

pub use load::{DISCOVERED_NAMES, LoadedPolicy, load, parse, validate};
pub use model::{
    AttestMode, AttestationConfig, BackendKind, DEFAULT_PROTECTED, EnvPolicy, Limits, Network,
    Policy, PolicyDoc, ProviderConfig, SandboxConfig, SearchConfig, TargetSpec,
};
pub use rules::{ALWAYS_PROTECTED, Invocation, Target, protected_globs, resolve_targets};

/// Errors reading or validating a policy file; all are the user's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file {} does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("failed to read policy file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}{}: {}{message}", path.display(), line.map(|l| format!(":{l} (line {l})")).unwrap_or_default(), if key.is_empty() { String::new() } else { format!("`{key}`: ") })]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        key: String,
        message: String,
    },
    #[error("{}: `{key}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
        hint: String,
    },
}

impl PolicyError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::NotFound { .. } => Some("check the --policy path"),
            Self::Read { .. } => None,
            Self::Syntax { message, .. } if message.contains("unknown field") => Some(
                "unknown keys are errors, not ignored: check the spelling against the policy reference in the README",
            ),
            Self::Syntax { .. } => {
                Some("see the policy reference in the README for each key's type and values")
            }
            Self::Invalid { hint, .. } => Some(hint),
        }
    }
}
