//! Vitest: the `Tests  2 failed | 1 passed | 1 skipped (4)` line, `FAIL  file > suite > test`
//! headers, and the full-name `✓`/`×` lines of the verbose reporter.

use crate::context::pattern::{compile, num};
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

pub(crate) static TOTALS: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*Tests\s+(.*\(\d+\))\s*$"));
static COUNT: LazyLock<Regex> = LazyLock::new(|| compile(r"(\d+) (failed|passed|skipped|todo)"));
static HEADER: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*FAIL\s+(\S+ > .+?)\s*$"));
pub(crate) static RESULT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*([✓×]) (\S+ > .+?)(?: \d+(?:\.\d+)?m?s)?\s*$"));

pub(crate) fn parse(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("vitest");
    let mut seen = false;
    for line in text.lines() {
        if let Some(caps) = TOTALS.captures(line) {
            seen = true;
            for count in COUNT.captures_iter(&caps[1]) {
                let n = num(&count[1]).unwrap_or(0);
                match &count[2] {
                    "failed" => summary.failed += n,
                    "passed" => summary.passed += n,
                    _ => summary.skipped += n,
                }
            }
        } else if let Some(caps) = HEADER.captures(line) {
            summary.add_failing(&caps[1]);
        } else if let Some(caps) = RESULT.captures(line) {
            if &caps[1] == "✓" {
                summary.add_passing(&caps[2]);
            } else {
                summary.add_failing(&caps[2]);
            }
        }
    }
    seen.then(|| summary.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_names() {
        let out = " ✓ t/a.test.ts > s > ok 1ms\n × t/a.test.ts > s > bad 2ms\n FAIL  t/a.test.ts > s > bad\n      Tests  1 failed | 1 passed | 1 skipped (3)\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (2, 1, 1, 1));
        assert_eq!(s.failing, vec!["t/a.test.ts > s > bad"]);
        assert_eq!(s.passing, vec!["t/a.test.ts > s > ok"]);
        assert!(parse("Tests:       1 failed, 1 total\n").is_none());
    }
}
