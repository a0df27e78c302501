//! The `Location` value every output parser produces.

use super::paths::PathMap;
use serde::Serialize;

/// A file position named by failure output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Workspace-relative with `/` separators when `in_workspace`; otherwise as printed.
    pub path: String,
    pub line: u32,
    pub column: Option<u32>,
    /// True for the project's own files; false for the toolchain, dependencies and anything
    /// outside the workspace (kept as hints, never edit targets).
    pub in_workspace: bool,
    /// Which parser found it (`rust`, `panic`, `python`, `pytest`, `go`, `node`, `tsc`, `gcc`,
    /// `javac`, `java`, `generic`).
    pub parser: &'static str,
    /// The diagnostic or exception reported at this position, when the format gives one.
    pub message: Option<String>,
    /// The import path of the package the file lives in, when the format names files by base
    /// name only (go test's `t.Errorf` lines); `build` resolves it against `go.mod`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

impl Location {
    /// Builds a location from a path as printed; `None` for pseudo-paths and line 0.
    pub(crate) fn new(
        map: &PathMap,
        raw_path: &str,
        line: u32,
        column: Option<u32>,
        parser: &'static str,
        message: Option<String>,
    ) -> Option<Location> {
        if line == 0 {
            return None;
        }
        let mapped = map.map(raw_path)?;
        Some(Location {
            path: mapped.path,
            line,
            column: column.filter(|c| *c > 0),
            in_workspace: mapped.in_workspace,
            parser,
            message: message
                .map(|m| clip(m.trim(), 400))
                .filter(|m| !m.is_empty()),
            package: None,
        })
    }
}

/// Cuts text to at most `max` bytes on a character boundary, marking the cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
