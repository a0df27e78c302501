//! The session of DESIGN §3, as stages that pass named values: `setup` (targets allowed,
//! isolation planned) → `workbench` (the sandbox, shared with replay) → `baseline` (baseline,
//! classification, reproduction) → `attempt` (one candidate, an `AttemptOutcome`; several at
//! once, each in its own sandbox, in `candidates`) → `minimize`
//! → `finish`; `decide` holds the pure decisions between them, `recorder` every bundle write,
//! `events` what happens as it happens (the bundle's `events.jsonl`, the `--events` stream, the
//! progress display), and `run` the pipeline itself. Also `replay`, which reruns a bundle without
//! a model, `--apply`, and signing.

mod apply;
mod attempt;
mod baseline;
mod candidates;
mod decide;
mod events;
mod finish;
mod minimize;
mod recorder;
mod replay;
mod run;
mod search;
mod setup;
mod sign;
mod verify;
mod workbench;

pub use crate::outcome::{Outcome, Status, TargetOutcome, TargetRun};
pub use events::{
    Busy, CandidateVerdict, EVENT_SCHEMA, Event, EventLine, Events, Phase, Progress, Watchers,
};
pub use replay::{ReplayOptions, ReplayOutcome, ReplayRefused, ReplayTarget, replay};
pub use run::run_session;
pub use sign::{sign_keys, verify_bundle, verify_key_configured, verify_keys};
pub use verify::Verification;
