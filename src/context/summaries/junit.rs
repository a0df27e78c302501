//! JUnit XML reports (pytest `--junitxml`, Vitest/Jest junit reporters, Maven Surefire, Gradle):
//! one verdict per `<testcase>`, read with a tolerant scan rather than a full XML parser.

use crate::context::pattern::compile;
use crate::context::summary::TestSummary;
use regex::Regex;
use std::sync::LazyLock;

static CASE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?s)<testcase\b([^>]*?)(?:/>|>(.*?)</testcase>)"));
static NAME: LazyLock<Regex> = LazyLock::new(|| compile(r#"\bname\s*=\s*"([^"]*)""#));
static CLASS: LazyLock<Regex> = LazyLock::new(|| compile(r#"\bclassname\s*=\s*"([^"]*)""#));
static FAILURE: LazyLock<Regex> = LazyLock::new(|| compile(r"<(?:failure|error)\b"));
static SKIPPED: LazyLock<Regex> = LazyLock::new(|| compile(r"<skipped\b"));
static SUITE: LazyLock<Regex> = LazyLock::new(|| compile(r"<testsuites?\b"));

/// The verdicts in a JUnit XML report; `None` when the text is not one.
pub fn junit_summary(xml: &str) -> Option<TestSummary> {
    if !SUITE.is_match(xml) {
        return None;
    }
    let mut summary = TestSummary::new("junit");
    for caps in CASE.captures_iter(xml) {
        let attrs = &caps[1];
        let body = caps.get(2).map_or("", |b| b.as_str());
        let name = NAME
            .captures(attrs)
            .map(|c| unescape(&c[1]))
            .unwrap_or_default();
        let name = match CLASS.captures(attrs) {
            Some(class) if !class[1].is_empty() => format!("{}.{name}", unescape(&class[1])),
            _ => name,
        };
        if FAILURE.is_match(body) {
            summary.failed += 1;
            summary.add_failing(&name);
        } else if SKIPPED.is_match(body) {
            summary.skipped += 1;
        } else {
            summary.passed += 1;
            summary.add_passing(&name);
        }
    }
    Some(summary.finish())
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let xml = r#"<?xml version="1.0"?><testsuites><testsuite name="s" tests="3"><testcase classname="t.T" name="a &amp; b"/><testcase classname="t.T" name="c"><failure message="x">boom</failure></testcase><testcase name="d"><skipped/></testcase></testsuite></testsuites>"#;
        let s = junit_summary(xml).unwrap();
        assert_eq!((s.ran, s.passed, s.failed, s.skipped), (2, 1, 1, 1));
        assert_eq!(s.passing, vec!["t.T.a & b"]);
        assert_eq!(s.failing, vec!["t.T.c"]);
        assert!(junit_summary("hello").is_none());
    }
}
