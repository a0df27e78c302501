//! `go test`: `--- PASS/FAIL/SKIP: Name` lines (all of them with `-v`, failures only without),
//! package lines (`ok pkg 0.01s`, `FAIL pkg 0.01s`, `FAIL pkg [build failed]`), and `go test
//! -json` events. A package line needs go's own shape, timing or bracketed reason included: a
//! lone `FAIL` word, which any script may print, is not go test.

use crate::context::pattern::compile;
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

pub(crate) static RESULT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+) \("));
/// Shared with `progress`, where a package line closes a run.
pub(crate) static PACKAGE: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^(?:ok|FAIL|\?)\s+\S+(?:\s+(?:\d+(?:\.\d+)?s|\(cached\)|\[no test files\])|\s+\[(?:build|setup) failed\])(?:\s|$)",
    )
});
static RUN: LazyLock<Regex> = LazyLock::new(|| compile(r"^=== RUN\s"));
pub(crate) static JSON: LazyLock<Regex> =
    LazyLock::new(|| compile(r#"^\{.*"Action":"(pass|fail|skip)".*"Test":"([^"]+)""#));

pub(crate) fn parse(text: &str) -> Option<TestSummary> {
    let mut summary = TestSummary::new("gotest");
    let mut seen = false;
    let mut verbose = false;
    for line in text.lines() {
        let (verdict, name) = if let Some(caps) = RESULT.captures(line) {
            (caps[1].to_ascii_lowercase(), caps[2].to_string())
        } else if let Some(caps) = JSON.captures(line) {
            verbose = true;
            (caps[1].to_string(), caps[2].to_string())
        } else {
            seen |= PACKAGE.is_match(line);
            verbose |= RUN.is_match(line);
            continue;
        };
        seen = true;
        match verdict.as_str() {
            "pass" => {
                summary.passed += 1;
                summary.add_passing(&name);
            }
            "fail" => {
                summary.failed += 1;
                summary.add_failing(&name);
            }
            _ => {
                summary.skipped += 1;
                summary.add_skipping(&name);
            }
        }
    }
    // Without -v a passing test prints nothing, so the counts are only a lower bound.
    summary.counts_exact = verbose;
    seen.then(|| summary.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_and_plain() {
        let out = "=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n    b_test.go:9: nope\n--- FAIL: TestB (0.00s)\nFAIL\nFAIL\texample.com/m\t0.002s\n";
        let s = parse(out).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.counts_exact), (2, 1, 1, true));
        let plain = parse("ok  \texample.com/m\t0.002s\n").unwrap();
        assert_eq!((plain.ran, plain.counts_exact), (0, false));
        let json = parse("{\"Time\":\"x\",\"Action\":\"fail\",\"Package\":\"m\",\"Test\":\"TestB\",\"Elapsed\":0}\n").unwrap();
        assert_eq!(json.failing, vec!["TestB"]);
        let build =
            parse("# m\n./a_test.go:9:7: undefined: X\nFAIL\tm [build failed]\nFAIL\n").unwrap();
        assert_eq!(build.ran, 0);
    }

    #[test]
    fn a_lone_fail_word_is_not_go_test() {
        // A POSIX shell suite's own report lines.
        let out = "FAIL max 4 9 -> 4 (calc.sh:7)\nok min 4 9 -> 4\nFAIL\n1 passed, 1 failed\n";
        assert!(parse(out).is_none());
    }
}
