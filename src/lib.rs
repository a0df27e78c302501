//! `pp` proves code fixes: it reproduces a failure in a sandbox, asks a proposer for a patch,
//! applies it under a policy, verifies it, and writes a proof bundle.

pub mod propose;
pub mod redact;
