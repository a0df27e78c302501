//! The `copy` backend: a parallel copy of the workspace into a temp dir, hidden files included,
//! `.pp-artifacts` and `sandbox.exclude` globs left out, modes kept, symlinks copied as links.

use std::path::Path;

use rayon::prelude::*;

use super::SandboxError;
use crate::walk::walk_workspace;

/// Copies `from` into `to` (created).
pub fn copy_tree(from: &Path, to: &Path, exclude: &[String]) -> Result<(), SandboxError> {
    let mut set = globset::GlobSetBuilder::new();
    for g in exclude {
        if let Ok(glob) = globset::Glob::new(g) {
            set.add(glob);
        }
    }
    let excluded = set.build().unwrap_or_else(|_| globset::GlobSet::empty());
    std::fs::create_dir_all(to).map_err(|source| SandboxError::Create {
        path: to.to_owned(),
        source,
    })?;
    let walker = walk_workspace(from, move |rel| {
        rel.as_os_str() != ".pp-artifacts" && !excluded.is_match(rel)
    });
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| SandboxError::Copy {
            path: from.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let rel = match entry.path().strip_prefix(from) {
            Ok(r) if !r.as_os_str().is_empty() => r.to_owned(),
            _ => continue,
        };
        match entry.file_type() {
            Some(t) if t.is_dir() => dirs.push(rel),
            Some(_) => files.push(rel),
            None => {}
        }
    }
    for d in &dirs {
        let target = to.join(d);
        std::fs::create_dir_all(&target).map_err(|source| SandboxError::Copy {
            path: from.join(d),
            source,
        })?;
        if let Ok(meta) = std::fs::metadata(from.join(d)) {
            let _ = std::fs::set_permissions(&target, meta.permissions());
        }
    }
    files.par_iter().try_for_each(|rel| {
        let src = from.join(rel);
        let dst = to.join(rel);
        copy_one(&src, &dst).map_err(|source| SandboxError::Copy { path: src, source })
    })
}

fn copy_one(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(src)?;
        std::os::unix::fs::symlink(target, dst)
    } else if meta.is_file() {
        std::fs::copy(src, dst).map(|_| ())
    } else {
        // Sockets, fifos and devices are not part of a workspace's source.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_hidden_links_and_modes_but_not_artifacts() {
        use std::os::unix::fs::PermissionsExt;
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let s = src.path();
        std::fs::create_dir_all(s.join("a/.hidden")).unwrap();
        std::fs::write(s.join("a/.hidden/f"), "x").unwrap();
        std::fs::write(s.join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(s.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("run.sh", s.join("link")).unwrap();
        std::fs::create_dir_all(s.join(".pp-artifacts/x")).unwrap();
        std::fs::write(s.join(".pp-artifacts/x/f"), "x").unwrap();
        std::fs::create_dir_all(s.join("big/sub")).unwrap();
        std::fs::write(s.join("big/sub/f"), "x").unwrap();
        let d = dst.path().join("ws");
        copy_tree(s, &d, &["big".to_owned()]).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("a/.hidden/f")).unwrap(), "x");
        let mode = std::fs::metadata(d.join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read_link(d.join("link")).unwrap(),
            Path::new("run.sh")
        );
        assert!(!d.join(".pp-artifacts").exists());
        assert!(!d.join("big").exists());
    }
}
