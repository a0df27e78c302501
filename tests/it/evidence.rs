//! Evidence and integrity end to end: what reaches the proposer, and candidates that make the
//! suite exit 0 without really passing it.

use crate::support::*;

const TEST_CMD: &str = CALC_CMD;

fn run_with(env: &TestEnv, replies: &[&str], extra: &[&str]) -> serde_json::Value {
    let provider = env.proposer(replies);
    let mut args = vec!["run", TEST_CMD, "--provider", provider.as_str(), "--json"];
    args.extend_from_slice(extra);
    let out = env.pp(&args);
    let v = json_out(&out);
    assert!(v.get("status").is_some(), "{}", stderr(&out));
    v
}

#[test]
fn exiting_zero_before_any_test_runs_is_not_proven() {
    let env = calc_env();
    let sneaky = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,4 @@\n+import os\n+os._exit(0)\n def add(a, b):\n     return a - b\n";
    // By default the exit is refused before anything runs: code under test gained one.
    let v = run_with(&env, &[&json_diff(sneaky)], &[]);
    assert_eq!(v["status"], "not_proven");
    let prev = &env.request(2)["previous_attempts"][0];
    assert_eq!(prev["outcome"], "rejected: test_edit", "{prev}");
    // Where the policy allows test edits, the integrity check still catches it.
    let env = calc_env();
    env.write("pp.yaml", "policy:\n  allow_test_edits: true\n");
    env.commit("allow test edits");
    let v = run_with(&env, &[&json_diff(sneaky)], &[]);
    assert_eq!(v["status"], "not_proven");
    let feedback = env.request(2)["previous_attempts"][0]["feedback"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(feedback.contains("did not run"), "{feedback}");
}

#[test]
fn deleting_the_failing_test_is_not_proven() {
    let env = calc_env();
    let delete = "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -3,9 +3,6 @@\n from calc import add\n \n class T(unittest.TestCase):\n-    def test_add(self):\n-        self.assertEqual(add(2, 3), 5)\n-\n     def test_zero(self):\n         self.assertEqual(add(0, 0), 0)\n";
    // By default a candidate may not touch tests at all.
    let v = run_with(&env, &[&json_diff(delete)], &[]);
    assert_eq!(v["status"], "not_proven");
    let prev = &env.request(2)["previous_attempts"][0];
    assert_eq!(prev["outcome"], "rejected: test_file_edit", "{prev}");
    // Where the policy allows test edits, the integrity check still catches the deletion.
    let env = calc_env();
    env.write("pp.yaml", "policy:\n  allow_test_edits: true\n");
    env.commit("allow test edits");
    let v = run_with(&env, &[&json_diff(delete)], &[]);
    assert_eq!(v["status"], "not_proven");
    let feedback = env.request(2)["previous_attempts"][0]["feedback"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        feedback.contains("fewer") || feedback.contains("test_add"),
        "{feedback}"
    );
}

#[test]
fn a_real_fix_that_keeps_every_test_is_proven_with_counts_recorded() {
    let env = calc_env();
    let fix = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
    let v = run_with(&env, &[&json_diff(fix)], &[]);
    assert_eq!(v["status"], "proven");
    let b = std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let repro: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("repro.json")).unwrap()).unwrap();
    assert_eq!(repro["baseline"][0]["tests"]["ran"], 2);
    assert_eq!(repro["baseline"][0]["tests"]["failed"], 1);
    assert_eq!(repro["result"]["final"][0]["tests"]["passed"], 2);
}

#[test]
fn python_traceback_ending_in_the_test_brings_the_imported_module() {
    let env = TestEnv::new(&[
        (
            "slug.py",
            "def slugify(title):\n    return \"_\".join(title.lower().split())\n",
        ),
        (
            "tests/test_slug.py",
            "import unittest\nfrom slug import slugify\n\nclass T(unittest.TestCase):\n    def test_slug(self):\n        self.assertEqual(slugify(\"Hello World\"), \"hello-world\")\n",
        ),
    ]);
    let v = run_with(&env, &["no idea"], &[]);
    assert_eq!(v["status"], "not_proven");
    let req = env.request(1);
    let snippets = req["context"]["snippets"].to_string();
    assert!(
        snippets.contains("slug.py") && snippets.contains("def slugify"),
        "{}",
        req["context"]
    );
}

#[test]
fn rust_test_panicking_in_tests_dir_brings_src_lib() {
    let env = TestEnv::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"clampy\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        ),
        (
            "src/lib.rs",
            "pub fn clamp(x: i32, lo: i32, hi: i32) -> i32 {\n    if x < lo { hi } else if x > hi { lo } else { x }\n}\n",
        ),
        (
            "tests/clamp.rs",
            "use clampy::clamp;\n\n#[test]\nfn below() {\n    assert_eq!(clamp(-1, 0, 9), 0);\n}\n",
        ),
    ]);
    let provider = env.proposer(&["no idea"]);
    let out = env.pp(&[
        "run",
        "cargo test --offline",
        "--provider",
        &provider,
        "--json",
    ]);
    assert_eq!(json_out(&out)["status"], "not_proven", "{}", stderr(&out));
    let req = env.request(1);
    let snippets = req["context"]["snippets"].to_string();
    assert!(
        snippets.contains("src/lib.rs") && snippets.contains("pub fn clamp"),
        "{}",
        req["context"]
    );
}

#[test]
fn a_candidate_that_passes_only_once_is_rejected_as_unstable() {
    let env = TestEnv::new(&[(
        "pp.yaml",
        "policy:\n  confirm_runs: 1\n  limits: {max_attempts: 1}\n",
    )]);
    // Passes only the first time the fix is present (the count lives in the sandbox, the only
    // place a confined command can write that outlasts it).
    let cmd = "test -f fixed && n=$(cat .runs 2>/dev/null || echo 0) && echo $((n+1)) > .runs && [ $n -lt 1 ]";
    let create = "--- /dev/null\n+++ b/fixed\n@@ -0,0 +1 @@\n+yes\n";
    let provider = env.proposer(&[&json_diff(create)]);
    let out = env.pp(&["run", cmd, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let b = std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let ver: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("attempts/1/verification.json")).unwrap())
            .unwrap();
    assert!(ver["problems"].to_string().contains("unstable"), "{ver}");
}

#[test]
fn junit_report_counts_and_a_stale_report_never_stands_in() {
    // The target writes a JUnit report only when it really runs its "tests".
    let report = |tests: u32, failures: u32| {
        format!(
            "<testsuite name=\"s\" tests=\"{tests}\" failures=\"{failures}\"><testcase classname=\"c\" name=\"a\">{}</testcase><testcase classname=\"c\" name=\"b\"/></testsuite>",
            if failures > 0 {
                "<failure message=\"boom\"/>"
            } else {
                ""
            }
        )
    };
    let env = TestEnv::new(&[
        (
            "run.sh",
            &format!(
                "if grep -qx ok state.txt; then printf '%s' '{}' > junit.xml; exit 0; fi\nif grep -qx skip state.txt; then exit 0; fi\nprintf '%s' '{}' > junit.xml; exit 1\n",
                report(2, 0),
                report(2, 1)
            ),
        ),
        ("state.txt", "bad\n"),
        (
            "pp.yaml",
            "proof_targets:\n  - {name: unit, cmd: \"sh run.sh\", junit: junit.xml}\npolicy:\n  allowed_commands: [\"sh run.sh\"]\n  limits: {max_attempts: 2}\n",
        ),
    ]);
    let skip = "--- a/state.txt\n+++ b/state.txt\n@@ -1 +1 @@\n-bad\n+skip\n";
    let ok = "--- a/state.txt\n+++ b/state.txt\n@@ -1 +1 @@\n-bad\n+ok\n";
    let provider = env.proposer(&[&json_diff(skip), &json_diff(ok)]);
    let out = env.pp(&["prove", "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    // The first candidate exited 0 without writing a report: the suite did not run.
    assert_eq!(v["attempts_used"], 2);
    let fb = env.request(2)["previous_attempts"][0]["feedback"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(fb.contains("did not run"), "{fb}");
    let b = std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let repro: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("repro.json")).unwrap()).unwrap();
    assert_eq!(repro["baseline"][0]["tests"]["failed"], 1);
    assert_eq!(repro["result"]["final"][0]["tests"]["passed"], 2);
}
