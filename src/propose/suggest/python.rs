//! Python's "Did you mean" suggestions, as its traceback printer adds them (3.10+):
//! `NameError: name 'word' is not defined. Did you mean: 'words'?`, the same for
//! `AttributeError`, and (3.12+) `ImportError: cannot import name 'a' from 'm' (…). Did you
//! mean: 'b'?`. The innermost frame names the line; its caret line, when printed, the column.

use std::sync::LazyLock;

use regex::Regex;

use super::model::{Edit, Suggestion, pattern};

static FRAME: LazyLock<Regex> = LazyLock::new(|| pattern(r#"^\s*File "([^"]+)", line (\d+)"#));
static NAME_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"^(?:\w+\.)*(NameError|UnboundLocalError): (?:free variable |local variable )?name '(\w+)' is not defined(?:.*Did you mean: '(\w+)'\?)?",
    )
});
static ATTRIBUTE_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"^(?:\w+\.)*AttributeError: .*has no attribute '(\w+)'(?:.*Did you mean: '(\w+)'\?)?")
});
/// pytest's `path.py:3: NameError` under a failing frame.
static PYTEST_LOCATION: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"^(\S+\.py):(\d+): (?:\w+\.)*(?:NameError|AttributeError|ImportError)$")
});
static IMPORT_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"^(?:\w+\.)*ImportError: cannot import name '(\w+)' from .*Did you mean: '(\w+)'\?")
});

/// The frames read so far in one traceback: path, line, and the column of the caret run
/// relative to the dedented source line.
#[derive(Debug, Clone)]
struct Frame {
    path: String,
    line: u32,
    source: Option<String>,
    caret: Option<(u32, usize)>,
}

/// Every suggestion in `text`.
pub fn parse(text: &str, first_group: u32) -> Vec<Suggestion> {
    let mut out = Vec::new();
    let mut group = first_group;
    let mut frames: Vec<Frame> = Vec::new();
    let mut pending: Option<(Exception, String)> = None;
    for raw in text.lines() {
        let line = raw.trim_end();
        if let Some(c) = FRAME.captures(line) {
            frames.push(Frame {
                path: c[1].to_owned(),
                line: c[2].parse().unwrap_or(0),
                source: None,
                caret: None,
            });
            continue;
        }
        if line.starts_with("Traceback (most recent call last)") {
            frames.clear();
            continue;
        }
        if let Some(f) = frames.last_mut()
            && line.starts_with("    ")
        {
            let body = &line[4..];
            if f.source.is_none() {
                f.source = Some(body.to_owned());
            } else if f.caret.is_none() && body.trim_start().starts_with(['^', '~']) {
                let col = body.len() - body.trim_start().len();
                let len = body.trim().len();
                f.caret = Some((u32::try_from(col + 1).unwrap_or(0), len));
            }
            continue;
        }
        // pytest's long format: `E   NameError: …` inside the failing frame, then
        // `path.py:3: NameError` naming it.
        if let Some(body) = line.strip_prefix('E').filter(|b| b.starts_with(' ')) {
            pending = exception(body.trim()).map(|e| (e, body.trim().to_owned()));
            continue;
        }
        if let Some(c) = PYTEST_LOCATION.captures(line)
            && let Some((exc, diagnostic)) = pending.take()
        {
            out.push(suggestion(
                exc,
                diagnostic,
                &c[1],
                c[2].parse().unwrap_or(0),
                None,
                group,
            ));
            group += 1;
            continue;
        }
        let Some(exc) = exception(line) else {
            continue;
        };
        let Some(frame) = frames.last().filter(|f| f.line > 0) else {
            continue;
        };
        // The caret run covers the name (NameError) or more (`self.yy`, a call): its column
        // is only a hint when it starts exactly at the name.
        let column = frame.caret.and_then(|(col, _)| {
            let src = frame.source.as_deref()?.trim_start();
            let start = usize::try_from(col).ok()?.checked_sub(1)?;
            src.get(start..)?
                .starts_with(exc.old.as_str())
                .then_some(col)
        });
        out.push(suggestion(
            exc,
            line.trim().to_owned(),
            &frame.path,
            frame.line,
            column,
            group,
        ));
        group += 1;
        frames.clear();
    }
    out
}

/// An exception line understood: which rule, the unknown name, the suggested one if printed.
struct Exception {
    rule: &'static str,
    old: String,
    new: Option<String>,
    whole_file: bool,
}

fn exception(line: &str) -> Option<Exception> {
    let opt = |c: &regex::Captures<'_>, k: usize| c.get(k).map(|m| m.as_str().to_owned());
    let (rule, old, new, whole_file) = if let Some(c) = NAME_ERROR.captures(line) {
        ("name_error", c[2].to_owned(), opt(&c, 3), false)
    } else if let Some(c) = ATTRIBUTE_ERROR.captures(line) {
        ("attribute_error", c[1].to_owned(), opt(&c, 2), false)
    } else {
        let c = IMPORT_ERROR.captures(line)?;
        ("import_error", c[1].to_owned(), opt(&c, 2), true)
    };
    Some(Exception {
        rule,
        old,
        new,
        whole_file,
    })
}

/// The suggestion for an exception raised at `path:line`. Without a printed suggestion the
/// replacement is left to `edit` (`NearestName`).
fn suggestion(
    exc: Exception,
    diagnostic: String,
    path: &str,
    line: u32,
    column: Option<u32>,
    group: u32,
) -> Suggestion {
    let (rule, edit) = match exc.new {
        Some(new) => (
            exc.rule,
            Edit::Token {
                line,
                column,
                after_indent: true,
                old: exc.old,
                new,
                whole_file: exc.whole_file,
            },
        ),
        None => (
            if exc.rule == "name_error" {
                "name_error_nearest"
            } else {
                "attribute_error_nearest"
            },
            Edit::NearestName {
                line,
                column,
                after_indent: true,
                old: exc.old,
            },
        ),
    };
    Suggestion {
        source: "python",
        rule,
        diagnostic,
        path: path.to_owned(),
        edits: vec![edit],
        group,
        alternative: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_error_takes_the_innermost_frame() {
        let text = "Traceback (most recent call last):\n  File \"/w/app.py\", line 6, in <module>\n    print(word_count(\"a b c\"))\n          ^^^^^^^^^^^^^^^^^^^\n  File \"/w/app.py\", line 3, in word_count\n    return len(word)\n               ^^^^\nNameError: name 'word' is not defined. Did you mean: 'words'?\n";
        let s = parse(text, 0);
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].edits,
            vec![Edit::Token {
                line: 3,
                column: Some(12),
                after_indent: true,
                old: "word".into(),
                new: "words".into(),
                whole_file: false
            }]
        );
    }

    #[test]
    fn name_error_without_suggestion_asks_for_the_nearest_name() {
        let text = "  File \"/w/t.py\", line 3, in word_count\n    return len(word)\n               ^^^^\nNameError: name 'word' is not defined\n";
        let s = parse(text, 0);
        assert_eq!(s[0].rule, "name_error_nearest");
        assert!(matches!(&s[0].edits[0], Edit::NearestName { line: 3, old, .. } if old == "word"));
    }

    #[test]
    fn no_suggestion_without_did_you_mean() {
        let text = "  File \"/w/app.py\", line 1, in <module>\n    from helpers import slugfy\nImportError: cannot import name 'slugfy' from 'helpers' (/w/helpers.py)\n";
        assert!(parse(text, 0).is_empty());
    }
}
