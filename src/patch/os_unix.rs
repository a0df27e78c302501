//! Unix file permissions for the patch writer: reading and setting the executable bits.

use std::fs::{Metadata, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The permission bits of a file.
pub(crate) fn perms(meta: &Metadata) -> Option<u32> {
    Some(meta.permissions().mode() & 0o7777)
}

/// Sets permission bits.
pub(crate) fn set_perms(path: &Path, perms: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(perms))
}
