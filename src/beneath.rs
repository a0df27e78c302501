//! Opening and removing files inside a tree the code under test wrote, without ever leaving it:
//! a symlink (anywhere on the path) that points out of the tree, or an absolute one, is refused
//! rather than followed. On Linux this is `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`
//! relative to the tree's root; elsewhere any symlink on the path is refused.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Reads `rel` inside `root` as text (lossy), at most `max` bytes.
pub fn read_to_string(root: &Path, rel: &Path, max: u64) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    open(root, rel)?.take(max).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Removes the file `rel` inside `root` (not what a symlink there points to); a missing file
/// is not an error.
pub fn remove_file(root: &Path, rel: &Path) -> std::io::Result<()> {
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Err(std::io::Error::other("no file name"));
    };
    let dir = if parent.as_os_str().is_empty() {
        File::open(root)?
    } else {
        os::open_dir(root, parent)?
    };
    match nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Opens the regular file `rel` inside `root` for reading.
pub fn open(root: &Path, rel: &Path) -> std::io::Result<File> {
    let f = os::open_file(root, rel)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

#[cfg(target_os = "linux")]
mod os {
    use std::fs::File;
    use std::path::Path;

    use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};

    fn at(root: &Path, rel: &Path, flags: OFlag) -> std::io::Result<File> {
        let dir = File::open(root)?;
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        Ok(File::from(openat2(&dir, rel, how)?))
    }

    pub fn open_file(root: &Path, rel: &Path) -> std::io::Result<File> {
        at(root, rel, OFlag::O_RDONLY | OFlag::O_NONBLOCK)
    }

    pub fn open_dir(root: &Path, rel: &Path) -> std::io::Result<File> {
        at(root, rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    use std::fs::File;
    use std::path::Path;

    /// Refuses any symlink or `..` on the way, then opens.
    fn checked(root: &Path, rel: &Path) -> std::io::Result<std::path::PathBuf> {
        let mut p = root.to_path_buf();
        for c in rel.components() {
            match c {
                std::path::Component::Normal(n) => p.push(n),
                _ => return Err(std::io::Error::other("path leaves the tree")),
            }
            if std::fs::symlink_metadata(&p)?.file_type().is_symlink() {
                return Err(std::io::Error::other("symlink on the path"));
            }
        }
        Ok(p)
    }

    pub fn open_file(root: &Path, rel: &Path) -> std::io::Result<File> {
        File::open(checked(root, rel)?)
    }

    pub fn open_dir(root: &Path, rel: &Path) -> std::io::Result<File> {
        File::open(checked(root, rel)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_out_of_the_tree_are_refused_and_removal_takes_the_link() {
        let d = tempfile::tempdir().unwrap();
        let (root, outside) = (d.path().join("root"), d.path().join("outside"));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "key").unwrap();
        std::fs::write(root.join("sub/ok.txt"), "fine").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../outside/secret", root.join("rel")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("dirlink")).unwrap();
        std::os::unix::fs::symlink("ok.txt", root.join("sub/inner")).unwrap();
        assert_eq!(
            read_to_string(&root, Path::new("sub/ok.txt"), 100).unwrap(),
            "fine"
        );
        for escape in ["abs", "rel", "dirlink/secret", "sub/../../outside/secret"] {
            assert!(
                read_to_string(&root, Path::new(escape), 100).is_err(),
                "{escape} was followed"
            );
        }
        // Through a directory link, a removal would hit the file outside: refused.
        assert!(remove_file(&root, Path::new("dirlink/secret")).is_err());
        assert!(outside.join("secret").exists());
        // A link itself is removed, never its target.
        remove_file(&root, Path::new("abs")).unwrap();
        assert!(!root.join("abs").exists() && outside.join("secret").exists());
        remove_file(&root, Path::new("missing.xml")).unwrap();
    }
}
