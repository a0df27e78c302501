//! Node.js stack traces (`at fn (file:line:col)`), Jest and Vitest failure reports (Vitest's
//! `❯ file:line:col` frames) and Node's uncaught-error header (`/abs/file.js:10`).

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

static FRAME: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*at (?:.*? \()?((?:file://)?[^\s()]+?):(\d+):(\d+)\)?\s*$"));
static VITEST: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*❯ ((?:file://)?[^\s()]+?):(\d+):(\d+)\s*$"));
static THROW: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^((?:file://)?/\S+?\.(?:[cm]?[jt]sx?)):(\d+)$"));
static ERROR: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^\s*((?:[A-Z]\w*)?Error(?: \[\w+\])?: .*|expect\(.*|AssertionError.*)$")
});

pub(crate) fn parse(text: &str, map: &PathMap) -> Vec<Location> {
    let mut found = Vec::new();
    let mut message: Option<String> = None;
    for line in text.lines() {
        if let Some(caps) = FRAME.captures(line).or_else(|| VITEST.captures(line)) {
            found.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                num(&caps[3]),
                "node",
                message.take(),
            ));
        } else if let Some(caps) = THROW.captures(line) {
            found.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                None,
                "node",
                None,
            ));
        } else if let Some(caps) = ERROR.captures(line) {
            message = Some(caps[1].trim().to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_vitest() {
        let out = "Error: boom\n    at add (/w/src/calc.js:2:9)\n    at Object.<anonymous> (calc.test.js:4:10)\n    at node:internal/main:1:1\n AssertionError: expected 3 to be 4\n ❯ src/a.test.ts:5:20\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(locs.len(), 3);
        assert_eq!(
            (locs[0].path.as_str(), locs[0].line, locs[0].column),
            ("src/calc.js", 2, Some(9))
        );
        assert_eq!(locs[0].message.as_deref(), Some("Error: boom"));
        assert_eq!((locs[2].path.as_str(), locs[2].line), ("src/a.test.ts", 5));
        assert_eq!(
            locs[2].message.as_deref(),
            Some("AssertionError: expected 3 to be 4")
        );
    }
}
