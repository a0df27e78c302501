//! Python tracebacks (`File "path", line N, in func`), as printed by the interpreter, unittest
//! and pytest's native/long modes. Frames are ranked innermost first: the deepest frame is
//! where the error surfaced.

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

// pytest prefixes traceback text it captured from an exception with `E   `.
static FRAME: LazyLock<Regex> =
    LazyLock::new(|| compile(r#"^(?:E\s+)?\s*File "([^"]+)", line (\d+)(?:, in (.+))?$"#));
static EXCEPTION: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^(?:E\s+)?([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failure|Warning|Iteration)\b.*|[A-Za-z_][\w.]*: .*)$",
    )
});

pub(crate) fn parse(text: &str, map: &PathMap) -> Vec<Location> {
    let mut found = Vec::new();
    let mut block: Vec<(String, u32)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        if let Some(caps) = FRAME.captures(line) {
            block.push((caps[1].to_string(), num(&caps[2]).unwrap_or(0)));
            continue;
        }
        if block.is_empty() {
            continue;
        }
        // Source lines and carets under a frame are indented; the exception line is not.
        let body = line
            .strip_prefix('E')
            .map(str::trim_start)
            .filter(|_| line.starts_with("E "))
            .unwrap_or(line);
        if line.trim().is_empty() || body.starts_with(' ') || body.starts_with('\t') {
            // A blank line ends the block only when nothing follows that continues it.
            if line.trim().is_empty() && !continues(&lines[index + 1..]) {
                flush(&mut block, None, map, &mut found);
            }
            continue;
        }
        let message = EXCEPTION.is_match(line).then(|| body.trim().to_string());
        flush(&mut block, message, map, &mut found);
    }
    flush(&mut block, None, map, &mut found);
    found
}

fn continues(rest: &[&str]) -> bool {
    rest.iter()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| FRAME.is_match(l) || l.starts_with(' '))
}

fn flush(
    block: &mut Vec<(String, u32)>,
    message: Option<String>,
    map: &PathMap,
    found: &mut Vec<Location>,
) {
    let mut message = message;
    for (path, line) in block.drain(..).rev() {
        if let Some(loc) = Location::new(map, &path, line, None, "python", message.take()) {
            found.push(loc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn innermost_first_with_exception() {
        let out = "Traceback (most recent call last):\n  File \"/w/t.py\", line 9, in <module>\n    main()\n  File \"/w/pkg/m.py\", line 3, in main\n    1/0\n    ~^~\nZeroDivisionError: division by zero\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(locs.len(), 2);
        assert_eq!((locs[0].path.as_str(), locs[0].line), ("pkg/m.py", 3));
        assert_eq!(
            locs[0].message.as_deref(),
            Some("ZeroDivisionError: division by zero")
        );
        assert_eq!(
            (
                locs[1].path.as_str(),
                locs[1].line,
                locs[1].message.is_none()
            ),
            ("t.py", 9, true)
        );
    }

    #[test]
    fn skips_frozen_frames() {
        let out =
            "  File \"<frozen importlib._bootstrap>\", line 1204, in _gcd_import\nImportError: x\n";
        assert!(parse(out, &PathMap::local("/w")).is_empty());
    }
}
