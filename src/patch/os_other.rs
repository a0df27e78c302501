//! Permission stub for platforms without Unix modes: executable bits are neither read nor set.

use std::fs::Metadata;
use std::path::Path;

/// No permission bits on this platform.
pub(crate) fn perms(_meta: &Metadata) -> Option<u32> {
    None
}

/// Nothing to set on this platform.
pub(crate) fn set_perms(_path: &Path, _perms: u32) -> std::io::Result<()> {
    Ok(())
}
