//! One attempt of DESIGN §3: evidence → request → proposer → reply → candidate diff → policy
//! and all-or-nothing apply → verification. Its result is an [`AttemptOutcome`]; a candidate
//! that did not pass is undone before this returns, so every attempt starts from the original
//! source. What happens next is `decide`'s; the attempt's files go through the recorder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::baseline::Baseline;
use super::events::{Busy, Event, Phase};
use super::recorder::Recorder;
use super::verify::{FailingFirst, Runner, Verification, judge};
use crate::bundle::schema::AttemptKind;
use crate::context::{self, FailureContext, PathMap};
use crate::error::Error;
use crate::outcome::TargetRun;
use crate::patch::{self, ChangeSet, CompiledRules, Rejection, WriteRules};
use crate::policy::{self, BackendKind};
use crate::propose::{
    self, Exchange, FailureEvidence, PreviousAttempt, ProposalRequest, ProposeError, ProposeIo,
    RequestPolicy, TargetRef,
};
use crate::redact::Redactor;
use crate::settings::Settings;

/// Bytes of a failing command's output kept for a proposer.
const EVIDENCE_TAIL_BYTES: usize = 12_000;

/// A candidate that passed, with what minimization needs to rerun it.
pub(super) struct Winner {
    pub attempt: u32,
    pub changes: ChangeSet,
    pub patch: patch::Patch,
}

/// How one attempt ended. Every variant but `Passed` and `ProposerUnusable` is fed back to
/// the next attempt.
pub(super) enum AttemptOutcome {
    /// The model endpoint cannot be used at all (`error`, the message with its hint, is
    /// recorded; `message` and `hint` end the session).
    ProposerUnusable {
        error: String,
        message: String,
        hint: Option<String>,
    },
    ProposerFailed {
        feedback: String,
    },
    NoChange {
        feedback: String,
    },
    /// The candidate did not parse, or the policy or the files refused it (`rule`); `diff` when
    /// it parsed.
    Rejected {
        rule: String,
        feedback: String,
        diff: Option<String>,
    },
    /// The same change as attempt `of`, whose verification failed: not verified again.
    Duplicate {
        of: u32,
        feedback: String,
        diff: String,
    },
    /// `applied`: the diff of the files' real contents, to recognise the same change again.
    VerificationFailed {
        feedback: String,
        diff: String,
        applied: String,
    },
    Passed {
        diff: String,
        winner: Box<Winner>,
    },
}

impl AttemptOutcome {
    /// How the attempt ended, as recorded and as `decide` reads it.
    pub fn kind(&self) -> AttemptKind {
        match self {
            Self::ProposerUnusable { .. } => AttemptKind::ProposerUnusable,
            Self::ProposerFailed { .. } => AttemptKind::ProposerFailed,
            Self::NoChange { .. } => AttemptKind::NoChange,
            Self::Rejected { .. } => AttemptKind::Rejected,
            Self::Duplicate { .. } => AttemptKind::Duplicate,
            Self::VerificationFailed { .. } => AttemptKind::VerificationFailed,
            Self::Passed { .. } => AttemptKind::Passed,
        }
    }

    /// The rule that refused the candidate, as recorded.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Self::Rejected { rule, .. } => Some(rule),
            Self::Duplicate { .. } => Some("duplicate"),
            _ => None,
        }
    }

    /// What the next attempt is told (and the record keeps).
    pub fn feedback(&self) -> &str {
        match self {
            Self::ProposerUnusable { error, .. } => error,
            Self::ProposerFailed { feedback }
            | Self::NoChange { feedback }
            | Self::Rejected { feedback, .. }
            | Self::Duplicate { feedback, .. }
            | Self::VerificationFailed { feedback, .. } => feedback,
            Self::Passed { .. } => "every proof target passed",
        }
    }

    /// The candidate's canonical diff, when it parsed.
    pub fn diff(&self) -> Option<&str> {
        match self {
            Self::Rejected { diff, .. } => diff.as_deref(),
            Self::Duplicate { diff, .. }
            | Self::VerificationFailed { diff, .. }
            | Self::Passed { diff, .. } => Some(diff),
            Self::ProposerUnusable { .. } | Self::ProposerFailed { .. } | Self::NoChange { .. } => {
                None
            }
        }
    }

    /// The attempt as the next request describes it.
    fn previous(&self, attempt: u32) -> Option<PreviousAttempt> {
        let outcome = match self {
            Self::ProposerUnusable { .. } | Self::Passed { .. } => return None,
            Self::ProposerFailed { .. } => "proposer_failed".to_owned(),
            Self::NoChange { .. } => "no_change".to_owned(),
            Self::Rejected { rule, .. } => format!("rejected: {rule}"),
            Self::Duplicate { of, .. } => format!("duplicate of attempt {of}: verification_failed"),
            Self::VerificationFailed { .. } => "verification_failed".to_owned(),
        };
        Some(PreviousAttempt {
            attempt,
            diff: self.diff().map(str::to_owned),
            outcome,
            feedback: self.feedback().to_owned(),
        })
    }
}

/// Everything attempts share: the sandbox's runner and files, the write rules, the evidence,
/// and the proposers.
pub(super) struct Attempter<'s> {
    pub settings: &'s Settings,
    pub runner: Runner,
    pub rules: CompiledRules,
    pub root: PathBuf,
    redactor: Arc<Redactor>,
    clients: propose::ModelClients,
    cargo_check: Option<propose::suggest::CargoCheck>,
    failures: Vec<FailureEvidence>,
    pub context: FailureContext,
    /// The failing targets narrowed to their failing tests, run first.
    pub first: FailingFirst,
    /// Whether `search` has had its one turn this session.
    searched: std::cell::Cell<bool>,
    /// The attempt whose candidate `search` found, with the note its summary carries.
    search_found: std::cell::RefCell<Option<(u32, String)>>,
    /// The sandboxes candidates are verified in beside the session's own.
    pub lanes: super::candidates::Lanes,
}

impl<'s> Attempter<'s> {
    /// Gathers the evidence of the baseline's failures and readies the proposers.
    pub fn new(
        settings: &'s Settings,
        rec: &Recorder,
        runner: Runner,
        baseline: &Baseline,
        plan: Option<super::workbench::Plan>,
    ) -> Result<Self, Error> {
        let p = &settings.doc().policy;
        let root = runner.files.clone();
        let map = PathMap {
            workspace: settings.workspace.clone(),
            sandbox: root.clone(),
            container_workdir: (p.sandbox.backend == BackendKind::Container)
                .then(|| PathBuf::from(&p.sandbox.container_workdir)),
        };
        let rules = write_rules(settings).compile().map_err(Error::WriteRules)?;
        let failures: Vec<FailureEvidence> = baseline.failed.iter().map(evidence).collect();
        let combined: String = failures
            .iter()
            .map(|f| f.output_tail.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let editable = |path: &str| rules.check_path(path).is_ok();
        let context = context::build(&combined, &root, &map, &editable, p.context_budget_bytes);
        let clients = propose::ModelClients::new(
            &settings.chain,
            settings.openai.as_ref(),
            settings.local.as_ref(),
        )
        .map_err(Error::Propose)?;
        let cargo_check = cargo_check(settings, rec, &runner);
        let redactor = match &runner.redactor {
            Some(r) => r.clone(),
            None => Arc::new(Redactor::from_env_vars(settings.env.iter().cloned())),
        };
        Ok(Self {
            settings,
            runner,
            rules,
            root,
            redactor,
            clients,
            cargo_check,
            failures,
            context,
            first: baseline.first.clone(),
            searched: std::cell::Cell::new(false),
            search_found: std::cell::RefCell::default(),
            lanes: super::candidates::Lanes::new(plan),
        })
    }

    /// Makes attempt `n` after `history` (the attempts before it, in order).
    pub async fn attempt(
        &self,
        n: u32,
        whole_file: bool,
        history: &[AttemptOutcome],
        rec: &mut Recorder,
    ) -> Result<AttemptOutcome, Error> {
        let request = self.request(n, whole_file, history, rec);
        rec.attempt_json(n, "request.json", &request)?;
        rec.event(Event::Propose {
            attempt: n,
            provider: self.settings.provider_label.clone(),
            prompt_bytes: request.prompt.len(),
        });
        let busy = Busy::Propose {
            attempt: n,
            provider: &self.settings.provider_label,
        };
        let events = rec.events();
        let waited = events.while_busy(busy, self.propose(n, &request, rec));
        let exchange = match waited.await? {
            Ok(x) => x,
            Err(outcome) => return Ok(outcome),
        };
        rec.proposer_answered(&exchange.proposer, exchange.model.as_deref());
        rec.event(Event::Proposal {
            attempt: n,
            proposer: exchange.proposer.clone(),
            model: exchange.model.clone(),
            latency_ms: exchange.latency_ms,
            reply_bytes: exchange.raw_reply.len(),
            change: exchange.proposal.body.is_some(),
            reason: exchange.proposal.empty_reason.clone(),
        });
        rec.attempt_bytes(n, "reply.txt", exchange.raw_reply.as_bytes())?;
        rec.attempt_json(n, "proposal.json", &exchange)?;
        if !exchange.alternatives.is_empty() {
            return super::candidates::judge_all(self, n, &exchange, history, rec).await;
        }
        let Some(body) = exchange.proposal.body.as_ref() else {
            let feedback = format!(
                "no change was proposed: {}",
                exchange.proposal.empty_reason.clone().unwrap_or_default()
            );
            return Ok(AttemptOutcome::NoChange { feedback });
        };
        // The canonical rendering of what was parsed is what is recorded and fed back, never
        // the reply's prose and fences.
        let candidate = patch::candidate_diff(&self.root, body)
            .and_then(|d| patch::parse(&d).map(|p| (patch::render(&p), p)));
        let (diff, parsed) = match candidate {
            Ok(x) => x,
            Err(rej) => return rejected(n, rej, None, rec),
        };
        rec.attempt_bytes(n, "candidate.diff", diff.as_bytes())?;
        let changes = match patch::apply(&self.root, &parsed, &self.rules) {
            Ok(c) => c,
            Err(rej) => return rejected(n, rej, Some(diff), rec),
        };
        rec.event(Event::Apply {
            attempt: n,
            applied: true,
            changed_files: changes.changed_paths(),
            rule: None,
            reason: None,
        });
        rec.attempt_json(
            n,
            "apply.json",
            &json!({"applied": true, "changed_files": changes.changed_paths(), "report": changes.report()}),
        )?;
        self.judge_candidate(n, diff, parsed, changes, history, rec)
            .await
    }

    /// The request of attempt `n`, redacted: everything that leaves pp, and everything in the
    /// bundle, is.
    fn request(
        &self,
        n: u32,
        whole_file: bool,
        history: &[AttemptOutcome],
        rec: &Recorder,
    ) -> ProposalRequest {
        let p = &self.settings.doc().policy;
        let mut request = ProposalRequest {
            schema_version: propose::REQUEST_SCHEMA,
            session_id: rec.session_id.clone(),
            attempt: n,
            max_attempts: p.limits.max_attempts,
            user_context: self.settings.user_context.clone(),
            targets: rec
                .targets
                .iter()
                .map(|t| TargetRef {
                    name: t.name.clone(),
                    command: t.invocation.display(),
                })
                .collect(),
            failures: self.failures.clone(),
            context: self.context.clone(),
            policy: request_policy(self.settings),
            previous_attempts: (1..)
                .zip(history)
                .filter_map(|(k, o)| o.previous(k))
                .collect(),
            whole_file: whole_file
                .then(|| whole_file_candidate(&self.context, &self.rules, &self.root))
                .flatten(),
            candidates: p.candidates,
            reply_format: propose::REPLY_FORMAT,
            prompt: String::new(),
        };
        request.prompt = propose::render_prompt(&request);
        request.redacted(&self.redactor)
    }

    /// Asks the proposer chain; an attempt that ends here is `Err`'s outcome.
    async fn propose(
        &self,
        n: u32,
        request: &ProposalRequest,
        rec: &Recorder,
    ) -> Result<Result<Exchange, AttemptOutcome>, Error> {
        let p = &self.settings.doc().policy;
        let io = ProposeIo {
            redactor: self.redactor.clone(),
            cwd: self.root.clone(),
            env: proposer_env(self.settings),
            log_dir: rec.path(&format!("attempts/{n}")),
            timeout: Duration::from_secs(p.provider.command_timeout_sec),
            max_reply_bytes: p.limits.max_patch_bytes.saturating_mul(4).max(1 << 20),
            cancel: self.runner.cancel.clone(),
            cargo_check: self.cargo_check.clone(),
        };
        match self.ask(n, request, &io, rec).await? {
            Ok(x) => Ok(Ok(x)),
            Err(ProposeError::Interrupted) => Err(Error::Interrupted),
            Err(e @ ProposeError::Config { .. }) => Err(Error::Propose(e)),
            Err(e @ ProposeError::Unusable { .. }) => Ok(Err(AttemptOutcome::ProposerUnusable {
                error: e.text_with_hint(),
                message: e.to_string(),
                hint: e.hint().map(str::to_owned),
            })),
            Err(e @ ProposeError::Failed { .. }) => Ok(Err(AttemptOutcome::ProposerFailed {
                feedback: e.to_string(),
            })),
        }
    }

    /// Asks the chain. `search` (which tries candidates against the tests, so the session
    /// runs it) has one turn per session: in the first attempt where the proposers before it
    /// offer nothing; after that, and when `policy.search.enabled` is off, the chain goes past it.
    async fn ask(
        &self,
        n: u32,
        request: &ProposalRequest,
        io: &ProposeIo,
        rec: &Recorder,
    ) -> Result<Result<Exchange, ProposeError>, Error> {
        let chain = &self.settings.chain;
        let at = chain
            .iter()
            .position(|s| *s == propose::ProviderSpec::Search);
        let Some(at) = at.filter(|_| !self.searched.get()) else {
            return Ok(propose::propose(chain, &self.clients, request, io).await);
        };
        let mut fallbacks = Vec::new();
        if at > 0 {
            match propose::propose(&chain[..at], &self.clients, request, io).await {
                Ok(x) if x.proposal.body.is_some() => return Ok(Ok(x)),
                Ok(x) => fallbacks.push(format!(
                    "{}: {}",
                    x.proposer,
                    x.proposal.empty_reason.unwrap_or_default()
                )),
                Err(ProposeError::Interrupted) => return Err(Error::Interrupted),
                Err(e) => fallbacks.push(e.text_with_hint()),
            }
        }
        self.searched.set(true);
        let rest = &chain[at + 1..];
        if self.settings.doc().policy.search.enabled {
            let (mut x, note) = super::search::run(self, n, rec).await?;
            if let Some(note) = note {
                *self.search_found.borrow_mut() = Some((n, note));
            }
            if x.proposal.body.is_some() || rest.is_empty() {
                x.fallbacks = fallbacks;
                return Ok(Ok(x));
            }
            fallbacks.push(format!(
                "search: {}",
                x.proposal.empty_reason.unwrap_or_default()
            ));
        }
        if rest.is_empty() {
            // `search` alone and off.
            return Ok(propose::propose(&chain[at..], &self.clients, request, io).await);
        }
        Ok(propose::propose(rest, &self.clients, request, io)
            .await
            .map(|mut x| {
                fallbacks.append(&mut x.fallbacks);
                x.fallbacks = fallbacks;
                x
            }))
    }

    /// The note for a winning candidate of attempt `n` when `search` found it.
    pub fn search_note(&self, n: u32) -> Option<String> {
        self.search_found
            .borrow()
            .as_ref()
            .filter(|(k, _)| *k == n)
            .map(|(_, note)| note.clone())
    }

    /// Verifies an applied candidate, unless it repeats a change already verified and failed;
    /// undoes it unless it passed.
    async fn judge_candidate(
        &self,
        n: u32,
        diff: String,
        parsed: patch::Patch,
        changes: ChangeSet,
        history: &[AttemptOutcome],
        rec: &mut Recorder,
    ) -> Result<AttemptOutcome, Error> {
        // The same change again (whatever its line numbers, context or formatting: this is the
        // diff of the files' real contents) gets the same verdict; the suite is not run again.
        let applied = changes.diff();
        if let Some(of) = same_change(history, &applied) {
            self.undo(&changes, "undo a repeated candidate in the sandbox")?;
            let feedback = format!(
                "this candidate makes exactly the change attempt {of} made (the same files with the same content), so it was not verified again: attempt {of}'s verdict stands (verification failed, see attempt {of}); propose a different change"
            );
            return Ok(AttemptOutcome::Duplicate { of, feedback, diff });
        }
        rec.event(Event::Verify {
            attempt: n,
            changed_files: changes.changed_paths(),
        });
        let verification = self.verify(n, rec).await?;
        rec.attempt_json(n, "verification.json", &verification)?;
        rec.final_runs = verification.runs.clone();
        if verification.passed {
            let winner = Box::new(Winner {
                attempt: n,
                changes,
                patch: parsed,
            });
            return Ok(AttemptOutcome::Passed { diff, winner });
        }
        self.undo(&changes, "undo a failed candidate in the sandbox")?;
        Ok(AttemptOutcome::VerificationFailed {
            feedback: verification_feedback(&verification),
            diff,
            applied,
        })
    }

    /// Runs the failing tests alone, then (when they pass) every target with the candidate
    /// applied, then the confirmation runs if it passed.
    async fn verify(&self, n: u32, rec: &Recorder) -> Result<Verification, Error> {
        self.verify_in(&self.runner, &format!("attempts/{n}"), n, None, rec)
            .await
    }

    /// [`Attempter::verify`] with `runner` (the sandbox a candidate is applied in), logs under
    /// the bundle's `dir`, and every run reported as `phase` when given.
    pub async fn verify_in(
        &self,
        runner: &Runner,
        dir: &str,
        n: u32,
        phase: Option<Phase>,
        rec: &Recorder,
    ) -> Result<Verification, Error> {
        let targets = &rec.targets;
        let mut verification = runner
            .verify_staged(
                &rec.baseline,
                targets,
                &self.first,
                (
                    &rec.path(&format!("{dir}/failing_first")),
                    phase.unwrap_or(Phase::VerifyFailing { attempt: n }),
                ),
                (
                    &rec.path(&format!("{dir}/verify")),
                    phase.unwrap_or(Phase::Verify { attempt: n }),
                ),
            )
            .await?;
        if !verification.passed {
            return Ok(verification);
        }
        for k in 1..=self.settings.doc().policy.confirm_runs {
            let again = runner
                .run_all(
                    targets,
                    &rec.path(&format!("{dir}/confirm_{k}")),
                    phase.unwrap_or(Phase::Confirm { attempt: n, run: k }),
                )
                .await?;
            let confirm = judge(&rec.baseline, again);
            if !confirm.passed {
                verification.passed = false;
                verification.problems.push(format!(
                    "unstable: confirmation run {k} failed: {}",
                    confirm.problems.join("; ")
                ));
                break;
            }
        }
        Ok(verification)
    }

    fn undo(&self, changes: &ChangeSet, what: &str) -> Result<(), Error> {
        changes.undo(&self.root).map_err(|e| Error::Io {
            what: what.into(),
            source: e,
        })
    }
}

/// A candidate refused before verification: `apply.json` says why.
fn rejected(
    n: u32,
    rej: Rejection,
    diff: Option<String>,
    rec: &Recorder,
) -> Result<AttemptOutcome, Error> {
    rec.attempt_json(
        n,
        "apply.json",
        &json!({"applied": false, "rejection": rej}),
    )?;
    rec.event(Event::Apply {
        attempt: n,
        applied: false,
        changed_files: Vec::new(),
        rule: Some(rej.rule().to_owned()),
        reason: Some(rej.feedback()),
    });
    Ok(AttemptOutcome::Rejected {
        rule: rej.rule().to_owned(),
        feedback: rej.feedback(),
        diff,
    })
}

/// The attempt whose verification failed with exactly the change `applied`.
pub(super) fn same_change(history: &[AttemptOutcome], applied: &str) -> Option<u32> {
    (1..).zip(history).find_map(|(k, o)| match o {
        AttemptOutcome::VerificationFailed { applied: a, .. } if a == applied => Some(k),
        _ => None,
    })
}

/// A failed baseline run as a proposer sees it.
fn evidence(r: &TargetRun) -> FailureEvidence {
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
}

/// `suggest` may read rustc's machine-applicable fixes when the policy allows the JSON check;
/// it runs like a target (sandbox, isolation, filtered environment).
fn cargo_check(
    settings: &Settings,
    rec: &Recorder,
    runner: &Runner,
) -> Option<propose::suggest::CargoCheck> {
    let p = &settings.doc().policy;
    settings
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
            log_dir: rec.path("attempts/0_baseline/suggest_cargo_check"),
            cache: Arc::default(),
        })
}

/// When the evidence points at exactly one editable file that is not a test: that file, for a
/// request that asks for it whole instead of a diff.
fn whole_file_candidate(
    ctx: &FailureContext,
    rules: &CompiledRules,
    root: &Path,
) -> Option<propose::WholeFile> {
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
pub(super) fn verification_feedback(v: &Verification) -> String {
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

/// The last `max` bytes of `s`, cut at a char boundary.
pub(super) fn tail_chars(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[… {start} bytes omitted …]\n{}", &s[start..])
}

/// The policy's write rules (`--apply` uses them too).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(diff: Option<&str>) -> AttemptOutcome {
        AttemptOutcome::Rejected {
            rule: "path_not_allowed".into(),
            feedback: "src/x.rs is not writable".into(),
            diff: diff.map(str::to_owned),
        }
    }

    #[test]
    fn each_failed_attempt_is_described_to_the_next() {
        let cases = [
            (
                AttemptOutcome::ProposerFailed {
                    feedback: "timed out".into(),
                },
                "proposer_failed",
                None,
            ),
            (
                AttemptOutcome::NoChange {
                    feedback: "no change was proposed: nothing to do".into(),
                },
                "no_change",
                None,
            ),
            (rejected(None), "rejected: path_not_allowed", None),
            (
                rejected(Some("--- a/x\n")),
                "rejected: path_not_allowed",
                Some("--- a/x\n"),
            ),
            (
                AttemptOutcome::Duplicate {
                    of: 2,
                    feedback: "same as 2".into(),
                    diff: "--- a/y\n".into(),
                },
                "duplicate of attempt 2: verification_failed",
                Some("--- a/y\n"),
            ),
            (
                AttemptOutcome::VerificationFailed {
                    feedback: "target failed".into(),
                    diff: "--- a/z\n".into(),
                    applied: "applied".into(),
                },
                "verification_failed",
                Some("--- a/z\n"),
            ),
        ];
        for (outcome, label, diff) in cases {
            let p = outcome.previous(3).unwrap();
            assert_eq!(p.attempt, 3);
            assert_eq!(p.outcome, label);
            assert_eq!(p.diff.as_deref(), diff);
            assert_eq!(p.feedback, outcome.feedback());
            assert_eq!(outcome.diff(), diff);
        }
    }

    #[test]
    fn an_unusable_proposer_is_recorded_with_its_error_and_not_fed_back() {
        let o = AttemptOutcome::ProposerUnusable {
            error: "proposer `openai` is unusable: 401 (hint: check the key)".into(),
            message: "proposer `openai` is unusable: 401".into(),
            hint: Some("check the key".into()),
        };
        assert_eq!(o.kind(), AttemptKind::ProposerUnusable);
        assert!(o.feedback().contains("401"));
        assert!(o.previous(1).is_none());
        assert_eq!(o.rule(), None);
    }

    #[test]
    fn rules_are_recorded_for_rejections_and_duplicates_only() {
        assert_eq!(rejected(None).rule(), Some("path_not_allowed"));
        let dup = AttemptOutcome::Duplicate {
            of: 1,
            feedback: String::new(),
            diff: String::new(),
        };
        assert_eq!(dup.rule(), Some("duplicate"));
        assert_eq!(dup.kind(), AttemptKind::Duplicate);
        let failed = AttemptOutcome::ProposerFailed {
            feedback: String::new(),
        };
        assert_eq!(failed.rule(), None);
    }

    #[test]
    fn the_same_change_is_found_among_failed_verifications_only() {
        let failed = |applied: &str| AttemptOutcome::VerificationFailed {
            feedback: String::new(),
            diff: String::new(),
            applied: applied.into(),
        };
        let history = [rejected(None), failed("A"), failed("B")];
        assert_eq!(same_change(&history, "A"), Some(2));
        assert_eq!(same_change(&history, "B"), Some(3));
        assert_eq!(same_change(&history, "C"), None);
    }

    #[test]
    fn long_output_keeps_its_end_at_a_char_boundary() {
        assert_eq!(tail_chars("short", 10), "short");
        let t = tail_chars("ééééé", 3);
        assert!(t.ends_with("é"), "{t}");
        assert!(t.starts_with("[… "), "{t}");
    }
}
