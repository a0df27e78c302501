//! From suggestions to candidate diffs: maps each suggestion's file into the sandbox, keeps
//! only files the policy lets a patch write, checks that the file still reads what the tool
//! saw, and renders minimal hunks with the patch engine's `diff_file`. Reads files under the
//! sandbox root and nothing else.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Serialize;

use super::model::{Edit, Suggestion};
use crate::context::PathMap;
use crate::patch::{CompiledRules, Patch, diff_file, render};

/// One candidate diff and the suggestions it is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub diff: String,
    /// Indices into the suggestion list.
    pub used: Vec<usize>,
}

/// What became of one suggestion, for the record.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub index: usize,
    /// The workspace-relative file, when the path mapped to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `usable`, `duplicate`, or why it was dropped.
    pub status: String,
}

/// A suggestion resolved against its file: byte ranges and their replacements.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resolved {
    index: usize,
    path: String,
    ranges: Vec<(Range<usize>, String)>,
    group: u32,
}

/// Candidates in the order they should be tried: first every tool's first choice together
/// (where they do not overlap), then each usable suggestion on its own, alternatives included.
/// `known` are the evidence's mapped paths, used to place absolute paths the sandbox root
/// does not prefix.
pub fn build_candidates(
    root: &Path,
    suggestions: &[Suggestion],
    rules: &CompiledRules,
    known: &[String],
) -> (Vec<Candidate>, Vec<Note>) {
    build_candidates_on(root, &BTreeMap::new(), suggestions, rules, known)
}

/// `build_candidates` on top of an earlier candidate: `overlay` holds the files that
/// candidate changed, as it left them. The suggestions (read from the output of that
/// candidate's verification) apply to those texts; the diffs are against the sandbox's own
/// files and carry the earlier candidate's changes too.
pub fn build_candidates_on(
    root: &Path,
    overlay: &BTreeMap<String, String>,
    suggestions: &[Suggestion],
    rules: &CompiledRules,
    known: &[String],
) -> (Vec<Candidate>, Vec<Note>) {
    let mut files: BTreeMap<String, Option<String>> = overlay
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    let mut resolved: Vec<Resolved> = Vec::new();
    let mut notes = Vec::new();
    for (index, s) in suggestions.iter().enumerate() {
        let Some(path) = map_path(root, &s.path, known) else {
            notes.push(Note {
                index,
                file: None,
                status: format!("`{}` is not a file of the workspace", s.path),
            });
            continue;
        };
        let mut note = |status: String| {
            notes.push(Note {
                index,
                file: Some(path.clone()),
                status,
            });
        };
        if let Err(rej) = rules.check_path(&path) {
            note(format!(
                "the policy does not let a patch write it: {}",
                rej.rule()
            ));
            continue;
        }
        let content = files
            .entry(path.clone())
            .or_insert_with(|| read_regular(root, &path))
            .clone();
        let Some(content) = content else {
            note("not a readable text file in the sandbox".into());
            continue;
        };
        let mut ranges = Vec::new();
        let mut failed = None;
        for e in &s.edits {
            match resolve(&content, e) {
                Ok(mut r) => ranges.append(&mut r),
                Err(why) => {
                    failed = Some(why);
                    break;
                }
            }
        }
        if let Some(why) = failed {
            note(why);
            continue;
        }
        ranges.sort_by_key(|(r, _)| (r.start, r.end));
        if overlapping(ranges.iter().map(|(r, _)| r)) {
            note("its parts overlap".into());
            continue;
        }
        if ranges
            .iter()
            .all(|(r, t)| content.get(r.clone()) == Some(t.as_str()))
        {
            note("it changes nothing".into());
            continue;
        }
        if resolved
            .iter()
            .any(|o| o.path == path && o.ranges == ranges)
        {
            note("duplicate".into());
            continue;
        }
        note("usable".into());
        resolved.push(Resolved {
            index,
            path,
            ranges,
            group: s.group,
        });
    }

    let mut combos: Vec<Vec<&Resolved>> = Vec::new();
    let mut firsts: Vec<&Resolved> = Vec::new();
    let mut seen_groups = Vec::new();
    for r in &resolved {
        if seen_groups.contains(&r.group) {
            continue;
        }
        let clashes = firsts
            .iter()
            .any(|o| o.path == r.path && clash(&o.ranges, &r.ranges));
        if !clashes {
            seen_groups.push(r.group);
            firsts.push(r);
        }
    }
    combos.push(firsts);
    for r in &resolved {
        combos.push(vec![r]);
    }
    let mut out: Vec<Candidate> = Vec::new();
    for combo in combos.into_iter().filter(|c| !c.is_empty()) {
        let Some(diff) = render_combo(root, &combo, &files, overlay) else {
            continue;
        };
        if out.iter().any(|c| c.diff == diff) {
            continue;
        }
        out.push(Candidate {
            diff,
            used: combo.iter().map(|r| r.index).collect(),
        });
    }
    (out, notes)
}

fn render_combo(
    root: &Path,
    combo: &[&Resolved],
    files: &BTreeMap<String, Option<String>>,
    overlay: &BTreeMap<String, String>,
) -> Option<String> {
    let mut by_file: BTreeMap<&str, Vec<&(Range<usize>, String)>> =
        overlay.keys().map(|k| (k.as_str(), Vec::new())).collect();
    for r in combo {
        by_file.entry(&r.path).or_default().extend(r.ranges.iter());
    }
    let mut patch = Patch::default();
    for (path, mut ranges) in by_file {
        let current = files.get(path)?.as_deref()?;
        ranges.sort_by_key(|(r, _)| std::cmp::Reverse((r.start, r.end)));
        let mut new = current.to_owned();
        for (r, text) in ranges {
            new.replace_range(r.clone(), text);
        }
        let original = if overlay.contains_key(path) {
            read_regular(root, path)?
        } else {
            current.to_owned()
        };
        if let Some(fp) = diff_file(path, Some(&original), Some(&new), None, None) {
            patch.files.push(fp);
        }
    }
    (!patch.files.is_empty()).then(|| render(&patch))
}

/// The workspace-relative path of a file as a tool printed it.
fn map_path(root: &Path, raw: &str, known: &[String]) -> Option<String> {
    let map = PathMap::local(root);
    let mapped = map.map(raw)?;
    if !mapped.path.starts_with('/') {
        if !mapped.in_workspace {
            return None;
        }
        // Relative to a subfolder the command changed into (`cd crate && cargo test`): the
        // evidence may know the file under its full path.
        if !root.join(&mapped.path).exists()
            && let Some(k) = known
                .iter()
                .find(|k| k.ends_with(&format!("/{}", mapped.path)))
        {
            return Some(k.clone());
        }
        return Some(mapped.path);
    }
    // Printed under another name for the same tree (the user's checkout, a symlinked temp
    // dir): the evidence already mapped it.
    if let Ok(canon) = root.canonicalize()
        && let Some(m) = PathMap::local(canon).map(raw)
        && !m.path.starts_with('/')
    {
        return m.in_workspace.then_some(m.path);
    }
    known
        .iter()
        .filter(|k| raw.ends_with(&format!("/{k}")))
        .max_by_key(|k| k.len())
        .cloned()
}

/// A regular UTF-8 file under `root` (no symbolic link on the way), or `None`.
fn read_regular(root: &Path, rel: &str) -> Option<String> {
    let mut p = root.to_owned();
    for part in rel.split('/') {
        p.push(part);
        if std::fs::symlink_metadata(&p).ok()?.file_type().is_symlink() {
            return None;
        }
    }
    std::fs::read_to_string(&p).ok()
}

/// Byte ranges of the file's lines, without their line ends.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        if starts.last() == Some(&text.len()) && !text.is_empty() {
            starts.pop();
        }
        if text.is_empty() {
            starts.clear();
        }
        Self { text, starts }
    }

    fn count(&self) -> usize {
        self.starts.len()
    }

    /// 1-based line `n`: its content range.
    fn content(&self, n: u32) -> Option<Range<usize>> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        let start = *self.starts.get(i)?;
        let mut end = self.starts.get(i + 1).map_or(self.text.len(), |s| s - 1);
        if self.text[start..end].ends_with('\n') {
            end -= 1;
        }
        if self.text[start..end].ends_with('\r') {
            end -= 1;
        }
        Some(start..end)
    }

    fn text(&self, n: u32) -> Option<&'a str> {
        self.content(n).and_then(|r| self.text.get(r))
    }

    /// Where line `n` starts; one past the last line means the end of the file.
    fn start(&self, n: u32) -> Option<usize> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        match self.starts.get(i) {
            Some(s) => Some(*s),
            None if i == self.count() => Some(self.text.len()),
            None => None,
        }
    }

    fn eol(&self) -> &'static str {
        if self.text.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        }
    }
}

/// Whether a file line is the line a tool showed. rustc shows tabs as four spaces, and its
/// `+` markers may leave out an inserted blank; indentation must match, inner runs of blanks
/// count as one.
fn same_line(file: &str, shown: &str) -> bool {
    let norm = |s: &str| {
        let s = s.replace('\t', "    ");
        let body = s.trim_start();
        let indent = s.len() - body.len();
        let words: Vec<&str> = body.split_whitespace().collect();
        (indent, words.join(" "))
    };
    norm(file) == norm(shown)
}

/// The byte ranges and replacements one edit makes in `text`, or why it does not fit.
fn resolve(text: &str, edit: &Edit) -> Result<Vec<(Range<usize>, String)>, String> {
    let lines = Lines::new(text);
    let eol = lines.eol();
    match edit {
        Edit::Lines { line, old, new } => {
            let n = *line;
            if old.is_empty() {
                let at = lines
                    .start(n)
                    .ok_or_else(|| format!("line {n} is past the end of the file"))?;
                let mut ins = String::new();
                if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
                    ins.push_str(eol);
                }
                for l in new {
                    ins.push_str(l);
                    ins.push_str(eol);
                }
                return Ok(vec![(at..at, ins)]);
            }
            for (k, want) in old.iter().enumerate() {
                let ln = n + u32::try_from(k).unwrap_or(u32::MAX);
                let have = lines
                    .text(ln)
                    .ok_or_else(|| format!("line {ln} is past the end of the file"))?;
                if !same_line(have, want) {
                    return Err(format!(
                        "line {ln} reads `{}`, not `{}` as the tool showed",
                        have.trim(),
                        want.trim()
                    ));
                }
            }
            let last = n + u32::try_from(old.len() - 1).unwrap_or(u32::MAX);
            let first = lines.content(n).ok_or("no such line")?;
            let end = lines.content(last).ok_or("no such line")?;
            if new.is_empty() {
                let stop = lines.start(last + 1).unwrap_or(text.len());
                return Ok(vec![(first.start..stop, String::new())]);
            }
            Ok(vec![(first.start..end.end, new.join(eol))])
        }
        Edit::Affix {
            line,
            prefix,
            suffix,
            new,
        } => {
            let have = lines
                .text(*line)
                .ok_or("the line is past the end of the file")?;
            let norm = have.replace('\t', "    ");
            if !norm.starts_with(prefix.as_str()) || !norm.trim_end().ends_with(suffix.trim_end()) {
                return Err(format!("line {line} does not read as the tool showed"));
            }
            let r = lines.content(*line).ok_or("no such line")?;
            Ok(vec![(r, new.clone())])
        }
        Edit::Token {
            line,
            column,
            after_indent,
            old,
            new,
            whole_file,
        } => {
            let r = lines
                .content(*line)
                .ok_or("the line is past the end of the file")?;
            let have = &text[r.clone()];
            let on_line = occurrences(have, old);
            if on_line.is_empty() {
                return Err(format!("line {line} does not contain `{old}`"));
            }
            if *whole_file {
                return Ok(occurrences(text, old)
                    .into_iter()
                    .map(|at| (at..at + old.len(), new.clone()))
                    .collect());
            }
            let indent = if *after_indent {
                have.chars().take_while(|c| c.is_whitespace()).count()
            } else {
                0
            };
            let at_column = column.and_then(|c| {
                let chars = usize::try_from(c).ok()?.checked_sub(1)? + indent;
                let byte = have.char_indices().nth(chars).map(|(b, _)| b)?;
                on_line.contains(&byte).then_some(byte)
            });
            let at = match (at_column, on_line.as_slice()) {
                (Some(b), _) => b,
                (None, [only]) => *only,
                (None, _) => {
                    return Err(format!(
                        "`{old}` occurs {} times on line {line} and the column does not say which",
                        on_line.len()
                    ));
                }
            };
            Ok(vec![(r.start + at..r.start + at + old.len(), new.clone())])
        }
        Edit::NearestName {
            line,
            column,
            after_indent,
            old,
        } => {
            let new = nearest_name(text, old)
                .ok_or_else(|| format!("no name in the file is close to `{old}`"))?;
            resolve(
                text,
                &Edit::Token {
                    line: *line,
                    column: *column,
                    after_indent: *after_indent,
                    old: old.clone(),
                    new,
                    whole_file: false,
                },
            )
        }
        Edit::Bytes {
            start,
            end,
            expect,
            new,
        } => {
            let got = text
                .get(*start..*end)
                .ok_or("the byte span is not in the file")?;
            if expect.as_deref().is_some_and(|e| e != got) {
                return Err(format!("the span reads `{got}`, not what the tool saw"));
            }
            Ok(vec![(*start..*end, new.clone())])
        }
    }
}

/// Python builtins a misspelled name most often means.
const PY_BUILTINS: &[&str] = &[
    "abs",
    "all",
    "any",
    "bool",
    "dict",
    "enumerate",
    "filter",
    "float",
    "getattr",
    "hasattr",
    "int",
    "isinstance",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "open",
    "print",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "sorted",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "zip",
];

const PY_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// CPython's choice of suggestion (`traceback._compute_suggestion_error`) over the
/// identifiers of the file, in order of first appearance, then common builtins.
pub(crate) fn nearest_name(text: &str, wrong: &str) -> Option<String> {
    let mut names: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_alphabetic() || c == '_') {
        let tail = &rest[start..];
        let len = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let word = &tail[..len];
        if !names.contains(&word) && !PY_KEYWORDS.contains(&word) {
            names.push(word);
        }
        rest = &tail[len..];
    }
    for b in PY_BUILTINS {
        if !names.contains(b) {
            names.push(b);
        }
    }
    let mut best: Option<(&str, usize)> = None;
    for name in names {
        if name == wrong {
            continue;
        }
        let mut max = (name.chars().count() + wrong.chars().count() + 3) * MOVE_COST / 6;
        if let Some((_, d)) = best
            && d < max
        {
            max = d.saturating_sub(1);
        }
        let d = weighted_distance(wrong, name);
        if d > max {
            continue;
        }
        if best.is_none_or(|(_, b)| d < b) {
            best = Some((name, d));
        }
    }
    best.map(|(n, _)| n.to_owned())
}

const MOVE_COST: usize = 2;
const CASE_COST: usize = 1;

/// Levenshtein distance with CPython's weights: inserting or deleting costs 2, substituting
/// a letter for the same letter in another case 1, any other substitution 2.
fn weighted_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=a.len()).map(|i| i * MOVE_COST).collect();
    for (j, bc) in b.iter().enumerate() {
        let mut prev_diag = row[0];
        row[0] = (j + 1) * MOVE_COST;
        for (i, ac) in a.iter().enumerate() {
            let sub = if ac == bc {
                0
            } else if ac.to_lowercase().eq(bc.to_lowercase()) {
                CASE_COST
            } else {
                MOVE_COST
            };
            let value = (prev_diag + sub)
                .min(row[i] + MOVE_COST)
                .min(row[i + 1] + MOVE_COST);
            prev_diag = row[i + 1];
            row[i + 1] = value;
        }
    }
    row[a.len()]
}

/// Byte offsets of `word` in `text` where it stands as a whole identifier.
fn occurrences(text: &str, word: &str) -> Vec<usize> {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(word)
        .map(|(i, _)| i)
        .filter(|&i| {
            let before = text[..i].chars().next_back();
            let after = text[i + word.len()..].chars().next();
            !before.is_some_and(ident) && !after.is_some_and(ident)
        })
        .collect()
}

fn overlapping<'a>(ranges: impl Iterator<Item = &'a Range<usize>>) -> bool {
    let v: Vec<&Range<usize>> = ranges.collect();
    v.windows(2)
        .any(|w| w[1].start < w[0].end || w[1].start == w[0].start)
}

fn clash(a: &[(Range<usize>, String)], b: &[(Range<usize>, String)]) -> bool {
    a.iter().any(|(x, _)| {
        b.iter()
            .any(|(y, _)| (x.start < y.end && y.start < x.end) || x.start == y.start)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_name_follows_cpython() {
        let src = "def word_count(text):\n    words = text.split()\n    return len(word)\n";
        assert_eq!(nearest_name(src, "word").as_deref(), Some("words"));
        assert_eq!(nearest_name(src, "lenn").as_deref(), Some("len"));
        assert_eq!(nearest_name(src, "zzzzzz"), None);
        assert_eq!(weighted_distance("Word", "word"), 1);
    }

    #[test]
    fn tokens_need_identifier_boundaries() {
        assert_eq!(occurrences("word words sword word_", "word"), vec![0]);
    }

    #[test]
    fn lines_insert_and_replace() {
        let text = "a\nb\n";
        let ins = resolve(
            text,
            &Edit::Lines {
                line: 1,
                old: vec![],
                new: vec!["use x;".into()],
            },
        )
        .unwrap();
        assert_eq!(ins, vec![(0..0, "use x;\n".to_owned())]);
        let rep = resolve(
            text,
            &Edit::Lines {
                line: 2,
                old: vec!["b".into()],
                new: vec!["c".into()],
            },
        )
        .unwrap();
        assert_eq!(rep, vec![(2..3, "c".to_owned())]);
        assert!(
            resolve(
                text,
                &Edit::Lines {
                    line: 2,
                    old: vec!["z".into()],
                    new: vec!["c".into()],
                },
            )
            .is_err()
        );
    }
}
