//! Sandboxes: a private, writable view of the workspace where commands run and candidates are
//! applied, so the user's tree is never written. One sandbox lives for a whole session.
//! The confinement of the commands that run in it, and the `pp __isolate` helpers it uses,
//! live here too.
//!
//! `root()` is where pp itself reads and writes the sandbox's files; `command_cwd()` is where
//! commands run (the same directory for `copy`/`git_worktree`; the workspace's own path for
//! `overlay`, whose commands run inside the overlay's mount namespace: see `NamespaceEntry`).

mod confine;
mod container;
mod copy;
mod guard;
mod isolate;
mod watch;
mod worktree;

#[cfg(unix)]
#[path = "host_unix.rs"]
mod host;
#[cfg(not(unix))]
#[path = "host_stub.rs"]
mod host;

#[cfg(target_os = "linux")]
#[path = "overlay_linux.rs"]
mod overlay;
#[cfg(not(target_os = "linux"))]
#[path = "overlay_stub.rs"]
mod overlay;

#[cfg(target_os = "linux")]
#[path = "confine_linux.rs"]
mod confine_os;
#[cfg(not(target_os = "linux"))]
#[path = "confine_stub.rs"]
mod confine_os;

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use crate::policy::BackendKind;

pub use confine::SIMULATE_NETNS_REFUSAL_ENV;
pub use confine::{
    BWRAP_ENV, Confinement, Layers as ConfinementLayers, Unconfinable, find_bwrap, probe_host,
};
pub use container::{
    ContainerError, ContainerNetwork, ContainerSpec, EngineInfo, SESSION_LABEL, client_env,
    client_version as container_client_version, container_env_names,
    engine_version as container_engine_version, image_id as container_image_id,
    probe as probe_container_engine, probe_start as probe_container_start,
    remove_stale as remove_stale_containers,
};
pub use isolate::{Holder, ISOLATE_SUBCOMMAND, main as isolate_main};
pub use overlay::Entry as NamespaceEntry;
pub use overlay::{Probe as OverlayProbe, SIMULATE_REFUSAL_ENV, probe as probe_overlay};
pub use watch::{GroupWatch, Reports, read_reports, signal_command};

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
    #[error("git failed: {message}")]
    Git { message: String },
    #[error("sandbox backend `{backend}` is not available here: {reason}")]
    Unsupported {
        backend: String,
        reason: String,
        hint: String,
    },
}

impl SandboxError {
    /// What the user can do about it, when it is theirs to fix.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::Git { .. } => Some(
                "the git_worktree backend needs a git repository with at least one commit; use `sandbox.backend: copy` otherwise",
            ),
            Self::Unsupported { hint, .. } => Some(hint),
            Self::Create { .. } | Self::Copy { .. } => None,
        }
    }
}

/// A live sandbox. Dropping it removes it unless it was kept.
#[derive(Debug)]
pub struct Sandbox {
    kind: BackendKind,
    root: PathBuf,
    command_cwd: PathBuf,
    reason: String,
    temp: Option<tempfile::TempDir>,
    /// For `git_worktree`: the user's workspace and the worktree's top directory.
    worktree_of: Option<(PathBuf, PathBuf)>,
    overlay: Option<overlay::Overlay>,
    overlay_info: Option<OverlayInfo>,
    /// For `copy` and `git_worktree`: the guard process (see [`guard`]).
    guard: Option<std::process::Child>,
    /// Where commands' process groups are reported: the guard's or the overlay holder's stdin.
    watch: Option<GroupWatch>,
    /// The user's real tree (the repository's top, or the workspace), which confined commands
    /// must not reach.
    user_tree: PathBuf,
    /// The user's workspace, whose files `command_cwd` shows.
    workspace: PathBuf,
    self_exe: PathBuf,
    setup_ms: f64,
}

/// Names of the commands' private cache directory in a sandbox's temp dir (the second when the
/// sandbox tree itself bears the first name).
pub(crate) const CACHE_DIRS: [&str; 2] = ["pp-cache", "pp-cache.d"];

/// What the bundle records about the sandbox.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SandboxInfo {
    pub backend: &'static str,
    pub requested: &'static str,
    pub reason: String,
    /// Where pp read and wrote the sandbox's files.
    pub root: PathBuf,
    /// Where the commands ran.
    pub command_cwd: PathBuf,
    pub setup_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlay: Option<OverlayInfo>,
}

/// How an overlay sandbox was mounted.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OverlayInfo {
    /// The workspace, which is also where the overlay is mounted inside the namespace.
    pub lower: PathBuf,
    pub upper: PathBuf,
    pub user_namespace: bool,
    pub userxattr: bool,
    pub holder_pid: u32,
}

impl Sandbox {
    /// Creates a sandbox of `workspace` with the requested backend (`auto` picks one).
    /// `self_exe` is pp's own executable, which the overlay backend runs as its holder.
    pub fn create(
        workspace: &Path,
        requested: BackendKind,
        exclude: &[String],
        self_exe: &Path,
    ) -> Result<Self, SandboxError> {
        let clock = std::time::Instant::now();
        let temp = tempfile::Builder::new()
            .prefix("pp-sandbox-")
            .tempdir()
            .map_err(|source| SandboxError::Create {
                path: std::env::temp_dir(),
                source,
            })?;
        let (kind, reason) = match requested {
            BackendKind::Auto => match Self::overlay(workspace, temp, self_exe) {
                Ok(mut s) => {
                    s.reason = "auto: overlay, because the probe succeeded (a private mount \
                                namespace with the workspace as the lower layer)"
                        .to_owned();
                    s.setup_ms = clock.elapsed().as_secs_f64() * 1000.0;
                    return Ok(s);
                }
                Err((why, temp)) => {
                    tracing::info!("overlay sandbox unavailable, copying instead: {why}");
                    return Self::plain(
                        workspace,
                        BackendKind::Copy,
                        format!("auto: copy, because the overlay probe failed: {why}"),
                        exclude,
                        temp,
                        clock,
                        self_exe,
                    );
                }
            },
            BackendKind::Overlay => match Self::overlay(workspace, temp, self_exe) {
                Ok(mut s) => {
                    s.reason = "requested by the policy".to_owned();
                    s.setup_ms = clock.elapsed().as_secs_f64() * 1000.0;
                    return Ok(s);
                }
                Err((why, _)) => {
                    return Err(SandboxError::Unsupported {
                        backend: "overlay".into(),
                        reason: why,
                        hint: "use `sandbox.backend: auto` (falls back to copy) or `copy`; `pp doctor` shows the overlay probe".into(),
                    });
                }
            },
            // The container sees a copy of the workspace, bind-mounted; the session checks the
            // engine and image before it gets here.
            BackendKind::Container => (
                BackendKind::Container,
                "requested by the policy: a copy of the workspace, bind-mounted into a container per command"
                    .to_owned(),
            ),
            k => (k, "requested by the policy".to_owned()),
        };
        Self::plain(workspace, kind, reason, exclude, temp, clock, self_exe)
    }

    /// A `copy` or `git_worktree` sandbox in `temp`, guarded from the start.
    fn plain(
        workspace: &Path,
        kind: BackendKind,
        reason: String,
        exclude: &[String],
        temp: tempfile::TempDir,
        clock: std::time::Instant,
        self_exe: &Path,
    ) -> Result<Self, SandboxError> {
        let name = workspace
            .file_name()
            .map(|n| n.to_owned())
            .unwrap_or_else(|| "workspace".into());
        let top = temp.path().join(name);
        let mut guard = guard::spawn(
            self_exe,
            temp.path(),
            (kind == BackendKind::GitWorktree).then_some((workspace, top.as_path())),
        );
        let watch = guard
            .as_mut()
            .and_then(|g| g.stdin.take())
            .map(GroupWatch::new);
        let made = match kind {
            BackendKind::GitWorktree => worktree::create(workspace, &top)
                .map(|root| (root, Some((workspace.to_owned(), top)))),
            _ => copy::copy_tree(workspace, &top, exclude).map(|()| (top, None)),
        };
        let (root, worktree_of) = match made {
            Ok(m) => m,
            Err(e) => {
                // pp is alive and cleans up itself: the guard must not act on the pipe closing.
                guard::stop(&mut guard);
                return Err(e);
            }
        };
        Ok(Self {
            kind,
            user_tree: user_tree(workspace),
            workspace: workspace.to_owned(),
            self_exe: self_exe.to_owned(),
            command_cwd: root.clone(),
            root,
            reason,
            temp: Some(temp),
            worktree_of,
            overlay: None,
            overlay_info: None,
            guard,
            watch,
            setup_ms: clock.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// An overlay sandbox whose upper layer lives in `temp`; on failure, why, and `temp` back.
    fn overlay(
        workspace: &Path,
        temp: tempfile::TempDir,
        self_exe: &Path,
    ) -> Result<Self, (String, tempfile::TempDir)> {
        let ws = match workspace.canonicalize() {
            Ok(p) => p,
            Err(e) => return Err((format!("cannot resolve the workspace path: {e}"), temp)),
        };
        // When the workspace is a folder of a git repository, the whole repository is the lower
        // layer, so a command writing beside the workspace (a member crate's `../../target`, a
        // monorepo script) writes into the sandbox, not into the user's repository.
        let lower = user_tree(&ws);
        let rel = ws
            .strip_prefix(&lower)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let (upper, work) = (temp.path().join("upper"), temp.path().join("work"));
        for d in [&upper, &work] {
            if let Err(e) = std::fs::create_dir(d) {
                return Err((format!("cannot create {}: {e}", d.display()), temp));
            }
        }
        if upper.starts_with(&lower) {
            return Err((
                format!(
                    "the temp dir {} is inside the workspace (set TMPDIR elsewhere)",
                    temp.path().display()
                ),
                temp,
            ));
        }
        match overlay::Overlay::mount(self_exe, &lower, &upper, &work) {
            Ok(mut ov) => Ok(Self {
                watch: ov.take_watch(),
                user_tree: lower.clone(),
                workspace: ws.clone(),
                self_exe: self_exe.to_owned(),
                guard: None,
                kind: BackendKind::Overlay,
                root: ov.view().join(&rel),
                command_cwd: ws,
                reason: String::new(),
                temp: Some(temp),
                worktree_of: None,
                overlay_info: Some(OverlayInfo {
                    lower,
                    upper,
                    user_namespace: ov.user_namespace(),
                    userxattr: ov.user_namespace(),
                    holder_pid: ov.holder().pid,
                }),
                overlay: Some(ov),
                setup_ms: 0.0,
            }),
            Err(why) => {
                overlay::prepare_removal(&work);
                Err((why, temp))
            }
        }
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// The directory holding the sandboxed workspace, where pp reads and writes its files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where commands run: `root()` for `copy` and `git_worktree`; for `overlay`, the
    /// workspace's own path, which only shows the overlay inside its mount namespace.
    pub fn command_cwd(&self) -> &Path {
        &self.command_cwd
    }

    /// How commands run in this sandbox are confined (see `confine.rs`): the sandbox tree
    /// writable, its `.git` read-only, the user's real tree hidden (an overlay covers it by
    /// itself), the bundle folder masked, and every file of `secrets` (pp's signing key)
    /// unreadable, where it is and, for one inside the workspace, where the sandbox holds it.
    /// `bwrap` is the bubblewrap to run.
    pub fn confinement(
        &self,
        deny_network: bool,
        bwrap: &Path,
        secrets: &[PathBuf],
    ) -> Confinement {
        let overlay = self.overlay.as_ref().map(overlay::Overlay::holder);
        let writable = match (&overlay, &self.worktree_of) {
            // The overlay is mounted over the whole repository.
            (Some(_), _) => self.user_tree.clone(),
            (None, Some((_, top))) => top.clone(),
            (None, None) => self.root.clone(),
        };
        let mut read_only = Vec::new();
        let git = writable.join(".git");
        // A folder, or a worktree's `.git` file (pointing into the user's repository), which a
        // command must not replace with a repository of its own.
        if std::fs::symlink_metadata(&git).is_ok_and(|m| m.is_dir() || m.is_file()) {
            read_only.push(git);
        }
        if self.worktree_of.is_some() {
            // The worktree's `.git` file points into the user's repository: its git dir is
            // bound back, read-only, under the hidden tree.
            let common = self.user_tree.join(".git");
            if common.is_dir() {
                read_only.push(common);
            }
        }
        let mut masked = Vec::new();
        if overlay.is_some() {
            // The overlay's lower layer is the user's tree, bundles included.
            let artifacts = self.command_cwd.join(".pp-artifacts");
            if artifacts.is_dir() {
                masked.push(artifacts);
            }
        }
        let mut unreadable: Vec<PathBuf> = Vec::new();
        for s in secrets {
            // The path named, what it links to, and its copy in the sandbox.
            let real = std::fs::canonicalize(s).ok();
            let copies = [Some(s.clone()), real.clone()]
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    p.strip_prefix(&self.workspace)
                        .ok()
                        .map(|rel| self.command_cwd.join(rel))
                })
                .collect::<Vec<_>>();
            for p in [Some(s.clone()), real].into_iter().flatten().chain(copies) {
                if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file())
                    && !unreadable.contains(&p)
                {
                    unreadable.push(p);
                }
            }
        }
        Confinement {
            bwrap: bwrap.to_owned(),
            self_exe: self.self_exe.clone(),
            join: overlay,
            deny_network,
            hidden: if overlay.is_some() {
                Vec::new()
            } else {
                vec![self.user_tree.clone()]
            },
            writable: vec![writable],
            read_only,
            masked,
            unreadable,
            cache: self.cache_dir(),
        }
    }

    /// The sandbox's private cache directory (see `Confinement::cache`), made on first use in
    /// the sandbox's temp dir, beside the sandbox tree; `None` when it cannot be made.
    fn cache_dir(&self) -> Option<PathBuf> {
        let temp = self.temp.as_ref()?.path();
        let dir = CACHE_DIRS
            .iter()
            .map(|n| temp.join(n))
            .find(|d| !self.root.starts_with(d) && !self.command_cwd.starts_with(d))?;
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir)
    }

    /// Where a command's process group is reported, so it is killed should pp die (the
    /// guard's or the overlay holder's stdin; see `exec::GroupWatch`).
    pub fn group_watch(&self) -> Option<GroupWatch> {
        self.watch.clone()
    }

    pub fn info(&self, requested: BackendKind) -> SandboxInfo {
        SandboxInfo {
            backend: self.kind.as_str(),
            requested: requested.as_str(),
            reason: self.reason.clone(),
            root: self.root.clone(),
            command_cwd: self.command_cwd.clone(),
            setup_ms: self.setup_ms,
            overlay: self.overlay_info.clone(),
        }
    }

    /// Keeps the sandbox on disk (`--keep-sandbox`) and returns where it is. An overlay's
    /// merged tree exists only while it is mounted, so it is copied out first (beside `upper/`,
    /// which holds exactly the files the session wrote); this costs a copy only when asked for.
    pub fn keep(mut self) -> PathBuf {
        if let (Some(ov), Some(t)) = (self.overlay.as_ref(), self.temp.as_ref()) {
            let name = self
                .command_cwd
                .file_name()
                .map(|n| n.to_owned())
                .unwrap_or_else(|| "workspace".into());
            let merged = t.path().join(name);
            self.root = match copy::copy_tree(ov.view(), &merged, &[]) {
                Ok(()) => merged,
                Err(e) => {
                    tracing::warn!("could not copy the overlay's merged tree out: {e}");
                    t.path().join("upper")
                }
            };
        }
        if let Some(mut ov) = self.overlay.take() {
            ov.stop();
        }
        // Before pp exits, or the guard would take pp's end for a death and remove it all.
        guard::stop(&mut self.guard);
        if let Some(t) = self.temp.take() {
            overlay::prepare_removal(&t.path().join("work"));
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
        // Unmount before removing the layers under it.
        if let Some(mut ov) = self.overlay.take() {
            ov.stop();
        }
        let removed = self.remove_files();
        // Only now: should pp die while removing a copy or worktree, the guard finishes the
        // job (an overlay's holder is gone by then; its layers are plain files in pp's temp dir).
        // It cannot take this for pp's death meanwhile, as `self.watch` keeps its stdin open.
        guard::stop(&mut self.guard);
        removed
    }

    fn remove_files(&mut self) -> Result<(), SandboxError> {
        if let Some((ws, top)) = self.worktree_of.take() {
            worktree::remove(&ws, &top)?;
        }
        if let Some(t) = self.temp.take() {
            let path = t.path().to_owned();
            overlay::prepare_removal(&path.join("work"));
            t.close()
                .map_err(|source| SandboxError::Create { path, source })?;
        }
        Ok(())
    }
}

/// The tree a sandbox of `workspace` stands for: the repository's top when the workspace is a
/// folder of one (commands could write beside the workspace), else the workspace itself.
fn user_tree(workspace: &Path) -> PathBuf {
    let ws = workspace
        .canonicalize()
        .unwrap_or_else(|_| workspace.to_owned());
    git2::Repository::discover(&ws)
        .ok()
        .and_then(|r| r.workdir().and_then(|w| w.canonicalize().ok()))
        .filter(|top| ws.starts_with(top))
        .unwrap_or(ws)
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            tracing::warn!("failed to remove sandbox {}: {e}", self.root.display());
        }
    }
}
