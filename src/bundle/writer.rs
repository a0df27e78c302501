//! Writing bundle files: every file goes to a temp file in its directory and is renamed into
//! place, so a reader never sees half a file. `events.jsonl` is an append-only log.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("failed to write bundle file {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to encode {name}")]
    Encode {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("bundle {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let err = |source| BundleError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    // Readable as any file the user creates (tempfile's default is 0600): a bundle is read by
    // reviewers, its command logs already are.
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// The bundle directory of one session.
#[derive(Debug, Clone)]
pub struct BundleWriter {
    dir: PathBuf,
}

impl BundleWriter {
    pub fn create(dir: PathBuf) -> Result<Self, BundleError> {
        std::fs::create_dir_all(&dir).map_err(|source| BundleError::Write {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) -> Result<PathBuf, BundleError> {
        let path = self.path(rel);
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    pub fn write_json<T: Serialize + ?Sized>(
        &self,
        rel: &str,
        value: &T,
    ) -> Result<PathBuf, BundleError> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| BundleError::Encode {
            name: rel.to_owned(),
            source,
        })?;
        bytes.push(b'\n');
        self.write_bytes(rel, &bytes)
    }

    /// Appends one line (its newline included) to `events.jsonl`; `session::Events` makes
    /// the lines.
    pub fn append_event(&self, line: &str) {
        let res = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o644)
            .open(self.path("events.jsonl"))
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = res {
            tracing::warn!("failed to record an event in events.jsonl: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/f.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(d.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.json"]);
    }
}
