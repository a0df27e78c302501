//! The record of how a patch applied, per file and hunk: which strategy matched where. The lead
//! serializes it as `attempts/<n>/apply.json`; `FORMAT_VERSION` changes only on purpose.

use serde::Serialize;

use super::model::FileOp;

/// Version of the `apply.json` format.
pub const FORMAT_VERSION: u32 = 1;

/// How a hunk was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HunkStrategy {
    /// `git apply --recount` applied the whole patch.
    Git,
    /// Matched exactly at the stated line.
    Exact,
    /// Matched exactly, `lines` away from the stated line.
    Offset {
        /// Found line minus stated line.
        lines: i64,
    },
    /// Matched only when trailing whitespace is ignored.
    WhitespaceTolerant {
        /// Found line minus stated line.
        offset: i64,
    },
}

/// One hunk's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HunkReport {
    /// Patch-wide hunk id (the id `minimize::hunks` uses).
    pub id: usize,
    /// 1-based index within the file.
    pub index: usize,
    /// The canonical `@@` header.
    pub header: String,
    /// The old start line the hunk stated.
    pub stated_line: usize,
    /// The 1-based old line where it was placed, when the built-in planner placed it.
    pub applied_line: Option<usize>,
    /// How it matched.
    pub strategy: HunkStrategy,
}

/// One file entry's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The path the entry leaves behind.
    pub path: String,
    /// The source path of a rename or copy.
    pub old_path: Option<String>,
    /// What the entry did.
    pub op: FileOp,
    /// Its hunks.
    pub hunks: Vec<HunkReport>,
}

/// Which applier wrote the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applier {
    /// `git apply --recount` inside the sandbox root.
    Git,
    /// pp's own planner and writer.
    Builtin,
}

/// How a patch applied; serializable as `apply.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Which applier wrote the change.
    pub applier: Applier,
    /// Why `git apply --check` refused (or was skipped), when the built-in applier was used.
    pub git_refusal: Option<String>,
    /// Per file entry, in patch order.
    pub files: Vec<FileReport>,
}
