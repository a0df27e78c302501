//! Rejections and errors of the patch engine: why a candidate patch was refused, in a form the
//! lead can log, serialize, and turn into feedback for the next request.

use serde::Serialize;

/// The rule a rejected candidate broke; `as_str` is the short machine tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The reply holds no unified diff at all.
    NoDiff,
    /// Hunks without the `---`/`+++` (or `diff --git`) header naming the file.
    MissingFileHeader,
    /// The diff text is malformed (bad hunk header, unprefixed line, ...).
    MalformedDiff,
    /// The diff parses but changes nothing.
    EmptyPatch,
    /// A path is empty or holds NUL, backslashes, control characters or `.`/empty components.
    InvalidPath,
    /// A path climbs out of the workspace with `..`.
    PathTraversal,
    /// A path is absolute.
    AbsolutePath,
    /// The patch creates a symbolic link (mode 120000).
    SymlinkCreation,
    /// A path component under the root is an existing symbolic link.
    SymlinkInPath,
    /// A file mode other than 100644/100755 (gitlinks, odd modes).
    UnsupportedMode,
    /// A binary patch.
    BinaryPatch,
    /// The path is outside `write_allowlist`.
    NotAllowlisted,
    /// The path matches `deny_write`.
    DenyWrite,
    /// The path is always protected (`.git/**`, `.pp-artifacts/**`, the policy file).
    ProtectedPath,
    /// More files than `max_files_changed`.
    TooManyFiles,
    /// The diff is larger than `max_patch_bytes`.
    PatchTooLarge,
    /// The patch modifies or deletes a file that does not exist.
    FileNotFound,
    /// The patch creates a file that already exists.
    FileExists,
    /// A file to change is not UTF-8 text.
    NotText,
    /// A hunk's old lines match nowhere in the file.
    ContextNotFound,
    /// A hunk's old lines match in more than one place.
    AmbiguousContext,
    /// A hunk's new lines are already in the file.
    AlreadyApplied,
    /// A deletion leaves content behind.
    IncompleteDelete,
    /// After writing, the files actually changed broke the policy (the change was undone).
    PostApplyCheck,
    /// A test file or a test-runner configuration file, while tests are guarded.
    TestFileEdit,
    /// A change of a file's test sections, or a test-level edit in a source file (a test
    /// removed or disabled, a process exit or test-framework patching added), while tests are
    /// guarded.
    TestEdit,
    /// The file system refused a read or write.
    Io,
}

impl Rule {
    /// The short machine tag, e.g. `"path_traversal"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NoDiff => "no_diff",
            Rule::MissingFileHeader => "missing_file_header",
            Rule::MalformedDiff => "malformed_diff",
            Rule::EmptyPatch => "empty_patch",
            Rule::InvalidPath => "invalid_path",
            Rule::PathTraversal => "path_traversal",
            Rule::AbsolutePath => "absolute_path",
            Rule::SymlinkCreation => "symlink_creation",
            Rule::SymlinkInPath => "symlink_in_path",
            Rule::UnsupportedMode => "unsupported_mode",
            Rule::BinaryPatch => "binary_patch",
            Rule::NotAllowlisted => "not_allowlisted",
            Rule::DenyWrite => "deny_write",
            Rule::ProtectedPath => "protected_path",
            Rule::TooManyFiles => "too_many_files",
            Rule::PatchTooLarge => "patch_too_large",
            Rule::FileNotFound => "file_not_found",
            Rule::FileExists => "file_exists",
            Rule::NotText => "not_text",
            Rule::ContextNotFound => "context_not_found",
            Rule::AmbiguousContext => "ambiguous_context",
            Rule::AlreadyApplied => "already_applied",
            Rule::IncompleteDelete => "incomplete_delete",
            Rule::PostApplyCheck => "post_apply_check",
            Rule::TestFileEdit => "test_file_edit",
            Rule::TestEdit => "test_edit",
            Rule::Io => "io_error",
        }
    }
}

/// Where in the patch a rejected hunk sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HunkLocation {
    /// 1-based index of the hunk within its file.
    pub index: usize,
    /// The `@@ ... @@` header as written.
    pub header: String,
    /// 1-based line of the header in the reply.
    pub diff_line: usize,
}

/// A file line shown back to the proposer: its 1-based number and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NearLine {
    /// 1-based line number in the current file.
    pub line: usize,
    /// The line's text without its terminator.
    pub text: String,
}

/// A refused candidate: the rule, the path, the hunk and what the file really holds. Boxed so
/// `Result<_, Rejection>` stays small; fields read through `Deref` (`rejection.rule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
#[error("{} [{}]", .0.message, .0.rule.as_str())]
pub struct Rejection(Box<RejectionDetail>);

impl std::ops::Deref for Rejection {
    type Target = RejectionDetail;
    fn deref(&self) -> &RejectionDetail {
        &self.0
    }
}

impl std::ops::DerefMut for Rejection {
    fn deref_mut(&mut self) -> &mut RejectionDetail {
        &mut self.0
    }
}

/// The content of a [`Rejection`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectionDetail {
    /// The rule that was broken.
    pub rule: Rule,
    /// One sentence naming the path (when there is one) and the reason.
    pub message: String,
    /// The workspace-relative path concerned.
    pub path: Option<String>,
    /// The hunk concerned.
    pub hunk: Option<HunkLocation>,
    /// 1-based line of the reply where the problem is, for parse errors.
    pub diff_line: Option<usize>,
    /// The nearest real lines of the file, for hunks that did not match.
    pub nearest: Vec<NearLine>,
    /// What the proposer should do differently.
    pub hint: Option<String>,
}

impl Rejection {
    /// A rejection with only a rule and a message.
    pub(crate) fn new(rule: Rule, message: impl Into<String>) -> Self {
        Rejection(Box::new(RejectionDetail {
            rule,
            message: message.into(),
            path: None,
            hunk: None,
            diff_line: None,
            nearest: Vec::new(),
            hint: None,
        }))
    }

    /// A rejection about `path`; the message should already name it.
    pub(crate) fn at_path(rule: Rule, path: &str, message: impl Into<String>) -> Self {
        let mut r = Rejection::new(rule, message);
        r.path = Some(path.to_owned());
        r
    }

    /// A parse error at a reply line; the message gets a `line N: ` prefix.
    pub(crate) fn at_line(rule: Rule, line: usize, message: impl AsRef<str>) -> Self {
        let mut r = Rejection::new(rule, format!("line {line}: {}", message.as_ref()));
        r.diff_line = Some(line);
        r
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn with_hunk(mut self, hunk: HunkLocation) -> Self {
        self.diff_line = Some(hunk.diff_line);
        self.hunk = Some(hunk);
        self
    }

    /// The short machine tag of the broken rule, e.g. `"protected_path"`.
    pub fn rule(&self) -> &str {
        self.rule.as_str()
    }
}

/// Errors of the patch engine that are not about a candidate (bad policy globs).
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// A glob in the write rules does not compile.
    #[error("invalid glob `{glob}` in {key}: {source}")]
    Glob {
        /// The policy key holding the glob.
        key: &'static str,
        /// The glob as written.
        glob: String,
        /// Why globset refused it.
        #[source]
        source: globset::Error,
    },
}

impl PatchError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::Glob { .. } => {
                Some("fix the pattern in the policy file (e.g. `src/**`, `**/.env`)")
            }
        }
    }
}
