//! `pp show [BUNDLE|last] [--html FILE]`: a bundle for a person. The bundle is read as hostile
//! input (`bundle::view`), its attestation checked with the viewer's keys (the same check as
//! `pp verify-attestation`), and the report printed (`report::show`) or, with `--json`, the
//! `pp.show/v1` document. `--html` also writes the page (`report::html`). The exit code says
//! whether the bundle could be shown, not whether it verifies: that is `verify-attestation`'s.

use std::path::{Path, PathBuf};

use super::args::ShowArgs;
use super::output;
use crate::bundle::sessions;
use crate::console::{errln, outln};
use crate::error::Error;
use crate::report::show::{ShowAttestation, ShowReport};
use crate::settings::Env;

/// `pp show`.
pub(super) fn show(a: ShowArgs, env: &Env) -> Result<u8, Error> {
    let dir = if a.bundle.as_os_str() == "last" {
        last_bundle(&output::workspace()?)?
    } else {
        crate::bundle::view::bundle_dir(&a.bundle)?
    };
    let view = crate::bundle::view::load(&dir)?;
    let attestation = check_attestation(&dir, view.has_attestation, env, &a)?;
    let report = ShowReport::new(&view, attestation);
    if let Some(file) = &a.html {
        let page = crate::report::html::render(&report);
        std::fs::write(file, page).map_err(|e| Error::Usage {
            message: format!("cannot write {}: {e}", file.display()),
            hint: "pass --html a file in a folder you can write to".into(),
        })?;
        errln!("wrote {}", file.display());
    }
    if a.json {
        let mut v = serde_json::to_value(&report).map_err(Error::EncodeOutput)?;
        if let Some(file) = &a.html {
            v["html"] = serde_json::json!(file);
        }
        output::print_json(&v)?;
    } else {
        let summary = view.final_summary.as_ref().map(|c| c.text.as_str());
        outln!("{}", crate::report::show::text(&report, summary).trim_end())?;
        if view.final_summary.as_ref().is_some_and(|c| c.truncated) {
            errln!("note: final_summary.md is longer than shown");
        }
    }
    Ok(0)
}

/// The newest session's bundle under this repository's `.pp-artifacts/`.
fn last_bundle(cwd: &Path) -> Result<PathBuf, Error> {
    let hint = "run `pp run CMD` here first, or pass a bundle's path (.pp-artifacts/<session-id>/proof_bundle)";
    let Some(artifacts) = sessions::find_artifacts(cwd) else {
        return Err(Error::Usage {
            message: format!(
                "no .pp-artifacts folder in {} or the repository above it",
                cwd.display()
            ),
            hint: hint.into(),
        });
    };
    let list = sessions::list_sessions(&artifacts).map_err(|e| Error::Io {
        what: format!("list {}", artifacts.display()),
        source: e,
    })?;
    match list.last() {
        Some(s) => Ok(s.bundle()),
        None => Err(Error::Usage {
            message: format!("{} holds no session", artifacts.display()),
            hint: hint.into(),
        }),
    }
}

/// What the viewer's keys say of the attestation: `pp verify-attestation`'s verdict.
fn check_attestation(
    dir: &Path,
    present: bool,
    env: &Env,
    a: &ShowArgs,
) -> Result<ShowAttestation, Error> {
    if !present {
        return Ok(ShowAttestation {
            trust: "unsigned".into(),
            problems: vec!["the bundle has no attestation.json".into()],
            ..ShowAttestation::default()
        });
    }
    let report =
        crate::session::verify_bundle(dir, env, &a.keys.key_env, &a.keys.public_key, None, false)?;
    Ok(ShowAttestation {
        present,
        verified: report.ok,
        trust: super::verify::trust_name(&report),
        signed_by: report.signed_by.clone(),
        problems: report.problems.clone(),
        notes: report.notes.clone(),
    })
}
