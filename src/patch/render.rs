//! Rendering a [`Patch`] back to canonical unified diff text in `diff --git a/x b/x` form, which
//! `git apply` accepts: recounted hunk headers, extended header lines, quoted names, and
//! `\ No newline at end of file` markers. Everything else reads the text `parse.rs` produced.

use std::fmt::Write as _;

use super::model::{FileOp, FilePatch, Hunk, HunkLine, MODE_FILE, Patch};

/// Renders the whole patch.
pub fn render(patch: &Patch) -> String {
    let mut out = String::new();
    for fp in &patch.files {
        render_file(&mut out, fp);
    }
    out
}

fn render_file(out: &mut String, fp: &FilePatch) {
    let old = fp.old_path.as_deref().unwrap_or_else(|| fp.path());
    let new = fp.new_path.as_deref().unwrap_or_else(|| fp.path());
    let _ = writeln!(out, "diff --git {} {}", quote("a/", old), quote("b/", new));
    match fp.op {
        FileOp::Create => {
            let _ = writeln!(out, "new file mode {:o}", fp.new_mode.unwrap_or(MODE_FILE));
        }
        FileOp::Delete => {
            let _ = writeln!(
                out,
                "deleted file mode {:o}",
                fp.old_mode.unwrap_or(MODE_FILE)
            );
        }
        FileOp::Modify | FileOp::Rename | FileOp::Copy => {
            if let (Some(o), Some(n)) = (fp.old_mode, fp.new_mode)
                && o != n
            {
                let _ = writeln!(out, "old mode {o:o}\nnew mode {n:o}");
            }
            let verb = match fp.op {
                FileOp::Rename => Some("rename"),
                FileOp::Copy => Some("copy"),
                _ => None,
            };
            if let Some(verb) = verb {
                let _ = writeln!(out, "{verb} from {}", quote("", old));
                let _ = writeln!(out, "{verb} to {}", quote("", new));
            }
        }
    }
    if fp.binary {
        // Kept so a re-parse still sees (and validation still refuses) a binary patch.
        let _ = writeln!(
            out,
            "Binary files {} and {} differ",
            quote("a/", old),
            quote("b/", new)
        );
    }
    if fp.hunks.is_empty() {
        return;
    }
    let minus = match fp.op {
        FileOp::Create => "/dev/null".to_owned(),
        _ => quote("a/", old),
    };
    let plus = match fp.op {
        FileOp::Delete => "/dev/null".to_owned(),
        _ => quote("b/", new),
    };
    // git appends a tab to names with spaces so the name's end is unambiguous.
    let tab = |name: &str| if name.contains(' ') { "\t" } else { "" };
    let _ = writeln!(out, "--- {minus}{}", tab(&minus));
    let _ = writeln!(out, "+++ {plus}{}", tab(&plus));
    for hunk in &fp.hunks {
        render_hunk(out, hunk);
    }
}

/// Renders one hunk with its recounted header.
pub fn render_hunk(out: &mut String, hunk: &Hunk) {
    let _ = writeln!(out, "{}", hunk.header());
    let last_old = hunk
        .lines
        .iter()
        .rposition(|l| !matches!(l, HunkLine::Insert(_)));
    let last_new = hunk
        .lines
        .iter()
        .rposition(|l| !matches!(l, HunkLine::Delete(_)));
    for (k, line) in hunk.lines.iter().enumerate() {
        let (prefix, text) = match line {
            HunkLine::Context(t) => (' ', t),
            HunkLine::Delete(t) => ('-', t),
            HunkLine::Insert(t) => ('+', t),
        };
        let _ = writeln!(out, "{prefix}{text}");
        let marker = (Some(k) == last_old && hunk.old_missing_newline)
            || (Some(k) == last_new && hunk.new_missing_newline);
        if marker {
            out.push_str("\\ No newline at end of file\n");
        }
    }
}

/// Quotes a name the way git does when it holds `"`, control or non-ASCII bytes.
fn quote(prefix: &str, name: &str) -> String {
    let needs = name
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b));
    if !needs {
        return format!("{prefix}{name}");
    }
    let mut out = String::from("\"");
    out.push_str(prefix);
    for b in name.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push('"');
    out
}
