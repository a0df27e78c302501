//! The parsed form of a patch: files, hunks and lines. Parsing lives in `parse.rs`, rendering
//! back to unified diff text in `render.rs`.

use serde::Serialize;

/// A parsed patch: one entry per file header, in the order written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patch {
    /// The file entries.
    pub files: Vec<FilePatch>,
}

/// What a file entry does to the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOp {
    /// Change an existing file in place (hunks and/or a mode change).
    Modify,
    /// Create a file that does not exist.
    Create,
    /// Delete an existing file.
    Delete,
    /// Move a file, optionally changing it.
    Rename,
    /// Copy a file, optionally changing the copy.
    Copy,
}

/// One file's part of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// The operation.
    pub op: FileOp,
    /// Source path (prefix stripped); `None` for `Create`.
    pub old_path: Option<String>,
    /// Target path (prefix stripped); `None` for `Delete`.
    pub new_path: Option<String>,
    /// Mode before, from `old mode` / `deleted file mode` (octal, e.g. `0o100644`).
    pub old_mode: Option<u32>,
    /// Mode after, from `new mode` / `new file mode`.
    pub new_mode: Option<u32>,
    /// `GIT binary patch` or `Binary files ... differ`.
    pub binary: bool,
    /// The hunks, in order.
    pub hunks: Vec<Hunk>,
    /// 1-based reply line of the file header.
    pub line: usize,
}

impl FilePatch {
    /// The path this entry leaves behind (the new path, or the old one for a deletion).
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("")
    }

    /// Every path this entry reads or writes, old first.
    pub fn paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some(p) = self.old_path.as_deref() {
            out.push(p);
        }
        if let Some(p) = self.new_path.as_deref()
            && Some(p) != self.old_path.as_deref()
        {
            out.push(p);
        }
        out
    }
}

/// One line of a hunk body, without its terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    /// ` text`: present before and after.
    Context(String),
    /// `-text`: removed.
    Delete(String),
    /// `+text`: added.
    Insert(String),
}

impl HunkLine {
    /// The line's text.
    pub fn text(&self) -> &str {
        match self {
            HunkLine::Context(t) | HunkLine::Delete(t) | HunkLine::Insert(t) => t,
        }
    }
}

/// One `@@` hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// Stated first old line (1-based; for an empty old side, the line before the insertion).
    pub old_start: usize,
    /// Stated first new line.
    pub new_start: usize,
    /// Text after the closing `@@` (often a function name).
    pub section: String,
    /// The body.
    pub lines: Vec<HunkLine>,
    /// `\ No newline at end of file` after the old side's last line.
    pub old_missing_newline: bool,
    /// `\ No newline at end of file` after the new side's last line.
    pub new_missing_newline: bool,
    /// 1-based reply line of the `@@` header.
    pub line: usize,
}

impl Hunk {
    /// The old side: context and deleted lines.
    pub fn old_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| !matches!(l, HunkLine::Insert(_)))
            .map(HunkLine::text)
            .collect()
    }

    /// The new side: context and inserted lines.
    pub fn new_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| !matches!(l, HunkLine::Delete(_)))
            .map(HunkLine::text)
            .collect()
    }

    /// Number of old-side lines (recounted from the body, never trusted from the header).
    pub fn old_len(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| !matches!(l, HunkLine::Insert(_)))
            .count()
    }

    /// Number of new-side lines.
    pub fn new_len(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| !matches!(l, HunkLine::Delete(_)))
            .count()
    }

    /// 0-based index of the first old line (or of the insertion point for an empty old side).
    pub fn old_index(&self) -> usize {
        if self.old_len() == 0 {
            self.old_start
        } else {
            self.old_start.saturating_sub(1)
        }
    }

    /// The canonical `@@ -a,b +c,d @@ section` header, with recounted lengths.
    pub fn header(&self) -> String {
        let section = if self.section.is_empty() {
            String::new()
        } else {
            format!(" {}", self.section)
        };
        format!(
            "@@ -{} +{} @@{section}",
            range(self.old_start, self.old_len()),
            range(self.new_start, self.new_len())
        )
    }
}

fn range(start: usize, len: usize) -> String {
    if len == 1 {
        start.to_string()
    } else {
        format!("{start},{len}")
    }
}

/// Mode of a symbolic link in git diffs.
pub const MODE_SYMLINK: u32 = 0o120000;
/// Mode of a submodule (gitlink) in git diffs.
pub const MODE_GITLINK: u32 = 0o160000;
/// Mode of a regular file.
pub const MODE_FILE: u32 = 0o100644;
/// Mode of an executable file.
pub const MODE_EXEC: u32 = 0o100755;
