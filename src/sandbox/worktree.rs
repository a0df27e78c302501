//! The `git_worktree` backend: a detached worktree of HEAD, plus the user's uncommitted changes
//! and untracked files, so the sandbox holds exactly what the user has. Git records the worktree
//! under `.git/worktrees/` until the session removes it.

use std::path::Path;
use std::process::Command;

use super::SandboxError;

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, SandboxError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
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

pub fn create(workspace: &Path, root: &Path) -> Result<(), SandboxError> {
    let root_s = root.to_string_lossy();
    git(
        workspace,
        &["worktree", "add", "--detach", "--quiet", &root_s, "HEAD"],
    )?;
    let dirty = git(workspace, &["diff", "HEAD", "--binary"])?;
    if !dirty.is_empty() {
        let patch = root.with_extension("dirty.patch");
        std::fs::write(&patch, &dirty).map_err(|source| SandboxError::Copy {
            path: patch.clone(),
            source,
        })?;
        git(
            root,
            &[
                "apply",
                "--binary",
                "--whitespace=nowarn",
                &patch.to_string_lossy(),
            ],
        )?;
        let _ = std::fs::remove_file(&patch);
    }
    let untracked = git(
        workspace,
        &["ls-files", "--others", "--exclude-standard", "-z"],
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
        std::fs::copy(&src, &dst).map_err(|source| SandboxError::Copy { path: src, source })?;
    }
    Ok(())
}

pub fn remove(workspace: &Path, root: &Path) -> Result<(), SandboxError> {
    let r = git(
        workspace,
        &["worktree", "remove", "--force", &root.to_string_lossy()],
    );
    let _ = git(workspace, &["worktree", "prune"]);
    r.map(|_| ())
}
