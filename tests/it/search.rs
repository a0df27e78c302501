//! The model-free `search` proposer end to end: real suites (unittest, pytest, cargo test) with
//! one-token logic bugs, proven with no model; its bundle record; its budgets; replay.

use crate::support::*;

const UNITTEST: &str = "python3 -m unittest discover -s tests -v";

/// A module with several functions; the failing test calls only `clamp`, whose upper branch
/// returns the wrong bound.
fn clamp_env(extra_policy: &str) -> TestEnv {
    TestEnv::new(&[
        (
            "shapes.py",
            "def area(w, h):\n    return w * h\n\n\ndef clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return lo\n    return x\n\n\ndef double(x):\n    return x + x\n",
        ),
        (
            "tests/test_shapes.py",
            "import unittest\nfrom shapes import area, clamp, double\n\n\nclass Shapes(unittest.TestCase):\n    def test_area(self):\n        self.assertEqual(area(2, 3), 6)\n\n    def test_double(self):\n        self.assertEqual(double(4), 8)\n\n    def test_clamp(self):\n        self.assertEqual(clamp(5, 0, 3), 3)\n        self.assertEqual(clamp(-1, 0, 3), 0)\n        self.assertEqual(clamp(2, 0, 3), 2)\n",
        ),
        (
            "pp.yaml",
            &format!("policy:\n  confirm_runs: 1\n{extra_policy}"),
        ),
    ])
}

fn search_record(v: &serde_json::Value, attempt: u32) -> serde_json::Value {
    let b = std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let text = std::fs::read_to_string(b.join(format!("attempts/{attempt}/search.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn auto_with_no_model_proves_a_logic_bug_in_a_unittest_suite() {
    // One trial at a time: the events below follow the report's order (trials at once are
    // `candidates::search_tries_edits_in_several_sandboxes_…`'s).
    let env = clamp_env("  parallelism: 1\n");
    let out = env.pp(&["run", UNITTEST, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let patch = std::fs::read_to_string(v["final_patch"].as_str().unwrap()).unwrap();
    assert!(
        patch.contains("-        return lo\n+        return hi\n"),
        "{patch}"
    );
    // The user's tree is untouched without --apply.
    assert!(
        env.read("shapes.py")
            .contains("        return lo\n    return x")
    );
    let s = search_record(&v, 1);
    let report = &s["report"];
    assert_eq!(report["stop"]["reason"], "found");
    assert_eq!(s["spectrum"], true, "the unittest run was traced");
    // The ranking starts inside `clamp`, the function the failing test calls.
    let top = &report["localization"][0];
    assert_eq!(top["path"], "shapes.py");
    let line = top["line"].as_u64().unwrap();
    assert!((5..=10).contains(&line), "{top}");
    assert_eq!(report["winner"]["operator"], "replace_variable");
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.last().unwrap()["verdict"], "passed");
    assert!(trials.len() <= 60, "{} trials", trials.len());
    // The events tell the search as it went: the traced run, then one `search_trial` per
    // trial (not each trial's runs), in the report's order; then the confirmation run.
    let b = std::path::Path::new(v["proof_bundle"].as_str().unwrap());
    let events =
        crate::progress::event_lines(&std::fs::read_to_string(b.join("events.jsonl")).unwrap());
    crate::progress::assert_valid_events(&events);
    let verdicts: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "search_trial")
        .map(|e| &e["verdict"])
        .collect();
    let reported: Vec<&serde_json::Value> = trials.iter().map(|t| &t["verdict"]).collect();
    assert_eq!(verdicts, reported);
    let phases: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "run_start")
        .filter_map(|e| e["phase"].as_str())
        .collect();
    assert!(phases.contains(&"search_trace"), "{phases:?}");
    assert!(phases.contains(&"confirm"), "{phases:?}");
    assert!(!phases.contains(&"search_trial"), "{phases:?}");
    // The failing test alone ran first: unittest's -k with the test's id.
    let first = &s["failing_first"]["targets"]["default"];
    assert_eq!(first["runner"], "unittest", "{s}");
    assert!(
        first["command"]
            .as_str()
            .unwrap()
            .contains("-k test_shapes.Shapes.test_clamp")
    );
    // The summary says where the patch came from and how many candidates were tried.
    let summary = std::fs::read_to_string(
        std::path::Path::new(v["proof_bundle"].as_str().unwrap()).join("final_summary.md"),
    )
    .unwrap();
    assert!(summary.contains("search"), "{summary}");
    assert!(
        summary.contains(&format!("after {} candidate", trials.len())),
        "{summary}"
    );
    // Replay applies the recorded patch with no proposer at all.
    let out = env.pp(&[
        "replay",
        v["proof_bundle"].as_str().unwrap(),
        "--allow-unsigned",
        "--json",
    ]);
    assert_eq!(json_out(&out)["status"], "replayed", "{}", stderr(&out));
}

#[test]
fn an_edit_that_breaks_another_test_is_not_the_winner() {
    // `==` → `!=` (the first edit tried) makes the failing test pass but breaks `test_at_bar`,
    // which passed in the baseline; only the full run sees it, and the search goes on to the
    // edit that passes everything.
    let env = TestEnv::new(&[
        (
            "grade.py",
            "def passed(score, bar):\n    return score == bar\n",
        ),
        (
            "tests/test_grade.py",
            "import unittest\nfrom grade import passed\n\n\nclass G(unittest.TestCase):\n    def test_at_bar(self):\n        self.assertTrue(passed(50, 50))\n\n    def test_high(self):\n        self.assertTrue(passed(51, 50))\n\n    def test_low(self):\n        self.assertFalse(passed(49, 50))\n",
        ),
    ]);
    let out = env.pp(&["run", UNITTEST, "--provider", "search", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let patch = std::fs::read_to_string(v["final_patch"].as_str().unwrap()).unwrap();
    assert!(patch.contains("+    return score >= bar\n"), "{patch}");
    let s = search_record(&v, 1);
    let trials = s["report"]["trials"].as_array().unwrap();
    assert_eq!(trials[0]["edit"], "grade.py:2: `==` → `!=` (relational)");
    assert_eq!(trials[0]["verdict"], "broke_others");
    assert_eq!(trials.last().unwrap()["verdict"], "passed");
}

#[test]
fn budgets_hold_and_the_session_says_why() {
    let env = clamp_env("  search:\n    max_trials: 2\n");
    let out = env.pp(&["run", UNITTEST, "--provider", "search", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let s = search_record(&v, 1);
    assert_eq!(s["report"]["stop"]["reason"], "trial_limit");
    assert_eq!(s["report"]["trials"].as_array().unwrap().len(), 2);
    let fb = std::fs::read_to_string(
        std::path::Path::new(v["proof_bundle"].as_str().unwrap()).join("attempts/1/outcome.json"),
    )
    .unwrap();
    assert!(fb.contains("max_trials"), "{fb}");
    // Off: the chain goes past it at once.
    env.write("pp.yaml", "policy:\n  search:\n    enabled: false\n");
    env.commit("off");
    let out = env.pp(&["run", UNITTEST, "--provider", "search", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven");
    let b = std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap());
    assert!(!b.join("attempts/1/search.json").exists());
}

#[test]
fn search_proves_a_logic_bug_in_a_cargo_test_suite() {
    let env = TestEnv::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
        ),
        (
            "src/lib.rs",
            "pub fn midpoint(a: i64, b: i64) -> i64 {\n    (a - b) / 2\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn middle() {\n        assert_eq!(midpoint(2, 8), 5);\n    }\n\n    #[test]\n    fn same() {\n        assert_eq!(midpoint(0, 0), 0);\n    }\n}\n",
        ),
        (".gitignore", "target/\n"),
    ]);
    let out = env.pp(&[
        "run",
        "cargo test --offline",
        "--provider",
        "search",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let patch = std::fs::read_to_string(v["final_patch"].as_str().unwrap()).unwrap();
    assert!(patch.contains("+    (a + b) / 2\n"), "{patch}");
    let s = search_record(&v, 1);
    assert_eq!(
        s["failing_first"]["targets"]["default"]["runner"], "libtest",
        "{s}"
    );
    assert_eq!(s["report"]["winner"]["path"], "src/lib.rs");
}

#[test]
fn an_edit_that_loops_forever_costs_one_timeout_and_the_search_goes_on() {
    // The bug steps by 2, so `n != 0` (an edit of the loop's condition) never ends, nor does
    // `n += 2`; each such trial is stopped at the command timeout, and the search finds `n -= 1`.
    let env = TestEnv::new(&[
        (
            "count.py",
            "def countdown(n):\n    out = []\n    while n > 0:\n        out.append(n)\n        n -= 2\n    return out\n",
        ),
        (
            "tests/test_count.py",
            "import unittest\nfrom count import countdown\n\n\nclass C(unittest.TestCase):\n    def test_three(self):\n        self.assertEqual(countdown(3), [3, 2, 1])\n",
        ),
        (
            "pp.yaml",
            "policy:\n  limits: {per_command_timeout_sec: 3}\n",
        ),
    ]);
    let out = env.pp(&["run", UNITTEST, "--provider", "search", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let patch = std::fs::read_to_string(v["final_patch"].as_str().unwrap()).unwrap();
    assert!(patch.contains("+        n -= 1\n"), "{patch}");
    let s = search_record(&v, 1);
    let trials = s["report"]["trials"].as_array().unwrap();
    let looped = trials
        .iter()
        .filter(|t| t["ms"].as_u64().unwrap() >= 3000)
        .count();
    assert!(looped >= 1, "no trial reached the timeout: {trials:#?}");
    assert!(trials.iter().all(|t| t["ms"].as_u64().unwrap() < 20_000));
}
