//! pytest failure reports (`--tb=long|short|line`): `path.py:N: …` lines inside each
//! `____ test ____` section, ranked innermost first, with the `E   …` lines as the message.

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

static LOC: LazyLock<Regex> = LazyLock::new(|| compile(r"^(\S+\.py):(\d+): (.*)$"));
static SECTION: LazyLock<Regex> = LazyLock::new(|| compile(r"^_{3,} .+ _{3,}$|^={3,} .+ ={3,}$"));
static ELINE: LazyLock<Regex> = LazyLock::new(|| compile(r"^E\s+(.*)$"));

pub(crate) fn parse(text: &str, map: &PathMap) -> Vec<Location> {
    let mut found = Vec::new();
    let mut section: Vec<Location> = Vec::new();
    let mut elines: Vec<String> = Vec::new();
    for line in text.lines() {
        if SECTION.is_match(line) {
            close(&mut section, &mut elines, &mut found);
            continue;
        }
        if let Some(caps) = ELINE.captures(line) {
            elines.push(caps[1].trim().to_string());
            continue;
        }
        if let Some(caps) = LOC.captures(line) {
            let rest = caps[3].trim();
            // `--tb=short` prints `path:N: in func` before the source and `E` lines of that
            // frame; the long form prints `path:N: ExcType` after them.
            let message = if rest.starts_with("in ") {
                attach(&mut section, &mut elines);
                None
            } else if !elines.is_empty() {
                Some(joined(&mut elines))
            } else {
                Some(rest.to_string())
            };
            section.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                None,
                "pytest",
                message,
            ));
        }
    }
    close(&mut section, &mut elines, &mut found);
    found
}

fn joined(elines: &mut Vec<String>) -> String {
    let text = elines
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    elines.clear();
    text
}

/// Gives pending `E` lines to the section's last frame when it has no message yet.
fn attach(section: &mut [Location], elines: &mut Vec<String>) {
    if elines.is_empty() {
        return;
    }
    match section.last_mut() {
        Some(last) if last.message.is_none() => last.message = Some(joined(elines)),
        _ => elines.clear(),
    }
}

/// Ends a failure section: innermost frame first.
fn close(section: &mut Vec<Location>, elines: &mut Vec<String>, found: &mut Vec<Location>) {
    attach(section, elines);
    found.extend(section.drain(..).rev());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_innermost_first() {
        let out = "______ test_add ______\n\n    def test_add():\n>       assert add(1, 2) == 4\n\ntests/test_a.py:5: \n_ _ _\n\n    def add(a, b):\n>       return a - b\nE       assert -1 == 4\n\nsrc/a.py:2: AssertionError\n=== short test summary info ===\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(locs.len(), 2);
        assert_eq!((locs[0].path.as_str(), locs[0].line), ("src/a.py", 2));
        assert_eq!(locs[0].message.as_deref(), Some("assert -1 == 4"));
        assert_eq!(
            (locs[1].path.as_str(), locs[1].line),
            ("tests/test_a.py", 5)
        );
    }

    #[test]
    fn short_mode_messages_belong_to_the_frame_above() {
        let out = "______ test_add ______\ntests/test_a.py:5: in test_add\n    assert f() == 4\nsrc/a.py:2: in f\n    return 1 / 0\nE   ZeroDivisionError: division by zero\n______ test_b ______\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(
            (locs[0].path.as_str(), locs[0].message.as_deref()),
            ("src/a.py", Some("ZeroDivisionError: division by zero"))
        );
        assert_eq!(locs[1].message, None);
    }
}
