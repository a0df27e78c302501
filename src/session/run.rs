//! The proving loop of DESIGN §3.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::verify::{Runner, TargetRun, Verification, judge};
use super::workbench::{self, Plan};
use super::{Outcome, Status, TargetOutcome};
use crate::bundle::{self, BundleWriter};
use crate::context::{self, Classification, PathMap};
use crate::error::Error;
use crate::exec::{Cancel, EnvFilter, ExecError};
use crate::patch::{self, ChangeSet, WriteRules};
use crate::policy::{self, BackendKind, Network, Target};
use crate::propose::{
    self, FailureEvidence, PreviousAttempt, ProposalRequest, ProposeError, ProposeIo,
    RequestPolicy, TargetRef,
};
use crate::redact::Redactor;
use crate::report;
use crate::sandbox::{self, Sandbox};
use crate::settings::Settings;

/// The manifest's digest cache, in the workspace's `.pp-artifacts/` (pp's own folder).
pub(crate) const MANIFEST_CACHE: &str = "manifest-cache.json";

/// Bytes of a failing command's output kept for a proposer.
const EVIDENCE_TAIL_BYTES: usize = 12_000;

/// Verification runs minimization may spend; ddmin's own worst case (n² + 3n) bounds it below
/// this for small patches.
const MINIMIZE_MAX_RUNS: usize = 16;

/// A candidate that passed, with what minimization needs to rerun it.
struct Winner {
    attempt: u32,
    changes: ChangeSet,
    patch: patch::Patch,
    runner: Runner,
    rules: patch::CompiledRules,
    root: PathBuf,
}

/// Everything the session accumulates, for the bundle and the report.
struct State {
    session_id: String,
    bundle: BundleWriter,
    started: jiff::Timestamp,
    clock: Instant,
    targets: Vec<Target>,
    baseline: Vec<TargetRun>,
    final_runs: Vec<TargetRun>,
    attempts: Vec<serde_json::Value>,
    attempts_used: u32,
    proposer: Option<String>,
    model: Option<String>,
    sandbox_info: Option<sandbox::SandboxInfo>,
    isolation: serde_json::Value,
    /// The container engine and image, when commands run in containers.
    container: Option<sandbox::EngineInfo>,
    source: bundle::SourceInfo,
    manifest_sha256: Option<String>,
    manifest_ms: Option<f64>,
    sandbox_teardown_ms: Option<f64>,
    winner_patch: Option<String>,
    changed_files: Vec<String>,
    minimization: Option<serde_json::Value>,
    classification: Option<Classification>,
}

/// How the loop ended, before the bundle is finished.
struct End {
    status: Status,
    message: String,
    hint: Option<String>,
}

impl End {
    fn new(status: Status, message: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            status,
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

fn new_session_id() -> String {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    let now = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    format!("{now}-{}", crate::digest::hex(&b))
}

/// Proves the settings' targets; always leaves a bundle behind.
pub async fn run_session(settings: &Settings, cancel: Cancel) -> Result<Outcome, Error> {
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
    let dir = settings
        .workspace
        .join(".pp-artifacts")
        .join(&session_id)
        .join("proof_bundle");
    let bundle = BundleWriter::create(dir)?;
    let mut st = State {
        session_id,
        bundle,
        started: jiff::Timestamp::now(),
        clock: Instant::now(),
        targets: Vec::new(),
        baseline: Vec::new(),
        final_runs: Vec::new(),
        attempts: Vec::new(),
        attempts_used: 0,
        proposer: None,
        model: None,
        sandbox_info: None,
        isolation: json!({"network": "unknown", "applied": "none"}),
        container: None,
        source: bundle::SourceInfo::default(),
        manifest_sha256: None,
        manifest_ms: None,
        sandbox_teardown_ms: None,
        winner_patch: None,
        changed_files: Vec::new(),
        minimization: None,
        classification: None,
    };
    tracing::info!("session {} → {}", st.session_id, st.bundle.dir().display());
    st.bundle.event(
        "session_start",
        json!({"session_id": st.session_id, "provider": settings.provider_label}),
    );
    write_repro(settings, &st, None, false)?;
    st.bundle.write_json("policy.json", settings.doc())?;

    let mut sandbox_slot: Option<Sandbox> = None;
    let result = prove(settings, &mut st, &mut sandbox_slot, &cancel).await;
    let (end, winner) = match result {
        Ok(x) => x,
        Err(Error::Exec(ExecError::Interrupted { .. })) | Err(Error::Interrupted) => (
            End::new(
                Status::Interrupted,
                "interrupted by a signal; the sandbox was removed",
                None,
            ),
            None,
        ),
        Err(e) => {
            st.bundle.event("error", json!({"message": e.to_string()}));
            let _ = write_repro(settings, &st, None, false);
            return Err(e);
        }
    };
    finish(settings, st, sandbox_slot, end, winner).await
}

/// The loop proper; returns how it ended and the winning candidate, if any.
async fn prove(
    settings: &Settings,
    st: &mut State,
    sandbox_slot: &mut Option<Sandbox>,
    cancel: &Cancel,
) -> Result<(End, Option<Winner>), Error> {
    let p = &settings.doc().policy;
    // Every target must be allowed before anything runs.
    st.targets = match policy::resolve_targets(p, &settings.targets) {
        Ok(t) => t,
        Err(refused) => {
            let list: Vec<String> = refused
                .iter()
                .map(|r| format!("`{}` ({})", r.command, r.target))
                .collect();
            st.bundle
                .event("policy_violation", json!({"refused": refused}));
            return Ok((
                End::new(
                    Status::PolicyViolation,
                    format!("command not allowed by the policy: {}", list.join(", ")),
                    Some(
                        "add the exact command to `policy.allowed_commands` (or its argv to `policy.allowed_argv`)",
                    ),
                ),
                None,
            ));
        }
    };
    let in_container = p.sandbox.backend == BackendKind::Container;
    let plan = if in_container {
        match prepare_container(settings, st).await {
            Ok(client_env) => {
                let (sb, network) = (p.sandbox.clone(), p.network);
                let image = st
                    .container
                    .as_ref()
                    .map(|c| c.image_id.clone())
                    .unwrap_or_else(|| p.sandbox.container_image.clone());
                let name = st.session_id.clone();
                Plan::Container(Box::new(move |root| {
                    sandbox::ContainerSpec::from_policy(&sb, network, image, root, name, client_env)
                }))
            }
            Err(e) => {
                let (message, hint) = e.message_and_hint();
                st.isolation =
                    json!({"network": p.network, "applied": "unavailable", "reason": message});
                st.bundle
                    .event("container_unavailable", json!({"error": e.to_string()}));
                return Ok((
                    End {
                        status: Status::InfraStop,
                        message,
                        hint,
                    },
                    None,
                ));
            }
        }
    } else {
        // Probed before anything is made: a machine that cannot confine stops here, quickly.
        match workbench::plan_confined(p, &settings.self_exe, &settings.env).await {
            Ok(plan) => {
                st.isolation = workbench::isolation_record(p.network, &plan);
                plan
            }
            Err(e) => {
                st.isolation =
                    json!({"network": p.network, "applied": "unavailable", "reason": e.reason});
                return Ok((
                    End {
                        status: Status::PolicyViolation,
                        message: format!(
                            "pp runs every command over your code confined (its own PID, mount and, under `network: deny`, network namespace, no privileges, a seccomp filter), and cannot here: {}",
                            e.reason
                        ),
                        hint: Some(e.hint),
                    },
                    None,
                ));
            }
        }
    };

    // The user's tree is hashed, and its git provenance read, while the sandbox is made and
    // the baseline runs: pp never writes that tree, so both are the same whenever they are
    // taken, and on a big workspace they are most of pp's own time.
    let manifest_task = {
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
    };

    let bench = match workbench::open(
        &settings.workspace,
        p.sandbox.backend,
        &p.sandbox.exclude,
        &settings.self_exe,
        plan,
    ) {
        Ok(b) => b,
        Err(
            e @ (sandbox::SandboxError::Unsupported { .. } | sandbox::SandboxError::Git { .. }),
        ) => {
            // The backend the policy asks for cannot be had here: refuse, never fall back.
            record_manifest(settings, st, manifest_task).await?;
            let (message, hint) = split_hint(e.to_string());
            return Ok((
                End {
                    status: Status::PolicyViolation,
                    message,
                    hint,
                },
                None,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let workbench::Workbench { sandbox, isolation } = bench;
    st.sandbox_info = Some(sandbox.info(p.sandbox.backend));
    let root = sandbox.root().to_owned();
    let command_cwd = sandbox.command_cwd().to_owned();
    if sandbox.kind() == policy::BackendKind::Overlay {
        st.isolation["filesystem"] =
            json!("overlay mounted at the workspace path in a private mount namespace");
    }
    *sandbox_slot = Some(sandbox);
    st.bundle
        .event("sandbox_created", json!({"sandbox": st.sandbox_info}));

    let redactor = Arc::new(Redactor::from_env_vars(settings.env.iter().cloned()));
    let env_filter = EnvFilter::new(
        [settings.attest.key_env.clone()],
        &p.env.deny,
        p.env.pass.as_deref(),
    );
    let runner = Runner {
        cwd: command_cwd,
        files: root.clone(),
        env: env_filter.apply(settings.env.iter().cloned()),
        limits: p.limits.clone(),
        isolation,
        cancel: cancel.clone(),
        redactor: Some(redactor.clone()),
        watch: sandbox_slot.as_ref().and_then(Sandbox::group_watch),
    };

    // Baseline.
    let base_dir = st.bundle.path("attempts/0_baseline");
    st.baseline = runner.run_all(&st.targets, &base_dir).await?;
    record_manifest(settings, st, manifest_task).await?;
    st.bundle
        .event("baseline", json!({"runs": summarize_runs(&st.baseline)}));
    if st.baseline.iter().all(TargetRun::passed) {
        st.final_runs = st.baseline.clone();
        return Ok((
            End::new(
                Status::AlreadyPassing,
                "every proof target already passes; nothing to prove",
                None,
            ),
            None,
        ));
    }
    let failing: Vec<Target> = st
        .targets
        .iter()
        .filter(|t| {
            st.baseline
                .iter()
                .any(|r| r.target == t.name && !r.passed())
        })
        .cloned()
        .collect();
    if let Some((
        run,
        Classification::Infra {
            rule,
            description,
            evidence,
        },
    )) = st.baseline.iter().filter(|r| !r.passed()).find_map(|r| {
        matches!(r.classification, Classification::Infra { .. })
            .then(|| (r, r.classification.clone()))
    }) {
        st.classification = Some(run.classification.clone());
        st.final_runs = st.baseline.clone();
        return Ok((
            End::new(
                Status::InfraStop,
                format!(
                    "target `{}` failed for an infrastructure reason ({rule}: {description}): {evidence}",
                    run.target
                ),
                Some(infra_hint(&rule)),
            ),
            None,
        ));
    }
    st.classification = Some(Classification::Code);

    // Reproduce: a failure that does not recur is flaky, and no proof can rest on it.
    for k in 1..=p.reproduce_runs {
        let dir = base_dir.join(format!("rerun_{k}"));
        let reruns = runner.run_all(&failing, &dir).await?;
        st.bundle.event(
            "reproduce",
            json!({"run": k, "runs": summarize_runs(&reruns)}),
        );
        if let Some(r) = reruns.iter().find(|r| r.passed()) {
            st.final_runs = st.baseline.clone();
            return Ok((
                End::new(
                    Status::NotReproducible,
                    format!(
                        "target `{}` failed once, then passed on rerun {k}: the failure is not reproducible (flaky)",
                        r.target
                    ),
                    Some(
                        "stabilise the test first; `policy.reproduce_runs` sets how many reruns check this",
                    ),
                ),
                None,
            ));
        }
    }

    // Evidence.
    let map = PathMap {
        workspace: settings.workspace.clone(),
        sandbox: root.clone(),
        container_workdir: in_container.then(|| PathBuf::from(&p.sandbox.container_workdir)),
    };
    let rules = write_rules(settings)
        .compile()
        .map_err(|e| Error::Internal(format!("write rules: {e}")))?;
    let failures: Vec<FailureEvidence> = st
        .baseline
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            let mut output_tail = tail_chars(&r.capture.combined_tail(), EVIDENCE_TAIL_BYTES);
            // A hung test prints nothing about itself: say what the output cannot.
            if let Some(note) = r.hang_note() {
                output_tail.push_str(&format!("\n[pp] {note}\n"));
            }
            FailureEvidence {
                target: r.target.clone(),
                command: r.capture.command.clone(),
                exit_code: r.capture.exit_code,
                output_tail,
            }
        })
        .collect();
    let combined: String = failures
        .iter()
        .map(|f| f.output_tail.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let editable = |path: &str| rules.check_path(path).is_ok();
    let failure_context = context::build(&combined, &root, &map, &editable, p.context_budget_bytes);

    // Attempts.
    let clients = propose::ModelClients::new(
        &settings.chain,
        settings.openai.as_ref(),
        settings.local.as_ref(),
    )
    .map_err(Error::Propose)?;
    // `suggest` may read rustc's machine-applicable fixes when the policy allows the JSON
    // check; it runs like a target (sandbox, isolation, filtered environment).
    let cargo_check = settings
        .chain
        .contains(&propose::ProviderSpec::Suggest)
        .then(|| propose::suggest::cargo_check_invocation(settings.doc()))
        .flatten()
        .map(|invocation| propose::suggest::CargoCheck {
            invocation,
            cwd: runner.cwd.clone(),
            env: runner.env.clone(),
            isolation: runner.isolation.clone(),
            watch: runner.watch.clone(),
            timeout: Duration::from_secs(p.limits.per_command_timeout_sec),
            max_output_bytes: p.limits.max_output_bytes,
            log_dir: st.bundle.path("attempts/0_baseline/suggest_cargo_check"),
            cache: Arc::default(),
        });
    let mut previous: Vec<PreviousAttempt> = Vec::new();
    // Changes already verified and failed: (the applied change's canonical diff, its attempt).
    let mut verified: Vec<(String, u32)> = Vec::new();
    for n in 1..=p.limits.max_attempts {
        if cancel.is_cancelled() {
            return Err(Error::Interrupted);
        }
        st.attempts_used = n;
        let adir = format!("attempts/{n}");
        let mut request = ProposalRequest {
            schema_version: propose::REQUEST_SCHEMA,
            session_id: st.session_id.clone(),
            attempt: n,
            max_attempts: p.limits.max_attempts,
            user_context: settings.user_context.clone(),
            targets: st
                .targets
                .iter()
                .map(|t| TargetRef {
                    name: t.name.clone(),
                    command: t.invocation.display(),
                })
                .collect(),
            failures: failures.clone(),
            context: failure_context.clone(),
            policy: request_policy(settings),
            previous_attempts: previous.clone(),
            whole_file: whole_file_candidate(&previous, &failure_context, &rules, &root),
            reply_format: propose::REPLY_FORMAT,
            prompt: String::new(),
        };
        request.prompt = propose::render_prompt(&request);
        // Everything that leaves pp, and everything in the bundle, is redacted.
        let request = request.redacted(&redactor);
        st.bundle
            .write_json(&format!("{adir}/request.json"), &request)?;
        st.bundle.event("propose", json!({"attempt": n}));
        let io = ProposeIo {
            redactor: redactor.clone(),
            cwd: root.clone(),
            env: proposer_env(settings),
            log_dir: st.bundle.path(&adir),
            timeout: Duration::from_secs(p.provider.command_timeout_sec),
            max_reply_bytes: p.limits.max_patch_bytes.saturating_mul(4).max(1 << 20),
            cancel: cancel.clone(),
            cargo_check: cargo_check.clone(),
        };
        let exchange = match propose::propose(&settings.chain, &clients, &request, &io).await {
            Ok(x) => x,
            Err(ProposeError::Interrupted) => return Err(Error::Interrupted),
            Err(e @ ProposeError::Unusable { .. }) => {
                record_attempt(st, n, "proposer_unusable", &e.to_string(), None, None)?;
                let (message, hint) = split_hint(e.to_string());
                return Ok((
                    End {
                        status: Status::InfraStop,
                        message,
                        hint,
                    },
                    None,
                ));
            }
            Err(e @ ProposeError::Config { .. }) => return Err(Error::Propose(e)),
            Err(e @ ProposeError::Failed { .. }) => {
                let fb = e.to_string();
                record_attempt(st, n, "proposer_failed", &fb, None, None)?;
                previous.push(PreviousAttempt {
                    attempt: n,
                    diff: None,
                    outcome: "proposer_failed".into(),
                    feedback: fb,
                });
                continue;
            }
        };
        st.proposer = Some(exchange.proposer.clone());
        if exchange.model.is_some() {
            st.model = exchange.model.clone();
        }
        st.bundle
            .write_bytes(&format!("{adir}/reply.txt"), exchange.raw_reply.as_bytes())?;
        st.bundle
            .write_json(&format!("{adir}/proposal.json"), &exchange)?;

        let Some(body) = exchange.proposal.body.clone() else {
            let fb = format!(
                "no change was proposed: {}",
                exchange.proposal.empty_reason.clone().unwrap_or_default()
            );
            record_attempt(st, n, "no_change", &fb, None, None)?;
            previous.push(PreviousAttempt {
                attempt: n,
                diff: None,
                outcome: "no_change".into(),
                feedback: fb,
            });
            // Without a model every proposer of the chain is deterministic: having run out of
            // candidates once, it proposes nothing again; further attempts would only repeat.
            if !settings.chain.iter().any(propose::ProviderSpec::is_model) {
                break;
            }
            continue;
        };
        // The canonical rendering of what was parsed is what is recorded and fed back, never the
        // reply's prose and fences.
        let candidate = patch::candidate_diff(&root, &body)
            .and_then(|d| patch::parse(&d).map(|p| (patch::render(&p), p)));
        let (diff_text, parsed) = match candidate {
            Ok(x) => x,
            Err(rej) => {
                st.bundle.write_json(
                    &format!("{adir}/apply.json"),
                    &json!({"applied": false, "rejection": rej}),
                )?;
                let fb = rej.feedback();
                record_attempt(st, n, "rejected", &fb, None, Some(rej.rule()))?;
                previous.push(PreviousAttempt {
                    attempt: n,
                    diff: None,
                    outcome: format!("rejected: {}", rej.rule()),
                    feedback: fb,
                });
                continue;
            }
        };
        st.bundle
            .write_bytes(&format!("{adir}/candidate.diff"), diff_text.as_bytes())?;
        let changes = match patch::apply(&root, &parsed, &rules) {
            Ok(c) => c,
            Err(rej) => {
                st.bundle.write_json(
                    &format!("{adir}/apply.json"),
                    &json!({"applied": false, "rejection": rej}),
                )?;
                let fb = rej.feedback();
                record_attempt(st, n, "rejected", &fb, Some(&diff_text), Some(rej.rule()))?;
                previous.push(PreviousAttempt {
                    attempt: n,
                    diff: Some(diff_text),
                    outcome: format!("rejected: {}", rej.rule()),
                    feedback: fb,
                });
                continue;
            }
        };
        st.bundle.write_json(
            &format!("{adir}/apply.json"),
            &json!({"applied": true, "changed_files": changes.changed_paths(), "report": changes.report()}),
        )?;
        // The same change again (whatever its line numbers, context or formatting: this is the
        // diff of the files' real contents) gets the same verdict; the suite is not run again.
        let applied = changes.diff();
        if let Some(&(_, k)) = verified.iter().find(|(d, _)| *d == applied) {
            changes.undo(&root).map_err(|e| Error::Io {
                what: "undo a repeated candidate in the sandbox".into(),
                source: e,
            })?;
            let fb = format!(
                "this candidate makes exactly the change attempt {k} made (the same files with the same content), so it was not verified again: attempt {k}'s verdict stands (verification failed, see attempt {k}); propose a different change"
            );
            record_attempt(st, n, "duplicate", &fb, Some(&diff_text), Some("duplicate"))?;
            previous.push(PreviousAttempt {
                attempt: n,
                diff: Some(diff_text),
                outcome: format!("duplicate of attempt {k}: verification_failed"),
                feedback: fb,
            });
            continue;
        }
        st.bundle.event(
            "verify",
            json!({"attempt": n, "changed_files": changes.changed_paths()}),
        );
        let runs = runner
            .run_all(&st.targets, &st.bundle.path(&format!("{adir}/verify")))
            .await?;
        let mut verification = judge(&st.baseline, runs);
        if verification.passed {
            for k in 1..=p.confirm_runs {
                let again = runner
                    .run_all(&st.targets, &st.bundle.path(&format!("{adir}/confirm_{k}")))
                    .await?;
                let confirm = judge(&st.baseline, again);
                if !confirm.passed {
                    verification.passed = false;
                    verification.problems.push(format!(
                        "unstable: confirmation run {k} failed: {}",
                        confirm.problems.join("; ")
                    ));
                    break;
                }
            }
        }
        st.bundle
            .write_json(&format!("{adir}/verification.json"), &verification)?;
        st.final_runs = verification.runs.clone();
        if verification.passed {
            record_attempt(
                st,
                n,
                "passed",
                "every proof target passed",
                Some(&diff_text),
                None,
            )?;
            return Ok((
                End::new(Status::Proven, format!("proven in attempt {n}"), None),
                Some(Winner {
                    attempt: n,
                    changes,
                    patch: parsed,
                    runner: runner.clone(),
                    rules: rules.clone(),
                    root: root.clone(),
                }),
            ));
        }
        let fb = verification_feedback(&verification);
        record_attempt(st, n, "verification_failed", &fb, Some(&diff_text), None)?;
        verified.push((applied, n));
        changes.undo(&root).map_err(|e| Error::Io {
            what: "undo a failed candidate in the sandbox".into(),
            source: e,
        })?;
        previous.push(PreviousAttempt {
            attempt: n,
            diff: Some(diff_text),
            outcome: "verification_failed".into(),
            feedback: fb,
        });
    }
    if st.final_runs.is_empty() {
        st.final_runs = st.baseline.clone();
    }
    let hint = if !settings.chain.iter().any(propose::ProviderSpec::is_model) {
        Some(
            if settings.chain.contains(&propose::ProviderSpec::Suggest) {
                "the compilers' own suggestions did not fix it and no model is configured: set PP_OPENAI_API_KEY (OpenAI) or PP_LOCAL_BASE_URL (a local OpenAI-compatible server), or `policy.provider.command` / `--provider command:PATH`; the default provider `auto` then tries the model after the suggestions"
            } else {
                "no model is configured, so no fix was proposed: set PP_PROVIDER=openai with PP_OPENAI_API_KEY, or PP_PROVIDER=local with PP_LOCAL_BASE_URL, or `--provider command:PATH`"
            },
        )
    } else {
        Some(
            "see final_summary.md and attempts/<n>/ in the bundle for why each candidate failed; `--context` can give the proposer more to go on",
        )
    };
    Ok((
        End::new(
            Status::NotProven,
            format!(
                "no candidate passed every proof target in {} attempt(s)",
                st.attempts_used
            ),
            hint,
        ),
        None,
    ))
}

/// Writes the rest of the bundle, cleans up, signs, applies; the outcome for the report.
async fn finish(
    settings: &Settings,
    mut st: State,
    sandbox: Option<Sandbox>,
    end: End,
    winner: Option<Winner>,
) -> Result<Outcome, Error> {
    if let Some(w) = &winner {
        let (patch_text, files) = minimized(settings, &mut st, w).await;
        st.winner_patch = Some(patch_text);
        st.changed_files = files;
    }
    let final_patch = st.bundle.write_bytes(
        "final.patch",
        st.winner_patch.clone().unwrap_or_default().as_bytes(),
    )?;
    let teardown = Instant::now();
    let sandbox_kept = match sandbox {
        Some(s) if settings.keep_sandbox => Some(s.keep()),
        Some(s) => {
            if let Err(e) = s.cleanup() {
                tracing::warn!("{e}");
            }
            st.sandbox_teardown_ms = Some(teardown.elapsed().as_secs_f64() * 1000.0);
            None
        }
        None => None,
    };
    st.bundle
        .write_json("environment.json", &environment(settings, &st))?;
    let final_exit_code = final_exit(&st, &end);
    let targets: Vec<TargetOutcome> = st
        .targets
        .iter()
        .map(|t| TargetOutcome {
            name: t.name.clone(),
            command: t.invocation.display(),
            baseline_exit_code: st
                .baseline
                .iter()
                .find(|r| r.target == t.name)
                .map(|r| r.capture.exit_code),
            final_exit_code: st
                .final_runs
                .iter()
                .find(|r| r.target == t.name)
                .map(|r| r.capture.exit_code),
        })
        .collect();
    let mut outcome = Outcome {
        status: end.status,
        session_id: st.session_id.clone(),
        attempts_used: st.attempts_used,
        final_exit_code,
        proof_bundle: st.bundle.dir().to_owned(),
        final_patch: Some(final_patch),
        attestation: None,
        message: end.message,
        hint: end.hint,
        applied: false,
        apply_refused: None,
        sandbox_kept,
        targets,
        changed_files: st.changed_files.clone(),
    };
    if settings.apply
        && outcome.status == Status::Proven
        && let Some(patch_text) = &st.winner_patch
    {
        match super::apply::apply_to_workspace(settings, &st.bundle, patch_text) {
            Ok(()) => outcome.applied = true,
            Err(e) => {
                tracing::warn!("{e}");
                let (message, hint) = split_hint(e.to_string());
                outcome.apply_refused = Some(message);
                if outcome.hint.is_none() {
                    outcome.hint = hint;
                }
            }
        }
    }
    st.bundle.write_bytes(
        "final_summary.md",
        report::final_summary(
            &outcome,
            &st.baseline,
            &st.final_runs,
            st.winner_patch.as_deref(),
        )
        .as_bytes(),
    )?;
    st.bundle.event(
        "session_end",
        json!({"status": outcome.status, "attempts_used": outcome.attempts_used, "applied": outcome.applied}),
    );
    write_repro(
        settings,
        &st,
        Some(&outcome),
        outcome.status != Status::Interrupted,
    )?;
    // Signing comes last: nothing may be written to the bundle after it.
    if settings.attest.enabled {
        outcome.attestation = Some(super::sign::sign_bundle(settings, st.bundle.dir())?);
    }
    Ok(outcome)
}

/// The winning diff, minimized when the policy asks and there is more than one hunk: subsets
/// are applied to the same sandbox, verified, and undone (delta debugging, at most
/// `MINIMIZE_MAX_RUNS` runs). Falls back to the whole winner when anything goes wrong.
async fn minimized(settings: &Settings, st: &mut State, w: &Winner) -> (String, Vec<String>) {
    st.bundle.event("winner", json!({"attempt": w.attempt}));
    let whole = (w.changes.diff(), w.changes.changed_paths());
    let units = patch::hunks(&w.patch);
    if !settings.doc().policy.minimize || units.len() < 2 {
        return whole;
    }
    if let Err(e) = w.changes.undo(&w.root) {
        tracing::warn!("minimization skipped: failed to undo the winner: {e}");
        return whole;
    }
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let baseline = st.baseline.clone();
    let targets = st.targets.clone();
    let bundle = st.bundle.clone();
    let result = patch::minimize(units.len(), MINIMIZE_MAX_RUNS, |subset: Vec<usize>| {
        let (runner, rules, root, patch_all) = (
            w.runner.clone(),
            w.rules.clone(),
            w.root.clone(),
            w.patch.clone(),
        );
        let targets = targets.clone();
        let baseline = baseline.clone();
        let log_root = bundle.path(&format!(
            "attempts/{}/minimize/run_{}",
            w.attempt,
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
        ));
        async move {
            let sub = patch::sub_patch(&patch_all, &subset);
            let Ok(changes) = patch::apply(&root, &sub, &rules) else {
                return Ok::<bool, ExecError>(false);
            };
            let runs = runner.run_all(&targets, &log_root).await;
            let undo = changes.undo(&root);
            let passed = judge(&baseline, runs?).passed;
            Ok(undo.is_ok() && passed)
        }
    })
    .await;
    match result {
        Ok(m) => {
            let mut kept_paths: Vec<String> = m
                .kept
                .iter()
                .filter_map(|i| units.get(*i))
                .map(|u| u.path.clone())
                .collect();
            kept_paths.dedup();
            let record = json!({
                "hunks_before": units.len(),
                "hunks_after": m.kept.len(),
                "kept": m.kept,
                "runs": m.runs,
                "max_runs": MINIMIZE_MAX_RUNS,
                "exhausted": m.exhausted,
            });
            st.bundle.event("minimized", record.clone());
            st.minimization = Some(record);
            if m.kept.len() == units.len() {
                return whole;
            }
            (patch::render_subset(&w.patch, &m.kept), kept_paths)
        }
        Err(e) => {
            tracing::warn!("minimization stopped: {e}");
            whole
        }
    }
}

/// What the background task learns about the user's tree.
struct Provenance {
    manifest: std::io::Result<bundle::Manifest>,
    took: Duration,
    source: bundle::SourceInfo,
    diff: Option<String>,
}

/// Records the background task's findings: `workspace_manifest.json`, `source_git.diff`.
async fn record_manifest(
    settings: &Settings,
    st: &mut State,
    task: tokio::task::JoinHandle<Provenance>,
) -> Result<(), Error> {
    let found = task
        .await
        .map_err(|e| Error::Internal(format!("the workspace hashing task failed: {e}")))?;
    st.source = found.source;
    if let Some(diff) = found.diff {
        st.bundle.write_bytes("source_git.diff", diff.as_bytes())?;
    }
    let manifest = found.manifest.map_err(|e| Error::Io {
        what: format!("hash workspace {}", settings.workspace.display()),
        source: e,
    })?;
    let path = st.bundle.write_json("workspace_manifest.json", &manifest)?;
    st.manifest_sha256 = crate::digest::sha256_file(&path).ok();
    st.manifest_ms = Some(found.took.as_secs_f64() * 1000.0);
    Ok(())
}

fn final_exit(st: &State, end: &End) -> i32 {
    match end.status {
        Status::Proven | Status::AlreadyPassing => 0,
        _ => st
            .final_runs
            .iter()
            .chain(st.baseline.iter())
            .find(|r| !r.passed())
            .map(|r| r.capture.exit_code)
            .unwrap_or(0),
    }
}

fn record_attempt(
    st: &mut State,
    n: u32,
    outcome: &str,
    feedback: &str,
    diff: Option<&str>,
    rule: Option<&str>,
) -> Result<(), Error> {
    let rec = json!({
        "attempt": n,
        "outcome": outcome,
        "rule": rule,
        "feedback": feedback,
        "proposer": st.proposer,
        "diff_sha256": diff.map(|d| crate::digest::sha256_hex(d.as_bytes())),
    });
    st.bundle
        .write_json(&format!("attempts/{n}/outcome.json"), &rec)?;
    st.bundle.event("attempt", rec.clone());
    tracing::info!("attempt {n}: {outcome}");
    st.attempts.push(rec);
    Ok(())
}

/// After two candidates in a row failed to apply, and when the evidence points at exactly one
/// editable file that is not a test, the next request asks for that whole file instead of a
/// diff.
fn whole_file_candidate(
    previous: &[PreviousAttempt],
    ctx: &context::FailureContext,
    rules: &patch::CompiledRules,
    root: &Path,
) -> Option<propose::WholeFile> {
    let last_two_rejected = previous.len() >= 2
        && previous[previous.len() - 2..]
            .iter()
            .all(|p| p.outcome.starts_with("rejected"));
    if !last_two_rejected {
        return None;
    }
    let mut files: Vec<&str> = ctx
        .snippets
        .iter()
        .map(|s| s.path.as_str())
        .chain(
            ctx.locations
                .iter()
                .filter(|l| l.in_workspace)
                .map(|l| l.path.as_str()),
        )
        // Tests are evidence, not the thing to rewrite.
        .filter(|p| rules.check_path(p).is_ok() && !context::is_test_file(p))
        .collect();
    files.sort_unstable();
    files.dedup();
    let [only] = files.as_slice() else {
        return None;
    };
    // Never through a symlink out of the sandbox: the file goes to the proposer.
    let content = crate::beneath::read_to_string(root, Path::new(only), 1 << 20).ok()?;
    Some(propose::WholeFile {
        path: (*only).to_owned(),
        content,
    })
}

/// What the next attempt is told about a failed verification.
fn verification_feedback(v: &Verification) -> String {
    let mut s = String::from("The candidate applied, but verification failed:\n");
    for p in &v.problems {
        s.push_str("- ");
        s.push_str(p);
        s.push('\n');
    }
    for r in v.runs.iter().filter(|r| !r.passed()) {
        s.push_str(&format!(
            "\nOutput of `{}` (exit {}), last lines:\n{}\n",
            r.capture.command,
            r.capture.exit_code,
            tail_chars(&r.capture.combined_tail(), 4000)
        ));
    }
    s
}

fn summarize_runs(runs: &[TargetRun]) -> serde_json::Value {
    runs.iter()
        .map(|r| json!({"target": r.target, "exit_code": r.capture.exit_code, "timed_out": r.capture.timed_out, "duration_ms": r.capture.duration_ms, "tests": r.tests}))
        .collect()
}

/// The last `max` bytes of `s`, cut at a char boundary.
fn tail_chars(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[… {start} bytes omitted …]\n{}", &s[start..])
}

/// Splits an error's `\nhint: …` line off its message, for the summary's separate fields.
fn split_hint(text: String) -> (String, Option<String>) {
    match text.split_once("\nhint: ") {
        Some((m, h)) => (m.to_owned(), Some(h.to_owned())),
        None => (text, None),
    }
}

fn infra_hint(rule: &str) -> &'static str {
    // Rule ids of `context::INFRA_RULES`.
    match rule {
        "timeout" => {
            "raise `policy.limits.per_command_timeout_sec` if the command needs longer, or check what it waits for"
        }
        "command_not_found" | "missing_command" => {
            "install the missing tool or fix PATH; pp does not patch around a missing program"
        }
        "connection_refused" | "connection_reset" | "network" | "dns" | "tls" => {
            "the command needs a network service: start it, or set `policy.network: allow` if it is remote and you trust it"
        }
        "auth" => {
            "the command was refused credentials; provide them through the environment (and `policy.env.pass`)"
        }
        "rate_limit" => "a service rate-limited the command; try again later",
        "disk_full" => "free disk space and run again",
        "oom_kill" | "oom_killed" | "out_of_memory" => {
            "the command ran out of memory; raise the memory available to it (`policy.sandbox.memory_limit` in a container)"
        }
        "container_engine" => {
            "the container engine refused to run the command: check `policy.sandbox` (cpu_limit, memory_limit, image) and the engine's log; `pp doctor` probes it"
        }
        _ => "fix the environment, then run again",
    }
}

pub(crate) fn write_rules(settings: &Settings) -> WriteRules {
    let p = &settings.doc().policy;
    WriteRules {
        write_allowlist: p.write_allowlist.clone(),
        deny_write: p.deny_write.clone(),
        protected: policy::protected_globs(settings.policy_rel.as_deref(), &p.protected),
        max_files_changed: p.limits.max_files_changed,
        max_patch_bytes: p.limits.max_patch_bytes,
        guard_tests: !p.allow_test_edits,
    }
}

fn request_policy(settings: &Settings) -> RequestPolicy {
    let r = write_rules(settings);
    RequestPolicy {
        write_allowlist: r.write_allowlist,
        deny_write: r.deny_write,
        protected: r.protected,
        max_files_changed: r.max_files_changed,
        max_patch_bytes: r.max_patch_bytes,
    }
}

/// An external proposer is the user's own program: it gets the environment minus the
/// attestation key (it may need a model key of its own).
fn proposer_env(settings: &Settings) -> Vec<(String, String)> {
    settings
        .env
        .iter()
        .filter(|(k, _)| *k != settings.attest.key_env && k != "PP_ATTEST_HMAC_KEY")
        .cloned()
        .collect()
}

/// Checks the container engine and image, and that the engine starts a container from it (a
/// clear `infra_stop` otherwise), removes containers crashed sessions left behind, and records
/// what it found. Returns the client's environment.
async fn prepare_container(
    settings: &Settings,
    st: &mut State,
) -> Result<Vec<(String, String)>, sandbox::ContainerError> {
    let sb = &settings.doc().policy.sandbox;
    let client_env = sandbox::client_env(settings.env.iter().cloned());
    let info =
        sandbox::probe_container_engine(&sb.container_runtime, &sb.container_image, &client_env)
            .await?;
    // An engine that answers may still be unable to start anything: find out before the
    // baseline, so no command's failure (and no proposer) is spent on it.
    sandbox::probe_container_start(sb, &info.image_id, &client_env, &st.session_id).await?;
    let removed = match sandbox::remove_stale_containers(&sb.container_runtime, &client_env).await {
        Ok(r) => r,
        Err(e) => {
            // Leftovers cost resources, not correctness: the session goes on.
            tracing::warn!("failed to look for stale containers: {e}");
            Vec::new()
        }
    };
    st.bundle.event(
        "container_engine",
        json!({"engine": info, "stale_removed": removed}),
    );
    let network = settings.doc().policy.network;
    st.isolation = json!({
        "network": network,
        "applied": "container",
        "container_network": match network {
            Network::Deny => "none",
            Network::Allow => "default",
        },
        "runtime": info.runtime,
        "image": info.image,
        "image_id": info.image_id,
    });
    st.container = Some(info);
    Ok(client_env)
}

fn environment(settings: &Settings, st: &State) -> serde_json::Value {
    let p = &settings.doc().policy;
    let filter = EnvFilter::new(
        [settings.attest.key_env.clone()],
        &p.env.deny,
        p.env.pass.as_deref(),
    );
    let passed: Vec<&str> = settings
        .env
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| filter.allows(k))
        .collect();
    let withheld: Vec<&str> = settings
        .env
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !filter.allows(k))
        .collect();
    let in_container = st.container.as_ref().map(|_| {
        let passed = filter.apply(settings.env.iter().cloned());
        sandbox::container_env_names(&passed)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    json!({
        "schema_version": "pp.environment/v1",
        "pp_version": env!("CARGO_PKG_VERSION"),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
        "git_version": tool_version("git", &["--version"]),
        "sandbox": st.sandbox_info,
        "isolation": st.isolation,
        "container": st.container,
        "env_passed": passed,
        "env_passed_into_container": in_container,
        "env_withheld": withheld,
    })
}

fn tool_version(prog: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(prog).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn write_repro(
    settings: &Settings,
    st: &State,
    outcome: Option<&Outcome>,
    complete: bool,
) -> Result<PathBuf, Error> {
    let now = jiff::Timestamp::now();
    let targets: Vec<serde_json::Value> = settings
        .targets
        .iter()
        .map(|t| {
            let mut v = json!({"name": t.name});
            if let Some(c) = &t.cmd {
                v["cmd"] = c.clone().into();
            }
            if let Some(a) = &t.argv {
                v["argv"] = json!(a);
            }
            v
        })
        .collect();
    let command = match &settings.mode {
        crate::settings::Mode::Run(c) => Some(c.clone()),
        crate::settings::Mode::Prove => None,
    };
    let final_patch_sha256 = st
        .winner_patch
        .as_ref()
        .map(|p| crate::digest::sha256_hex(p.as_bytes()));
    let runtime = json!({
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "container_runtime": st.container.as_ref().map(|c| &c.runtime),
        "container_runtime_version": st.container.as_ref().map(|c| &c.server_version),
        "container_client_version": st.container.as_ref().map(|c| &c.client_version),
        "container_image_id": st.container.as_ref().map(|c| &c.image_id),
    });
    let result = outcome.map(|o| {
        json!({
            "status": o.status,
            "attempts_used": o.attempts_used,
            "final_exit_code": o.final_exit_code,
            "final_patch_sha256": final_patch_sha256,
            "changed_files": o.changed_files,
            "applied": o.applied,
            "apply_refused": o.apply_refused,
            "message": o.message,
            "hint": o.hint,
            "final": summarize_runs(&st.final_runs),
        })
    });
    let repro = json!({
        "schema_version": bundle::REPRO_SCHEMA,
        "complete": complete,
        "session_id": st.session_id,
        "status": outcome.map(|o| o.status.as_str()).unwrap_or("running"),
        "success": outcome.map(|o| o.status.success()).unwrap_or(false),
        "command": command,
        "targets": targets,
        "policy_path": settings.policy.path.as_ref().map(|p| p.display().to_string()),
        "policy_sha256": settings.policy.sha256,
        "provider": settings.provider_label,
        "provider_chain": settings.chain.iter().map(|c| c.name()).collect::<Vec<_>>(),
        "endpoints": {
            "openai": settings.openai.as_ref().map(|c| c.summary()),
            "local": settings.local.as_ref().map(|c| c.summary()),
        },
        "proposer": st.proposer,
        "model": st.model,
        "pp_version": env!("CARGO_PKG_VERSION"),
        "timings": {
            "started_at": st.started.to_string(),
            "finished_at": outcome.map(|_| now.to_string()),
            "duration_ms": u64::try_from(st.clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            "manifest_ms": st.manifest_ms,
            "sandbox_setup_ms": st.sandbox_info.as_ref().map(|s| s.setup_ms),
            "sandbox_teardown_ms": st.sandbox_teardown_ms,
        },
        "sandbox": st.sandbox_info,
        "isolation": st.isolation,
        "source": st.source,
        "git_commit": st.source.git_commit,
        "git_branch": st.source.git_branch,
        "git_remote_url": st.source.git_remote_url,
        "git_dirty": st.source.git_dirty,
        "workspace_manifest_sha256": st.manifest_sha256,
        "runtime": runtime,
        "container": st.container,
        "classification": st.classification,
        "baseline": summarize_runs(&st.baseline),
        "attempts": st.attempts,
        "minimization": st.minimization,
        "result": result,
    });
    Ok(st.bundle.write_json("repro.json", &repro)?)
}
