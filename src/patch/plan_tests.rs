use super::*;
use crate::patch::parse::parse;

fn plan(original: &str, diff: &str) -> Result<PlannedFile, Rejection> {
    let p = parse(diff).unwrap();
    plan_hunks("f", original, &p.files[0].hunks, 0)
}

const TEN: &str = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";

#[test]
fn exact_and_offset_placement() {
    let got = plan(
        TEN,
        "--- a/f\n+++ b/f\n@@ -4,3 +4,3 @@\n 4\n-5\n+five\n 6\n",
    )
    .unwrap();
    assert_eq!(got.content, TEN.replace("5\n", "five\n"));
    assert_eq!(got.hunks[0].strategy, HunkStrategy::Exact);
    let got = plan(
        TEN,
        "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n 4\n-5\n+five\n 6\n",
    )
    .unwrap();
    assert_eq!(got.hunks[0].strategy, HunkStrategy::Offset { lines: 3 });
    assert_eq!(got.hunks[0].applied_line, Some(4));
}

#[test]
fn whitespace_and_crlf_drift() {
    let crlf = "a  \r\nb\r\nc\r\n";
    let got = plan(crlf, "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n").unwrap();
    assert_eq!(got.content, "a  \r\nB\r\nc\r\n");
    assert_eq!(
        got.hunks[0].strategy,
        HunkStrategy::WhitespaceTolerant { offset: 0 }
    );
}

#[test]
fn ambiguous_context_is_refused_unless_at_the_stated_line() {
    let text = "x\ny\nx\ny\n";
    let err = plan(text, "--- a/f\n+++ b/f\n@@ -9,2 +9,2 @@\n x\n-y\n+z\n").unwrap_err();
    assert_eq!(err.rule, Rule::AmbiguousContext);
    assert!(err.message.contains("lines 1, 3"), "{}", err.message);
    let ok = plan(text, "--- a/f\n+++ b/f\n@@ -3,2 +3,2 @@\n x\n-y\n+z\n").unwrap();
    assert_eq!(ok.content, "x\ny\nx\nz\n");
}

#[test]
fn already_applied_and_not_found_are_told_apart() {
    let err = plan(
        "a\nB\nc\n",
        "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n",
    )
    .unwrap_err();
    assert_eq!(err.rule, Rule::AlreadyApplied);
    assert!(err.message.contains("already applied"));
    let err = plan(TEN, "--- a/f\n+++ b/f\n@@ -5,3 +5,3 @@\n 5\n-X\n+Y\n 7\n").unwrap_err();
    assert_eq!(err.rule, Rule::ContextNotFound);
    assert!(
        err.message
            .contains("expects `X` but line 6 of the file is `6`"),
        "{}",
        err.message
    );
    assert!(
        err.nearest.iter().any(|l| l.line == 6 && l.text == "6"),
        "{:?}",
        err.nearest
    );
}

#[test]
fn final_newline_follows_the_markers() {
    let got = plan(
        "a\nb",
        "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n",
    )
    .unwrap();
    assert_eq!(got.content, "a\nc\n");
    let got = plan(
        "a\nb\n",
        "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n\\ No newline at end of file\n",
    )
    .unwrap();
    assert_eq!(got.content, "a\nc");
    // No marker at all: the file keeps its own missing final newline.
    let got = plan("a\nb", "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n").unwrap();
    assert_eq!(got.content, "a\nc");
}

#[test]
fn hunks_in_any_order_do_not_overlap() {
    let diff = "--- a/f\n+++ b/f\n@@ -8,3 +8,3 @@\n 8\n-9\n+nine\n 10\n@@ -1,3 +1,3 @@\n 1\n-2\n+two\n 3\n";
    let got = plan(TEN, diff).unwrap();
    assert_eq!(
        got.content,
        TEN.replace("2\n", "two\n").replace("\n9\n", "\nnine\n")
    );
}
