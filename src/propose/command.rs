//! The `command` proposer: an external program gets the request as JSON on its stdin and
//! answers on its stdout, within a timeout; its stderr is kept in the bundle.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exec::{Cancel, CommandSpec, ExecError, Isolation};
use crate::policy::Invocation;

use super::ProposeError;

/// What the external program said.
#[derive(Debug)]
pub struct CommandReply {
    pub stdout: String,
    pub duration_ms: u64,
}

/// Runs the proposer program once.
#[allow(clippy::too_many_arguments)]
pub async fn ask(
    argv: &[String],
    request_json: &[u8],
    cwd: &Path,
    env: Vec<(String, String)>,
    timeout: Duration,
    log_dir: PathBuf,
    max_reply_bytes: u64,
    cancel: &Cancel,
) -> Result<CommandReply, ProposeError> {
    let spec = CommandSpec {
        invocation: Invocation::Argv(argv.to_vec()),
        cwd: cwd.to_owned(),
        env,
        timeout,
        log_dir: log_dir.clone(),
        max_output_bytes: max_reply_bytes,
        tail_bytes: 4096,
        isolation: Isolation::None,
        stdin: Some(request_json.to_vec()),
        watch: None,
    };
    let program = argv.first().cloned().unwrap_or_default();
    if !program_exists(&program, &spec.env) {
        return Err(ProposeError::Unusable {
            proposer: "command".into(),
            message: format!("proposer program `{program}` does not exist or is not executable"),
            hint:
                "check the path given with `--provider command:PATH` or `policy.provider.command`"
                    .into(),
        });
    }
    let cap = crate::exec::run(&spec, cancel).await.map_err(|e| match e {
        ExecError::Interrupted { .. } => ProposeError::Interrupted,
        ExecError::Spawn { source, .. } => ProposeError::Unusable {
            proposer: "command".into(),
            message: format!("could not start proposer program `{program}`: {source}"),
            hint: "check the path given with `--provider command:PATH` or `policy.provider.command`; it must be executable".into(),
        },
        other => ProposeError::Failed {
            message: other.to_string(),
        },
    })?;
    if cap.timed_out {
        return Err(ProposeError::Failed {
            message: format!(
                "proposer program `{program}` did not answer within {} s",
                timeout.as_secs()
            ),
        });
    }
    if cap.truncated {
        return Err(ProposeError::Failed {
            message: format!(
                "proposer program `{program}` replied with more than {max_reply_bytes} bytes"
            ),
        });
    }
    let stdout = crate::exec::read_log(&log_dir.join("stdout.log"));
    if cap.exit_code != 0 {
        return Err(ProposeError::Failed {
            message: format!(
                "proposer program `{program}` exited with {}: {}",
                cap.exit_code,
                cap.stderr_tail.trim()
            ),
        });
    }
    Ok(CommandReply {
        stdout,
        duration_ms: cap.duration_ms,
    })
}

/// Whether `program` names an executable file, directly or through `PATH`.
fn program_exists(program: &str, env: &[(String, String)]) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    env.iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/bin:/bin")
        .split(':')
        .any(|dir| executable(&Path::new(dir).join(program)))
}
