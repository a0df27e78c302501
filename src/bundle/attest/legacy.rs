//! Reading attestations in the veripatch MVP format, for bundles made before pp; pp never
//! writes it. The document is
//! `{"version": "pp-attestation/v1", "statement": {"version", "bundle_manifest_sha256",
//! "files": {"<path>": {"sha256", "bytes"}}}, "signing": {"mode": "none"|"hmac-sha256",
//! "signature": "<hex>", …}}`.
//!
//! Canonicalization accepted for the HMAC: the UTF-8 bytes of the `statement` object serialized
//! as Python's `json.dumps(statement, sort_keys=True, separators=(",", ":"))` does, with its
//! default `ensure_ascii=True` (see `json::python_canonical`); the signature is the lowercase hex
//! HMAC-SHA256 of those bytes. `bundle_manifest_sha256` is the sha256 of the same form of
//! `{"files": files}`. `mode: none` is always `unsigned`; an HMAC signature counts only when it
//! verifies with the verifier's key. The legacy `key_env` and `key_id` fields are ignored: trust
//! never comes from the bundle (and `key_id` was a hash of the secret).
//! HMAC keys shorter than 32 bytes are accepted here only: veripatch never enforced a minimum.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::json::python_canonical;
use super::keys::{HMAC_KEYID, Trust, VerifyKeys, hex, hmac_verify};
use super::statement::{check_subject_name, is_sha256_hex};
use super::verify::{Claim, Findings};
use super::walk::BundleScan;

/// A legacy document has `statement` and `signing` and is not a DSSE envelope.
pub(crate) fn is_legacy(doc: &Value) -> bool {
    doc.get("statement").is_some()
        && doc.get("signing").is_some()
        && doc.get("payloadType").is_none()
}

pub(crate) fn check(
    doc: &Value,
    scan: &BundleScan,
    keys: &VerifyKeys,
    found: &mut Findings,
) -> Option<Claim> {
    let statement = doc.get("statement").filter(|s| s.is_object());
    let Some(statement) = statement else {
        found
            .problems
            .push("legacy attestation statement is not an object".to_owned());
        return None;
    };
    check_signing(doc.get("signing"), statement, keys, found);

    let Some(files) = statement.get("files").and_then(Value::as_object) else {
        found
            .problems
            .push("legacy statement has no files object".to_owned());
        return None;
    };
    let mut subjects = Vec::with_capacity(files.len());
    for (name, entry) in files {
        if let Err(problem) = check_subject_name(name) {
            found.problems.push(problem);
            continue;
        }
        let Some(sha) = entry
            .get("sha256")
            .and_then(Value::as_str)
            .filter(|s| is_sha256_hex(s))
        else {
            found.problems.push(format!(
                "subject {name:?} has no lowercase hex sha256 digest"
            ));
            continue;
        };
        if let (Some(bytes), Some(file)) = (
            entry.get("bytes").and_then(Value::as_u64),
            scan.files
                .iter()
                .find(|f| f.path == *name && f.sha256 == sha),
        ) && bytes != file.size
        {
            found.problems.push(format!(
                "legacy statement records {bytes} bytes for {name}, the file has {}",
                file.size
            ));
        }
        subjects.push((name.clone(), sha.to_owned()));
    }
    if let Some(recorded) = statement.get("bundle_manifest_sha256") {
        match python_canonical(&json!({"files": Value::Object(files.clone())})) {
            Ok(text) => {
                let digest = hex(&Sha256::digest(text.as_bytes()));
                if recorded.as_str() != Some(digest.as_str()) {
                    found.problems.push(
                        "legacy bundle_manifest_sha256 does not match the statement's file list"
                            .to_owned(),
                    );
                }
            }
            Err(e) => found
                .problems
                .push(format!("legacy statement cannot be canonicalized: {e}")),
        }
    }
    Some((subjects, statement.clone()))
}

fn check_signing(
    signing: Option<&Value>,
    statement: &Value,
    keys: &VerifyKeys,
    found: &mut Findings,
) {
    let mode = signing
        .and_then(|s| s.get("mode"))
        .and_then(Value::as_str)
        .map(|m| m.trim().to_ascii_lowercase());
    match mode.as_deref() {
        Some("none") => {
            if keys.any() {
                found.problems.push(
                    "attestation is unsigned (legacy mode none), but a verification key is configured"
                        .to_owned(),
                );
            }
        }
        Some("hmac-sha256") => {
            let Some(key) = &keys.hmac else {
                found.notes.push(
                    "legacy HMAC signature was not checked: no HMAC key was supplied".to_owned(),
                );
                if keys.any() {
                    found
                        .problems
                        .push("no signature verifies with the supplied keys".to_owned());
                }
                return;
            };
            let tag = signing
                .and_then(|s| s.get("signature"))
                .and_then(Value::as_str)
                .and_then(unhex);
            let canonical = python_canonical(statement);
            match (tag, canonical) {
                (None, _) => found
                    .problems
                    .push("legacy HMAC signature is missing or not hex".to_owned()),
                (_, Err(e)) => found
                    .problems
                    .push(format!("legacy statement cannot be canonicalized: {e}")),
                (Some(tag), Ok(text)) => {
                    if hmac_verify(key, text.as_bytes(), &tag) {
                        found.verified(Trust::Hmac, HMAC_KEYID);
                    } else {
                        found.problems.push(
                            "legacy HMAC signature does not verify with the supplied HMAC key"
                                .to_owned(),
                        );
                    }
                }
            }
        }
        Some(other) => found
            .problems
            .push(format!("unsupported legacy signing mode {other:?}")),
        None => found
            .problems
            .push("legacy attestation has no signing.mode".to_owned()),
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would accept a sign ("+1").
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhex_accepts_hex_only() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("+1"), None);
    }

    #[test]
    fn detects_the_legacy_shape_only() {
        assert!(is_legacy(&json!({"statement": {}, "signing": {}})));
        assert!(!is_legacy(
            &json!({"payloadType": "x", "statement": {}, "signing": {}})
        ));
        assert!(!is_legacy(&json!({"payload": "", "signatures": []})));
    }
}
