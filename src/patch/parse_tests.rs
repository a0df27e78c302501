use super::*;
use crate::patch::render::render;

fn one(text: &str) -> FilePatch {
    let p = parse(text).unwrap();
    assert_eq!(p.files.len(), 1, "{p:?}");
    p.files.into_iter().next().unwrap()
}

#[test]
fn git_diff_with_prefixes() {
    let fp = one(
        "diff --git a/src/x.rs b/src/x.rs\nindex 1..2 100644\n--- a/src/x.rs\n+++ b/src/x.rs\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n",
    );
    assert_eq!(fp.op, FileOp::Modify);
    assert_eq!(fp.path(), "src/x.rs");
    assert_eq!(fp.hunks[0].lines.len(), 3);
}

#[test]
fn plain_diff_without_prefixes_and_with_timestamps() {
    let fp = one(
        "--- src/x.rs\t2024-01-01 00:00:00\n+++ src/x.rs\t2024-01-02 00:00:00\n@@ -1 +1 @@\n-b\n+c\n",
    );
    assert_eq!(fp.path(), "src/x.rs");
    let fp = one("--- ./src/x.rs\n+++ ./src/x.rs\n@@ -1 +1 @@\n-b\n+c\n");
    assert_eq!(fp.path(), "src/x.rs");
}

#[test]
fn new_deleted_renamed_and_mode_only_entries() {
    let p = parse(concat!(
        "diff --git a/n.txt b/n.txt\nnew file mode 100755\n--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+hi\n",
        "diff --git a/d.txt b/d.txt\ndeleted file mode 100644\n--- a/d.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n",
        "diff --git a/old name.txt b/new name.txt\nsimilarity index 100%\nrename from old name.txt\nrename to new name.txt\n",
        "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n",
        "diff --git a/e.txt b/e.txt\nnew file mode 100644\n",
    ))
    .unwrap();
    let ops: Vec<FileOp> = p.files.iter().map(|f| f.op).collect();
    assert_eq!(
        ops,
        [
            FileOp::Create,
            FileOp::Delete,
            FileOp::Rename,
            FileOp::Modify,
            FileOp::Create
        ]
    );
    assert_eq!(p.files[0].new_mode, Some(0o100755));
    assert_eq!(p.files[2].old_path.as_deref(), Some("old name.txt"));
    assert_eq!(p.files[2].new_path.as_deref(), Some("new name.txt"));
    assert_eq!(p.files[3].new_mode, Some(0o100755));
    assert_eq!(p.files[4].path(), "e.txt");
}

#[test]
fn wrong_counts_are_recounted() {
    let fp = one("--- a/x\n+++ b/x\n@@ -1,9 +1,1 @@\n a\n-b\n+c\n d\n");
    assert_eq!(fp.hunks[0].old_len(), 3);
    assert_eq!(fp.hunks[0].new_len(), 3);
}

#[test]
fn blank_context_lines_without_their_space() {
    let fp = one("--- a/x\n+++ b/x\n@@ -1,4 +1,4 @@\n a\n\n-b\n+c\n\nProse after.\n");
    assert_eq!(fp.hunks[0].old_len(), 4, "{:?}", fp.hunks[0].lines);
    assert_eq!(fp.hunks[0].lines[1], HunkLine::Context(String::new()));
}

#[test]
fn no_newline_markers() {
    let fp = one("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n");
    assert!(fp.hunks[0].old_missing_newline);
    assert!(!fp.hunks[0].new_missing_newline);
}

#[test]
fn hunk_without_header_says_what_is_missing() {
    let err = parse("Try this:\n@@ -1 +1 @@\n-a\n+b\n").unwrap_err();
    assert_eq!(err.rule, Rule::MissingFileHeader);
    assert_eq!(err.diff_line, Some(2));
    assert!(err.message.contains("line 2"), "{}", err.message);
    assert!(err.message.contains("--- a/<path>"), "{}", err.message);
}

#[test]
fn errors_name_the_reply_line() {
    let err = parse("intro\n\n--- a/x\n+++ b/x\n@@ -1,x +1 @@\n-a\n").unwrap_err();
    assert_eq!(err.rule, Rule::MalformedDiff);
    assert_eq!(err.diff_line, Some(5));
    let err = parse("--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\nb\n c\n").unwrap_err();
    assert_eq!(err.diff_line, Some(5), "{}", err.message);
    assert!(err.message.contains("prefix"));
    assert_eq!(parse("just prose\n").unwrap_err().rule, Rule::NoDiff);
}

#[test]
fn binary_patches_are_marked() {
    let p = parse("diff --git a/i.png b/i.png\nindex 1..2\nGIT binary patch\nliteral 5\nabcde\n\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n").unwrap();
    assert!(p.files[0].binary);
    assert_eq!(p.files[1].path(), "x");
}

#[test]
fn quoted_names_are_unquoted() {
    let fp = one(
        "diff --git \"a/t\\303\\251st.txt\" \"b/t\\303\\251st.txt\"\n--- \"a/t\\303\\251st.txt\"\n+++ \"b/t\\303\\251st.txt\"\n@@ -1 +1 @@\n-a\n+b\n",
    );
    assert_eq!(fp.path(), "tést.txt");
}

#[test]
fn render_then_parse_is_stable() {
    let text = "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1,2 +1,2 @@ fn x\n x\n-y\n+z\n\\ No newline at end of file\n";
    let p = parse(text).unwrap();
    let rendered = render(&p);
    assert_eq!(rendered, text);
    assert_eq!(parse(&rendered).unwrap(), p);
}

/// Found by the fuzzer: a no-newline marker in the middle of a side was accepted, and the
/// rendering then lost a later marker, so `final.patch` would not re-parse to itself.
#[test]
fn no_newline_marker_must_end_its_side() {
    let text = "--- /dev/null\n+++ b/hello.txt\n@@ -0,0 +1,2 @@\n+hello\n\\ No newline at end of file\n+more\n";
    let err = parse(text).unwrap_err();
    assert!(
        err.feedback().contains("No newline at end of file"),
        "{}",
        err.feedback()
    );
    let ok = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n\\ No newline at end of file\n+new\n\\ No newline at end of file\n";
    let p = parse(ok).unwrap();
    let rendered = crate::patch::render(&p);
    assert_eq!(crate::patch::render(&parse(&rendered).unwrap()), rendered);
}
