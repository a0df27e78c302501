//! Patch engine (interim): parse a candidate diff, check its paths against the write rules, and
//! apply it all-or-nothing with `git apply`. Replaced by the full engine.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct WriteRules {
    pub write_allowlist: Vec<String>,
    pub deny_write: Vec<String>,
    pub protected: Vec<String>,
    pub max_files_changed: usize,
    pub max_patch_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct CompiledRules {
    allow: globset::GlobSet,
    deny: globset::GlobSet,
    protected: globset::GlobSet,
    max_files_changed: usize,
    max_patch_bytes: u64,
}

fn set(globs: &[String]) -> Result<globset::GlobSet, Rejection> {
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        let glob = globset::GlobBuilder::new(g)
            .literal_separator(true)
            .build()
            .map_err(|e| Rejection::new("invalid_glob", format!("invalid glob `{g}`: {e}")))?;
        b.add(glob);
    }
    b.build()
        .map_err(|e| Rejection::new("invalid_glob", e.to_string()))
}

impl WriteRules {
    pub fn compile(&self) -> Result<CompiledRules, Rejection> {
        Ok(CompiledRules {
            allow: set(&self.write_allowlist)?,
            deny: set(&self.deny_write)?,
            protected: set(&self.protected)?,
            max_files_changed: self.max_files_changed,
            max_patch_bytes: self.max_patch_bytes,
        })
    }
}

impl CompiledRules {
    pub fn may_write(&self, path: &str) -> bool {
        self.allow.is_match(path) && !self.deny.is_match(path) && !self.protected.is_match(path)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRewrite {
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub enum ReplyBody {
    Diff(String),
    Rewrites(Vec<FileRewrite>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    rule: String,
    message: String,
}

impl Rejection {
    fn new(rule: &str, message: impl Into<String>) -> Self {
        Self {
            rule: rule.to_owned(),
            message: message.into(),
        }
    }
    pub fn feedback(&self) -> String {
        self.message.clone()
    }
    pub fn rule(&self) -> &str {
        &self.rule
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.rule)
    }
}

#[derive(Debug, Clone)]
pub struct Patch {
    text: String,
    paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub strategy: String,
    pub files: Vec<String>,
}

type FileState = (String, Option<Vec<u8>>, Option<Vec<u8>>);

#[derive(Debug, Clone)]
pub struct ChangeSet {
    files: Vec<FileState>,
    report: ApplyReport,
    diff: String,
}

impl ChangeSet {
    pub fn undo(&self, root: &Path) -> std::io::Result<()> {
        for (p, before, _) in &self.files {
            let full = root.join(p);
            match before {
                Some(b) => std::fs::write(&full, b)?,
                None => {
                    if full.exists() {
                        std::fs::remove_file(&full)?;
                    }
                }
            }
        }
        Ok(())
    }
    pub fn changed_paths(&self) -> Vec<String> {
        self.files.iter().map(|f| f.0.clone()).collect()
    }
    pub fn report(&self) -> &ApplyReport {
        &self.report
    }
    pub fn diff(&self) -> String {
        self.diff.clone()
    }
}

fn sanitize(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    if let Some(start) = text.find("```") {
        let after = &text[start + 3..];
        let body_start = after.find('\n').map(|i| i + 1).unwrap_or(0);
        let body = &after[body_start..];
        if let Some(end) = body.find("```") {
            return body[..end].to_owned();
        }
    }
    text
}

pub fn candidate_diff(root: &Path, body: &ReplyBody) -> Result<String, Rejection> {
    match body {
        ReplyBody::Diff(d) => Ok(d.clone()),
        ReplyBody::Rewrites(rw) => {
            let mut out = String::new();
            for r in rw {
                let old = std::fs::read_to_string(root.join(&r.path)).unwrap_or_default();
                let diff = similar::TextDiff::from_lines(&old, &r.content);
                out.push_str(&format!("diff --git a/{0} b/{0}\n", r.path));
                out.push_str(
                    &diff
                        .unified_diff()
                        .header(&format!("a/{}", r.path), &format!("b/{}", r.path))
                        .to_string(),
                );
            }
            Ok(out)
        }
    }
}

pub fn parse(text: &str) -> Result<Patch, Rejection> {
    let text = sanitize(text);
    let mut paths = Vec::new();
    for line in text.lines() {
        if let Some(p) = line
            .strip_prefix("+++ ")
            .or_else(|| line.strip_prefix("--- "))
        {
            let p = p.split('\t').next().unwrap_or(p).trim();
            if p == "/dev/null" {
                continue;
            }
            let p = p
                .strip_prefix("a/")
                .or_else(|| p.strip_prefix("b/"))
                .unwrap_or(p);
            if !paths.iter().any(|x| x == p) {
                paths.push(p.to_owned());
            }
        }
    }
    if paths.is_empty() {
        return Err(Rejection::new(
            "no_diff",
            "the reply holds no unified diff with file headers (`--- a/path`, `+++ b/path`)",
        ));
    }
    let text = if text.ends_with('\n') {
        text
    } else {
        format!("{text}\n")
    };
    Ok(Patch { text, paths })
}

pub fn apply(root: &Path, patch: &Patch, rules: &CompiledRules) -> Result<ChangeSet, Rejection> {
    if patch.text.len() as u64 > rules.max_patch_bytes {
        return Err(Rejection::new(
            "max_patch_bytes",
            format!(
                "the patch has {} bytes, over the limit of {}",
                patch.text.len(),
                rules.max_patch_bytes
            ),
        ));
    }
    if patch.paths.len() > rules.max_files_changed {
        return Err(Rejection::new(
            "max_files_changed",
            format!(
                "the patch changes {} files, over the limit of {}",
                patch.paths.len(),
                rules.max_files_changed
            ),
        ));
    }
    for p in &patch.paths {
        if p.starts_with('/')
            || p.split('/').any(|c| c == ".." || c.is_empty())
            || p.contains('\\')
            || p.contains('\0')
        {
            return Err(Rejection::new(
                "path_outside_workspace",
                format!("`{p}`: paths must be relative and stay inside the workspace"),
            ));
        }
        if !rules.may_write(p) {
            return Err(Rejection::new(
                "write_not_allowed",
                format!("`{p}`: the policy does not allow writing this path"),
            ));
        }
    }
    let before: Vec<_> = patch
        .paths
        .iter()
        .map(|p| (p.clone(), std::fs::read(root.join(p)).ok()))
        .collect();
    let file = root.join(".pp-candidate.patch");
    let _ = std::fs::write(&file, &patch.text);
    let recount = std::cell::Cell::new(false);
    let run = |check: bool| {
        let mut c = Command::new("git");
        c.current_dir(root)
            .env("GIT_CEILING_DIRECTORIES", root.parent().unwrap_or(root))
            .arg("apply");
        if recount.get() {
            c.arg("--recount");
        }
        if check {
            c.arg("--check");
        }
        c.arg(&file).output()
    };
    let mut out = run(true);
    if !matches!(&out, Ok(o) if o.status.success()) {
        recount.set(true);
        out = run(true);
    }
    let res = match out {
        Ok(o) if o.status.success() => match run(false) {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        },
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
        Err(e) => Err(e.to_string()),
    };
    let _ = std::fs::remove_file(&file);
    res.map_err(|e| {
        Rejection::new(
            "apply_failed",
            format!("git apply refused the patch: {}", e.trim()),
        )
    })?;
    let files = before
        .into_iter()
        .map(|(p, b)| {
            let a = std::fs::read(root.join(&p)).ok();
            (p, b, a)
        })
        .collect();
    Ok(ChangeSet {
        files,
        report: ApplyReport {
            strategy: "git".into(),
            files: patch.paths.clone(),
        },
        diff: patch.text.clone(),
    })
}
