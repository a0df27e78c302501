//! Keys for signing and verifying bundles, read from where the user put them (an environment
//! variable, a PEM file), and the signing step that closes a session.

use std::path::{Path, PathBuf};

use crate::bundle::attest::{self, AttestError, Mode, SignKeys, Trust, VerifyKeys, VerifyReport};
use crate::error::Error;
use crate::settings::{Env, Settings};

fn read_pem(path: &Path, what: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Usage {
        message: format!("cannot read the {what} {}: {e}", path.display()),
        hint: "give the path of a PEM file (`pp attest --generate-key F` makes a key pair)".into(),
    })
}

/// Signing keys: the HMAC key from `key_env` (when set) and the Ed25519 key file (when given).
pub fn sign_keys(
    env: &dyn Fn(&str) -> Option<String>,
    key_env: &str,
    key_file: Option<&Path>,
) -> Result<SignKeys, Error> {
    Ok(SignKeys {
        hmac: env(key_env)
            .filter(|v| !v.is_empty())
            .map(String::into_bytes),
        ed25519_private_pem: key_file
            .map(|f| read_pem(f, "Ed25519 private key"))
            .transpose()?,
    })
}

/// Verification keys: the HMAC key from `key_env` (when set) and trusted public keys.
pub fn verify_keys(
    env: &dyn Fn(&str) -> Option<String>,
    key_env: &str,
    public_keys: &[PathBuf],
) -> Result<VerifyKeys, Error> {
    Ok(VerifyKeys {
        hmac: env(key_env)
            .filter(|v| !v.is_empty())
            .map(String::into_bytes),
        ed25519_public_pems: public_keys
            .iter()
            .map(|f| {
                let pem = read_pem(f, "Ed25519 public key")?;
                // A key that does not parse is the user's mistake, not a bundle mismatch.
                attest::ed25519_public_keyid(&pem).map_err(|e| Error::Usage {
                    message: format!("{}: {e}", f.display()),
                    hint:
                        "pass the SPKI PEM public key (`F.pub` from `pp attest --generate-key F`)"
                            .into(),
                })?;
                Ok(pem)
            })
            .collect::<Result<_, Error>>()?,
    })
}

/// Verifies a bundle with keys from the environment and the given public key files.
///
/// Trust comes only from those keys: with none configured, nothing vouches for who wrote the
/// bundle, and the report is not `ok` unless `allow_unsigned` accepts integrity alone (every
/// file matching its digest in the attestation).
pub fn verify_bundle(
    bundle: &Path,
    env: &Env,
    key_env: &str,
    public_keys: &[PathBuf],
    require: Option<Trust>,
    allow_unsigned: bool,
) -> Result<VerifyReport, Error> {
    if !bundle.is_dir() {
        return Err(Error::Usage {
            message: format!("{} is not a bundle directory", bundle.display()),
            hint: "pass a session's proof_bundle folder: .pp-artifacts/<session-id>/proof_bundle"
                .into(),
        });
    }
    let keys = verify_keys(&|k: &str| env.var(k), key_env, public_keys)?;
    let mut report = attest::verify(bundle, &keys, require);
    if !keys.any() && !allow_unsigned {
        report.fail(format!(
            "no verification key is configured, so nothing vouches for who wrote this bundle; its digests only show that it is consistent (hint: set {key_env} to the HMAC key it was signed with, or pass --public-key F for an Ed25519 signature; --allow-unsigned accepts the bundle on integrity alone)"
        ));
    }
    Ok(report)
}

/// True when the verifier has a key: the HMAC variable is set, or public keys are given.
pub fn verify_key_configured(env: &Env, key_env: &str, public_keys: &[PathBuf]) -> bool {
    !public_keys.is_empty() || env.get(key_env).is_some_and(|v| !v.is_empty())
}

/// Writes `attestation.json` for a finished session; returns its path. Nothing may be written
/// to the bundle afterwards.
pub fn sign_bundle(settings: &Settings, bundle: &Path) -> Result<PathBuf, Error> {
    let env = |k: &str| settings.lookup_env(k).map(str::to_owned);
    let keys = sign_keys(
        &env,
        &settings.attest.key_env,
        settings.attest.key_file.as_deref(),
    )?;
    let outcome = attest::attest(bundle, settings.attest.mode, &keys).map_err(|e| match e {
        AttestError::MissingHmacKey if settings.attest.mode == Mode::HmacSha256 => Error::Usage {
            message: format!(
                "attestation mode hmac-sha256 needs a key in ${}",
                settings.attest.key_env
            ),
            hint: format!(
                "export {}=<at least 32 random bytes>, or use --attestation-mode auto",
                settings.attest.key_env
            ),
        },
        other => Error::Attest(other),
    })?;
    for w in &outcome.warnings {
        tracing::warn!("{w}");
    }
    Ok(outcome.path)
}
