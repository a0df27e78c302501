//! The built-in `suggest` proposer: every folder under `tests/fixtures/suggest/` holds real
//! compiler or interpreter output (`output.txt`, the workspace path written `{ROOT}`), the
//! files it was produced from (`workspace/`) and the diff the first candidate must be
//! (`expected.diff`); end-to-end sessions prove small projects with no model configured.

use std::path::{Path, PathBuf};

use pp::patch::{self, WriteRules};
use pp::propose::suggest;

use crate::support::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suggest")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn fixture_outputs_yield_their_expected_diffs() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 9, "fixtures missing: {cases:?}");
    let rules = WriteRules::default().compile().unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&case.join("workspace"), tmp.path());
        let output = std::fs::read_to_string(case.join("output.txt"))
            .unwrap()
            .replace("{ROOT}", &tmp.path().to_string_lossy());
        let suggestions = if output.trim_start().starts_with('{') {
            suggest::parse_cargo_json(&output, 0)
        } else {
            suggest::collect(&output)
        };
        let (candidates, notes) = suggest::build_candidates(tmp.path(), &suggestions, &rules, &[]);
        let got = candidates
            .first()
            .map(|c| c.diff.clone())
            .unwrap_or_default();
        let expected_path = case.join("expected.diff");
        if std::env::var_os("PP_BLESS").is_some() {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected || got.is_empty() {
            failures.push(format!(
                "{name}: got\n{got}\nexpected\n{expected}\nsuggestions {suggestions:#?}\nnotes {notes:#?}"
            ));
            continue;
        }
        // The patch engine takes the candidate as it is.
        let parsed = patch::parse(&got).unwrap();
        patch::apply(tmp.path(), &parsed, &rules)
            .unwrap_or_else(|r| panic!("{name}: the candidate does not apply: {}", r.feedback()));
        assert!(
            case.join("source.md").is_file(),
            "{name}: source.md is missing"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn suggestions_outside_the_write_allowlist_are_not_used() {
    let case = fixtures().join("python_name_error");
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&case.join("workspace"), tmp.path());
    let output = std::fs::read_to_string(case.join("output.txt"))
        .unwrap()
        .replace("{ROOT}", &tmp.path().to_string_lossy());
    let rules = WriteRules {
        write_allowlist: vec!["src/**".into()],
        ..WriteRules::default()
    }
    .compile()
    .unwrap();
    let s = suggest::collect(&output);
    assert_eq!(s.len(), 1);
    let (candidates, notes) = suggest::build_candidates(tmp.path(), &s, &rules, &[]);
    assert!(candidates.is_empty(), "{candidates:?}");
    assert!(notes[0].status.contains("policy"), "{notes:?}");
}

const RUST_TOML: &str =
    "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";

fn rust_env(lib: &str) -> TestEnv {
    TestEnv::new(&[
        ("Cargo.toml", RUST_TOML),
        ("src/lib.rs", lib),
        (".gitignore", "target/\nCargo.lock\n"),
    ])
}

/// `pp run CMD --json` with no provider and no PP_* variables.
fn run_default(env: &TestEnv, cmd: &str) -> (i32, serde_json::Value) {
    let out = env.pp(&["run", cmd, "--json"]);
    let v = json_out(&out);
    (code(&out), v)
}

fn final_patch(v: &serde_json::Value) -> String {
    std::fs::read_to_string(v["final_patch"].as_str().unwrap()).unwrap()
}

fn proposal(v: &serde_json::Value, n: u32) -> serde_json::Value {
    let p =
        Path::new(v["proof_bundle"].as_str().unwrap()).join(format!("attempts/{n}/proposal.json"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn rust_misspelled_local_is_proven_without_a_model() {
    let env = rust_env(
        "pub fn total(xs: &[i64]) -> i64 {\n    let sum: i64 = xs.iter().sum();\n    summ\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn totals() {\n        assert_eq!(total(&[1, 2, 3]), 6);\n    }\n}\n",
    );
    let (code, v) = run_default(&env, "cargo test --offline");
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["status"], "proven");
    assert_eq!(v["attempts_used"], 1);
    let patch = final_patch(&v);
    assert!(patch.contains("-    summ\n+    sum\n"), "{patch}");
    let p = proposal(&v, 1);
    assert_eq!(p["proposer"], "suggest");
    assert!(
        p["proposal"]["rationale"]
            .as_str()
            .unwrap()
            .contains("similar name"),
        "{p:#}"
    );
    assert_eq!(p["details"]["suggestions"][0]["source"], "rustc");
}

#[test]
fn rust_missing_use_is_proven_without_a_model() {
    let env = rust_env(
        "pub fn counts(words: &[&str]) -> HashMap<String, usize> {\n    let mut m = HashMap::new();\n    for w in words {\n        *m.entry(w.to_string()).or_insert(0) += 1;\n    }\n    m\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn counts_words() {\n        assert_eq!(counts(&[\"a\", \"b\", \"a\"])[\"a\"], 2);\n    }\n}\n",
    );
    let (code, v) = run_default(&env, "cargo test --offline");
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["status"], "proven");
    let patch = final_patch(&v);
    assert!(
        patch.contains("+use std::collections::HashMap;\n"),
        "{patch}"
    );
    assert_eq!(patch.matches("+use ").count(), 1, "{patch}");
}

const PY_TEST_CMD: &str = "python3 -m unittest discover -s tests -v";

#[test]
fn python_misspelled_name_is_proven_without_a_model() {
    let env = TestEnv::new(&[
        (
            "textstats.py",
            "def word_count(text):\n    words = text.split()\n    return len(word)\n",
        ),
        (
            "tests/test_textstats.py",
            "import unittest\n\nfrom textstats import word_count\n\n\nclass T(unittest.TestCase):\n    def test_count(self):\n        self.assertEqual(word_count(\"a b c\"), 3)\n",
        ),
    ]);
    let (code, v) = run_default(&env, PY_TEST_CMD);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["status"], "proven");
    let patch = final_patch(&v);
    assert!(patch.contains("+    return len(words)\n"), "{patch}");
}

#[test]
fn logic_bug_is_not_proven_and_says_how_to_configure_a_model() {
    // With `search` off, `auto` without a model is `suggest` alone (search proves this bug:
    // see search.rs).
    let env = TestEnv::new(&[
        ("pp.yaml", "policy:\n  search: {enabled: false}\n"),
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
    ]);
    let (code, v) = run_default(&env, PY_TEST_CMD);
    assert_eq!(code, 10, "{v:#}");
    assert_eq!(v["status"], "not_proven");
    // Nothing to propose and no model: the session stops instead of repeating itself.
    assert_eq!(v["attempts_used"], 1);
    let hint = v["hint"].as_str().unwrap_or_default();
    assert!(
        hint.contains("no model is configured") && hint.contains("PP_OPENAI_API_KEY"),
        "{v:#}"
    );
    let p = proposal(&v, 1);
    assert_eq!(p["proposer"], "suggest");
    assert!(
        p["proposal"]["empty_reason"]
            .as_str()
            .unwrap()
            .contains("no further suggestion"),
        "{p:#}"
    );
}

#[test]
fn auto_moves_on_to_the_model_in_the_same_attempt() {
    // A logic bug: suggest has nothing, so the configured command proposer answers attempt 1.
    let mut env = TestEnv::new(&[
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
    ]);
    let provider = env.proposer(&[&json_diff(
        "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n",
    )]);
    let prog = provider.strip_prefix("command:").unwrap();
    env.write(
        "pp.yaml",
        &format!("policy:\n  search: {{enabled: false}}\n  provider:\n    command: [\"{prog}\"]\n"),
    );
    env.commit("policy");
    // The user trusts this policy file's program.
    env.extra_env.push(("PP_TRUST_POLICY".into(), "1".into()));
    let (code, v) = run_default(&env, PY_TEST_CMD);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["attempts_used"], 1);
    let p = proposal(&v, 1);
    assert_eq!(p["proposer"], "command");
    assert!(
        p["fallbacks"][0]
            .as_str()
            .unwrap()
            .starts_with("suggest: no further suggestion"),
        "{p:#}"
    );
}

#[test]
fn a_failed_suggestion_is_not_repeated() {
    // rustc suggests `sum`, which compiles but fails the test: attempt 2 has nothing new.
    let env = rust_env(
        "pub fn total(xs: &[i64]) -> i64 {\n    let sum: i64 = xs.iter().sum();\n    summ + 1\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn totals() {\n        assert_eq!(total(&[1, 2, 3]), 6);\n    }\n}\n",
    );
    env.write(
        "pp.yaml",
        "policy:\n  allowed_commands: [\"cargo test --offline\"]\n  limits: {max_attempts: 2}\n  search: {enabled: false}\n",
    );
    env.commit("policy");
    let (code, v) = run_default(&env, "cargo test --offline");
    assert_eq!(code, 10, "{v:#}");
    assert_eq!(v["attempts_used"], 2);
    assert_eq!(proposal(&v, 1)["proposal"]["kind"], "diff");
    let p2 = proposal(&v, 2);
    assert!(
        p2["proposal"]["empty_reason"]
            .as_str()
            .unwrap()
            .contains("already tried"),
        "{p2:#}"
    );
}

#[test]
fn allowed_cargo_check_json_supplies_machine_applicable_fixes() {
    // Two E0308/E0596 errors whose fixes rustc marks MachineApplicable; the policy allows
    // the JSON check, so suggest runs it in the sandbox and records it.
    let env = rust_env(
        "pub fn push_one(v: Vec<i32>) -> Vec<i32> {\n    let out = v;\n    out.push(1);\n    out\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn pushes() {\n        assert_eq!(push_one(vec![0]), vec![0, 1]);\n    }\n}\n",
    );
    env.write(
        "pp.yaml",
        "policy:\n  allowed_commands: [\"cargo test --offline\", \"cargo check --offline --message-format=json\"]\n",
    );
    env.commit("policy");
    let (code, v) = run_default(&env, "cargo test --offline");
    assert_eq!(code, 0, "{v:#}");
    let p = proposal(&v, 1);
    assert_eq!(
        p["details"]["cargo_check"],
        "cargo check --offline --message-format=json"
    );
    assert_eq!(p["details"]["suggestions"][0]["source"], "cargo_json");
    assert!(final_patch(&v).contains("+    let mut out = v;"));
    let log = Path::new(v["proof_bundle"].as_str().unwrap())
        .join("attempts/0_baseline/suggest_cargo_check/stdout.log");
    assert!(
        std::fs::read_to_string(log)
            .unwrap()
            .contains("MachineApplicable")
    );
}

#[test]
fn python_errors_revealed_one_at_a_time_are_fixed_in_turn() {
    // Python stops at the first NameError; the second shows only once the first is fixed.
    let env = TestEnv::new(&[
        (
            "stats.py",
            "def stats(text):\n    words = text.split()\n    count = len(word)\n    return count, max(words, key=lenn)\n",
        ),
        (
            "tests/test_stats.py",
            "import unittest\n\nfrom stats import stats\n\n\nclass T(unittest.TestCase):\n    def test_stats(self):\n        self.assertEqual(stats(\"a bb c\"), (3, \"bb\"))\n",
        ),
    ]);
    let (code, v) = run_default(&env, PY_TEST_CMD);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["attempts_used"], 2);
    let patch = final_patch(&v);
    assert!(
        patch.contains("+    count = len(words)\n") && patch.contains("key=len)"),
        "{patch}"
    );
    assert_eq!(proposal(&v, 2)["details"]["follow_up"]["after_attempt"], 1);
}

#[test]
fn with_a_model_after_it_suggest_does_not_spend_the_attempts() {
    // Both suggestions together compile but fail the test; trying each alone would use up
    // attempts 2 and 3. With a proposer after it, suggest steps aside after its best shot.
    let mut env = rust_env(
        "pub fn total(xs: &[i64]) -> i64 {\n    let sum: i64 = xs.iter().sum();\n    summ\n}\n\npub fn double(x: i64) -> i64 {\n    let y = x * 3;\n    yy\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn works() {\n        assert_eq!(total(&[1, 2, 3]), 6);\n        assert_eq!(double(2), 4);\n    }\n}\n",
    );
    let provider = env.proposer(&[&json_diff(
        "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,9 +1,8 @@\n pub fn total(xs: &[i64]) -> i64 {\n     let sum: i64 = xs.iter().sum();\n-    summ\n+    sum\n }\n \n pub fn double(x: i64) -> i64 {\n-    let y = x * 3;\n-    yy\n+    x * 2\n }\n",
    )]);
    let prog = provider.strip_prefix("command:").unwrap();
    env.write(
        "pp.yaml",
        &format!(
            "policy:\n  allowed_commands: [\"cargo test --offline\"]\n  search: {{enabled: false}}\n  provider:\n    command: [\"{prog}\"]\n"
        ),
    );
    env.commit("policy");
    env.extra_env.push(("PP_TRUST_POLICY".into(), "1".into()));
    let (code, v) = run_default(&env, "cargo test --offline");
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["attempts_used"], 2);
    assert_eq!(proposal(&v, 1)["proposer"], "suggest");
    assert_eq!(proposal(&v, 2)["proposer"], "command");
    assert_eq!(env.proposer_calls(), 1);
}
