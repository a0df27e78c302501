//! pytest's closing line (`=== 1 failed, 2 passed in 0.03s ===`, or bare with `-q`) and the
//! test ids it names (`FAILED id - …` in the short summary, `id PASSED` with `-v`).

use crate::context::pattern::{compile, num};
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

static FINAL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?|rerun)(?:, )?)+|no tests ran) in [\d.]+s\b",
    )
});
static COUNT: LazyLock<Regex> = LazyLock::new(|| compile(r"(\d+) (\w+)"));
static SHORT: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^(FAILED|ERROR|PASSED|XPASS|XFAIL) (\S+::\S+|\S+\.py)(?: - .*)?\s*$")
});
static VERBOSE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(\S+::\S+) (PASSED|FAILED|ERROR|XPASS|XFAIL|SKIPPED)\b"));

pub(crate) fn parse(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("pytest");
    let mut counts: Option<String> = None;
    for line in text.lines() {
        if let Some(caps) = FINAL.captures(line) {
            counts = Some(caps[1].to_string());
        } else if let Some(caps) = SHORT.captures(line) {
            record(&mut summary, &caps[1], &caps[2]);
        } else if let Some(caps) = VERBOSE.captures(line) {
            record(&mut summary, &caps[2], &caps[1]);
        }
    }
    let counts = counts?;
    for caps in COUNT.captures_iter(&counts) {
        let n = num(&caps[1]).unwrap_or(0);
        match &caps[2] {
            "passed" | "xpassed" => summary.passed += n,
            "failed" | "error" | "errors" => summary.failed += n,
            "skipped" | "xfailed" | "deselected" => summary.skipped += n,
            _ => {}
        }
    }
    Some(summary.finish())
}

fn record(summary: &mut TestSummary, verdict: &str, name: &str) {
    match verdict {
        "PASSED" | "XPASS" => summary.add_passing(name),
        "FAILED" | "ERROR" => summary.add_failing(name),
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
}
