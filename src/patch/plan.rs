//! Planning hunks in memory against a file's current text: locate each hunk (exact, offset, or
//! trailing-whitespace/CRLF tolerant), refuse ambiguous or missing context, detect hunks that are
//! already applied, and build the new text. Pure: it never reads or writes files.

use super::error::{HunkLocation, NearLine, Rejection, Rule};
use super::model::{Hunk, HunkLine};
use super::report::{HunkReport, HunkStrategy};

/// A file's planned new text and where each hunk went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// The text after every hunk.
    pub content: String,
    /// One report per hunk, in patch order.
    pub hunks: Vec<HunkReport>,
}

#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    text: &'a str,
    eol: &'a str,
}

fn split_lines(s: &str) -> Vec<Line<'_>> {
    s.split_inclusive('\n')
        .map(|l| {
            if let Some(t) = l.strip_suffix("\r\n") {
                Line {
                    text: t,
                    eol: &l[t.len()..],
                }
            } else if let Some(t) = l.strip_suffix('\n') {
                Line { text: t, eol: "\n" }
            } else {
                Line { text: l, eol: "" }
            }
        })
        .collect()
}

fn dominant_eol(lines: &[Line<'_>]) -> &'static str {
    let crlf = lines.iter().filter(|l| l.eol == "\r\n").count();
    let lf = lines.iter().filter(|l| l.eol == "\n").count();
    if crlf > lf { "\r\n" } else { "\n" }
}

fn exact(a: &str, b: &str) -> bool {
    a == b
}

fn loose(a: &str, b: &str) -> bool {
    a.trim_end() == b.trim_end()
}

/// Start positions where `want` matches without overlapping a placed hunk.
fn find(
    lines: &[Line<'_>],
    want: &[&str],
    eq: fn(&str, &str) -> bool,
    taken: &[(usize, usize)],
) -> Vec<usize> {
    if want.len() > lines.len() {
        return Vec::new();
    }
    (0..=lines.len() - want.len())
        .filter(|&p| {
            let end = p + want.len();
            !taken.iter().any(|&(s, e)| p < e && s < end)
                && want.iter().zip(&lines[p..end]).all(|(w, l)| eq(l.text, w))
        })
        .collect()
}

enum Choice {
    None,
    One(usize),
    Many(Vec<usize>),
}

/// One match wins; several win only if one sits exactly at the stated line.
fn choose(found: Vec<usize>, expected: usize) -> Choice {
    match found.len() {
        0 => Choice::None,
        1 => Choice::One(found[0]),
        _ if found.contains(&expected) => Choice::One(expected),
        _ => Choice::Many(found),
    }
}

fn location(k: usize, hunk: &Hunk) -> HunkLocation {
    HunkLocation {
        index: k + 1,
        header: hunk.header(),
        diff_line: hunk.line,
    }
}

fn describe(path: &str, k: usize, hunk: &Hunk) -> String {
    format!(
        "`{path}`: hunk {} (`{}`, reply line {})",
        k + 1,
        hunk.header(),
        hunk.line
    )
}

/// Applies `hunks` to `original` in memory. `first_id` is the patch-wide id of the first hunk.
///
/// Every hunk is located against the original text; hunks may not overlap. A hunk whose old
/// lines match in several places is refused unless one of them is exactly the stated line.
pub fn plan_hunks(
    path: &str,
    original: &str,
    hunks: &[Hunk],
    first_id: usize,
) -> Result<PlannedFile, Rejection> {
    let lines = split_lines(original);
    let eol = dominant_eol(&lines);
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut placed: Vec<(usize, usize)> = Vec::new(); // (position, hunk index)
    let mut reports = Vec::new();
    for (k, hunk) in hunks.iter().enumerate() {
        let old = hunk.old_lines();
        let expected = hunk.old_index();
        let (pos, strategy) = if old.is_empty() {
            if !lines.is_empty() {
                return Err(Rejection::at_path(
                    Rule::ContextNotFound,
                    path,
                    format!("{} has no context or removed lines, so it cannot be placed in a non-empty file", describe(path, k, hunk)),
                )
                .with_hunk(location(k, hunk))
                .with_hint("include about 3 unchanged lines around each change"));
            }
            (0, HunkStrategy::Exact)
        } else {
            locate(path, k, hunk, &lines, &old, expected, &taken)?
        };
        taken.push((pos, pos + old.len()));
        placed.push((pos, k));
        reports.push(HunkReport {
            id: first_id + k,
            index: k + 1,
            header: hunk.header(),
            stated_line: hunk.old_start,
            applied_line: Some(pos + 1),
            strategy,
        });
    }
    placed.sort();
    let final_missing = lines.last().is_some_and(|l| l.eol.is_empty());
    let mut out: Vec<(&str, &str)> = Vec::with_capacity(lines.len());
    let mut cursor = 0;
    let mut eof_missing: Option<bool> = None;
    for &(pos, k) in &placed {
        let hunk = &hunks[k];
        out.extend(lines[cursor..pos].iter().map(|l| (l.text, l.eol)));
        let mut fc = pos;
        for hl in &hunk.lines {
            match hl {
                HunkLine::Context(_) => {
                    let l = lines[fc];
                    out.push((l.text, l.eol));
                    fc += 1;
                }
                HunkLine::Delete(_) => fc += 1,
                HunkLine::Insert(t) => out.push((t.as_str(), eol)),
            }
        }
        cursor = fc;
        if fc == lines.len() {
            eof_missing = Some(if hunk.new_missing_newline {
                true
            } else if hunk.old_missing_newline {
                false
            } else {
                // The hunk says nothing about the final newline: keep the file's.
                final_missing
            });
        }
    }
    out.extend(lines[cursor..].iter().map(|l| (l.text, l.eol)));
    let n = out.len();
    let mut content = String::with_capacity(original.len() + 64);
    for (i, (text, line_eol)) in out.into_iter().enumerate() {
        content.push_str(text);
        let end = if i + 1 < n {
            if line_eol.is_empty() { eol } else { line_eol }
        } else {
            match eof_missing {
                Some(true) => "",
                Some(false) if line_eol.is_empty() => eol,
                _ => line_eol,
            }
        };
        content.push_str(end);
    }
    Ok(PlannedFile {
        content,
        hunks: reports,
    })
}

fn locate(
    path: &str,
    k: usize,
    hunk: &Hunk,
    lines: &[Line<'_>],
    old: &[&str],
    expected: usize,
    taken: &[(usize, usize)],
) -> Result<(usize, HunkStrategy), Rejection> {
    let offset = |p: usize| p as i64 - expected as i64;
    let ambiguous = |found: Vec<usize>| {
        let at: Vec<String> = found.iter().take(5).map(|p| (p + 1).to_string()).collect();
        let mut r = Rejection::at_path(
            Rule::AmbiguousContext,
            path,
            format!(
                "{} matches in {} places (lines {}), none at the stated line {}",
                describe(path, k, hunk),
                found.len(),
                at.join(", "),
                hunk.old_start
            ),
        )
        .with_hunk(location(k, hunk))
        .with_hint("add unchanged lines of context that occur only at the place you mean");
        r.nearest = found
            .iter()
            .take(3)
            .filter_map(|&p| {
                lines.get(p).map(|l| NearLine {
                    line: p + 1,
                    text: l.text.to_owned(),
                })
            })
            .collect();
        r
    };
    match choose(find(lines, old, exact, taken), expected) {
        Choice::One(p) if p == expected => return Ok((p, HunkStrategy::Exact)),
        Choice::One(p) => return Ok((p, HunkStrategy::Offset { lines: offset(p) })),
        Choice::Many(found) => return Err(ambiguous(found)),
        Choice::None => {}
    }
    match choose(find(lines, old, loose, taken), expected) {
        Choice::One(p) => return Ok((p, HunkStrategy::WhitespaceTolerant { offset: offset(p) })),
        Choice::Many(found) => return Err(ambiguous(found)),
        Choice::None => {}
    }
    let new = hunk.new_lines();
    if !new.is_empty()
        && new != old
        && let Some(&p) = find(lines, &new, loose, taken).first()
    {
        let mut r = Rejection::at_path(
            Rule::AlreadyApplied,
            path,
            format!(
                "{} is already applied: its new lines are already at line {}",
                describe(path, k, hunk),
                p + 1
            ),
        )
        .with_hunk(location(k, hunk))
        .with_hint("the file already has this change; send only changes still needed against the current file");
        r.nearest = (p..(p + new.len()).min(p + 10))
            .filter_map(|i| {
                lines.get(i).map(|l| NearLine {
                    line: i + 1,
                    text: l.text.to_owned(),
                })
            })
            .collect();
        return Err(r);
    }
    Err(not_found(path, k, hunk, lines, old, expected))
}

/// A context-not-found rejection showing the closest stretch of the file.
fn not_found(
    path: &str,
    k: usize,
    hunk: &Hunk,
    lines: &[Line<'_>],
    old: &[&str],
    expected: usize,
) -> Rejection {
    let n = lines.len();
    // Bound the scan on huge files: look near the stated line only.
    let (lo, hi) = if n.saturating_mul(old.len()) > 20_000_000 {
        (expected.saturating_sub(2000), (expected + 2000).min(n))
    } else {
        (0, n)
    };
    let score = |p: usize| {
        old.iter()
            .enumerate()
            .filter(|(j, w)| lines.get(p + j).is_some_and(|l| loose(l.text, w)))
            .count()
    };
    let mut best = (0usize, expected.min(n.saturating_sub(1)));
    for p in lo..hi {
        let s = score(p);
        let closer = p.abs_diff(expected) < best.1.abs_diff(expected);
        if s > best.0 || (s == best.0 && s > 0 && closer) {
            best = (s, p);
        }
    }
    let at = best.1;
    let mismatch = old
        .iter()
        .enumerate()
        .find(|(j, w)| !lines.get(at + j).is_some_and(|l| loose(l.text, w)));
    let why = match mismatch {
        Some((j, w)) => match lines.get(at + j) {
            Some(l) => format!(
                "its line {} expects `{}` but line {} of the file is `{}`",
                j + 1,
                w,
                at + j + 1,
                l.text
            ),
            None => format!(
                "its line {} expects `{}` past the end of the file ({n} lines)",
                j + 1,
                w
            ),
        },
        None => "its lines were not found".to_owned(),
    };
    let mut r = Rejection::at_path(
        Rule::ContextNotFound,
        path,
        format!("{} does not match the file: {why}", describe(path, k, hunk)),
    )
    .with_hunk(location(k, hunk))
    .with_hint("copy the unchanged and removed lines exactly from the file as it is now");
    let from = at.saturating_sub(2);
    let to = (at + old.len() + 2).min(n);
    r.nearest = (from..to)
        .map(|i| NearLine {
            line: i + 1,
            text: lines[i].text.to_owned(),
        })
        .collect();
    r
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
