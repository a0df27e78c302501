//! JUnit XML reports (pytest `--junitxml`, Vitest/Jest junit reporters, Maven Surefire, Gradle):
//! one verdict per `<testcase>`, read with a real XML parser (`quick-xml`), so captured output
//! that happens to contain `</testcase>` or `<failure>` is text, not structure.
//!
//! A `<testcase>` fails when a direct child is `<failure>` or `<error>`, is skipped when a
//! direct child is `<skipped>`, and passes otherwise (Surefire's `<flakyFailure>` and
//! `<rerunFailure>` record earlier tries of a test that passed in the end). A document that is
//! not well-formed (a report cut off by a killed runner, say) is no report at all.

use crate::context::summary::TestSummary;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// What is known about the `<testcase>` being read.
struct Case {
    name: String,
    failed: bool,
    skipped: bool,
}

/// The verdicts in a JUnit XML report; `None` when the text is not one.
pub fn junit_summary(xml: &str) -> Option<TestSummary> {
    let mut reader = Reader::from_str(xml);
    let mut summary = TestSummary::new("junit");
    let mut saw_suite = false;
    // Element depth, and the depth of the open `<testcase>` (its children are one deeper).
    let mut depth = 0usize;
    let mut case: Option<(usize, Case)> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                depth += 1;
                saw_suite |= is_suite(&e);
                if is_named(&e, "testcase") && case.is_none() {
                    case = Some((depth, new_case(&e)));
                } else if let Some((at, c)) = case.as_mut()
                    && depth == *at + 1
                {
                    mark(c, &e);
                }
            }
            Event::Empty(e) => {
                saw_suite |= is_suite(&e);
                if is_named(&e, "testcase") && case.is_none() {
                    record(&mut summary, new_case(&e));
                } else if let Some((at, c)) = case.as_mut()
                    && depth == *at
                {
                    mark(c, &e);
                }
            }
            Event::End(_) => {
                if case.as_ref().is_some_and(|(at, _)| *at == depth)
                    && let Some((_, c)) = case.take()
                {
                    record(&mut summary, c);
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    // An unclosed element means the document was cut off.
    (saw_suite && depth == 0).then(|| summary.finish())
}

fn is_named(e: &BytesStart<'_>, name: &str) -> bool {
    e.local_name().into_inner() == name
}

fn is_suite(e: &BytesStart<'_>) -> bool {
    is_named(e, "testsuite") || is_named(e, "testsuites")
}

/// `classname.name`, from the attributes with their entities resolved.
fn new_case(e: &BytesStart<'_>) -> Case {
    let mut name = String::new();
    let mut class = String::new();
    for attr in e.attributes().flatten() {
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map(|v| v.into_owned())
            .unwrap_or_else(|_| attr.value.clone().into_owned());
        match attr.key.local_name().into_inner() {
            "name" => name = value,
            "classname" => class = value,
            _ => {}
        }
    }
    let name = if class.is_empty() {
        name
    } else {
        format!("{class}.{name}")
    };
    Case {
        name,
        failed: false,
        skipped: false,
    }
}

/// Notes a direct child of a `<testcase>`.
fn mark(case: &mut Case, child: &BytesStart<'_>) {
    match child.local_name().into_inner() {
        "failure" | "error" => case.failed = true,
        "skipped" => case.skipped = true,
        _ => {}
    }
}

fn record(summary: &mut TestSummary, case: Case) {
    if case.failed {
        summary.failed += 1;
        summary.add_failing(&case.name);
    } else if case.skipped {
        summary.skipped += 1;
        summary.add_skipping(&case.name);
    } else {
        summary.passed += 1;
        summary.add_passing(&case.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(s: &TestSummary) -> (u32, u32, u32, u32) {
        (s.ran, s.passed, s.failed, s.skipped)
    }

    #[test]
    fn verdicts() {
        let xml = r#"<?xml version="1.0"?><testsuites><testsuite name="s" tests="3"><testcase classname="t.T" name="a &amp; b"/><testcase classname="t.T" name="c"><failure message="x">boom</failure></testcase><testcase name="d"><skipped/></testcase></testsuite></testsuites>"#;
        let s = junit_summary(xml).unwrap();
        assert_eq!(counts(&s), (2, 1, 1, 1));
        assert_eq!(s.passing, vec!["t.T.a & b"]);
        assert_eq!(s.failing, vec!["t.T.c"]);
        assert_eq!(s.skipping, vec!["d"]);
        assert!(junit_summary("hello").is_none());
    }

    #[test]
    fn captured_output_holding_closing_tags_is_text() {
        // The regex reader ended the case at the `</testcase>` inside the CDATA and counted it
        // as passed.
        let xml = r#"<testsuite name="s"><testcase classname="m" name="prints_xml"><system-out><![CDATA[log: </testcase><testcase name="ghost">]]></system-out><failure message="assert">expected 1</failure></testcase></testsuite>"#;
        let s = junit_summary(xml).unwrap();
        assert_eq!(counts(&s), (1, 0, 1, 0));
        assert_eq!(s.failing, vec!["m.prints_xml"]);
        // The same with escaped text instead of CDATA, and a `<failure>` spelled in the output.
        let xml = r#"<testsuite><testcase name="t"><system-out>&lt;/testcase&gt; &lt;failure/&gt;</system-out></testcase><testcase name="u"><system-err>x</system-err><error type="E"/></testcase></testsuite>"#;
        let s = junit_summary(xml).unwrap();
        assert_eq!(s.passing, vec!["t"]);
        assert_eq!(s.failing, vec!["u"]);
    }

    #[test]
    fn shapes_the_regex_misread() {
        // Single quotes, attributes in any order, whitespace around `=`, numeric entities.
        let xml = "<testsuites>\n  <testsuite name='outer'>\n    <testsuite name='inner'>\n      <testcase name = 'it&#39;s &lt;ok&gt;' classname='pkg.A' time='0.1' />\n      <testcase time=\"0.2\" name=\"b\" classname=\"pkg.A\">\n        <skipped message=\"later\"></skipped>\n      </testcase>\n      <testcase name=\"c\" classname=\"pkg.A\"><error message=\"boom\">trace</error></testcase>\n    </testsuite>\n  </testsuite>\n</testsuites>\n";
        let s = junit_summary(xml).unwrap();
        assert_eq!(counts(&s), (2, 1, 1, 1));
        assert_eq!(s.passing, vec!["pkg.A.it's <ok>"]);
        assert_eq!(s.failing, vec!["pkg.A.c"]);
        assert_eq!(s.skipping, vec!["pkg.A.b"]);
    }

    #[test]
    fn failures_count_only_as_direct_children() {
        // A `<failure>` element nested in `<properties>` is not the verdict; Surefire's flaky
        // records are earlier tries of a test that passed.
        let xml = r#"<testsuite><testcase name="a"><properties><property name="x"><failure/></property></properties></testcase><testcase name="b"><flakyFailure message="first try"/></testcase></testsuite>"#;
        let s = junit_summary(xml).unwrap();
        assert_eq!(counts(&s), (2, 2, 0, 0));
    }

    #[test]
    fn truncated_or_foreign_documents_are_not_reports() {
        assert!(
            junit_summary(r#"<testsuite><testcase name="a"><failure>cut off"#).is_none(),
            "a report cut off mid-way"
        );
        assert!(junit_summary("<testsuite><testcase name='a'></testsuite>").is_none());
        assert!(junit_summary("<html><body>testsuite</body></html>").is_none());
        assert_eq!(junit_summary("<testsuites/>").unwrap().ran, 0);
    }
}
