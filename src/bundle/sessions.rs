//! The sessions under a repository's `.pp-artifacts/`: finding that folder, listing the session
//! folders in it (and nothing else), picking the newest, and planning what `pp gc` removes. A
//! session folder is a real directory named like a session id holding a real
//! `proof_bundle/repro.json`; a symlink is never one, whatever it points to. Removing is the
//! caller's (`cli::gc`); the plan is pure.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The folder pp writes its bundles into, in the workspace.
pub const ARTIFACTS_DIR: &str = ".pp-artifacts";

/// One session folder under `.pp-artifacts/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDir {
    pub id: String,
    /// `.pp-artifacts/<id>`.
    pub path: PathBuf,
    /// When the session started: from its id (`20261207T215925Z-…`, UTC), else the folder's
    /// modification time.
    pub started: SystemTime,
}

impl SessionDir {
    /// The session's proof bundle folder.
    pub fn bundle(&self) -> PathBuf {
        self.path.join("proof_bundle")
    }
}

/// The `.pp-artifacts` folder for `cwd`: in `cwd` itself or the nearest parent, not above the
/// repository's top (the folder holding `.git`). A symlinked `.pp-artifacts` is not used (pp
/// never writes through one either).
pub fn find_artifacts(cwd: &Path) -> Option<PathBuf> {
    for dir in cwd.ancestors() {
        let candidate = dir.join(ARTIFACTS_DIR);
        if std::fs::symlink_metadata(&candidate).is_ok_and(|m| m.is_dir()) {
            return Some(candidate);
        }
        if std::fs::symlink_metadata(dir.join(".git")).is_ok() {
            return None;
        }
    }
    None
}

/// Whether `name` reads as a session id: `YYYYMMDDTHHMMSSZ-<hex>`.
fn id_time(name: &str) -> Option<SystemTime> {
    let (stamp, suffix) = name.split_once('-')?;
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let dt = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", stamp).ok()?;
    let ts = dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(SystemTime::from(ts))
}

/// Whether `path` (not followed) is a real directory.
fn real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_dir())
}

/// The session folders directly under `artifacts`, oldest first (ties: by id). Everything
/// else there (the digest cache, `.gitignore`, the user's own files, symlinks) is left out.
pub fn list_sessions(artifacts: &Path) -> std::io::Result<Vec<SessionDir>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(artifacts)? {
        let entry = entry?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some(from_id) = id_time(&name) else {
            continue;
        };
        let bundle = path.join("proof_bundle");
        let marker = std::fs::symlink_metadata(bundle.join("repro.json"));
        if !real_dir(&path) || !real_dir(&bundle) || !marker.is_ok_and(|m| m.file_type().is_file())
        {
            continue;
        }
        out.push(SessionDir {
            id: name,
            path,
            started: from_id,
        });
    }
    out.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// What `pp gc` keeps: the newest `keep` sessions, and (with `older_than`) every session
/// younger than that; the rest goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcRule {
    pub keep: usize,
    pub older_than: Option<Duration>,
}

/// Splits `sessions` (oldest first) into (remove, keep) under `rule` at `now`.
pub fn plan_gc(
    sessions: Vec<SessionDir>,
    rule: GcRule,
    now: SystemTime,
) -> (Vec<SessionDir>, Vec<SessionDir>) {
    let protected_from = sessions.len().saturating_sub(rule.keep);
    let mut remove = Vec::new();
    let mut keep = Vec::new();
    for (i, s) in sessions.into_iter().enumerate() {
        let young = rule.older_than.is_some_and(|d| {
            now.duration_since(s.started)
                .map(|age| age < d)
                .unwrap_or(true)
        });
        if i >= protected_from || young {
            keep.push(s);
        } else {
            remove.push(s);
        }
    }
    (remove, keep)
}

/// Bytes under `path`, not following symlinks (a link counts as itself).
pub fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.file_type().is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| disk_usage(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(root: &Path, id: &str) -> PathBuf {
        let p = root.join(id);
        std::fs::create_dir_all(p.join("proof_bundle")).unwrap();
        std::fs::write(p.join("proof_bundle/repro.json"), "{}").unwrap();
        p
    }

    #[test]
    fn only_real_session_folders_are_listed_oldest_first() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path();
        session(a, "20261207T215925Z-1e3e04c7");
        session(a, "20250101T000000Z-aa");
        // Not sessions: no marker, a wrong name, a file, a symlink to a real session.
        std::fs::create_dir_all(a.join("20250101T000001Z-bb/proof_bundle")).unwrap();
        session(a, "my-notes");
        std::fs::write(a.join("manifest-cache.json"), "{}").unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = session(outside.path(), "20240101T000000Z-cc");
        std::os::unix::fs::symlink(&target, a.join("20240101T000000Z-cc")).unwrap();
        let ids: Vec<String> = list_sessions(a)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["20250101T000000Z-aa", "20261207T215925Z-1e3e04c7"]);
    }

    #[test]
    fn the_plan_keeps_the_newest_and_the_young() {
        let day = Duration::from_secs(86_400);
        let now = SystemTime::UNIX_EPOCH + day * 100;
        let s = |n: u64| SessionDir {
            id: format!("s{n}"),
            path: PathBuf::from(format!("s{n}")),
            started: SystemTime::UNIX_EPOCH + day * u32::try_from(n).unwrap(),
        };
        let all = || (90..100).map(s).collect::<Vec<_>>();
        let ids = |v: Vec<SessionDir>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let (rm, keep) = plan_gc(
            all(),
            GcRule {
                keep: 3,
                older_than: None,
            },
            now,
        );
        assert_eq!(ids(keep), ["s97", "s98", "s99"]);
        assert_eq!(rm.len(), 7);
        // Older than 5 days: s90..=s94 are; keeping 3 protects nothing more.
        let (rm, _) = plan_gc(
            all(),
            GcRule {
                keep: 3,
                older_than: Some(day * 5 + Duration::from_secs(1)),
            },
            now,
        );
        assert_eq!(ids(rm), ["s90", "s91", "s92", "s93", "s94"]);
        // Keeping 8 protects s92 and up, however old.
        let (rm, _) = plan_gc(
            all(),
            GcRule {
                keep: 8,
                older_than: Some(day),
            },
            now,
        );
        assert_eq!(ids(rm), ["s90", "s91"]);
    }

    #[test]
    fn session_ids_carry_their_start() {
        let t = id_time("20261207T215925Z-1e3e04c7").unwrap();
        let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 1_796_680_765);
        assert!(id_time("20261207T215925Z-").is_none());
        assert!(id_time("notes-abc").is_none());
        assert!(id_time("20261307T215925Z-ab").is_none());
    }
}
