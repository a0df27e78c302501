//! Maps the paths that appear in tool output to workspace-relative ones, and decides which of
//! them are the project's own files (edit targets) rather than dependencies or the toolchain.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// The places a failing command may have seen the workspace under.
///
/// Output from a run names files relative to the command's working directory (the workspace
/// root), or absolutely under the user's workspace, the sandbox copy, or the container's
/// mount point. All of these name the same tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathMap {
    pub workspace: PathBuf,
    pub sandbox: PathBuf,
    pub container_workdir: Option<PathBuf>,
}

/// A path from the output, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedPath {
    /// Workspace-relative with `/` separators when inside the workspace; otherwise the path as
    /// printed (absolute, or relative with leading `..`).
    pub path: String,
    /// True when the file belongs to the project: inside the workspace and not in a dependency,
    /// virtualenv or build-output folder.
    pub in_workspace: bool,
}

/// Folder names whose contents are third-party or generated even when they sit inside the
/// workspace; frames there are hints, never edit targets.
const FOREIGN_DIRS: &[&str] = &[
    "node_modules",
    "site-packages",
    "dist-packages",
    "__pypackages__",
    ".venv",
    ".tox",
    ".nox",
    ".cargo",
    ".git",
    "vendor",
    ".pp-artifacts",
];

impl PathMap {
    /// A map whose three roots are the same directory (handy for local runs and tests).
    pub fn local(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        PathMap {
            workspace: root.clone(),
            sandbox: root,
            container_workdir: None,
        }
    }

    /// Resolves a path as printed by a tool. Returns `None` for pseudo-paths such as
    /// `<frozen importlib._bootstrap>` or `node:internal/…` that name no file.
    pub fn map(&self, raw: &str) -> Option<MappedPath> {
        let raw = raw.trim();
        let raw = raw.strip_prefix("file://").unwrap_or(raw);
        if raw.is_empty()
            || raw.starts_with('<')
            || raw.starts_with("node:")
            || raw.starts_with("internal/")
        {
            return None;
        }
        if raw.starts_with('/') {
            let mut roots: Vec<&Path> = vec![&self.workspace, &self.sandbox];
            if let Some(workdir) = &self.container_workdir {
                roots.push(workdir);
            }
            // The longest root wins, so a sandbox nested in the workspace path maps correctly.
            roots.sort_by_key(|root| std::cmp::Reverse(root.as_os_str().len()));
            for root in roots {
                let root = root.to_string_lossy();
                let root = root.trim_end_matches('/');
                if root.is_empty() {
                    continue;
                }
                if let Some(rest) = raw.strip_prefix(root).and_then(|r| r.strip_prefix('/')) {
                    return Some(relative(rest, raw));
                }
            }
            return Some(MappedPath {
                path: normalize(raw).unwrap_or_else(|| raw.to_string()),
                in_workspace: false,
            });
        }
        Some(relative(raw, raw))
    }
}

fn relative(rel: &str, raw: &str) -> MappedPath {
    match normalize(rel) {
        Some(path) if !path.is_empty() => {
            let in_workspace = !is_foreign(&path);
            MappedPath { path, in_workspace }
        }
        _ => MappedPath {
            path: raw.to_string(),
            in_workspace: false,
        },
    }
}

/// Collapses `.` and `..`; `None` when the path climbs above its start.
fn normalize(path: &str) -> Option<String> {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    Some(if absolute {
        format!("/{joined}")
    } else {
        joined
    })
}

fn is_foreign(rel: &str) -> bool {
    let mut parts = rel.split('/');
    // `target/` at the top is cargo's build output (generated code, build scripts' OUT_DIR).
    if rel.starts_with("target/") {
        return true;
    }
    let is_venv_lib = rel.contains("/lib/python3") || rel.starts_with("lib/python3");
    is_venv_lib || parts.any(|part| FOREIGN_DIRS.contains(&part))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> PathMap {
        PathMap {
            workspace: "/home/dev/proj".into(),
            sandbox: "/tmp/pp-sbx-1/ws".into(),
            container_workdir: Some("/work".into()),
        }
    }

    fn mapped(raw: &str) -> (String, bool) {
        let m = map().map(raw).unwrap();
        (m.path, m.in_workspace)
    }

    #[test]
    fn maps_every_root_to_relative() {
        assert_eq!(mapped("/home/dev/proj/src/a.rs"), ("src/a.rs".into(), true));
        assert_eq!(
            mapped("/tmp/pp-sbx-1/ws/src/a.rs"),
            ("src/a.rs".into(), true)
        );
        assert_eq!(mapped("/work/src/a.rs"), ("src/a.rs".into(), true));
        assert_eq!(mapped("file:///work/lib/x.js"), ("lib/x.js".into(), true));
        assert_eq!(mapped("./src/./b/../a.rs"), ("src/a.rs".into(), true));
    }

    #[test]
    fn root_prefix_must_end_at_a_separator() {
        assert_eq!(
            mapped("/home/dev/project2/a.rs"),
            ("/home/dev/project2/a.rs".into(), false)
        );
    }

    #[test]
    fn outside_or_foreign_paths_are_hints() {
        assert!(!mapped("/usr/lib/python3.11/unittest/case.py").1);
        assert!(!mapped("../other/a.py").1);
        assert!(!mapped(".venv/lib/python3.11/site-packages/x.py").1);
        assert!(!mapped("node_modules/jest/x.js").1);
        assert!(!mapped("target/debug/build/x/out/gen.rs").1);
        assert!(map().map("<frozen importlib._bootstrap>").is_none());
        assert!(map().map("node:internal/modules/cjs/loader").is_none());
    }
}
