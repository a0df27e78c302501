//! The published JSON Schemas (`docs/schemas/`, generated from the Rust types by
//! `src/schemas.rs`) against what pp really writes: the `--json` summary, `repro.json`,
//! `environment.json`, every `attempts/<n>/outcome.json`, the attestation's predicate and
//! replay's documents of real sessions validate; the same documents with a field renamed or
//! retyped do not.
//!
//! Sessions in a container (a fake engine) are validated in `container_broken`.
//!
//! The published schemas leave objects open (fields are only ever added within a version);
//! here every object schema is closed first, so a field pp writes that its schema does not
//! describe fails too.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::*;

const TEST_CMD: &str = CALC_CMD;
const KEY: &str = "an-hmac-key-of-more-than-32-bytes-0123456789";

const FIX: &str = CALC_FIX;
const WRONG: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a * b\n";
const ESCAPE: &str = "--- a/../escape.txt\n+++ b/../escape.txt\n@@ -0,0 +1 @@\n+pwned\n";

/// A committed schema, closed (see the module's doc).
fn schema(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    assert!(
        jsonschema::meta::is_valid(&schema),
        "{file} is not a valid JSON Schema"
    );
    close(&mut schema);
    schema
}

/// Gives every object schema that lists `properties` an `additionalProperties: false`.
pub(crate) fn close(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("properties").is_some_and(Value::is_object)
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

/// What `file`'s schema finds wrong with `doc`, one line per error.
fn errors(file: &str, doc: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&schema(file)).unwrap();
    validator
        .iter_errors(doc)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect()
}

pub(crate) fn assert_valid(file: &str, doc: &Value, what: &str) {
    let errors = errors(file, doc);
    assert!(
        errors.is_empty(),
        "{what} does not match {file}:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(doc).unwrap()
    );
}

fn assert_invalid(file: &str, doc: &Value, what: &str) {
    assert!(!errors(file, doc).is_empty(), "{what} still matches {file}");
}

pub(crate) fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn bundle(v: &Value) -> PathBuf {
    PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

/// `attempts/<n>/outcome.json` of every numbered attempt, in order.
fn attempt_outcomes(b: &Path) -> Vec<(u32, Value)> {
    let mut found: Vec<(u32, Value)> = std::fs::read_dir(b.join("attempts"))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let n: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((n, read_json(&e.path().join("outcome.json"))))
        })
        .collect();
    found.sort_by_key(|(n, _)| *n);
    found
}

/// The in-toto statement's predicate inside `attestation.json`'s DSSE envelope.
fn predicate(b: &Path) -> Value {
    let envelope = read_json(&b.join("attestation.json"));
    let payload = STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    statement["predicate"].clone()
}

#[test]
fn a_signed_session_and_its_replays_match_the_schemas() {
    let mut env = calc_env();
    env.extra_env
        .push(("PP_ATTEST_HMAC_KEY".into(), KEY.into()));
    let provider = env.proposer(&[&json_diff(ESCAPE), &json_diff(WRONG), &json_diff(FIX)]);
    let out = env.pp(&[
        "run",
        TEST_CMD,
        "--provider",
        &provider,
        "--attest",
        "--json",
    ]);
    let summary = json_out(&out);
    assert_eq!(summary["status"], "proven", "{}", stderr(&out));
    assert_valid("summary.schema.json", &summary, "the --json summary");
    // Test counts before and after, from the runner's own report, and the times.
    let target = &summary["targets"][0];
    let counts = |t: &Value| (t["ran"].clone(), t["passed"].clone(), t["failed"].clone());
    assert_eq!(
        counts(&target["baseline_tests"]),
        (json!(2), json!(1), json!(1)),
        "{summary}"
    );
    assert_eq!(
        counts(&target["final_tests"]),
        (json!(2), json!(2), json!(0)),
        "{summary}"
    );
    assert_eq!(target["baseline_tests"]["format"], "unittest");
    assert!(target["baseline_duration_ms"].is_u64(), "{summary}");
    assert!(target["final_duration_ms"].is_u64(), "{summary}");
    let total = summary["duration_ms"].as_u64().unwrap();
    assert!(
        total >= target["baseline_duration_ms"].as_u64().unwrap(),
        "the session takes at least its baseline: {summary}"
    );
    assert_eq!(summary["final_exit_code"], 0);

    let b = bundle(&summary);
    let repro = read_json(&b.join("repro.json"));
    assert_valid("repro.schema.json", &repro, "repro.json");
    assert_valid(
        "isolation.schema.json",
        &repro["isolation"],
        "repro.json's isolation",
    );
    let environment = read_json(&b.join("environment.json"));
    assert_valid("environment.schema.json", &environment, "environment.json");
    assert_valid(
        "isolation.schema.json",
        &environment["isolation"],
        "environment.json's isolation",
    );

    let outcomes = attempt_outcomes(&b);
    let kinds: Vec<&str> = outcomes
        .iter()
        .map(|(_, o)| o["outcome"].as_str().unwrap())
        .collect();
    // One of each: the test covers a refused candidate (with its rule), a failed one, a proof.
    assert_eq!(kinds, ["rejected", "verification_failed", "passed"]);
    for (n, outcome) in &outcomes {
        assert_valid(
            "attempt-outcome.schema.json",
            outcome,
            &format!("attempts/{n}/outcome.json"),
        );
    }
    assert_valid(
        "proof-predicate.schema.json",
        &predicate(&b),
        "the attestation's predicate",
    );

    // pp.verify/v1, verified and not: `success` beside `ok`, `hint` in its own field.
    let bs = b.to_str().unwrap();
    let out = env.pp(&["verify-attestation", bs, "--json"]);
    let verified = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        (&verified["success"], &verified["ok"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(verified["hint"], Value::Null);
    assert_valid(
        "verify.schema.json",
        &verified,
        "a verified bundle's document",
    );
    let out = env.pp(&["verify-attestation", bs, "--json", "--require", "ed25519"]);
    let failed = json_out(&out);
    assert_eq!(code(&out), 13, "{}", stderr(&out));
    assert_eq!(
        (&failed["success"], &failed["ok"]),
        (&json!(false), &json!(false))
    );
    assert!(
        failed["hint"].as_str().unwrap().contains("--public-key"),
        "{failed}"
    );
    assert_valid(
        "verify.schema.json",
        &failed,
        "a failed verification's document",
    );
    assert_invalid(
        "verify.schema.json",
        &set(&failed, "/success", json!("no")),
        "a bool as a string",
    );

    // The key verifies the bundle first, then the replay runs.
    let out = env.pp(&["replay", bs, "--json"]);
    let replay = json_out(&out);
    assert_eq!(replay["status"], "replayed", "{}", stderr(&out));
    assert_valid("replay.schema.json", &replay, "a replay's document");

    // Without the key nothing vouches for the bundle: the replay is refused before it reads it.
    env.extra_env.clear();
    let out = env.pp(&["replay", bs, "--json"]);
    let refused = json_out(&out);
    assert_eq!(code(&out), 13, "{}", stderr(&out));
    assert_eq!(refused["status"], "attestation_failed");
    assert!(refused.get("problems").is_some(), "{refused}");
    assert_valid(
        "replay.schema.json",
        &refused,
        "a refused replay's document",
    );
}

#[test]
fn sessions_that_end_early_match_the_schemas() {
    // Refused before anything ran: no sandbox, no attempts, no patch.
    let env = TestEnv::new(&[("pp.yaml", "policy:\n  allowed_commands: [\"true\"]\n")]);
    let out = env.pp(&["run", "false", "--json"]);
    let summary = json_out(&out);
    assert_eq!(summary["status"], "policy_violation", "{}", stderr(&out));
    assert_valid(
        "summary.schema.json",
        &summary,
        "a refused session's summary",
    );
    // Nothing ran, and it says so; the refused target is listed all the same.
    assert_eq!(summary["final_exit_code"], Value::Null, "{summary}");
    assert_eq!(summary["success"], false);
    assert!(summary["hint"].is_string(), "{summary}");
    assert_eq!(
        summary["targets"],
        json!([{"name": "default", "command": "false", "baseline_exit_code": null,
                "final_exit_code": null, "baseline_tests": null, "final_tests": null,
                "baseline_duration_ms": null, "final_duration_ms": null}]),
        "{summary}"
    );
    assert!(summary["duration_ms"].is_u64(), "{summary}");
    assert_eq!(
        read_json(&bundle(&summary).join("repro.json"))["result"]["final_exit_code"],
        Value::Null
    );

    // Errors under --json: pp.error/v1 with `hint` always its own field.
    let out = env.pp(&["run", "true", "--policy", "missing.yaml", "--json"]);
    let error = json_out(&out);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(error["hint"].is_string(), "{error}");
    assert!(
        !error["error"].as_str().unwrap().contains("hint"),
        "{error}"
    );
    assert_valid("error.schema.json", &error, "an error document");
    let out = env.pp(&["run", "true", "--bogus", "--json"]);
    let error = json_out(&out);
    assert_eq!(code(&out), 2);
    assert_valid("error.schema.json", &error, "a bad command line's document");
    let mut hintless = error.clone();
    hintless.as_object_mut().unwrap().remove("hint");
    assert_invalid(
        "error.schema.json",
        &hintless,
        "an error without its hint field",
    );
    let b = bundle(&summary);
    assert_valid(
        "repro.schema.json",
        &read_json(&b.join("repro.json")),
        "its repro.json",
    );
    if b.join("environment.json").is_file() {
        let environment = read_json(&b.join("environment.json"));
        assert_valid(
            "environment.schema.json",
            &environment,
            "its environment.json",
        );
    }

    // Nothing to prove: the baseline passes.
    let env = TestEnv::new(&[("v.txt", "good\n")]);
    let out = env.pp(&["run", "grep -qx good v.txt", "--json"]);
    let summary = json_out(&out);
    assert_eq!(summary["status"], "already_passing", "{}", stderr(&out));
    assert_valid(
        "summary.schema.json",
        &summary,
        "an already-passing summary",
    );
    let b = bundle(&summary);
    assert_valid(
        "repro.schema.json",
        &read_json(&b.join("repro.json")),
        "its repro.json",
    );
    let environment = read_json(&b.join("environment.json"));
    assert_valid(
        "environment.schema.json",
        &environment,
        "its environment.json",
    );
}

/// Sets the value at a JSON pointer.
fn set(doc: &Value, pointer: &str, value: Value) -> Value {
    let mut doc = doc.clone();
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = value;
    doc
}

/// Renames the field at a JSON pointer, keeping its value.
fn rename(doc: &Value, pointer: &str, new_name: &str) -> Value {
    let mut doc = doc.clone();
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    let object = doc.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    let value = object
        .remove(name)
        .unwrap_or_else(|| panic!("no {pointer}"));
    object.insert(new_name.into(), value);
    doc
}

#[test]
fn a_renamed_field_or_a_changed_type_fails_validation() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let summary = prove_v_txt(&env, &[]);
    let b = bundle(&summary);
    let repro = read_json(&b.join("repro.json"));
    let environment = read_json(&b.join("environment.json"));
    let outcome = read_json(&b.join("attempts/1/outcome.json"));
    assert_valid("summary.schema.json", &summary, "the summary");
    assert_valid("repro.schema.json", &repro, "repro.json");
    assert_valid("environment.schema.json", &environment, "environment.json");
    assert_valid("attempt-outcome.schema.json", &outcome, "outcome.json");

    let s = "summary.schema.json";
    assert_invalid(
        s,
        &rename(&summary, "/attempts_used", "attempts"),
        "a renamed field",
    );
    assert_invalid(
        s,
        &set(&summary, "/attempts_used", json!("1")),
        "a number as a string",
    );
    assert_invalid(
        s,
        &set(&summary, "/success", json!(1)),
        "a bool as a number",
    );
    assert_invalid(
        s,
        &set(&summary, "/status", json!("done")),
        "an unknown status",
    );
    assert_invalid(
        s,
        &set(&summary, "/schema_version", json!("pp.summary/v2")),
        "another version",
    );
    assert_invalid(
        s,
        &rename(&summary, "/targets/0/final_exit_code", "exit_code"),
        "a renamed field of a target",
    );
    let mut extra = summary.clone();
    extra["surprise"] = json!(true);
    assert_invalid(s, &extra, "a field the schema does not describe");

    let r = "repro.schema.json";
    assert_invalid(r, &rename(&repro, "/session_id", "id"), "a renamed field");
    assert_invalid(
        r,
        &rename(&repro, "/isolation/applied", "mode"),
        "a renamed isolation field",
    );
    assert_invalid(
        r,
        &set(&repro, "/timings/duration_ms", json!("12")),
        "a duration as a string",
    );
    assert_invalid(
        r,
        &set(&repro, "/git_dirty", json!("no")),
        "a bool as a string",
    );
    assert_invalid(
        r,
        &set(&repro, "/attempts/0/outcome", json!("won")),
        "an unknown attempt outcome",
    );
    assert_invalid(
        r,
        &set(&repro, "/result/final", json!({})),
        "a list as an object",
    );
    assert_invalid(
        r,
        &rename(&repro, "/source/git_commit", "commit"),
        "a renamed source field",
    );

    let e = "environment.schema.json";
    assert_invalid(
        e,
        &set(&environment, "/env_passed", json!("PATH")),
        "a list as a string",
    );
    assert_invalid(
        e,
        &rename(&environment, "/os", "platform"),
        "a renamed field",
    );

    let o = "attempt-outcome.schema.json";
    assert_invalid(
        o,
        &rename(&outcome, "/diff_sha256", "sha256"),
        "a renamed field",
    );
    assert_invalid(
        o,
        &set(&outcome, "/attempt", json!(-1)),
        "a negative attempt",
    );
}

#[test]
fn attest_and_keygen_documents_match_their_schemas() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let summary = prove_v_txt(&env, &[]);
    let key = env.scratch.path().join("signing.pem");
    let out = env.pp(&["attest", "--generate-key", key.to_str().unwrap(), "--json"]);
    let keygen = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(keygen["success"], true);
    assert!(keygen["keyid"].is_string(), "{keygen}");
    assert_valid(
        "keygen.schema.json",
        &keygen,
        "pp attest --generate-key's document",
    );

    let b = bundle(&summary);
    let out = env.pp(&[
        "attest",
        b.to_str().unwrap(),
        "--mode",
        "ed25519",
        "--key-file",
        key.to_str().unwrap(),
        "--json",
    ]);
    let attest = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(attest["success"], true);
    assert_eq!(
        attest["signed_with"].as_array().unwrap().len(),
        1,
        "{attest}"
    );
    assert_valid("attest.schema.json", &attest, "pp attest's document");
    assert_invalid(
        "attest.schema.json",
        &rename(&attest, "/signed_with", "keys"),
        "a renamed field",
    );
}

#[test]
fn show_and_gc_documents_match_their_schemas() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let summary = prove_v_txt(&env, &[]);
    let b = bundle(&summary);
    let out = env.pp(&["show", b.to_str().unwrap(), "--json"]);
    let show = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(show["status"], "proven", "{show}");
    assert_valid("show.schema.json", &show, "pp show's document");
    assert_invalid(
        "show.schema.json",
        &set(&show, "/success", Value::String("yes".into())),
        "a changed type",
    );
    // A second session, so that `--keep 1` removes one.
    prove_v_txt(&env, &[]);
    let out = env.pp(&["gc", "--keep", "1", "--json"]);
    let gc = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(gc["removed"].as_array().unwrap().len(), 1, "{gc}");
    assert_valid("gc.schema.json", &gc, "pp gc's document");
    assert_invalid(
        "gc.schema.json",
        &rename(&gc, "/freed_bytes", "freed"),
        "a renamed field",
    );
}

#[test]
fn the_doctor_document_matches_its_schema() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    for command in ["grep -q good v.txt", ""] {
        let mut args = vec!["doctor", "--json"];
        if !command.is_empty() {
            args.extend(["--command", command]);
        }
        let out = env.pp(&args);
        let doctor = json_out(&out);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_valid("doctor.schema.json", &doctor, "pp doctor's document");
        if !command.is_empty() {
            assert_eq!(doctor["command_check"]["allowed"], true, "{doctor}");
        }
        assert_invalid(
            "doctor.schema.json",
            &rename(&doctor, "/machine/auto_backend", "auto"),
            "a renamed field",
        );
    }
}

#[test]
fn completions_and_man_documents_match_their_schemas() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let out = env.pp(&["completions", "bash", "--json"]);
    let doc = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        doc["script"]
            .as_str()
            .unwrap()
            .contains("verify-attestation")
    );
    assert_valid("completions.schema.json", &doc, "pp completions' document");
    let dir = env.scratch.path().join("man");
    for args in [
        vec!["man", "--json"],
        vec!["man", "--out-dir", dir.to_str().unwrap(), "--json"],
    ] {
        let out = env.pp(&args);
        let doc = json_out(&out);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_valid("man.schema.json", &doc, "pp man's document");
        assert_invalid(
            "man.schema.json",
            &set(&doc, "/success", Value::String("yes".into())),
            "a changed type",
        );
    }
}
