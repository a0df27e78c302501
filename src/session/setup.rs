//! Setup, the stage before anything runs: every target must be allowed, and the isolation the
//! policy asks for must be available (a container engine that answers and starts the image, or
//! confinement this machine can give). Returns the isolation [`Plan`] for the workbench, or how
//! the session ends (`policy_violation`, `infra_stop`).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::Status;
use super::decide::End;
use super::events::Event;
use super::recorder::{MANIFEST_CACHE, Provenance, Recorder};
use super::verify::Runner;
use super::workbench::{self, Plan};
use crate::bundle::{self, schema::Applied, schema::IsolationRecord};
use crate::error::Error;
use crate::exec::{Cancel, EnvFilter};
use crate::policy::{self, BackendKind, Network};
use crate::redact::Redactor;
use crate::sandbox::{self, Sandbox, SandboxError};
use crate::settings::Settings;

/// Resolves the targets (into `rec.targets`) and plans the isolation of their commands.
pub(super) async fn plan(settings: &Settings, rec: &mut Recorder) -> ControlFlow<End, Plan> {
    let p = &settings.doc().policy;
    // Every target must be allowed before anything runs.
    rec.targets = match policy::resolve_targets(p, &settings.targets) {
        Ok(t) => t,
        Err(refused) => {
            let list: Vec<String> = refused
                .iter()
                .map(|r| format!("`{}` ({})", r.command, r.target))
                .collect();
            rec.event(Event::PolicyViolation {
                refused: json!(refused),
            });
            return ControlFlow::Break(End::new(
                Status::PolicyViolation,
                format!("command not allowed by the policy: {}", list.join(", ")),
                Some(
                    "add the exact command to `policy.allowed_commands` (or its argv to `policy.allowed_argv`)",
                ),
            ));
        }
    };
    if p.sandbox.backend == BackendKind::Container {
        // A container sees the sandbox's copy of the workspace whole: a key kept in the
        // workspace would be in it.
        if let Some(key) = settings
            .attest
            .key_file
            .as_ref()
            .filter(|k| inside(k, &settings.workspace))
        {
            return ControlFlow::Break(End::new(
                Status::PolicyViolation,
                format!(
                    "the signing key {} lies inside the workspace, which the container sees whole",
                    key.display()
                ),
                Some("keep `policy.attestation.key_file` outside the workspace"),
            ));
        }
        return plan_container(settings, rec).await;
    }
    // Probed before anything is made: a machine that cannot confine stops here, quickly.
    match workbench::plan_confined(
        p,
        &settings.self_exe,
        &settings.env,
        settings.attest.key_file.iter().cloned().collect(),
    )
    .await
    {
        Ok(plan) => {
            rec.isolation = workbench::isolation_record(p.network, &plan);
            ControlFlow::Continue(plan)
        }
        Err(e) => {
            rec.isolation = IsolationRecord::unavailable(p.network, e.reason.clone());
            ControlFlow::Break(End {
                status: Status::PolicyViolation,
                message: format!(
                    "pp runs every command over your code confined (its own PID, mount and, under `network: deny`, network namespace, no privileges, a seccomp filter), and cannot here: {}",
                    e.reason
                ),
                hint: Some(e.hint),
            })
        }
    }
}

/// Whether `path`, or the file it links to, lies inside `dir`.
fn inside(path: &std::path::Path, dir: &std::path::Path) -> bool {
    let real = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    path.starts_with(dir) || real(path).starts_with(real(dir))
}

/// A container per command: the engine must answer and start the image first.
async fn plan_container(settings: &Settings, rec: &mut Recorder) -> ControlFlow<End, Plan> {
    let p = &settings.doc().policy;
    match prepare_container(settings, rec).await {
        Ok(client_env) => {
            let (sb, network) = (p.sandbox.clone(), p.network);
            let image = rec
                .container
                .as_ref()
                .map(|c| c.image_id.clone())
                .unwrap_or_else(|| p.sandbox.container_image.clone());
            let name = rec.session_id.clone();
            ControlFlow::Continue(Plan::Container(Arc::new(move |root| {
                sandbox::ContainerSpec::from_policy(
                    &sb,
                    network,
                    image.clone(),
                    root,
                    name.clone(),
                    client_env.clone(),
                )
            })))
        }
        Err(e) => {
            let (message, hint) = e.message_and_hint();
            rec.isolation = IsolationRecord::unavailable(p.network, message.clone());
            rec.event(Event::ContainerUnavailable {
                error: e.to_string(),
            });
            ControlFlow::Break(End {
                status: Status::InfraStop,
                message,
                hint,
            })
        }
    }
}

/// Checks the container engine and image, and that the engine starts a container from it (a
/// clear `infra_stop` otherwise), removes containers crashed sessions left behind, and records
/// what it found. Returns the client's environment.
async fn prepare_container(
    settings: &Settings,
    rec: &mut Recorder,
) -> Result<Vec<(String, String)>, sandbox::ContainerError> {
    let sb = &settings.doc().policy.sandbox;
    let client_env = sandbox::client_env(settings.env.iter().cloned());
    let info =
        sandbox::probe_container_engine(&sb.container_runtime, &sb.container_image, &client_env)
            .await?;
    // An engine that answers may still be unable to start anything: find out before the
    // baseline, so no command's failure (and no proposer) is spent on it.
    sandbox::probe_container_start(sb, &info.image_id, &client_env, &rec.session_id).await?;
    let removed = match sandbox::remove_stale_containers(&sb.container_runtime, &client_env).await {
        Ok(r) => r,
        Err(e) => {
            // Leftovers cost resources, not correctness: the session goes on.
            tracing::warn!("failed to look for stale containers: {e}");
            Vec::new()
        }
    };
    rec.event(Event::ContainerEngine {
        engine: json!(info),
        stale_removed: json!(removed),
    });
    let network = settings.doc().policy.network;
    rec.isolation = IsolationRecord {
        network: network.into(),
        applied: Applied::Container,
        container_network: Some(
            match network {
                Network::Deny => "none",
                Network::Allow => "default",
            }
            .into(),
        ),
        runtime: Some(info.runtime.clone()),
        image: Some(info.image.clone()),
        image_id: Some(info.image_id.clone()),
        ..IsolationRecord::default()
    };
    rec.container = Some(info);
    Ok(client_env)
}

/// Hashes the user's tree and reads its git provenance in the background, while the sandbox is
/// made and the baseline runs: pp never writes that tree, so both are the same whenever they
/// are taken, and on a big workspace they are most of pp's own time.
pub(super) fn provenance(settings: &Settings) -> tokio::task::JoinHandle<Provenance> {
    let ws = settings.workspace.clone();
    tokio::task::spawn_blocking(move || {
        let clock = Instant::now();
        let cache = ws.join(".pp-artifacts").join(MANIFEST_CACHE);
        let manifest = bundle::manifest_cached(&ws, Some(&cache));
        let took = clock.elapsed();
        let bundle::Source { info, dirty_diff } = bundle::source(&ws);
        Provenance {
            manifest,
            took,
            source: info,
            diff: dirty_diff,
        }
    })
}

/// Makes the sandbox under `plan` (into `slot`, so it is cleaned up whatever happens next) and
/// the runner of its commands. A backend this machine cannot provide ends the session
/// (`policy_violation`): pp never falls back to another.
pub(super) async fn open_workbench(
    settings: &Settings,
    rec: &mut Recorder,
    plan: Plan,
    provenance: &mut Option<tokio::task::JoinHandle<Provenance>>,
    slot: &mut Option<Sandbox>,
    cancel: &Cancel,
) -> Result<ControlFlow<End, Runner>, Error> {
    let p = &settings.doc().policy;
    let opened = workbench::open(
        &settings.workspace,
        p.sandbox.backend,
        &p.sandbox.exclude,
        &settings.self_exe,
        plan,
    );
    let bench = match opened {
        Ok(b) => b,
        Err(e @ (SandboxError::Unsupported { .. } | SandboxError::Git { .. })) => {
            if let Some(task) = provenance.take() {
                rec.provenance(settings, task).await?;
            }
            let (message, hint) = (e.to_string(), e.hint().map(str::to_owned));
            return Ok(ControlFlow::Break(End {
                status: Status::PolicyViolation,
                message,
                hint,
            }));
        }
        Err(e) => return Err(e.into()),
    };
    let workbench::Workbench { sandbox, isolation } = bench;
    rec.sandbox_created(sandbox.info(p.sandbox.backend));
    if sandbox.kind() == BackendKind::Overlay {
        rec.isolation.filesystem =
            Some("overlay mounted at the workspace path in a private mount namespace".into());
    }
    let env_filter = EnvFilter::new(
        [settings.attest.key_env.clone()],
        &p.env.deny,
        p.env.pass.as_deref(),
    );
    let runner = Runner {
        cwd: sandbox.command_cwd().to_owned(),
        files: sandbox.root().to_owned(),
        env: env_filter.apply(settings.env.iter().cloned()),
        limits: p.limits.clone(),
        isolation,
        cancel: cancel.clone(),
        redactor: Some(Arc::new(Redactor::from_env_vars(
            settings.env.iter().cloned(),
        ))),
        watch: sandbox.group_watch(),
        events: Some(rec.events()),
    };
    *slot = Some(sandbox);
    Ok(ControlFlow::Continue(runner))
}
