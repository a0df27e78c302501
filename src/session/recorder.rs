//! The recorder: the one owner of a session's bundle. Every stage reports what it did here, and
//! only the recorder writes bundle files: `repro.json`, `policy.json`, `environment.json`, the
//! workspace manifest and provenance, each attempt's files and outcome, `final.patch`,
//! `final_summary.md` and the event log. Commands write their own logs into directories it
//! hands out (`path`). What the records hold is `bundle::schema`'s; signing is `sign`'s.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::events::{Event, Events, Watchers};
use super::{Outcome, Status};
use crate::bundle::schema::{
    self, AttemptKind, AttemptRecord, ContainerRecord, Endpoints, Environment, IsolationRecord,
    MinimizationRecord, RecordedStatus, Repro, ReproResult, ReproTarget, Runtime, Timings,
};
use crate::bundle::{self, BundleWriter, SourceInfo};
use crate::context::Classification;
use crate::error::Error;
use crate::exec::EnvFilter;
use crate::outcome::TargetRun;
use crate::policy::Target;
use crate::sandbox::{self, EngineInfo, SandboxInfo};
use crate::settings::{Mode, Settings};

/// The manifest's digest cache, in the workspace's `.pp-artifacts/` (pp's own folder).
pub(crate) const MANIFEST_CACHE: &str = "manifest-cache.json";

/// The session's bundle and everything its records are made of.
pub(super) struct Recorder {
    bundle: BundleWriter,
    events: Events,
    pub session_id: String,
    started: jiff::Timestamp,
    clock: Instant,
    /// The resolved targets (empty until they were allowed).
    pub targets: Vec<Target>,
    pub baseline: Vec<TargetRun>,
    /// The targets' last runs: the proof's, or the last candidate's, or the baseline's.
    pub final_runs: Vec<TargetRun>,
    attempts: Vec<AttemptRecord>,
    pub attempts_used: u32,
    proposer: Option<String>,
    model: Option<String>,
    sandbox_info: Option<SandboxInfo>,
    pub isolation: IsolationRecord,
    /// The container engine and image, when commands run in containers.
    pub container: Option<EngineInfo>,
    source: SourceInfo,
    manifest_sha256: Option<String>,
    manifest_ms: Option<f64>,
    sandbox_teardown_ms: Option<f64>,
    /// The winning diff (minimized) and the files it changes.
    pub winner_patch: Option<String>,
    pub changed_files: Vec<String>,
    minimization: Option<MinimizationRecord>,
    pub classification: Option<Classification>,
    /// Where the baseline failed in the workspace (from the attempts' evidence), for CI
    /// annotations.
    pub failures: Vec<crate::outcome::FailureMark>,
}

/// What the background task learns about the user's tree.
pub(super) struct Provenance {
    pub manifest: std::io::Result<bundle::Manifest>,
    pub took: Duration,
    pub source: SourceInfo,
    pub diff: Option<String>,
}

fn new_session_id() -> String {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    let now = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    format!("{now}-{}", crate::digest::hex(&b))
}

impl Recorder {
    /// Creates the session's bundle and records its start: `repro.json` (running) and
    /// `policy.json`.
    pub fn open(settings: &Settings, watchers: Watchers) -> Result<Self, Error> {
        let session_id = new_session_id();
        let artifacts = settings.workspace.join(".pp-artifacts");
        if std::fs::symlink_metadata(&artifacts).is_ok_and(|m| m.file_type().is_symlink()) {
            // A repository could point it anywhere; pp writes only where it expects to.
            return Err(Error::Usage {
                message: format!(
                    "{} is a symlink; pp will not write a bundle through it",
                    artifacts.display()
                ),
                hint: "remove the link (pp creates the folder itself)".into(),
            });
        }
        let bundle = BundleWriter::create(artifacts.join(&session_id).join("proof_bundle"))?;
        // Bundles and the digest cache are pp's, not the project's: `git add -A` leaves them.
        // Written once; a `.gitignore` the user changed is theirs.
        let ignore = artifacts.join(".gitignore");
        if std::fs::symlink_metadata(&ignore).is_err()
            && let Err(e) = crate::bundle::write_atomic(
                &ignore,
                b"# written by pp: its bundles stay out of git\n*\n",
            )
        {
            tracing::warn!("cannot write {}: {e}", ignore.display());
        }
        let clock = Instant::now();
        let events = Events::new(
            bundle.clone(),
            clock,
            crate::redact::Redactor::from_env_vars(settings.env.iter().cloned()),
            watchers,
        );
        let rec = Self {
            session_id,
            bundle,
            events,
            started: jiff::Timestamp::now(),
            clock,
            targets: Vec::new(),
            baseline: Vec::new(),
            final_runs: Vec::new(),
            attempts: Vec::new(),
            attempts_used: 0,
            proposer: None,
            model: None,
            sandbox_info: None,
            isolation: IsolationRecord::unknown(),
            container: None,
            source: SourceInfo::default(),
            manifest_sha256: None,
            manifest_ms: None,
            sandbox_teardown_ms: None,
            winner_patch: None,
            changed_files: Vec::new(),
            minimization: None,
            classification: None,
            failures: Vec::new(),
        };
        rec.event(Event::SessionStart {
            session_id: rec.session_id.clone(),
            provider: settings.provider_label.clone(),
            bundle: rec.dir().to_owned(),
        });
        rec.repro(settings, None)?;
        rec.bundle.write_json("policy.json", settings.doc())?;
        Ok(rec)
    }

    /// Milliseconds since the session began.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn dir(&self) -> &Path {
        self.bundle.dir()
    }

    /// A path in the bundle, for logs the commands write themselves.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.bundle.path(rel)
    }

    /// The bundle writer, for `--apply` (which reads the manifest and logs an event).
    pub fn writer(&self) -> &BundleWriter {
        &self.bundle
    }

    /// Records `event` (`events.jsonl`, the `--events` stream, the progress display).
    pub fn event(&self, event: Event) {
        self.events.emit(event);
    }

    /// The event sink, for the command runner.
    pub fn events(&self) -> Events {
        self.events.clone()
    }

    /// Writes `attempts/<n>/<name>` as JSON.
    pub fn attempt_json<T: Serialize + ?Sized>(
        &self,
        n: u32,
        name: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.bundle
            .write_json(&format!("attempts/{n}/{name}"), value)?;
        Ok(())
    }

    /// Writes `attempts/<n>/<name>` as it is.
    pub fn attempt_bytes(&self, n: u32, name: &str, bytes: &[u8]) -> Result<(), Error> {
        self.bundle
            .write_bytes(&format!("attempts/{n}/{name}"), bytes)?;
        Ok(())
    }

    pub fn sandbox_created(&mut self, info: SandboxInfo) {
        self.sandbox_info = Some(info);
        self.event(Event::SandboxCreated {
            sandbox: to_value(&self.sandbox_info),
        });
    }

    pub fn sandbox_removed(&mut self, took: Duration) {
        self.sandbox_teardown_ms = Some(took.as_secs_f64() * 1000.0);
    }

    /// The proposer that answered, and its model.
    pub fn proposer_answered(&mut self, proposer: &str, model: Option<&str>) {
        self.proposer = Some(proposer.to_owned());
        if let Some(m) = model {
            self.model = Some(m.to_owned());
        }
    }

    /// Records how attempt `n` ended: `outcome.json`, the `attempt` event, `repro.json`'s list.
    pub fn attempt(
        &mut self,
        n: u32,
        outcome: AttemptKind,
        rule: Option<&str>,
        feedback: &str,
        diff: Option<&str>,
    ) -> Result<(), Error> {
        let rec = AttemptRecord {
            attempt: n,
            outcome,
            rule: rule.map(str::to_owned),
            feedback: feedback.to_owned(),
            proposer: self.proposer.clone(),
            diff_sha256: diff.map(|d| crate::digest::sha256_hex(d.as_bytes())),
        };
        self.attempt_json(n, "outcome.json", &rec)?;
        self.event(Event::Attempt(rec.clone()));
        self.attempts.push(rec);
        Ok(())
    }

    pub fn minimized(&mut self, record: MinimizationRecord) {
        self.event(Event::Minimized(record.clone()));
        self.minimization = Some(record);
    }

    /// Records the background task's findings: `workspace_manifest.json`, `source_git.diff`.
    pub async fn provenance(
        &mut self,
        settings: &Settings,
        task: tokio::task::JoinHandle<Provenance>,
    ) -> Result<(), Error> {
        let found = task.await.map_err(|source| Error::Task {
            what: "hashing the workspace",
            source,
        })?;
        self.source = found.source;
        if let Some(diff) = found.diff {
            self.bundle
                .write_bytes("source_git.diff", diff.as_bytes())?;
        }
        let manifest = found.manifest.map_err(|e| Error::Io {
            what: format!("hash workspace {}", settings.workspace.display()),
            source: e,
        })?;
        let path = self
            .bundle
            .write_json("workspace_manifest.json", &manifest)?;
        self.manifest_sha256 = crate::digest::sha256_file(&path).ok();
        self.manifest_ms = Some(found.took.as_secs_f64() * 1000.0);
        Ok(())
    }

    /// Writes `final.patch`: the winner, or empty.
    pub fn final_patch(&self) -> Result<PathBuf, Error> {
        let text = self.winner_patch.as_deref().unwrap_or_default();
        Ok(self.bundle.write_bytes("final.patch", text.as_bytes())?)
    }

    pub fn final_summary(&self, text: &str) -> Result<(), Error> {
        self.bundle
            .write_bytes("final_summary.md", text.as_bytes())?;
        Ok(())
    }

    /// Writes `environment.json`.
    pub fn environment(&self, settings: &Settings) -> Result<(), Error> {
        let doc = environment(settings, self);
        self.bundle.write_json("environment.json", &doc)?;
        Ok(())
    }

    /// Writes `repro.json`: running while `outcome` is `None`, complete once the session ended
    /// (unless interrupted).
    pub fn repro(&self, settings: &Settings, outcome: Option<&Outcome>) -> Result<(), Error> {
        let repro = self.repro_doc(settings, outcome);
        self.bundle.write_json("repro.json", &repro)?;
        Ok(())
    }

    fn repro_doc(&self, settings: &Settings, outcome: Option<&Outcome>) -> Repro {
        let status = outcome.map_or(RecordedStatus::Running, |o| o.status.into());
        Repro {
            schema_version: schema::REPRO_SCHEMA.into(),
            complete: outcome.is_some_and(|o| o.status != Status::Interrupted),
            session_id: self.session_id.clone(),
            status,
            success: outcome.is_some_and(|o| o.status.success()),
            command: match &settings.mode {
                Mode::Run(c) => Some(c.clone()),
                Mode::Prove => None,
            },
            targets: settings
                .targets
                .iter()
                .map(|t| ReproTarget {
                    name: t.name.clone(),
                    cmd: t.cmd.clone(),
                    argv: t.argv.clone(),
                })
                .collect(),
            policy_path: settings
                .policy
                .path
                .as_ref()
                .map(|p| p.display().to_string()),
            policy_sha256: settings.policy.sha256.clone(),
            provider: settings.provider_label.clone(),
            provider_chain: settings
                .chain
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
            endpoints: Endpoints {
                openai: settings.openai.as_ref().map(|c| c.summary()),
                local: settings.local.as_ref().map(|c| c.summary()),
            },
            proposer: self.proposer.clone(),
            model: self.model.clone(),
            pp_version: env!("CARGO_PKG_VERSION").into(),
            timings: self.timings(outcome.is_some()),
            sandbox: self.sandbox_json(),
            isolation: self.isolation.clone(),
            source: self.source.clone(),
            git_commit: self.source.git_commit.clone(),
            git_branch: self.source.git_branch.clone(),
            git_remote_url: self.source.git_remote_url.clone(),
            git_dirty: self.source.git_dirty,
            workspace_manifest_sha256: self.manifest_sha256.clone(),
            runtime: self.runtime(),
            container: self.container.as_ref().map(container_record),
            classification: self.classification.clone(),
            baseline: self.baseline.iter().map(TargetRun::summary).collect(),
            attempts: self.attempts.clone(),
            minimization: self.minimization.clone(),
            result: outcome.map(|o| self.result(o)),
        }
    }

    fn timings(&self, finished: bool) -> Timings {
        Timings {
            started_at: self.started.to_string(),
            finished_at: finished.then(|| jiff::Timestamp::now().to_string()),
            duration_ms: self.elapsed_ms(),
            manifest_ms: self.manifest_ms,
            sandbox_setup_ms: self.sandbox_info.as_ref().map(|s| s.setup_ms),
            sandbox_teardown_ms: self.sandbox_teardown_ms,
        }
    }

    fn runtime(&self) -> Runtime {
        let c = self.container.as_ref();
        Runtime {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            container_runtime: c.map(|c| c.runtime.clone()),
            container_runtime_version: c.map(|c| c.server_version.clone()),
            container_client_version: c.map(|c| c.client_version.clone()),
            container_image_id: c.map(|c| c.image_id.clone()),
        }
    }

    fn result(&self, o: &Outcome) -> ReproResult {
        ReproResult {
            status: o.status.into(),
            attempts_used: o.attempts_used,
            final_exit_code: o.final_exit_code,
            final_patch_sha256: self
                .winner_patch
                .as_ref()
                .map(|p| crate::digest::sha256_hex(p.as_bytes())),
            changed_files: o.changed_files.clone(),
            applied: o.applied,
            apply_refused: o.apply_refused.clone(),
            message: o.message.clone(),
            hint: o.hint.clone(),
            final_runs: self.final_runs.iter().map(TargetRun::summary).collect(),
        }
    }

    fn sandbox_json(&self) -> Option<serde_json::Value> {
        self.sandbox_info.as_ref().map(to_value)
    }
}

fn to_value<T: Serialize + ?Sized>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

fn container_record(c: &EngineInfo) -> ContainerRecord {
    ContainerRecord {
        runtime: c.runtime.clone(),
        client_version: c.client_version.clone(),
        server_version: c.server_version.clone(),
        image: c.image.clone(),
        image_id: Some(c.image_id.clone()),
    }
}

fn environment(settings: &Settings, rec: &Recorder) -> Environment {
    let p = &settings.doc().policy;
    let filter = EnvFilter::new(
        [settings.attest.key_env.clone()],
        &p.env.deny,
        p.env.pass.as_deref(),
    );
    let names = |passed: bool| -> Vec<String> {
        settings
            .env
            .iter()
            .map(|(k, _)| k)
            .filter(|k| filter.allows(k) == passed)
            .cloned()
            .collect()
    };
    let in_container = rec.container.as_ref().map(|_| {
        let passed = filter.apply(settings.env.iter().cloned());
        sandbox::container_env_names(&passed)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    Environment {
        schema_version: schema::ENVIRONMENT_SCHEMA.into(),
        pp_version: env!("CARGO_PKG_VERSION").into(),
        os: std::env::consts::OS.into(),
        arch: std::env::consts::ARCH.into(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned()),
        git_version: tool_version("git", &["--version"]),
        sandbox: rec.sandbox_json(),
        isolation: rec.isolation.clone(),
        container: rec.container.as_ref().map(container_record),
        env_passed: names(true),
        env_passed_into_container: in_container,
        env_withheld: names(false),
    }
}

fn tool_version(prog: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(prog).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
