//! The only file access in `context`: reading workspace files for snippets and for following a
//! test's imports, through `SourceTree`, so the rest stays pure and testable in memory.

use std::fs;
use std::path::{Path, PathBuf};

/// Largest file read for context; bigger files are generated or data, not code to show.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Read access to a workspace by relative path.
pub trait SourceTree {
    /// The file's text, or `None` when it is missing, too large, outside the tree or unreadable.
    fn read(&self, rel: &str) -> Option<String>;
    /// The names of the regular files directly in `rel_dir` (`""` for the root), sorted.
    fn list(&self, rel_dir: &str) -> Vec<String>;
    /// Whether `read` would return the file, without reading it.
    fn exists(&self, rel: &str) -> bool {
        self.read(rel).is_some()
    }
}

/// A `SourceTree` over a directory on disk (the sandbox or the workspace).
#[derive(Debug, Clone)]
pub struct DiskTree {
    root: PathBuf,
}

impl DiskTree {
    pub fn new(root: &Path) -> Self {
        DiskTree {
            root: root.to_path_buf(),
        }
    }

    /// Joins a relative path, refusing anything that could leave the root by its spelling.
    fn resolve(&self, rel: &str) -> Option<PathBuf> {
        let safe = !rel.starts_with('/')
            && !rel.contains('\\')
            && !rel.contains('\0')
            && rel.split('/').all(|part| part != "..");
        safe.then(|| self.root.join(rel))
    }
}

impl DiskTree {
    /// A readable file inside the root, opened without following any symlink out of it (the
    /// code under test wrote this tree; a link may point at anything on the host).
    fn checked(&self, rel: &str) -> Option<fs::File> {
        self.resolve(rel)?;
        let f = crate::beneath::open(&self.root, Path::new(rel)).ok()?;
        (f.metadata().ok()?.len() <= MAX_FILE_BYTES).then_some(f)
    }
}

impl SourceTree for DiskTree {
    fn read(&self, rel: &str) -> Option<String> {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut self.checked(rel)?, &mut bytes).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn exists(&self, rel: &str) -> bool {
        self.checked(rel).is_some()
    }

    fn list(&self, rel_dir: &str) -> Vec<String> {
        let Some(dir) = self.resolve(rel_dir) else {
            return Vec::new();
        };
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }
}

/// An in-memory tree for tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct MemTree(pub std::collections::BTreeMap<String, String>);

#[cfg(test)]
impl MemTree {
    pub(crate) fn with(files: &[(&str, &str)]) -> Self {
        MemTree(
            files
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
        )
    }
}

#[cfg(test)]
impl SourceTree for MemTree {
    fn read(&self, rel: &str) -> Option<String> {
        self.0.get(rel).cloned()
    }

    fn list(&self, rel_dir: &str) -> Vec<String> {
        let prefix = if rel_dir.is_empty() {
            String::new()
        } else {
            format!("{rel_dir}/")
        };
        self.0
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_tree_stays_inside_root() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("src/a.py"), "x = 1\n").unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        let tree = DiskTree::new(dir.path());
        assert_eq!(tree.read("src/a.py").as_deref(), Some("x = 1\n"));
        assert_eq!(tree.read("src/../src/a.py"), None);
        assert_eq!(tree.read("link"), None);
        assert!(!tree.exists("link"));
        assert!(tree.exists("src/a.py"));
        assert_eq!(tree.read("/etc/passwd"), None);
        assert_eq!(tree.list("src"), vec!["a.py"]);
        assert!(tree.list("..").is_empty());
    }
}
