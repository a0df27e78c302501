//! Rust's libtest (`cargo test`, one `test result:` line per test binary, summed) and
//! cargo-nextest (`Summary [..] N tests run: …`).

use crate::context::pattern::{compile, num};
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

pub(crate) static RESULT: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured; (\d+) filtered out",
    )
});
static TEST: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored)\b"));
static FAILURES: LazyLock<Regex> = LazyLock::new(|| compile(r"^    (\S.*)$"));

pub(crate) fn parse(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("libtest");
    let mut seen = false;
    let mut in_failures_list = false;
    for line in text.lines() {
        if let Some(caps) = RESULT.captures(line) {
            seen = true;
            summary.passed += num(&caps[1]).unwrap_or(0);
            summary.failed += num(&caps[2]).unwrap_or(0);
            summary.skipped += num(&caps[3]).unwrap_or(0);
            in_failures_list = false;
            continue;
        }
        if let Some(caps) = TEST.captures(line) {
            match &caps[2] {
                "ok" => summary.add_passing(&caps[1]),
                "FAILED" => summary.add_failing(&caps[1]),
                _ => summary.add_skipping(&caps[1]),
            }
            continue;
        }
        // The closing `failures:` list names each failed test once, indented by four spaces.
        if line == "failures:" {
            in_failures_list = true;
            continue;
        }
        if in_failures_list {
            match FAILURES.captures(line) {
                Some(caps) if !caps[1].starts_with("----") => summary.add_failing(&caps[1]),
                _ if line.trim().is_empty() => {}
                _ => in_failures_list = false,
            }
        }
    }
    seen.then(|| summary.finish())
}

pub(crate) static NEXTEST_SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*Summary \[\s*[\d.]+m?s\] (\d+) tests? run: (.*)$"));
static NEXTEST_TEST: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^\s*(PASS|FAIL|SKIP|SIGSEGV|SIGABRT|SIGKILL|TIMEOUT|LEAK|ABORT)\s+\[\s*[\d.]+m?s\]\s+(?:\(\s*\d+/\d+\)\s+)?(\S+)\s+(\S+)\s*$",
    )
});
static COUNT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(\d+) (passed|failed|skipped|timed out)"));

pub(crate) fn parse_nextest(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("nextest");
    let mut seen = false;
    for line in text.lines() {
        if let Some(caps) = NEXTEST_SUMMARY.captures(line) {
            seen = true;
            for count in COUNT.captures_iter(&caps[2]) {
                let n = num(&count[1]).unwrap_or(0);
                match &count[2] {
                    "passed" => summary.passed += n,
                    "skipped" => summary.skipped += n,
                    _ => summary.failed += n,
                }
            }
            // "N tests run" also skips nothing; it is the authority for the total.
            let total = num(&caps[1]).unwrap_or(0);
            summary.failed = summary.failed.max(total.saturating_sub(summary.passed));
        } else if let Some(caps) = NEXTEST_TEST.captures(line) {
            match &caps[1] {
                "PASS" | "LEAK" => summary.add_passing(&caps[3]),
                "SKIP" => summary.add_skipping(&caps[3]),
                _ => summary.add_failing(&caps[3]),
            }
        }
    }
    seen.then(|| summary.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_binaries_and_names() {
        let out = "running 2 tests\ntest a::x ... ok\ntest a::y ... FAILED\n\nfailures:\n\n---- a::y stdout ----\npanic\n\nfailures:\n    a::y\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\nrunning 1 test\ntest z ... ignored\ntest result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (2, 1, 1, 1));
        assert_eq!(s.failing, vec!["a::y"]);
        assert_eq!(s.passing, vec!["a::x"]);
    }

    #[test]
    fn nextest_summary() {
        let out = "        PASS [   0.004s] demo tests::adds\n        FAIL [   0.005s] demo tests::subs\n     Summary [   0.010s] 2 tests run: 1 passed, 1 failed, 1 skipped\n        FAIL [   0.005s] demo tests::subs\n";
        let s = parse_nextest(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (2, 1, 1, 1));
        assert_eq!(s.failing, vec!["tests::subs"]);
        assert!(parse_nextest("test result: ok. 1 passed;").is_none());
    }
}
