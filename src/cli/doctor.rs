//! `pp doctor`: the resolved policy and what this machine can enforce, each with the evidence of
//! a probe pp actually ran.

use std::path::PathBuf;

use super::args::DoctorArgs;
use super::output;
use crate::console::outln;
use crate::error::Error;
use crate::policy::{self, LoadedPolicy, Policy, TargetSpec};
use crate::report::{
    ClientProbe, CommandCheck, ContainerReport, DOCTOR_SCHEMA, DoctorDocument, DoctorMachine,
    DoctorPolicy, EngineProbe, ImageProbe, Probed, StartProbe,
};
use crate::sandbox::{self, ConfinementLayers, OverlayProbe, Unconfinable};
use crate::settings::Env;

fn probe(prog: &str, args: &[&str]) -> Result<String, String> {
    match std::process::Command::new(prog).args(args).output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        Ok(o) => Err(format!(
            "`{prog} {}` exited with {}: {}",
            args.join(" "),
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
        )),
        Err(e) => Err(format!("`{prog}` not found: {e}")),
    }
}

/// `pp doctor`: probe, then print the JSON document or the human report.
pub(super) async fn doctor(a: DoctorArgs, env: &Env) -> Result<u8, Error> {
    let loaded = policy::load(&output::workspace()?, a.policy.as_deref())?;
    let exe = output::self_exe()?;
    let machine = Machine::probe(&loaded.doc.policy, exe, env).await;
    let command_check = command_check(&loaded.doc.policy, a.command.as_deref());
    if a.json {
        let doc = document(&loaded, command_check, &machine);
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default())?;
        return Ok(0);
    }
    human_policy(
        &loaded,
        command_check.as_ref(),
        a.command.as_deref(),
        &machine,
    )?;
    human_machine(&loaded.doc.policy, &machine)?;
    Ok(0)
}

/// What the probes found on this machine.
struct Machine {
    /// The strictest confinement: with a private network namespace.
    confined: Result<ConfinementLayers, Unconfinable>,
    bwrap: PathBuf,
    overlay: Result<OverlayProbe, String>,
    auto_picks: &'static str,
    container: Result<String, String>,
    engine: Result<String, String>,
    image_id: Result<String, String>,
    start: Result<(), String>,
    git: Result<String, String>,
}

impl Machine {
    async fn probe(p: &Policy, exe: PathBuf, env: &Env) -> Self {
        // Probed with the network denied, so every layer this machine can give is shown.
        let confined = sandbox::probe_host(true, &exe, env.vars())
            .await
            .map(|(_, layers)| layers);
        let overlay = tokio::task::spawn_blocking(move || crate::sandbox::probe_overlay(&exe))
            .await
            .unwrap_or_else(|e| Err(format!("the probe panicked: {e}")));
        let auto_picks = if overlay.is_ok() { "overlay" } else { "copy" };
        let (container, engine, image_id, start) = probe_container(p, env).await;
        Self {
            confined,
            bwrap: sandbox::find_bwrap(env.vars()),
            overlay,
            auto_picks,
            container,
            engine,
            image_id,
            start,
            git: probe("git", &["--version"]),
        }
    }
}

type ContainerProbes = (
    Result<String, String>,
    Result<String, String>,
    Result<String, String>,
    Result<(), String>,
);

/// The container client, engine, image, and a container started from it, each only when the
/// one before answered.
async fn probe_container(p: &Policy, env: &Env) -> ContainerProbes {
    let runtime = &p.sandbox.container_runtime;
    let image = &p.sandbox.container_image;
    let client_env = sandbox::client_env(env.vars().iter().cloned());
    let msg = |e: sandbox::ContainerError| e.message_and_hint().0;
    let container = sandbox::container_client_version(runtime, &client_env)
        .await
        .map_err(msg);
    let engine = match &container {
        Ok(_) => sandbox::container_engine_version(runtime, &client_env)
            .await
            .map_err(msg),
        Err(_) => Err("no client".into()),
    };
    let image_id = match &engine {
        Ok(_) => sandbox::container_image_id(runtime, image, &client_env)
            .await
            .map_err(msg),
        Err(_) => Err("no engine".into()),
    };
    // An engine that answers may still be unable to start anything: start one container.
    let start = match &image_id {
        Ok(id) => {
            let label = format!("doctor-{}", std::process::id());
            sandbox::probe_container_start(&p.sandbox, id, &client_env, &label)
                .await
                .map_err(msg)
        }
        Err(_) => Err("no image".into()),
    };
    (container, engine, image_id, start)
}

/// `--command C`: whether the policy allows it, and how it would run.
fn command_check(p: &Policy, command: Option<&str>) -> Option<CommandCheck> {
    let c = command?;
    let mut pol = p.clone();
    if pol.allowed_commands.is_none() && pol.allowed_argv.is_none() {
        pol.allowed_commands = Some(vec![c.to_owned()]);
    }
    let spec = TargetSpec {
        name: "default".into(),
        cmd: Some(c.to_owned()),
        argv: None,
        junit: None,
    };
    let runs_as = policy::resolve_targets(&pol, &[spec])
        .ok()
        .and_then(|t| t.into_iter().next())
        .map(|t| t.invocation);
    Some(CommandCheck {
        command: c.to_owned(),
        allowed: runs_as.is_some(),
        runs_as,
    })
}

/// The `pp.doctor/v1` document.
fn document(
    loaded: &LoadedPolicy,
    command_check: Option<CommandCheck>,
    m: &Machine,
) -> DoctorDocument {
    let p = &loaded.doc.policy;
    let runtime = &p.sandbox.container_runtime;
    let image = &p.sandbox.container_image;
    let failed = |e: &String| Probed {
        error: Some(e.clone()),
        ..Probed::default()
    };
    let git = match &m.git {
        Ok(v) => Probed {
            available: true,
            version: Some(v.clone()),
            ..Probed::default()
        },
        Err(e) => failed(e),
    };
    let network_isolation = match &m.confined {
        Ok(l) if l.network_namespace => Probed {
            available: true,
            how: Some("network namespace (bubblewrap), loopback up".into()),
            probe: Some("ran `true` confined in a fresh network namespace".into()),
            ..Probed::default()
        },
        Ok(_) => failed(&"no network namespace".to_owned()),
        Err(e) => Probed {
            hint: Some(e.hint.clone()),
            ..failed(&e.reason)
        },
    };
    let confinement = match &m.confined {
        Ok(l) => Probed {
            available: true,
            bwrap: Some(m.bwrap.clone()),
            layers: Some(l.clone()),
            probe: Some(
                "ran `true` under bubblewrap and pp's inner stage, which reported each layer"
                    .into(),
            ),
            ..Probed::default()
        },
        Err(e) => Probed {
            bwrap: Some(m.bwrap.clone()),
            hint: Some(e.hint.clone()),
            ..failed(&e.reason)
        },
    };
    let overlay_sandbox = match &m.overlay {
        Ok(o) => Probed {
            available: true,
            how: Some(if o.user_namespace {
                "overlayfs (userxattr) in an unprivileged user + mount namespace".into()
            } else {
                "overlayfs in a private mount namespace (root)".into()
            }),
            setup_ms: Some(o.setup_ms),
            probe: Some("mounted a scratch tree; a command inside renamed a lower directory, deleted a lower file, created one; the lower layer stayed unchanged".into()),
            ..Probed::default()
        },
        Err(e) => failed(e),
    };
    let container_runtime = ContainerReport {
        name: runtime.clone(),
        client: match &m.container {
            Ok(v) => ClientProbe::Version(v.clone()),
            Err(e) => ClientProbe::Failed { error: e.clone() },
        },
        engine: match &m.engine {
            Ok(v) => EngineProbe {
                available: true,
                server_version: Some(v.clone()),
                probe: Some(format!("`{runtime} info` answered")),
                error: None,
            },
            Err(e) => EngineProbe {
                available: false,
                server_version: None,
                probe: None,
                error: Some(e.clone()),
            },
        },
        image: ImageProbe {
            name: image.clone(),
            present: m.image_id.is_ok(),
            id: m.image_id.as_ref().ok().cloned(),
            probe: m
                .image_id
                .as_ref()
                .ok()
                .map(|_| format!("`{runtime} image inspect {image}`")),
            error: m.image_id.as_ref().err().cloned(),
        },
        start: StartProbe {
            ran: m.start.is_ok(),
            probe: m.start.as_ref().ok().map(|()| format!("`{runtime} run --rm --init --network none --pull never` with the policy's user, limits and a mount, running `true` in the image")),
            error: m.start.as_ref().err().cloned(),
        },
        usable: m.container.is_ok() && m.engine.is_ok() && m.image_id.is_ok() && m.start.is_ok(),
    };
    DoctorDocument {
        schema_version: DOCTOR_SCHEMA,
        success: true,
        policy: DoctorPolicy {
            path: loaded.path.as_ref().map(|p| p.display().to_string()),
            source: if loaded.path.is_some() {
                "file"
            } else {
                "defaults"
            },
            sha256: loaded.sha256.clone(),
            effective: loaded.doc.clone(),
            protected: policy::protected_globs(None, &p.protected),
        },
        command_check,
        machine: DoctorMachine {
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            git,
            network_isolation,
            confinement,
            overlay_sandbox,
            auto_backend: m.auto_picks,
            container_runtime,
        },
    }
}

/// The policy half of the human report.
fn human_policy(
    loaded: &LoadedPolicy,
    command_check: Option<&CommandCheck>,
    command: Option<&str>,
    m: &Machine,
) -> Result<(), Error> {
    let p = &loaded.doc.policy;
    let auto_picks = m.auto_picks;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    outln!(
        "policy: {}",
        loaded
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(defaults: no pp.yaml/pp.yml/pp.json found)".into())
    )?;
    outln!(
        "  network: {}",
        match p.network {
            crate::policy::Network::Deny => "deny",
            crate::policy::Network::Allow => "allow",
        }
    )?;
    outln!(
        "  allowed_commands: {:?}",
        p.allowed_commands.clone().unwrap_or_default()
    )?;
    outln!(
        "  allowed_argv: {:?}",
        p.allowed_argv.clone().unwrap_or_default()
    )?;
    outln!("  write_allowlist: {:?}", p.write_allowlist)?;
    outln!("  deny_write: {:?}", p.deny_write)?;
    outln!("  protected (always): .git/**, .pp-artifacts/**, the policy file")?;
    outln!(
        "  limits: attempts {}, files {}, patch bytes {}, timeout {} s",
        p.limits.max_attempts,
        p.limits.max_files_changed,
        p.limits.max_patch_bytes,
        p.limits.per_command_timeout_sec
    )?;
    outln!(
        "  sandbox backend: {}{}",
        p.sandbox.backend.as_str(),
        if p.sandbox.backend == policy::BackendKind::Auto {
            format!(" (here: {auto_picks})")
        } else {
            String::new()
        }
    )?;
    if let Some(c) = command_check {
        outln!(
            "command {:?}: allowed: {}",
            command.unwrap_or(""),
            yes_no(c.allowed)
        )?;
    }
    Ok(())
}

/// The machine half of the human report.
fn human_machine(p: &Policy, m: &Machine) -> Result<(), Error> {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let runtime = &p.sandbox.container_runtime;
    let image = &p.sandbox.container_image;
    let (confined, overlay, container, engine, image_id, start, git) = (
        &m.confined,
        &m.overlay,
        &m.container,
        &m.engine,
        &m.image_id,
        &m.start,
        &m.git,
    );
    outln!("machine:")?;
    outln!(
        "  git: {}",
        git.as_ref()
            .map(String::as_str)
            .unwrap_or_else(|e| e.as_str())
    )?;
    match confined {
        Ok(l) => {
            outln!(
                "  confinement: available (bubblewrap {})",
                m.bwrap.display()
            )?;
            outln!(
                "    pid namespace: {}; mount namespace: {}; user namespace: {}",
                yes_no(l.pid_namespace),
                yes_no(l.mount_namespace),
                yes_no(l.user_namespace)
            )?;
            outln!(
                "    no new privileges: {}; capabilities: {}; seccomp: {}; landlock: {}; inherited fds closed: {}",
                yes_no(l.no_new_privs),
                l.capabilities,
                l.seccomp,
                l.landlock,
                yes_no(l.inherited_fds_closed)
            )?;
            outln!(
                "  network isolation: {}",
                if l.network_namespace {
                    "available (network namespace, loopback up)"
                } else {
                    "unavailable"
                }
            )?;
        }
        Err(e) => {
            outln!("  confinement: unavailable: {}", e.reason)?;
            outln!("    hint: {}", e.hint)?;
            outln!("  network isolation: unavailable: {}", e.reason)?;
        }
    }
    outln!(
        "  overlay sandbox: {}",
        match overlay {
            Ok(o) => format!(
                "available ({}; a probe mount took {:.1} ms)",
                if o.user_namespace {
                    "unprivileged user namespace, userxattr"
                } else {
                    "private mount namespace as root"
                },
                o.setup_ms
            ),
            Err(e) => format!("unavailable, auto uses copy: {e}"),
        }
    )?;
    outln!(
        "  container runtime `{runtime}`: {}",
        match (container, engine) {
            (Ok(v), Ok(s)) => format!("{v}; engine answers (server {s})"),
            (Ok(v), Err(e)) => format!("{v}; engine not answering: {e}"),
            (Err(e), _) => e.clone(),
        }
    )?;
    outln!(
        "  container image `{image}`: {}",
        match image_id {
            Ok(id) => format!("present ({id})"),
            Err(e) => format!("not usable: {e}"),
        }
    )?;
    outln!(
        "  container start: {}",
        match start {
            Ok(()) => "a throwaway container ran `true` (usable)".to_owned(),
            Err(e) => format!("not usable: {e}"),
        }
    )?;
    Ok(())
}
