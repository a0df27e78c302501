//! Confinement's inner stage on platforms without Linux namespaces, seccomp and Landlock:
//! always unavailable, so every session there refuses (or uses the container backend).

use super::confine::Layers;

pub fn apply(_rw: &[String]) -> Result<Layers, String> {
    Err(
        "confinement is unsupported on this platform; use `policy.sandbox.backend: container`"
            .into(),
    )
}
