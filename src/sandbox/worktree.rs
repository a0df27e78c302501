//! The `git_worktree` backend: a detached worktree of HEAD, plus the user's uncommitted changes
//! and untracked files, so the sandbox holds exactly what the user has. When the workspace is a
//! folder inside a larger repository, the sandbox root is that folder inside the worktree. Git
//! records the worktree under `.git/worktrees/` until the session removes it.
//!
//! The repository may be hostile (`pp replay --cwd` on a checkout someone handed over): git
//! runs here with hooks, fsmonitor and submodule recursion off and every filter driver git sees
//! defined emptied (listed by git itself, includes and per-worktree configuration counted), with
//! none of pp's environment but the user's paths and locale, so checking out, diffing and
//! applying run no program of it; untracked files are copied in without following a link the
//! checkout holds.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::SandboxError;

/// Settings that switch off every program a repository's configuration can make git run for
/// the commands used here: hooks, fsmonitor, submodule recursion, and each filter driver git
/// itself sees defined in `dir` (listed by git, so includes, `includeIf` and per-worktree
/// configuration count). Passed as `GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`, where a key is never
/// re-parsed, whatever a driver's name holds.
fn neutral_settings(dir: &Path) -> Result<Vec<(String, String)>, SandboxError> {
    let mut v: Vec<(String, String)> = [
        ("color.ui", "false"),
        ("core.pager", "cat"),
        ("core.hooksPath", "/dev/null"),
        ("core.fsmonitor", "false"),
        ("core.untrackedCache", "false"),
        ("diff.external", ""),
        ("submodule.recurse", "false"),
        // A submodule is a repository of its own, with a configuration of its own (filters
        // this listing never sees): git is never to look inside one.
        ("diff.ignoreSubmodules", "all"),
        ("status.submoduleSummary", "false"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let listed = run_git(dir, &["config", "--null", "--list"], &v)?;
    let mut names = std::collections::BTreeSet::new();
    for entry in listed.split(|b| *b == 0) {
        let key = entry.split(|b| *b == b'\n').next().unwrap_or_default();
        let key = String::from_utf8_lossy(key);
        // `filter.<name>.<key>`: section and key are case-insensitive, the name is not.
        let filter = key
            .get(.."filter.".len())
            .is_some_and(|p| p.eq_ignore_ascii_case("filter."));
        if filter
            && let Some((name, _)) = key.get("filter.".len()..).and_then(|k| k.rsplit_once('.'))
        {
            names.insert(name.to_owned());
        }
    }
    for n in names {
        for key in ["clean", "smudge", "process"] {
            v.push((format!("filter.{n}.{key}"), String::new()));
        }
        v.push((format!("filter.{n}.required"), "false".to_owned()));
    }
    Ok(v)
}

/// What git may see of pp's environment: the user's own paths, identity and locale, never a key
/// of pp's or a proposer's, should a program of the repository run after all.
const GIT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TMPDIR",
    "XDG_CONFIG_HOME",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_GLOBAL",
];

fn run_git(
    dir: &Path,
    args: &[&str],
    settings: &[(String, String)],
) -> Result<Vec<u8>, SandboxError> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(args).env_clear();
    for (k, v) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| GIT_ENV.contains(&k)) {
            cmd.env(k, v);
        }
    }
    cmd.env("GIT_CONFIG_COUNT", settings.len().to_string());
    for (i, (k, v)) in settings.iter().enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{i}"), k)
            .env(format!("GIT_CONFIG_VALUE_{i}"), v);
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
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

/// Runs git in `dir` with the repository's programs switched off (see `neutral_settings`):
/// the user's colour, pager and diff drivers must not change what pp reads either.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, SandboxError> {
    run_git(dir, args, &neutral_settings(dir)?)
}

/// Creates a worktree at `top` and returns the sandbox root (the workspace's folder in it).
pub fn create(workspace: &Path, top: &Path) -> Result<PathBuf, SandboxError> {
    let prefix = String::from_utf8_lossy(&git(workspace, &["rev-parse", "--show-prefix"])?)
        .trim()
        .trim_end_matches('/')
        .to_owned();
    let top_s = top.to_string_lossy();
    // Checked out from inside the new worktree, so the drivers switched off are the ones git
    // sees there (an `includeIf "gitdir:…"` may name the worktree's own git dir).
    git(
        workspace,
        &[
            "worktree",
            "add",
            "--detach",
            "--no-checkout",
            "--quiet",
            &top_s,
            "HEAD",
        ],
    )?;
    if let Err(e) = git(top, &["checkout", "--force", "--quiet", "HEAD"]) {
        let _ = remove(workspace, top);
        return Err(e);
    }
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
            "--ignore-submodules=all",
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
        make_parents(root, Path::new(&*rel))?;
        let meta = std::fs::symlink_metadata(&src).map_err(|source| SandboxError::Copy {
            path: src.clone(),
            source,
        })?;
        let copied = if meta.file_type().is_symlink() {
            std::fs::read_link(&src).and_then(|t| std::os::unix::fs::symlink(t, &dst))
        } else {
            // A new file, never one the checkout left (a link, say) to write through.
            std::fs::File::open(&src).and_then(|mut from| {
                let mut to = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&dst)?;
                std::io::copy(&mut from, &mut to)?;
                to.set_permissions(meta.permissions())
            })
        };
        copied.map_err(|source| SandboxError::Copy { path: src, source })?;
    }
    Ok(())
}

/// Creates the folders of `rel` under `root`, one by one, refusing any that is a symlink or
/// not a folder in the worktree: the checkout may hold a link where the user's tree has a folder
/// (a path marked skip-worktree), and the untracked files under it must not be written through
/// it to wherever it points.
fn make_parents(root: &Path, rel: &Path) -> Result<(), SandboxError> {
    let mut at = root.to_path_buf();
    let parents: Vec<_> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for c in parents {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(SandboxError::Git {
                    message: format!(
                        "the untracked file {} lies under {}, which is not a folder in HEAD's checkout (a link or a file): pp does not copy through it",
                        rel.display(),
                        at.strip_prefix(root).unwrap_or(&at).display()
                    ),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&at).map_err(|source| SandboxError::Copy {
                    path: at.clone(),
                    source,
                })?;
            }
            Err(source) => return Err(SandboxError::Copy { path: at, source }),
        }
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
