//! Source provenance through git2: commit, branch, remote (credentials stripped), dirty flag and
//! the uncommitted diff, limited to the workspace when it is a folder inside a larger repository.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// Reads the workspace's git metadata; a workspace outside git yields the empty record.
pub fn source_info(workspace: &Path) -> SourceInfo {
    let mut info = SourceInfo {
        workspace: workspace.display().to_string(),
        ..SourceInfo::default()
    };
    let Some((repo, sub)) = open(workspace) else {
        return info;
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
    if let Ok(statuses) = repo.statuses(Some(&mut opts)) {
        let relevant = |p: &str| {
            let inner = p.strip_prefix(&sub).unwrap_or(p).trim_start_matches('/');
            !inner.starts_with(".pp-artifacts")
        };
        info.git_dirty = statuses.iter().any(|s| s.path().is_ok_and(relevant));
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
    if info.git_dirty
        && let Some(d) = dirty_diff(workspace).filter(|d| !d.is_empty())
    {
        info.dirty_diff_sha256 = Some(crate::digest::sha256_hex(d.as_bytes()));
    }
    info
}

/// The uncommitted changes to tracked files under the workspace, as a patch against HEAD.
pub fn dirty_diff(workspace: &Path) -> Option<String> {
    let (repo, sub) = open(workspace)?;
    let tree = repo.head().ok()?.peel_to_tree().ok()?;
    let mut opts = git2::DiffOptions::new();
    if !sub.is_empty() {
        opts.pathspec(&sub);
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
}
