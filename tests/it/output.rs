//! A closed stdout or stderr (`pp … | head -1`) never makes pp panic: it stops writing and exits
//! with the code its work earned.

use crate::support::*;

const KEY: &str = "an-hmac-key-of-more-than-32-bytes-0123456789";

/// No panic message, and not the exit code of a panic.
fn assert_quiet(out: &std::process::Output, want: i32) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_ne!(code(out), 101, "{err}");
    assert_eq!(code(out), want, "{err}");
}

/// A signed bundle of an `already_passing` session, and the environment holding its key.
fn signed_bundle() -> (TestEnv, String) {
    let mut env = TestEnv::new(&[("v.txt", "good\n")]);
    env.extra_env
        .push(("PP_ATTEST_HMAC_KEY".into(), KEY.into()));
    let out = env.pp(&["run", "grep -qx good v.txt", "--attest", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "already_passing", "{}", stderr(&out));
    (env, v["proof_bundle"].as_str().unwrap().to_owned())
}

#[test]
fn verify_attestation_into_a_closed_pipe_keeps_its_verdict() {
    let (env, b) = signed_bundle();
    for args in [
        vec!["verify-attestation", &b],
        vec!["verify-attestation", &b, "--json"],
    ] {
        assert_quiet(&env.pp_closed(&args, true, false), 0);
    }
    // A failed verification prints several lines; the verdict survives the closed pipe.
    std::fs::write(std::path::Path::new(&b).join("final.patch"), "changed\n").unwrap();
    let out = env.pp_closed(&["verify-attestation", &b], true, false);
    assert_quiet(&out, 13);
    let out = env.pp_closed(&["verify-attestation", &b], true, true);
    assert_ne!(code(&out), 101);
    assert_eq!(code(&out), 13);
}

#[test]
fn doctor_into_a_closed_pipe() {
    let env = TestEnv::new(&[]);
    assert_quiet(&env.pp_closed(&["doctor"], true, false), 0);
    assert_quiet(&env.pp_closed(&["doctor", "--json"], true, false), 0);
}

#[test]
fn a_session_with_closed_stdout_or_stderr_ends_with_its_status() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let run = ["run", "grep -qx good v.txt", "--provider", "stub"];
    assert_quiet(&env.pp_closed(&run, true, false), 10);
    let mut json = run.to_vec();
    json.push("--json");
    assert_quiet(&env.pp_closed(&json, true, false), 10);
    // stderr carries the session's log lines and warnings; its reader is gone from the start.
    let out = env.pp_closed(&json, false, true);
    assert_eq!(code(&out), 10);
    assert_eq!(json_out(&out)["status"], "not_proven");
    // Errors are reported on stderr (and with --json on stdout): both closed.
    let out = env.pp_closed(&["replay", "/nonexistent-bundle", "--json"], true, true);
    assert_eq!(code(&out), 2);
}
