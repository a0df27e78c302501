//! `pp replay`: re-apply a bundle's `final.patch` to a fresh sandbox of the source and rerun the
//! recorded targets under the recorded policy. No model is called. A different source is
//! reported as such, never as a pass.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use super::verify::Runner;
use super::workbench::{self, Plan};
use crate::bundle::attest::VerifyReport;
use crate::bundle::schema::{REPLAY_SCHEMA, ReplayStatus, Repro};
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

/// One recorded target as the replay ran it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReplayTarget {
    pub name: String,
    pub command: String,
    pub exit_code: i32,
    pub passed: bool,
}

/// The `pp.replay/v1` document of a replay that got as far as reading the bundle.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReplayOutcome {
    #[schemars(extend("const" = REPLAY_SCHEMA))]
    pub schema_version: &'static str,
    pub success: bool,
    /// How the replay ended; each value has its exit code.
    pub status: ReplayStatus,
    pub bundle: PathBuf,
    pub source: PathBuf,
    pub message: String,
    /// What to do about it (an `infra_stop`); `null` when there is nothing to do.
    pub hint: Option<String>,
    pub targets: Vec<ReplayTarget>,
}

impl ReplayOutcome {
    /// 0 when the proof held, 12 when the machine could not run it (the container engine),
    /// 13 for every other outcome.
    pub fn exit_code(&self) -> u8 {
        match (self.success, self.status) {
            (true, _) => 0,
            (false, ReplayStatus::InfraStop) => super::Status::InfraStop.exit_code(),
            (false, _) => crate::error::EXIT_MISMATCH,
        }
    }

    /// Ends the replay as `infra_stop` with the container engine's error.
    fn infra_stop(mut self, e: &sandbox::ContainerError) -> Self {
        let (message, hint) = e.message_and_hint();
        self.status = ReplayStatus::InfraStop;
        self.message = format!("cannot replay in a container: {message}");
        self.hint = hint;
        self
    }
}

/// The `pp.replay/v1` document of a replay refused before it read the bundle: the verification
/// that comes first failed, or nothing vouches for the bundle.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReplayRefused {
    #[schemars(extend("const" = REPLAY_SCHEMA))]
    pub schema_version: &'static str,
    #[schemars(extend("const" = false))]
    pub success: bool,
    #[schemars(extend("const" = "attestation_failed"))]
    pub status: ReplayStatus,
    /// What the verification found.
    pub problems: Vec<String>,
    /// What to do about it.
    pub hint: String,
}

impl ReplayRefused {
    pub fn new(problems: Vec<String>) -> Self {
        Self {
            schema_version: REPLAY_SCHEMA,
            success: false,
            status: ReplayStatus::AttestationFailed,
            problems,
            hint: "replay verifies the bundle first and trusts only the keys it is given: set the key the bundle was signed with (PP_ATTEST_HMAC_KEY, --key-env NAME, --public-key F), or pass --allow-unsigned to replay a bundle nothing vouches for".into(),
        }
    }
}

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

/// The bundle's inputs to a replay: its records, policy and patch.
struct Inputs {
    repro: Repro,
    doc: PolicyDoc,
    patch_text: String,
    /// The recorded status and source: the verified predicate's when there is one.
    status: Option<String>,
    commit: Option<String>,
    dirty_diff_sha256: Option<String>,
    untracked_sha256: Option<String>,
    targets: Vec<TargetSpec>,
}

impl Inputs {
    fn read(opts: &ReplayOptions) -> Result<Self, Error> {
        let repro: Repro = parse_json(opts, "repro.json", &read_bundle_file(opts, "repro.json")?)?;
        let doc = parse_json(opts, "policy.json", &read_bundle_file(opts, "policy.json")?)?;
        let patch_text =
            String::from_utf8_lossy(&read_bundle_file(opts, "final.patch")?).into_owned();
        // Under a verified attestation the targets and the source come from its payload.
        let (status, commit, dirty_diff_sha256, untracked_sha256) =
            match opts.verified.as_ref().and_then(VerifyReport::proof) {
                Some(p) => {
                    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
                    (
                        text(&p.status),
                        text(&p.source.git_commit),
                        text(&p.source.dirty_diff_sha256),
                        text(&p.source.untracked_sha256),
                    )
                }
                None => (
                    Some(repro.status.as_str().to_owned()),
                    repro.source.git_commit.clone(),
                    repro.source.dirty_diff_sha256.clone(),
                    repro.source.untracked_sha256.clone(),
                ),
            };
        let targets = match &opts.verified {
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
            _ => repro
                .targets
                .iter()
                .map(|t| TargetSpec {
                    name: t.name.clone(),
                    cmd: t.cmd.clone(),
                    argv: t.argv.clone(),
                    junit: None,
                })
                .collect(),
        };
        Ok(Self {
            repro,
            doc,
            patch_text,
            status,
            commit,
            dirty_diff_sha256,
            untracked_sha256,
            targets,
        })
    }
}

/// A replay that ended before anything ran.
fn ended(
    opts: &ReplayOptions,
    source: PathBuf,
    status: ReplayStatus,
    message: String,
) -> ReplayOutcome {
    ReplayOutcome {
        schema_version: REPLAY_SCHEMA,
        success: false,
        status,
        bundle: opts.bundle.clone(),
        source,
        message,
        hint: None,
        targets: Vec::new(),
    }
}

/// Replays a bundle.
pub async fn replay(opts: &ReplayOptions, cancel: Cancel) -> Result<ReplayOutcome, Error> {
    let inputs = Inputs::read(opts)?;
    // Only a proof can be replayed: a bundle that records another status has nothing to hold.
    let recorded_status = inputs.status.as_deref().unwrap_or("unknown");
    if recorded_status != "proven" {
        let message = format!(
            "the bundle records status `{recorded_status}`, not a proof; there is nothing to replay"
        );
        let source = opts.cwd.clone().unwrap_or_default();
        return Ok(ended(opts, source, ReplayStatus::NoProof, message));
    }
    let source = source_dir(opts, &inputs.repro)?;
    let differences = differences(opts, &inputs, &source)?;
    if !differences.is_empty() && !opts.allow_different_source {
        let message = format!("different source: {}", differences.join("; "));
        return Ok(ended(opts, source, ReplayStatus::DifferentSource, message));
    }
    let mut out = ended(opts, source.clone(), ReplayStatus::Failed, String::new());
    let p = &inputs.doc.policy;
    let resolved = policy::resolve_targets(p, &inputs.targets).map_err(|refused| Error::Usage {
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
    let (plan, unpinned_image) = match plan(opts, p, &inputs.repro).await? {
        Ok(x) => x,
        Err(e) => return Ok(out.infra_stop(&e)),
    };
    let workbench::Workbench { sandbox, isolation } = workbench::open(
        &source,
        p.sandbox.backend,
        &p.sandbox.exclude,
        &opts.self_exe,
        plan,
    )?;
    let root = sandbox.root().to_owned();
    if let Err(rej) = apply_patch(p, &root, &inputs.patch_text)? {
        out.status = ReplayStatus::PatchFailed;
        out.message = format!(
            "final.patch does not apply to the source: {}",
            rej.feedback()
        );
        return Ok(out);
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
        events: None,
    };
    let runs = runner
        .run_all(&resolved, logs.path(), crate::session::Phase::Replay)
        .await?;
    drop(sandbox);
    judge_replay(&mut out, &runs, &inputs.repro);
    if let Some(tag) = unpinned_image {
        out.message.push_str(&format!(
            " (the bundle records no image id: this ran whatever `{tag}` names here now)"
        ));
    }
    Ok(out)
}

/// The source checkout to replay against: `--cwd`, else the recorded workspace.
fn source_dir(opts: &ReplayOptions, repro: &Repro) -> Result<PathBuf, Error> {
    let source: PathBuf = match &opts.cwd {
        Some(c) => c.clone(),
        None if !repro.source.workspace.is_empty() => PathBuf::from(&repro.source.workspace),
        None => {
            return Err(Error::Usage {
                message: "the bundle does not record its workspace".into(),
                hint: "pass the source checkout with --cwd DIR".into(),
            });
        }
    };
    source.canonicalize().map_err(|e| Error::Usage {
        message: format!("replay source {} is not usable: {e}", source.display()),
        hint: "pass the source checkout with --cwd DIR".into(),
    })
}

/// How `source` differs from the one the proof was made on (empty when it is the same).
fn differences(opts: &ReplayOptions, inputs: &Inputs, source: &Path) -> Result<Vec<String>, Error> {
    let now = bundle::source_info(source);
    let recorded_commit = inputs.commit.as_deref();
    let mut differences = Vec::new();
    if recorded_commit != now.git_commit.as_deref() {
        differences.push(format!(
            "commit {} was recorded, the source is at {}",
            recorded_commit.unwrap_or("(none)"),
            now.git_commit.as_deref().unwrap_or("(none)")
        ));
    }
    if inputs.dirty_diff_sha256 != now.dirty_diff_sha256 {
        differences.push("the uncommitted changes differ from the recorded ones".to_owned());
    }
    if inputs.untracked_sha256 != now.untracked_sha256 {
        differences.push("the untracked files differ from the recorded ones".to_owned());
    }
    if recorded_commit.is_none() {
        // Without git, the manifest is the only record of the source: compare it file by file.
        let recorded: bundle::Manifest = parse_json(
            opts,
            "workspace_manifest.json",
            &read_bundle_file(opts, "workspace_manifest.json")?,
        )?;
        let current = bundle::manifest(source).map_err(|e| Error::Io {
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
    Ok(differences)
}

/// Applies `final.patch` under the bundle's write rules; the rejection when it does not apply.
fn apply_patch(
    p: &policy::Policy,
    root: &Path,
    patch_text: &str,
) -> Result<Result<(), patch::Rejection>, Error> {
    if patch_text.trim().is_empty() {
        return Ok(Ok(()));
    }
    let rules = WriteRules {
        write_allowlist: p.write_allowlist.clone(),
        deny_write: p.deny_write.clone(),
        protected: policy::protected_globs(None, &p.protected),
        max_files_changed: p.limits.max_files_changed,
        max_patch_bytes: p.limits.max_patch_bytes,
        guard_tests: !p.allow_test_edits,
    }
    .compile()
    .map_err(Error::WriteRules)?;
    Ok(patch::parse(patch_text)
        .and_then(|parsed| patch::apply(root, &parsed, &rules))
        .map(drop))
}

/// The verdict on the replayed runs: the proof's own test counts are the bar.
fn judge_replay(out: &mut ReplayOutcome, runs: &[crate::outcome::TargetRun], repro: &Repro) {
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
        out.status = ReplayStatus::InfraStop;
        out.message = format!(
            "target `{target}` could not run: the container engine failed ({evidence}); the replay says nothing about the proof"
        );
        out.hint = Some(
            "fix the engine (its log, its OCI runtime, the policy's limits; `pp doctor` probes it), then replay again".into(),
        );
        return;
    }
    // Exit 0 with fewer tests, or without the tests that passed in the proof, does not hold.
    let recorded_final = repro
        .result
        .as_ref()
        .map(|r| r.final_runs.as_slice())
        .unwrap_or_default();
    let mut problems = Vec::new();
    for r in runs.iter().filter(|r| r.passed()) {
        let recorded = recorded_final
            .iter()
            .find(|f| f.target == r.target)
            .and_then(|f| f.tests.as_ref());
        let recorded = crate::context::TestEvidence {
            summary: recorded,
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
        out.status = ReplayStatus::Replayed;
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
}

/// How the replayed targets run: in a container as recorded (the engine and the very image the
/// proof ran on, by its id, whatever the policy's tag points at now; pp never pulls), or
/// confined on the host. `Err` inside: the engine is missing, silent or cannot start a
/// container, the machine's failure (`infra_stop`). Also the tag, when the bundle records no
/// image id (older bundles): the replay then runs the tag.
async fn plan(
    opts: &ReplayOptions,
    p: &policy::Policy,
    repro: &Repro,
) -> Result<Result<(Plan, Option<String>), sandbox::ContainerError>, Error> {
    if p.sandbox.backend != BackendKind::Container {
        let plan = workbench::plan_confined(p, &opts.self_exe, &opts.env, Vec::new())
            .await
            .map_err(|e| Error::Usage {
                message: format!(
                    "replay runs the recorded targets confined, and cannot here: {}",
                    e.reason
                ),
                hint: e.hint,
            })?;
        return Ok(Ok((plan, None)));
    }
    trust_runtime(opts, p)?;
    let replay_id = {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        format!("replay-{}", crate::digest::hex(&b))
    };
    let client_env = sandbox::client_env(opts.env.iter().cloned());
    let tag = &p.sandbox.container_image;
    let recorded = repro
        .container
        .as_ref()
        .and_then(|c| c.image_id.as_deref())
        .filter(|id| !id.is_empty());
    let probed = sandbox::probe_container_engine(
        &p.sandbox.container_runtime,
        recorded.unwrap_or(tag),
        &client_env,
    )
    .await;
    let info = match probed {
        Ok(info) => info,
        // A missing image is the user's to load (exit 2).
        Err(e @ sandbox::ContainerError::ImageMissing { .. }) => {
            return Err(image_missing(&e, recorded, tag));
        }
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) =
        sandbox::probe_container_start(&p.sandbox, &info.image_id, &client_env, &replay_id).await
    {
        return Ok(Err(e));
    }
    let unpinned_image = recorded.is_none().then(|| tag.clone());
    let (sb, network) = (p.sandbox.clone(), p.network);
    let plan = Plan::Container(std::sync::Arc::new(move |root| {
        sandbox::ContainerSpec::from_policy(
            &sb,
            network,
            info.image_id.clone(),
            root,
            replay_id.clone(),
            client_env.clone(),
        )
    }));
    Ok(Ok((plan, unpinned_image)))
}

/// The bundle is hostile input: a runtime it names is a host program, run only when the auditor
/// trusts it (as a policy file's, see `settings::untrusted_programs`).
fn trust_runtime(opts: &ReplayOptions, p: &policy::Policy) -> Result<(), Error> {
    let runtime = &p.sandbox.container_runtime;
    if crate::settings::KNOWN_RUNTIMES.contains(&runtime.as_str())
        || opts
            .env
            .iter()
            .any(|(k, v)| k == crate::settings::TRUST_POLICY_ENV && v == "1")
    {
        return Ok(());
    }
    Err(Error::Usage {
        message: format!(
            "the bundle's policy names `{runtime}` as its container runtime, a host program pp would run with your environment"
        ),
        hint: format!(
            "if you trust it, set {}=1; pp knows `docker` and `podman` by name",
            crate::settings::TRUST_POLICY_ENV
        ),
    })
}

/// The image the proof ran on is not here: name it by its id, never swap in the tag's.
fn image_missing(e: &sandbox::ContainerError, recorded: Option<&str>, tag: &str) -> Error {
    let (message, hint) = match (e, recorded) {
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
    Error::Usage {
        message: format!("cannot replay in a container: {message}"),
        hint: hint.unwrap_or_else(|| "see `pp doctor`".into()),
    }
}
