//! `pp replay`: re-apply a bundle's `final.patch` to a fresh sandbox of the source and rerun the
//! recorded targets under the recorded policy. No model is called. A different source is
//! reported as such, never as a pass.

use std::path::PathBuf;

use serde::Serialize;

use super::verify::Runner;
use super::workbench::{self, Plan};
use crate::bundle::attest::VerifyReport;
use crate::bundle::{self, BundleError};
use crate::error::Error;
use crate::exec::{Cancel, EnvFilter};
use crate::patch::{self, WriteRules};
use crate::policy::{self, BackendKind, PolicyDoc, TargetSpec};
use crate::sandbox;

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub bundle: PathBuf,
    pub cwd: Option<PathBuf>,
    pub allow_different_source: bool,
    pub self_exe: PathBuf,
    pub env: Vec<(String, String)>,
    /// Variables never passed to the replayed commands besides pp's own secrets (the
    /// verifier's HMAC key variable).
    pub withheld: Vec<String>,
    /// A verified attestation: replay then uses only bytes whose digests it vouches for, and the
    /// targets and source from its payload.
    pub verified: Option<VerifyReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplayTarget {
    pub name: String,
    pub command: String,
    pub exit_code: i32,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplayOutcome {
    pub schema_version: &'static str,
    pub success: bool,
    /// `replayed`, `failed`, `different_source`, `patch_failed`, `no_proof`, `infra_stop`.
    pub status: &'static str,
    pub bundle: PathBuf,
    pub source: PathBuf,
    pub message: String,
    /// What to do about an `infra_stop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub targets: Vec<ReplayTarget>,
}

impl ReplayOutcome {
    /// 0 when the proof held, 12 when the machine could not run it (the container engine),
    /// 13 for every other outcome.
    pub fn exit_code(&self) -> u8 {
        match (self.success, self.status) {
            (true, _) => 0,
            (false, STATUS_INFRA_STOP) => super::Status::InfraStop.exit_code(),
            (false, _) => crate::error::EXIT_MISMATCH,
        }
    }

    /// Ends the replay as `infra_stop` with the container engine's error.
    fn infra_stop(mut self, e: &sandbox::ContainerError) -> Self {
        let (message, hint) = e.message_and_hint();
        self.status = STATUS_INFRA_STOP;
        self.message = format!("cannot replay in a container: {message}");
        self.hint = hint;
        self
    }
}

const STATUS_INFRA_STOP: &str = "infra_stop";
/// The classification rule of container engine failures (`context::INFRA_RULES`).
const ENGINE_RULE: &str = "container_engine";

/// Reads a bundle file; under a verified attestation, only if its bytes are the attested ones.
fn read_bundle_file(opts: &ReplayOptions, name: &str) -> Result<Vec<u8>, Error> {
    let path = opts.bundle.join(name);
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::Bundle(BundleError::Read {
            path: path.clone(),
            message: e.to_string(),
        })
    })?;
    if let Some(report) = &opts.verified {
        let digest = crate::digest::sha256_hex(&bytes);
        if report.file_sha256(name) != Some(digest.as_str()) {
            return Err(Error::Bundle(BundleError::Read {
                path,
                message: "its bytes are not the ones the attestation vouches for (changed after verification?)".into(),
            }));
        }
    }
    Ok(bytes)
}

fn parse_json<T: serde::de::DeserializeOwned>(
    opts: &ReplayOptions,
    name: &str,
    bytes: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::Bundle(BundleError::Read {
            path: opts.bundle.join(name),
            message: format!("invalid JSON: {e}"),
        })
    })
}

/// Replays a bundle.
pub async fn replay(opts: &ReplayOptions, cancel: Cancel) -> Result<ReplayOutcome, Error> {
    let repro: serde_json::Value =
        parse_json(opts, "repro.json", &read_bundle_file(opts, "repro.json")?)?;
    let doc: PolicyDoc = parse_json(opts, "policy.json", &read_bundle_file(opts, "policy.json")?)?;
    let patch_text = String::from_utf8_lossy(&read_bundle_file(opts, "final.patch")?).into_owned();
    // Under a verified attestation the targets and the source come from its payload.
    let predicate = opts.verified.as_ref().and_then(|r| r.predicate().cloned());
    let record = predicate.as_ref().unwrap_or(&repro);
    // Only a proof can be replayed: a bundle that records another status has nothing to hold.
    let recorded_status = record["status"].as_str().unwrap_or("unknown");
    if recorded_status != "proven" {
        return Ok(ReplayOutcome {
            schema_version: "pp.replay/v1",
            success: false,
            status: "no_proof",
            bundle: opts.bundle.clone(),
            source: opts.cwd.clone().unwrap_or_default(),
            message: format!(
                "the bundle records status `{recorded_status}`, not a proof; there is nothing to replay"
            ),
            hint: None,
            targets: Vec::new(),
        });
    }
    let targets: Vec<TargetSpec> = match &opts.verified {
        Some(r) if !r.targets().is_empty() => r
            .targets()
            .into_iter()
            .map(|t| TargetSpec {
                name: t.name.unwrap_or_else(|| "default".into()),
                cmd: t.cmd,
                argv: t.argv,
                junit: None,
            })
            .collect(),
        _ => serde_json::from_value(repro["targets"].clone()).map_err(|e| {
            Error::Bundle(BundleError::Read {
                path: opts.bundle.join("repro.json"),
                message: format!("`targets` is malformed: {e}"),
            })
        })?,
    };
    let source: PathBuf = match &opts.cwd {
        Some(c) => c.clone(),
        None => repro["source"]["workspace"]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| Error::Usage {
                message: "the bundle does not record its workspace".into(),
                hint: "pass the source checkout with --cwd DIR".into(),
            })?,
    };
    let source = source.canonicalize().map_err(|e| Error::Usage {
        message: format!("replay source {} is not usable: {e}", source.display()),
        hint: "pass the source checkout with --cwd DIR".into(),
    })?;
    let mut out = ReplayOutcome {
        schema_version: "pp.replay/v1",
        success: false,
        status: "failed",
        bundle: opts.bundle.clone(),
        source: source.clone(),
        message: String::new(),
        hint: None,
        targets: Vec::new(),
    };

    // The source must be the one the proof was made on.
    let now = bundle::source_info(&source);
    let recorded_commit = record["source"]["git_commit"].as_str();
    let recorded_dirty = record["source"]["dirty_diff_sha256"].as_str();
    let mut differences = Vec::new();
    if recorded_commit != now.git_commit.as_deref() {
        differences.push(format!(
            "commit {} was recorded, the source is at {}",
            recorded_commit.unwrap_or("(none)"),
            now.git_commit.as_deref().unwrap_or("(none)")
        ));
    }
    if recorded_dirty != now.dirty_diff_sha256.as_deref() {
        differences.push("the uncommitted changes differ from the recorded ones".to_owned());
    }
    if record["source"]["untracked_sha256"].as_str() != now.untracked_sha256.as_deref() {
        differences.push("the untracked files differ from the recorded ones".to_owned());
    }
    if recorded_commit.is_none() {
        // Without git, the manifest is the only record of the source: compare it file by file.
        let recorded: bundle::Manifest = parse_json(
            opts,
            "workspace_manifest.json",
            &read_bundle_file(opts, "workspace_manifest.json")?,
        )?;
        let current = bundle::manifest(&source).map_err(|e| Error::Io {
            what: format!("hash replay source {}", source.display()),
            source: e,
        })?;
        let changed: Vec<&str> = current
            .files
            .iter()
            .filter(|f| !recorded.files.contains(f))
            .chain(recorded.files.iter().filter(|f| !current.files.contains(f)))
            .map(|f| f.path.as_str())
            .take(5)
            .collect();
        if !changed.is_empty() {
            differences.push(format!(
                "files differ from the recorded manifest: {}",
                changed.join(", ")
            ));
        }
    }
    if !differences.is_empty() && !opts.allow_different_source {
        out.status = "different_source";
        out.message = format!("different source: {}", differences.join("; "));
        return Ok(out);
    }

    let p = &doc.policy;
    let resolved = policy::resolve_targets(p, &targets).map_err(|refused| Error::Usage {
        message: format!(
            "the bundle's policy does not allow its own targets: {}",
            refused
                .iter()
                .map(|r| r.command.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        hint: "the bundle was edited or is corrupt; verify it with `pp verify-attestation`".into(),
    })?;
    // Set when the bundle records no image id (older bundles): the replay then ran the tag.
    let mut unpinned_image: Option<String> = None;
    let replay_id = {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        format!("replay-{}", crate::digest::hex(&b))
    };
    // In a container, as recorded: the engine and the very image the proof ran on (by its id,
    // whatever the policy's tag points at now) must be here; pp never pulls. An engine that is
    // missing, silent or cannot start a container is the machine's failure (`infra_stop`); a
    // missing image is the user's to load (exit 2).
    // The bundle is hostile input: a runtime it names is a host program, run only when the
    // auditor trusts it (as a policy file's, see `settings::untrusted_programs`).
    let runtime = &p.sandbox.container_runtime;
    if p.sandbox.backend == BackendKind::Container
        && !crate::settings::KNOWN_RUNTIMES.contains(&runtime.as_str())
        && !opts
            .env
            .iter()
            .any(|(k, v)| k == crate::settings::TRUST_POLICY_ENV && v == "1")
    {
        return Err(Error::Usage {
            message: format!(
                "the bundle's policy names `{runtime}` as its container runtime, a host program pp would run with your environment"
            ),
            hint: format!(
                "if you trust it, set {}=1; pp knows `docker` and `podman` by name",
                crate::settings::TRUST_POLICY_ENV
            ),
        });
    }
    let container = if p.sandbox.backend == BackendKind::Container {
        let client_env = sandbox::client_env(opts.env.iter().cloned());
        let tag = &p.sandbox.container_image;
        let recorded = repro["container"]["image_id"]
            .as_str()
            .filter(|id| !id.is_empty());
        let info = match sandbox::probe_container_engine(
            &p.sandbox.container_runtime,
            recorded.unwrap_or(tag),
            &client_env,
        )
        .await
        {
            Ok(info) => info,
            Err(e @ sandbox::ContainerError::ImageMissing { .. }) => {
                let (message, hint) = match (&e, recorded) {
                    (sandbox::ContainerError::ImageMissing { runtime, .. }, Some(id)) => (
                        format!(
                            "the image the proof ran on, {id} (`{tag}` then), is not in the local `{runtime}` image store"
                        ),
                        Some(format!(
                            "load that exact image (`{runtime} pull` the tag's repository by digest, or `{runtime} load`); pp never pulls, and whatever `{tag}` is here now is not the recorded environment"
                        )),
                    ),
                    _ => e.message_and_hint(),
                };
                return Err(Error::Usage {
                    message: format!("cannot replay in a container: {message}"),
                    hint: hint.unwrap_or_else(|| "see `pp doctor`".into()),
                });
            }
            Err(e) => return Ok(out.infra_stop(&e)),
        };
        if let Err(e) =
            sandbox::probe_container_start(&p.sandbox, &info.image_id, &client_env, &replay_id)
                .await
        {
            return Ok(out.infra_stop(&e));
        }
        if recorded.is_none() {
            unpinned_image = Some(tag.clone());
        }
        Some((info, client_env))
    } else {
        None
    };
    let plan = match container {
        Some((info, client_env)) => {
            let (sb, network, name) = (p.sandbox.clone(), p.network, replay_id.clone());
            Plan::Container(Box::new(move |root| {
                sandbox::ContainerSpec::from_policy(
                    &sb,
                    network,
                    info.image_id,
                    root,
                    name,
                    client_env,
                )
            }))
        }
        None => workbench::plan_confined(p, &opts.self_exe, &opts.env)
            .await
            .map_err(|e| Error::Usage {
                message: format!(
                    "replay runs the recorded targets confined, and cannot here: {}",
                    e.reason
                ),
                hint: e.hint,
            })?,
    };
    let workbench::Workbench { sandbox, isolation } = workbench::open(
        &source,
        p.sandbox.backend,
        &p.sandbox.exclude,
        &opts.self_exe,
        plan,
    )?;
    let root = sandbox.root().to_owned();
    if !patch_text.trim().is_empty() {
        let rules = WriteRules {
            write_allowlist: p.write_allowlist.clone(),
            deny_write: p.deny_write.clone(),
            protected: policy::protected_globs(None, &p.protected),
            max_files_changed: p.limits.max_files_changed,
            max_patch_bytes: p.limits.max_patch_bytes,
            guard_tests: !p.allow_test_edits,
        }
        .compile()
        .map_err(|e| Error::Internal(format!("write rules: {e}")))?;
        let applied =
            patch::parse(&patch_text).and_then(|parsed| patch::apply(&root, &parsed, &rules));
        if let Err(rej) = applied {
            out.status = "patch_failed";
            out.message = format!(
                "final.patch does not apply to the source: {}",
                rej.feedback()
            );
            return Ok(out);
        }
    }
    let logs = tempfile::tempdir().map_err(|e| Error::Io {
        what: "create a log directory for replay".into(),
        source: e,
    })?;
    let filter = EnvFilter::new(
        opts.withheld.iter().cloned(),
        &p.env.deny,
        p.env.pass.as_deref(),
    );
    let runner = Runner {
        cwd: sandbox.command_cwd().to_owned(),
        files: root.clone(),
        env: filter.apply(opts.env.iter().cloned()),
        limits: p.limits.clone(),
        isolation,
        cancel,
        redactor: None,
        watch: sandbox.group_watch(),
    };
    let runs = runner.run_all(&resolved, logs.path()).await?;
    drop(sandbox);
    out.targets = runs
        .iter()
        .map(|r| ReplayTarget {
            name: r.target.clone(),
            command: r.capture.command.clone(),
            exit_code: r.capture.exit_code,
            passed: r.passed(),
        })
        .collect();
    // An engine that failed to run a target says nothing about the proof.
    if let Some((target, evidence)) = runs.iter().find_map(|r| match &r.classification {
        crate::context::Classification::Infra { rule, evidence, .. }
            if rule == ENGINE_RULE && !r.passed() =>
        {
            Some((&r.target, evidence))
        }
        _ => None,
    }) {
        out.status = STATUS_INFRA_STOP;
        out.message = format!(
            "target `{target}` could not run: the container engine failed ({evidence}); the replay says nothing about the proof"
        );
        out.hint = Some(
            "fix the engine (its log, its OCI runtime, the policy's limits; `pp doctor` probes it), then replay again".into(),
        );
        return Ok(out);
    }
    // The proof's own test counts are the bar: exit 0 with fewer tests, or without the tests
    // that passed in the proof, does not hold.
    let recorded_final = repro["result"]["final"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut problems = Vec::new();
    for r in runs.iter().filter(|r| r.passed()) {
        let recorded: Option<crate::context::TestSummary> = recorded_final
            .iter()
            .find(|f| f["target"] == r.target.as_str())
            .and_then(|f| serde_json::from_value(f["tests"].clone()).ok());
        let recorded = crate::context::TestEvidence {
            summary: recorded.as_ref(),
            progress: None,
        };
        for p in crate::context::integrity_problems(
            &r.capture.command,
            recorded,
            r.evidence(),
            r.capture.exit_code,
        ) {
            problems.push(format!("target `{}`: {p}", r.target));
        }
    }
    out.success = runs.iter().all(|r| r.passed()) && problems.is_empty();
    if out.success {
        out.status = "replayed";
        out.message = "every recorded target passed with final.patch applied".into();
    } else if problems.is_empty() {
        out.message =
            "a recorded target failed with final.patch applied: the proof does not hold here"
                .into();
    } else {
        out.message = format!(
            "the targets exited 0 but the proof does not hold: {}",
            problems.join("; ")
        );
    }
    if let Some(tag) = unpinned_image {
        out.message.push_str(&format!(
            " (the bundle records no image id: this ran whatever `{tag}` names here now)"
        ));
    }
    Ok(out)
}
