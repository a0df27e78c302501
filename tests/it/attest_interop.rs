//! pp's attestation against other tools: OpenSSL reads the private key pp generates and pp
//! signs with keys OpenSSL (and earlier pp versions) wrote; securesystemslib, with a verifier
//! script of its own (`tests/interop/sslib_verify.py`), verifies a bundle pp signed with Ed25519
//! and rejects it once a subject file or the payload is tampered with.
//!
//! Each test prints that it was skipped when its tool is missing (`.ci/run` installs both:
//! `openssl`, and securesystemslib in the venv `PP_TEST_PYTHON` names).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};

use crate::support::*;

fn run(prog: &str, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{prog}: {e}"))
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openssl() -> bool {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            eprintln!("skipped: no `openssl` on PATH (.ci/run installs it)");
            false
        }
    }
}

/// An already-passing session's bundle, unsigned (cheap: one run of `true`).
fn plain_bundle(env: &TestEnv) -> PathBuf {
    let out = env.pp(&["run", "true", "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "already_passing", "{}", stderr(&out));
    PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

/// Signs `bundle` with the private key file `key` through the CLI, then verifies it with the
/// public key file alone, requiring Ed25519 trust.
fn sign_and_verify(env: &TestEnv, bundle: &Path, key: &Path, public: &Path) {
    let b = bundle.to_str().unwrap();
    let out = env.pp(&[
        "attest",
        b,
        "--mode",
        "ed25519",
        "--key-file",
        key.to_str().unwrap(),
    ]);
    ok(&out);
    let out = env.pp(&[
        "verify-attestation",
        b,
        "--public-key",
        public.to_str().unwrap(),
        "--require",
        "ed25519",
        "--json",
    ]);
    let r = json_out(&out);
    assert_eq!(code(&out), 0, "{r}");
    assert_eq!(r["trust"], "ed25519");
}

#[test]
fn openssl_reads_the_generated_private_key() {
    if !openssl() {
        return;
    }
    let env = TestEnv::new(&[]);
    let key = env.scratch.path().join("signing.pem");
    let k = key.to_str().unwrap();
    let out = env.pp(&["attest", "--generate-key", k, "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    ok(&run("openssl", &["pkey", "-in", k, "-noout"]));
    // OpenSSL derives the same public key pp wrote next to it.
    let derived = ok(&run("openssl", &["pkey", "-in", k, "-pubout"]));
    let written = std::fs::read_to_string(format!("{k}.pub")).unwrap();
    assert_eq!(derived, written);
    // PKCS#8 v1: version 0 and no public key field ([1]) after the private key.
    let der = ok(&run("openssl", &["asn1parse", "-in", k]));
    assert!(der.contains("INTEGER           :00"), "{der}");
    assert!(!der.contains("cont [ 1 ]"), "{der}");
    assert!(v["keyid"].as_str().unwrap().len() == 64, "{v}");
}

#[test]
fn pp_signs_with_keys_openssl_and_older_pp_versions_wrote() {
    if !openssl() {
        return;
    }
    let env = TestEnv::new(&[]);
    let s = env.scratch.path();
    // `openssl genpkey`: PKCS#8 v1.
    let (g, g_pub) = (s.join("openssl.pem"), s.join("openssl.pub"));
    ok(&run(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "ed25519",
            "-out",
            g.to_str().unwrap(),
        ],
    ));
    ok(&run(
        "openssl",
        &[
            "pkey",
            "-in",
            g.to_str().unwrap(),
            "-pubout",
            "-out",
            g_pub.to_str().unwrap(),
        ],
    ));
    sign_and_verify(&env, &plain_bundle(&env), &g, &g_pub);
    // PKCS#8 v2 with the public key embedded, as ed25519-dalek (and pp until now) writes it.
    let sk = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let (v2, v2_pub) = (s.join("v2.pem"), s.join("v2.pub"));
    let pem = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
    let der = ok(&{
        std::fs::write(&v2, pem.as_bytes()).unwrap();
        run("openssl", &["asn1parse", "-in", v2.to_str().unwrap()])
    });
    assert!(der.contains("INTEGER           :01"), "a v2 key: {der}");
    std::fs::write(
        &v2_pub,
        sk.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    )
    .unwrap();
    let env2 = TestEnv::new(&[]);
    sign_and_verify(&env2, &plain_bundle(&env2), &v2, &v2_pub);
}

/// The interpreter with securesystemslib and cryptography: `PP_TEST_PYTHON` (CI sets it, and
/// then it must work), else the CI venv or `python3` when they have them; `None` (printed as a
/// skip) otherwise.
fn sslib_python() -> Option<String> {
    let probe = |py: &str| {
        Command::new(py)
            .args([
                "-c",
                "import securesystemslib.dsse, securesystemslib.signer, cryptography",
            ])
            .output()
    };
    if let Ok(py) = std::env::var("PP_TEST_PYTHON") {
        ok(&probe(&py).unwrap_or_else(|e| panic!("PP_TEST_PYTHON={py}: {e}")));
        return Some(py);
    }
    for py in ["/opt/pp-ci-venv/bin/python3", "python3"] {
        if probe(py).is_ok_and(|o| o.status.success()) {
            return Some(py.to_owned());
        }
    }
    eprintln!(
        "skipped: neither PP_TEST_PYTHON, /opt/pp-ci-venv nor python3 can import securesystemslib and cryptography (.ci/run installs them)"
    );
    None
}

fn sslib_verify(py: &str, bundle: &Path, public: &Path) -> (i32, serde_json::Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/sslib_verify.py");
    let out = Command::new(py)
        .arg(script)
        .arg(bundle)
        .arg(public)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code(&out), v)
}

#[test]
fn securesystemslib_verifies_an_ed25519_bundle_and_rejects_tampering() {
    let Some(py) = sslib_python() else {
        return;
    };
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let key = env.scratch.path().join("signing.pem");
    let public = env.scratch.path().join("signing.pem.pub");
    ok(&env.pp(&["attest", "--generate-key", key.to_str().unwrap()]));
    env.write(
        "pp.yaml",
        &format!(
            "policy:\n  attestation: {{enabled: true, mode: ed25519, key_file: \"{}\"}}\n",
            key.display()
        ),
    );
    env.commit("policy");
    let v = prove_v_txt(&env, &[]);
    let b = PathBuf::from(v["proof_bundle"].as_str().unwrap());

    let (rc, r) = sslib_verify(&py, &b, &public);
    assert_eq!(rc, 0, "{r}");
    assert_eq!(r["ok"], true);
    // The keyid securesystemslib computed is the one pp wrote and reports.
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("attestation.json")).unwrap()).unwrap();
    assert_eq!(envelope["signatures"][0]["keyid"], r["keyid"]);
    let keyid = json_out(&env.pp(&[
        "verify-attestation",
        b.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
        "--json",
    ]))["signed_by"][0]
        .clone();
    assert_eq!(keyid, r["keyid"]);

    // A subject file changed after signing: the signature still holds, the digest does not.
    let summary = b.join("final_summary.md");
    let original = std::fs::read(&summary).unwrap();
    let mut edited = original.clone();
    edited.extend_from_slice(b"\nreviewed: all good\n");
    std::fs::write(&summary, &edited).unwrap();
    let (rc, r) = sslib_verify(&py, &b, &public);
    assert_eq!(rc, 1, "{r}");
    assert_eq!(r["reason"], "subject digest mismatch: final_summary.md");
    std::fs::write(&summary, &original).unwrap();
    assert_eq!(sslib_verify(&py, &b, &public).0, 0);

    // The payload rewritten to attest the edited file: the signature no longer verifies.
    let mut statement: serde_json::Value = serde_json::from_slice(
        &STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let digest = sha256_hex(&edited);
    for s in statement["subject"].as_array_mut().unwrap() {
        if s["name"] == "final_summary.md" {
            s["digest"]["sha256"] = serde_json::json!(digest);
        }
    }
    let mut forged = envelope.clone();
    forged["payload"] = serde_json::json!(STANDARD.encode(statement.to_string()));
    std::fs::write(b.join("attestation.json"), forged.to_string()).unwrap();
    std::fs::write(&summary, &edited).unwrap();
    let (rc, r) = sslib_verify(&py, &b, &public);
    assert_eq!(rc, 1, "{r}");
    assert!(
        r["reason"].as_str().unwrap().starts_with("DSSE signature"),
        "{r}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
