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
            found.extend(section.drain(..).rev());
            elines.clear();
            continue;
        }
        if let Some(caps) = ELINE.captures(line) {
            elines.push(caps[1].trim().to_string());
            continue;
        }
        if let Some(caps) = LOC.captures(line) {
            let rest = caps[3].trim();
            let message = if !elines.is_empty() {
                Some(
                    elines
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            } else if rest.starts_with("in ") {
                None
            } else {
                Some(rest.to_string())
            };
            elines.clear();
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
    found.extend(section.drain(..).rev());
    found
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
}
