//! Sandboxes: a private, writable view of the workspace where commands run and candidates are
//! applied, so the user's tree is never written. One sandbox lives for a whole session.
//! Network isolation of the commands that run in it lives here too.

mod container;
mod copy;
mod worktree;

#[cfg(unix)]
#[path = "host_unix.rs"]
mod host;
#[cfg(not(unix))]
#[path = "host_stub.rs"]
mod host;

#[cfg(target_os = "linux")]
#[path = "netns_linux.rs"]
mod netns;
#[cfg(not(target_os = "linux"))]
#[path = "netns_stub.rs"]
mod netns;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::policy::BackendKind;

pub use container::{
    ContainerError, ContainerNetwork, ContainerSpec, EngineInfo, SESSION_LABEL, client_env,
    client_version as container_client_version, container_env_names,
    engine_version as container_engine_version, image_id as container_image_id,
    probe as probe_container_engine, remove_stale as remove_stale_containers,
};
pub use netns::{ISOLATE_SUBCOMMAND, enter_and_exec, network_wrapper_args};

/// Errors creating or removing a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("failed to create a sandbox under {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to copy {} into the sandbox", path.display())]
    Copy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "git failed: {message}\nhint: the git_worktree backend needs a git repository with at least one commit; use `sandbox.backend: copy` otherwise"
    )]
    Git { message: String },
    #[error("sandbox backend `{backend}` is not available here: {reason}\nhint: {hint}")]
    Unsupported {
        backend: String,
        reason: String,
        hint: String,
    },
}

/// A live sandbox. Dropping it removes it unless it was kept.
#[derive(Debug)]
pub struct Sandbox {
    kind: BackendKind,
    root: PathBuf,
    reason: String,
    temp: Option<tempfile::TempDir>,
    /// For `git_worktree`: the user's workspace and the worktree's top directory.
    worktree_of: Option<(PathBuf, PathBuf)>,
}

/// What the bundle records about the sandbox.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxInfo {
    pub backend: &'static str,
    pub requested: &'static str,
    pub reason: String,
    pub root: PathBuf,
}

impl Sandbox {
    /// Creates a sandbox of `workspace` with the requested backend (`auto` picks one).
    pub fn create(
        workspace: &Path,
        requested: BackendKind,
        exclude: &[String],
    ) -> Result<Self, SandboxError> {
        let (kind, reason) = match requested {
            BackendKind::Auto => (
                BackendKind::Copy,
                "auto: copy is the backend available on every machine".to_owned(),
            ),
            // The container sees a copy of the workspace, bind-mounted; the session checks the
            // engine and image before it gets here.
            BackendKind::Container => (
                BackendKind::Container,
                "requested by the policy: a copy of the workspace, bind-mounted into a container per command"
                    .to_owned(),
            ),
            k => (k, "requested by the policy".to_owned()),
        };
        let temp = tempfile::Builder::new()
            .prefix("pp-sandbox-")
            .tempdir()
            .map_err(|source| SandboxError::Create {
                path: std::env::temp_dir(),
                source,
            })?;
        let name = workspace
            .file_name()
            .map(|n| n.to_owned())
            .unwrap_or_else(|| "workspace".into());
        let top = temp.path().join(name);
        let (root, worktree_of) = match kind {
            BackendKind::GitWorktree => {
                let root = worktree::create(workspace, &top)?;
                (root, Some((workspace.to_owned(), top)))
            }
            _ => {
                copy::copy_tree(workspace, &top, exclude)?;
                (top, None)
            }
        };
        Ok(Self {
            kind,
            root,
            reason,
            temp: Some(temp),
            worktree_of,
        })
    }

    /// The directory holding the sandboxed workspace; commands run here.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn info(&self, requested: BackendKind) -> SandboxInfo {
        SandboxInfo {
            backend: self.kind.as_str(),
            requested: requested.as_str(),
            reason: self.reason.clone(),
            root: self.root.clone(),
        }
    }

    /// Keeps the sandbox on disk (`--keep-sandbox`) and returns where it is.
    pub fn keep(mut self) -> PathBuf {
        if let Some(t) = self.temp.take() {
            let _ = t.keep();
        }
        self.worktree_of = None;
        self.root.clone()
    }

    /// Removes the sandbox now, reporting failures (dropping it removes it silently).
    pub fn cleanup(mut self) -> Result<(), SandboxError> {
        self.remove()
    }

    fn remove(&mut self) -> Result<(), SandboxError> {
        if let Some((ws, top)) = self.worktree_of.take() {
            worktree::remove(&ws, &top)?;
        }
        if let Some(t) = self.temp.take() {
            let path = t.path().to_owned();
            t.close()
                .map_err(|source| SandboxError::Create { path, source })?;
        }
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            tracing::warn!("failed to remove sandbox {}: {e}", self.root.display());
        }
    }
}

/// Copies a workspace the way the `copy` backend does (also used by replay).
pub fn copy_workspace(from: &Path, to: &Path, exclude: &[String]) -> Result<(), SandboxError> {
    copy::copy_tree(from, to, exclude)
}
