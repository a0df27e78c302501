//! The applied change: every touched file's content before and after, so the candidate can be
//! undone exactly, listed, reported, and rendered as the canonical diff for `final.patch`.

use std::path::Path;

use super::model::{MODE_EXEC, MODE_FILE, Patch};
use super::render::render;
use super::report::ApplyReport;
use super::rewrite::diff_file;
use super::write::{self, Links};

/// One touched path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Workspace-relative path with `/`.
    pub path: String,
    /// Content before (`None` = did not exist).
    pub before: Option<String>,
    /// Content after (`None` = deleted).
    pub after: Option<String>,
    /// Permission bits before (Unix only).
    pub before_perms: Option<u32>,
    /// Permission bits after (Unix only).
    pub after_perms: Option<u32>,
}

impl FileChange {
    /// Whether the path really changed (content, existence or executable bit).
    pub fn changed(&self) -> bool {
        self.before != self.after
            || (self.before.is_some()
                && self.after.is_some()
                && git_mode(self.before_perms) != git_mode(self.after_perms))
    }
}

fn git_mode(perms: Option<u32>) -> Option<u32> {
    perms.map(|p| if p & 0o111 != 0 { MODE_EXEC } else { MODE_FILE })
}

/// A candidate applied to the sandbox.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    pub(crate) files: Vec<FileChange>,
    /// Directories the change created, shallowest first.
    pub(crate) created_dirs: Vec<String>,
    /// Directories the change emptied and removed, deepest first.
    pub(crate) removed_dirs: Vec<String>,
    pub(crate) report: ApplyReport,
}

impl ChangeSet {
    /// Restores every touched path to its content before the change, removes files and
    /// directories the change created, and recreates the ones it removed. Symbolic links found
    /// on the way (planted by code run since) are replaced, never written through.
    pub fn undo(&self, root: &Path) -> std::io::Result<()> {
        self.restore(root, false)
    }

    /// Undo; with `all`, also rewrites paths that look unchanged (when the after state is not
    /// known). Unchanged paths are otherwise left alone so their timestamps keep build caches warm.
    pub(crate) fn restore(&self, root: &Path, all: bool) -> std::io::Result<()> {
        for dir in self.removed_dirs.iter().rev() {
            write::make_dir(root, dir)?;
        }
        let mut scratch = Vec::new();
        for change in self.files.iter().rev().filter(|c| all || c.changed()) {
            match &change.before {
                Some(content) => write::write_file(
                    root,
                    &change.path,
                    content,
                    change.before_perms,
                    Links::Replace,
                    &mut scratch,
                )?,
                None => {
                    let target = root.join(&change.path);
                    if let Ok(m) = std::fs::symlink_metadata(&target)
                        && !m.is_dir()
                    {
                        std::fs::remove_file(&target)?;
                    }
                }
            }
        }
        for dir in self.created_dirs.iter().rev() {
            // A directory that build outputs filled since is left in place.
            let _ = std::fs::remove_dir(root.join(dir));
        }
        Ok(())
    }

    /// Paths that really changed, in patch order.
    pub fn changed_paths(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| f.changed())
            .map(|f| f.path.clone())
            .collect()
    }

    /// Every touched file with its before and after content.
    pub fn files(&self) -> &[FileChange] {
        &self.files
    }

    /// How the patch applied, for `apply.json`.
    pub fn report(&self) -> &ApplyReport {
        &self.report
    }

    /// The canonical unified diff of what was applied (`diff --git a/x b/x` form), computed from
    /// the before and after contents; renames appear as a deletion plus a creation.
    pub fn diff(&self) -> String {
        let files = self
            .files
            .iter()
            .filter(|f| f.changed())
            .filter_map(|f| {
                diff_file(
                    &f.path,
                    f.before.as_deref(),
                    f.after.as_deref(),
                    git_mode(f.before_perms),
                    git_mode(f.after_perms),
                )
            })
            .collect();
        render(&Patch { files })
    }
}
