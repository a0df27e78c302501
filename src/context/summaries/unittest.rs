//! Python's unittest: `Ran N tests in …` followed by `OK` or `FAILED (failures=…, errors=…)`,
//! with names from `FAIL: test (module.Class.test)` headers and `-v` result lines. A module that
//! failed to import is reported by unittest as an erroring test of `unittest.loader._FailedTest`;
//! it is a load error here, not a test.

use crate::context::pattern::{compile, num};
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

static RAN: LazyLock<Regex> = LazyLock::new(|| compile(r"^Ran (\d+) tests? in [\d.]+s$"));
static VERDICT: LazyLock<Regex> = LazyLock::new(|| compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$"));
static COUNT: LazyLock<Regex> = LazyLock::new(|| compile(r"([a-z ]+)=(\d+)"));
static HEADER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\w+) \(([\w.]+)\)"));
/// The `-v` line of a test, with or without its verdict yet.
static VERBOSE: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^(\w+) \(([\w.]+)\)(?:\s.*)? \.\.\. ?(ok|FAIL|ERROR|skipped|expected failure|unexpected success)?",
    )
});

pub(crate) fn parse(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("unittest");
    let mut total = 0;
    let mut seen = false;
    let mut pending_total: Option<u32> = None;
    for line in text.lines() {
        if let Some(caps) = RAN.captures(line) {
            pending_total = num(&caps[1]);
        } else if let (Some(n), Some(caps)) = (pending_total, VERDICT.captures(line)) {
            seen = true;
            pending_total = None;
            total += n;
            for count in COUNT.captures_iter(caps.get(2).map_or("", |c| c.as_str())) {
                let k = num(&count[2]).unwrap_or(0);
                match count[1].trim() {
                    "failures" | "errors" | "unexpected successes" => summary.failed += k,
                    "skipped" => summary.skipped += k,
                    _ => {}
                }
            }
        } else if let Some(caps) = HEADER.captures(line) {
            if caps[3].starts_with(FAILED_IMPORT) {
                summary.add_load_error(&caps[2]);
            } else {
                summary.add_failing(&qualified(&caps[2], &caps[3]));
            }
        } else if let Some(caps) = VERBOSE.captures(line) {
            if caps[2].starts_with(FAILED_IMPORT) {
                continue;
            }
            let name = qualified(&caps[1], &caps[2]);
            match caps.get(3).map_or("", |v| v.as_str()) {
                "ok" | "expected failure" => summary.add_passing(&name),
                "FAIL" | "ERROR" | "unexpected success" => summary.add_failing(&name),
                "skipped" => summary.add_skipping(&name),
                _ => {}
            }
        }
    }
    if !seen {
        return None;
    }
    // unittest counts each module that failed to import as one test run and errored.
    let unloaded = summary.load_errors.len() as u32;
    total = total.saturating_sub(unloaded);
    summary.failed = summary.failed.saturating_sub(unloaded);
    summary.passed = total.saturating_sub(summary.failed + summary.skipped);
    Some(summary.finish())
}

/// The pseudo test case unittest reports a module that failed to import as.
const FAILED_IMPORT: &str = "unittest.loader._FailedTest";

/// Python 3.11 prints `(module.Class.method)`, older versions `(module.Class)`.
fn qualified(method: &str, inside: &str) -> String {
    if inside.ends_with(&format!(".{method}")) {
        inside.to_string()
    } else {
        format!("{inside}.{method}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_names() {
        let out = "test_a (t.T.test_a) ... ok\ntest_b (t.T.test_b) ... FAIL\n\n======\nFAIL: test_b (t.T.test_b)\n------\nRan 3 tests in 0.001s\n\nFAILED (failures=1, skipped=1)\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (2, 1, 1, 1));
        assert_eq!(s.failing, vec!["t.T.test_b"]);
        assert_eq!(s.passing, vec!["t.T.test_a"]);
        assert_eq!(qualified("test_x", "mod.C"), "mod.C.test_x");
    }

    #[test]
    fn a_module_that_failed_to_import_is_no_test() {
        let out = "test_calc (unittest.loader._FailedTest.test_calc) ... ERROR\n\n======\nERROR: test_calc (unittest.loader._FailedTest.test_calc)\n------\nImportError: Failed to import test module: test_calc\n\nRan 1 test in 0.000s\n\nFAILED (errors=1)\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed), (0, 0, 0));
        assert_eq!(s.load_errors, vec!["test_calc"]);
        assert!(s.failing.is_empty());
    }
}
