//! Jest: the `Tests: 2 failed, 1 skipped, 2 passed, 5 total` line (summed over the
//! `Tests:` lines of several runs), `● Suite › test` failure headers, and the `✓`/`✕` result
//! lines Jest prints for a single test file or with `--verbose`, named like the headers.

use crate::context::pattern::{compile, num};
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

pub(crate) static TOTALS: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^Tests:\s+(.*\d+ total)\s*$"));
static COUNT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(\d+) (failed|passed|skipped|todo|pending|total)"));
static HEADER: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*● (.+?)\s*$"));
pub(crate) static RESULT: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^(\s*)([✓✕○√×]) (?:skipped |todo )?(.+?)(?: \(\d+(?:\.\d+)? ?m?s\))?\s*$")
});
static FILE: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*(PASS|FAIL) \S"));

pub(crate) fn parse(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("jest");
    let mut seen = false;
    // Enclosing `describe` titles of the verbose tree, by indentation.
    let mut groups: Vec<(usize, String)> = Vec::new();
    let mut in_tree = false;
    for line in text.lines() {
        if let Some(caps) = TOTALS.captures(line) {
            seen = true;
            for count in COUNT.captures_iter(&caps[1]) {
                let n = num(&count[1]).unwrap_or(0);
                match &count[2] {
                    "failed" => summary.failed += n,
                    "passed" => summary.passed += n,
                    "skipped" | "todo" | "pending" => summary.skipped += n,
                    _ => {}
                }
            }
            continue;
        }
        if FILE.is_match(line) {
            in_tree = true;
            groups.clear();
            continue;
        }
        if let Some(caps) = HEADER.captures(line) {
            in_tree = false;
            let name = &caps[1];
            if name != "Test suite failed to run" {
                summary.add_failing(name);
            }
            continue;
        }
        if !in_tree {
            continue;
        }
        if line.trim().is_empty() {
            in_tree = false;
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        groups.retain(|(depth, _)| *depth < indent);
        if let Some(caps) = RESULT.captures(line) {
            let mut parts: Vec<&str> = groups.iter().map(|(_, g)| g.as_str()).collect();
            parts.push(&caps[3]);
            let name = parts.join(" › ");
            match &caps[2] {
                "✓" | "√" => summary.add_passing(&name),
                "✕" | "×" => summary.add_failing(&name),
                _ => summary.add_skipping(&name),
            }
        } else {
            groups.push((indent, line.trim().to_string()));
        }
    }
    seen.then(|| summary.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_names_match_headers() {
        let out = "FAIL __tests__/a.test.js\n  outer\n    inner\n      ✕ breaks (4 ms)\n    ✓ works\n  ○ skipped later\n\n  ● outer › inner › breaks\n\nTests:       1 failed, 1 skipped, 1 passed, 3 total\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (2, 1, 1, 1));
        assert_eq!(s.failing, vec!["outer › inner › breaks"]);
        assert_eq!(s.passing, vec!["outer › works"]);
    }
}
