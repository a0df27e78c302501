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

    #[error("attest {}: not a directory\nhint: pass the proof_bundle folder of a session", path.display())]
    NotADirectory { path: PathBuf },

    #[error(
        "attest {}: the bundle holds entries that cannot be subjects:\n  {}\nhint: a bundle holds only regular files and folders with plain names; remove the entries above",
        path.display(),
        problems.join("\n  ")
    )]
    UnsafeBundle {
        path: PathBuf,
        problems: Vec<String>,
    },

    #[error("parse {}: {reason}\nhint: the bundle writer produces this file; rerun the session or restore the file", path.display())]
    Repro { path: PathBuf, reason: String },

    #[error(
        "accept the HMAC key: it is {len} bytes, at least {min} are needed\nhint: set the key env var (default PP_ATTEST_HMAC_KEY) to a random secret, e.g. `openssl rand -hex 32`"
    )]
    HmacKeyTooShort { len: usize, min: usize },

    #[error(
        "sign with hmac-sha256: no HMAC key is configured\nhint: set the key env var (default PP_ATTEST_HMAC_KEY) or pick another --mode"
    )]
    MissingHmacKey,

    #[error(
        "sign with ed25519: no private key is configured\nhint: pass --key-file with a PKCS#8 PEM private key (generate one with pp's key generation command) or pick another --mode"
    )]
    MissingEd25519Key,

    #[error(
        "read the ed25519 private key: {reason}\nhint: the key file must be a PKCS#8 PEM Ed25519 private key (\"-----BEGIN PRIVATE KEY-----\")"
    )]
    PrivateKey { reason: String },

    #[error(
        "read the ed25519 public key: {reason}\nhint: the key must be an SPKI PEM Ed25519 public key (\"-----BEGIN PUBLIC KEY-----\")"
    )]
    PublicKey { reason: String },

    #[error("create {}: the file already exists\nhint: move it away or choose another path; pp never overwrites a key", path.display())]
    KeyFileExists { path: PathBuf },

    #[error("gather randomness for a new key: {reason}")]
    Randomness { reason: String },

    #[error("encode the attestation: {source}")]
    Encode {
        #[source]
        source: serde_json::Error,
    },
}
