//! `--apply`: writing a proven `final.patch` into the user's own tree, only when that tree is
//! exactly as it was when the session began.

use crate::bundle::{BundleWriter, Manifest, manifest_cached};
use crate::error::Error;
use crate::patch;
use crate::settings::Settings;

/// Applies `patch_text` to the workspace after checking it is unchanged since the run began.
pub fn apply_to_workspace(
    settings: &Settings,
    bundle: &BundleWriter,
    patch_text: &str,
) -> Result<(), Error> {
    let unreadable = |source| Error::Unreadable {
        what: "workspace manifest",
        source,
    };
    let bytes = std::fs::read(bundle.path("workspace_manifest.json")).map_err(unreadable)?;
    let recorded: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| unreadable(std::io::Error::from(e)))?;
    let cache = settings
        .workspace
        .join(".pp-artifacts")
        .join(super::recorder::MANIFEST_CACHE);
    let now = manifest_cached(&settings.workspace, Some(&cache)).map_err(|e| Error::Io {
        what: format!("hash workspace {}", settings.workspace.display()),
        source: e,
    })?;
    if now.files != recorded.files {
        let before: std::collections::HashSet<&crate::bundle::ManifestEntry> =
            recorded.files.iter().collect();
        let after: std::collections::HashSet<&crate::bundle::ManifestEntry> =
            now.files.iter().collect();
        let mut changed: Vec<&str> = before
            .symmetric_difference(&after)
            .map(|f| f.path.as_str())
            .collect();
        changed.sort_unstable();
        changed.dedup();
        changed.truncate(10);
        return Err(Error::Usage {
            message: format!(
                "--apply refused: the working tree changed while pp ran ({}); final.patch was not applied",
                changed.join(", ")
            ),
            hint: format!(
                "review and apply it yourself: git apply {}",
                bundle.path("final.patch").display()
            ),
        });
    }
    let rules = super::attempt::write_rules(settings)
        .compile()
        .map_err(Error::WriteRules)?;
    let parsed = patch::parse(patch_text).map_err(Error::FinalPatch)?;
    patch::apply(&settings.workspace, &parsed, &rules).map_err(|e| Error::Usage {
        message: format!("--apply failed: {}", e.feedback()),
        hint: "the tree is unchanged; apply final.patch by hand".into(),
    })?;
    Ok(())
}
