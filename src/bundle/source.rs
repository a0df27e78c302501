//! Source provenance through git2: commit, branch, remote (credentials stripped), dirty flag and
//! the uncommitted diff, limited to the workspace when it is a folder inside a larger repository.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceInfo {
    pub workspace: String,
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    pub git_remote_url: Option<String>,
    pub git_dirty: bool,
    /// sha256 of `source_git.diff` when the tree was dirty.
    pub dirty_diff_sha256: Option<String>,
    /// sha256 over the untracked (not ignored) files' paths and contents, when there are any:
    /// they are part of the source a proof ran on, and no diff records them.
    pub untracked_sha256: Option<String>,
    /// The workspace's path inside the repository (`""` at the top).
    pub git_subdir: Option<String>,
}

/// Removes `user:password@` from URLs; scp-style `git@host:path` has no secret and stays.
pub fn strip_credentials(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let host_start = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..host_start].rfind('@') {
            return format!("{}{}", &url[..scheme_end + 3], &rest[at + 1..]);
        }
    }
    url.to_owned()
}

fn open(workspace: &Path) -> Option<(git2::Repository, String)> {
    let repo = git2::Repository::discover(workspace).ok()?;
    let top = repo.workdir()?.canonicalize().ok()?;
    let ws = workspace.canonicalize().ok()?;
    let sub = ws
        .strip_prefix(&top)
        .ok()?
        .to_string_lossy()
        .replace('\\', "/");
    Some((repo, sub))
}

/// What [`source`] reads of the workspace: the record, and the uncommitted diff it hashed.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub info: SourceInfo,
    /// The uncommitted changes to tracked files (`source_git.diff`); `None` when there are none.
    pub dirty_diff: Option<String>,
}

/// Reads the workspace's git metadata; a workspace outside git yields the empty record.
pub fn source_info(workspace: &Path) -> SourceInfo {
    source(workspace).info
}

/// Reads the workspace's git metadata and its uncommitted diff, in one pass over the tree.
/// The diff (a second full walk) is computed only when git status shows a tracked file changed.
pub fn source(workspace: &Path) -> Source {
    let mut info = SourceInfo {
        workspace: workspace.display().to_string(),
        ..SourceInfo::default()
    };
    let Some((repo, sub)) = open(workspace) else {
        return Source {
            info,
            dirty_diff: None,
        };
    };
    info.git_subdir = Some(sub.clone());
    if let Ok(head) = repo.head() {
        info.git_commit = head.peel_to_commit().ok().map(|c| c.id().to_string());
        if head.is_branch() {
            info.git_branch = head.shorthand().ok().map(str::to_owned);
        }
    }
    info.git_remote_url = repo
        .find_remote("origin")
        .ok()
        .and_then(|r| r.url().ok().map(strip_credentials));
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    if !sub.is_empty() {
        opts.pathspec(&sub);
    }
    let mut tracked_change = false;
    if let Ok(statuses) = repo.statuses(Some(&mut opts)) {
        let relevant = |p: &str| {
            let inner = p.strip_prefix(&sub).unwrap_or(p).trim_start_matches('/');
            !inner.starts_with(".pp-artifacts")
        };
        info.git_dirty = statuses.iter().any(|s| s.path().is_ok_and(relevant));
        // An untracked file alone is WT_NEW; anything else changes the diff against HEAD.
        tracked_change = statuses
            .iter()
            .any(|s| s.status() != git2::Status::WT_NEW && s.path().is_ok_and(relevant));
        let mut untracked: Vec<String> = statuses
            .iter()
            .filter(|s| s.status().contains(git2::Status::WT_NEW))
            .filter_map(|s| s.path().ok().filter(|p| relevant(p)).map(str::to_owned))
            .collect();
        untracked.sort();
        if let (false, Some(top)) = (untracked.is_empty(), repo.workdir()) {
            let mut listing = String::new();
            for p in &untracked {
                let digest = crate::digest::sha256_file(&top.join(p)).unwrap_or_default();
                listing.push_str(&format!("{p}\0{digest}\n"));
            }
            info.untracked_sha256 = Some(crate::digest::sha256_hex(listing.as_bytes()));
        }
    }
    let dirty_diff = tracked_change
        .then(|| diff_against_head(&repo, &sub))
        .flatten()
        .filter(|d| !d.is_empty());
    info.dirty_diff_sha256 = dirty_diff
        .as_ref()
        .map(|d| crate::digest::sha256_hex(d.as_bytes()));
    Source { info, dirty_diff }
}

/// The uncommitted changes to tracked files under `sub`, as a patch against HEAD.
fn diff_against_head(repo: &git2::Repository, sub: &str) -> Option<String> {
    let tree = repo.head().ok()?.peel_to_tree().ok()?;
    let mut opts = git2::DiffOptions::new();
    if !sub.is_empty() {
        opts.pathspec(sub);
    }
    let diff = repo
        .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut opts))
        .ok()?;
    let mut out = String::new();
    diff.print(git2::DiffFormat::Patch, |_, _, line| {
        let content = String::from_utf8_lossy(line.content());
        match line.origin() {
            c @ ('+' | '-' | ' ') => {
                out.push(c);
                out.push_str(&content);
            }
            _ => out.push_str(&content),
        }
        true
    })
    .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stripped() {
        assert_eq!(
            strip_credentials("https://u:p@github.com/a/b.git"),
            "https://github.com/a/b.git"
        );
        assert_eq!(strip_credentials("https://tok@h/x"), "https://h/x");
        assert_eq!(
            strip_credentials("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        assert_eq!(strip_credentials("https://h/a@b"), "https://h/a@b");
    }

    fn git(dir: &Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn diff_only_when_a_tracked_file_changed() {
        let d = tempfile::tempdir().unwrap();
        let ws = d.path();
        std::fs::write(ws.join("a.txt"), "one\n").unwrap();
        git(ws, &["init", "-q"]);
        git(ws, &["add", "-A"]);
        git(ws, &["commit", "-qm", "c"]);
        let clean = source(ws);
        assert!(!clean.info.git_dirty);
        assert!(clean.info.git_commit.is_some());
        assert_eq!(clean.dirty_diff, None);

        // An untracked file makes the tree dirty, but there is no diff to record.
        std::fs::write(ws.join("new.txt"), "x").unwrap();
        let untracked = source(ws);
        assert!(untracked.info.git_dirty);
        assert!(untracked.info.untracked_sha256.is_some());
        assert_eq!(untracked.dirty_diff, None);
        assert_eq!(untracked.info.dirty_diff_sha256, None);

        std::fs::write(ws.join("a.txt"), "two\n").unwrap();
        let modified = source(ws);
        let diff = modified.dirty_diff.expect("a diff of the tracked change");
        assert!(diff.contains("-one") && diff.contains("+two"), "{diff}");
        assert_eq!(
            modified.info.dirty_diff_sha256.as_deref(),
            Some(crate::digest::sha256_hex(diff.as_bytes()).as_str())
        );
    }
}
