//! `node --test`, Node's built-in runner: its TAP report (the default without a terminal up to
//! Node 22: `ok 1 - name`, `not ok 2 - name`, subtests indented under their suite, closing
//! `# tests N`, `# pass N`, `# fail N`, …) and its spec report (`✔ name (1ms)`, `✖ name (1ms)`,
//! closing `ℹ tests N`, `ℹ pass N`, `ℹ fail N`, …). Tests are named by their own title (a suite
//! is not a test); a report counts only with both its `tests` and `pass` closing lines.

use crate::context::pattern::{compile, num};
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

static TAP: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(\s*)(ok|not ok) \d+ - (.+?)(?:\s+#\s*(SKIP|TODO)\b.*)?\s*$"));
static SPEC: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^(\s*)([✔✖﹣▶]) (.+?)(?: \(\d+(?:\.\d+)?m?s\))?(?:\s+#\s*(SKIP|TODO)\b.*)?\s*$")
});
/// Shared with `progress`, where `tests` closes a run.
pub(crate) static TOTAL: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^(?:#|ℹ) (tests|suites|pass|fail|cancelled|skipped|todo) (\d+)\s*$")
});

pub(crate) fn parse(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("node");
    let (mut tests_line, mut pass_line) = (false, false);
    // Result lines in order, with their indentation: a line preceded by a deeper one closes a
    // suite, not a test.
    let mut results: Vec<(usize, &'static str, String)> = Vec::new();
    let mut spec_failures_listed = false;
    for line in text.lines() {
        if let Some(c) = TOTAL.captures(line) {
            let n = num(&c[2]).unwrap_or(0);
            match &c[1] {
                "tests" => tests_line = true,
                "pass" => {
                    pass_line = true;
                    summary.passed += n;
                }
                "fail" | "cancelled" => summary.failed += n,
                "skipped" | "todo" => summary.skipped += n,
                _ => {}
            }
            continue;
        }
        // The spec reporter repeats every failure after `✖ failing tests:`.
        if line.trim() == "✖ failing tests:" {
            spec_failures_listed = true;
            continue;
        }
        if spec_failures_listed {
            continue;
        }
        let (indent, verdict, name) = if let Some(c) = TAP.captures(line) {
            let v = match (&c[2], c.get(4)) {
                (_, Some(_)) => "skip",
                ("ok", None) => "pass",
                _ => "fail",
            };
            (c[1].len(), v, c[3].to_owned())
        } else if let Some(c) = SPEC.captures(line) {
            let v = match (&c[2], c.get(4)) {
                ("▶", _) => "suite",
                (_, Some(_)) | ("﹣", _) => "skip",
                ("✔", None) => "pass",
                _ => "fail",
            };
            (c[1].len(), v, c[3].to_owned())
        } else {
            continue;
        };
        results.push((indent, verdict, name));
    }
    if !(tests_line && pass_line) {
        return None;
    }
    for (i, (indent, verdict, name)) in results.iter().enumerate() {
        let suite = i > 0 && results[i - 1].0 > *indent;
        match *verdict {
            _ if suite => {}
            "pass" => summary.add_passing(name),
            "fail" => summary.add_failing(name),
            "skip" => summary.add_skipping(name),
            _ => {}
        }
    }
    Some(summary.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Node 20's TAP report of a suite with a failing test, a passing one, a top-level test and
    /// a skipped one (real output).
    #[test]
    fn tap_report_with_a_suite() {
        let out = "TAP version 13\n# Subtest: math\n    # Subtest: adds numbers\n    not ok 1 - adds numbers\n      ---\n      duration_ms: 1.2\n      location: '/w/a.test.js:4:3'\n      failureType: 'testCodeFailure'\n      error: |-\n        Expected values to be loosely equal:\n      stack: |-\n        TestContext.<anonymous> (/w/a.test.js:4:39)\n      ...\n    # Subtest: subs\n    ok 2 - subs\n      ---\n      duration_ms: 0.2\n      ...\n    1..2\nnot ok 1 - math\n  ---\n  duration_ms: 3.1\n  ...\n# Subtest: top\nok 2 - top\n  ---\n  duration_ms: 0.1\n  ...\n# Subtest: skipped one\nok 3 - skipped one # SKIP\n  ---\n  duration_ms: 0.1\n  ...\n1..3\n# tests 4\n# suites 1\n# pass 2\n# fail 1\n# cancelled 0\n# skipped 1\n# todo 0\n# duration_ms 254.04\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (3, 2, 1, 1));
        assert_eq!(s.failing, vec!["adds numbers"]);
        assert_eq!(s.passing, vec!["subs", "top"]);
        assert_eq!(s.skipping, vec!["skipped one"]);
        assert!(s.names_complete());
    }

    #[test]
    fn spec_report() {
        let out = "▶ math\n  ✖ adds numbers (1.1ms)\n    AssertionError [ERR_ASSERTION]: 2 == 3\n  ✔ subs (0.2ms)\n▶ math (2.3ms)\n✔ top (0.1ms)\n﹣ skipped one (0.1ms) # SKIP\nℹ tests 4\nℹ suites 1\nℹ pass 2\nℹ fail 1\nℹ cancelled 0\nℹ skipped 1\nℹ todo 0\nℹ duration_ms 60.1\n\n✖ failing tests:\n\n✖ adds numbers (1.1ms)\n  AssertionError\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (3, 2, 1, 1));
        assert_eq!(s.failing, vec!["adds numbers"]);
        assert_eq!(s.passing, vec!["subs", "top"]);
    }

    #[test]
    fn other_output_is_not_a_node_report() {
        for text in [
            "",
            "ok 1 - a\n",
            "# tests 3\n",
            "test result: ok. 1 passed; 0 failed\n",
            "# pass 3\n# fail 0\n",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
