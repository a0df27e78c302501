//! What users see, snapshot-tested with paths, times, ids and hashes redacted: `--help`, a
//! policy error, a provider error, the JSON summary and `final_summary.md`.

use crate::support::*;

fn filters(env: &TestEnv) -> Vec<(String, String)> {
    vec![
        (
            regex_escape(&env.root().display().to_string()),
            "[WS]".into(),
        ),
        (
            r"/tmp/pp-sandbox-[A-Za-z0-9]+/[^\s`\x22]*".into(),
            "[SANDBOX]".into(),
        ),
        (r"\d{8}T\d{6}Z-[0-9a-f]{8}".into(), "[SESSION]".into()),
        (r"[0-9a-f]{40,64}".into(), "[HASH]".into()),
        (r"in \d+\.\d+s".into(), "in [T]s".into()),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn settings(env: &TestEnv) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    for (re, rep) in filters(env) {
        s.add_filter(&re, rep);
    }
    s
}

#[test]
fn help_texts() {
    let env = TestEnv::new(&[]);
    for (name, args) in [
        ("help_top", vec!["--help"]),
        ("help_run", vec!["run", "--help"]),
    ] {
        let out = env.pp(&args);
        assert_eq!(code(&out), 0);
        insta::assert_snapshot!(name, String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn policy_error_message() {
    let env = TestEnv::new(&[("pp.yaml", "policy:\n  limits:\n    max_attempt: 3\n")]);
    let out = env.pp(&["run", "true"]);
    assert_eq!(code(&out), 2);
    settings(&env).bind(|| {
        insta::assert_snapshot!(format!("[exit status: {}]\n{}", code(&out), stderr(&out)))
    });
}

/// A proposer's configuration error reads as the others do: the error, then its hint on its own
/// line; under `--json`, the hint in its own field.
#[test]
fn provider_error_message() {
    let env = TestEnv::new(&[]);
    let out = env.pp(&["run", "true", "--provider", "openai"]);
    assert_eq!(code(&out), 2);
    settings(&env).bind(|| {
        insta::assert_snapshot!(format!("[exit status: {}]\n{}", code(&out), stderr(&out)))
    });
    let out = env.pp(&["run", "true", "--provider", "gpt", "--json"]);
    assert_eq!(code(&out), 2);
    let v = json_out(&out);
    assert_eq!(v["error"], "unknown provider `gpt`", "{v}");
    assert!(v["hint"].as_str().unwrap().contains("choose from"), "{v}");
}

#[test]
fn summary_json_and_final_summary() {
    let env = TestEnv::new(&[
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
        // Pinned, so the paths in the output do not depend on what `auto` finds here.
        ("pp.yaml", "policy:\n  sandbox: {backend: copy}\n"),
    ]);
    let fix = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
    let provider = env.proposer(&[&json_diff(fix)]);
    let out = env.pp(&[
        "run",
        "python3 -m unittest discover -s tests",
        "--provider",
        &provider,
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let summary = std::fs::read_to_string(b.join("final_summary.md")).unwrap();
    let mut s = settings(&env);
    s.add_filter(
        regex_escape(&env.scratch.path().display().to_string()).as_str(),
        "[SCRATCH]",
    );
    // Durations vary from run to run; that they are there is the snapshot's point.
    s.add_filter(r#""(\w*duration_ms)": \d+"#, r#""$1": "[MS]""#);
    s.bind(|| {
        insta::assert_snapshot!("summary_json", serde_json::to_string_pretty(&v).unwrap());
        insta::assert_snapshot!("final_summary_md", summary);
    });
}
