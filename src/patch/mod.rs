//! The patch engine: turns a proposer's reply into a validated, all-or-nothing change of the
//! sandbox tree, records how it applied, explains rejections, and minimizes winning patches.
//! Model output is hostile input here: nothing touches disk before every path passed the
//! policy and every hunk planned. Running verification and writing the bundle are left to the
//! session.

mod apply;
mod changeset;
mod error;
mod feedback;
mod git;
mod minimize;
mod model;
#[cfg(unix)]
#[path = "os_unix.rs"]
mod os;
#[cfg(not(unix))]
#[path = "os_other.rs"]
mod os;
mod parse;
mod plan;
mod render;
mod report;
mod rewrite;
mod sanitize;
mod test_guard;
mod validate;
mod write;

pub use apply::{ApplyOptions, apply, apply_with};
pub use changeset::{ChangeSet, FileChange};
pub use error::{HunkLocation, NearLine, PatchError, Rejection, RejectionDetail, Rule};
pub use minimize::{
    HunkInfo, MinimizeRun, Minimized, changed_lines, hunks, minimize, render_subset, sub_patch,
    sub_patch_lines,
};
pub use model::{FileOp, FilePatch, Hunk, HunkLine, Patch};
pub use parse::parse;
pub use plan::{PlannedFile, plan_hunks};
pub use render::render;
pub use report::{Applier, ApplyReport, FORMAT_VERSION, FileReport, HunkReport, HunkStrategy};
pub use rewrite::{FileRewrite, ReplyBody, candidate_diff, diff_file, diff_hunks};
pub use sanitize::{ReplyLine, sanitize};
pub use validate::{CompiledRules, WriteRules, check_patch, check_path_syntax};
