//! The `search` proposer end to end in the languages beyond Python and Rust's own suites: a
//! JavaScript project under `node --test` and a Go module under `go test`, each with a one-token
//! logic bug, proven with no model (`--provider search`, and `auto` with no model configured);
//! and a Rust bug ranked from the failing test's backtrace. Real runners: Node at `node` and Go
//! at `go` on PATH (CI installs Debian's `golang-go`, see `.ci/run`). TypeScript has no
//! end-to-end test: running it needs a compiler or a loader from npm, which tests cannot fetch.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn search_record(v: &serde_json::Value) -> serde_json::Value {
    let b = Path::new(v["proof_bundle"].as_str().unwrap());
    let text = std::fs::read_to_string(b.join("attempts/1/search.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn final_patch(v: &serde_json::Value) -> String {
    std::fs::read_to_string(v["final_patch"].as_str().unwrap()).unwrap()
}

/// Fails (rather than skips) when a runner the test needs is missing: CI installs them all.
fn require(program: &str, hint: &str) {
    let ok = Command::new(program)
        .arg(if program == "go" {
            "version"
        } else {
            "--version"
        })
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "this test runs a real `{program}` and found none on PATH: {hint}"
    );
}

// ---- JavaScript, node --test --------------------------------------------------------------

/// A CommonJS module with several functions; the failing test calls only `clamp`, whose upper
/// branch returns the wrong bound.
fn node_env() -> TestEnv {
    require(
        "node",
        "install Node.js 18 or later (`apt-get install nodejs`)",
    );
    TestEnv::new(&[
        (
            "src/shapes.js",
            "function area(w, h) {\n  return w * h;\n}\n\nfunction clamp(x, lo, hi) {\n  if (x < lo) {\n    return lo;\n  }\n  if (x > hi) {\n    return lo;\n  }\n  return x;\n}\n\nconst double = (x) => x + x;\n\nmodule.exports = { area, clamp, double };\n",
        ),
        (
            "test/shapes.test.js",
            "const { test } = require('node:test');\nconst assert = require('node:assert/strict');\nconst { area, clamp, double } = require('../src/shapes.js');\n\ntest('area', () => {\n  assert.equal(area(2, 3), 6);\n});\n\ntest('double', () => {\n  assert.equal(double(4), 8);\n});\n\ntest('clamp keeps values in range', () => {\n  assert.equal(clamp(5, 0, 3), 3);\n  assert.equal(clamp(-1, 0, 3), 0);\n  assert.equal(clamp(2, 0, 3), 2);\n});\n",
        ),
        ("pp.yaml", "policy:\n  confirm_runs: 1\n"),
    ])
}

#[test]
fn search_proves_a_logic_bug_in_a_node_test_suite() {
    let env = node_env();
    let out = env.pp(&["run", "node --test", "--provider", "search", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let patch = final_patch(&v);
    assert!(
        patch.contains("-    return lo;\n+    return hi;\n"),
        "{patch}"
    );
    // node --test's report is read: the baseline's counts, and the candidate's.
    let t = &v["targets"][0];
    assert_eq!(t["baseline_tests"]["format"], "node", "{v}");
    assert_eq!(t["baseline_tests"]["passed"], 2);
    assert_eq!(t["baseline_tests"]["failed"], 1);
    assert_eq!(t["final_tests"]["passed"], 3);
    let s = search_record(&v);
    let report = &s["report"];
    assert_eq!(report["stop"]["reason"], "found");
    assert_eq!(report["winner"]["path"], "src/shapes.js");
    assert_eq!(report["winner"]["operator"], "replace_variable");
    // The ranking starts in `clamp`, the function the failing test calls (from the TAP
    // report's stack frame in the test), not in `area` or `double`.
    let top = &report["localization"][0];
    assert_eq!(top["path"], "src/shapes.js");
    assert_eq!(top["reason"], "called_function");
    assert!((5..=13).contains(&top["line"].as_u64().unwrap()), "{top}");
    // The failing test alone ran first, by node's own name pattern.
    let first = &s["failing_first"]["targets"]["default"];
    assert_eq!(first["runner"], "node", "{s}");
    assert_eq!(first["tests"][0], "clamp keeps values in range");
    assert!(
        first["command"]
            .as_str()
            .unwrap()
            .starts_with("node --test-name-pattern "),
        "{first}"
    );
    // With no coverage for JavaScript, the called function's lines go in source order: the
    // fix is on its fifth line, after every edit of the two conditions above it.
    assert!(report["trials"].as_array().unwrap().len() <= 60, "{report}");
}

#[test]
fn auto_with_no_model_proves_a_node_bug() {
    let env = node_env();
    let out = env.pp(&["run", "node --test", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert!(final_patch(&v).contains("+    return hi;\n"));
    // It was search (after `suggest`, which has nothing to say about a logic bug).
    assert_eq!(search_record(&v)["report"]["stop"]["reason"], "found");
}

// ---- Go, go test --------------------------------------------------------------------------

fn go_env(extra_policy: &str) -> TestEnv {
    require(
        "go",
        "install Go (`apt-get install golang-go`; .ci/run does)",
    );
    TestEnv::new(&[
        ("go.mod", "module example.com/calc\n\ngo 1.19\n"),
        (
            "calc.go",
            "package calc\n\n// InRange reports whether lo <= x <= hi.\nfunc InRange(x, lo, hi int) bool {\n\treturn x >= lo && x < hi\n}\n\n// Abs is the absolute value of x.\nfunc Abs(x int) int {\n\tif x < 0 {\n\t\treturn -x\n\t}\n\treturn x\n}\n",
        ),
        (
            "calc_test.go",
            "package calc\n\nimport \"testing\"\n\nfunc TestInRange(t *testing.T) {\n\tcases := []struct {\n\t\tx    int\n\t\twant bool\n\t}{{0, true}, {5, true}, {10, true}, {-1, false}, {11, false}}\n\tfor _, c := range cases {\n\t\tgot := InRange(c.x, 0, 10)\n\t\tif got != c.want {\n\t\t\tt.Errorf(\"InRange(%d, 0, 10) = %v, want %v\", c.x, got, c.want)\n\t\t}\n\t}\n}\n\nfunc TestAbs(t *testing.T) {\n\tif got := Abs(-4); got != 4 {\n\t\tt.Errorf(\"Abs(-4) = %d, want 4\", got)\n\t}\n}\n",
        ),
        (
            "pp.yaml",
            &format!("policy:\n  confirm_runs: 1\n{extra_policy}"),
        ),
    ])
}

/// The confined `go test` keeps its build cache in the sandbox's private cache directory (the
/// user's `~/.cache` is read-only there), and the search proves the one-token fix.
#[test]
fn search_proves_a_logic_bug_in_a_go_module() {
    let env = go_env("");
    let out = env.pp(&["run", "go test -v ./...", "--provider", "search", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let patch = final_patch(&v);
    assert!(patch.contains("+\treturn x >= lo && x <= hi\n"), "{patch}");
    let t = &v["targets"][0];
    assert_eq!(t["baseline_tests"]["format"], "gotest", "{v}");
    let s = search_record(&v);
    let report = &s["report"];
    assert_eq!(report["winner"]["path"], "calc.go");
    assert_eq!(report["winner"]["operator"], "relational");
    // go test names the `t.Errorf` line; the call that computed the value is above it, in
    // `InRange`, which ranks first.
    let top = &report["localization"][0];
    assert_eq!(
        (top["path"].as_str(), top["line"].as_u64()),
        (Some("calc.go"), Some(5)),
        "{report}"
    );
    assert_eq!(top["reason"], "called_function");
    let first = &s["failing_first"]["targets"]["default"];
    assert_eq!(first["runner"], "gotest", "{s}");
    assert_eq!(first["tests"][0], "TestInRange");
    assert!(
        first["command"]
            .as_str()
            .unwrap()
            .contains("-run '^(TestInRange)$'")
    );
    // The user's tree is untouched, and gained no build cache.
    assert!(env.read("calc.go").contains("x < hi"));
    assert!(!env.root().join("go-build").exists());
}

#[test]
fn auto_with_no_model_proves_a_go_bug_without_verbose_output() {
    // Without -v, go test names failures only: the counts are a lower bound, and the proof
    // still holds the failing test to passing by name.
    let env = go_env("");
    let out = env.pp(&["run", "go test ./...", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert!(final_patch(&v).contains("+\treturn x >= lo && x <= hi\n"));
}

// ---- Rust, ranked from the backtrace -------------------------------------------------------

/// An index out of bounds in `util::nth`, called with the wrong index by `stats::last`, which
/// `stats::spread` calls, which the failing integration test calls. The panic message names
/// only `util.rs`; the backtrace names the callers, and the buggy line in `stats.rs` ranks
/// right after the panic line.
#[test]
fn a_rust_bug_is_ranked_from_the_failing_tests_backtrace() {
    let env = TestEnv::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
        ),
        ("src/lib.rs", "pub mod stats;\npub mod util;\n"),
        (
            "src/util.rs",
            "/// The `i`-th value.\npub fn nth(xs: &[i64], i: usize) -> i64 {\n    xs[i]\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn first() {\n        assert_eq!(super::nth(&[5, 6], 0), 5);\n    }\n}\n",
        ),
        (
            "src/stats.rs",
            "use crate::util::nth;\n\n/// The largest value minus the smallest of a sorted slice.\npub fn spread(sorted: &[i64]) -> i64 {\n    last(sorted) - nth(sorted, 0)\n}\n\n/// The last value.\npub fn last(xs: &[i64]) -> i64 {\n    let n = xs.len();\n    nth(xs, n)\n}\n",
        ),
        (
            "tests/stats.rs",
            "use demo::stats::spread;\n\n#[test]\nfn spread_of_three() {\n    assert_eq!(spread(&[1, 4, 9]), 8);\n}\n",
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
    let patch = final_patch(&v);
    assert!(patch.contains("+    nth(xs, n - 1)\n"), "{patch}");
    let s = search_record(&v);
    assert_eq!(
        s["backtrace"], 3,
        "three project frames: nth, last, spread: {s}"
    );
    let ranking = s["report"]["localization"].as_array().unwrap();
    let at = |path: &str, line: u64| {
        ranking
            .iter()
            .position(|r| r["path"] == path && r["line"] == line)
            .unwrap_or_else(|| panic!("{path}:{line} not ranked: {ranking:#?}"))
    };
    let buggy = at("src/stats.rs", 11);
    assert_eq!(ranking[buggy]["reason"], "backtrace");
    assert!(
        buggy <= 1,
        "the caller's line ranks right after the panic's: {ranking:#?}"
    );
    assert_eq!(ranking[at("src/util.rs", 3)]["reason"], "backtrace");
    assert_eq!(s["report"]["winner"]["path"], "src/stats.rs");
    // The backtrace run was the failing test alone, like the trials' first runs.
    let events = std::fs::read_to_string(
        Path::new(v["proof_bundle"].as_str().unwrap()).join("events.jsonl"),
    )
    .unwrap();
    let traced: Vec<serde_json::Value> = crate::progress::event_lines(&events)
        .into_iter()
        .filter(|e| e["event"] == "run_start" && e["phase"] == "search_trace")
        .collect();
    assert_eq!(traced.len(), 1, "{traced:?}");
    assert!(
        traced[0]["command"]
            .as_str()
            .unwrap()
            .contains("spread_of_three --exact"),
        "{traced:?}"
    );
}
