//! Write rules and the checks a patch passes before anything touches disk: path syntax, modes,
//! binary content, allow/deny/protected globs, and size limits (pure); plus the `lstat` walk that
//! refuses symbolic links anywhere under the root. Applying is `apply.rs`'s job.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::error::{PatchError, Rejection, Rule};
use super::model::{MODE_EXEC, MODE_FILE, MODE_GITLINK, MODE_SYMLINK, Patch};
use super::render::render;

/// Globs that are protected whatever the policy says.
const ALWAYS_PROTECTED: &[&str] = &[
    ".git",
    ".git/**",
    "**/.git",
    "**/.git/**",
    ".pp-artifacts",
    ".pp-artifacts/**",
];

/// The policy's write rules, as the lead resolves them from the policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRules {
    /// Globs a patch may write; `["**"]` allows everything not denied.
    pub write_allowlist: Vec<String>,
    /// Globs a patch may never write.
    pub deny_write: Vec<String>,
    /// Globs always protected, e.g. the policy file's relative path. `.git/**` and
    /// `.pp-artifacts/**` (also nested `.git` directories) are added whatever this holds.
    pub protected: Vec<String>,
    /// Most distinct paths one patch may touch (a rename touches two).
    pub max_files_changed: usize,
    /// Largest canonical diff, in bytes.
    pub max_patch_bytes: u64,
    /// Refuse test edits: test files and test-runner configuration, test sections of shared
    /// files, and test-level edits in source files (see `test_guard`). The session sets it
    /// unless `policy.allow_test_edits`.
    pub guard_tests: bool,
}

impl Default for WriteRules {
    fn default() -> Self {
        WriteRules {
            write_allowlist: vec!["**".to_owned()],
            deny_write: Vec::new(),
            protected: Vec::new(),
            max_files_changed: 8,
            max_patch_bytes: 200_000,
            guard_tests: false,
        }
    }
}

/// One compiled glob list, remembering the globs to name them in rejections.
#[derive(Debug, Clone)]
struct Globs {
    set: GlobSet,
    globs: Vec<String>,
}

impl Globs {
    fn compile(
        key: &'static str,
        globs: &[String],
        case_insensitive: bool,
    ) -> Result<Self, PatchError> {
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            let g = GlobBuilder::new(glob)
                .literal_separator(true)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|source| PatchError::Glob {
                    key,
                    glob: glob.clone(),
                    source,
                })?;
            builder.add(g);
        }
        let set = builder.build().map_err(|source| PatchError::Glob {
            key,
            glob: globs.join(", "),
            source,
        })?;
        Ok(Globs {
            set,
            globs: globs.to_vec(),
        })
    }

    fn first_match(&self, path: &str) -> Option<&str> {
        self.set
            .matches(path)
            .first()
            .and_then(|&k| self.globs.get(k))
            .map(String::as_str)
    }
}

/// Write rules with their globs compiled (`*` does not cross `/`; `**` does).
#[derive(Debug, Clone)]
pub struct CompiledRules {
    allow: Globs,
    deny: Globs,
    protected: Globs,
    /// Most distinct paths one patch may touch.
    pub max_files_changed: usize,
    /// Largest canonical diff, in bytes.
    pub max_patch_bytes: u64,
    /// Whether test edits are refused.
    pub guard_tests: bool,
}

impl WriteRules {
    /// Compiles the globs. An empty allowlist means the default `**`.
    pub fn compile(&self) -> Result<CompiledRules, PatchError> {
        let allow = if self.write_allowlist.is_empty() {
            vec!["**".to_owned()]
        } else {
            self.write_allowlist.clone()
        };
        let mut protected: Vec<String> = ALWAYS_PROTECTED.iter().map(|s| (*s).to_owned()).collect();
        protected.extend(self.protected.iter().cloned());
        Ok(CompiledRules {
            allow: Globs::compile("policy.write_allowlist", &allow, false)?,
            // Case-insensitive: `.GIT/hooks` is `.git/hooks` and `SRC/.ENV` is `src/.env` on
            // macOS and Windows file systems; a deny or protect rule must not depend on case.
            deny: Globs::compile("policy.deny_write", &self.deny_write, true)?,
            protected: Globs::compile("protected paths", &protected, true)?,
            max_files_changed: self.max_files_changed,
            max_patch_bytes: self.max_patch_bytes,
            guard_tests: self.guard_tests,
        })
    }
}

impl CompiledRules {
    /// Checks that a patch may write `path` at all while tests are guarded: not a test file,
    /// not a test-runner configuration file.
    pub fn check_test_path(&self, path: &str) -> Result<(), Rejection> {
        if self.guard_tests {
            super::test_guard::check_path(path)?;
        }
        Ok(())
    }

    /// Checks one changed file's contents while tests are guarded: its test sections are
    /// unchanged and it gained no test-level edit.
    pub fn check_test_change(
        &self,
        path: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> Result<(), Rejection> {
        if self.guard_tests {
            super::test_guard::check_change(path, before, after)?;
        }
        Ok(())
    }

    /// Checks one path's syntax and globs.
    pub fn check_path(&self, path: &str) -> Result<(), Rejection> {
        check_path_syntax(path)?;
        if let Some(comp) = path.split('/').find(|c| is_dotgit_alias(c)) {
            return Err(Rejection::at_path(
                Rule::ProtectedPath,
                path,
                format!(
                    "`{}` names `{}`, which some file systems read as `.git`; it is never written",
                    path.escape_debug(),
                    comp.escape_debug()
                ),
            )
            .with_hint("change only source files; version control data is off limits"));
        }
        if let Some(g) = self.protected.first_match(path) {
            return Err(Rejection::at_path(
                Rule::ProtectedPath,
                path,
                format!("`{path}` is protected (matches `{g}`) and is never written"),
            )
            .with_hint("change only source files; version control data, pp's artifacts and the policy file are off limits"));
        }
        if let Some(g) = self.deny.first_match(path) {
            return Err(Rejection::at_path(
                Rule::DenyWrite,
                path,
                format!("`{path}` matches deny_write glob `{g}`"),
            )
            .with_hint("the policy forbids writing this file; fix the problem elsewhere"));
        }
        if self.allow.first_match(path).is_none() {
            return Err(Rejection::at_path(
                Rule::NotAllowlisted,
                path,
                format!(
                    "`{path}` is outside write_allowlist ({})",
                    self.allow.globs.join(", ")
                ),
            )
            .with_hint("change only files the write_allowlist allows"));
        }
        Ok(())
    }
}

/// Whether a path component is `.git` in disguise: HFS+ ignores some invisible code points,
/// NTFS drops trailing dots and spaces and knows the short name `GIT~1` and `::` streams
/// (the same aliases git itself refuses).
fn is_dotgit_alias(comp: &str) -> bool {
    let ignorable = |c: &char| matches!(*c as u32, 0x200c..=0x200f | 0x202a..=0x202e | 0x206a..=0x206f | 0xfeff);
    let visible: String = comp.chars().filter(|c| !ignorable(c)).collect();
    let base = visible.split("::").next().unwrap_or("");
    let trimmed = base.trim_end_matches(['.', ' ']).to_lowercase();
    comp != ".git" && (trimmed == ".git" || trimmed == "git~1")
}

/// Refuses empty, absolute, climbing or odd paths. Paths are workspace-relative with `/`.
pub fn check_path_syntax(path: &str) -> Result<(), Rejection> {
    let bad = |rule, why: &str| {
        Err(Rejection::at_path(
            rule,
            path,
            format!("path `{}` {why}", path.escape_debug()),
        ))
    };
    if path.is_empty() {
        return bad(Rule::InvalidPath, "is empty");
    }
    if path.contains('\0') {
        return bad(Rule::InvalidPath, "contains a NUL byte");
    }
    if path.contains('\\') {
        return bad(
            Rule::InvalidPath,
            "contains a backslash; use `/` between components",
        );
    }
    if path.chars().any(char::is_control) {
        return bad(Rule::InvalidPath, "contains a control character");
    }
    let b = path.as_bytes();
    if path.starts_with('/') || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':') {
        return bad(
            Rule::AbsolutePath,
            "is absolute; paths must be relative to the workspace root",
        );
    }
    for comp in path.split('/') {
        if comp == ".." {
            return bad(
                Rule::PathTraversal,
                "climbs out with `..`; paths must stay inside the workspace",
            );
        }
        if comp.is_empty() || comp == "." {
            return bad(Rule::InvalidPath, "has an empty or `.` component");
        }
        // Diff headers cannot carry such names unambiguously (found by the fuzzer), and no
        // honest fix needs one.
        if comp.starts_with(char::is_whitespace) || comp.ends_with(char::is_whitespace) {
            return bad(
                Rule::InvalidPath,
                "has a component that starts or ends with whitespace",
            );
        }
    }
    if path.len() > 4096 {
        return bad(Rule::InvalidPath, "is longer than 4096 bytes");
    }
    Ok(())
}

/// Every distinct path a patch touches, in first-seen order.
pub fn touched_paths(patch: &Patch) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for fp in &patch.files {
        for p in fp.paths() {
            if !out.iter().any(|q| q == p) {
                out.push(p.to_owned());
            }
        }
    }
    out
}

/// The pure checks: paths, modes, binary content, globs and limits. Nothing is read from disk.
pub fn check_patch(patch: &Patch, rules: &CompiledRules) -> Result<(), Rejection> {
    for fp in &patch.files {
        for p in fp.paths() {
            rules.check_path(p)?;
            rules.check_test_path(p)?;
        }
        let path = fp.path();
        for m in [fp.old_mode, fp.new_mode].into_iter().flatten() {
            if m == MODE_SYMLINK {
                return Err(Rejection::at_path(
                    Rule::SymlinkCreation,
                    path,
                    format!("`{path}` has mode 120000: the patch would create a symbolic link"),
                )
                .with_hint("pp never creates symbolic links; write a regular file instead"));
            }
            if m != MODE_FILE && m != MODE_EXEC && m != 0o100664 {
                let what = if m == MODE_GITLINK {
                    " (a submodule)"
                } else {
                    ""
                };
                return Err(Rejection::at_path(
                    Rule::UnsupportedMode,
                    path,
                    format!("`{path}` has unsupported mode {m:o}{what}"),
                )
                .with_hint("only regular files (100644, 100755) can be patched"));
            }
        }
        if fp.binary {
            return Err(Rejection::at_path(
                Rule::BinaryPatch,
                path,
                format!("`{path}` is a binary patch"),
            )
            .with_hint("send text changes only"));
        }
    }
    let paths = touched_paths(patch);
    if paths.len() > rules.max_files_changed {
        return Err(Rejection::new(
            Rule::TooManyFiles,
            format!(
                "the patch touches {} files ({}); max_files_changed is {}",
                paths.len(),
                paths.join(", "),
                rules.max_files_changed
            ),
        )
        .with_hint("make a smaller change that touches fewer files"));
    }
    let bytes = render(patch).len() as u64;
    if bytes > rules.max_patch_bytes {
        return Err(Rejection::new(
            Rule::PatchTooLarge,
            format!(
                "the diff is {bytes} bytes; max_patch_bytes is {}",
                rules.max_patch_bytes
            ),
        )
        .with_hint("send a smaller diff: change only the lines the fix needs"));
    }
    Ok(())
}

/// What `lstat` found at a path under the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Nothing there (a parent may be missing too).
    Missing,
    /// A regular file.
    File,
}

/// Walks `rel` under `root` with `lstat`, refusing a symbolic link or a non-directory at any
/// component, and anything but a regular file at the end.
pub fn lstat_walk(root: &Path, rel: &str) -> Result<Entry, Rejection> {
    let mut cur = PathBuf::from(root);
    let comps: Vec<&str> = rel.split('/').collect();
    for (k, comp) in comps.iter().enumerate() {
        cur.push(comp);
        let shown = comps[..=k].join("/");
        let meta = match std::fs::symlink_metadata(&cur) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Entry::Missing),
            Err(e) => {
                return Err(Rejection::at_path(
                    Rule::Io,
                    rel,
                    format!("cannot inspect `{shown}`: {e}"),
                ));
            }
        };
        let last = k + 1 == comps.len();
        if meta.file_type().is_symlink() {
            return Err(Rejection::at_path(
                Rule::SymlinkInPath,
                rel,
                format!(
                    "`{shown}` is a symbolic link; pp never writes through links (writing `{rel}`)"
                ),
            )
            .with_hint("change the link's target file by its real path, or leave it alone"));
        }
        if !last && !meta.is_dir() {
            return Err(Rejection::at_path(
                Rule::InvalidPath,
                rel,
                format!("`{shown}` is not a directory (writing `{rel}`)"),
            ));
        }
        if last {
            if meta.is_file() {
                return Ok(Entry::File);
            }
            return Err(Rejection::at_path(
                Rule::InvalidPath,
                rel,
                format!("`{rel}` is not a regular file"),
            ));
        }
    }
    Ok(Entry::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> CompiledRules {
        WriteRules {
            write_allowlist: vec!["src/**".into(), "tests/**".into()],
            deny_write: vec!["**/.env".into(), "**/secrets/**".into()],
            protected: vec!["pp.yaml".into()],
            ..WriteRules::default()
        }
        .compile()
        .unwrap()
    }

    #[test]
    fn path_syntax_rejections_name_rule_and_path() {
        let cases = [
            ("../x", Rule::PathTraversal),
            ("src/../../x", Rule::PathTraversal),
            ("/etc/passwd", Rule::AbsolutePath),
            ("C:/x", Rule::AbsolutePath),
            ("a\\b", Rule::InvalidPath),
            ("a\0b", Rule::InvalidPath),
            ("", Rule::InvalidPath),
            ("a//b", Rule::InvalidPath),
            ("a/./b", Rule::InvalidPath),
        ];
        for (p, rule) in cases {
            let err = check_path_syntax(p).unwrap_err();
            assert_eq!(err.rule, rule, "{p:?}");
            assert_eq!(err.path.as_deref(), Some(p));
        }
        check_path_syntax("src/lib.rs").unwrap();
    }

    #[test]
    fn globs_protected_then_deny_then_allow() {
        let r = rules();
        assert_eq!(
            r.check_path(".git/hooks/pre-commit").unwrap_err().rule,
            Rule::ProtectedPath
        );
        assert_eq!(
            r.check_path(".GIT/config").unwrap_err().rule,
            Rule::ProtectedPath
        );
        assert_eq!(
            r.check_path("src/vendor/.git/config").unwrap_err().rule,
            Rule::ProtectedPath
        );
        assert_eq!(
            r.check_path(".pp-artifacts/x").unwrap_err().rule,
            Rule::ProtectedPath
        );
        assert_eq!(
            r.check_path("pp.yaml").unwrap_err().rule,
            Rule::ProtectedPath
        );
        let deny = r.check_path("src/secrets/key.rs").unwrap_err();
        assert_eq!(deny.rule, Rule::DenyWrite);
        assert!(deny.message.contains("**/secrets/**"), "{}", deny.message);
        assert_eq!(r.check_path("src/.env").unwrap_err().rule, Rule::DenyWrite);
        assert_eq!(r.check_path("src/.ENV").unwrap_err().rule, Rule::DenyWrite);
        // A trailing space is refused as a name before the protection check sees it.
        assert_eq!(
            r.check_path(".git /config").unwrap_err().rule,
            Rule::InvalidPath
        );
        for alias in [
            ".git./config",
            "GIT~1/config",
            ".g\u{200c}it/hooks/x",
            "src/.git::$INDEX_ALLOCATION/x",
        ] {
            assert_eq!(
                r.check_path(alias).unwrap_err().rule,
                Rule::ProtectedPath,
                "{alias}"
            );
        }
        r.check_path("src/.gitignore").unwrap();
        r.check_path("src/git~10.rs").unwrap();
        assert_eq!(
            r.check_path("README.md").unwrap_err().rule,
            Rule::NotAllowlisted
        );
        r.check_path("src/a/b.rs").unwrap();
    }

    #[test]
    fn bad_glob_is_an_error_naming_the_key() {
        let err = WriteRules {
            deny_write: vec!["src/[".into()],
            ..WriteRules::default()
        }
        .compile()
        .unwrap_err();
        assert!(err.to_string().contains("policy.deny_write"), "{err}");
        assert!(
            err.hint().is_some_and(|h| h.contains("policy file")),
            "{err}"
        );
    }
}
