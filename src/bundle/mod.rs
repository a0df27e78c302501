//! The proof bundle: every input, attempt, log and the final patch of a session, written
//! atomically under `.pp-artifacts/<session-id>/proof_bundle/`, plus the source's provenance
//! (git metadata, workspace manifest). Signing lives in `attest`.

pub mod attest;
mod manifest;
pub mod schema;
pub mod sessions;
mod source;
pub mod view;
mod writer;

pub use manifest::{Manifest, ManifestEntry, manifest, manifest_cached};
pub use schema::REPRO_SCHEMA;
pub use source::{Source, SourceInfo, source, source_info, strip_credentials};
pub use writer::{BundleError, BundleWriter, write_atomic};
