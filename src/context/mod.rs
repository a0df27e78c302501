//! Failure evidence: turns a failing command's output into locations, test summaries, an
//! infra/code verdict, the integrity check and a budgeted `FailureContext` for the proposer.
//! Everything here is pure except `source`, which reads workspace files for snippets and
//! imports. Running commands, prompts and the bundle belong to other modules.

mod assertions;
mod classify;
mod extract;
mod failure;
mod integrity;
mod location;
mod locations;
mod paths;
mod pattern;
mod progress;
mod related;
mod select;
mod snippets;
mod source;
mod summaries;
mod summary;

pub use classify::{Classification, INFRA_RULES, InfraRule, classify};
pub use extract::locations;
pub use failure::{DEFAULT_CONTEXT_BUDGET_BYTES, FailureContext, build, build_from};
pub use integrity::{TestEvidence, integrity_problems};
pub use location::Location;
pub use paths::{MappedPath, PathMap};
pub(crate) use pattern::compile as compile_pattern;
pub use pattern::strip_ansi;
pub use progress::{RunnerProgress, is_test_command, runner_progress};
pub use related::{RelatedFile, is_test_file, related_sources};
pub use select::{Selection, narrow};
pub use snippets::Snippet;
#[cfg(test)]
pub(crate) use source::MemTree;
pub use source::{DiskTree, SourceTree};
pub use summary::{TestSummary, junit_summary, test_summary};
