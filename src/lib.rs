//! `pp` proves code fixes: it reproduces a failure in a sandbox, asks a proposer for a patch,
//! applies it under a policy, verifies it, and writes a proof bundle anyone can verify and
//! replay.
//!
//! Stages, in the order a session uses them: [`policy`] → [`sandbox`] / [`exec`] →
//! [`context`] → [`propose`] → [`patch`] → [`session`] → [`bundle`] → [`report`].

pub mod beneath;
pub mod bundle;
pub mod cli;
pub mod console;
pub mod context;
pub mod digest;
pub mod error;
pub mod exec;
pub mod hardening;
pub mod outcome;
pub mod patch;
pub mod policy;
pub mod propose;
pub mod redact;
pub mod report;
pub mod sandbox;
pub mod schemas;
pub mod session;
pub mod settings;
pub mod walk;
