//! The container backend: commands run as `docker run …` (or podman) with the session's sandbox
//! (a copy of the workspace) bind-mounted at `container_workdir`. This file owns the engine
//! probes (client, engine, image, and starting one throwaway container), the `run` argv with its
//! limits and labels, killing a container by name, and removing containers that crashed
//! sessions left behind. Spawning the client, timeouts and output capture stay with `exec`;
//! choosing this backend stays with the session.
//!
//! Images are never pulled (`--pull never`): a missing image is the user's to provide.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;

use super::host;
use crate::policy::{Network, SandboxConfig};

/// Label carrying the session id on every container pp starts.
pub const SESSION_LABEL: &str = "pp.session";
/// Label `<pid namespace>:<pid>` of the pp process that started the container.
const OWNER_LABEL: &str = "pp.owner";
/// Label with the unix time after which the container has outlived any timeout pp set.
const DEADLINE_LABEL: &str = "pp.deadline";
/// Slack added to the command timeout for the deadline label.
const DEADLINE_SLACK_SEC: u64 = 120;
/// Bound on each engine call pp makes itself (probe, kill, cleanup).
const ENGINE_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on the start probe's throwaway container (the first start of an image may be slow).
const START_PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a killed container may take to disappear from the engine.
const REMOVAL_WAIT: Duration = Duration::from_secs(15);

/// Variables that configure the runtime client itself. They reach the client (so it finds the
/// engine) but never the container.
const CLIENT_VAR_PREFIXES: [&str; 3] = ["DOCKER_", "CONTAINER_", "CONTAINERS_"];
const CLIENT_VARS: [&str; 4] = ["PATH", "HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"];
/// Host-specific variables that would mislead a command in the image (its PATH, its home, a
/// host temp dir, host libraries); the image's own values stay.
const HOST_ONLY_VARS: [&str; 16] = [
    "PATH",
    "HOME",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "HOSTNAME",
    "TMPDIR",
    "TMP",
    "TEMP",
    "TEMPDIR",
    "_",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "SSH_AUTH_SOCK",
];

/// Errors probing or driving the container engine.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("container runtime `{runtime}` was not found: {detail}")]
    RuntimeMissing { runtime: String, detail: String },
    #[error("the `{runtime}` engine does not answer (`{runtime} info`): {detail}")]
    EngineUnreachable { runtime: String, detail: String },
    #[error("container image `{image}` is not in the local `{runtime}` image store")]
    ImageMissing { runtime: String, image: String },
    #[error("the `{runtime}` engine answers but cannot start a container from `{image}`: {detail}")]
    CannotStart {
        runtime: String,
        image: String,
        argv: String,
        detail: String,
    },
    #[error("failed to run `{runtime} {args}`: {detail}")]
    Call {
        runtime: String,
        args: String,
        detail: String,
    },
}

impl ContainerError {
    /// What the user can do about it (`None` for a failed call, which says what failed).
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::RuntimeMissing { .. } => "install it (Debian: `apt-get install docker.io`) or set `policy.sandbox.container_runtime` (docker or podman); `pp doctor` shows what this machine offers"
                .into(),
            Self::EngineUnreachable { .. } => "start the engine (`systemctl start docker`, or `dockerd &`) and check that this user may reach it (the docker group, DOCKER_HOST)"
                .into(),
            Self::ImageMissing { image, runtime, .. } => format!(
                "run `{runtime} pull {image}` or build it (`{runtime} build -t {image} .`), or set `policy.sandbox.container_image`; pp never pulls images itself"
            ),
            Self::CannotStart { argv, .. } => format!(
                "the engine's own error is above; check its log, its OCI runtime (runc or crun) and cgroup setup, and the policy's `cpu_limit`/`memory_limit`/`pids_limit`; for podman, `--init` needs catatonit and some hosts need a containers.conf (see the README's container section); `pp doctor` runs the same probe; to see the engine's answer yourself: `{argv}`"
            ),
            Self::Call { .. } => return None,
        })
    }

    /// The message and the hint apart, for reports that show them separately.
    pub fn message_and_hint(&self) -> (String, Option<String>) {
        (self.to_string(), self.hint())
    }
}

/// What the engine probe found; recorded in `environment.json` and `repro.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineInfo {
    pub runtime: String,
    /// `RUNTIME --version`.
    pub client_version: String,
    /// The engine's own version, from `RUNTIME info`.
    pub server_version: String,
    pub image: String,
    /// `RUNTIME image inspect --format {{.Id}} IMAGE`.
    pub image_id: String,
}

/// The network a container gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerNetwork {
    /// `--network none`: loopback only.
    None,
    /// The engine's default network (the bridge).
    Default,
}

/// How every command of one session runs in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub runtime: String,
    pub image: String,
    /// The sandbox directory, bind-mounted at `workdir`.
    pub host_root: PathBuf,
    /// Where the sandbox appears inside the container.
    pub workdir: String,
    pub network: ContainerNetwork,
    pub cpus: String,
    pub memory: String,
    pub pids_limit: u32,
    pub session_id: String,
    /// Environment of the runtime client only (DOCKER_HOST, PATH…), never passed inside.
    pub client_env: Vec<(String, String)>,
}

impl ContainerSpec {
    /// The spec the policy describes, running `image` (the probe's image id pins it) with
    /// `host_root` mounted.
    pub fn from_policy(
        sb: &SandboxConfig,
        network: Network,
        image: String,
        host_root: PathBuf,
        session_id: String,
        client_env: Vec<(String, String)>,
    ) -> Self {
        Self {
            runtime: sb.container_runtime.clone(),
            image,
            host_root,
            workdir: sb.container_workdir.clone(),
            network: match network {
                Network::Deny => ContainerNetwork::None,
                Network::Allow => ContainerNetwork::Default,
            },
            cpus: sb.cpu_limit.clone(),
            memory: sb.memory_limit.clone(),
            pids_limit: sb.pids_limit,
            session_id,
            client_env,
        }
    }

    /// A fresh, unique container name for one command of this session.
    pub fn new_name(&self) -> String {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        let session: String = self
            .session_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("pp-{session}-{}", crate::digest::hex(&b))
    }

    /// The full client argv running `inner` in a new container `name`, `cwd` (inside the
    /// sandbox) mapped to the same place under `workdir`. `env` is the command's filtered
    /// environment: names are passed with `--env NAME`, so values never appear in the argv
    /// (the client reads them from its own environment).
    pub fn run_argv(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        timeout: Duration,
        interactive: bool,
        inner: &[String],
    ) -> Vec<String> {
        let mut v: Vec<String> = [&self.runtime, "run", "--rm", "--name", name]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let deadline = jiff::Timestamp::now().as_second().max(0).unsigned_abs()
            + timeout.as_secs()
            + DEADLINE_SLACK_SEC;
        let owner = format!(
            "{}:{}",
            host::pid_namespace().unwrap_or_default(),
            std::process::id()
        );
        for (k, val) in [
            (SESSION_LABEL, self.session_id.clone()),
            (OWNER_LABEL, owner),
            (DEADLINE_LABEL, deadline.to_string()),
        ] {
            v.push("--label".into());
            v.push(format!("{k}={val}"));
        }
        v.push("--init".into());
        // The container is the confinement: no capabilities, no privilege gained through
        // setuid files, and (below) the sandbox's `.git` read-only; the engine's socket is
        // never mounted.
        v.extend([
            "--cap-drop".to_owned(),
            "ALL".to_owned(),
            "--security-opt".to_owned(),
            "no-new-privileges".to_owned(),
        ]);
        if interactive {
            v.push("--interactive".into());
        }
        if let Some((uid, gid)) = host::invoking_user() {
            v.push("--user".into());
            v.push(format!("{uid}:{gid}"));
            if uid != 0 && self.is_podman() {
                // Rootless podman maps container uids to subordinate ids; keep-id makes files
                // written to the mount belong to the user, as with docker.
                v.push("--userns=keep-id".into());
            }
        }
        if self.network == ContainerNetwork::None {
            v.push("--network".into());
            v.push("none".into());
        }
        for (flag, val) in [
            ("--cpus", self.cpus.clone()),
            ("--memory", self.memory.clone()),
            ("--pids-limit", self.pids_limit.to_string()),
            ("--pull", "never".to_owned()),
            // The client streams the output; the engine need not store a second copy of what
            // may be gigabytes.
            ("--log-driver", "none".to_owned()),
            ("--mount", bind_mount(&self.host_root, &self.workdir)),
            ("--workdir", self.inner_cwd(cwd)),
        ] {
            v.push(flag.into());
            v.push(val);
        }
        let git = self.host_root.join(".git");
        if std::fs::symlink_metadata(&git).is_ok_and(|m| m.is_dir()) {
            v.push("--mount".into());
            v.push(format!(
                "{},readonly",
                bind_mount(
                    &git,
                    &format!("{}/.git", self.workdir.trim_end_matches('/'))
                )
            ));
        }
        for name in container_env_names(env) {
            v.push("--env".into());
            v.push(name.to_owned());
        }
        if host::invoking_user().is_some_and(|(uid, _)| uid != 0) {
            // Another uid than the image's usually has no home there; tools that write to
            // `~` (caches, config) then still work.
            v.push("--env".into());
            v.push("HOME=/tmp".into());
        }
        v.push(self.image.clone());
        v.extend(inner.iter().cloned());
        v
    }

    /// The client's environment: the command's filtered variables (read by `--env NAME`) plus
    /// the client's own configuration.
    pub fn client_environment(&self, env: &[(String, String)]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = env
            .iter()
            .filter(|(k, _)| !is_client_var(k))
            .cloned()
            .collect();
        out.extend(self.client_env.iter().cloned());
        out
    }

    fn is_podman(&self) -> bool {
        Path::new(&self.runtime)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("podman"))
    }

    fn inner_cwd(&self, cwd: &Path) -> String {
        let base = self.workdir.trim_end_matches('/');
        match cwd.strip_prefix(&self.host_root) {
            Ok(rel) if rel.as_os_str().is_empty() => self.workdir.clone(),
            Ok(rel) => format!("{base}/{}", rel.to_string_lossy()),
            Err(_) => self.workdir.clone(),
        }
    }

    /// Kills container `name` (`RUNTIME kill`). A container already gone is the expected case,
    /// so failure is ignored; [`Self::remove`] makes sure it is gone.
    pub async fn kill(&self, name: &str) {
        let _ = self.call(&["kill", name]).await;
    }

    /// Removes container `name` (`RUNTIME rm -f`) and waits, bounded, until the engine no
    /// longer knows it.
    pub async fn remove(&self, name: &str) {
        let _ = self.call(&["rm", "-f", name]).await;
        let start = std::time::Instant::now();
        while start.elapsed() < REMOVAL_WAIT {
            match self
                .call(&["container", "inspect", "--format", "{{.Id}}", name])
                .await
            {
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(_) => return,
            }
        }
        tracing::warn!("container {name} still exists {REMOVAL_WAIT:?} after `rm -f`");
    }

    /// Removes every container of this spec's session label (a probe that did not finish).
    async fn remove_all_of_session(&self) {
        let filter = format!("label={SESSION_LABEL}={}", self.session_id);
        if let Ok(ids) = self
            .call(&["ps", "--all", "--quiet", "--filter", &filter])
            .await
        {
            for id in ids.split_whitespace() {
                self.remove(id).await;
            }
        }
    }

    async fn call(&self, args: &[&str]) -> Result<String, ContainerError> {
        engine_call(&self.runtime, &self.client_env, args).await
    }
}

/// `--mount` value for a bind mount; fields holding `,` or `"` are CSV-quoted, as the client
/// parses the value as one CSV record.
fn bind_mount(src: &Path, dst: &str) -> String {
    let field = |k: &str, v: &str| {
        let f = format!("{k}={v}");
        if f.contains([',', '"']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f
        }
    };
    format!(
        "type=bind,{},{}",
        field("source", &src.to_string_lossy()),
        field("target", dst)
    )
}

fn is_client_var(name: &str) -> bool {
    CLIENT_VAR_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Names of `env` passed into the container: all but the host-specific ones and the client's
/// own configuration.
pub fn container_env_names(env: &[(String, String)]) -> impl Iterator<Item = &str> {
    env.iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !HOST_ONLY_VARS.contains(k) && !is_client_var(k) && !k.is_empty())
}

/// The runtime client's own configuration out of pp's environment (never pp's secrets: only
/// PATH, HOME, XDG dirs and DOCKER_*/CONTAINER_* variables).
pub fn client_env(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.into_iter()
        .filter(|(k, _)| CLIENT_VARS.contains(&k.as_str()) || is_client_var(k))
        .collect()
}

/// Runs one engine call pp makes itself; stdout on success.
async fn engine_call(
    runtime: &str,
    client_env: &[(String, String)],
    args: &[&str],
) -> Result<String, ContainerError> {
    let err = |detail: String| ContainerError::Call {
        runtime: runtime.to_owned(),
        args: args.join(" "),
        detail,
    };
    let mut cmd = tokio::process::Command::new(runtime);
    cmd.args(args)
        .env_clear()
        .envs(client_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(ENGINE_CALL_TIMEOUT, cmd.output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ContainerError::RuntimeMissing {
                runtime: runtime.to_owned(),
                detail: e.to_string(),
            });
        }
        Ok(Err(e)) => return Err(err(e.to_string())),
        Err(_) => return Err(err(format!("no answer within {ENGINE_CALL_TIMEOUT:?}"))),
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(err(format!(
            "exit {}: {}",
            out.status.code().unwrap_or(-1),
            first_line(&stderr)
        )))
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_owned()
}

/// Checks that `runtime` exists, its engine answers and `image` is present locally.
pub async fn probe(
    runtime: &str,
    image: &str,
    client_env: &[(String, String)],
) -> Result<EngineInfo, ContainerError> {
    let client_version = client_version(runtime, client_env).await?;
    let server_version = engine_version(runtime, client_env).await?;
    let image_id = image_id(runtime, image, client_env).await?;
    Ok(EngineInfo {
        runtime: runtime.to_owned(),
        client_version,
        server_version,
        image: image.to_owned(),
        image_id,
    })
}

/// `RUNTIME --version`: the client exists and runs.
pub async fn client_version(
    runtime: &str,
    client_env: &[(String, String)],
) -> Result<String, ContainerError> {
    engine_call(runtime, client_env, &["--version"]).await
}

/// `RUNTIME info`: the engine answers; its version.
pub async fn engine_version(
    runtime: &str,
    client_env: &[(String, String)],
) -> Result<String, ContainerError> {
    let info = engine_call(runtime, client_env, &["info", "--format", "{{json .}}"])
        .await
        .map_err(|e| ContainerError::EngineUnreachable {
            runtime: runtime.to_owned(),
            detail: match e {
                ContainerError::Call { detail, .. } => detail,
                other => other.to_string(),
            },
        })?;
    Ok(server_version(&info).unwrap_or_else(|| "unknown".to_owned()))
}

/// `RUNTIME image inspect --format {{.Id}} IMAGE`: the image is in the local store.
pub async fn image_id(
    runtime: &str,
    image: &str,
    client_env: &[(String, String)],
) -> Result<String, ContainerError> {
    engine_call(
        runtime,
        client_env,
        &["image", "inspect", "--format", "{{.Id}}", image],
    )
    .await
    .map_err(|_| ContainerError::ImageMissing {
        runtime: runtime.to_owned(),
        image: image.to_owned(),
    })
}

/// Starts one throwaway container the way sessions start theirs (`--rm`, `--init`, `--user`,
/// the policy's limits, `--pull never`, an empty directory mounted at the workdir) but with
/// `--network none`, running `true` in `image`: an engine that answers `info` may still be unable
/// to run anything (an OCI runtime refusing the host's cgroups, a missing `--init` binary, a
/// ulimit it cannot set). `label` names the probe in the session label, so a probe orphaned by a
/// killed pp is removed like any stale container.
pub async fn probe_start(
    sb: &SandboxConfig,
    image: &str,
    client_env: &[(String, String)],
    label: &str,
) -> Result<(), ContainerError> {
    let empty = tempfile::Builder::new()
        .prefix("pp-probe-")
        .tempdir()
        .map_err(|e| ContainerError::Call {
            runtime: sb.container_runtime.clone(),
            args: "run … true".into(),
            detail: format!("cannot create an empty directory to mount: {e}"),
        })?;
    let spec = ContainerSpec::from_policy(
        sb,
        Network::Deny,
        image.to_owned(),
        empty.path().to_owned(),
        label.to_owned(),
        client_env.to_vec(),
    );
    let argv = spec.run_argv(
        &spec.new_name(),
        empty.path(),
        &[],
        START_PROBE_TIMEOUT,
        false,
        &["true".to_owned()],
    );
    let shown = shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "));
    let cannot_start = |detail: String| ContainerError::CannotStart {
        runtime: sb.container_runtime.clone(),
        image: sb.container_image.clone(),
        argv: shown.clone(),
        detail,
    };
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(client_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match tokio::time::timeout(START_PROBE_TIMEOUT, cmd.output()).await {
        Ok(Ok(o)) if o.status.success() => Ok(()),
        Ok(Ok(o)) => Err(cannot_start(format!(
            "`run … true` exited with {}: {}",
            o.status
                .code()
                .map_or_else(|| "a signal".to_owned(), |c| c.to_string()),
            engine_error(&String::from_utf8_lossy(&o.stderr))
        ))),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ContainerError::RuntimeMissing {
                runtime: sb.container_runtime.clone(),
                detail: e.to_string(),
            })
        }
        Ok(Err(e)) => Err(cannot_start(e.to_string())),
        Err(_) => {
            spec.remove_all_of_session().await;
            Err(cannot_start(format!(
                "`run … true` did not finish within {START_PROBE_TIMEOUT:?}"
            )))
        }
    }
}

/// The engine's error text: its non-empty lines joined, clipped to a readable length.
fn engine_error(stderr: &str) -> String {
    let text = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    if text.is_empty() {
        return "(the engine printed nothing)".to_owned();
    }
    match text.char_indices().nth(600) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// The engine version out of `info --format {{json .}}`: docker's `ServerVersion`, podman's
/// `version.Version`.
fn server_version(info_json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(info_json).ok()?;
    v.get("ServerVersion")
        .or_else(|| v.get("version").and_then(|x| x.get("Version")))
        .and_then(|s| s.as_str())
        .map(str::to_owned)
}

/// A container found carrying the session label.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Labelled {
    id: String,
    name: String,
    state: String,
    owner: String,
    deadline: Option<i64>,
}

/// Why a labelled container is stale, or `None` while its session may still need it.
///
/// A container is stale once its deadline (start + timeout + slack) passed, or when the pp
/// process that started it is gone (only judged when that pid was read in this PID namespace),
/// or when it is no longer running and its owner cannot be judged. A live session's
/// containers are left alone.
fn stale_reason(
    c: &Labelled,
    now: i64,
    my_pidns: Option<&str>,
    alive: impl Fn(i32) -> bool,
) -> Option<&'static str> {
    if c.deadline.is_some_and(|d| d < now) {
        return Some("past its deadline");
    }
    let owner = c
        .owner
        .rsplit_once(':')
        .and_then(|(ns, pid)| Some((ns, pid.parse::<i32>().ok()?)));
    match (owner, my_pidns) {
        (Some((ns, pid)), Some(mine)) if ns == mine => (!alive(pid)).then_some("its pp is gone"),
        _ => (c.state != "running" && c.state != "created").then_some("not running"),
    }
}

/// Removes containers left by crashed sessions (see `stale_reason`); returns their names.
pub async fn remove_stale(
    runtime: &str,
    client_env: &[(String, String)],
) -> Result<Vec<String>, ContainerError> {
    let filter = format!("label={SESSION_LABEL}");
    let ids = engine_call(
        runtime,
        client_env,
        &["ps", "--all", "--quiet", "--no-trunc", "--filter", &filter],
    )
    .await?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let format = format!(
        "{{{{.Id}}}}|{{{{.Name}}}}|{{{{.State.Status}}}}|{{{{index .Config.Labels \"{OWNER_LABEL}\"}}}}|{{{{index .Config.Labels \"{DEADLINE_LABEL}\"}}}}"
    );
    let mut args = vec!["container", "inspect", "--format", &format];
    args.extend(ids.iter().copied());
    // A container may vanish between the two calls (another session removing its own), and
    // the engine then fails the whole batch: ask about each one alone, so the rest still count.
    let listing = match engine_call(runtime, client_env, &args).await {
        Ok(listing) => listing,
        Err(_) => {
            let mut lines = Vec::new();
            for id in &ids {
                let one = ["container", "inspect", "--format", &format, id];
                if let Ok(line) = engine_call(runtime, client_env, &one).await {
                    lines.push(line);
                }
            }
            lines.join("\n")
        }
    };
    let now = jiff::Timestamp::now().as_second();
    let mine = host::pid_namespace();
    let mut removed = Vec::new();
    for line in listing.lines() {
        let Some(c) = parse_labelled(line) else {
            continue;
        };
        if let Some(why) = stale_reason(&c, now, mine.as_deref(), host::process_alive) {
            tracing::info!("removing stale container {} ({why})", c.name);
            if engine_call(runtime, client_env, &["rm", "-f", &c.id])
                .await
                .is_ok()
            {
                removed.push(c.name);
            }
        }
    }
    Ok(removed)
}

fn parse_labelled(line: &str) -> Option<Labelled> {
    let mut it = line.trim().split('|');
    let id = it.next()?.to_owned();
    let name = it.next()?.trim_start_matches('/').to_owned();
    let state = it.next()?.to_owned();
    let owner = it.next().unwrap_or("").to_owned();
    let deadline = it.next().and_then(|d| d.trim().parse().ok());
    (!id.is_empty()).then_some(Labelled {
        id,
        name,
        state,
        owner,
        deadline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_container_vanishing_mid_listing_does_not_hide_the_stale_ones() {
        use std::os::unix::fs::PermissionsExt;
        // An engine that lists two containers, one of which is gone by the time it is
        // inspected: a batch inspect fails as a whole, as docker's does.
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("removed");
        let fake = d.path().join("engine");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\ncase \"$1\" in\n  ps) echo gone-id; echo stale-id ;;\n  container) shift 4\n    if [ $# -gt 1 ]; then echo 'stale-id|/stale|exited|x:1|1'; exit 1; fi\n    if [ \"$1\" = stale-id ]; then echo 'stale-id|/stale|exited|x:1|1'; else exit 1; fi ;;\n  rm) echo \"$3\" >> {} ;;\nesac\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let removed = remove_stale(fake.to_str().unwrap(), &[]).await.unwrap();
        assert_eq!(removed, vec!["stale".to_owned()]);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "stale-id\n");
    }

    fn spec() -> ContainerSpec {
        ContainerSpec {
            runtime: "docker".into(),
            image: "img:1".into(),
            host_root: "/tmp/sb/ws".into(),
            workdir: "/workspace".into(),
            network: ContainerNetwork::None,
            cpus: "1.5".into(),
            memory: "512m".into(),
            pids_limit: 64,
            session_id: "S1".into(),
            client_env: vec![("DOCKER_HOST".into(), "unix:///x".into())],
        }
    }

    fn vars(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| ((*n).to_owned(), "v".to_owned()))
            .collect()
    }

    fn pair(v: &[String], flag: &str) -> Option<String> {
        v.iter()
            .position(|a| a == flag)
            .and_then(|i| v.get(i + 1).cloned())
    }

    #[test]
    fn run_argv_carries_limits_labels_mount_and_env_names_only() {
        let s = spec();
        let env = vars(&["PATH", "HOME", "CI", "MY_TOKEN", "DOCKER_HOST", "TMPDIR"]);
        let inner = vec!["sh".to_owned(), "-c".to_owned(), "make test".to_owned()];
        let v = s.run_argv(
            "pp-S1-00",
            Path::new("/tmp/sb/ws/sub"),
            &env,
            Duration::from_secs(10),
            false,
            &inner,
        );
        assert_eq!(&v[..5], ["docker", "run", "--rm", "--name", "pp-S1-00"]);
        assert!(v.contains(&"--init".to_owned()));
        assert!(v.contains(&"pp.session=S1".to_owned()));
        assert_eq!(pair(&v, "--network").as_deref(), Some("none"));
        assert_eq!(pair(&v, "--cpus").as_deref(), Some("1.5"));
        assert_eq!(pair(&v, "--memory").as_deref(), Some("512m"));
        assert_eq!(pair(&v, "--pids-limit").as_deref(), Some("64"));
        assert_eq!(pair(&v, "--pull").as_deref(), Some("never"));
        assert_eq!(
            pair(&v, "--mount").as_deref(),
            Some("type=bind,source=/tmp/sb/ws,target=/workspace")
        );
        assert_eq!(pair(&v, "--workdir").as_deref(), Some("/workspace/sub"));
        let (uid, gid) = host::invoking_user().unwrap();
        assert_eq!(pair(&v, "--user"), Some(format!("{uid}:{gid}")));
        // Names only, and only those that make sense inside the image.
        let passed: Vec<&String> = v
            .iter()
            .enumerate()
            .filter(|(i, _)| *i > 0 && v[i - 1] == "--env")
            .map(|(_, a)| a)
            .filter(|a| !a.starts_with("HOME="))
            .collect();
        assert_eq!(passed, ["CI", "MY_TOKEN"]);
        assert!(!v.iter().any(|a| a.contains("=v")), "a value leaked: {v:?}");
        assert_eq!(&v[v.len() - 4..], ["img:1", "sh", "-c", "make test"]);
        let deadline: i64 = v
            .iter()
            .find_map(|a| a.strip_prefix("pp.deadline="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(deadline > jiff::Timestamp::now().as_second() + 10);
    }

    #[test]
    fn default_network_adds_no_flag() {
        let mut s = spec();
        s.network = ContainerNetwork::Default;
        let v = s.run_argv(
            "n",
            Path::new("/elsewhere"),
            &[],
            Duration::from_secs(1),
            true,
            &[],
        );
        assert!(pair(&v, "--network").is_none());
        assert!(v.contains(&"--interactive".to_owned()));
        assert_eq!(pair(&v, "--workdir").as_deref(), Some("/workspace"));
    }

    #[test]
    fn client_environment_keeps_values_for_env_names_and_adds_client_config() {
        let s = spec();
        let env = vec![
            ("CI".to_owned(), "1".to_owned()),
            ("DOCKER_HOST".to_owned(), "tcp://evil".to_owned()),
        ];
        let c = s.client_environment(&env);
        assert!(c.contains(&("CI".to_owned(), "1".to_owned())));
        assert!(c.contains(&("DOCKER_HOST".to_owned(), "unix:///x".to_owned())));
        assert!(!c.iter().any(|(_, v)| v == "tcp://evil"));
    }

    #[test]
    fn client_env_never_takes_secrets() {
        let got = client_env(vars(&[
            "PATH",
            "DOCKER_CONFIG",
            "PP_OPENAI_API_KEY",
            "PP_ATTEST_HMAC_KEY",
            "AWS_SECRET_ACCESS_KEY",
        ]));
        let names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "DOCKER_CONFIG"]);
    }

    #[test]
    fn names_are_unique_and_valid() {
        let mut s = spec();
        s.session_id = "2026T:x/y".into();
        let (a, b) = (s.new_name(), s.new_name());
        assert_ne!(a, b);
        assert!(a.starts_with("pp-2026T_x_y-"), "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
    }

    #[test]
    fn mount_fields_with_commas_are_quoted() {
        assert_eq!(
            bind_mount(Path::new("/a,b\"c"), "/w"),
            "type=bind,\"source=/a,b\"\"c\",target=/w"
        );
    }

    #[test]
    fn server_version_of_docker_and_podman() {
        assert_eq!(
            server_version(r#"{"ServerVersion":"20.10.24"}"#).as_deref(),
            Some("20.10.24")
        );
        assert_eq!(
            server_version(r#"{"version":{"Version":"4.3.1"}}"#).as_deref(),
            Some("4.3.1")
        );
        assert_eq!(server_version("not json"), None);
    }

    #[test]
    fn staleness() {
        let c = |state: &str, owner: &str, deadline: Option<i64>| Labelled {
            id: "i".into(),
            name: "n".into(),
            state: state.into(),
            owner: owner.into(),
            deadline,
        };
        let alive = |pid: i32| pid == 10;
        let ns = Some("pid4026");
        // Live owner in our namespace, deadline ahead: kept, whatever the state.
        assert_eq!(
            stale_reason(&c("running", "pid4026:10", Some(200)), 100, ns, alive),
            None
        );
        assert_eq!(
            stale_reason(&c("exited", "pid4026:10", Some(200)), 100, ns, alive),
            None
        );
        // Owner gone.
        assert_eq!(
            stale_reason(&c("running", "pid4026:11", Some(200)), 100, ns, alive),
            Some("its pp is gone")
        );
        // Deadline passed.
        assert_eq!(
            stale_reason(&c("running", "pid4026:10", Some(50)), 100, ns, alive),
            Some("past its deadline")
        );
        // Another namespace: judged by state alone.
        assert_eq!(
            stale_reason(&c("running", "pidX:11", Some(200)), 100, ns, alive),
            None
        );
        assert_eq!(
            stale_reason(&c("exited", "pidX:11", None), 100, ns, alive),
            Some("not running")
        );
        assert_eq!(
            stale_reason(&c("dead", "", None), 100, None, alive),
            Some("not running")
        );
    }

    #[test]
    fn inspect_lines_parse() {
        let l = parse_labelled("abc|/pp-x|exited|pid1:2|170").unwrap();
        assert_eq!(l.name, "pp-x");
        assert_eq!(l.deadline, Some(170));
        let l = parse_labelled("abc|/pp-x|running|<no value>|<no value>").unwrap();
        assert_eq!(l.deadline, None);
        assert!(parse_labelled("").is_none());
    }

    #[test]
    fn error_hints_split() {
        let e = ContainerError::ImageMissing {
            runtime: "docker".into(),
            image: "img:1".into(),
        };
        let (m, h) = e.message_and_hint();
        assert!(m.contains("`img:1`") && !m.contains("hint"), "{m}");
        assert!(h.unwrap().contains("docker pull img:1"));
    }
}
