//! Verifying a bundle against its `attestation.json` and the verifier's own keys. Never errors:
//! every problem found lands in the [`VerifyReport`], which the caller maps to exit code 13.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::dsse::{self, PAYLOAD_TYPE};
use super::json::parse_strict;
use super::keys::{
    ED25519_SIGNATURE_LEN, HMAC_KEYID, MIN_HMAC_KEY_LEN, Trust, VerifyKeys, ed25519_keyids,
    ed25519_verify, hmac_verify, parse_public_pem,
};
use super::legacy;
use super::sign::ATTESTATION_FILE;
use super::statement::{ProofTarget, parse_statement, targets_of};
use super::walk::{BundleScan, scan_bundle};

/// An attestation larger than this is refused unread; real ones are a few hundred kilobytes.
const MAX_ATTESTATION_BYTES: u64 = 64 << 20;

/// Which format `attestation.json` was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AttestationFormat {
    /// DSSE envelope around an in-toto Statement v1 (what pp writes).
    Dsse,
    /// The veripatch MVP's `{statement, signing}` document (read only).
    LegacyVeripatch,
}

/// The outcome of [`verify`]. `trust` is the strongest verified signature; it means something
/// only when `ok` is true.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    /// Whether the bundle verified; `success` says the same in `pp.verify/v1`.
    pub ok: bool,
    pub trust: Trust,
    /// `None` when `attestation.json` was missing or unreadable.
    pub format: Option<AttestationFormat>,
    /// Every reason verification failed; empty exactly when `ok`.
    pub problems: Vec<String>,
    /// Observations that do not fail verification (e.g. a signature no supplied key can check).
    pub notes: Vec<String>,
    /// Which supplied keys verified a signature (`hmac-sha256`, `ed25519:<hex>`).
    pub signed_by: Vec<String>,
    /// The decoded statement, only when `ok` (a legacy bundle gives its legacy `statement`).
    pub statement: Option<Value>,
    /// `(bundle-relative path, sha256)` of every verified file, only when `ok`.
    pub verified_files: Vec<(String, String)>,
}

impl VerifyReport {
    /// The verified sha256 of one bundle file (e.g. `final.patch`), when `ok`.
    pub fn file_sha256(&self, path: &str) -> Option<&str> {
        self.verified_files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, sha)| sha.as_str())
    }

    /// The verified `https://pp.dev/proof/v1` predicate, when `ok` and in the DSSE format.
    pub fn predicate(&self) -> Option<&Value> {
        match self.format {
            Some(AttestationFormat::Dsse) => self.statement.as_ref()?.get("predicate"),
            _ => None,
        }
    }

    /// The verified predicate as its type (lenient: a field of another shape reads as `null`).
    pub fn proof(&self) -> Option<crate::bundle::schema::ProofPredicate> {
        let p = self.predicate()?;
        Some(serde_json::from_value(p.clone()).unwrap_or_default())
    }

    /// Records a problem found outside [`verify`] (a policy of the caller's): the report is then
    /// not `ok` and vouches for no statement or file.
    pub fn fail(&mut self, problem: String) {
        self.ok = false;
        self.problems.push(problem);
        self.statement = None;
        self.verified_files.clear();
    }

    /// The verified proof targets to replay (empty for legacy bundles or when not `ok`).
    pub fn targets(&self) -> Vec<ProofTarget> {
        match (self.format, &self.statement) {
            (Some(AttestationFormat::Dsse), Some(statement)) => targets_of(statement),
            _ => Vec::new(),
        }
    }
}

/// What the checks found so far; shared with the legacy reader.
#[derive(Debug)]
pub(crate) struct Findings {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
    pub trust: Trust,
    pub signed_by: Vec<String>,
}

impl Findings {
    pub(crate) fn verified(&mut self, trust: Trust, keyid: &str) {
        self.trust = self.trust.max(trust);
        if !self.signed_by.iter().any(|k| k == keyid) {
            self.signed_by.push(keyid.to_owned());
        }
    }
}

/// Claimed subjects and the statement they came from.
pub(crate) type Claim = (Vec<(String, String)>, Value);

/// Checks `bundle_dir` against its attestation using only `keys`; `require` fails any weaker
/// trust level. Trust never comes from the bundle: keyids there are hints, nothing more.
pub fn verify(bundle_dir: &Path, keys: &VerifyKeys, require: Option<Trust>) -> VerifyReport {
    let mut found = Findings {
        problems: Vec::new(),
        notes: Vec::new(),
        trust: Trust::Unsigned,
        signed_by: Vec::new(),
    };
    let mut format = None;
    let scan = match scan_bundle(bundle_dir) {
        Ok(scan) => scan,
        Err(_) => {
            found.problems.push(format!(
                "bundle {} is not a directory (hint: pass the proof_bundle folder of a session)",
                bundle_dir.display()
            ));
            BundleScan::default()
        }
    };
    found.problems.extend(scan.problems.iter().cloned());

    let claim = match read_attestation(bundle_dir) {
        Err(problem) => {
            found.problems.push(problem);
            None
        }
        Ok(bytes) => match parse_strict(&bytes) {
            Err(e) => {
                found
                    .problems
                    .push(format!("attestation.json is not valid JSON: {e}"));
                None
            }
            Ok(doc) if legacy::is_legacy(&doc) => {
                format = Some(AttestationFormat::LegacyVeripatch);
                legacy::check(&doc, &scan, keys, &mut found)
            }
            Ok(doc) => {
                format = Some(AttestationFormat::Dsse);
                check_dsse(&doc, keys, &mut found)
            }
        },
    };
    if let Some((subjects, _)) = &claim {
        compare_files(subjects, &scan, &mut found.problems);
    }
    if let Some(required) = require
        && found.trust < required
    {
        found.problems.push(format!(
            "trust level {} is below the required {required} (hint: supply the {required} key, or attest the bundle with one)",
            found.trust
        ));
    }

    let ok = found.problems.is_empty();
    let (statement, verified_files) = match claim {
        Some((subjects, statement)) if ok => (Some(statement), subjects),
        _ => (None, Vec::new()),
    };
    VerifyReport {
        ok,
        trust: found.trust,
        format,
        problems: found.problems,
        notes: found.notes,
        signed_by: found.signed_by,
        statement,
        verified_files,
    }
}

fn read_attestation(bundle_dir: &Path) -> Result<Vec<u8>, String> {
    let path = bundle_dir.join(ATTESTATION_FILE);
    let meta = match path.symlink_metadata() {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                "attestation.json is missing (hint: run `pp attest` on the bundle)".to_owned(),
            );
        }
        Err(e) => return Err(format!("cannot stat attestation.json: {e}")),
    };
    if meta.file_type().is_symlink() {
        return Err("symlink in bundle (not followed): attestation.json".to_owned());
    }
    if !meta.is_file() {
        return Err("attestation.json is not a regular file".to_owned());
    }
    if meta.len() > MAX_ATTESTATION_BYTES {
        return Err(format!(
            "attestation.json is {} bytes, more than the {MAX_ATTESTATION_BYTES} accepted",
            meta.len()
        ));
    }
    std::fs::read(&path).map_err(|e| format!("cannot read attestation.json: {e}"))
}

fn check_dsse(doc: &Value, keys: &VerifyKeys, found: &mut Findings) -> Option<Claim> {
    let envelope = dsse::decode(doc, &mut found.problems)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        found.problems.push(format!(
            "payloadType is {:?}, expected {PAYLOAD_TYPE:?}",
            envelope.payload_type
        ));
    }
    check_signatures(&envelope, keys, found);
    let statement = match parse_strict(&envelope.payload) {
        Ok(statement) => statement,
        Err(e) => {
            found
                .problems
                .push(format!("payload is not a valid JSON statement: {e}"));
            return None;
        }
    };
    let subjects = parse_statement(&statement, &mut found.problems)?;
    Some((subjects, statement))
}

fn check_signatures(envelope: &dsse::Envelope, keys: &VerifyKeys, found: &mut Findings) {
    // The signature covers the payload type as written, so a changed type fails here too.
    let message = dsse::pae(&envelope.payload_type, &envelope.payload);
    let hmac = match &keys.hmac {
        Some(key) if key.len() < MIN_HMAC_KEY_LEN => {
            found.problems.push(format!(
                "the supplied HMAC key is {} bytes, fewer than {MIN_HMAC_KEY_LEN} (hint: use the key the bundle was attested with)",
                key.len()
            ));
            None
        }
        other => other.as_deref(),
    };
    let mut public_keys = Vec::new();
    for pem in &keys.ed25519_public_pems {
        match parse_public_pem(pem) {
            Ok(key) => public_keys.push((ed25519_keyids(&key), key)),
            Err(e) => found.problems.push(e.to_string().replace('\n', " (") + ")"),
        }
    }

    let signatures = &envelope.signatures;
    for (i, sig) in signatures.iter().enumerate() {
        if signatures[..i].contains(sig) {
            found
                .problems
                .push(format!("duplicate signature entry (keyid {:?})", sig.keyid));
        } else if signatures[..i].iter().any(|s| s.keyid == sig.keyid) {
            found.problems.push(format!(
                "more than one signature claims keyid {:?}",
                sig.keyid
            ));
        }
    }

    for sig in signatures {
        let mut verified = false;
        if let Some(key) = hmac
            && hmac_verify(key, &message, &sig.sig)
        {
            found.verified(Trust::Hmac, HMAC_KEYID);
            verified = true;
        }
        for ([keyid, ..], key) in &public_keys {
            if ed25519_verify(key, &message, &sig.sig) {
                found.verified(Trust::Ed25519, keyid);
                verified = true;
            }
        }
        if verified {
            continue;
        }
        if sig.keyid == HMAC_KEYID && hmac.is_some() {
            found.problems.push(format!(
                "signature {HMAC_KEYID:?} does not verify with the supplied HMAC key"
            ));
        } else if public_keys
            .iter()
            .any(|(keyids, _)| keyids.contains(&sig.keyid))
        {
            found.problems.push(format!(
                "signature {:?} does not verify with the supplied Ed25519 public key{}",
                sig.keyid,
                if sig.sig.len() == ED25519_SIGNATURE_LEN {
                    String::new()
                } else {
                    format!(
                        " (it is {} bytes; an Ed25519 signature is {ED25519_SIGNATURE_LEN})",
                        sig.sig.len()
                    )
                }
            ));
        } else {
            found.notes.push(format!(
                "signature {:?} was not checked: none of the supplied keys verifies it",
                sig.keyid
            ));
        }
    }

    if keys.any() {
        if signatures.is_empty() {
            found.problems.push(
                "attestation is unsigned, but a verification key is configured (signatures missing or stripped)"
                    .to_owned(),
            );
        } else if found.signed_by.is_empty() {
            found
                .problems
                .push("no signature verifies with the supplied keys".to_owned());
        }
    } else if !signatures.is_empty() {
        found.notes.push(
            "no verification key was supplied, so no signature was checked and trust is unsigned"
                .to_owned(),
        );
    }
}

/// The bundle's files must be exactly the subjects, byte for byte.
pub(crate) fn compare_files(
    subjects: &[(String, String)],
    scan: &BundleScan,
    problems: &mut Vec<String>,
) {
    let on_disk: BTreeMap<&str, &str> = scan
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let claimed: BTreeMap<&str, &str> = subjects
        .iter()
        .map(|(p, s)| (p.as_str(), s.as_str()))
        .collect();
    for (path, want) in &claimed {
        match on_disk.get(path) {
            None => problems.push(format!("missing file listed in the attestation: {path}")),
            Some(got) if got != want => problems.push(format!(
                "file changed since attestation: {path} (sha256 {got}, attested {want})"
            )),
            Some(_) => {}
        }
    }
    for path in on_disk.keys() {
        if !claimed.contains_key(path) {
            problems.push(format!("extra file not covered by the attestation: {path}"));
        }
    }
}
