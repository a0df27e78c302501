//! The process runner: spawn in a new process group, stream output, enforce the timeout on the
//! whole group (TERM, grace, KILL, reap), and honour cancellation (Ctrl-C). A command in a
//! container runs as the runtime's client (`docker run …`); on timeout or cancellation the
//! container itself is killed by name, since killing the client alone leaves it running.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::output::{StreamResult, drain};
use crate::policy::Invocation;
use crate::sandbox::{ContainerSpec, Holder, NamespaceEntry};

/// Exit code recorded for a command pp killed at its timeout (as coreutils' `timeout`).
pub const TIMEOUT_EXIT: i32 = 124;
/// Time between TERM and KILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long output readers may linger after the process group is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// How a command is wrapped for isolation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// Runs on the host as is.
    None,
    /// Runs through `program args… -- argv`: a wrapper that confines the command and then
    /// executes it. With `join`, the process first enters that overlay holder's namespaces,
    /// between fork and exec.
    Wrapper {
        program: PathBuf,
        args: Vec<String>,
        join: Option<Holder>,
    },
    /// Runs in a fresh container per command (`RUNTIME run --rm --name NAME … IMAGE argv`).
    Container(ContainerSpec),
}

/// Everything needed to run one command.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub invocation: Invocation,
    pub cwd: PathBuf,
    /// The complete environment of the command (the caller has filtered it).
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// `stdout.log` and `stderr.log` are written here.
    pub log_dir: PathBuf,
    pub max_output_bytes: u64,
    pub tail_bytes: usize,
    pub isolation: Isolation,
    pub stdin: Option<Vec<u8>>,
    /// Told about the command's process group, so it dies with pp (see `watch.rs`).
    pub watch: Option<super::GroupWatch>,
}

impl CommandSpec {
    /// The argv actually executed, wrapper or container client included; `container_name`
    /// names the container when the isolation is one.
    pub fn argv(&self, container_name: Option<&str>) -> Vec<String> {
        let inner = match &self.invocation {
            Invocation::Shell(s) => vec!["sh".to_owned(), "-c".to_owned(), s.clone()],
            Invocation::Argv(a) => a.clone(),
        };
        match &self.isolation {
            Isolation::None => inner,
            Isolation::Wrapper { program, args, .. } => {
                let mut v = vec![program.to_string_lossy().into_owned()];
                v.extend(args.iter().cloned());
                v.push("--".to_owned());
                v.extend(inner);
                v
            }
            Isolation::Container(c) => c.run_argv(
                container_name.unwrap_or("pp"),
                &self.cwd,
                &self.env,
                self.timeout,
                self.stdin.is_some(),
                &inner,
            ),
        }
    }

    /// The client's environment: the command's own, plus the runtime client's configuration
    /// when the command runs in a container.
    fn process_env(&self) -> Vec<(String, String)> {
        match &self.isolation {
            Isolation::Container(c) => c.client_environment(&self.env),
            Isolation::None | Isolation::Wrapper { .. } => self.env.clone(),
        }
    }
}

/// The result of one command.
#[derive(Debug, Clone, Serialize)]
pub struct Capture {
    pub command: String,
    pub argv: Vec<String>,
    pub exit_code: i32,
    pub timed_out: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub duration_ms: u64,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub truncated: bool,
    #[serde(skip)]
    pub stdout_tail: String,
    #[serde(skip)]
    pub stderr_tail: String,
    #[serde(skip)]
    pub log_dir: PathBuf,
}

impl Capture {
    pub fn passed(&self) -> bool {
        self.exit_code == 0 && !self.timed_out
    }

    /// The kept ends of stdout and stderr, for evidence.
    pub fn combined_tail(&self) -> String {
        let mut s = String::with_capacity(self.stdout_tail.len() + self.stderr_tail.len() + 1);
        s.push_str(&self.stdout_tail);
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&self.stderr_tail);
        s
    }

    pub fn stdout_log(&self) -> PathBuf {
        self.log_dir.join("stdout.log")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("failed to create log directory {}", path.display())]
    LogDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed while waiting for `{command}`")]
    Wait {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("interrupted while running `{command}`")]
    Interrupted { command: String },
}

/// Receiving side of the cancellation signal (Ctrl-C / SIGTERM).
#[derive(Debug, Clone)]
pub struct Cancel(watch::Receiver<bool>);

/// Sending side of the cancellation signal.
#[derive(Debug)]
pub struct CancelHandle(watch::Sender<bool>);

impl Cancel {
    pub fn new() -> (CancelHandle, Cancel) {
        let (tx, rx) = watch::channel(false);
        (CancelHandle(tx), Cancel(rx))
    }

    /// A token that is never cancelled.
    pub fn never() -> Cancel {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive for the life of the program so `changed()` never errors.
        std::mem::forget(tx);
        Cancel(rx)
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once cancellation is requested.
    pub async fn cancelled(&mut self) {
        while !*self.0.borrow() {
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl CancelHandle {
    pub fn cancel(&self) {
        let _ = self.0.send(true);
    }
}

/// Runs one command to completion, timeout or cancellation.
pub async fn run(spec: &CommandSpec, cancel: &Cancel) -> Result<Capture, ExecError> {
    let command = spec.invocation.display();
    if cancel.is_cancelled() {
        return Err(ExecError::Interrupted { command });
    }
    std::fs::create_dir_all(&spec.log_dir).map_err(|source| ExecError::LogDir {
        path: spec.log_dir.clone(),
        source,
    })?;
    let container = match &spec.isolation {
        Isolation::Container(c) => Some((c, c.new_name())),
        Isolation::None | Isolation::Wrapper { .. } => None,
    };
    let argv = spec.argv(container.as_ref().map(|(_, n)| n.as_str()));
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.process_env())
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    new_session(&mut cmd);
    if let Isolation::Wrapper { join: Some(h), .. } = &spec.isolation {
        NamespaceEntry::open(*h, &spec.cwd)
            .map_err(|source| ExecError::Spawn {
                command: command.clone(),
                source,
            })?
            .install(&mut cmd);
    }
    let started = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        // A program that does not exist or may not run fails the way a shell reports it
        // (127 / 126), so it is classified as a missing command, not as a bug in pp.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            let exit_code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            let message = format!(
                "pp: {}: {}: command not found or not executable\n",
                argv[0], e
            );
            let _ = std::fs::write(spec.log_dir.join("stdout.log"), b"");
            let _ = std::fs::write(spec.log_dir.join("stderr.log"), message.as_bytes());
            return Ok(Capture {
                command,
                argv,
                exit_code,
                timed_out: false,
                signal: None,
                duration_ms: 0,
                stdout_bytes: 0,
                stderr_bytes: message.len() as u64,
                truncated: false,
                stdout_tail: String::new(),
                stderr_tail: message,
                log_dir: spec.log_dir.clone(),
            });
        }
        Err(source) => {
            return Err(ExecError::Spawn {
                command: command.clone(),
                source,
            });
        }
    };
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    // However this function returns, what the command left running goes, and the watcher
    // forgets it only then.
    let reaper = pgid.map(|g| {
        let container = container
            .as_ref()
            .map(|(c, name)| (c.runtime.clone(), name.clone()));
        Reaper::new(g.as_raw(), spec.watch.clone(), container)
    });

    if let (Some(input), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        tokio::spawn(async move {
            // A command that does not read its stdin closes the pipe; that is not an error.
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
    }
    let out = child.stdout.take().map(|r| {
        let path = spec.log_dir.join("stdout.log");
        let (cap, tail) = (spec.max_output_bytes, spec.tail_bytes);
        tokio::spawn(async move { drain(r, &path, cap, tail).await })
    });
    let err = child.stderr.take().map(|r| {
        let path = spec.log_dir.join("stderr.log");
        let (cap, tail) = (spec.max_output_bytes, spec.tail_bytes);
        tokio::spawn(async move { drain(r, &path, cap, tail).await })
    });

    let mut cancel = cancel.clone();
    let (mut timed_out, mut interrupted) = (false, false);
    let status = tokio::select! {
        s = child.wait() => Some(s),
        () = tokio::time::sleep(spec.timeout) => { timed_out = true; None }
        () = cancel.cancelled() => { interrupted = true; None }
    };
    let status = match status {
        Some(s) => s.map_err(|source| ExecError::Wait {
            command: command.clone(),
            source,
        })?,
        None => {
            // The container first: the client dying does not stop it.
            if let Some((c, name)) = &container {
                c.kill(name).await;
            }
            let status = terminate(&mut child, pgid).await;
            // What is left of the command goes now, while its id is fresh, not after the
            // container's removal, which can take seconds.
            if let Some(pgid) = pgid {
                super::signal_command(pgid.as_raw(), Signal::SIGKILL);
            }
            // Only once the client is reaped can nothing recreate it; then make sure it is gone.
            if let Some((c, name)) = &container {
                c.remove(name).await;
            }
            status.map_err(|source| ExecError::Wait {
                command: command.clone(),
                source,
            })?
        }
    };
    // Whatever the command left running in its session goes too: stragglers would hold the
    // output pipes open and outlive the sandbox.
    drop(reaper);
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let stdout = join_stream(out).await;
    let stderr = join_stream(err).await;

    // Whatever the killed process exited with (a container client reports 137), a command
    // stopped because the user interrupted pp was interrupted, not failed.
    if interrupted {
        return Err(ExecError::Interrupted { command });
    }
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal();
    let exit_code = if timed_out {
        TIMEOUT_EXIT
    } else {
        status.code().unwrap_or_else(|| 128 + signal.unwrap_or(0))
    };
    Ok(Capture {
        command,
        argv,
        exit_code,
        timed_out,
        signal,
        duration_ms,
        stdout_bytes: stdout.total_bytes,
        stderr_bytes: stderr.total_bytes,
        truncated: stdout.total_bytes > stdout.stored_bytes
            || stderr.total_bytes > stderr.stored_bytes,
        stdout_tail: String::from_utf8_lossy(&stdout.tail).into_owned(),
        stderr_tail: String::from_utf8_lossy(&stderr.tail).into_owned(),
        log_dir: spec.log_dir.clone(),
    })
}

/// Makes the command the leader of a new session (and so of a new process group): every
/// process it starts stays findable by that id, even one that leaves the group (see
/// `watch.rs`), and none of them has a controlling terminal to read or stop on.
#[expect(
    unsafe_code,
    reason = "pre_exec is unsafe; setsid is async-signal-safe, as the child after fork requires"
)]
fn new_session(cmd: &mut tokio::process::Command) {
    // SAFETY: the closure only calls setsid(2), which is async-signal-safe and touches no
    // memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
}

/// Kills what is left of a command (its group and session) when dropped, then tells the
/// watcher the command, and its container if it has one, are gone (the container was removed
/// by `--rm`, or by the timeout path, before this).
struct Reaper {
    id: i32,
    watch: Option<super::GroupWatch>,
    /// `(runtime, name)` of the command's container.
    container: Option<(String, String)>,
}

impl Reaper {
    fn new(id: i32, watch: Option<super::GroupWatch>, container: Option<(String, String)>) -> Self {
        if let Some(w) = &watch {
            w.started(id);
            if let Some((runtime, name)) = &container {
                w.container_started(runtime, name);
            }
        }
        Self {
            id,
            watch,
            container,
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        super::signal_command(self.id, Signal::SIGKILL);
        if let Some(w) = &self.watch {
            w.ended(self.id);
            if let Some((runtime, name)) = &self.container {
                w.container_ended(runtime, name);
            }
        }
    }
}

/// TERM the command's processes, give them a grace period, then KILL them; always reaps the
/// direct child.
async fn terminate(
    child: &mut tokio::process::Child,
    pgid: Option<Pid>,
) -> std::io::Result<std::process::ExitStatus> {
    if let Some(pgid) = pgid {
        super::signal_command(pgid.as_raw(), Signal::SIGTERM);
    }
    if let Ok(status) = tokio::time::timeout(KILL_GRACE, child.wait()).await {
        return status;
    }
    if let Some(pgid) = pgid {
        super::signal_command(pgid.as_raw(), Signal::SIGKILL);
    }
    let _ = child.start_kill();
    child.wait().await
}

async fn join_stream(
    handle: Option<tokio::task::JoinHandle<std::io::Result<StreamResult>>>,
) -> StreamResult {
    let Some(mut handle) = handle else {
        return StreamResult::default();
    };
    match tokio::time::timeout(DRAIN_GRACE, &mut handle).await {
        Ok(Ok(Ok(r))) => r,
        Ok(Ok(Err(e))) => {
            tracing::warn!("failed to record command output: {e}");
            StreamResult::default()
        }
        Ok(Err(_)) => StreamResult::default(),
        Err(_) => {
            // A process that escaped the group (setsid) still holds the pipe.
            handle.abort();
            StreamResult::default()
        }
    }
}

/// Reads a log file the runner wrote, lossily.
pub fn read_log(path: &Path) -> String {
    // Valid UTF-8 (the usual case) is taken as is, without a second copy of a large log.
    std::fs::read(path)
        .map(|b| {
            String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &Path, cmd: &str, timeout: Duration) -> CommandSpec {
        CommandSpec {
            invocation: Invocation::Shell(cmd.to_owned()),
            cwd: dir.to_owned(),
            env: std::env::vars().collect(),
            timeout,
            log_dir: dir.join("logs"),
            max_output_bytes: 1 << 20,
            tail_bytes: 4096,
            isolation: Isolation::None,
            stdin: None,
            watch: None,
        }
    }

    #[tokio::test]
    async fn exit_code_and_output() {
        let d = tempfile::tempdir().unwrap();
        let c = run(
            &spec(
                d.path(),
                "echo out; echo err >&2; exit 3",
                Duration::from_secs(10),
            ),
            &Cancel::never(),
        )
        .await
        .unwrap();
        assert_eq!(c.exit_code, 3);
        assert_eq!(c.stdout_tail, "out\n");
        assert_eq!(c.stderr_tail, "err\n");
        assert_eq!(read_log(&d.path().join("logs/stdout.log")), "out\n");
    }

    #[tokio::test]
    async fn timeout_kills_grandchildren() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("gc.pid");
        let cmd = format!(
            "sh -c 'sleep 300 & echo $! > {}; wait' ; sleep 300",
            pidfile.display()
        );
        let c = run(
            &spec(d.path(), &cmd, Duration::from_millis(500)),
            &Cancel::never(),
        )
        .await
        .unwrap();
        assert!(c.timed_out);
        assert_eq!(c.exit_code, TIMEOUT_EXIT);
        let gc: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild is gone (killed; a zombie awaiting its reaper counts as gone). The
        // kernel delivers SIGKILL asynchronously, so allow it a moment to land.
        let alive = || {
            nix::sys::signal::kill(Pid::from_raw(gc), None).is_ok()
                && !std::fs::read_to_string(format!("/proc/{gc}/stat"))
                    .unwrap_or_default()
                    .contains(") Z ")
        };
        for _ in 0..50 {
            if !alive() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "grandchild {gc} survived the timeout");
    }

    #[tokio::test]
    async fn missing_program_exits_127_like_a_shell() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spec(d.path(), "", Duration::from_secs(10));
        s.invocation = Invocation::Argv(vec!["/nonexistent/program".into()]);
        let c = run(&s, &Cancel::never()).await.unwrap();
        assert_eq!(c.exit_code, 127);
        assert!(c.stderr_tail.contains("/nonexistent/program"));
    }

    #[tokio::test]
    async fn stdin_is_fed() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spec(d.path(), "cat", Duration::from_secs(10));
        s.stdin = Some(b"hello".to_vec());
        let c = run(&s, &Cancel::never()).await.unwrap();
        assert_eq!(c.stdout_tail, "hello");
    }

    #[tokio::test]
    async fn cancel_interrupts() {
        let d = tempfile::tempdir().unwrap();
        let (h, c) = Cancel::new();
        let s = spec(d.path(), "sleep 30", Duration::from_secs(60));
        let task = tokio::spawn(async move { run(&s, &c).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        h.cancel();
        let r = task.await.unwrap();
        assert!(matches!(r, Err(ExecError::Interrupted { .. })), "{r:?}");
    }
}
