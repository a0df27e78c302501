//! The `overlay` backend on Linux: the workspace is the lower layer of an overlayfs whose upper
//! and work layers are pp's own temp dir, mounted AT THE WORKSPACE'S OWN PATH inside a private
//! mount namespace (inside an unprivileged user namespace when pp is not root, mounted with
//! `userxattr` there). Commands see the same paths, `target/`, `.venv`, `node_modules`; every
//! write lands in the upper layer and the user's files never change.
//!
//! pp's session is multi-threaded and cannot enter a mount namespace itself, so a small holder
//! process (`pp __isolate --hold-overlay …`) creates the namespace, mounts the overlay and waits
//! on its stdin. pp reads and writes the sandbox through `/proc/<holder>/root/<workspace>`
//! (the same mount, seen from outside); each command's process joins the holder's namespaces
//! between fork and exec (`Entry`) and runs at the workspace's real path. When pp drops the
//! sandbox (or dies: its end of the pipe closes) the holder exits, the namespace and its mount
//! go with it, and the temp dir is removed.
//!
//! Beware: a process whose cwd is the `/proc/<holder>/root/…` view gets the workspace's host
//! path from `getcwd`; only pp's own path-joining file operations, and `git apply` (which never
//! leaves its cwd, see `patch/git.rs`), use the view.

use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};
use nix::unistd::{getgid, getuid};

use super::isolate::{Holder, ISOLATE_SUBCOMMAND};

/// Test hook: when set (to anything but `0`), the holder behaves as on a kernel that refuses
/// namespaces to pp, so `auto` must fall back to `copy` (documented in the README).
pub const SIMULATE_REFUSAL_ENV: &str = "PP_SIMULATE_USERNS_REFUSED";

/// A mounted overlay, held by a helper process. Dropping it releases the mount.
#[derive(Debug)]
pub struct Overlay {
    child: Option<Child>,
    holder: Holder,
    view: PathBuf,
    user_namespace: bool,
}

impl Overlay {
    /// Mounts an overlay of `lower` (an absolute, canonical path) at `lower` itself in a new
    /// holder's mount namespace, with `upper` and `work` (empty dirs on one filesystem).
    pub fn mount(self_exe: &Path, lower: &Path, upper: &Path, work: &Path) -> Result<Self, String> {
        let mut args = vec![ISOLATE_SUBCOMMAND.to_owned(), "--hold-overlay".to_owned()];
        for p in [lower, upper, work] {
            args.push(option_safe(p)?.to_owned());
        }
        let mut holder = Command::new(self_exe);
        // The holder needs no environment, and pp's holds model and attestation keys.
        holder.args(&args).env_clear();
        if let Some(v) = std::env::var_os(SIMULATE_REFUSAL_ENV) {
            holder.env(SIMULATE_REFUSAL_ENV, v);
        }
        let mut child = holder
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C at the terminal is pp's to handle, and pp
            // releases the holder itself.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", self_exe.display()))?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let user_namespace = match (read, line.trim().strip_prefix("ready ")) {
            (Some(Ok(_)), Some(how)) => how == "userns",
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let why = line.trim().strip_prefix("error: ").unwrap_or(line.trim());
                return Err(if why.is_empty() {
                    "the overlay holder exited without a word".to_owned()
                } else {
                    why.to_owned()
                });
            }
        };
        let pid = child.id();
        let mut me = Self {
            child: Some(child),
            holder: Holder { pid, mnt_ino: 0 },
            view: Path::new("/proc")
                .join(pid.to_string())
                .join("root")
                .join(lower.strip_prefix("/").unwrap_or(lower)),
            user_namespace,
        };
        me.holder.mnt_ino = std::fs::metadata(format!("/proc/{pid}/ns/mnt"))
            .map_err(|e| format!("cannot read the holder's mount namespace: {e}"))?
            .ino();
        std::fs::metadata(&me.view).map_err(|e| {
            format!(
                "cannot reach the overlay through {}: {e}",
                me.view.display()
            )
        })?;
        // Commands must be able to join: check once, the way they join.
        let mut joined = Command::new("true");
        Entry::open(me.holder, lower)
            .map_err(|e| format!("cannot open the overlay's namespaces: {e}"))?
            .install_std(&mut joined);
        let joined = joined
            .env_clear()
            .envs(std::env::var_os("PATH").map(|p| ("PATH", p)))
            .current_dir(lower)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("could not run a command in the overlay: {e}"))?;
        if !joined.status.success() {
            return Err(format!(
                "a command could not join the overlay's namespace: {}",
                String::from_utf8_lossy(&joined.stderr).trim()
            ));
        }
        Ok(me)
    }

    /// The holder's stdin, as the place to report commands' process groups: should pp die,
    /// the holder kills them before it unmounts (see `hold`).
    pub fn take_watch(&mut self) -> Option<super::GroupWatch> {
        let stdin = self.child.as_mut()?.stdin.take()?;
        Some(super::GroupWatch::new(stdin))
    }

    pub fn holder(&self) -> Holder {
        self.holder
    }

    /// Where pp itself reads and writes the merged tree.
    pub fn view(&self) -> &Path {
        &self.view
    }

    /// Whether the holder needed an unprivileged user namespace (and `userxattr`).
    pub fn user_namespace(&self) -> bool {
        self.user_namespace
    }

    /// Releases the mount: the holder exits, and its namespace and the overlay go with it.
    /// Killed before its stdin closes, so it never starts its own clean-up (see `hold`) while
    /// pp removes or keeps the layers.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Makes the kernel's work dir removable: overlayfs leaves `work/work` (and, with `volatile`,
/// `work/work/incompat/volatile`) with mode 000, which only root could delete. The tree is a
/// handful of entries.
pub fn prepare_removal(work: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![work.to_owned()];
    while let Some(dir) = stack.pop() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
}

/// The legacy mount(2) option string cannot carry these characters unescaped.
fn option_safe(p: &Path) -> Result<&str, String> {
    let s = p
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", p.display()))?;
    if s.contains([',', ':', '\\', '\n']) {
        return Err(format!(
            "{s} contains `,`, `:` or `\\`, which overlay mount options cannot carry"
        ));
    }
    Ok(s)
}

/// The holder: mounts, says `ready`, then waits for stdin to close. pp kills it when it is done
/// with the sandbox; stdin closing first means pp died without that (SIGKILL, a crash), so the
/// holder kills the commands pp reported still running, and removes the layers itself. Its exit code only matters for diagnostics.
pub fn hold(lower: &str, upper: &str, work: &str) -> u8 {
    let mut out = std::io::stdout();
    match mount_private(lower, upper, work) {
        Ok(userns) => {
            let _ = writeln!(out, "ready {}", if userns { "userns" } else { "root" });
            let _ = out.flush();
            // pp reports its commands' process groups here; end of file means pp is gone.
            super::read_reports(std::io::stdin().lock()).clean_up();
            let _ = nix::mount::umount2(lower, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir_all(upper);
            prepare_removal(Path::new(work));
            let _ = std::fs::remove_dir_all(work);
            // The temp dir pp made for the two layers and the commands' private cache, when it
            // is now empty.
            if let Some(parent) = Path::new(upper).parent()
                && parent
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("pp-sandbox-"))
            {
                for cache in super::CACHE_DIRS {
                    let _ = std::fs::remove_dir_all(parent.join(cache));
                }
                let _ = std::fs::remove_dir(parent);
            }
            0
        }
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            let _ = out.flush();
            1
        }
    }
}

fn mount_private(lower: &str, upper: &str, work: &str) -> std::io::Result<bool> {
    if std::env::var_os(SIMULATE_REFUSAL_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
        return Err(std::io::Error::other(format!(
            "the kernel refused a user namespace (simulated: {SIMULATE_REFUSAL_ENV} is set)"
        )));
    }
    let (uid, gid) = (getuid(), getgid());
    let userns = match unshare(CloneFlags::CLONE_NEWNS) {
        Ok(()) => false,
        Err(Errno::EPERM) => {
            unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).map_err(|e| {
                std::io::Error::other(format!(
                    "the kernel refused a user + mount namespace ({e}); unprivileged user \
                     namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, \
                     user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns)"
                ))
            })?;
            // Map ourselves to ourselves so files keep their owner.
            std::fs::write("/proc/self/setgroups", "deny")?;
            std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
            std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
            true
        }
        Err(e) => {
            return Err(std::io::Error::other(format!(
                "the kernel refused a mount namespace: {e}"
            )));
        }
    };
    // Nothing mounted here may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| std::io::Error::other(format!("cannot make / a slave mount: {e}")))?;
    // In a user namespace the overlay keeps its whiteouts and redirects in user.* xattrs; without
    // `userxattr` renaming a directory from the lower layer fails with EIO.
    let mut data = format!("lowerdir={lower},upperdir={upper},workdir={work}");
    if userns {
        data.push_str(",userxattr");
    }
    // `volatile` skips syncing the upper layer's filesystem, above all at unmount, which would
    // otherwise flush every dirty page of that filesystem (seconds after a big build); the upper
    // layer is thrown away anyway. Kernels before 5.10 do not know it.
    let overlay = |data: &str| {
        mount(
            Some("overlay"),
            lower,
            Some("overlay"),
            MsFlags::empty(),
            Some(data),
        )
    };
    overlay(&format!("{data},volatile"))
        .or_else(|e| match e {
            Errno::EINVAL => overlay(&data),
            e => Err(e),
        })
        .map_err(|e| std::io::Error::other(format!("the kernel refused the overlay mount: {e}")))?;
    Ok(userns)
}

/// A holder's namespaces, opened and checked by pp before a command is spawned, and entered
/// by the command's own process between fork and exec: that process is single-threaded, as
/// `setns` of a user namespace requires, so no re-execution of pp is needed to get there.
#[derive(Debug)]
pub struct Entry {
    /// The holder's user namespace, when it is not pp's own.
    user: Option<OwnedFd>,
    mnt: OwnedFd,
    /// The directory to return to: entering a mount namespace moves the caller to its root.
    cwd: CString,
}

impl Entry {
    /// Opens `h`'s namespaces; refuses a holder whose mount namespace is not the recorded one
    /// (its pid was recycled). `cwd` is where the command runs, a path that shows the overlay
    /// inside the namespace.
    pub fn open(h: Holder, cwd: &Path) -> std::io::Result<Self> {
        let mnt = std::fs::File::open(format!("/proc/{}/ns/mnt", h.pid))?;
        if mnt.metadata()?.ino() != h.mnt_ino {
            return Err(std::io::Error::other(
                "the sandbox's mount namespace is gone (its holder exited)",
            ));
        }
        let user = std::fs::File::open(format!("/proc/{}/ns/user", h.pid))?;
        let ours = std::fs::metadata("/proc/self/ns/user")?.ino();
        let user = (user.metadata()?.ino() != ours).then(|| OwnedFd::from(user));
        let cwd = CString::new(cwd.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::other("the command's directory contains a NUL byte"))?;
        Ok(Self {
            user,
            mnt: mnt.into(),
            cwd,
        })
    }

    /// Enters the namespaces and returns to the command's directory. Only setns(2) and
    /// chdir(2) on what `open` prepared: safe between fork and exec.
    pub fn enter(&self) -> std::io::Result<()> {
        if let Some(user) = &self.user {
            setns(user, CloneFlags::CLONE_NEWUSER)?;
        }
        setns(&self.mnt, CloneFlags::CLONE_NEWNS)?;
        nix::unistd::chdir(self.cwd.as_c_str())?;
        Ok(())
    }

    /// Makes `cmd` enter the namespaces before it executes its program.
    #[expect(
        unsafe_code,
        reason = "pre_exec is unsafe; `enter` makes only async-signal-safe calls"
    )]
    pub fn install(self, cmd: &mut tokio::process::Command) {
        // SAFETY: `enter` calls setns(2) and chdir(2) on descriptors and a string allocated
        // before the fork; it allocates nothing and takes no lock.
        unsafe {
            cmd.pre_exec(move || self.enter());
        }
    }

    /// `install` for a std command.
    #[expect(
        unsafe_code,
        reason = "pre_exec is unsafe; `enter` makes only async-signal-safe calls"
    )]
    pub fn install_std(self, cmd: &mut Command) {
        // SAFETY: as in `install`.
        unsafe {
            cmd.pre_exec(move || self.enter());
        }
    }
}

/// What `pp doctor` shows about the overlay backend.
#[derive(Debug, Clone)]
pub struct Probe {
    pub setup_ms: f64,
    pub user_namespace: bool,
}

/// Mounts an overlay of a scratch tree, has a command in it rename a lower directory, delete a
/// lower file and create one, and checks that pp's view shows that while the lower layer does
/// not change.
pub fn probe(self_exe: &Path) -> Result<Probe, String> {
    let io = |e: std::io::Error| format!("probe scratch dir: {e}");
    let tmp = tempfile::Builder::new()
        .prefix("pp-overlay-probe-")
        .tempdir()
        .map_err(io)?;
    let base = tmp.path().canonicalize().map_err(io)?;
    let (lower, upper, work) = (base.join("lower"), base.join("upper"), base.join("work"));
    for d in [lower.join("d"), upper.clone(), work.clone()] {
        std::fs::create_dir_all(d).map_err(io)?;
    }
    std::fs::write(lower.join("d/f"), "lower").map_err(io)?;
    std::fs::write(lower.join("gone"), "x").map_err(io)?;
    let t = Instant::now();
    let mut ov = Overlay::mount(self_exe, &lower, &upper, &work)?;
    let setup_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut ran = Command::new("sh");
    Entry::open(ov.holder(), &lower)
        .map_err(|e| format!("cannot open the overlay's namespaces: {e}"))?
        .install_std(&mut ran);
    let ran = ran
        .args(["-c", "mv d e && rm gone && echo new > n"])
        .env_clear()
        .envs(std::env::var_os("PATH").map(|p| ("PATH", p)))
        .current_dir(&lower)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run a command in the overlay: {e}"))?;
    let view = ov.view().to_owned();
    let seen = (
        std::fs::read_to_string(view.join("e/f")).ok(),
        view.join("gone").exists(),
        std::fs::read_to_string(view.join("n")).ok(),
    );
    let user_namespace = ov.user_namespace();
    ov.stop();
    prepare_removal(&work);
    if !ran.status.success() {
        return Err(format!(
            "renaming and deleting inside the overlay failed: {}",
            String::from_utf8_lossy(&ran.stderr).trim()
        ));
    }
    if seen != (Some("lower".into()), false, Some("new\n".into())) {
        return Err("pp's view of the overlay does not show the command's changes".into());
    }
    if !lower.join("d/f").exists() || !lower.join("gone").exists() || lower.join("n").exists() {
        return Err("a command in the overlay changed the lower layer".into());
    }
    Ok(Probe {
        setup_ms,
        user_namespace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Entry` checks the holder's identity before anything is spawned: a pid whose mount
    /// namespace is not the recorded one (the holder exited and the pid was reused) is refused,
    /// and so is a pid that is gone.
    #[test]
    fn an_entry_is_opened_only_for_the_recorded_namespace() {
        let pid = std::process::id();
        let ino = std::fs::metadata(format!("/proc/{pid}/ns/mnt"))
            .unwrap()
            .ino();
        let here = Path::new("/");
        let ours = Entry::open(Holder { pid, mnt_ino: ino }, here).unwrap();
        // Our own user namespace is not entered again.
        assert!(ours.user.is_none());
        let err = Entry::open(
            Holder {
                pid,
                mnt_ino: ino + 1,
            },
            here,
        )
        .unwrap_err();
        assert!(err.to_string().contains("gone"), "{err}");
        assert!(
            Entry::open(
                Holder {
                    pid: u32::MAX - 1,
                    mnt_ino: ino
                },
                here
            )
            .is_err()
        );
    }
}
