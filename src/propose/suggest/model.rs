//! The value every suggestion parser produces: where a diagnostic points, what it proposes to
//! write there, and which diagnostic said so.

use serde::Serialize;

/// One change a tool proposed, with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// Which parser read it: `rustc`, `cargo_json`, `python`, `typescript`.
    pub source: &'static str,
    /// Which rule of that parser matched (e.g. `similar_name`, `import`, `snippet`).
    pub rule: &'static str,
    /// The diagnostic as printed (its headline), for the record.
    pub diagnostic: String,
    /// The file as printed by the tool; `edit` maps it into the sandbox.
    pub path: String,
    /// The parts of one suggestion, applied together or not at all.
    pub edits: Vec<Edit>,
    /// Where a tool offers alternatives for one spot ("one of these items"), they share a
    /// `group` and count up in `alternative` from 0, the tool's first choice.
    pub group: u32,
    pub alternative: u32,
}

/// How a suggestion changes its file. Lines and columns are 1-based; every edit states what
/// it expects to find, and is dropped when the file says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Edit {
    /// Replace the lines `old` starting at `line` with `new`; an empty `old` inserts `new`
    /// before `line`.
    Lines {
        line: u32,
        old: Vec<String>,
        new: Vec<String>,
    },
    /// Replace line `line`, which must start with `prefix` and end with `suffix`, with `new`
    /// (rustc's snippets marked with `~`, where only the marked middle changes).
    Affix {
        line: u32,
        prefix: String,
        suffix: String,
        new: String,
    },
    /// Replace the identifier `old` on `line` (at `column` when known, else its only
    /// occurrence there) with `new`; with `whole_file`, every occurrence of the identifier in
    /// the file (an import renames the name for the whole module). Columns count characters
    /// from 1; with `after_indent` they count from the line's first non-blank character
    /// (Python's tracebacks print lines dedented).
    Token {
        line: u32,
        column: Option<u32>,
        after_indent: bool,
        old: String,
        new: String,
        whole_file: bool,
    },
    /// Like `Token`, for an interpreter that named the unknown identifier but printed no
    /// suggestion (Python before 3.12 inside unittest/pytest): the replacement is the file's
    /// identifier nearest to `old` by CPython's own suggestion rule (`traceback.py`'s
    /// weighted Levenshtein distance and cut-off), so pp suggests what a newer Python would.
    NearestName {
        line: u32,
        column: Option<u32>,
        after_indent: bool,
        old: String,
    },
    /// Replace the bytes `start..end` of the file, which must read `expect` when given.
    Bytes {
        start: usize,
        end: usize,
        expect: Option<String>,
        new: String,
    },
}

/// Compiles a pattern written as a literal in this module tree. Every pattern is a constant
/// the unit tests exercise, so a failure is a programming error `cargo test` catches.
#[expect(
    clippy::expect_used,
    reason = "patterns are literals covered by unit tests"
)]
pub(super) fn pattern(text: &str) -> regex::Regex {
    regex::Regex::new(text).expect("literal pattern compiles")
}
