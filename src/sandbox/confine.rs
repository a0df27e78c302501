//! Confinement of every command pp runs over the user's code: what it may see, write and call.
//! The engine is bubblewrap (`bwrap`, the tool Flatpak and Codex CLI use), which builds the
//! namespaces and mounts; inside it, pp's own inner stage (`pp __isolate --confine`) closes every
//! inherited descriptor, adds Landlock where the kernel has it, and installs a seccomp filter
//! before it executes the command. This file owns the layout (which paths are writable,
//! read-only or hidden), the rendering of bwrap's arguments and the probe; the syscalls of the
//! inner stage are platform code (`confine_linux.rs`).
//!
//! What a confined command gets:
//! - its own PID namespace: pp and host processes are invisible, `/proc` is fresh, and when the
//!   command ends (or is killed) the namespace's init exits and the kernel kills everything the
//!   command started, `setsid` and double forks included;
//! - its own mount namespace: everything read-only except the sandbox tree and private, empty
//!   `/tmp`, `/var/tmp`, `/run` (so `/var/run`), `/dev/shm` (in a fresh `/dev`); `.git`
//!   read-only; the user's real tree (the whole repository) hidden under an empty tmpfs;
//! - a private cache directory of the sandbox's own (outside the workspace, gone with the
//!   sandbox), named by `XDG_CACHE_HOME` and `GOCACHE`: build caches (`go test`'s) stay warm
//!   across the session's commands while the user's own `~/.cache` stays read-only;
//! - a fresh network namespace with loopback up under `network: deny`;
//! - no new privileges, no capabilities, a new session (no terminal to inject into), a seccomp
//!   filter against namespace, mount, ptrace, keyring, bpf and module calls, Landlock on top.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::isolate::{Holder, ISOLATE_SUBCOMMAND};

/// Where pp's own executable is bound inside the confinement, for the inner stage.
pub const INNER_EXE: &str = "/run/pp-confine/pp";
/// Test hook: when set (to anything but `0`), the probe reports the kernel refusing a network
/// namespace, so `network: deny` must stop before anything runs.
pub const SIMULATE_NETNS_REFUSAL_ENV: &str = "PP_SIMULATE_NETNS_REFUSED";
/// Environment variable naming the bubblewrap executable (default: `bwrap` on `PATH`).
pub const BWRAP_ENV: &str = "PP_BWRAP";

/// Directories every confined command gets empty and private, in this order. `/dev/shm` is
/// private too: it is a plain directory of the fresh `/dev` bubblewrap builds.
const PRIVATE_DIRS: &[&str] = &["/tmp", "/var/tmp", "/run"];

/// Parts of `/proc` a uid 0 could write to change the host (besides `/proc/irq` and `/proc/bus`,
/// which bubblewrap covers itself): bound read-only over the fresh `/proc`.
const PROC_READ_ONLY: &[&str] = &["/proc/sys", "/proc/sysrq-trigger", "/proc/pressure"];

/// How one sandbox's commands are confined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    pub bwrap: PathBuf,
    pub self_exe: PathBuf,
    /// The overlay holder whose namespaces commands enter first (see `entry`).
    pub join: Option<Holder>,
    pub deny_network: bool,
    /// The user's real tree (a repository's top): hidden under an empty tmpfs. Empty for an
    /// overlay, whose mount already covers it.
    pub hidden: Vec<PathBuf>,
    /// Writable trees (the sandbox), seen at the same path inside.
    pub writable: Vec<PathBuf>,
    /// Read-only paths bound after the writable ones (`.git`, a worktree's real git dir).
    pub read_only: Vec<PathBuf>,
    /// Paths inside a writable tree that must be unreachable (an overlay's view of the bundle).
    pub masked: Vec<PathBuf>,
    /// Files no command may read (pp's signing key): an empty, read-only file is bound over
    /// each, last, so no other bind shows them again.
    pub unreadable: Vec<PathBuf>,
    /// The sandbox's private cache directory: writable, and named by `XDG_CACHE_HOME` and
    /// `GOCACHE` (the user's home stays read-only, where go cannot keep its build cache).
    pub cache: Option<PathBuf>,
}

/// The layers a confined command actually got, as the inner stage saw them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Layers {
    pub engine: String,
    pub pid_namespace: bool,
    pub mount_namespace: bool,
    pub network_namespace: bool,
    pub user_namespace: bool,
    pub no_new_privs: bool,
    pub capabilities: String,
    pub seccomp: String,
    pub landlock: String,
    pub inherited_fds_closed: bool,
}

/// Why commands cannot be confined here.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct Unconfinable {
    pub reason: String,
    pub hint: String,
}

impl Confinement {
    /// The program and its arguments, up to the `--` before the command's own argv. With an
    /// overlay, the command's process first enters its holder's namespaces: see `entry`.
    pub fn wrapper(&self) -> (PathBuf, Vec<String>) {
        (self.bwrap.clone(), self.bwrap_args())
    }

    /// The namespaces a command's process enters before it executes bubblewrap (an overlay's),
    /// opened now; `None` when there are none to enter.
    pub fn entry(&self, cwd: &Path) -> std::io::Result<Option<super::NamespaceEntry>> {
        self.join
            .map(|h| super::NamespaceEntry::open(h, cwd))
            .transpose()
    }

    /// bwrap's arguments, then the inner stage's, ending before `--` and the command.
    pub fn bwrap_args(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--new-session",
            // bubblewrap's init (pid 1 of the namespace) starts a session of its own, out of
            // reach of a kill of the command's group: it must die with bubblewrap, and
            // bubblewrap with pp, for the namespace (and all in it) to go.
            "--die-with-parent",
            "--cap-drop",
            "ALL",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // The kernel's switches under the fresh `/proc` are read-only. bubblewrap covers them
        // only where its own check finds them writable, which for `/proc/sys` (a 0555
        // directory) fails when pp runs as root: its files would stay writable to uid 0,
        // capabilities or not (`kernel.core_pattern` runs a program as root on the host).
        // bubblewrap binds from the old root, whose `/proc/sys` shows the same values (the
        // network's per namespace, by the reader's).
        for p in PROC_READ_ONLY {
            push(&mut a, "--ro-bind-try", &[Path::new(p), Path::new(p)]);
        }
        if self.deny_network {
            a.push("--unshare-net".to_owned());
        }
        for d in PRIVATE_DIRS {
            push(&mut a, "--tmpfs", &[Path::new(d)]);
        }
        // `/var/run` is a link to `/run` on current systems; where it is a directory of its
        // own, it is emptied too (the Docker socket lives there).
        if std::fs::symlink_metadata("/var/run").is_ok_and(|m| m.is_dir()) {
            push(&mut a, "--tmpfs", &[Path::new("/var/run")]);
        }
        for h in &self.hidden {
            push(&mut a, "--tmpfs", &[h]);
        }
        for w in &self.writable {
            push(&mut a, "--bind", &[w, w]);
        }
        if let Some(c) = &self.cache {
            push(&mut a, "--bind", &[c, c]);
        }
        for r in &self.read_only {
            push(&mut a, "--ro-bind", &[r, r]);
        }
        for m in &self.masked {
            push(&mut a, "--tmpfs", &[m]);
            push(&mut a, "--remount-ro", &[m]);
        }
        for f in &self.unreadable {
            push(&mut a, "--ro-bind", &[Path::new("/dev/null"), f]);
        }
        push(&mut a, "--ro-bind", &[&self.self_exe, Path::new(INNER_EXE)]);
        a.extend([
            "--setenv".to_owned(),
            "TMPDIR".to_owned(),
            "/tmp".to_owned(),
        ]);
        if let Some(c) = &self.cache {
            let c = c.to_string_lossy();
            a.extend([
                "--setenv".to_owned(),
                "XDG_CACHE_HOME".to_owned(),
                c.to_string(),
            ]);
            a.extend([
                "--setenv".to_owned(),
                "GOCACHE".to_owned(),
                format!("{c}/go-build"),
            ]);
        }
        a.extend([
            "--".to_owned(),
            INNER_EXE.to_owned(),
            ISOLATE_SUBCOMMAND.to_owned(),
            "--confine".to_owned(),
        ]);
        for w in self
            .writable
            .iter()
            .chain(&self.cache)
            .map(|p| p.as_path())
            .chain(
                PRIVATE_DIRS
                    .iter()
                    .chain(&["/dev", "/proc"])
                    .map(|d| Path::new(*d)),
            )
        {
            a.extend(["--rw".to_owned(), w.to_string_lossy().into_owned()]);
        }
        a
    }

    /// Runs `true` under this confinement (writable: a scratch dir) with the inner stage
    /// reporting its layers, so a machine that cannot confine stops before anything else runs.
    pub async fn probe(&self) -> Result<Layers, Unconfinable> {
        if self.deny_network
            && std::env::var_os(SIMULATE_NETNS_REFUSAL_ENV)
                .is_some_and(|v| !v.is_empty() && v != "0")
        {
            return Err(Unconfinable {
                reason: format!(
                    "the policy denies network access, but this machine cannot isolate commands from the network: the kernel refused a network namespace (simulated: {} is set)",
                    SIMULATE_NETNS_REFUSAL_ENV
                ),
                hint: "set `policy.network: allow` to run without network isolation, or `policy.sandbox.backend: container`; `pp doctor` shows what this machine offers".to_owned(),
            });
        }
        let (program, mut args) = self.wrapper();
        args.extend(["--probe".to_owned(), "--".to_owned(), "true".to_owned()]);
        let mut cmd = tokio::process::Command::new(&program);
        let entry = self.entry(Path::new("/")).map_err(|e| Unconfinable {
            reason: format!("cannot enter the sandbox's namespaces: {e}"),
            hint: "the overlay's holder exited; `pp doctor` shows what this machine offers".into(),
        })?;
        if let Some(entry) = entry {
            entry.install(&mut cmd);
        }
        cmd.args(&args)
            .current_dir("/")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let out = match tokio::time::timeout(std::time::Duration::from_secs(20), cmd.output()).await
        {
            Ok(Ok(out)) => out,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Unconfinable {
                    reason: format!("bubblewrap (`{}`) is not installed", self.bwrap.display()),
                    hint: format!(
                        "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`), or name it with {BWRAP_ENV}; or use `policy.sandbox.backend: container`"
                    ),
                });
            }
            Ok(Err(e)) => {
                return Err(Unconfinable {
                    reason: format!("could not run {}: {e}", program.display()),
                    hint: "check that it is executable; `pp doctor` shows each layer".into(),
                });
            }
            Err(_) => {
                return Err(Unconfinable {
                    reason: "the confinement probe did not finish within 20 s".into(),
                    hint: "`pp doctor` shows each layer".into(),
                });
            }
        };
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if !out.status.success() {
            return Err(Unconfinable {
                hint: hint_for(&stderr, apparmor_restricts_userns()).to_owned(),
                reason: format!("bubblewrap could not confine a command here: {stderr}"),
            });
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut layers =
            serde_json::from_str::<Layers>(stdout.trim()).map_err(|e| Unconfinable {
                reason: format!("the confinement probe reported nothing usable ({e}): {stdout}"),
                hint: "this is a bug in pp; please report it".into(),
            })?;
        layers.mount_namespace = true;
        layers.network_namespace = self.deny_network;
        layers.user_namespace = !nix::unistd::geteuid().is_root() || self.join.is_some();
        Ok(layers)
    }
}

const NAMESPACE_HINT: &str = "pp confines every command with bubblewrap, which needs user namespaces when pp is not root: run as root, or allow them (`sysctl -w kernel.unprivileged_userns_clone=1`, `user.max_user_namespaces`; on Ubuntu 24.04 and GitHub's ubuntu-24.04 runners `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or an AppArmor profile for bwrap), or use `policy.sandbox.backend: container`";

/// The fix where AppArmor restricts unprivileged user namespaces (the sysctl reads 1).
const APPARMOR_HINT: &str = "this machine restricts unprivileged user namespaces through AppArmor (`kernel.apparmor_restrict_unprivileged_userns` is 1, the default on Ubuntu 24.04 and on GitHub's ubuntu-24.04 runners), so bubblewrap cannot set up its namespaces: run `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` before pp (on GitHub Actions, in a step before it; pp's action does it unless `allow-userns: false`), or load an AppArmor profile that grants bwrap `userns` (Ubuntu 25.04 ships `bwrap-userns-restrict`; 24.04 does not), or run pp as root, or use `policy.sandbox.backend: container`";

/// Where the kernel says whether AppArmor restricts unprivileged user namespaces.
const APPARMOR_SYSCTL: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";

/// Test hook: a file read instead of [`APPARMOR_SYSCTL`], so a test can show pp a machine
/// whose AppArmor restricts user namespaces (`1`) or not (`0`).
pub const APPARMOR_SYSCTL_ENV: &str = "PP_SIMULATE_APPARMOR_SYSCTL";

/// Whether AppArmor restricts unprivileged user namespaces here (the sysctl reads `1`).
fn apparmor_restricts_userns() -> bool {
    let path = std::env::var_os(APPARMOR_SYSCTL_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(APPARMOR_SYSCTL));
    std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1")
}

/// The fix for a bwrap failure, from its words and whether AppArmor restricts user namespaces.
fn hint_for(stderr: &str, apparmor_restricts: bool) -> &'static str {
    if stderr.contains("No permissions to create new namespace")
        || stderr.contains("Operation not permitted")
        || stderr.contains("Permission denied")
        || stderr.contains("setting up uid map")
        || stderr.contains("Creating new namespace failed")
    {
        if apparmor_restricts {
            APPARMOR_HINT
        } else {
            NAMESPACE_HINT
        }
    } else {
        "`pp doctor` shows each layer; `policy.sandbox.backend: container` confines commands in a container instead"
    }
}

/// The bubblewrap to run: `PP_BWRAP`, else `bwrap` found on `PATH` (as given when missing, so
/// the probe names it).
pub fn find_bwrap(env: &[(String, String)]) -> PathBuf {
    if let Some((_, v)) = env.iter().find(|(k, _)| k == BWRAP_ENV)
        && !v.is_empty()
    {
        return PathBuf::from(v);
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/bin:/bin");
    std::env::split_paths(path)
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("bwrap"))
}

/// The host's confinement, probed: the bubblewrap found in `env` and the layers a command
/// confined by it gets (with a private network namespace when `deny_network`). Runs `true`
/// confined in a scratch directory, so a machine that cannot confine is found out before
/// anything is made. Sessions, replay and `pp doctor` all ask here.
pub async fn probe_host(
    deny_network: bool,
    self_exe: &Path,
    env: &[(String, String)],
) -> Result<(PathBuf, Layers), Unconfinable> {
    let bwrap = find_bwrap(env);
    let scratch = tempfile::Builder::new()
        .prefix("pp-probe-")
        .tempdir()
        .map_err(|e| Unconfinable {
            reason: format!("cannot create a scratch directory for the probe: {e}"),
            hint: "check TMPDIR".into(),
        })?;
    let probe = Confinement {
        bwrap: bwrap.clone(),
        self_exe: self_exe.to_owned(),
        join: None,
        deny_network,
        hidden: Vec::new(),
        writable: vec![scratch.path().to_owned()],
        read_only: Vec::new(),
        masked: Vec::new(),
        unreadable: Vec::new(),
        cache: None,
    };
    let layers = probe.probe().await?;
    Ok((bwrap, layers))
}

fn push(a: &mut Vec<String>, flag: &str, paths: &[&Path]) {
    a.push(flag.to_owned());
    a.extend(paths.iter().map(|p| p.to_string_lossy().into_owned()));
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_namespace_refusal_names_the_apparmor_fix_where_the_sysctl_is_on() {
        // What bubblewrap prints on Ubuntu 24.04 with the restriction on.
        for stderr in [
            "bwrap: setting up uid map: Permission denied",
            "bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted",
        ] {
            let on = hint_for(stderr, true);
            assert!(
                on.contains("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
                "{on}"
            );
            let off = hint_for(stderr, false);
            assert_eq!(off, NAMESPACE_HINT);
        }
        // Another failure is not blamed on AppArmor.
        let other = hint_for("bwrap: Can't find source path /nix: No such file", true);
        assert!(!other.contains("apparmor"), "{other}");
    }
    use super::*;

    fn spec() -> Confinement {
        Confinement {
            bwrap: "/usr/bin/bwrap".into(),
            self_exe: "/opt/pp".into(),
            join: None,
            deny_network: true,
            hidden: vec!["/home/u/repo".into()],
            writable: vec!["/tmp/pp-sandbox-x/repo".into()],
            read_only: vec!["/tmp/pp-sandbox-x/repo/.git".into()],
            masked: vec![],
            unreadable: vec![],
            cache: Some("/tmp/pp-sandbox-x/pp-cache".into()),
        }
    }

    fn pos(a: &[String], needle: &[&str]) -> usize {
        a.windows(needle.len())
            .position(|w| w.iter().zip(needle).all(|(x, y)| x == y))
            .unwrap_or_else(|| panic!("{needle:?} not in {a:?}"))
    }

    #[test]
    fn mounts_come_in_an_order_that_holds() {
        let a = spec().bwrap_args();
        let root = pos(&a, &["--ro-bind", "/", "/"]);
        let tmp = pos(&a, &["--tmpfs", "/tmp"]);
        let hide = pos(&a, &["--tmpfs", "/home/u/repo"]);
        let rw = pos(&a, &["--bind", "/tmp/pp-sandbox-x/repo"]);
        let git = pos(&a, &["--ro-bind", "/tmp/pp-sandbox-x/repo/.git"]);
        // The sandbox in /tmp is bound after /tmp is emptied; .git read-only over it.
        assert!(root < tmp && tmp < hide && hide < rw && rw < git, "{a:?}");
        assert!(a.contains(&"--unshare-net".to_owned()));
        assert!(a.contains(&"--unshare-pid".to_owned()));
        let sep = pos(&a, &["--", INNER_EXE, ISOLATE_SUBCOMMAND, "--confine"]);
        assert!(git < sep);
        assert!(pos(&a, &["--rw", "/tmp/pp-sandbox-x/repo"]) > sep);
        assert!(!a.iter().skip(sep + 1).any(|x| x == "--"));
        // The private cache: bound writable after /tmp is emptied, named for go and XDG tools,
        // and writable for the inner stage's Landlock too.
        let cache = pos(&a, &["--bind", "/tmp/pp-sandbox-x/pp-cache"]);
        assert!(tmp < cache && cache < sep, "{a:?}");
        pos(
            &a,
            &["--setenv", "GOCACHE", "/tmp/pp-sandbox-x/pp-cache/go-build"],
        );
        pos(
            &a,
            &["--setenv", "XDG_CACHE_HOME", "/tmp/pp-sandbox-x/pp-cache"],
        );
        assert!(pos(&a, &["--rw", "/tmp/pp-sandbox-x/pp-cache"]) > sep);
        let mut none = spec();
        none.cache = None;
        assert!(!none.bwrap_args().iter().any(|x| x == "GOCACHE"));
    }

    #[test]
    fn network_allowed_keeps_the_namespace_and_bwrap_runs_directly() {
        let mut c = spec();
        c.deny_network = false;
        c.join = Some(Holder { pid: 7, mnt_ino: 9 });
        let (program, args) = c.wrapper();
        // The overlay is entered by the command's own process (see `entry`), not by pp.
        assert_eq!(program, PathBuf::from("/usr/bin/bwrap"));
        assert_eq!(args, c.bwrap_args());
        assert!(!args.contains(&"--unshare-net".to_owned()));
    }

    #[test]
    fn bwrap_found_from_the_variable_or_path() {
        let env = vec![(BWRAP_ENV.to_owned(), "/x/bwrap".to_owned())];
        assert_eq!(find_bwrap(&env), PathBuf::from("/x/bwrap"));
        let env = vec![("PATH".to_owned(), "/nonexistent-dir".to_owned())];
        assert_eq!(find_bwrap(&env), PathBuf::from("bwrap"));
    }
}
