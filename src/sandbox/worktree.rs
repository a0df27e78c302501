//! The `git_worktree` backend: a detached worktree of HEAD, plus the user's uncommitted changes
//! and untracked files, so the sandbox holds exactly what the user has. When the workspace is a
//! folder inside a larger repository, the sandbox root is that folder inside the worktree. Git
//! records the worktree under `.git/worktrees/` until the session removes it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::SandboxError;

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, SandboxError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        // The user's colour, pager and diff drivers must not change what pp reads.
        .args(["-c", "color.ui=false", "-c", "core.pager=cat"])
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .map_err(|e| SandboxError::Git {
            message: format!("could not run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(SandboxError::Git {
            message: format!(
                "`git {}` in {}: {}",
                args.join(" "),
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(out.stdout)
}

/// Creates a worktree at `top` and returns the sandbox root (the workspace's folder in it).
pub fn create(workspace: &Path, top: &Path) -> Result<PathBuf, SandboxError> {
    let prefix = String::from_utf8_lossy(&git(workspace, &["rev-parse", "--show-prefix"])?)
        .trim()
        .trim_end_matches('/')
        .to_owned();
    let top_s = top.to_string_lossy();
    git(
        workspace,
        &["worktree", "add", "--detach", "--quiet", &top_s, "HEAD"],
    )?;
    let root = if prefix.is_empty() {
        top.to_owned()
    } else {
        top.join(&prefix)
    };
    if let Err(e) = fill(workspace, top, &root) {
        // Never leave a half-made worktree registered in the user's repository.
        let _ = remove(workspace, top);
        return Err(e);
    }
    Ok(root)
}

fn fill(workspace: &Path, top: &Path, root: &Path) -> Result<(), SandboxError> {
    // The diff is taken at the repository top (git diff paths are top-relative), limited to
    // the workspace folder.
    let dirty = git(
        workspace,
        &[
            "diff",
            "HEAD",
            "--binary",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--",
            ".",
        ],
    )?;
    if !dirty.is_empty() {
        let patch = top.with_extension("dirty.patch");
        std::fs::write(&patch, &dirty).map_err(|source| SandboxError::Copy {
            path: patch.clone(),
            source,
        })?;
        let applied = git(
            top,
            &[
                "apply",
                "--binary",
                "--whitespace=nowarn",
                &patch.to_string_lossy(),
            ],
        );
        let _ = std::fs::remove_file(&patch);
        applied?;
    }
    // Untracked files, relative to the workspace folder.
    let untracked = git(
        workspace,
        &[
            "ls-files",
            "--others",
            "--exclude-standard",
            "-z",
            "--",
            ".",
        ],
    )?;
    for rel in untracked.split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let rel = String::from_utf8_lossy(rel);
        if rel.starts_with(".pp-artifacts/") {
            continue;
        }
        let (src, dst) = (workspace.join(&*rel), root.join(&*rel));
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|source| SandboxError::Copy {
                path: parent.to_owned(),
                source,
            })?;
        }
        let meta = std::fs::symlink_metadata(&src).map_err(|source| SandboxError::Copy {
            path: src.clone(),
            source,
        })?;
        let copied = if meta.file_type().is_symlink() {
            std::fs::read_link(&src).and_then(|t| std::os::unix::fs::symlink(t, &dst))
        } else {
            std::fs::copy(&src, &dst).map(|_| ())
        };
        copied.map_err(|source| SandboxError::Copy { path: src, source })?;
    }
    Ok(())
}

pub fn remove(workspace: &Path, top: &Path) -> Result<(), SandboxError> {
    let r = git(
        workspace,
        &["worktree", "remove", "--force", &top.to_string_lossy()],
    );
    let _ = git(workspace, &["worktree", "prune"]);
    r.map(|_| ())
}
