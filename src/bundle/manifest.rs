//! The workspace manifest: sha256 of every file of the workspace (`.git` and `.pp-artifacts`
//! excluded), hashed in parallel; symlinks recorded as links, never followed.

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Version of `workspace_manifest.json`.
pub const MANIFEST_SCHEMA: &str = "pp.manifest/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Hashes the workspace at `root`.
pub fn manifest(root: &Path) -> std::io::Result<Manifest> {
    let walker = crate::sandbox::walk_workspace(root, |rel| {
        rel.as_os_str() != ".git" && rel.as_os_str() != ".pp-artifacts"
    });
    let mut paths = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| std::io::Error::other(e.to_string()))?;
        if entry.file_type().is_some_and(|t| !t.is_dir()) {
            paths.push(entry.into_path());
        }
    }
    let mut files: Vec<ManifestEntry> = paths
        .par_iter()
        .map(|p| entry(root, p))
        .collect::<std::io::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Manifest {
        schema_version: MANIFEST_SCHEMA.to_owned(),
        file_count: files.len(),
        total_bytes: files.iter().filter_map(|f| f.size).sum(),
        files,
    })
}

fn entry(root: &Path, p: &Path) -> std::io::Result<Option<ManifestEntry>> {
    use std::os::unix::fs::PermissionsExt;
    let rel = p
        .strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/");
    let meta = std::fs::symlink_metadata(p)?;
    if meta.file_type().is_symlink() {
        return Ok(Some(ManifestEntry {
            path: rel,
            sha256: None,
            size: None,
            executable: None,
            symlink: Some(std::fs::read_link(p)?.to_string_lossy().into_owned()),
        }));
    }
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some(ManifestEntry {
        path: rel,
        sha256: Some(crate::digest::sha256_file(p)?),
        size: Some(meta.len()),
        executable: Some(meta.permissions().mode() & 0o111 != 0),
        symlink: None,
    }))
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
}
