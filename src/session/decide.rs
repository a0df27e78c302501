//! What happens next, decided from what has happened: pure functions over the baseline's runs
//! and the history of attempt verdicts, and the policy's limits. Nothing here runs a command or
//! writes a file; the stages act on what these return. Every status and limit has a unit test.

use super::Status;
use crate::bundle::schema::AttemptKind;
use crate::context::Classification;
use crate::outcome::TargetRun;

/// How a session ended, before the bundle is finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct End {
    pub status: Status,
    pub message: String,
    pub hint: Option<String>,
}

impl End {
    pub fn new(status: Status, message: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            status,
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

/// What the policy and the proposer chain allow.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    /// `policy.limits.max_attempts`.
    pub max_attempts: u32,
    /// No proposer of the chain is a model: having proposed nothing once, it proposes nothing
    /// again.
    pub deterministic: bool,
}

/// The next step of the attempt loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Make attempt `number`; `whole_file` asks the proposer for a whole file instead of a diff.
    Attempt { number: u32, whole_file: bool },
    /// The last attempt passed.
    Proven { attempt: u32 },
    /// The proposer cannot be used: `infra_stop`.
    ProposerUnusable,
    /// No candidate passed and none will: `not_proven`.
    Exhausted,
}

/// Decides the step after `history` (how each attempt made ended, in order, as recorded).
pub(super) fn next(history: &[AttemptKind], budget: Budget) -> Next {
    let made = u32::try_from(history.len()).unwrap_or(u32::MAX);
    match history.last() {
        Some(AttemptKind::Passed) => return Next::Proven { attempt: made },
        Some(AttemptKind::ProposerUnusable) => return Next::ProposerUnusable,
        // Further attempts would only repeat the same nothing.
        Some(AttemptKind::NoChange) if budget.deterministic => return Next::Exhausted,
        _ => {}
    }
    if made >= budget.max_attempts {
        return Next::Exhausted;
    }
    // Two candidates in a row that did not apply: diffs are not working, ask for a whole file.
    let whole_file = history.len() >= 2
        && history[history.len() - 2..]
            .iter()
            .all(|v| *v == AttemptKind::Rejected);
    Next::Attempt {
        number: made + 1,
        whole_file,
    }
}

/// The end after the baseline runs, if the session ends there: every target passed
/// (`already_passing`), or a failure is the infrastructure's (`infra_stop`).
pub(super) fn after_baseline(baseline: &[TargetRun]) -> Option<End> {
    if baseline.iter().all(TargetRun::passed) {
        return Some(End::new(
            Status::AlreadyPassing,
            "every proof target already passes; nothing to prove",
            None,
        ));
    }
    baseline.iter().filter(|r| !r.passed()).find_map(|r| {
        let Classification::Infra {
            rule,
            description,
            evidence,
        } = &r.classification
        else {
            return None;
        };
        Some(End::new(
            Status::InfraStop,
            format!(
                "target `{}` failed for an infrastructure reason ({rule}: {description}): {evidence}",
                r.target
            ),
            Some(infra_hint(rule)),
        ))
    })
}

/// The end after rerun `k` of the failing targets, if one passed: the failure is flaky
/// (`not_reproducible`).
pub(super) fn after_rerun(k: u32, reruns: &[TargetRun]) -> Option<End> {
    let r = reruns.iter().find(|r| r.passed())?;
    Some(End::new(
        Status::NotReproducible,
        format!(
            "target `{}` failed once, then passed on rerun {k}: the failure is not reproducible (flaky)",
            r.target
        ),
        Some("stabilise the test first; `policy.reproduce_runs` sets how many reruns check this"),
    ))
}

/// The end when attempts ran out after `attempts_used`. `model`: the chain has a model;
/// `suggest`: it has the compilers' suggestions.
pub(super) fn not_proven(attempts_used: u32, model: bool, builtin: bool) -> End {
    let hint = match (model, builtin) {
        (true, _) => {
            "see final_summary.md and attempts/<n>/ in the bundle for why each candidate failed; `--context` can give the proposer more to go on"
        }
        (false, true) => {
            "pp's built-in proposers did not fix it (`suggest`: the compilers' own suggestions; `search`: small edits at the likeliest lines, see attempts/<n>/search.json) and no model is configured: set PP_OPENAI_API_KEY (OpenAI) or PP_LOCAL_BASE_URL (a local OpenAI-compatible server), or `policy.provider.command` / `--provider command:PATH`; the default provider `auto` then tries the model after them"
        }
        (false, false) => {
            "no model is configured, so no fix was proposed: set PP_PROVIDER=openai with PP_OPENAI_API_KEY, or PP_PROVIDER=local with PP_LOCAL_BASE_URL, or `--provider command:PATH`"
        }
    };
    End::new(
        Status::NotProven,
        format!("no candidate passed every proof target in {attempts_used} attempt(s)"),
        Some(hint),
    )
}

/// What to do about an infrastructure failure, by the rule ids of `context::INFRA_RULES`.
pub(super) fn infra_hint(rule: &str) -> &'static str {
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

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
