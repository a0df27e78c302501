//! The guard of a `copy`, `git_worktree` or `container` sandbox: a small process outside pp
//! (`pp __isolate --guard DIR [--worktree WORKSPACE TOP]`) that pp tells about every command's
//! process group (`exec::GroupWatch`). pp stops it once pp has cleaned up itself; should pp die
//! first (SIGKILL, a crash), the guard reads end of file and does the cleaning: the commands, the
//! worktree's registration, the directory. The overlay's holder plays the same part for overlays.

use std::path::Path;

use super::{isolate, worktree};

/// Starts the guard of the sandbox in `dir` (see [`main`]). Without one (pp's own executable
/// cannot be run), the session goes on: a guard only matters if pp dies.
pub fn spawn(
    self_exe: &Path,
    dir: &Path,
    worktree: Option<(&Path, &Path)>,
) -> Option<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let dir = utf8(dir)?;
    let worktree = match worktree {
        Some((ws, top)) => Some((utf8(ws)?, utf8(top)?)),
        None => None,
    };
    let mut cmd = std::process::Command::new(self_exe);
    // Only what git (`worktree remove`: PATH, and HOME for `safe.directory`) and a container
    // client (`rm -f`: DOCKER_*/CONTAINER_*, XDG dirs) need; pp's keys stay behind.
    cmd.args(isolate::guard_args(dir, worktree))
        .env_clear()
        .envs(super::client_env(std::env::vars_os().filter_map(
            |(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)),
        )))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own group: neither a Ctrl-C at the terminal nor pp's group kills reach it.
        .process_group(0);
    cmd.spawn()
        .inspect_err(|e| tracing::warn!("no guard for the sandbox {dir}: {e}"))
        .ok()
}

fn utf8(p: &Path) -> Option<&str> {
    let s = p.to_str();
    if s.is_none() {
        tracing::warn!("no guard for the sandbox: {} is not UTF-8", p.display());
    }
    s
}

pub fn stop(guard: &mut Option<std::process::Child>) {
    if let Some(mut g) = guard.take() {
        let _ = g.kill();
        let _ = g.wait();
    }
}

/// `pp __isolate --guard DIR [--worktree WORKSPACE TOP]`: waits for pp's reports of process
/// groups until its stdin closes. pp kills the guard once it has removed the sandbox itself,
/// so end of file means pp died (SIGKILL, a crash): the guard removes the containers and kills
/// the commands still running, then removes the worktree's registration and the sandbox
/// directory (only a `pp-sandbox-*` one).
pub fn main(dir: &str, worktree: Option<(String, String)>) -> u8 {
    super::read_reports(std::io::stdin().lock()).clean_up();
    let dir = Path::new(dir);
    if !dir
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("pp-sandbox-"))
    {
        return 2;
    }
    if let Some((ws, top)) = worktree {
        let _ = worktree::remove(Path::new(&ws), Path::new(&top));
    }
    let _ = std::fs::remove_dir_all(dir);
    0
}
