//! Applying a validated patch all-or-nothing: read the touched files (without following links),
//! plan every hunk in memory, let `git apply --recount` write it when git accepts the patch, else
//! write the plan, then re-check the files actually changed against the policy and undo on
//! failure. Path rules live in `validate.rs`, hunk placement in `plan.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use super::changeset::{ChangeSet, FileChange};
use super::error::{Rejection, Rule};
use super::git;
use super::model::{FileOp, MODE_EXEC, Patch};
use super::os;
use super::plan::plan_hunks;
use super::render::render;
use super::report::{Applier, ApplyReport, FORMAT_VERSION, FileReport, HunkReport, HunkStrategy};
use super::rewrite::read_text;
use super::validate::{CompiledRules, Entry, check_patch, lstat_walk, touched_paths};
use super::write::{self, Links};

/// Knobs for [`apply_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Skip `git apply` and use the built-in applier only.
    pub builtin_only: bool,
}

/// One path's state: content (`None` = absent) and permission bits.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    content: Option<String>,
    perms: Option<u32>,
}

/// The in-memory result of planning a whole patch.
struct Plan {
    after: BTreeMap<String, State>,
    files: Vec<FileReport>,
}

/// Validates `patch` against `rules`, applies it all-or-nothing under `root`, and re-checks the
/// files actually changed. On any rejection the tree is as it was.
pub fn apply(root: &Path, patch: &Patch, rules: &CompiledRules) -> Result<ChangeSet, Rejection> {
    apply_with(root, patch, rules, &ApplyOptions::default())
}

/// [`apply`] with options.
pub fn apply_with(
    root: &Path,
    patch: &Patch,
    rules: &CompiledRules,
    opts: &ApplyOptions,
) -> Result<ChangeSet, Rejection> {
    check_patch(patch, rules)?;
    let paths = touched_paths(patch);
    let before = read_states(root, &paths)?;
    let planned = plan_patch(patch, &before);
    if let Err(r) = &planned
        && r.rule == Rule::AmbiguousContext
    {
        // git would pick the nearest match; an ambiguous hunk is refused whoever applies it.
        return Err(r.clone());
    }
    let git_refusal = if opts.builtin_only {
        Some("skipped: built-in applier requested".to_owned())
    } else {
        let dirs_before = dir_states(root, &paths);
        let mtimes = mtimes(root, &paths);
        // git's numstat names only where each entry ends up (a rename's target, a deletion's
        // path), so that is what it is compared with.
        let mut targets: Vec<String> = patch.files.iter().map(|f| f.path().to_owned()).collect();
        targets.dedup();
        match git::apply(root, &render(patch), &targets) {
            Ok(()) => {
                let report = git_report(patch, planned.as_ref().ok());
                let cs = after_git(root, &paths, &before, dirs_before, report, rules)?;
                return restamp(root, cs, &mtimes);
            }
            Err(why) => Some(why),
        }
    };
    let plan = planned?;
    let report = ApplyReport {
        format_version: FORMAT_VERSION,
        applier: Applier::Builtin,
        git_refusal,
        files: plan.files,
    };
    let mut cs = change_set(&paths, &before, &plan.after, Vec::new(), Vec::new(), report);
    if cs.changed_paths().is_empty() {
        return Err(Rejection::new(
            Rule::EmptyPatch,
            "the patch changes nothing",
        ));
    }
    if let Err(e) = write_all(root, &mut cs) {
        let _ = cs.undo(root);
        return Err(Rejection::new(
            Rule::Io,
            format!("cannot write the patch: {e}"),
        ));
    }
    finish(root, cs, rules)
}

/// Builds the change set after git wrote the patch: reads the touched paths back and works out
/// which directories git created or removed.
fn after_git(
    root: &Path,
    paths: &[String],
    before: &BTreeMap<String, State>,
    dirs_before: BTreeMap<String, bool>,
    report: ApplyReport,
    rules: &CompiledRules,
) -> Result<ChangeSet, Rejection> {
    let dirs_after = dir_states(root, paths);
    let mut created: Vec<String> = dirs_after
        .iter()
        .filter(|(d, e)| **e && !dirs_before.get(*d).copied().unwrap_or(true))
        .map(|(d, _)| d.clone())
        .collect();
    let mut removed: Vec<String> = dirs_before
        .iter()
        .filter(|(d, e)| **e && !dirs_after.get(*d).copied().unwrap_or(true))
        .map(|(d, _)| d.clone())
        .collect();
    created.sort_by_key(|d| d.matches('/').count());
    removed.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    match read_states(root, paths) {
        Ok(after) => finish(
            root,
            change_set(paths, before, &after, created, removed, report),
            rules,
        ),
        Err(r) => {
            // What git left cannot be read back safely: put every touched path back.
            let cs = change_set(paths, before, before, created, removed, report);
            let _ = cs.restore(root, true);
            Err(r)
        }
    }
}

/// The re-check after writing: the changed paths must still pass the rules and be regular files.
fn finish(root: &Path, cs: ChangeSet, rules: &CompiledRules) -> Result<ChangeSet, Rejection> {
    let changed = cs.changed_paths();
    let mut problem = None;
    if changed.is_empty() {
        problem = Some(Rejection::new(
            Rule::EmptyPatch,
            "the patch changes nothing",
        ));
    }
    if changed.len() > rules.max_files_changed {
        problem = Some(Rejection::new(
            Rule::TooManyFiles,
            format!(
                "{} files changed; max_files_changed is {}",
                changed.len(),
                rules.max_files_changed
            ),
        ));
    }
    for change in cs.files.iter().filter(|f| f.changed()) {
        if problem.is_some() {
            break;
        }
        let on_disk = lstat_walk(root, &change.path);
        let tests = rules.check_test_path(&change.path).and_then(|()| {
            rules.check_test_change(
                &change.path,
                change.before.as_deref(),
                change.after.as_deref(),
            )
        });
        problem = match (rules.check_path(&change.path), on_disk, &change.after) {
            (Err(r), _, _) | (_, Err(r), _) => Some(r),
            _ if tests.is_err() => tests.err(),
            (Ok(()), Ok(Entry::File), None) | (Ok(()), Ok(Entry::Missing), Some(_)) => {
                Some(Rejection::at_path(
                    Rule::PostApplyCheck,
                    &change.path,
                    format!("`{}` is not in the state the patch describes", change.path),
                ))
            }
            _ => None,
        };
    }
    match problem {
        None => Ok(cs),
        Some(r) if matches!(r.rule, Rule::TestEdit | Rule::TestFileEdit) => {
            // Content checks can only run here; they are rules of their own, not a surprise.
            let _ = cs.undo(root);
            Err(r)
        }
        Some(r) => {
            let _ = cs.undo(root);
            let mut out = r.clone();
            out.rule = if r.rule == Rule::EmptyPatch {
                Rule::EmptyPatch
            } else {
                Rule::PostApplyCheck
            };
            out.message = format!(
                "after applying, {} ({}); the change was undone",
                r.message,
                r.rule.as_str()
            );
            Err(out)
        }
    }
}

fn read_states(root: &Path, paths: &[String]) -> Result<BTreeMap<String, State>, Rejection> {
    let mut out = BTreeMap::new();
    for p in paths {
        let state = match lstat_walk(root, p)? {
            Entry::Missing => State {
                content: None,
                perms: None,
            },
            Entry::File => {
                let meta = std::fs::symlink_metadata(root.join(p)).map_err(|e| {
                    Rejection::at_path(Rule::Io, p, format!("cannot inspect `{p}`: {e}"))
                })?;
                State {
                    content: Some(read_text(root, p)?),
                    perms: os::perms(&meta),
                }
            }
        };
        out.insert(p.clone(), state);
    }
    Ok(out)
}

/// The modification time of each touched path that is a file.
fn mtimes(root: &Path, paths: &[String]) -> BTreeMap<String, std::time::SystemTime> {
    paths
        .iter()
        .filter_map(|p| {
            let meta = std::fs::symlink_metadata(root.join(p)).ok()?;
            Some((p.clone(), meta.modified().ok()?))
        })
        .collect()
}

/// Writes again, with a fresh [`write::stamp`], every file git wrote within the second of an
/// earlier version of it, so no cache keyed by whole-second mtime and size takes it for that
/// version.
fn restamp(
    root: &Path,
    cs: ChangeSet,
    before: &BTreeMap<String, std::time::SystemTime>,
) -> Result<ChangeSet, Rejection> {
    let mut scratch = Vec::new();
    for f in cs.files.iter().filter(|f| f.changed()) {
        let Some(content) = &f.after else { continue };
        let target = root.join(&f.path);
        let Ok(now) = std::fs::symlink_metadata(&target).and_then(|m| m.modified()) else {
            continue;
        };
        if let Some(&t) = before.get(&f.path) {
            write::remember(&target, t);
        }
        if !write::needs_stamp(&target, now) {
            write::remember(&target, now);
            continue;
        }
        if let Err(e) = write::write_file(
            root,
            &f.path,
            content,
            f.after_perms,
            Links::Refuse,
            &mut scratch,
        ) {
            let _ = cs.undo(root);
            return Err(Rejection::at_path(
                Rule::Io,
                &f.path,
                format!("cannot write `{}`: {e}", f.path),
            ));
        }
    }
    Ok(cs)
}

/// Whether each ancestor directory of the touched paths exists (to see what git created).
fn dir_states(root: &Path, paths: &[String]) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for p in paths {
        let comps: Vec<&str> = p.split('/').collect();
        for k in 1..comps.len() {
            let d = comps[..k].join("/");
            let exists = std::fs::symlink_metadata(root.join(&d)).is_ok_and(|m| m.is_dir());
            out.insert(d, exists);
        }
    }
    out
}

fn change_set(
    paths: &[String],
    before: &BTreeMap<String, State>,
    after: &BTreeMap<String, State>,
    created_dirs: Vec<String>,
    removed_dirs: Vec<String>,
    report: ApplyReport,
) -> ChangeSet {
    let none = State {
        content: None,
        perms: None,
    };
    let files = paths
        .iter()
        .map(|p| {
            let b = before.get(p).unwrap_or(&none);
            let a = after.get(p).unwrap_or(&none);
            FileChange {
                path: p.clone(),
                before: b.content.clone(),
                after: a.content.clone(),
                before_perms: b.perms,
                after_perms: a.perms,
            }
        })
        .collect();
    ChangeSet {
        files,
        created_dirs,
        removed_dirs,
        report,
    }
}

/// Writes the planned change: deletions first, then writes; records directories made/removed.
fn write_all(root: &Path, cs: &mut ChangeSet) -> std::io::Result<()> {
    let (mut created, mut removed) = (Vec::new(), Vec::new());
    let mut result = Ok(());
    for f in cs.files.iter().filter(|f| f.changed() && f.after.is_none()) {
        result = write::remove_file(root, &f.path, &mut removed);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        for f in cs.files.iter().filter(|f| f.changed()) {
            if let Some(content) = &f.after {
                result = write::write_file(
                    root,
                    &f.path,
                    content,
                    f.after_perms,
                    Links::Refuse,
                    &mut created,
                );
                if result.is_err() {
                    break;
                }
            }
        }
    }
    // Recorded even on failure so undo removes what was made.
    cs.created_dirs = created;
    cs.removed_dirs = removed;
    result
}

fn git_report(patch: &Patch, plan: Option<&Plan>) -> ApplyReport {
    let files = match plan {
        Some(p) => p
            .files
            .iter()
            .map(|f| FileReport {
                hunks: f
                    .hunks
                    .iter()
                    .map(|h| HunkReport {
                        strategy: HunkStrategy::Git,
                        ..h.clone()
                    })
                    .collect(),
                ..f.clone()
            })
            .collect(),
        None => {
            let mut id = 0;
            patch
                .files
                .iter()
                .map(|fp| {
                    let hunks = fp
                        .hunks
                        .iter()
                        .enumerate()
                        .map(|(k, h)| HunkReport {
                            id: id + k,
                            index: k + 1,
                            header: h.header(),
                            stated_line: h.old_start,
                            applied_line: None,
                            strategy: HunkStrategy::Git,
                        })
                        .collect();
                    id += fp.hunks.len().max(1);
                    FileReport {
                        path: fp.path().to_owned(),
                        old_path: fp
                            .old_path
                            .clone()
                            .filter(|_| matches!(fp.op, FileOp::Rename | FileOp::Copy)),
                        op: fp.op,
                        hunks,
                    }
                })
                .collect()
        }
    };
    ApplyReport {
        format_version: FORMAT_VERSION,
        applier: Applier::Git,
        git_refusal: None,
        files,
    }
}

/// New permission bits for a git mode change, keeping the other bits.
fn perms_for(mode: Option<u32>, current: Option<u32>) -> Option<u32> {
    let base = current.unwrap_or(0o644);
    match mode {
        Some(m) if m == MODE_EXEC => Some(base | ((base & 0o444) >> 2)),
        Some(_) => Some(base & !0o111),
        None => current,
    }
}

/// Plans every file entry in memory, in order, against the states read from disk.
fn plan_patch(patch: &Patch, before: &BTreeMap<String, State>) -> Result<Plan, Rejection> {
    let mut cur = before.clone();
    let mut files = Vec::new();
    let mut id = 0;
    let absent = State {
        content: None,
        perms: None,
    };
    for fp in &patch.files {
        let old = fp.old_path.as_deref().unwrap_or("");
        let new = fp.new_path.as_deref().unwrap_or("");
        let source = |p: &str| cur.get(p).cloned().unwrap_or_else(|| absent.clone());
        let missing = |p: &str| {
            Rejection::at_path(Rule::FileNotFound, p, format!("`{p}` does not exist"))
                .with_hint("diff against files that exist; create new files with `--- /dev/null`")
        };
        let report_hunks = match fp.op {
            FileOp::Create => {
                let planned = plan_hunks(new, "", &fp.hunks, id)?;
                if let Some(existing) = source(new).content {
                    if existing == planned.content {
                        return Err(Rejection::at_path(
                            Rule::AlreadyApplied,
                            new,
                            format!(
                                "`{new}` is already applied: it exists with exactly this content"
                            ),
                        ));
                    }
                    return Err(Rejection::at_path(
                        Rule::FileExists,
                        new,
                        format!("`{new}` already exists"),
                    )
                    .with_hint(
                        "to change an existing file, send a diff against its current content",
                    ));
                }
                let perms = if fp.new_mode == Some(MODE_EXEC) {
                    Some(0o755)
                } else {
                    Some(0o644)
                };
                cur.insert(
                    new.to_owned(),
                    State {
                        content: Some(planned.content),
                        perms,
                    },
                );
                planned.hunks
            }
            FileOp::Delete => {
                let Some(content) = source(old).content else {
                    return Err(missing(old));
                };
                let planned = plan_hunks(old, &content, &fp.hunks, id)?;
                if !fp.hunks.is_empty() && !planned.content.is_empty() {
                    return Err(Rejection::at_path(
                        Rule::IncompleteDelete,
                        old,
                        format!(
                            "deleting `{old}` would leave {} lines the diff does not show",
                            planned.content.lines().count()
                        ),
                    )
                    .with_hint("a deletion must remove every line of the file"));
                }
                cur.insert(old.to_owned(), absent.clone());
                planned.hunks
            }
            FileOp::Modify | FileOp::Rename | FileOp::Copy => {
                let src = source(old);
                let Some(content) = src.content else {
                    return Err(missing(old));
                };
                if old != new && source(new).content.is_some() {
                    return Err(Rejection::at_path(
                        Rule::FileExists,
                        new,
                        format!("`{new}` already exists"),
                    )
                    .with_hint("rename or copy onto a path that does not exist"));
                }
                let planned = plan_hunks(new, &content, &fp.hunks, id)?;
                let perms = perms_for(
                    fp.new_mode
                        .filter(|_| fp.old_mode != fp.new_mode || fp.old_mode.is_none()),
                    src.perms,
                );
                if fp.op == FileOp::Rename {
                    cur.insert(old.to_owned(), absent.clone());
                }
                cur.insert(
                    new.to_owned(),
                    State {
                        content: Some(planned.content),
                        perms,
                    },
                );
                planned.hunks
            }
        };
        files.push(FileReport {
            path: fp.path().to_owned(),
            old_path: fp
                .old_path
                .clone()
                .filter(|_| matches!(fp.op, FileOp::Rename | FileOp::Copy)),
            op: fp.op,
            hunks: report_hunks,
        });
        id += fp.hunks.len().max(1);
    }
    Ok(Plan { after: cur, files })
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
