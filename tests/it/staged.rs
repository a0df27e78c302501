//! Running only what decides (DESIGN §5): reproduction reruns and candidates run the baseline's
//! failing tests alone first, with each runner's own selection; the full targets run only when
//! those pass, and the full run is the proof. Real pytest, unittest and cargo suites.

use std::path::{Path, PathBuf};

use crate::support::*;

const PYTEST: &str = "python3 -m pytest -q -p no:cacheprovider";

const CALC: &str = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n";
const CALC_TESTS: &str = "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n\n\ndef test_mul_zero():\n    assert mul(4, 0) == 0\n";

/// Leaves `add` broken.
const WRONG: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a * b\n";
/// Fixes `add`, breaks `mul`: the failing test passes alone, the full suite does not.
const BREAKS_MUL: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,6 +1,6 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n \n \n def mul(a, b):\n-    return a * b\n+    return a + b\n";
const FIX: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";

fn bundle(v: &serde_json::Value) -> PathBuf {
    PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

fn json_file(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The command a run recorded in `dir/result.json` actually ran.
fn ran(dir: &Path) -> String {
    json_file(&dir.join("result.json"))["command"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_wrong_candidate_is_rejected_by_the_failing_test_alone_and_the_full_run_still_decides() {
    let env = TestEnv::new(&[("calc.py", CALC), ("test_calc.py", CALC_TESTS)]);
    let provider = env.proposer(&[&json_diff(WRONG), &json_diff(BREAKS_MUL), &json_diff(FIX)]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 3);
    let b = bundle(&v);

    // The reproduction rerun ran the failing test alone, selected the runner's way.
    let rerun = ran(&b.join("attempts/0_baseline/rerun_1/default"));
    assert!(
        rerun.starts_with(PYTEST) && rerun.ends_with("-k test_add"),
        "{rerun}"
    );
    assert!(!ran(&b.join("attempts/0_baseline/default")).contains("-k"));
    let notes = json_file(&b.join("attempts/0_baseline/failing_first.json"));
    assert_eq!(notes["enabled"], true);
    assert_eq!(notes["targets"]["default"]["runner"], "pytest", "{notes}");
    assert_eq!(
        notes["targets"]["default"]["tests"][0], "test_add",
        "{notes}"
    );

    // Attempt 1: the failing test alone still fails; the full suite is never run.
    let first = json_file(&b.join("attempts/1/verification.json"));
    assert_eq!(first["passed"], false);
    assert_eq!(first["failing_tests_only"], true, "{first}");
    assert!(
        first["problems"][0]
            .as_str()
            .unwrap()
            .contains("run alone, still fail"),
        "{first}"
    );
    assert!(ran(&b.join("attempts/1/failing_first/default")).ends_with("-k test_add"));
    assert!(
        !b.join("attempts/1/verify").exists(),
        "the full suite ran for a candidate its failing test rejects"
    );
    let told = env.request(2)["previous_attempts"][0]["feedback"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(told.contains("run alone, still fail"), "{told}");

    // Attempt 2: the failing test passes alone, but the full run catches the broken `mul`.
    let second = json_file(&b.join("attempts/2/verification.json"));
    assert_eq!(second["passed"], false, "{second}");
    assert!(second.get("failing_tests_only").is_none(), "{second}");
    assert!(
        b.join("attempts/2/failing_first/default/result.json")
            .is_file()
    );
    assert_eq!(ran(&b.join("attempts/2/verify/default")), PYTEST);
    let outcome = json_file(&b.join("attempts/2/outcome.json"));
    assert_eq!(outcome["outcome"], "verification_failed", "{outcome}");

    // Attempt 3: both stages pass; the proof is the full run.
    assert!(
        b.join("attempts/3/failing_first/default/result.json")
            .is_file()
    );
    let full = json_file(&b.join("attempts/3/verify/default/result.json"));
    assert_eq!(full["command"], PYTEST);
    assert_eq!(full["tests"]["passed"], 3, "{full}");
    let patch = std::fs::read_to_string(v["final_patch"].as_str().unwrap()).unwrap();
    assert!(
        patch.contains("+    return a + b") && !patch.contains("-    return a * b"),
        "{patch}"
    );
}

#[test]
fn a_selection_that_does_not_reproduce_the_failure_falls_back_to_the_whole_command() {
    // test_b fails only after test_a ran: alone, it passes. The failure is real all the same.
    let tests = "import state\n\n\ndef test_a():\n    state.touched = True\n\n\ndef test_b():\n    assert not state.touched\n";
    let env = TestEnv::new(&[("state.py", "touched = False\n"), ("test_order.py", tests)]);
    let fix = "--- a/test_order.py\n+++ b/test_order.py\n@@ -4,3 +4,3 @@\n def test_a():\n-    state.touched = True\n+    pass\n";
    env.write("pp.yaml", "policy:\n  allow_test_edits: true\n");
    env.commit("policy");
    let provider = env.proposer(&[&json_diff(fix)]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    // Alone, the test passed: not "not reproducible", but a rerun of the whole command.
    let rerun = b.join("attempts/0_baseline/rerun_1/default");
    assert!(ran(&rerun).ends_with("-k test_b"));
    assert_eq!(ran(&rerun.join("whole")), PYTEST);
    let notes = json_file(&b.join("attempts/0_baseline/failing_first.json"));
    let why = notes["targets"]["default"]["why_whole"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("did not fail again"), "{notes}");
    // From then on the target runs whole only.
    assert!(!b.join("attempts/1/failing_first").exists());
    assert_eq!(ran(&b.join("attempts/1/verify/default")), PYTEST);
}

#[test]
fn the_policy_turns_failing_first_off() {
    let env = TestEnv::new(&[("calc.py", CALC), ("test_calc.py", CALC_TESTS)]);
    env.write("pp.yaml", "policy:\n  failing_first: false\n");
    env.commit("policy");
    let provider = env.proposer(&[&json_diff(WRONG), &json_diff(FIX)]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    assert_eq!(ran(&b.join("attempts/0_baseline/rerun_1/default")), PYTEST);
    assert_eq!(
        json_file(&b.join("attempts/0_baseline/failing_first.json"))["enabled"],
        false
    );
    for n in [1, 2] {
        assert!(!b.join(format!("attempts/{n}/failing_first")).exists());
        assert_eq!(ran(&b.join(format!("attempts/{n}/verify/default"))), PYTEST);
    }
}

#[test]
fn unittest_and_cargo_suites_run_their_failing_tests_alone_first() {
    let unittest = "python3 -m unittest discover -s tests -v";
    let env = TestEnv::new(&[
        ("calc.py", CALC),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add, mul\n\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n    def test_mul(self):\n        self.assertEqual(mul(2, 3), 6)\n",
        ),
    ]);
    let provider = env.proposer(&[&json_diff(WRONG), &json_diff(FIX)]);
    let out = env.pp(&["run", unittest, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let alone = ran(&b.join("attempts/1/failing_first/default"));
    assert!(
        alone.starts_with(unittest) && alone.contains(" -k "),
        "{alone}"
    );
    assert_eq!(
        json_file(&b.join("attempts/1/verification.json"))["failing_tests_only"],
        true
    );
    assert_eq!(ran(&b.join("attempts/2/verify/default")), unittest);

    let cargo = "cargo test --offline";
    let env = TestEnv::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
        ),
        (
            "src/lib.rs",
            "pub fn add(a: i64, b: i64) -> i64 {\n    a - b\n}\n\npub fn mul(a: i64, b: i64) -> i64 {\n    a * b\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(2, 3), 5);\n    }\n\n    #[test]\n    fn multiplies() {\n        assert_eq!(mul(2, 3), 6);\n    }\n}\n",
        ),
        (
            "tests/mul.rs",
            "#[test]\nfn multiplies_by_zero() {\n    assert_eq!(demo::mul(4, 0), 0);\n}\n",
        ),
        (".gitignore", "target/\n"),
    ]);
    let wrong = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,3 @@\n pub fn add(a: i64, b: i64) -> i64 {\n-    a - b\n+    a * b\n }\n";
    let fix = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,3 @@\n pub fn add(a: i64, b: i64) -> i64 {\n-    a - b\n+    a + b\n }\n";
    let provider = env.proposer(&[&json_diff(wrong), &json_diff(fix)]);
    let out = env.pp(&["run", cargo, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let notes = json_file(&b.join("attempts/0_baseline/failing_first.json"));
    assert_eq!(notes["targets"]["default"]["runner"], "libtest", "{notes}");
    let alone = ran(&b.join("attempts/1/failing_first/default"));
    assert!(
        alone.starts_with(cargo) && alone.contains("tests::adds"),
        "{alone}"
    );
    // cargo named the failed target (the lib's unit tests): only it is built and started,
    // not `tests/mul.rs` nor the doc-tests.
    assert!(alone.contains(" --lib -- tests::adds --exact"), "{alone}");
    let first = json_file(&b.join("attempts/1/failing_first/default/result.json"));
    assert_eq!(
        first["tests"]["ran"], 1,
        "only the failing test ran alone: {first}"
    );
    let binaries = |dir: &str| {
        std::fs::read_to_string(b.join(dir).join("stdout.log"))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("running "))
            .count()
    };
    assert_eq!(binaries("attempts/1/failing_first/default"), 1);
    assert!(!b.join("attempts/1/verify").exists());
    let full = json_file(&b.join("attempts/2/verify/default/result.json"));
    assert_eq!(full["command"], cargo);
    assert_eq!(full["tests"]["passed"], 3, "{full}");
    // The proof ran every target: the lib's tests, `tests/mul.rs` and the doc-tests.
    assert_eq!(binaries("attempts/2/verify/default"), 3);
}

/// `go` on PATH; CI installs Debian's `golang-go` (.ci/run).
fn require_go() {
    let found = std::process::Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "this test runs a real `go test` and found no `go` on PATH: install it (`apt-get install golang-go` on Debian; .ci/run does)"
    );
}

#[test]
fn a_go_suite_runs_its_failing_test_alone_first_and_the_full_run_decides() {
    require_go();
    let go = "go test -v ./...";
    let env = TestEnv::new(&[
        ("go.mod", "module calc\n\ngo 1.19\n"),
        (
            "calc.go",
            "package calc\n\nfunc Add(a, b int) int {\n\treturn a - b\n}\n\nfunc Mul(a, b int) int {\n\treturn a * b\n}\n",
        ),
        (
            "calc_test.go",
            "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Fatalf(\"Add(2, 3) = %d\", Add(2, 3))\n\t}\n}\n\nfunc TestMul(t *testing.T) {\n\tif Mul(2, 3) != 6 {\n\t\tt.Fatalf(\"Mul(2, 3) = %d\", Mul(2, 3))\n\t}\n}\n",
        ),
    ]);
    let hunk = |add: &str, mul: &str| {
        format!(
            "--- a/calc.go\n+++ b/calc.go\n@@ -1,9 +1,9 @@\n package calc\n \n func Add(a, b int) int {{\n-\treturn a - b\n+\treturn {add}\n }}\n \n func Mul(a, b int) int {{\n-\treturn a * b\n+\treturn {mul}\n }}\n"
        )
    };
    // Still wrong; then right for TestAdd alone but breaking TestMul; then the fix.
    let wrong = hunk("a * b", "a * b");
    let breaks_mul = hunk("a + b", "a + b");
    let fix = "--- a/calc.go\n+++ b/calc.go\n@@ -1,5 +1,5 @@\n package calc\n \n func Add(a, b int) int {\n-\treturn a - b\n+\treturn a + b\n }\n";
    let provider = env.proposer(&[&json_diff(&wrong), &json_diff(&breaks_mul), &json_diff(fix)]);
    let out = env.pp(&["run", go, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 3);
    let b = bundle(&v);
    let notes = json_file(&b.join("attempts/0_baseline/failing_first.json"));
    assert_eq!(notes["targets"]["default"]["runner"], "gotest", "{notes}");
    let alone = "go test -run '^(TestAdd)$' -v ./...";
    assert_eq!(ran(&b.join("attempts/0_baseline/rerun_1/default")), alone);
    // The wrong candidate: rejected by TestAdd alone, the full suite never ran.
    assert_eq!(ran(&b.join("attempts/1/failing_first/default")), alone);
    let first = json_file(&b.join("attempts/1/failing_first/default/result.json"));
    assert_eq!(first["tests"]["ran"], 1, "{first}");
    assert!(!b.join("attempts/1/verify").exists());
    // TestAdd passes alone; the full run catches TestMul and rejects the candidate.
    let second = json_file(&b.join("attempts/2/verification.json"));
    assert_ne!(second["failing_tests_only"], true, "{second}");
    assert_eq!(second["passed"], false, "{second}");
    assert_eq!(ran(&b.join("attempts/2/verify/default")), go);
    let full = json_file(&b.join("attempts/3/verify/default/result.json"));
    assert_eq!(full["command"], go);
    assert_eq!(full["tests"]["passed"], 2, "{full}");
}

#[test]
fn where_no_test_passed_the_failing_tests_are_the_whole_run_and_run_once() {
    let env = TestEnv::new(&[
        ("calc.py", CALC),
        (
            "test_calc.py",
            "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_add_one():\n    assert add(1, 1) == 2\n",
        ),
    ]);
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let notes = json_file(&b.join("attempts/0_baseline/failing_first.json"));
    let why = notes["targets"]["default"]["why_whole"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("no test passed"), "{notes}");
    assert_eq!(ran(&b.join("attempts/0_baseline/rerun_1/default")), PYTEST);
    assert!(!b.join("attempts/1/failing_first").exists());
}

#[test]
fn a_failing_subtest_is_proven_fixed_whatever_pytest_counts_subtests_as() {
    // pytest 9 counts a failed subtest as one `failed` beside its test's PASSED, and passed
    // subtests as `N subtests passed`; older pytest fails the test itself.
    let env = TestEnv::new(&[
        ("calc.py", CALC),
        (
            "test_calc.py",
            "import unittest\nfrom calc import add, mul\n\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        for a, b, want in [(0, 0, 0), (2, 3, 5)]:\n            with self.subTest(a=a, b=b):\n                self.assertEqual(add(a, b), want)\n\n    def test_mul(self):\n        self.assertEqual(mul(2, 3), 6)\n",
        ),
    ]);
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let base = json_file(&b.join("attempts/0_baseline/default/result.json"));
    assert_eq!(base["tests"]["ran"], 2, "{base}");
    assert_eq!(
        base["tests"]["failing"][0], "test_calc.py::T::test_add",
        "{base}"
    );
    let full = json_file(&b.join("attempts/1/verify/default/result.json"));
    assert_eq!(
        (
            full["tests"]["ran"].as_u64(),
            full["tests"]["failed"].as_u64()
        ),
        (Some(2), Some(0)),
        "{full}"
    );
}
