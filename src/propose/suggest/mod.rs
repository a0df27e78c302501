//! The `suggest` proposer: candidate patches from the suggestions compilers and interpreters
//! print themselves (rustc's `help:` snippets, cargo's machine-applicable JSON replacements,
//! Python's and TypeScript's "Did you mean"), with no model at all. Each source has its own
//! parser; `edit` turns suggestions into a diff against the sandbox's files; `proposer` picks
//! the candidate for an attempt. Whether a candidate is right is the session's business.

mod cargo_json;
mod edit;
mod model;
mod proposer;
mod python;
mod rustc;
mod typescript;

pub use cargo_json::{CargoCheck, cargo_check_invocation, parse as parse_cargo_json};
pub use edit::{Candidate, build_candidates, build_candidates_on};
pub use model::{Edit, Suggestion};
pub use proposer::{collect, propose};
