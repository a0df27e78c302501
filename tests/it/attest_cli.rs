//! Attestation through the binary: `run --attest`, `attest`, `verify-attestation`, and
//! `replay --verify-attestation` refusing a tampered bundle; without a key neither vouches for a
//! bundle unless `--allow-unsigned` accepts integrity alone.

use crate::support::*;

const KEY: &str = "an-hmac-key-of-more-than-32-bytes-0123456789";

fn proven_bundle(env: &TestEnv) -> std::path::PathBuf {
    let v = prove_v_txt(env, &["--attest"]);
    assert!(
        v["attestation"]
            .as_str()
            .unwrap()
            .ends_with("attestation.json")
    );
    std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

fn keyed_env() -> TestEnv {
    let mut env = TestEnv::new(&[("v.txt", "bad\n")]);
    env.extra_env
        .push(("PP_ATTEST_HMAC_KEY".into(), KEY.into()));
    env
}

#[test]
fn hmac_signed_run_verifies_and_a_changed_byte_fails() {
    let env = keyed_env();
    let b = proven_bundle(&env);
    let bs = b.to_str().unwrap();
    let out = env.pp(&["verify-attestation", bs, "--json"]);
    let r = json_out(&out);
    assert_eq!(code(&out), 0, "{r}");
    assert_eq!(r["ok"], true);
    assert_eq!(r["trust"], "hmac");
    // The key never lands in the bundle.
    for entry in std::fs::read_dir(&b).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            assert!(
                !std::fs::read_to_string(&p)
                    .unwrap_or_default()
                    .contains(KEY)
            );
        }
    }
    let patch = b.join("final.patch");
    let mut bytes = std::fs::read(&patch).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&patch, bytes).unwrap();
    let out = env.pp(&["verify-attestation", bs, "--json"]);
    let r = json_out(&out);
    assert_eq!(code(&out), 13);
    assert_eq!(r["ok"], false);
    assert!(r["problems"].to_string().contains("final.patch"), "{r}");
}

#[test]
fn verifier_without_the_key_cannot_claim_hmac_trust() {
    let env = keyed_env();
    let b = proven_bundle(&env);
    let plain = TestEnv::new(&[]);
    let out = plain.pp(&[
        "verify-attestation",
        b.to_str().unwrap(),
        "--require",
        "hmac",
        "--json",
    ]);
    assert_eq!(code(&out), 13, "{}", String::from_utf8_lossy(&out.stdout));
    assert_ne!(json_out(&out)["trust"], "hmac");
}

#[test]
fn replay_verified_runs_only_attested_commands() {
    let env = keyed_env();
    let b = proven_bundle(&env);
    let bs = b.to_str().unwrap();
    let out = env.pp(&["replay", bs, "--verify-attestation", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["success"], true);
    // An attacker rewrites the recorded command (and allows it). A marker file could not tell
    // whether it ran (the command is confined and cannot write outside its sandbox): the
    // replay's own record of what it ran can.
    for f in ["repro.json", "policy.json"] {
        let p = b.join(f);
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("grep -qx good v.txt", "echo attacker-ran");
        std::fs::write(&p, text).unwrap();
    }
    let out = env.pp(&["replay", bs, "--verify-attestation", "--json"]);
    assert_eq!(code(&out), 13);
    let r = json_out(&out);
    assert_eq!(r["status"], "attestation_failed");
    // Refused before anything ran: a replay that runs lists its targets with their exit codes.
    assert!(
        r["targets"].as_array().is_none_or(Vec::is_empty),
        "replay ran a target: {r}"
    );
}

#[test]
fn ed25519_key_pair_signs_and_public_key_alone_verifies() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let b = proven_bundle(&env);
    let key = env.scratch.path().join("signing.pem");
    let out = env.pp(&["attest", "--generate-key", key.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let bs = b.to_str().unwrap();
    let out = env.pp(&[
        "attest",
        bs,
        "--mode",
        "ed25519",
        "--key-file",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let public = format!("{}.pub", key.display());
    let out = env.pp(&[
        "verify-attestation",
        bs,
        "--public-key",
        &public,
        "--require",
        "ed25519",
        "--json",
    ]);
    let r = json_out(&out);
    assert_eq!(code(&out), 0, "{r}");
    assert_eq!(r["trust"], "ed25519");
    // Re-attested unsigned after tampering: the verifier holding the key refuses it.
    std::fs::write(b.join("final.patch"), "tampered\n").unwrap();
    let out = env.pp(&["attest", bs, "--mode", "none"]);
    assert_eq!(code(&out), 0);
    let out = env.pp(&["verify-attestation", bs, "--public-key", &public, "--json"]);
    assert_eq!(code(&out), 13);
}

/// A proven bundle written without a key in the environment: with `--attest`, its attestation
/// is unsigned; without, it has none.
fn unkeyed_bundle(env: &TestEnv, attest: bool) -> std::path::PathBuf {
    let fix = "--- a/v.txt\n+++ b/v.txt\n@@ -1 +1 @@\n-bad\n+good\n";
    let provider = env.proposer(&[&json_diff(fix)]);
    let mut args = vec![
        "run",
        "grep -qx good v.txt",
        "--provider",
        &provider,
        "--json",
    ];
    if attest {
        args.push("--attest");
    }
    let out = env.pp(&args);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

#[test]
fn verify_without_a_key_is_not_ok_unless_integrity_alone_is_asked_for() {
    // An HMAC-signed bundle checked by a verifier who forgot the key, and an unsigned one.
    let signer = keyed_env();
    let signed = proven_bundle(&signer);
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let unsigned = unkeyed_bundle(&env, true);
    for b in [&signed, &unsigned] {
        let bs = b.to_str().unwrap();
        let out = env.pp(&["verify-attestation", bs, "--json"]);
        let r = json_out(&out);
        assert_eq!(code(&out), 13, "{r}");
        assert_eq!(r["ok"], false);
        assert!(
            r["problems"]
                .to_string()
                .contains("no verification key is configured"),
            "{r}"
        );
        let out = env.pp(&["verify-attestation", bs]);
        assert_eq!(code(&out), 13);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with("FAILED") && text.contains("--allow-unsigned"),
            "{text}"
        );
        let out = env.pp(&["verify-attestation", bs, "--allow-unsigned", "--json"]);
        let r = json_out(&out);
        assert_eq!(code(&out), 0, "{r}");
        assert_eq!(
            (r["ok"].as_bool(), r["trust"].as_str()),
            (Some(true), Some("unsigned"))
        );
    }
    // Integrity alone still checks every byte.
    std::fs::write(unsigned.join("final.patch"), "tampered\n").unwrap();
    let out = env.pp(&[
        "verify-attestation",
        unsigned.to_str().unwrap(),
        "--allow-unsigned",
    ]);
    assert_eq!(code(&out), 13);
}

#[test]
fn replay_refuses_a_bundle_nothing_vouches_for_unless_allowed() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let b = unkeyed_bundle(&env, false);
    let bs = b.to_str().unwrap();
    let out = env.pp(&["replay", bs, "--json"]);
    let r = json_out(&out);
    assert_eq!(code(&out), 13, "{r}");
    assert_eq!(r["status"], "attestation_failed");
    assert!(
        r["problems"].to_string().contains("--allow-unsigned"),
        "{r}"
    );
    let out = env.pp(&["replay", bs, "--allow-unsigned", "--json"]);
    assert_eq!(json_out(&out)["status"], "replayed", "{}", stderr(&out));
    // With a key configured, replay verifies first: an unattested bundle is refused.
    let mut keyed = TestEnv::new(&[]);
    keyed
        .extra_env
        .push(("PP_ATTEST_HMAC_KEY".into(), KEY.into()));
    let out = keyed.pp_in(env.root(), &["replay", bs, "--allow-unsigned", "--json"]);
    let r = json_out(&out);
    assert_eq!(code(&out), 13, "{r}");
    assert!(
        r["problems"]
            .to_string()
            .contains("attestation.json is missing"),
        "{r}"
    );
    // An attested unsigned bundle: replay checks its digests before running it.
    let attested = unkeyed_bundle(&env, true);
    let bs = attested.to_str().unwrap();
    assert_eq!(code(&env.pp(&["replay", bs, "--json"])), 13);
    let out = env.pp(&["replay", bs, "--allow-unsigned", "--json"]);
    assert_eq!(json_out(&out)["status"], "replayed", "{}", stderr(&out));
    let policy = attested.join("policy.json");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, format!("{text} ")).unwrap();
    let out = env.pp(&["replay", bs, "--allow-unsigned", "--json"]);
    assert_eq!(code(&out), 13);
    assert!(
        json_out(&out)["problems"]
            .to_string()
            .contains("policy.json"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn replay_takes_require() {
    let env = keyed_env();
    let b = proven_bundle(&env);
    let bs = b.to_str().unwrap();
    let out = env.pp(&["replay", bs, "--require", "hmac", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = env.pp(&["replay", bs, "--require", "ed25519", "--json"]);
    let r = json_out(&out);
    assert_eq!(code(&out), 13, "{r}");
    assert!(
        r["problems"].to_string().contains("below the required"),
        "{r}"
    );
}
