//! Budgeted source snippets: numbered lines around each ranked location, widened to the
//! enclosing function or block (indentation for Python, braces elsewhere), merged when they
//! overlap, and cut off when the byte budget is spent.

use super::pattern::compile;
use regex::Regex;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Numbered source lines shown to the proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    /// Each line as `> 12 | text` (a line a location or a definition the test uses points at)
    /// or `  13 | text`.
    pub text: String,
}

/// The longest enclosing block shown whole; longer ones are cut to a window around the line.
const MAX_BLOCK_LINES: usize = 60;
/// Lines shown before and after a location when no enclosing block is found (or it is long).
const WINDOW_BEFORE: usize = 12;
const WINDOW_AFTER: usize = 8;
/// The narrow fallback when the widened snippet does not fit the remaining budget.
const NARROW: usize = 3;

static PY_HEADER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*(?:async\s+def|def|class)\s+\w+"));
static BRACE_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"\bfn\s+\w+|\bfunc\b|\bfunction\b|=>\s*\{\s*$",
        r"|^\s*(?:pub(?:\([\w:]+\))?\s+)?(?:impl|struct|enum|trait|mod)\b",
        r"|^\s*(?:(?:public|private|protected|static|final|abstract|synchronized|override|virtual|inline)\s+)+[\w<>\[\],\s]+\(.*\)\s*(?:throws\s+[\w.,\s]+)?\{?\s*$",
        r"|^[A-Za-z_][\w\s\*&:<>,]*\s[\*&]?[\w:~]+\s*\([^;]*\)\s*(?:const\s*)?(?:override\s*)?\{?\s*$",
        r"|^\s*(?:it|test|describe)(?:\.\w+)?\s*\(",
    ))
});

/// The 0-based inclusive line range to show for a location at 0-based `target`.
pub(crate) fn block_range(path: &str, lines: &[&str], target: usize) -> (usize, usize) {
    if lines.is_empty() {
        return (0, 0);
    }
    let target = target.min(lines.len() - 1);
    let block = if path.ends_with(".py") || path.ends_with(".pyi") {
        python_block(lines, target)
    } else {
        brace_block(lines, target)
    };
    match block {
        Some((start, end)) if end - start < MAX_BLOCK_LINES => (start, end),
        Some((start, end)) => (
            target.saturating_sub(WINDOW_BEFORE).max(start),
            (target + WINDOW_AFTER).min(end),
        ),
        None => (
            target.saturating_sub(WINDOW_BEFORE / 2),
            (target + WINDOW_AFTER / 2).min(lines.len() - 1),
        ),
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn python_block(lines: &[&str], target: usize) -> Option<(usize, usize)> {
    let target_indent = if lines[target].trim().is_empty() {
        usize::MAX
    } else {
        indent(lines[target])
    };
    let start = (0..=target).rev().take(200).find(|&i| {
        PY_HEADER.is_match(lines[i]) && (i == target || indent(lines[i]) < target_indent)
    })?;
    let header_indent = indent(lines[start]);
    let mut end = start;
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        if line.trim().is_empty() {
            continue;
        }
        if indent(line) <= header_indent {
            break;
        }
        end = i;
    }
    Some((start, end.max(target)))
}

fn brace_block(lines: &[&str], target: usize) -> Option<(usize, usize)> {
    let target_indent = indent(lines[target]);
    let start = (0..=target).rev().take(200).find(|&i| {
        BRACE_HEADER.is_match(lines[i]) && (i == target || indent(lines[i]) <= target_indent)
    })?;
    let mut depth: i64 = 0;
    let mut opened = false;
    for (i, line) in lines.iter().enumerate().skip(start) {
        for ch in strip_strings(line).chars() {
            match ch {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        if opened && depth <= 0 {
            return (i >= target).then_some((start, i));
        }
        if i > start + 400 {
            break;
        }
    }
    None
}

/// Drops string and char literals and `//` comments so braces inside them are not counted.
fn strip_strings(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut prev = ' ';
    for ch in line.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == q {
                    quote = None;
                }
            }
            None => {
                if ch == '/' && prev == '/' {
                    out.pop();
                    break;
                }
                if ch == '"' || ch == '`' || (ch == '\'' && !prev.is_alphanumeric()) {
                    quote = Some(ch);
                } else {
                    out.push(ch);
                }
            }
        }
        prev = ch;
    }
    out
}

/// Renders 0-based inclusive `start..=end` of `lines`, marking the 1-based `marks`.
pub(crate) fn render(
    path: &str,
    lines: &[&str],
    start: usize,
    end: usize,
    marks: &[u32],
) -> Snippet {
    let width = (end + 1).to_string().len();
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate().take(end + 1).skip(start) {
        let number = i + 1;
        let mark = if marks.iter().any(|m| *m as usize == number) {
            '>'
        } else {
            ' '
        };
        text.push_str(&format!("{mark} {number:>width$} | {line}\n"));
    }
    Snippet {
        path: path.to_string(),
        start_line: u32::try_from(start + 1).unwrap_or(u32::MAX),
        end_line: u32::try_from(end + 1).unwrap_or(u32::MAX),
        text,
    }
}

/// A position to show, in rank order.
#[derive(Debug, Clone)]
pub(crate) struct Focus {
    pub path: String,
    pub line: u32,
}

/// At most this many focuses are considered; the rest rank too low to matter.
const MAX_FOCUSES: usize = 200;

/// Builds snippets for `focuses` (best first) from file texts, within `budget` bytes of
/// snippet text (paths included). Returns the snippets in rank order and how many focuses did
/// not fit.
pub(crate) fn snippets(
    focuses: &[Focus],
    read: &dyn Fn(&str) -> Option<String>,
    budget: usize,
) -> (Vec<Snippet>, u32) {
    // Per snippet: the source path, its range, and the marked lines.
    let mut chosen: Vec<Range> = Vec::new();
    let mut files: HashMap<String, Option<Vec<String>>> = HashMap::new();
    let mut omitted = 0;
    for focus in focuses.iter().take(MAX_FOCUSES) {
        let lines = files
            .entry(focus.path.clone())
            .or_insert_with(|| read(&focus.path).map(|t| t.lines().map(str::to_string).collect()));
        let Some(lines) = lines.as_deref() else {
            continue;
        };
        let target = (focus.line as usize).saturating_sub(1);
        if target >= lines.len() {
            continue;
        }
        let borrowed: Vec<&str> = lines.iter().map(String::as_str).collect();
        let wide = block_range(&focus.path, &borrowed, target);
        let narrow = (
            target.saturating_sub(NARROW),
            (target + NARROW).min(lines.len() - 1),
        );
        let mut placed = false;
        for (start, end) in [wide, narrow] {
            let mut trial = chosen.clone();
            merge(&mut trial, &focus.path, start, end, focus.line);
            let used: usize = trial.iter().map(|r| cost(r, &files)).sum();
            if used <= budget {
                chosen = trial;
                placed = true;
                break;
            }
        }
        if !placed {
            omitted += 1;
        }
    }
    let rendered = chosen
        .iter()
        .filter_map(|r| {
            let lines = files.get(&r.path)?.as_deref()?;
            let borrowed: Vec<&str> = lines.iter().map(String::as_str).collect();
            Some(render(&r.path, &borrowed, r.start, r.end, &r.marks))
        })
        .collect();
    (rendered, omitted)
}

/// A chosen 0-based inclusive range of a file and the 1-based lines to mark in it.
#[derive(Debug, Clone)]
struct Range {
    path: String,
    start: usize,
    end: usize,
    marks: Vec<u32>,
}

/// Adds a range, joining it with an overlapping or nearly adjacent range of the same file.
fn merge(chosen: &mut Vec<Range>, path: &str, start: usize, end: usize, mark: u32) {
    for entry in chosen.iter_mut() {
        if entry.path == path && start <= entry.end + 3 && end + 3 >= entry.start {
            entry.start = entry.start.min(start);
            entry.end = entry.end.max(end);
            if !entry.marks.contains(&mark) {
                entry.marks.push(mark);
            }
            return;
        }
    }
    chosen.push(Range {
        path: path.to_string(),
        start,
        end,
        marks: vec![mark],
    });
}

/// The bytes `render` produces for a range plus its path, without rendering it.
fn cost(range: &Range, files: &HashMap<String, Option<Vec<String>>>) -> usize {
    let Some(Some(lines)) = files.get(&range.path) else {
        return 0;
    };
    let width = (range.end + 1).to_string().len();
    // "{mark} {number:>width$} | {line}\n"
    let body: usize = lines
        .iter()
        .take(range.end + 1)
        .skip(range.start)
        .map(|l| l.len() + width + 6)
        .sum();
    range.path.len() + body
}

#[cfg(test)]
mod tests {
    use super::*;

    const PY: &str =
        "import os\n\n\ndef add(a, b):\n    x = a\n    return x + b\n\n\ndef other():\n    pass\n";
    const RS: &str = "use std::fmt;\n\npub fn total(items: &[u32]) -> u32 {\n    let s = \"{\";\n    items.iter().sum()\n}\n\nfn next() {}\n";

    #[test]
    fn python_function_is_the_block() {
        let lines: Vec<&str> = PY.lines().collect();
        assert_eq!(block_range("a.py", &lines, 5), (3, 5));
    }

    #[test]
    fn braces_in_strings_do_not_count() {
        let lines: Vec<&str> = RS.lines().collect();
        assert_eq!(block_range("a.rs", &lines, 4), (2, 5));
    }

    #[test]
    fn render_marks_location_lines() {
        let lines: Vec<&str> = PY.lines().collect();
        let s = render("a.py", &lines, 3, 5, &[6]);
        assert_eq!(
            s.text,
            "  4 | def add(a, b):\n  5 |     x = a\n> 6 |     return x + b\n"
        );
        assert_eq!((s.start_line, s.end_line), (4, 6));
    }

    #[test]
    fn overlapping_focuses_merge_and_budget_is_kept() {
        let read = |p: &str| (p == "a.py").then(|| PY.to_string());
        let focuses = vec![
            Focus {
                path: "a.py".into(),
                line: 6,
            },
            Focus {
                path: "a.py".into(),
                line: 5,
            },
        ];
        let (got, omitted) = snippets(&focuses, &read, 10_000);
        assert_eq!((got.len(), omitted), (1, 0));
        assert_eq!(got[0].text.matches('>').count(), 2);
        let (got, omitted) = snippets(&focuses, &read, 10);
        assert!(got.is_empty());
        assert_eq!(omitted, 2);
        // The computed cost is exactly what rendering produces.
        let (got, _) = snippets(&focuses[..1], &read, 10_000);
        let range = Range {
            path: "a.py".into(),
            start: 3,
            end: 5,
            marks: vec![6],
        };
        let files = HashMap::from([(
            "a.py".to_string(),
            Some(PY.lines().map(str::to_string).collect()),
        )]);
        assert_eq!(cost(&range, &files), got[0].text.len() + "a.py".len());
    }
}
