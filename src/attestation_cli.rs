//! `pp attest` and `pp verify-attestation` (interim until the attestation module lands).

use std::path::{Path, PathBuf};

use crate::cli::{AttestArgs, VerifyArgs};
use crate::error::Error;

pub struct VerifySummary {
    pub ok: bool,
    pub problems: Vec<String>,
}

pub fn attest(_a: AttestArgs) -> Result<u8, Error> {
    Err(Error::Internal(
        "attestation is not available in this build".into(),
    ))
}

pub fn verify(_a: VerifyArgs) -> Result<u8, Error> {
    Err(Error::Internal(
        "attestation is not available in this build".into(),
    ))
}

pub fn verify_report(
    _bundle: &Path,
    _key_env: &str,
    _public_keys: &[PathBuf],
    _require: Option<()>,
) -> Result<VerifySummary, Error> {
    Err(Error::Internal(
        "attestation is not available in this build".into(),
    ))
}
