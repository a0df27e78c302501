//! The workbench: the one way a session or a replay gets a sandbox and the isolation its
//! commands run under, so confinement is decided in exactly one place. It probes confinement
//! before anything is made (a machine that cannot confine stops at once, with the fix), creates
//! the sandbox, and turns the sandbox's layout into the wrapper every command runs through.
//! Containers are confined by their engine; everything else by bubblewrap (`sandbox::confine`).

use std::path::{Path, PathBuf};

use crate::bundle::schema::{Applied, IsolationNetwork, IsolationRecord, Loopback};
use crate::exec::Isolation;
use crate::policy::{BackendKind, Network, Policy};
use crate::sandbox::{self, ConfinementLayers, ContainerSpec, Sandbox, SandboxError, Unconfinable};

/// Whether commands run in a container or confined on the host, decided before the sandbox.
/// Cloned to open further sandboxes of the same session (one per candidate verified at once).
#[derive(Clone)]
pub(crate) enum Plan {
    /// Bubblewrap, with the layers the probe saw.
    Confined {
        bwrap: PathBuf,
        deny_network: bool,
        layers: ConfinementLayers,
        /// Files of pp's own secrets (a signing key) that no command may read.
        secrets: Vec<PathBuf>,
    },
    /// A container per command; the spec is completed once the sandbox root exists.
    Container(std::sync::Arc<dyn Fn(PathBuf) -> ContainerSpec + Send + Sync>),
}

/// A live sandbox and how its commands run.
pub(crate) struct Workbench {
    pub sandbox: Sandbox,
    pub isolation: Isolation,
}

/// Checks that this machine can confine commands as `p` asks, by running `true` under that
/// confinement (never for containers: their engine confines them). `secrets` are files of pp's
/// own (a signing key) hidden from every command.
pub(crate) async fn plan_confined(
    p: &Policy,
    self_exe: &Path,
    env: &[(String, String)],
    secrets: Vec<PathBuf>,
) -> Result<Plan, Unconfinable> {
    let deny_network = p.network == Network::Deny;
    let (bwrap, layers) = sandbox::probe_host(deny_network, self_exe, env).await?;
    Ok(Plan::Confined {
        bwrap,
        deny_network,
        layers,
        secrets,
    })
}

/// What `repro.json` and `environment.json` record about isolation under `plan`.
pub(crate) fn isolation_record(network: Network, plan: &Plan) -> IsolationRecord {
    match plan {
        Plan::Confined {
            deny_network,
            layers,
            ..
        } => IsolationRecord {
            network: network.into(),
            applied: if *deny_network {
                Applied::NetworkNamespace
            } else {
                Applied::None
            },
            loopback: Some(if *deny_network {
                Loopback::Up
            } else {
                Loopback::Host
            }),
            confinement: serde_json::to_value(layers).ok(),
            ..IsolationRecord::default()
        },
        Plan::Container(_) => IsolationRecord {
            network: network.into(),
            applied: Applied::Container,
            ..IsolationRecord::default()
        },
    }
}

/// Creates the sandbox of `source` and the isolation of its commands.
pub(crate) fn open(
    source: &Path,
    backend: BackendKind,
    exclude: &[String],
    self_exe: &Path,
    plan: Plan,
) -> Result<Workbench, SandboxError> {
    let sandbox = Sandbox::create(source, backend, exclude, self_exe)?;
    let isolation = match plan {
        Plan::Confined {
            bwrap,
            deny_network,
            secrets,
            ..
        } => {
            forget_secrets(&sandbox, source, &secrets)?;
            let confinement = sandbox.confinement(deny_network, &bwrap, &secrets);
            let (program, args) = confinement.wrapper();
            Isolation::Wrapper {
                program,
                args,
                join: confinement.join,
            }
        }
        Plan::Container(spec) => Isolation::Container(spec(sandbox.root().to_owned())),
    };
    Ok(Workbench { sandbox, isolation })
}

/// Removes the sandbox's copy of each secret file kept inside the workspace (pp's signing key),
/// so no command finds it under any name: masking a path alone would not follow the file
/// should a command rename its folder.
fn forget_secrets(
    sandbox: &Sandbox,
    source: &Path,
    secrets: &[PathBuf],
) -> Result<(), SandboxError> {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    for s in secrets {
        for (file, dir) in [(s.clone(), source.to_owned()), (real(s), real(source))] {
            let Ok(rel) = file.strip_prefix(&dir) else {
                continue;
            };
            match crate::beneath::remove_file(sandbox.root(), rel) {
                // Not copied (an ignored file the backend leaves out): nothing to remove.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                r => r.map_err(|source| SandboxError::Copy {
                    path: sandbox.root().join(rel),
                    source,
                })?,
            }
        }
    }
    Ok(())
}

/// The bundle's records name the policy's network setting; the bundle does not know the policy.
impl From<Network> for IsolationNetwork {
    fn from(n: Network) -> Self {
        match n {
            Network::Deny => Self::Deny,
            Network::Allow => Self::Allow,
        }
    }
}
