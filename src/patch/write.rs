//! Writing and removing files under the sandbox root without following symbolic links: parents
//! are walked with `lstat`, files are replaced by rename (never written in place, so hard and
//! symbolic links are not written through), and emptied directories are removed as git does.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::os;

/// How to treat a symbolic link or a non-directory found on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Refuse (applying a patch; validation already refused links, so this is a race).
    Refuse,
    /// Remove it and put a real directory or file there (undoing, to restore the tree).
    Replace,
}

fn refused(what: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "`{what}` is a symbolic link or not a directory; refusing to write through it"
    ))
}

/// Creates missing parent directories of `rel`, recording the ones it made.
fn parents(
    root: &Path,
    rel: &str,
    links: Links,
    created: &mut Vec<String>,
) -> std::io::Result<PathBuf> {
    let comps: Vec<&str> = rel.split('/').collect();
    let mut cur = root.to_path_buf();
    for k in 0..comps.len().saturating_sub(1) {
        cur.push(comps[k]);
        let shown = comps[..=k].join("/");
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) if links == Links::Replace => {
                std::fs::remove_file(&cur)?;
                std::fs::create_dir(&cur)?;
            }
            Ok(_) => return Err(refused(&shown)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&cur)?;
                created.push(shown);
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(last) = comps.last() {
        cur.push(last);
    }
    Ok(cur)
}

/// Writes `content` to `rel` by writing a temporary sibling and renaming it over the target.
pub(crate) fn write_file(
    root: &Path,
    rel: &str,
    content: &str,
    perms: Option<u32>,
    links: Links,
    created: &mut Vec<String>,
) -> std::io::Result<()> {
    let target = parents(root, rel, links, created)?;
    let mut old_mtime = None;
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_file() => old_mtime = m.modified().ok(),
        Ok(m) if links == Links::Replace => {
            if m.is_dir() {
                std::fs::remove_dir_all(&target)?;
            } else {
                std::fs::remove_file(&target)?;
            }
        }
        Ok(_) => return Err(refused(rel)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let dir = target.parent().unwrap_or(root);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.pp-{:016x}.tmp", fastrand::u64(..)));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.set_modified(stamp(&target, old_mtime))?;
        drop(f);
        if let Some(p) = perms {
            os::set_perms(&tmp, p)?;
        }
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The last modification time, in whole seconds, that [`stamp`] handed out for each path.
static STAMPS: LazyLock<Mutex<HashMap<PathBuf, u64>>> = LazyLock::new(Default::default);

fn whole_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A modification time for a new version of `target` that no earlier version of it had, to the
/// second: not the one on disk (`old`), nor any pp wrote there before. Tools that cache by
/// whole-second mtime and size (Python's bytecode, make on coarse file systems) would otherwise
/// take a same-size edit made within the second of their last look for the file they saw, and
/// a correct candidate would fail against the stale cache. Usually this is simply now; when now
/// falls in the same second, it is the next second.
pub(crate) fn stamp(target: &Path, old: Option<SystemTime>) -> SystemTime {
    let now = SystemTime::now();
    let mut stamps = STAMPS.lock().unwrap_or_else(|e| e.into_inner());
    let seen = stamps.get(target).copied();
    let floor = old.map(whole_seconds).max(seen);
    let t = match floor {
        Some(f) if whole_seconds(now) <= f => UNIX_EPOCH + Duration::from_secs(f + 1),
        _ => now,
    };
    stamps.insert(target.to_path_buf(), whole_seconds(t));
    t
}

/// Records `t` as the mtime of an earlier version of `target` (one read before git wrote a
/// new version), so the next [`stamp`] is later.
pub(crate) fn remember(target: &Path, t: SystemTime) {
    let mut stamps = STAMPS.lock().unwrap_or_else(|e| e.into_inner());
    let e = stamps.entry(target.to_path_buf()).or_default();
    *e = (*e).max(whole_seconds(t));
}

/// Whether `mtime` (of a version someone else wrote: git) falls within the second of an earlier
/// version of `target` that [`stamp`] or [`remember`] saw, so the file needs a fresh stamp.
pub(crate) fn needs_stamp(target: &Path, mtime: SystemTime) -> bool {
    let stamps = STAMPS.lock().unwrap_or_else(|e| e.into_inner());
    stamps
        .get(target)
        .is_some_and(|&f| whole_seconds(mtime) <= f)
}

/// Removes `rel` (a missing file is fine) and then its emptied parent directories, recording
/// them deepest first.
pub(crate) fn remove_file(
    root: &Path,
    rel: &str,
    removed: &mut Vec<String>,
) -> std::io::Result<()> {
    let target = root.join(rel);
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_dir() => {
            return Err(std::io::Error::other(format!("`{rel}` is a directory")));
        }
        Ok(_) => std::fs::remove_file(&target)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let comps: Vec<&str> = rel.split('/').collect();
    for k in (1..comps.len()).rev() {
        let dir = comps[..k].join("/");
        let path = root.join(&dir);
        let empty = std::fs::read_dir(&path)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty || std::fs::remove_dir(&path).is_err() {
            break;
        }
        removed.push(dir);
    }
    Ok(())
}

/// Creates directory `rel` and its parents (used by undo), replacing links on the way.
pub(crate) fn make_dir(root: &Path, rel: &str) -> std::io::Result<()> {
    let mut scratch = Vec::new();
    let path = parents(root, &format!("{rel}/x"), Links::Replace, &mut scratch)?;
    let dir = path.parent().unwrap_or(root);
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => std::fs::create_dir(dir),
    }
}
