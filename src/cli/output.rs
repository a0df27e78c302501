//! What the commands share for output and for what they read of the process: the one JSON
//! document of `--json`, the working directory, pp's own executable.

use std::path::PathBuf;

use crate::console::outln;
use crate::error::Error;

/// Prints `v` as the one JSON document on stdout.
pub(super) fn print_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(v).map_err(Error::EncodeOutput)?;
    Ok(outln!("{text}")?)
}

pub(super) fn workspace() -> Result<PathBuf, Error> {
    std::env::current_dir().map_err(|e| Error::Io {
        what: "read the working directory".into(),
        source: e,
    })
}

pub(super) fn self_exe() -> Result<PathBuf, Error> {
    std::env::current_exe().map_err(|e| Error::Io {
        what: "locate the pp executable".into(),
        source: e,
    })
}
