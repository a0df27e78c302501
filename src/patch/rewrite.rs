//! Turning texts into diffs with `similar`: whole-file rewrites (`{path, content}`) from a
//! proposer, and the canonical diff of what a change set did. The result goes through the same
//! parse and validation as any diff; this file decides nothing about policy beyond path syntax.

use std::path::Path;

use similar::{ChangeTag, TextDiff};

use super::error::{Rejection, Rule};
use super::model::{FileOp, FilePatch, Hunk, HunkLine, Patch};
use super::render::render;
use super::validate::{Entry, check_path_syntax, lstat_walk};

/// Lines of unchanged context around each hunk.
const CONTEXT: usize = 3;

/// A proposer's reply body: a diff, or whole-file rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// Unified diff text, possibly fenced and wrapped in prose.
    Diff(String),
    /// Whole files to write.
    Rewrites(Vec<FileRewrite>),
}

/// One whole-file rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRewrite {
    /// Workspace-relative path with `/`.
    pub path: String,
    /// The complete new content.
    pub content: String,
}

/// The candidate diff text for a reply: a diff as sent, or rewrites turned into a diff against
/// the current files under `root` (read without following symbolic links).
pub fn candidate_diff(root: &Path, body: &ReplyBody) -> Result<String, Rejection> {
    let rewrites = match body {
        ReplyBody::Diff(text) => return Ok(text.clone()),
        ReplyBody::Rewrites(r) => r,
    };
    let mut patch = Patch::default();
    for (k, rw) in rewrites.iter().enumerate() {
        check_path_syntax(&rw.path)?;
        if rewrites[..k].iter().any(|o| o.path == rw.path) {
            return Err(Rejection::at_path(
                Rule::MalformedDiff,
                &rw.path,
                format!("the reply rewrites `{}` twice", rw.path),
            ));
        }
        let current = match lstat_walk(root, &rw.path)? {
            Entry::Missing => None,
            Entry::File => Some(read_text(root, &rw.path)?),
        };
        if let Some(fp) = diff_file(&rw.path, current.as_deref(), Some(&rw.content), None, None) {
            patch.files.push(fp);
        }
    }
    if patch.files.is_empty() {
        return Err(
            Rejection::new(Rule::EmptyPatch, "the rewrites change nothing")
                .with_hint("rewrite only files whose content must change"),
        );
    }
    Ok(render(&patch))
}

pub(crate) fn read_text(root: &Path, rel: &str) -> Result<String, Rejection> {
    let bytes = std::fs::read(root.join(rel))
        .map_err(|e| Rejection::at_path(Rule::Io, rel, format!("cannot read `{rel}`: {e}")))?;
    String::from_utf8(bytes).map_err(|_| {
        Rejection::at_path(
            Rule::NotText,
            rel,
            format!("`{rel}` is not UTF-8 text; pp patches text files only"),
        )
    })
}

/// The file entry turning `old` into `new` (`None` = absent), or `None` when nothing changes.
/// Modes are git modes (`0o100644`/`0o100755`).
pub fn diff_file(
    path: &str,
    old: Option<&str>,
    new: Option<&str>,
    old_mode: Option<u32>,
    new_mode: Option<u32>,
) -> Option<FilePatch> {
    let op = match (old, new) {
        (None, None) => return None,
        (None, Some(_)) => FileOp::Create,
        (Some(_), None) => FileOp::Delete,
        (Some(_), Some(_)) => FileOp::Modify,
    };
    let hunks = diff_hunks(old.unwrap_or(""), new.unwrap_or(""));
    let mode_change =
        op == FileOp::Modify && old_mode.is_some() && new_mode.is_some() && old_mode != new_mode;
    if op == FileOp::Modify && hunks.is_empty() && !mode_change {
        return None;
    }
    Some(FilePatch {
        op,
        old_path: old.map(|_| path.to_owned()),
        new_path: new.map(|_| path.to_owned()),
        old_mode: if op == FileOp::Create { None } else { old_mode },
        new_mode: if op == FileOp::Delete { None } else { new_mode },
        binary: false,
        hunks,
        line: 0,
    })
}

/// Hunks turning `old` into `new`, with 3 lines of context. Line text keeps a `\r` before the
/// `\n`, so CRLF files diff exactly as git shows them.
pub fn diff_hunks(old: &str, new: &str) -> Vec<Hunk> {
    let diff = TextDiff::from_lines(old, new);
    let mut hunks = Vec::new();
    for group in diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(_)) = (group.first(), group.last()) else {
            continue;
        };
        let mut hunk = Hunk {
            old_start: 0,
            new_start: 0,
            section: String::new(),
            lines: Vec::new(),
            old_missing_newline: false,
            new_missing_newline: false,
            line: 0,
        };
        for op in &group {
            for change in diff.iter_changes(op) {
                let value: &str = change.value();
                let missing = !value.ends_with('\n');
                let text = value.strip_suffix('\n').unwrap_or(value).to_owned();
                match change.tag() {
                    ChangeTag::Equal => {
                        if missing {
                            hunk.old_missing_newline = true;
                            hunk.new_missing_newline = true;
                        }
                        hunk.lines.push(HunkLine::Context(text));
                    }
                    ChangeTag::Delete => {
                        hunk.old_missing_newline |= missing;
                        hunk.lines.push(HunkLine::Delete(text));
                    }
                    ChangeTag::Insert => {
                        hunk.new_missing_newline |= missing;
                        hunk.lines.push(HunkLine::Insert(text));
                    }
                }
            }
        }
        let (o, n) = (first.old_range().start, first.new_range().start);
        hunk.old_start = if hunk.old_len() == 0 { o } else { o + 1 };
        hunk.new_start = if hunk.new_len() == 0 { n } else { n + 1 };
        hunks.push(hunk);
    }
    hunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::parse::parse;
    use crate::patch::plan::plan_hunks;

    fn roundtrip(old: &str, new: &str) -> String {
        let fp = diff_file("f.txt", Some(old), Some(new), None, None).unwrap();
        let text = render(&Patch { files: vec![fp] });
        let parsed = parse(&text).unwrap();
        plan_hunks("f.txt", old, &parsed.files[0].hunks, 0)
            .unwrap()
            .content
    }

    #[test]
    fn diff_then_plan_reproduces_the_new_text() {
        let cases = [
            ("a\nb\nc\n", "a\nB\nc\n"),
            ("a\nb", "a\nb\n"),
            ("a\nb\n", "a\nb"),
            ("a\nb", "a\nc"),
            ("", "x\n"),
            ("x\n", ""),
            (
                "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
                "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n",
            ),
        ];
        for (old, new) in cases {
            assert_eq!(roundtrip(old, new), new, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn rewrites_become_a_diff_against_the_current_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
        let body = ReplyBody::Rewrites(vec![
            FileRewrite {
                path: "a.txt".into(),
                content: "one\n2\n".into(),
            },
            FileRewrite {
                path: "new/b.txt".into(),
                content: "b\n".into(),
            },
        ]);
        let diff = candidate_diff(dir.path(), &body).unwrap();
        assert!(diff.contains("-two\n+2\n"), "{diff}");
        assert!(diff.contains("new file mode 100644"), "{diff}");
        assert!(diff.contains("+++ b/new/b.txt"), "{diff}");
    }

    #[cfg(unix)]
    #[test]
    fn rewrites_never_read_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, "token\n").unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(&secret, root.join("leak.txt")).unwrap();
        let body = ReplyBody::Rewrites(vec![FileRewrite {
            path: "leak.txt".into(),
            content: "x\n".into(),
        }]);
        let err = candidate_diff(&root, &body).unwrap_err();
        assert_eq!(err.rule, Rule::SymlinkInPath);
        assert!(!err.to_string().contains("token"));
    }

    #[test]
    fn rewrite_paths_are_checked_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let body = ReplyBody::Rewrites(vec![FileRewrite {
            path: "../etc/passwd".into(),
            content: String::new(),
        }]);
        assert_eq!(
            candidate_diff(dir.path(), &body).unwrap_err().rule,
            Rule::PathTraversal
        );
        let same = ReplyBody::Rewrites(vec![]);
        assert_eq!(
            candidate_diff(dir.path(), &same).unwrap_err().rule,
            Rule::EmptyPatch
        );
    }
}
