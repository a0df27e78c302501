//! Attestation through the library API on bundles made in temp dirs: every tampering case must
//! fail verification for its own stated reason; the positive cases prove the same checks pass
//! honest bundles.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, KeyInit, Mac};
use pp::bundle::attest::{
    ATTESTATION_FILE, AttestationFormat, Mode, PAYLOAD_TYPE, SignKeys, Trust, VerifyKeys,
    VerifyReport, attest, ed25519_public_keyid, generate_ed25519, pae, verify,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const HMAC_KEY: &[u8] = b"test-hmac-key-0123456789abcdef-0123456789";
const OTHER_HMAC_KEY: &[u8] = b"other-hmac-key-0123456789abcdef-987654321";
const LEGACY_KEY: &[u8] = b"legacy-fixture-key-0123456789abcdef";

// ---------------------------------------------------------------------------------------------
// helpers

struct KeyPair {
    private: String,
    public: String,
}

fn keypair() -> KeyPair {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = (dir.path().join("key.pem"), dir.path().join("key.pub.pem"));
    generate_ed25519(&private, &public).unwrap();
    KeyPair {
        private: fs::read_to_string(private).unwrap(),
        public: fs::read_to_string(public).unwrap(),
    }
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A bundle shaped like the ones the bundle writer produces.
fn make_bundle() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    write(
        p,
        "repro.json",
        json!({
            "schema_version": "pp.repro/v1",
            "status": "proven",
            "targets": [
                {"name": "unit", "cmd": "cargo test"},
                {"name": "lint", "argv": ["cargo", "clippy"]}
            ],
            "policy_sha256": "ab".repeat(32),
            "source": {"git_commit": "0123abcd", "git_dirty": false},
            "provider": "builtin",
            "pp_version": "0.1.0"
        })
        .to_string()
        .as_bytes(),
    );
    write(p, "policy.json", br#"{"network": "deny"}"#);
    write(
        p,
        "final.patch",
        b"--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-1\n+2\n",
    );
    write(p, "final_summary.md", b"# proven\n");
    write(p, "attempts/0_baseline/stdout.log", b"test failed\n");
    write(p, "attempts/1/reply.txt", b"a diff\n");
    dir
}

fn hmac_sign_keys(key: &[u8]) -> SignKeys {
    SignKeys {
        hmac: Some(key.to_vec()),
        ed25519_private_pem: None,
    }
}

fn ed_sign_keys(pair: &KeyPair) -> SignKeys {
    SignKeys {
        hmac: None,
        ed25519_private_pem: Some(pair.private.clone()),
    }
}

fn hmac_verify_keys(key: &[u8]) -> VerifyKeys {
    VerifyKeys {
        hmac: Some(key.to_vec()),
        ed25519_public_pems: Vec::new(),
    }
}

fn ed_verify_keys(pair: &KeyPair) -> VerifyKeys {
    VerifyKeys {
        hmac: None,
        ed25519_public_pems: vec![pair.public.clone()],
    }
}

/// A bundle attested with the HMAC key.
fn hmac_bundle() -> TempDir {
    let dir = make_bundle();
    attest(dir.path(), Mode::HmacSha256, &hmac_sign_keys(HMAC_KEY)).unwrap();
    dir
}

fn att_path(dir: &Path) -> PathBuf {
    dir.join(ATTESTATION_FILE)
}

fn read_envelope(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(att_path(dir)).unwrap()).unwrap()
}

fn write_envelope(dir: &Path, envelope: &Value) {
    fs::write(att_path(dir), serde_json::to_vec_pretty(envelope).unwrap()).unwrap();
}

fn payload_bytes(envelope: &Value) -> Vec<u8> {
    STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap()
}

fn statement(dir: &Path) -> Value {
    serde_json::from_slice(&payload_bytes(&read_envelope(dir))).unwrap()
}

fn hmac_tag(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Replaces the envelope with `payload`, validly HMAC-signed with `key`: the tampering then
/// has to be caught by the content checks, not by the signature.
fn write_signed_payload(dir: &Path, payload: &[u8], key: &[u8]) {
    let sig = hmac_tag(key, &pae(PAYLOAD_TYPE, payload));
    write_envelope(
        dir,
        &json!({
            "payloadType": PAYLOAD_TYPE,
            "payload": STANDARD.encode(payload),
            "signatures": [{"keyid": "hmac-sha256", "sig": STANDARD.encode(sig)}]
        }),
    );
}

fn write_signed_statement(dir: &Path, statement: &Value) {
    write_signed_payload(dir, &serde_json::to_vec(statement).unwrap(), HMAC_KEY);
}

fn with_subject_renamed(dir: &Path, from: &str, to: &str) -> Value {
    let mut st = statement(dir);
    for subject in st["subject"].as_array_mut().unwrap() {
        if subject["name"] == from {
            subject["name"] = json!(to);
        }
    }
    st
}

#[track_caller]
fn assert_fails(report: &VerifyReport, needle: &str) {
    assert!(
        !report.ok,
        "verification passed, expected {needle:?}: {report:#?}"
    );
    assert!(
        report.problems.iter().any(|p| p.contains(needle)),
        "no problem mentions {needle:?}: {:#?}",
        report.problems
    );
    assert!(
        report.statement.is_none(),
        "a failed report exposes a statement"
    );
    assert!(
        report.verified_files.is_empty(),
        "a failed report exposes files"
    );
}

#[track_caller]
fn assert_only_problem(report: &VerifyReport, needle: &str) {
    assert_fails(report, needle);
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn legacy_bundle(name: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/attest")
        .join(name);
    copy_dir(&fixture, dir.path());
    dir
}

// ---------------------------------------------------------------------------------------------
// negative cases: each must fail for its stated reason

#[test]
fn n01_one_bit_flipped_in_the_payload() {
    let dir = hmac_bundle();
    let mut env = read_envelope(dir.path());
    let mut payload = payload_bytes(&env);
    // Flip a bit inside the first subject digest: the JSON stays valid, only the signature
    // (and that digest) can notice.
    let at = String::from_utf8_lossy(&payload)
        .find("\"sha256\":\"")
        .unwrap()
        + 10;
    payload[at] ^= 0x01;
    env["payload"] = json!(STANDARD.encode(&payload));
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(
        &report,
        "signature \"hmac-sha256\" does not verify with the supplied HMAC key",
    );
    assert_fails(&report, "no signature verifies with the supplied keys");
}

#[test]
fn n02_payload_type_changed() {
    let dir = hmac_bundle();
    let mut env = read_envelope(dir.path());
    env["payloadType"] = json!("application/json");
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(&report, "payloadType is \"application/json\"");
    // The PAE covers the type, so the signature breaks too.
    assert_fails(&report, "does not verify with the supplied HMAC key");
}

#[test]
fn n03_signature_from_another_ed25519_key() {
    let (trusted, other) = (keypair(), keypair());
    let dir = make_bundle();
    attest(dir.path(), Mode::Ed25519, &ed_sign_keys(&other)).unwrap();
    let report = verify(dir.path(), &ed_verify_keys(&trusted), None);
    assert_fails(&report, "no signature verifies with the supplied keys");
    assert_eq!(report.trust, Trust::Unsigned);
}

#[test]
fn n04_wrong_hmac_key() {
    let dir = hmac_bundle();
    let report = verify(dir.path(), &hmac_verify_keys(OTHER_HMAC_KEY), None);
    assert_fails(
        &report,
        "signature \"hmac-sha256\" does not verify with the supplied HMAC key",
    );
    assert_eq!(report.trust, Trust::Unsigned);
}

#[test]
fn n05_hmac_keyed_with_the_ed25519_public_key_claiming_its_keyid() {
    let pair = keypair();
    let dir = make_bundle();
    attest(dir.path(), Mode::Ed25519, &ed_sign_keys(&pair)).unwrap();
    let mut env = read_envelope(dir.path());
    let payload = payload_bytes(&env);
    // Algorithm confusion: the "secret" is the public key anyone has.
    let forged = hmac_tag(pair.public.as_bytes(), &pae(PAYLOAD_TYPE, &payload));
    let keyid = ed25519_public_keyid(&pair.public).unwrap();
    env["signatures"] = json!([{"keyid": keyid, "sig": STANDARD.encode(forged)}]);
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &ed_verify_keys(&pair), None);
    assert_fails(
        &report,
        "does not verify with the supplied Ed25519 public key",
    );
    assert_fails(&report, "no signature verifies with the supplied keys");
}

#[test]
fn n06_hmac_keyed_with_the_raw_ed25519_public_key_claiming_hmac() {
    let pair = keypair();
    let dir = make_bundle();
    attest(dir.path(), Mode::Ed25519, &ed_sign_keys(&pair)).unwrap();
    let mut env = read_envelope(dir.path());
    let payload = payload_bytes(&env);
    let raw_public = SigningKey::from_pkcs8_pem(&pair.private)
        .unwrap()
        .verifying_key()
        .to_bytes();
    let forged = hmac_tag(&raw_public, &pae(PAYLOAD_TYPE, &payload));
    env["signatures"] = json!([{"keyid": "hmac-sha256", "sig": STANDARD.encode(forged)}]);
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &ed_verify_keys(&pair), None);
    assert_fails(&report, "no signature verifies with the supplied keys");
}

#[test]
fn n07_stripped_signatures_while_an_hmac_key_is_configured() {
    let dir = hmac_bundle();
    let mut env = read_envelope(dir.path());
    env["signatures"] = json!([]);
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(
        &report,
        "attestation is unsigned, but a verification key is configured",
    );
}

#[test]
fn n08_stripped_signatures_while_a_public_key_is_configured() {
    let pair = keypair();
    let dir = make_bundle();
    attest(dir.path(), Mode::Ed25519, &ed_sign_keys(&pair)).unwrap();
    let mut env = read_envelope(dir.path());
    env["signatures"] = json!([]);
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &ed_verify_keys(&pair), None);
    assert_only_problem(
        &report,
        "attestation is unsigned, but a verification key is configured",
    );
}

#[test]
fn n09_unsigned_reattestation_of_a_modified_bundle() {
    let dir = hmac_bundle();
    write(
        dir.path(),
        "final.patch",
        b"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-1\n+evil\n",
    );
    let out = attest(dir.path(), Mode::None, &SignKeys::default()).unwrap();
    assert!(out.signed_with.is_empty());
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    // The re-attestation is self-consistent; only the missing signature gives it away.
    assert_only_problem(
        &report,
        "attestation is unsigned, but a verification key is configured",
    );
}

#[test]
fn n10_duplicated_signature_entry() {
    let dir = hmac_bundle();
    let mut env = read_envelope(dir.path());
    let entry = env["signatures"][0].clone();
    env["signatures"] = json!([entry.clone(), entry]);
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(&report, "duplicate signature entry (keyid \"hmac-sha256\")");
}

#[test]
fn n11_invalid_base64_in_the_payload() {
    let dir = hmac_bundle();
    let mut env = read_envelope(dir.path());
    let payload = env["payload"].as_str().unwrap().to_owned();
    env["payload"] = json!(format!("{}*", &payload[..payload.len() - 1]));
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(&report, "envelope payload is not valid base64");
}

#[test]
fn n12_invalid_base64_in_a_signature() {
    let dir = hmac_bundle();
    let mut env = read_envelope(dir.path());
    env["signatures"][0]["sig"] = json!("%%%not-base64%%%");
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(&report, "sig is not valid base64");
}

#[test]
fn n12b_an_unpadded_signature_is_reported_as_missing_padding() {
    let pair = keypair();
    let dir = make_bundle();
    attest(dir.path(), Mode::Ed25519, &ed_sign_keys(&pair)).unwrap();
    let mut env = read_envelope(dir.path());
    let sig = env["signatures"][0]["sig"].as_str().unwrap().to_owned();
    assert!(sig.ends_with("=="), "a 64-byte signature is padded: {sig}");
    env["signatures"][0]["sig"] = json!(sig.trim_end_matches('='));
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &ed_verify_keys(&pair), None);
    assert_fails(
        &report,
        "sig is not valid base64: padding missing: 86 characters is not a multiple of 4; expected 2 '=' at the end",
    );
    // Not the URL-safe decoder's complaint about a `+` or `/` it cannot read.
    assert!(
        !report.problems.iter().any(|p| p.contains("symbol")),
        "{:#?}",
        report.problems
    );
}

#[test]
fn n12c_a_short_signature_claiming_the_old_keyid_says_how_long_it_is() {
    let pair = keypair();
    let dir = make_bundle();
    attest(dir.path(), Mode::Ed25519, &ed_sign_keys(&pair)).unwrap();
    let mut env = read_envelope(dir.path());
    let old = old_keyid(&pair);
    env["signatures"] = json!([{"keyid": old, "sig": STANDARD.encode([1u8; 63])}]);
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &ed_verify_keys(&pair), None);
    assert_fails(
        &report,
        &format!(
            "signature \"{old}\" does not verify with the supplied Ed25519 public key (it is 63 bytes; an Ed25519 signature is 64)"
        ),
    );
}

#[test]
fn n13_wrong_statement_type() {
    let dir = hmac_bundle();
    let mut st = statement(dir.path());
    st["_type"] = json!("https://in-toto.io/Statement/v0.1");
    write_signed_statement(dir.path(), &st);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(
        &report,
        "statement _type is \"https://in-toto.io/Statement/v0.1\"",
    );
}

#[test]
fn n14_truncated_json() {
    let dir = hmac_bundle();
    let text = fs::read(att_path(dir.path())).unwrap();
    fs::write(att_path(dir.path()), &text[..text.len() / 2]).unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(&report, "attestation.json is not valid JSON");
}

#[test]
fn n15_trailing_garbage() {
    let dir = hmac_bundle();
    let mut text = fs::read(att_path(dir.path())).unwrap();
    text.extend_from_slice(b"{\"payload\": \"\"}");
    fs::write(att_path(dir.path()), text).unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(&report, "trailing data after the JSON document");
}

#[test]
fn n16_duplicate_key_in_the_envelope() {
    let dir = hmac_bundle();
    let text = String::from_utf8(fs::read(att_path(dir.path())).unwrap()).unwrap();
    let doubled = text.replacen('{', "{\n  \"payloadType\": \"text/plain\",", 1);
    fs::write(att_path(dir.path()), doubled).unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(&report, "duplicate key \"payloadType\"");
}

#[test]
fn n17_duplicate_key_in_the_signed_statement() {
    let dir = hmac_bundle();
    let payload = String::from_utf8(payload_bytes(&read_envelope(dir.path()))).unwrap();
    let doubled = payload.replacen(
        "\"predicateType\"",
        "\"predicateType\":\"https://evil.example/v1\",\"predicateType\"",
        1,
    );
    assert_ne!(doubled, payload);
    write_signed_payload(dir.path(), doubled.as_bytes(), HMAC_KEY);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(&report, "payload is not a valid JSON statement");
    assert_fails(&report, "duplicate key \"predicateType\"");
}

#[test]
fn n18_changed_byte_in_final_patch() {
    let dir = hmac_bundle();
    let mut patch = fs::read(dir.path().join("final.patch")).unwrap();
    let last = patch.len() - 2;
    patch[last] = b'3';
    fs::write(dir.path().join("final.patch"), patch).unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(&report, "file changed since attestation: final.patch");
}

#[test]
fn n19_a_subject_file_is_missing() {
    let dir = hmac_bundle();
    fs::remove_file(dir.path().join("policy.json")).unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(
        &report,
        "missing file listed in the attestation: policy.json",
    );
}

#[test]
fn n20_a_subject_is_missing_from_the_signed_statement() {
    let dir = hmac_bundle();
    let mut st = statement(dir.path());
    st["subject"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["name"] != "attempts/1/reply.txt");
    write_signed_statement(dir.path(), &st);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(
        &report,
        "extra file not covered by the attestation: attempts/1/reply.txt",
    );
}

#[test]
fn n21_an_extra_file() {
    let dir = hmac_bundle();
    write(dir.path(), "attempts/2/reply.txt", b"late addition\n");
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(
        &report,
        "extra file not covered by the attestation: attempts/2/reply.txt",
    );
}

#[test]
fn n22_subject_name_with_dot_dot() {
    let dir = hmac_bundle();
    let st = with_subject_renamed(dir.path(), "policy.json", "attempts/../../policy.json");
    write_signed_statement(dir.path(), &st);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(
        &report,
        "subject name \"attempts/../../policy.json\" contains a `..` component",
    );
}

#[test]
fn n23_subject_name_absolute() {
    let dir = hmac_bundle();
    let st = with_subject_renamed(dir.path(), "policy.json", "/etc/passwd");
    write_signed_statement(dir.path(), &st);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(&report, "subject name \"/etc/passwd\" is an absolute path");
}

#[test]
fn n24_subject_name_with_backslashes() {
    let dir = hmac_bundle();
    let st = with_subject_renamed(dir.path(), "attempts/1/reply.txt", "attempts\\1\\reply.txt");
    write_signed_statement(dir.path(), &st);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(&report, "contains a backslash");
}

#[cfg(unix)]
#[test]
fn n25_a_symlink_in_the_bundle() {
    let dir = hmac_bundle();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", b"not part of the bundle");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("attempts/1/link.txt"),
    )
    .unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(
        &report,
        "symlink in bundle (not followed): attempts/1/link.txt",
    );
}

#[test]
fn n26_an_attestation_copied_from_another_bundle() {
    let first = hmac_bundle();
    let second = make_bundle();
    write(
        second.path(),
        "final.patch",
        b"--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n",
    );
    fs::copy(att_path(first.path()), att_path(second.path())).unwrap();
    let report = verify(second.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(&report, "file changed since attestation: final.patch");
}

#[test]
fn n27_require_ed25519_with_only_hmac() {
    let dir = hmac_bundle();
    let report = verify(
        dir.path(),
        &hmac_verify_keys(HMAC_KEY),
        Some(Trust::Ed25519),
    );
    assert_only_problem(&report, "trust level hmac is below the required ed25519");
    assert_eq!(report.trust, Trust::Hmac);
}

#[test]
fn n28_require_hmac_without_any_key() {
    let dir = hmac_bundle();
    let report = verify(dir.path(), &VerifyKeys::default(), Some(Trust::Hmac));
    assert_only_problem(&report, "trust level unsigned is below the required hmac");
}

#[test]
fn n29_no_attestation_at_all() {
    let dir = make_bundle();
    let report = verify(dir.path(), &VerifyKeys::default(), None);
    assert_only_problem(&report, "attestation.json is missing");
    assert_eq!(report.format, None);
}

#[cfg(unix)]
#[test]
fn n30_a_special_file_in_the_bundle() {
    let dir = hmac_bundle();
    nix::unistd::mkfifo(
        &dir.path().join("attempts/1/pipe"),
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(
        &report,
        "special file in bundle (not a regular file): attempts/1/pipe",
    );
}

#[cfg(unix)]
#[test]
fn n31_attestation_json_is_a_symlink() {
    let dir = hmac_bundle();
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("attestation.json");
    fs::rename(att_path(dir.path()), &real).unwrap();
    std::os::unix::fs::symlink(&real, att_path(dir.path())).unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(
        &report,
        "symlink in bundle (not followed): attestation.json",
    );
}

#[cfg(unix)]
#[test]
fn n32_a_backslash_in_a_bundle_file_name() {
    let dir = hmac_bundle();
    write(dir.path(), "attempts\\1", b"looks like a path on windows");
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_only_problem(&report, "file name contains a backslash: attempts\\1");
}

#[test]
fn n33_a_subject_naming_the_attestation_itself() {
    let dir = hmac_bundle();
    let st = with_subject_renamed(dir.path(), "policy.json", "attestation.json");
    write_signed_statement(dir.path(), &st);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert_fails(&report, "names the attestation itself");
}

#[test]
fn n34_a_short_verifier_hmac_key() {
    let dir = hmac_bundle();
    let report = verify(dir.path(), &hmac_verify_keys(&HMAC_KEY[..20]), None);
    assert_fails(&report, "the supplied HMAC key is 20 bytes, fewer than 32");
}

#[test]
fn n35_an_ed25519_signature_over_a_different_payload() {
    let pair = keypair();
    let dir = make_bundle();
    attest(dir.path(), Mode::Ed25519, &ed_sign_keys(&pair)).unwrap();
    let mut env = read_envelope(dir.path());
    // Sign the bare payload instead of its PAE: a signature that is real but over other bytes.
    let key = SigningKey::from_pkcs8_pem(&pair.private).unwrap();
    let sig = key.sign(&payload_bytes(&env)).to_bytes();
    env["signatures"][0]["sig"] = json!(STANDARD.encode(sig));
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &ed_verify_keys(&pair), None);
    assert_fails(
        &report,
        "does not verify with the supplied Ed25519 public key",
    );
}

#[test]
fn n36_legacy_hmac_with_the_wrong_key() {
    let dir = legacy_bundle("legacy_hmac");
    let report = verify(dir.path(), &hmac_verify_keys(OTHER_HMAC_KEY), None);
    assert_only_problem(
        &report,
        "legacy HMAC signature does not verify with the supplied HMAC key",
    );
    assert_eq!(report.format, Some(AttestationFormat::LegacyVeripatch));
}

#[test]
fn n37_legacy_hmac_with_a_changed_file() {
    let dir = legacy_bundle("legacy_hmac");
    write(dir.path(), "final.patch", b"changed\n");
    let report = verify(dir.path(), &hmac_verify_keys(LEGACY_KEY), None);
    assert_only_problem(&report, "file changed since attestation: final.patch");
}

#[test]
fn n38_legacy_mode_none_while_a_key_is_configured() {
    let dir = legacy_bundle("legacy_none");
    let report = verify(dir.path(), &hmac_verify_keys(LEGACY_KEY), None);
    assert_only_problem(
        &report,
        "attestation is unsigned (legacy mode none), but a verification key is configured",
    );
}

#[test]
fn n39_legacy_statement_edited_after_signing() {
    let dir = legacy_bundle("legacy_hmac");
    let mut doc: Value = serde_json::from_slice(&fs::read(att_path(dir.path())).unwrap()).unwrap();
    doc["statement"]["version"] = json!("pp-attestation-statement/v2");
    fs::write(att_path(dir.path()), serde_json::to_vec(&doc).unwrap()).unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(LEGACY_KEY), None);
    assert_only_problem(
        &report,
        "legacy HMAC signature does not verify with the supplied HMAC key",
    );
}

// ---------------------------------------------------------------------------------------------
// positive cases

#[test]
fn p01_hmac_only() {
    let dir = make_bundle();
    let out = attest(dir.path(), Mode::Auto, &hmac_sign_keys(HMAC_KEY)).unwrap();
    assert_eq!(out.signed_with, ["hmac-sha256"]);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), Some(Trust::Hmac));
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Hmac);
    assert_eq!(report.signed_by, ["hmac-sha256"]);
    assert_eq!(report.format, Some(AttestationFormat::Dsse));
}

#[test]
fn p02_hmac_keyid_reveals_nothing_about_the_secret() {
    let dir = hmac_bundle();
    let text = fs::read_to_string(att_path(dir.path())).unwrap();
    assert!(!text.contains(&sha256_hex(HMAC_KEY)));
    assert!(!text.contains(&sha256_hex(HMAC_KEY)[..16]));
    assert!(!text.contains(std::str::from_utf8(HMAC_KEY).unwrap()));
    assert_eq!(
        read_envelope(dir.path())["signatures"][0]["keyid"],
        "hmac-sha256"
    );
}

#[test]
fn p03_ed25519_only_verified_by_the_public_key_alone() {
    let pair = keypair();
    let dir = make_bundle();
    let out = attest(dir.path(), Mode::Ed25519, &ed_sign_keys(&pair)).unwrap();
    let keyid = ed25519_public_keyid(&pair.public).unwrap();
    assert_eq!(out.signed_with, std::slice::from_ref(&keyid));
    let report = verify(dir.path(), &ed_verify_keys(&pair), Some(Trust::Ed25519));
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Ed25519);
    assert_eq!(report.signed_by, [keyid]);
}

/// The keyid pp wrote for Ed25519 keys before it used securesystemslib's.
fn old_keyid(pair: &KeyPair) -> String {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(&pair.public).unwrap();
    format!("ed25519:{}", sha256_hex(key.as_bytes()))
}

#[test]
fn p03b_the_keyid_is_securesystemslibs_and_the_old_one_still_verifies() {
    let pair = keypair();
    let dir = make_bundle();
    attest(dir.path(), Mode::Ed25519, &ed_sign_keys(&pair)).unwrap();
    let mut env = read_envelope(dir.path());
    let keyid = ed25519_public_keyid(&pair.public).unwrap();
    assert_eq!(env["signatures"][0]["keyid"], keyid.as_str());
    // securesystemslib's default keyid: sha256 of the canonical JSON of the key dict.
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let raw = ed25519_dalek::VerifyingKey::from_public_key_pem(&pair.public).unwrap();
    let canonical = format!(
        r#"{{"keytype":"ed25519","keyval":{{"public":"{}"}},"scheme":"ed25519"}}"#,
        raw.as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    assert_eq!(keyid, sha256_hex(canonical.as_bytes()));
    // A bundle signed by an earlier pp carries the old keyid: it still verifies.
    env["signatures"][0]["keyid"] = json!(old_keyid(&pair));
    write_envelope(dir.path(), &env);
    let report = verify(dir.path(), &ed_verify_keys(&pair), Some(Trust::Ed25519));
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.signed_by, [keyid]);
}

#[test]
fn p04_both_signatures_in_one_envelope() {
    let pair = keypair();
    let dir = make_bundle();
    let keys = SignKeys {
        hmac: Some(HMAC_KEY.to_vec()),
        ed25519_private_pem: Some(pair.private.clone()),
    };
    let out = attest(dir.path(), Mode::Auto, &keys).unwrap();
    assert_eq!(out.signed_with.len(), 2);

    let both = VerifyKeys {
        hmac: Some(HMAC_KEY.to_vec()),
        ed25519_public_pems: vec![pair.public.clone()],
    };
    let report = verify(dir.path(), &both, Some(Trust::Ed25519));
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Ed25519);
    assert_eq!(report.signed_by.len(), 2);

    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Hmac);
    assert!(report.notes.iter().any(|n| n.contains("was not checked")));

    let report = verify(dir.path(), &ed_verify_keys(&pair), None);
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Ed25519);

    // A wrong HMAC key fails even though the Ed25519 signature would verify.
    let mixed = VerifyKeys {
        hmac: Some(OTHER_HMAC_KEY.to_vec()),
        ed25519_public_pems: vec![pair.public.clone()],
    };
    assert_fails(
        &verify(dir.path(), &mixed, None),
        "signature \"hmac-sha256\" does not verify with the supplied HMAC key",
    );
}

#[test]
fn p05_without_keys_a_signed_bundle_is_only_unsigned() {
    let dir = hmac_bundle();
    let report = verify(dir.path(), &VerifyKeys::default(), None);
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Unsigned);
    assert!(report.signed_by.is_empty());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("no verification key"))
    );
}

#[test]
fn p06_auto_without_keys_warns_and_verifies_unsigned() {
    let dir = make_bundle();
    let out = attest(dir.path(), Mode::Auto, &SignKeys::default()).unwrap();
    assert!(out.warnings.iter().any(|w| w.contains("unsigned")));
    let report = verify(dir.path(), &VerifyKeys::default(), None);
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Unsigned);
}

#[test]
fn p07_replay_gets_targets_and_verified_digests() {
    let dir = hmac_bundle();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert!(report.ok, "{:#?}", report.problems);
    let patch = fs::read(dir.path().join("final.patch")).unwrap();
    assert_eq!(
        report.file_sha256("final.patch"),
        Some(sha256_hex(&patch).as_str())
    );
    let names: Vec<&str> = report
        .verified_files
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "attempts/0_baseline/stdout.log",
            "attempts/1/reply.txt",
            "final.patch",
            "final_summary.md",
            "policy.json",
            "repro.json"
        ]
    );
    let targets = report.targets();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0].name.as_deref(), Some("unit"));
    assert_eq!(targets[0].cmd.as_deref(), Some("cargo test"));
    assert_eq!(
        targets[1].argv,
        Some(vec!["cargo".to_owned(), "clippy".to_owned()])
    );
    let predicate = report.predicate().unwrap();
    assert_eq!(predicate["status"], "proven");
    assert_eq!(predicate["source"]["git_commit"], "0123abcd");
    assert_eq!(predicate["source"]["dirty_diff_sha256"], Value::Null);
    assert_eq!(predicate["model"], Value::Null);
    let st = report.statement.as_ref().unwrap();
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], "https://pp.dev/proof/v1");
}

#[test]
fn p08_dsse_pae_known_answer() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    assert_eq!(
        pae(PAYLOAD_TYPE, b"{}"),
        b"DSSEv1 28 application/vnd.in-toto+json 2 {}"
    );
}

#[test]
fn p09_the_signature_covers_the_pae_of_the_payload() {
    let dir = hmac_bundle();
    let env = read_envelope(dir.path());
    let sig = STANDARD
        .decode(env["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let expected = hmac_tag(HMAC_KEY, &pae(PAYLOAD_TYPE, &payload_bytes(&env)));
    assert_eq!(sig, expected);
}

#[test]
fn p10_legacy_mode_none_reads_as_unsigned() {
    let dir = legacy_bundle("legacy_none");
    let report = verify(dir.path(), &VerifyKeys::default(), None);
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Unsigned);
    assert_eq!(report.format, Some(AttestationFormat::LegacyVeripatch));
    assert!(report.file_sha256("notes/résumé.md").is_some());
}

#[test]
fn p11_legacy_hmac_with_the_right_key_reads_as_hmac() {
    let dir = legacy_bundle("legacy_hmac");
    let report = verify(dir.path(), &hmac_verify_keys(LEGACY_KEY), Some(Trust::Hmac));
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Hmac);
    assert_eq!(report.verified_files.len(), 4);
    assert!(report.targets().is_empty());
}

#[test]
fn p12_legacy_hmac_without_a_key_is_only_unsigned() {
    let dir = legacy_bundle("legacy_hmac");
    let report = verify(dir.path(), &VerifyKeys::default(), None);
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.trust, Trust::Unsigned);
    assert!(report.notes.iter().any(|n| n.contains("not checked")));
}

#[test]
fn p13_reattesting_with_a_key_after_a_change_verifies_again() {
    let dir = hmac_bundle();
    write(dir.path(), "final_summary.md", b"# proven, reviewed\n");
    assert!(!verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None).ok);
    attest(dir.path(), Mode::HmacSha256, &hmac_sign_keys(HMAC_KEY)).unwrap();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    assert!(report.ok, "{:#?}", report.problems);
}

#[test]
fn p14_report_serializes_with_the_documented_fields() {
    let dir = hmac_bundle();
    let report = verify(dir.path(), &hmac_verify_keys(HMAC_KEY), None);
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["ok"], true);
    assert_eq!(value["trust"], "hmac");
    assert_eq!(value["format"], "dsse");
    assert_eq!(value["problems"], json!([]));
}
