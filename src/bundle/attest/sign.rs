//! Writing `attestation.json`: hash the bundle, build the statement from `repro.json`, sign the
//! DSSE PAE with the keys the mode asks for, and replace the file atomically.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::dsse::{self, Envelope, EnvelopeSignature, PAYLOAD_TYPE};
use super::error::AttestError;
use super::json::parse_strict;
use super::keys::{
    HMAC_KEYID, Mode, SignKeys, check_hmac_key, ed25519_keyid, ed25519_sign, hmac_sign,
    parse_private_pem,
};
use super::statement::{build_statement, predicate_from_repro};
use super::walk::scan_bundle;

/// The attestation's file name inside the bundle; the one file that is never a subject.
pub const ATTESTATION_FILE: &str = "attestation.json";

/// The bundle file whose fields become the predicate.
const REPRO_FILE: &str = "repro.json";

/// What `attest` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct AttestOutcome {
    /// The written `attestation.json`.
    pub path: PathBuf,
    /// keyids of the signatures in the envelope (empty when unsigned).
    pub signed_with: Vec<String>,
    /// Things the user should know, e.g. an unsigned attestation under `mode: auto`.
    pub warnings: Vec<String>,
}

/// (Re)writes `bundle_dir/attestation.json` for the bundle as it is now.
///
/// Refuses a bundle holding symlinks or special files, and a `mode` whose key is missing.
pub fn attest(
    bundle_dir: &Path,
    mode: Mode,
    keys: &SignKeys,
) -> Result<AttestOutcome, AttestError> {
    let mut warnings = Vec::new();
    let (use_hmac, use_ed25519) = match mode {
        Mode::Auto => (keys.hmac.is_some(), keys.ed25519_private_pem.is_some()),
        Mode::HmacSha256 if keys.hmac.is_none() => return Err(AttestError::MissingHmacKey),
        Mode::HmacSha256 => (true, false),
        Mode::Ed25519 if keys.ed25519_private_pem.is_none() => {
            return Err(AttestError::MissingEd25519Key);
        }
        Mode::Ed25519 => (false, true),
        Mode::None => (false, false),
    };
    // Check keys before any work so a bad key never leaves a half-done attestation behind.
    let hmac_key = match (&keys.hmac, use_hmac) {
        (Some(key), true) => {
            check_hmac_key(key)?;
            Some(key.as_slice())
        }
        _ => None,
    };
    let signing_key = match (&keys.ed25519_private_pem, use_ed25519) {
        (Some(pem), true) => Some(parse_private_pem(pem)?),
        _ => None,
    };
    if mode == Mode::Auto && hmac_key.is_none() && signing_key.is_none() {
        warnings.push(
            "no attestation key is configured; attestation.json is unsigned (set PP_ATTEST_HMAC_KEY or pass an ed25519 key file)"
                .to_owned(),
        );
    }

    let scan = scan_bundle(bundle_dir)?;
    if !scan.problems.is_empty() {
        return Err(AttestError::UnsafeBundle {
            path: bundle_dir.to_path_buf(),
            problems: scan.problems,
        });
    }
    let repro = read_repro(bundle_dir, &scan.files, &mut warnings)?;
    let statement = build_statement(&scan.files, predicate_from_repro(repro.as_ref()));
    let payload =
        serde_json::to_vec(&statement).map_err(|source| AttestError::Encode { source })?;
    let message = dsse::pae(PAYLOAD_TYPE, &payload);

    let mut signatures = Vec::new();
    if let Some(key) = hmac_key {
        signatures.push(EnvelopeSignature {
            keyid: HMAC_KEYID.to_owned(),
            sig: hmac_sign(key, &message)?,
        });
    }
    if let Some(key) = &signing_key {
        signatures.push(EnvelopeSignature {
            keyid: ed25519_keyid(&key.verifying_key()),
            sig: ed25519_sign(key, &message),
        });
    }
    let signed_with = signatures.iter().map(|s| s.keyid.clone()).collect();
    let envelope = Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload,
        signatures,
    };
    let text = dsse::encode(&envelope).map_err(|source| AttestError::Encode { source })?;
    let path = bundle_dir.join(ATTESTATION_FILE);
    write_atomically(bundle_dir, &path, &text)?;
    Ok(AttestOutcome {
        path,
        signed_with,
        warnings,
    })
}

fn read_repro(
    bundle_dir: &Path,
    files: &[super::walk::BundleFile],
    warnings: &mut Vec<String>,
) -> Result<Option<serde_json::Value>, AttestError> {
    if !files.iter().any(|f| f.path == REPRO_FILE) {
        warnings.push(format!(
            "{REPRO_FILE} is missing; the predicate records no result, targets or source"
        ));
        return Ok(None);
    }
    let path = bundle_dir.join(REPRO_FILE);
    let bytes = std::fs::read(&path).map_err(|source| AttestError::Read {
        path: path.clone(),
        source,
    })?;
    let value = parse_strict(&bytes).map_err(|reason| AttestError::Repro {
        path: path.clone(),
        reason,
    })?;
    if !value.is_object() {
        return Err(AttestError::Repro {
            path,
            reason: "not a JSON object".to_owned(),
        });
    }
    Ok(Some(value))
}

/// Temp file in the bundle folder, flushed, then renamed over the target: readers see the old
/// attestation or the new one, never a torn file.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), AttestError> {
    let write_err = |source| AttestError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".attestation.json.").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::attest::json::parse_strict;

    fn bundle() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("final.patch"), "--- a\n+++ b\n").unwrap();
        std::fs::write(
            dir.path().join("repro.json"),
            r#"{"status": "proven", "targets": [{"name": "default", "cmd": "true"}]}"#,
        )
        .unwrap();
        dir
    }

    #[test]
    fn auto_without_keys_warns_and_writes_an_unsigned_envelope() {
        let dir = bundle();
        let out = attest(dir.path(), Mode::Auto, &SignKeys::default()).unwrap();
        assert!(out.signed_with.is_empty());
        assert!(out.warnings[0].contains("unsigned"), "{:?}", out.warnings);
        let env = parse_strict(&std::fs::read(&out.path).unwrap()).unwrap();
        assert_eq!(env["signatures"], serde_json::json!([]));
        assert_eq!(env["payloadType"], PAYLOAD_TYPE);
    }

    #[test]
    fn explicit_modes_need_their_key() {
        let dir = bundle();
        assert!(matches!(
            attest(dir.path(), Mode::HmacSha256, &SignKeys::default()),
            Err(AttestError::MissingHmacKey)
        ));
        assert!(matches!(
            attest(dir.path(), Mode::Ed25519, &SignKeys::default()),
            Err(AttestError::MissingEd25519Key)
        ));
        let short = SignKeys {
            hmac: Some(b"short".to_vec()),
            ed25519_private_pem: None,
        };
        assert!(matches!(
            attest(dir.path(), Mode::Auto, &short),
            Err(AttestError::HmacKeyTooShort { len: 5, .. })
        ));
        assert!(!dir.path().join(ATTESTATION_FILE).exists());
    }

    #[test]
    fn mode_none_ignores_configured_keys() {
        let dir = bundle();
        let keys = SignKeys {
            hmac: Some(vec![1; 32]),
            ed25519_private_pem: None,
        };
        let out = attest(dir.path(), Mode::None, &keys).unwrap();
        assert!(out.signed_with.is_empty());
        assert!(out.warnings.is_empty());
    }

    #[test]
    fn invalid_repro_json_is_refused_with_its_path() {
        let dir = bundle();
        std::fs::write(dir.path().join("repro.json"), r#"{"a": 1, "a": 2}"#).unwrap();
        let err = attest(dir.path(), Mode::None, &SignKeys::default()).unwrap_err();
        assert!(err.to_string().contains("repro.json"), "{err}");
        assert!(err.to_string().contains("duplicate key"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_bundle_with_a_symlink_is_refused() {
        let dir = bundle();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("host")).unwrap();
        let err = attest(dir.path(), Mode::None, &SignKeys::default()).unwrap_err();
        assert!(
            matches!(&err, AttestError::UnsafeBundle { problems, .. }
                if problems == &["symlink in bundle (not followed): host"]),
            "{err}"
        );
        assert!(!dir.path().join(ATTESTATION_FILE).exists());
    }

    #[test]
    fn auto_signs_with_every_configured_key() {
        let dir = bundle();
        let keys_dir = tempfile::tempdir().unwrap();
        let (private, public) = (keys_dir.path().join("k"), keys_dir.path().join("k.pub"));
        crate::bundle::attest::generate_ed25519(&private, &public).unwrap();
        let keys = SignKeys {
            hmac: None,
            ed25519_private_pem: Some(std::fs::read_to_string(&private).unwrap()),
        };
        let out = attest(dir.path(), Mode::Auto, &keys).unwrap();
        assert_eq!(out.signed_with.len(), 1);
        let public_pem = std::fs::read_to_string(&public).unwrap();
        assert_eq!(
            out.signed_with,
            [crate::bundle::attest::ed25519_public_keyid(&public_pem).unwrap()]
        );
        let keys = SignKeys {
            hmac: Some(vec![9; 32]),
            ..keys
        };
        let out = attest(dir.path(), Mode::Auto, &keys).unwrap();
        assert_eq!(out.signed_with[0], HMAC_KEYID);
        assert_eq!(out.signed_with.len(), 2);
    }

    #[test]
    fn reattesting_leaves_no_temp_files() {
        let dir = bundle();
        attest(dir.path(), Mode::None, &SignKeys::default()).unwrap();
        attest(dir.path(), Mode::None, &SignKeys::default()).unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
