//! pytest's closing line (`=== 1 failed, 2 passed in 0.03s ===`, or bare with `-q`) and the
//! test ids it names (`FAILED id - …` in the short summary, `id PASSED` with `-v`). A file that
//! failed to collect (`ERROR path.py` in the short summary) is a load error, not a test: pytest
//! counts it among its `errors`, and they are taken out of `failed` again.

use crate::context::pattern::{compile, num};
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

/// Shared with `progress`, where it closes a session.
pub(crate) static FINAL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^=*\s*((?:\d+ (?:subtests? )?(?:passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?|rerun)(?:, )?)+|no tests ran) in [\d.]+s\b",
    )
});
static COUNT: LazyLock<Regex> = LazyLock::new(|| compile(r"(\d+) (\w+)"));
static SHORT: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^(FAILED|ERROR|PASSED|XPASS|XFAIL) (\S+::\S+|\S+\.py)(?: - .*)?\s*$")
});
static VERBOSE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(\S+::\S+) (PASSED|FAILED|ERROR|XPASS|XFAIL|SKIPPED)\b"));
static COLLECT: LazyLock<Regex> = LazyLock::new(|| compile(r"^_+ ERROR collecting (\S+) _+$"));
/// A failed subtest in the short summary (pytest 9, the `subtests` plugin before it):
/// `SUBFAILED(i=2) t.py::T::test_a - …`.
static SUBFAILED: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^SUBFAIL(?:ED)?(?:\(.*?\))? (\S+::\S+)(?: - .*)?\s*$"));

pub(crate) fn parse(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("pytest");
    let mut counts: Option<String> = None;
    let mut subfailed: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(caps) = FINAL.captures(line) {
            counts = Some(caps[1].to_string());
        } else if let Some(caps) = SHORT.captures(line) {
            record(&mut summary, &caps[1], &caps[2]);
        } else if let Some(caps) = VERBOSE.captures(line) {
            record(&mut summary, &caps[2], &caps[1]);
        } else if let Some(caps) = COLLECT.captures(line) {
            summary.add_load_error(&caps[1]);
        } else if let Some(caps) = SUBFAILED.captures(line) {
            subfailed.push(caps[1].to_string());
        }
    }
    let counts = counts?;
    // pytest 9 counts subtests (`unittest`'s `subTest`, the `subtests` fixture) apart: `2
    // subtests passed` is not two tests, and a failing subtest fails its test, counted as such.
    for caps in COUNT.captures_iter(&counts) {
        let n = num(&caps[1]).unwrap_or(0);
        match &caps[2] {
            "passed" | "xpassed" => summary.passed += n,
            "failed" | "error" | "errors" => summary.failed += n,
            "skipped" | "xfailed" | "deselected" => summary.skipped += n,
            _ => {}
        }
    }
    summary.failed = summary
        .failed
        .saturating_sub(summary.load_errors.len() as u32);
    // Each failed subtest is one `failed` of the closing line, while its test is counted as
    // passed (or, when its own body failed too, failed): count the test instead, as failed.
    summary.failed = summary.failed.saturating_sub(subfailed.len() as u32);
    subfailed.dedup();
    for test in subfailed {
        if summary.failing.contains(&test) {
            continue;
        }
        summary.passed = summary.passed.saturating_sub(1);
        summary.failed += 1;
        summary.passing.retain(|p| *p != test);
        summary.add_failing(&test);
    }
    Some(summary.finish())
}

fn record(summary: &mut TestSummary, verdict: &str, name: &str) {
    match verdict {
        // `ERROR tests/t.py` without a test id: the file did not collect.
        "ERROR" if !name.contains("::") => summary.add_load_error(name),
        "PASSED" | "XPASS" => summary.add_passing(name),
        "FAILED" | "ERROR" => summary.add_failing(name),
        "SKIPPED" => summary.add_skipping(name),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_names() {
        let out = "tests/t.py::test_a PASSED  [ 50%]\ntests/t.py::test_b FAILED  [100%]\n=== short test summary info ===\nFAILED tests/t.py::test_b - assert 1 == 2\n==== 1 failed, 1 passed, 1 skipped, 2 warnings in 0.03s ====\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (2, 1, 1, 1));
        assert_eq!(s.failing, vec!["tests/t.py::test_b"]);
        assert_eq!(s.passing, vec!["tests/t.py::test_a"]);
        assert_eq!(parse("no tests ran in 0.01s\n").unwrap().ran, 0);
        assert!(parse("Ran 3 tests in 0.001s\n").is_none());
    }

    #[test]
    fn subtest_counts_of_pytest_9_are_read_and_not_counted_as_tests() {
        // As pytest 9.2 prints it: the test with a failing subtest is PASSED, its subtest one
        // of the `failed`.
        let out = "test_s.py::T::test_a PASSED   [ 50%]\ntest_s.py::T::test_b PASSED   [100%]\n=========================== short test summary info ============================\nSUBFAILED(i=2) test_s.py::T::test_a - AssertionError: False is not true\n================ 1 failed, 2 passed, 2 subtests passed in 0.06s ================\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed), (2, 1, 1));
        assert_eq!(s.failing, vec!["test_s.py::T::test_a"]);
        assert_eq!(s.passing, vec!["test_s.py::T::test_b"]);
        let s = parse(
            "..                                     [100%]\n2 passed, 3 subtests passed in 0.01s\n",
        )
        .unwrap();
        assert_eq!((s.ran, s.passed, s.failed), (2, 2, 0));
    }

    #[test]
    fn a_collection_error_is_no_test() {
        let out = "collected 1 item / 1 error\n\n_____ ERROR collecting tests/test_units.py _____\nE   ModuleNotFoundError: No module named 'pkg'\n=== short test summary info ===\nERROR tests/test_units.py\n!!!! Interrupted: 1 error during collection !!!!\n==== 1 error in 0.15s ====\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.failed), (0, 0));
        assert_eq!(s.load_errors, vec!["tests/test_units.py"]);
        assert!(s.failing.is_empty());
        assert!(!s.has_counts());
        // A setup error of one test is that test's failure.
        let out =
            "ERROR tests/t.py::test_a - RuntimeError: db\n=== 1 passed, 1 error in 0.1s ===\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.failed), (2, 1));
        assert_eq!(s.failing, vec!["tests/t.py::test_a"]);
    }
}
