//! What a proof checks, end to end with real runners: a suite that stops mid-run is not a pass,
//! plain `N passed, M failed` suites are read, a test that hangs is the code's failure, and
//! rejections name the tests.

use crate::support::*;

fn bundle(v: &serde_json::Value) -> std::path::PathBuf {
    std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

fn outcome(v: &serde_json::Value, n: u32) -> serde_json::Value {
    let p = bundle(v).join(format!("attempts/{n}/outcome.json"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// `pp run CMD --provider PROVIDER --json`: exit code and summary.
fn run(env: &TestEnv, cmd: &str, provider: &str) -> (i32, serde_json::Value) {
    let out = env.pp(&["run", cmd, "--provider", provider, "--json"]);
    let v = json_out(&out);
    eprintln!("{}", stderr(&out));
    (code(&out), v)
}

const RUST_TOML: &str =
    "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";

/// A crate that does not compile (`summ`), so the baseline shows no test counts at all.
const RUST_LIB: &str = "pub fn total(xs: &[i64]) -> i64 {\n    let sum: i64 = xs.iter().sum();\n    summ\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn totals() {\n        assert_eq!(total(&[1, 2, 3]), 6);\n    }\n\n    #[test]\n    fn empty() {\n        assert_eq!(total(&[]), 0);\n    }\n}\n";

#[test]
fn a_suite_that_exits_0_mid_run_after_a_build_failure_is_not_proven() {
    let env = TestEnv::new(&[
        ("Cargo.toml", RUST_TOML),
        ("src/lib.rs", RUST_LIB),
        (".gitignore", "target/\nCargo.lock\n"),
        (
            "pp.yaml",
            // Test edits allowed: the integrity rule must hold on its own, even where the
            // test-edit guard would refuse the exit first.
            "policy:\n  allowed_commands: [\"cargo test --offline\"]\n  allow_test_edits: true\n  limits: {max_attempts: 1}\n",
        ),
    ]);
    // Fixes the typo, and ends the test process with success inside a test: libtest prints
    // `running 2 tests` and never its `test result:` line, cargo exits 0.
    let cheat = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,5 +1,5 @@\n pub fn total(xs: &[i64]) -> i64 {\n     let sum: i64 = xs.iter().sum();\n-    summ\n+    sum\n }\n \n@@ -9,6 +9,7 @@\n \n     #[test]\n     fn totals() {\n+        std::process::exit(0);\n         assert_eq!(total(&[1, 2, 3]), 6);\n     }\n \n";
    let provider = env.proposer(&[&json_diff(cheat)]);
    let (code, v) = run(&env, "cargo test --offline", &provider);
    assert_eq!(code, 10, "{v:#}");
    assert_eq!(v["status"], "not_proven");
    let o = outcome(&v, 1);
    assert_eq!(o["outcome"], "verification_failed", "{o:#}");
    let feedback = o["feedback"].as_str().unwrap();
    assert!(
        feedback.contains("`running 2 tests`")
            && feedback.contains("never printed its closing summary"),
        "{feedback}"
    );
    // The verify run did exit 0: only the integrity rule stood in the way.
    let verification: serde_json::Value = serde_json::from_slice(
        &std::fs::read(bundle(&v).join("attempts/1/verification.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(verification["runs"][0]["exit_code"], 0, "{verification:#}");
    assert_eq!(verification["runs"][0]["runner"]["finished"], false);
}

const CALC_SH: &str = "# Small arithmetic helpers, sourced by test_calc.sh.\nmin() {\n    if [ \"$1\" -lt \"$2\" ]; then echo \"$1\"; else echo \"$2\"; fi\n}\n\nmax() {\n    if [ \"$1\" -lt \"$2\" ]; then echo \"$1\"; else echo \"$2\"; fi\n}\n";

const TEST_CALC_SH: &str = "#!/bin/sh\n# A hand-written suite: one line per failing check, then `N passed, M failed`.\n. ./calc.sh\npassed=0\nfailed=0\ncheck() {\n    got=$($1 \"$2\" \"$3\")\n    if [ \"$got\" = \"$4\" ]; then\n        passed=$((passed + 1))\n    else\n        failed=$((failed + 1))\n        echo \"FAIL $1 $2 $3 -> $got (calc.sh:$5)\"\n    fi\n}\ncheck min 4 9 4 3\ncheck max 4 9 9 7\necho \"$passed passed, $failed failed\"\n[ \"$failed\" -eq 0 ]\n";

#[test]
fn a_posix_shell_suite_is_proven_by_its_plain_summary() {
    let env = TestEnv::new(&[("calc.sh", CALC_SH), ("test_calc.sh", TEST_CALC_SH)]);
    let fix = "--- a/calc.sh\n+++ b/calc.sh\n@@ -6,3 +6,3 @@\n max() {\n-    if [ \"$1\" -lt \"$2\" ]; then echo \"$1\"; else echo \"$2\"; fi\n+    if [ \"$1\" -gt \"$2\" ]; then echo \"$1\"; else echo \"$2\"; fi\n }\n";
    let provider = env.proposer(&[&json_diff(fix)]);
    let (code, v) = run(&env, "sh test_calc.sh", &provider);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["status"], "proven");
    let repro = repro(&v);
    // Read as the plain format, never as go test for its `FAIL` line.
    assert_eq!(
        repro["baseline"][0]["tests"]["format"], "plain",
        "{repro:#}"
    );
    assert_eq!(repro["baseline"][0]["tests"]["ran"], 2);
    assert_eq!(repro["result"]["final"][0]["tests"]["passed"], 2);
}

#[test]
fn a_test_that_hangs_is_the_codes_failure_and_named_to_the_proposer() {
    let env = TestEnv::new(&[
        (
            "calc.py",
            "def halve_to_zero(n):\n    steps = 0\n    while n != 0:\n        n -= 2\n        steps += 1\n    return steps\n",
        ),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import halve_to_zero\n\n\nclass T(unittest.TestCase):\n    def test_even(self):\n        self.assertEqual(halve_to_zero(4), 2)\n\n    def test_odd(self):\n        self.assertEqual(halve_to_zero(3), 2)\n",
        ),
        (
            "pp.yaml",
            "policy:\n  limits: {per_command_timeout_sec: 2}\n",
        ),
    ]);
    // Still hangs on odd numbers; then the real fix.
    let still = "--- a/calc.py\n+++ b/calc.py\n@@ -1,6 +1,6 @@\n def halve_to_zero(n):\n     steps = 0\n     while n != 0:\n-        n -= 2\n+        n = n - 2\n         steps += 1\n     return steps\n";
    let fix = "--- a/calc.py\n+++ b/calc.py\n@@ -1,6 +1,6 @@\n def halve_to_zero(n):\n     steps = 0\n-    while n != 0:\n+    while n > 0:\n         n -= 2\n         steps += 1\n     return steps\n";
    let provider = env.proposer(&[&json_diff(still), &json_diff(fix)]);
    let (code, v) = run(&env, "python3 -m unittest discover -s tests -v", &provider);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["status"], "proven");
    assert_eq!(v["attempts_used"], 2);
    assert_eq!(repro(&v)["classification"]["kind"], "code");
    let hang = "while test `test_calc.T.test_odd` was running: this test hangs";
    let tail = env.request(1)["failures"][0]["output_tail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(tail.contains(hang), "{tail}");
    let feedback = env.request(2)["previous_attempts"][0]["feedback"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        feedback.contains("exit code 124") && feedback.contains(hang),
        "{feedback}"
    );
}

#[test]
fn a_timeout_before_any_test_started_is_still_infra_stop() {
    let env = TestEnv::new(&[(
        "pp.yaml",
        "policy:\n  limits: {per_command_timeout_sec: 1}\n",
    )]);
    let provider = env.proposer(&["{}"]);
    let (code, v) = run(&env, "echo preparing; sleep 30", &provider);
    assert_eq!(code, 12, "{v:#}");
    assert_eq!(v["status"], "infra_stop");
    assert!(
        v["message"].as_str().unwrap().contains("before any test"),
        "{v:#}"
    );
    assert_eq!(env.proposer_calls(), 0);
}

const PYTEST: &str = "python3 -m pytest -v -p no:cacheprovider";

const TEST_CALC_PY: &str = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n";

#[test]
fn rejections_name_the_tests_that_were_skipped_or_vanished() {
    let env = TestEnv::new(&[
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        ("tests/test_calc.py", TEST_CALC_PY),
        ("pp.yaml", "policy:\n  allow_test_edits: true\n"),
    ]);
    let skip = "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1,4 +1,6 @@\n+import pytest\n from calc import add\n \n \n+@pytest.mark.skip(reason=\"later\")\n def test_add():\n";
    let delete = "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1,9 +1,5 @@\n from calc import add\n \n \n-def test_add():\n-    assert add(2, 3) == 5\n-\n-\n def test_zero():\n     assert add(0, 0) == 0\n";
    let fix = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
    let provider = env.proposer(&[&json_diff(skip), &json_diff(delete), &json_diff(fix)]);
    let (code, v) = run(&env, PYTEST, &provider);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["attempts_used"], 3);
    let skipped = outcome(&v, 1)["feedback"].as_str().unwrap().to_owned();
    assert!(
        skipped.contains("ran in the baseline and is now skipped: `tests/test_calc.py::test_add`")
            && skipped.contains("(1 < 2)"),
        "{skipped}"
    );
    let vanished = outcome(&v, 2)["feedback"].as_str().unwrap().to_owned();
    assert!(
        vanished.contains("ran in the baseline and no longer runs: `tests/test_calc.py::test_add`"),
        "{vanished}"
    );
}

#[test]
fn a_collection_error_baseline_needs_a_finished_pytest_run() {
    let env = TestEnv::new(&[
        // `add` is misspelled: the test module does not even import.
        ("calc.py", "def ad(a, b):\n    return a + b\n"),
        ("tests/test_calc.py", TEST_CALC_PY),
        ("pp.yaml", "policy:\n  allow_test_edits: true\n"),
    ]);
    // Renames the function, and ends the process with success as soon as it is imported.
    let cheat = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,5 @@\n-def ad(a, b):\n+import os\n+\n+\n+def add(a, b):\n     return a + b\n+os._exit(0)\n";
    let fix = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n-def ad(a, b):\n+def add(a, b):\n     return a + b\n";
    let provider = env.proposer(&[&json_diff(cheat), &json_diff(fix)]);
    let (code, v) = run(&env, PYTEST, &provider);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["attempts_used"], 2);
    // The baseline is a load error, not "1 test ran".
    let summary = &env.request(1)["context"]["summary"];
    assert_eq!(summary["ran"], 0, "{summary:#}");
    assert_eq!(
        summary["load_errors"][0], "tests/test_calc.py",
        "{summary:#}"
    );
    let feedback = outcome(&v, 1)["feedback"].as_str().unwrap().to_owned();
    assert!(
        feedback.contains("the pytest run started")
            && feedback.contains("never printed its closing summary"),
        "{feedback}"
    );
}

const UNITTEST: &str = "python3 -m unittest discover -s tests -v";

#[test]
fn test_level_edits_outside_test_files_are_refused_before_running() {
    let env = TestEnv::new(&[
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
    ]);
    // The code under test disarms the assertion it is judged by ...
    let patch_framework = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,5 @@\n+import unittest\n+unittest.TestCase.assertEqual = lambda *a, **k: None\n+\n def add(a, b):\n     return a - b\n";
    // ... or plants a module Python runs at start-up ...
    let startup = "--- /dev/null\n+++ b/sitecustomize.py\n@@ -0,0 +1,2 @@\n+import unittest\n+unittest.main = lambda *a, **k: None\n";
    let fix = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
    let provider = env.proposer(&[
        &json_diff(patch_framework),
        &json_diff(startup),
        &json_diff(fix),
    ]);
    let (code, v) = run(&env, UNITTEST, &provider);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["attempts_used"], 3);
    let first = outcome(&v, 1);
    assert_eq!(first["rule"], "test_edit", "{first:#}");
    assert!(
        first["feedback"]
            .as_str()
            .unwrap()
            .contains("assignments to test-framework objects"),
        "{first:#}"
    );
    assert_eq!(outcome(&v, 2)["rule"], "test_file_edit");
    for n in [1, 2] {
        assert!(
            !bundle(&v).join(format!("attempts/{n}/verify")).exists(),
            "attempt {n} was run"
        );
    }
}

#[test]
fn golden_files_are_protected_by_default() {
    let env = TestEnv::new(&[
        ("report.py", "print('total: ' + str(2 + 2 + 1))\n"),
        ("golden/expected.txt", "total: 4\n"),
        (
            "check.sh",
            "python3 report.py > out.txt && diff -u golden/expected.txt out.txt && echo '1 passed, 0 failed'\n",
        ),
    ]);
    let edit_golden =
        "--- a/golden/expected.txt\n+++ b/golden/expected.txt\n@@ -1 +1 @@\n-total: 4\n+total: 5\n";
    let fix = "--- a/report.py\n+++ b/report.py\n@@ -1 +1 @@\n-print('total: ' + str(2 + 2 + 1))\n+print('total: ' + str(2 + 2))\n";
    let provider = env.proposer(&[&json_diff(edit_golden), &json_diff(fix)]);
    let (code, v) = run(&env, "sh check.sh", &provider);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["attempts_used"], 2);
    let first = outcome(&v, 1);
    assert_eq!(first["rule"], "protected_path", "{first:#}");
    assert!(
        first["feedback"].as_str().unwrap().contains("**/golden/**"),
        "{first:#}"
    );
}
