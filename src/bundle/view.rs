//! Reading a bundle someone handed over, to show it (`pp show`): the bundle is hostile input.
//! Every file is opened beneath the bundle folder (a symlink out of it is refused, not
//! followed), read up to a cap, and a file that does not parse is an error naming it. What the
//! reader makes of it is `report::show`'s; whether it is genuine is the attestation's.

use std::path::{Path, PathBuf};

use super::schema::{AttemptRecord, Repro};
use crate::error::Error;

/// Largest `repro.json` read.
const MAX_JSON_BYTES: u64 = 16 << 20;
/// Largest text shown whole (`final.patch`, `final_summary.md`); longer text is cut.
const MAX_TEXT_BYTES: u64 = 4 << 20;
/// Largest candidate diff of a failed attempt shown whole.
const MAX_CANDIDATE_BYTES: u64 = 256 << 10;
/// Most attempts read (a bundle may claim any number).
const MAX_ATTEMPTS: usize = 200;

/// Text read up to a cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped {
    pub text: String,
    /// The file was longer than the cap; `text` is its beginning.
    pub truncated: bool,
}

/// One attempt as the bundle records it, with its candidate diff when there was one.
#[derive(Debug, Clone)]
pub struct AttemptView {
    pub record: AttemptRecord,
    pub candidate: Option<Capped>,
}

/// The parts of a bundle `pp show` presents.
#[derive(Debug, Clone)]
pub struct BundleView {
    /// The `proof_bundle` folder.
    pub dir: PathBuf,
    pub repro: Repro,
    pub final_patch: Option<Capped>,
    pub final_summary: Option<Capped>,
    pub attempts: Vec<AttemptView>,
    pub has_attestation: bool,
}

/// The `proof_bundle` folder `path` names: the folder itself, or a session folder holding one.
pub fn bundle_dir(path: &Path) -> Result<PathBuf, Error> {
    let is_dir = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_dir());
    if !is_dir(path) {
        return Err(Error::Usage {
            message: format!("{} is not a folder", path.display()),
            hint: "pass a bundle (.pp-artifacts/<session-id>/proof_bundle), its session folder, or `last`".into(),
        });
    }
    let inner = path.join("proof_bundle");
    // A session folder holds `proof_bundle`; a bundle holds `repro.json`.
    if std::fs::symlink_metadata(path.join("repro.json")).is_err()
        && std::fs::symlink_metadata(&inner).is_ok_and(|m| m.is_dir())
    {
        return Ok(inner);
    }
    Ok(path.to_path_buf())
}

/// Reads `rel` beneath `dir`, at most `max` bytes; `None` when it does not exist.
fn read_capped(dir: &Path, rel: &str, max: u64) -> Result<Option<Capped>, Error> {
    use std::io::Read;
    let file = match crate::beneath::open(dir, Path::new(rel)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Usage {
                message: format!("cannot read {}: {e}", dir.join(rel).display()),
                hint: "a bundle's files are regular files inside it; a symlink or a folder in their place is refused (`pp verify-attestation` says whether the bundle changed since it was signed)".into(),
            });
        }
    };
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Usage {
            message: format!("cannot read {}: {e}", dir.join(rel).display()),
            hint: "check the file's permissions".into(),
        })?;
    let truncated = bytes.len() as u64 > max;
    bytes.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    Ok(Some(Capped {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        truncated,
    }))
}

fn damaged_hint() -> String {
    "the bundle is damaged or was not written by pp; `pp verify-attestation BUNDLE` says whether it changed since it was signed".into()
}

/// Reads the bundle in `dir` (a `proof_bundle` folder).
pub fn load(dir: &Path) -> Result<BundleView, Error> {
    let repro_path = dir.join("repro.json");
    let Some(raw) = read_capped(dir, "repro.json", MAX_JSON_BYTES)? else {
        return Err(Error::Usage {
            message: format!(
                "{} is not a pp bundle: it has no repro.json",
                dir.display()
            ),
            hint: "pass a bundle (.pp-artifacts/<session-id>/proof_bundle), its session folder, or `last`".into(),
        });
    };
    if raw.truncated {
        return Err(Error::Usage {
            message: format!(
                "{} is larger than {MAX_JSON_BYTES} bytes",
                repro_path.display()
            ),
            hint: damaged_hint(),
        });
    }
    let repro: Repro = serde_json::from_str(&raw.text).map_err(|e| Error::Usage {
        message: format!("{} is not valid JSON: {e}", repro_path.display()),
        hint: damaged_hint(),
    })?;
    if !repro.schema_version.starts_with("pp.repro/") {
        return Err(Error::Usage {
            message: format!(
                "{} is not a pp repro.json (schema_version {:?})",
                repro_path.display(),
                repro.schema_version
            ),
            hint: damaged_hint(),
        });
    }
    let mut attempts = Vec::new();
    for record in repro.attempts.iter().take(MAX_ATTEMPTS) {
        // The record in repro.json is the session's; the candidate is beside its outcome.
        let candidate = read_capped(
            dir,
            &format!("attempts/{}/candidate.diff", record.attempt),
            MAX_CANDIDATE_BYTES,
        )
        .ok()
        .flatten();
        attempts.push(AttemptView {
            record: record.clone(),
            candidate,
        });
    }
    Ok(BundleView {
        dir: dir.to_path_buf(),
        final_patch: read_capped(dir, "final.patch", MAX_TEXT_BYTES)?,
        final_summary: read_capped(dir, "final_summary.md", MAX_TEXT_BYTES)?,
        has_attestation: std::fs::symlink_metadata(dir.join("attestation.json")).is_ok(),
        attempts,
        repro,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_bundles_are_refused_with_the_file_named() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path();
        let err = load(b).unwrap_err().to_string();
        assert!(err.contains("no repro.json"), "{err}");
        std::fs::write(b.join("repro.json"), "{not json").unwrap();
        let err = load(b).unwrap_err().to_string();
        assert!(err.contains("repro.json is not valid JSON"), "{err}");
        std::fs::write(b.join("repro.json"), r#"{"schema_version": "x/v1"}"#).unwrap();
        assert!(
            load(b)
                .unwrap_err()
                .to_string()
                .contains("not a pp repro.json")
        );
        // A patch that is a link out of the bundle is not followed.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "key").unwrap();
        std::fs::write(
            b.join("repro.json"),
            r#"{"schema_version": "pp.repro/v1", "status": "proven"}"#,
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), b.join("final.patch")).unwrap();
        let err = load(b).unwrap_err().to_string();
        assert!(err.contains("final.patch"), "{err}");
        std::fs::remove_file(b.join("final.patch")).unwrap();
        let v = load(b).unwrap();
        assert!(v.final_patch.is_none());
    }

    #[test]
    fn long_text_is_cut_and_says_so() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("f"), "abcdef").unwrap();
        let c = read_capped(d.path(), "f", 4).unwrap().unwrap();
        assert_eq!((c.text.as_str(), c.truncated), ("abcd", true));
        let c = read_capped(d.path(), "f", 6).unwrap().unwrap();
        assert_eq!((c.text.as_str(), c.truncated), ("abcdef", false));
    }
}
