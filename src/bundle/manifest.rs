//! The workspace manifest: sha256 of every file of the workspace (`.git` and `.pp-artifacts`
//! excluded), hashed in parallel; symlinks recorded as links, never followed.
//!
//! A session may pass a cache (`.pp-artifacts/manifest-cache.json`): a file whose size, mtime,
//! ctime and inode all match its cached entry reuses the cached digest, as git's index does, so
//! a large, unchanged workspace is not re-read on every run. Entries younger than two seconds
//! are never cached (a write within the timestamp granularity could go unseen).

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Version of `workspace_manifest.json`.
pub const MANIFEST_SCHEMA: &str = "pp.manifest/v1";

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: String,
    pub file_count: usize,
    pub total_bytes: u64,
    pub files: Vec<ManifestEntry>,
}

/// Hashes the workspace at `root`, every file read.
pub fn manifest(root: &Path) -> std::io::Result<Manifest> {
    manifest_cached(root, None)
}

/// What the cache knows of one file; stored as an array, which parses faster than an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StampRow", into = "StampRow")]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    sha256: String,
}

/// `[size, mtime_ns, ctime_ns, ino, sha256]`.
type StampRow = (u64, i128, i128, u64, String);

impl From<StampRow> for Stamp {
    fn from((size, mtime_ns, ctime_ns, ino, sha256): StampRow) -> Self {
        Self {
            size,
            mtime_ns,
            ctime_ns,
            ino,
            sha256,
        }
    }
}

impl From<Stamp> for StampRow {
    fn from(s: Stamp) -> Self {
        (s.size, s.mtime_ns, s.ctime_ns, s.ino, s.sha256)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    schema_version: String,
    files: HashMap<String, Stamp>,
}

const CACHE_SCHEMA: &str = "pp.manifest-cache/v2";

fn stamp_of(meta: &std::fs::Metadata) -> (u64, i128, i128, u64) {
    use std::os::unix::fs::MetadataExt;
    (
        meta.len(),
        i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        meta.ino(),
    )
}

/// Hashes the workspace at `root`, reusing and refreshing the digests in `cache` (a file pp
/// owns) for files whose stat data did not change. A missing or unreadable cache is ignored.
pub fn manifest_cached(root: &Path, cache: Option<&Path>) -> std::io::Result<Manifest> {
    let old: Cache = cache
        .and_then(|c| std::fs::read(c).ok())
        .and_then(|b| serde_json::from_slice::<Cache>(&b).ok())
        .filter(|c| c.schema_version == CACHE_SCHEMA)
        .unwrap_or_default();
    let walker = crate::walk::walk_workspace(root, |rel| {
        rel.as_os_str() != ".git" && rel.as_os_str() != ".pp-artifacts"
    });
    let mut paths = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| std::io::Error::other(e.to_string()))?;
        if entry.file_type().is_some_and(|t| !t.is_dir()) {
            paths.push(entry.into_path());
        }
    }
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
        .unwrap_or(0);
    let results: Vec<(ManifestEntry, Option<Stamp>)> = paths
        .par_iter()
        .map(|p| entry(root, p, &old.files, now_ns))
        .collect::<std::io::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    // Every settled stamp is already in the cache, and nothing else is: leave it as it is (on
    // a large workspace, rewriting it would be most of a warm run).
    let settled = results.iter().filter(|(_, s)| s.is_some()).count();
    let unchanged = settled == old.files.len()
        && results
            .iter()
            .all(|(e, s)| s.is_none() || old.files.get(&e.path) == s.as_ref());
    if let (Some(c), false) = (cache, unchanged) {
        let fresh = Cache {
            schema_version: CACHE_SCHEMA.to_owned(),
            files: results
                .iter()
                .filter_map(|(e, s)| s.clone().map(|s| (e.path.clone(), s)))
                .collect(),
        };
        // The cache only saves time; failing to write it is not an error.
        if let Ok(bytes) = serde_json::to_vec(&fresh) {
            let _ = super::write_atomic(c, &bytes);
        }
    }
    let mut files: Vec<ManifestEntry> = results.into_iter().map(|(e, _)| e).collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Manifest {
        schema_version: MANIFEST_SCHEMA.to_owned(),
        file_count: files.len(),
        total_bytes: files.iter().filter_map(|f| f.size).sum(),
        files,
    })
}

fn entry(
    root: &Path,
    p: &Path,
    cache: &HashMap<String, Stamp>,
    now_ns: i128,
) -> std::io::Result<Option<(ManifestEntry, Option<Stamp>)>> {
    use std::os::unix::fs::PermissionsExt;
    let rel = p
        .strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/");
    let meta = std::fs::symlink_metadata(p)?;
    if meta.file_type().is_symlink() {
        let link = ManifestEntry {
            path: rel,
            sha256: None,
            size: None,
            executable: None,
            symlink: Some(std::fs::read_link(p)?.to_string_lossy().into_owned()),
        };
        return Ok(Some((link, None)));
    }
    if !meta.is_file() {
        return Ok(None);
    }
    let (size, mtime_ns, ctime_ns, ino) = stamp_of(&meta);
    let cached = cache
        .get(&rel)
        .filter(|s| (s.size, s.mtime_ns, s.ctime_ns, s.ino) == (size, mtime_ns, ctime_ns, ino));
    let sha256 = match cached {
        Some(s) => s.sha256.clone(),
        None => crate::digest::sha256_file(p)?,
    };
    let settled = now_ns - mtime_ns > 2_000_000_000;
    let stamp = settled.then(|| Stamp {
        size,
        mtime_ns,
        ctime_ns,
        ino,
        sha256: sha256.clone(),
    });
    let file = ManifestEntry {
        path: rel,
        sha256: Some(sha256),
        size: Some(size),
        executable: Some(meta.permissions().mode() & 0o111 != 0),
        symlink: None,
    };
    Ok(Some((file, stamp)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_files_records_links_skips_git() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), "abc").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("l")).unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/HEAD"), "x").unwrap();
        let m = manifest(d.path()).unwrap();
        assert_eq!(m.file_count, 2);
        assert_eq!(
            m.files[0].sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(m.files[1].symlink.as_deref(), Some("/etc/passwd"));
    }

    fn age(path: &Path, secs: u64) {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    #[test]
    fn cache_reuses_settled_digests_and_notices_changes() {
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("cache.json");
        let ws = d.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        let (a, b) = (ws.join("a"), ws.join("b"));
        std::fs::write(&a, "abc").unwrap();
        std::fs::write(&b, "old").unwrap();
        age(&a, 60);
        age(&b, 60);
        let first = manifest_cached(&ws, Some(&cache)).unwrap();
        assert_eq!(first, manifest(&ws).unwrap());
        // Poison the cache for `a`: a matching stamp means the cached digest is used, which is
        // how we see the cache is read at all.
        let mut c: Cache = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
        assert!(c.files.contains_key("a"), "a settled file is cached");
        c.files.get_mut("a").unwrap().sha256 = "cached".into();
        std::fs::write(&cache, serde_json::to_vec(&c).unwrap()).unwrap();
        // `b` changes size and mtime: re-read whatever the cache says.
        std::fs::write(&b, "newer").unwrap();
        let second = manifest_cached(&ws, Some(&cache)).unwrap();
        assert_eq!(second.files[0].sha256.as_deref(), Some("cached"));
        assert_eq!(
            second.files[1].sha256.as_deref(),
            Some(crate::digest::sha256_hex(b"newer").as_str())
        );
        // A file written just now is hashed but not cached (its stamp could still change
        // within the timestamp granularity).
        let c: Cache = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
        assert!(!c.files.contains_key("b"));
    }

    #[test]
    fn unchanged_tree_leaves_the_cache_file_alone() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("cache.json");
        let ws = d.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        std::fs::write(ws.join("a"), "abc").unwrap();
        age(&ws.join("a"), 60);
        manifest_cached(&ws, Some(&cache)).unwrap();
        // The cache is replaced by rename, so a rewrite shows as a new inode.
        let ino = std::fs::metadata(&cache).unwrap().ino();
        manifest_cached(&ws, Some(&cache)).unwrap();
        assert_eq!(std::fs::metadata(&cache).unwrap().ino(), ino);
        std::fs::write(ws.join("b"), "new").unwrap();
        age(&ws.join("b"), 60);
        manifest_cached(&ws, Some(&cache)).unwrap();
        assert_ne!(
            std::fs::metadata(&cache).unwrap().ino(),
            ino,
            "a new file is cached"
        );
    }
}
