//! rustc/cargo diagnostics (`error[E…]: …` followed by `--> file:line:col`) and libtest panics
//! (`panicked at file:line:col`, plus `RUST_BACKTRACE` frames).

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

static HEADER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(error|warning)(?:\[(E\d{4})\])?: (.+)$"));
static ARROW: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*(?:-->|:::) (.+?):(\d+):(\d+)$"));
static PANIC_NEW: LazyLock<Regex> = LazyLock::new(|| compile(r"panicked at (\S.*?):(\d+):(\d+):$"));
static PANIC_OLD: LazyLock<Regex> =
    LazyLock::new(|| compile(r"panicked at '(.*)', (\S.*?):(\d+):(\d+)$"));
static FRAME: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s+at (\S.*?):(\d+):(\d+)$"));

pub(crate) fn parse(text: &str, map: &PathMap) -> Vec<Location> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    // The diagnostic we are inside: `None` for warnings, whose positions are not the failure.
    let mut current: Option<String> = None;
    let mut in_warning = false;
    let mut first_arrow = false;
    for (index, line) in lines.iter().enumerate() {
        if let Some(caps) = HEADER.captures(line) {
            in_warning = &caps[1] == "warning";
            let code = caps
                .get(2)
                .map(|c| format!("[{}]", c.as_str()))
                .unwrap_or_default();
            current = Some(format!("{}{code}: {}", &caps[1], &caps[3]));
            first_arrow = true;
            continue;
        }
        if let Some(caps) = ARROW.captures(line) {
            if in_warning || current.is_none() {
                continue;
            }
            let message = if first_arrow { current.clone() } else { None };
            first_arrow = false;
            found.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                num(&caps[3]),
                "rust",
                message,
            ));
            continue;
        }
        if let Some(caps) = PANIC_NEW.captures(line) {
            let message = panic_message(&lines[index + 1..]);
            found.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                num(&caps[3]),
                "panic",
                message,
            ));
            continue;
        }
        if let Some(caps) = PANIC_OLD.captures(line) {
            found.extend(Location::new(
                map,
                &caps[2],
                num(&caps[3]).unwrap_or(0),
                num(&caps[4]),
                "panic",
                Some(caps[1].to_string()),
            ));
            continue;
        }
        if let Some(caps) = FRAME.captures(line) {
            found.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                num(&caps[3]),
                "panic",
                None,
            ));
        }
    }
    found
}

/// The panic message: the lines after the `panicked at` line up to the `note:` or blank line.
fn panic_message(rest: &[&str]) -> Option<String> {
    let taken: Vec<&str> = rest
        .iter()
        .take_while(|l| {
            !l.trim().is_empty() && !l.starts_with("note:") && !l.starts_with("stack backtrace:")
        })
        .take(6)
        .copied()
        .collect();
    (!taken.is_empty()).then(|| taken.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_and_panic() {
        let out = "warning: unused variable: `x`\n --> src/lib.rs:2:9\n\nerror[E0308]: mismatched types\n --> src/lib.rs:5:5\n  |\n\nthread 't' panicked at tests/a.rs:3:5:\nassertion `left == right` failed\n  left: 1\n right: 2\nnote: run with\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(locs.len(), 2);
        assert_eq!((locs[0].path.as_str(), locs[0].line), ("src/lib.rs", 5));
        assert_eq!(
            locs[0].message.as_deref(),
            Some("error[E0308]: mismatched types")
        );
        assert_eq!(
            (locs[1].path.as_str(), locs[1].line, locs[1].column),
            ("tests/a.rs", 3, Some(5))
        );
        assert!(locs[1].message.as_deref().unwrap().contains("left: 1"));
    }

    #[test]
    fn old_panic_format() {
        let out = "thread 'main' panicked at 'boom', src/main.rs:2:5\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(locs[0].message.as_deref(), Some("boom"));
    }
}
