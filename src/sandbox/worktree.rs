//! The `git_worktree` backend: a detached worktree of HEAD, plus the user's uncommitted changes
//! and untracked files, so the sandbox holds exactly what the user has. When the workspace is a
//! folder inside a larger repository, the sandbox root is that folder inside the worktree. Git
//! records the worktree under `.git/worktrees/` until the session removes it.
//!
//! The repository may be hostile (`pp replay --cwd` on a checkout someone handed over): git
//! runs here with hooks and fsmonitor off and every filter driver the repository's own
//! configuration defines emptied, so checking out, diffing and applying run no program of it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::SandboxError;

/// `-c` settings that switch off every program a repository's configuration can make git run
/// for the commands used here: hooks, fsmonitor, and the filter drivers it defines.
fn neutral_settings(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = [
        "color.ui=false",
        "core.pager=cat",
        "core.hooksPath=/dev/null",
        "core.fsmonitor=false",
        "core.untrackedCache=false",
        "diff.external=",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let config = git2::Repository::discover(dir)
        .ok()
        .map(|r| r.commondir().join("config"))
        .and_then(|path| git2::Config::open(&path).ok());
    let mut names = std::collections::BTreeSet::new();
    if let Some(cfg) = config
        && let Ok(mut entries) = cfg.entries(Some("filter\\..*"))
    {
        while let Some(Ok(e)) = entries.next() {
            if let Some(name) = e
                .name()
                .ok()
                .and_then(|n| n.strip_prefix("filter."))
                .and_then(|n| n.rsplit_once('.'))
                .map(|(name, _)| name.to_owned())
            {
                names.insert(name);
            }
        }
    }
    for n in names {
        for key in ["clean", "smudge", "process"] {
            v.push(format!("filter.{n}.{key}="));
        }
        v.push(format!("filter.{n}.required=false"));
    }
    v.into_iter().flat_map(|s| ["-c".to_owned(), s]).collect()
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, SandboxError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        // The user's colour, pager and diff drivers must not change what pp reads, and the
        // repository's hooks, fsmonitor and filters must not run.
        .args(neutral_settings(dir))
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
