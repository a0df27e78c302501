//! The plain closing line of hand-written suites in any language: `N passed, M failed`,
//! optionally `, K skipped`, optionally after one word and a colon (`Results: 2 passed, 0
//! failed`), alone on its line. Several such lines (several scripts) are summed. Test names are
//! not known in this format.

use crate::context::pattern::{compile, num};
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

static LINE: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^\s*(?:[A-Za-z]+:\s*)?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\.?\s*$")
});

pub(crate) fn parse(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("plain");
    let mut seen = false;
    for caps in text.lines().filter_map(|line| LINE.captures(line)) {
        seen = true;
        summary.passed += num(&caps[1]).unwrap_or(0);
        summary.failed += num(&caps[2]).unwrap_or(0);
        summary.skipped += caps.get(3).and_then(|k| num(k.as_str())).unwrap_or(0);
    }
    seen.then(|| summary.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_lines() {
        let s = parse("FAIL max 4 9 -> 4 (calc.sh:7)\n1 passed, 1 failed\n").unwrap();
        assert_eq!((s.ran, s.passed, s.failed), (2, 1, 1));
        let s = parse("Results: 2 passed, 0 failed, 1 skipped\n").unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (2, 2, 0, 1));
        let s = parse("a: 1 passed, 0 failed\nb: 2 passed, 1 failed.\n").unwrap();
        assert_eq!((s.ran, s.failed), (4, 1));
    }

    #[test]
    fn other_runners_lines_and_prose_are_not_it() {
        for text in [
            "     Summary [   0.010s] 2 tests run: 1 passed, 1 failed, 1 skipped",
            "==== 1 failed, 1 passed in 0.03s ====",
            "Tests:       1 failed, 1 passed, 2 total",
            "we saw 2 passed, 0 failed",
            "Two words: 2 passed, 0 failed",
            "2 passed, 0 failed in 0.1s",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
