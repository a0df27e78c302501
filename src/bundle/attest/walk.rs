//! The subject walk: lists a bundle's regular files with their sha256, streaming each file
//! through a large buffer, and records (never follows) symlinks and special files as problems.

use std::fs;
use std::io::Read as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::AttestError;
use super::keys::hex;
use super::sign::ATTESTATION_FILE;

/// Large enough that hashing runs at disk speed, small enough to stay bounded in memory.
const HASH_BUFFER: usize = 1 << 20;

/// One regular file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BundleFile {
    /// Bundle-relative path with `/` separators.
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// What the walk found: the files, sorted by path, and every entry that cannot be a subject.
#[derive(Debug, Default)]
pub(crate) struct BundleScan {
    pub files: Vec<BundleFile>,
    pub problems: Vec<String>,
}

/// Walks `dir` (following it if it is itself a symlink: the caller named it) and hashes every
/// regular file except the top-level `attestation.json`.
pub(crate) fn scan_bundle(dir: &Path) -> Result<BundleScan, AttestError> {
    if !dir.is_dir() {
        return Err(AttestError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let mut scan = BundleScan::default();
    let mut buffer = vec![0u8; HASH_BUFFER];
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel)) = pending.pop() {
        let entries = match fs::read_dir(&abs) {
            Ok(entries) => entries,
            Err(e) => {
                scan.problems
                    .push(format!("cannot list {}: {e}", shown(&rel)));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    scan.problems
                        .push(format!("cannot list {}: {e}", shown(&rel)));
                    continue;
                }
            };
            let raw_name = entry.file_name();
            let Some(name) = raw_name.to_str() else {
                scan.problems.push(format!(
                    "file name is not UTF-8: {}",
                    entry.path().display()
                ));
                continue;
            };
            let child_rel = if rel.is_empty() {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            };
            if name.contains('\\') {
                scan.problems
                    .push(format!("file name contains a backslash: {child_rel}"));
                continue;
            }
            // Such a name could never pass as a subject, so it is refused here, where the
            // attestation is written, rather than discovered at verification.
            if name.chars().any(char::is_control) {
                scan.problems.push(format!(
                    "file name contains a control character: {child_rel:?}"
                ));
                continue;
            }
            // `DirEntry::file_type` does not follow symlinks.
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(e) => {
                    scan.problems.push(format!("cannot stat {child_rel}: {e}"));
                    continue;
                }
            };
            if kind.is_symlink() {
                scan.problems
                    .push(format!("symlink in bundle (not followed): {child_rel}"));
            } else if kind.is_dir() {
                pending.push((entry.path(), child_rel));
            } else if kind.is_file() {
                if child_rel == ATTESTATION_FILE {
                    continue;
                }
                match hash_file(&entry.path(), &mut buffer) {
                    Ok((sha256, size)) => scan.files.push(BundleFile {
                        path: child_rel,
                        sha256,
                        size,
                    }),
                    Err(e) => scan.problems.push(format!("cannot read {child_rel}: {e}")),
                }
            } else {
                scan.problems.push(format!(
                    "special file in bundle (not a regular file): {child_rel}"
                ));
            }
        }
    }
    scan.files.sort_by(|a, b| a.path.cmp(&b.path));
    scan.problems.sort();
    Ok(scan)
}

fn shown(rel: &str) -> &str {
    if rel.is_empty() {
        "the bundle folder"
    } else {
        rel
    }
}

/// Streams one file through sha256; returns the hex digest and the byte count.
pub(crate) fn hash_file(path: &Path, buffer: &mut [u8]) -> std::io::Result<(String, u64)> {
    let mut file = fs::File::open(path)?;
    // The entry was a regular file when listed; refuse if it was swapped since.
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((hex(&hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_nested_files_sorted_and_skips_only_the_top_attestation() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("attempts/1")).unwrap();
        fs::write(dir.path().join("final.patch"), "abc").unwrap();
        fs::write(dir.path().join("attempts/1/attestation.json"), "x").unwrap();
        fs::write(dir.path().join("attestation.json"), "{}").unwrap();
        let scan = scan_bundle(dir.path()).unwrap();
        assert!(scan.problems.is_empty(), "{:?}", scan.problems);
        let paths: Vec<&str> = scan.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["attempts/1/attestation.json", "final.patch"]);
        assert_eq!(
            scan.files[1].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(scan.files[1].size, 3);
    }

    #[test]
    fn hashes_files_larger_than_the_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..(HASH_BUFFER * 2 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        fs::write(dir.path().join("big"), &data).unwrap();
        let scan = scan_bundle(dir.path()).unwrap();
        assert_eq!(scan.files[0].sha256, hex(&Sha256::digest(&data)));
        assert_eq!(scan.files[0].size, data.len() as u64);
    }

    #[cfg(unix)]
    #[test]
    fn records_symlinks_without_following_them() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir(outside.path().join("secret")).unwrap();
        fs::write(outside.path().join("secret/key"), "k").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        let scan = scan_bundle(dir.path()).unwrap();
        assert!(scan.files.is_empty(), "followed the link: {:?}", scan.files);
        assert_eq!(scan.problems, ["symlink in bundle (not followed): link"]);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_names_that_cannot_be_subjects() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a\nb"), "x").unwrap();
        fs::write(dir.path().join("c\\d"), "x").unwrap();
        let scan = scan_bundle(dir.path()).unwrap();
        assert!(scan.files.is_empty(), "{:?}", scan.files);
        assert_eq!(
            scan.problems,
            [
                "file name contains a backslash: c\\d",
                "file name contains a control character: \"a\\nb\"",
            ]
        );
    }

    #[test]
    fn a_file_is_not_a_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "x").unwrap();
        assert!(matches!(
            scan_bundle(&file),
            Err(AttestError::NotADirectory { .. })
        ));
    }
}
