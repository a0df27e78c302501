//! Errors of writing an attestation or generating keys; verification never errors, it reports.

use std::path::PathBuf;

/// Why `attest` or `generate_ed25519` could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("attest {}: not a directory", path.display())]
    NotADirectory { path: PathBuf },

    #[error(
        "attest {}: the bundle holds entries that cannot be subjects:\n  {}",
        path.display(),
        problems.join("\n  ")
    )]
    UnsafeBundle {
        path: PathBuf,
        problems: Vec<String>,
    },

    #[error("parse {}: {reason}", path.display())]
    Repro { path: PathBuf, reason: String },

    #[error("accept the HMAC key: it is {len} bytes, at least {min} are needed")]
    HmacKeyTooShort { len: usize, min: usize },

    #[error("sign with hmac-sha256: no HMAC key is configured")]
    MissingHmacKey,

    #[error("sign with ed25519: no private key is configured")]
    MissingEd25519Key,

    #[error("read the ed25519 private key: {reason}")]
    PrivateKey { reason: String },

    #[error("read the ed25519 public key: {reason}")]
    PublicKey { reason: String },

    #[error("create {}: the file already exists", path.display())]
    KeyFileExists { path: PathBuf },

    #[error("gather randomness for a new key: {reason}")]
    Randomness { reason: String },

    #[error("encode the attestation: {source}")]
    Encode {
        #[source]
        source: serde_json::Error,
    },
}

impl AttestError {
    /// What the user can do about it, when it is theirs to fix.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::NotADirectory { .. } => "pass the proof_bundle folder of a session",
            Self::UnsafeBundle { .. } => {
                "a bundle holds only regular files and folders with plain names; remove the entries above"
            }
            Self::Repro { .. } => {
                "the bundle writer produces this file; rerun the session or restore the file"
            }
            Self::HmacKeyTooShort { .. } => {
                "set the key env var (default PP_ATTEST_HMAC_KEY) to a random secret, e.g. `openssl rand -hex 32`"
            }
            Self::MissingHmacKey => {
                "set the key env var (default PP_ATTEST_HMAC_KEY) or pick another --mode"
            }
            Self::MissingEd25519Key => {
                "pass --key-file with a PKCS#8 PEM private key (generate one with pp's key generation command) or pick another --mode"
            }
            Self::PrivateKey { .. } => {
                "the key file must be a PKCS#8 PEM Ed25519 private key (\"-----BEGIN PRIVATE KEY-----\")"
            }
            Self::PublicKey { .. } => {
                "the key must be an SPKI PEM Ed25519 public key (\"-----BEGIN PUBLIC KEY-----\")"
            }
            Self::KeyFileExists { .. } => {
                "move it away or choose another path; pp never overwrites a key"
            }
            Self::Read { .. }
            | Self::Write { .. }
            | Self::Randomness { .. }
            | Self::Encode { .. } => {
                return None;
            }
        })
    }
}
