//! rustc's human-readable suggestions, as `cargo build`/`cargo test` print them: `help:` blocks
//! with a diff-style snippet (`3 - summ` / `3 + sum`, `1 + use std::collections::HashMap;`),
//! snippets marked with `+`/`~`/`-` under the changed columns, and inline labels such as
//! `^^^^ help: a local variable with a similar name exists: \`sum\``. Pure; reading the files
//! is `edit`'s job.

use std::sync::LazyLock;

use regex::Regex;

use super::model::{Edit, Suggestion, pattern};

static HEADLINE: LazyLock<Regex> = LazyLock::new(|| pattern(r"^(error|warning)(\[E\d+\])?: (.+)$"));
static ARROW: LazyLock<Regex> = LazyLock::new(|| pattern(r"^\s*(-->|:::) (.+):(\d+):(\d+)\s*$"));
static HELP: LazyLock<Regex> = LazyLock::new(|| pattern(r"^\s*(?:= )?help: (.+)$"));
/// `N |`, `N -`, `N +` with the source text after one space.
static NUMBERED: LazyLock<Regex> = LazyLock::new(|| pattern(r"^(\s*)(\d+) ([|+\-~])"));
/// A gutter-only line: `   |` and whatever follows (markers, labels).
static GUTTER: LazyLock<Regex> = LazyLock::new(|| pattern(r"^(\s*)\|"));
/// The replacement named at the end of a help message: "…exists: `sum`".
static NAMED: LazyLock<Regex> = LazyLock::new(|| pattern(r"^(.*): `([^`]+)`$"));
static INLINE_HELP: LazyLock<Regex> = LazyLock::new(|| pattern(r"^(\^+) help: (.*): `([^`]+)`$"));

/// One snippet line inside a `help:` block.
#[derive(Debug, Clone)]
enum Row {
    Context(u32, String),
    Removed(u32, String),
    Added(u32, String),
    /// Markers under the previous row, by column of the source text.
    Marks(String),
    /// A bare gutter line: rustc separates alternative suggestions with it.
    Separator,
    /// `...`: lines elided, so the snippet is not whole.
    Elided,
}

/// A diagnostic being read: where it points and what its primary span covers.
#[derive(Debug, Default)]
struct Diag {
    /// Only errors count: a failing build fails on them, and a warning's fix (an underscore
    /// prefix, a removed `mut`) proves nothing. Lints denied into errors print `error`.
    is_error: bool,
    headline: String,
    path: Option<String>,
    line: u32,
    column: u32,
    /// Text under the first `^` run of the diagnostic's snippet.
    primary_text: Option<String>,
    /// The last numbered source line shown, for inline labels under it.
    last_source: Option<(u32, String)>,
}

/// Every suggestion in `text` (ANSI codes already stripped). `group` numbers continue from
/// `first_group`.
pub fn parse(text: &str, first_group: u32) -> Vec<Suggestion> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut group = first_group;
    let mut diag = Diag::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if let Some(c) = HEADLINE.captures(line) {
            diag = Diag {
                is_error: &c[1] == "error",
                headline: c[3].to_owned(),
                ..Diag::default()
            };
        } else if let Some(c) = ARROW.captures(line) {
            // The first arrow is the primary span; later ones belong to notes about other
            // places and do not move the diagnostic.
            if &c[1] == "-->" && diag.path.is_none() {
                diag.line = c[3].parse().unwrap_or(0);
                diag.column = c[4].parse().unwrap_or(0);
                diag.path = Some(c[2].to_owned());
            }
        } else if let Some(c) = HELP.captures(line) {
            let message = c[1].to_owned();
            let (rows, next, own_path) = help_rows(&lines, i + 1);
            // A help names its file when it is not the primary span's.
            if let Some(path) = own_path.or_else(|| diag.path.clone())
                && diag.is_error
            {
                let before = out.len();
                block_suggestions(&diag, &path, &message, &rows, group, &mut out);
                if out.len() == before
                    && rows.is_empty()
                    && let Some(s) = named_help(&diag, &path, &message, group)
                {
                    out.push(s);
                }
                if out.len() > before {
                    group += 1;
                }
            }
            i = next;
            continue;
        } else if let Some((num, text)) = numbered(line, '|') {
            diag.last_source = Some((num, text));
        } else if let Some(marks) = gutter_text(line)
            && let (Some((num, src)), Some(path)) = (diag.last_source.clone(), diag.path.clone())
            && diag.is_error
        {
            let trimmed = marks.trim_start();
            let col = marks.len() - trimmed.len();
            if diag.primary_text.is_none() && trimmed.starts_with('^') {
                let len = trimmed.chars().take_while(|c| *c == '^').count();
                diag.primary_text = src.get(col..col + len).map(str::to_owned);
            }
            if let Some(c) = INLINE_HELP.captures(trimmed)
                && let Some(old) = src.get(col..col + c[1].len())
                && is_identifierish(old)
            {
                out.push(Suggestion {
                    source: "rustc",
                    rule: "inline_help",
                    diagnostic: format!("{} (help: {}: `{}`)", diag.headline, &c[2], &c[3]),
                    path,
                    edits: vec![Edit::Token {
                        line: num,
                        column: u32::try_from(col + 1).ok(),
                        after_indent: false,
                        old: old.to_owned(),
                        new: c[3].to_owned(),
                        whole_file: false,
                    }],
                    group,
                    alternative: 0,
                });
                group += 1;
            }
        }
        i += 1;
    }
    out
}

/// The rows of a `help:` block starting at `start`, the index after it, and the file the
/// block names when it has its own arrow (`--> src/other.rs:1:1`, `::: src/other.rs:1:1`).
fn help_rows(lines: &[&str], start: usize) -> (Vec<Row>, usize, Option<String>) {
    let mut rows = Vec::new();
    let mut path = None;
    let mut i = start;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(c) = ARROW.captures(line) {
            if path.is_some() || !rows.iter().all(|r| matches!(r, Row::Separator)) {
                break;
            }
            path = Some(c[2].to_owned());
        } else if let Some(c) = NUMBERED.captures(line) {
            let num: u32 = c[2].parse().unwrap_or(0);
            let marker = c[3].chars().next().unwrap_or('|');
            let text = source_text(line, c.get(3).map_or(0, |m| m.start()));
            rows.push(match marker {
                '-' => Row::Removed(num, text),
                '+' => Row::Added(num, text),
                _ => Row::Context(num, text),
            });
        } else if let Some(rest) = gutter_text(line) {
            if rest.trim().is_empty() {
                rows.push(Row::Separator);
            } else if rest.trim() == "..." {
                rows.push(Row::Elided);
            } else {
                rows.push(Row::Marks(rest));
            }
        } else if line.trim_start() == "..." {
            rows.push(Row::Elided);
        } else {
            break;
        }
        i += 1;
    }
    while matches!(rows.last(), Some(Row::Separator)) {
        rows.pop();
    }
    (rows, i, path)
}

/// Source text of a numbered row: what follows the marker and one space.
fn source_text(line: &str, marker_at: usize) -> String {
    line.get(marker_at + 2..).unwrap_or("").to_owned()
}

/// `N | text` with the given marker.
fn numbered(line: &str, want: char) -> Option<(u32, String)> {
    let c = NUMBERED.captures(line)?;
    let m = c.get(3)?;
    (m.as_str().starts_with(want))
        .then(|| (c[2].parse().unwrap_or(0), source_text(line, m.start())))
}

/// What follows a bare gutter (`   | ^^^^ label`), aligned with the source text of the rows.
fn gutter_text(line: &str) -> Option<String> {
    let c = GUTTER.captures(line)?;
    let bar = c.get(0)?.end() - 1;
    Some(line.get(bar + 2..).unwrap_or("").to_owned())
}

/// Suggestions of one `help:` block: alternatives separated by bare gutter lines.
fn block_suggestions(
    diag: &Diag,
    path: &str,
    message: &str,
    rows: &[Row],
    group: u32,
    out: &mut Vec<Suggestion>,
) {
    if rows.iter().any(|r| matches!(r, Row::Elided)) {
        return;
    }
    let mut alternative = 0;
    for part in rows.split(|r| matches!(r, Row::Separator)) {
        let edits = if part
            .iter()
            .any(|r| matches!(r, Row::Removed(..) | Row::Added(..)))
        {
            diff_edits(part)
        } else {
            marked_edits(part, message)
        };
        if let Some(edits) = edits.filter(|e| !e.is_empty()) {
            out.push(Suggestion {
                source: "rustc",
                rule: if message.contains("import") {
                    "import"
                } else {
                    "snippet"
                },
                diagnostic: format!("{} (help: {message})", diag.headline),
                path: path.to_owned(),
                edits,
                group,
                alternative,
            });
            alternative += 1;
        }
    }
}

/// The diff form: runs of `-` rows are replaced by the `+` rows that follow them.
fn diff_edits(rows: &[Row]) -> Option<Vec<Edit>> {
    let mut edits = Vec::new();
    // New-file line numbers of `+` rows run ahead of old ones by what earlier runs added.
    let mut delta: i64 = 0;
    let mut k = 0;
    while k < rows.len() {
        match &rows[k] {
            Row::Removed(..) | Row::Added(..) => {
                let mut old = Vec::new();
                let mut new = Vec::new();
                let mut first_removed = None;
                let mut first_added = None;
                while let Some(r) = rows.get(k) {
                    match r {
                        Row::Removed(n, t) => {
                            if !new.is_empty() {
                                break;
                            }
                            let expected = first_removed.map(|f: u32| f + old.len() as u32);
                            if expected.is_some_and(|e| e != *n) {
                                return None;
                            }
                            first_removed.get_or_insert(*n);
                            old.push(t.clone());
                        }
                        Row::Added(n, t) => {
                            first_added.get_or_insert(*n);
                            new.push(t.clone());
                        }
                        // Markers under `+` rows repeat what the row already says.
                        Row::Marks(_) => {}
                        _ => break,
                    }
                    k += 1;
                }
                let line = match (first_removed, first_added) {
                    (Some(r), _) => r,
                    (None, Some(a)) => u32::try_from(i64::from(a) - delta).ok()?,
                    (None, None) => return None,
                };
                delta += new.len() as i64 - old.len() as i64;
                edits.push(Edit::Lines { line, old, new });
            }
            _ => k += 1,
        }
    }
    Some(edits)
}

/// The marked form: a source row as it would read after the change, markers under the
/// changed columns (`+` inserted, `~` replaced, `-` removed). An unmarked `use` row in an
/// import help is an insertion (older rustc).
fn marked_edits(rows: &[Row], message: &str) -> Option<Vec<Edit>> {
    let mut edits = Vec::new();
    for pair in rows.windows(2) {
        let (Row::Context(num, text), Row::Marks(marks)) = (&pair[0], &pair[1]) else {
            continue;
        };
        let marks: Vec<char> = marks.chars().collect();
        if !marks.iter().all(|c| matches!(c, ' ' | '+' | '~' | '-')) {
            continue;
        }
        let chars: Vec<char> = text.chars().collect();
        // The text without the columns marked `c`.
        let without = |c: char| -> String {
            chars
                .iter()
                .enumerate()
                .filter(|(i, _)| marks.get(*i) != Some(&c))
                .map(|(_, ch)| *ch)
                .collect()
        };
        if marks.contains(&'~') {
            let first = marks.iter().position(|c| *c == '~')?;
            let last = marks.iter().rposition(|c| *c == '~')?;
            edits.push(Edit::Affix {
                line: *num,
                prefix: chars.get(..first)?.iter().collect(),
                suffix: chars.get(last + 1..).unwrap_or(&[]).iter().collect(),
                new: text.clone(),
            });
        } else if marks.contains(&'+') {
            let old = without('+');
            edits.push(Edit::Lines {
                line: *num,
                old: vec![old],
                new: vec![text.clone()],
            });
        } else if marks.contains(&'-') {
            let new = without('-');
            edits.push(Edit::Lines {
                line: *num,
                old: vec![text.clone()],
                new: vec![new],
            });
        }
    }
    if edits.is_empty()
        && message.contains("import")
        && let [Row::Context(num, text)] = rows
        && text.trim_start().starts_with("use ")
    {
        edits.push(Edit::Lines {
            line: *num,
            old: Vec::new(),
            new: vec![text.clone()],
        });
    }
    Some(edits)
}

/// A help that names its replacement and shows no snippet ("…exists: `sum`"): the
/// diagnostic's primary span is replaced.
fn named_help(diag: &Diag, path: &str, message: &str, group: u32) -> Option<Suggestion> {
    let c = NAMED.captures(message)?;
    let old = diag.primary_text.clone()?;
    if !message.contains("similar name") || !is_identifierish(&old) || diag.line == 0 {
        return None;
    }
    Some(Suggestion {
        source: "rustc",
        rule: "similar_name",
        diagnostic: format!("{} (help: {message})", diag.headline),
        path: path.to_owned(),
        edits: vec![Edit::Token {
            line: diag.line,
            column: Some(diag.column),
            after_indent: false,
            old,
            new: c[2].to_owned(),
            whole_file: false,
        }],
        group,
        alternative: 0,
    })
}

/// A path or identifier (`summ`, `std::x::Y`), nothing with spaces or punctuation.
fn is_identifierish(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_form_replacement() {
        let text = "error[E0425]: cannot find value `summ` in this scope\n --> src/lib.rs:3:5\n  |\n3 |     summ\n  |     ^^^^\n  |\nhelp: a local variable with a similar name exists\n  |\n3 -     summ\n3 +     sum\n  |\n\n";
        let s = parse(text, 0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(
            s[0].edits,
            vec![Edit::Lines {
                line: 3,
                old: vec!["    summ".into()],
                new: vec!["    sum".into()]
            }]
        );
        assert_eq!(s[0].path, "src/lib.rs");
    }

    #[test]
    fn inline_label_form() {
        let text = "error[E0425]: cannot find value `summ` in this scope\n --> src/lib.rs:3:5\n  |\n3 |     summ\n  |     ^^^^ help: a local variable with a similar name exists: `sum`\n\n";
        let s = parse(text, 0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(
            matches!(&s[0].edits[0], Edit::Token { line: 3, column: Some(5), old, new, .. } if old == "summ" && new == "sum")
        );
    }

    #[test]
    fn alternatives_share_a_group() {
        let text = "error[E0412]: cannot find type `Result` in this scope\n --> src/lib.rs:2:5\n  |\nhelp: consider importing one of these items\n  |\n1 + use std::fmt::Result;\n  |\n1 + use std::io::Result;\n  |\n\n";
        let s = parse(text, 0);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!((s[0].group, s[0].alternative), (0, 0));
        assert_eq!((s[1].group, s[1].alternative), (0, 1));
    }

    #[test]
    fn warnings_are_not_fixed_and_notes_do_not_move_the_file() {
        let warn = "warning: unused variable: `x`\n --> src/lib.rs:2:9\n  |\n2 |     let x = 1;\n  |         ^ help: if this is intentional, prefix it with an underscore: `_x`\n\n";
        assert!(parse(warn, 0).is_empty());
        let text = "error[E0308]: mismatched types\n --> src/lib.rs:8:11\n  |\nnote: function defined here\n --> src/other.rs:11:4\n  |\n11 | fn count(s: &str) -> usize {\n  |    ^^^^^\nhelp: consider borrowing here\n  |\n8 |     count(&s)\n  |           +\n\n";
        let s = parse(text, 0);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].path, "src/lib.rs");
    }

    #[test]
    fn tilde_markers() {
        let text = "error[E0425]: cannot find value `summ` in this scope\n --> src/lib.rs:3:5\n  |\nhelp: a local variable with a similar name exists\n  |\n3 |     sum\n  |     ~~~\n\n";
        let s = parse(text, 0);
        assert!(
            matches!(&s[0].edits[0], Edit::Affix { line: 3, prefix, suffix, new } if prefix == "    " && suffix.is_empty() && new == "    sum")
        );
    }
}
