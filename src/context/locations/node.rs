//! Node.js stack traces (`at fn (file:line:col)`), the same frames without `at` in the `stack:`
//! block of `node --test`'s TAP report (`fn (file:///abs/file.js:3:9)`, absolute paths only),
//! Jest and Vitest failure reports (Vitest's `❯ file:line:col` frames) and Node's
//! uncaught-error header (`/abs/file.js:10`).

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

static FRAME: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*at (?:.*? \()?((?:file://)?[^\s()]+?):(\d+):(\d+)\)?\s*$"));
static TAP_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^\s+(?:async )?[\w$.<>\[\] ]+ \(((?:file://)?/[^\s()]+?\.[cm]?[jt]sx?):(\d+):(\d+)\)\s*$",
    )
});
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
        if let Some(caps) = FRAME
            .captures(line)
            .or_else(|| VITEST.captures(line))
            .or_else(|| TAP_FRAME.captures(line))
        {
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

    /// The `stack:` block of `node --test`'s TAP report (Node 20): V8 frames without `at`.
    #[test]
    fn node_test_tap_stack() {
        let out = "not ok 2 - clamp\n  ---\n  location: '/w/test/shapes.test.js:9:1'\n  failureType: 'testCodeFailure'\n  error: |-\n    Expected values to be strictly equal:\n  code: 'ERR_ASSERTION'\n  name: 'AssertionError'\n  stack: |-\n    clamp (file:///w/src/shapes.js:3:11)\n    TestContext.<anonymous> (file:///w/test/shapes.test.js:10:10)\n    Test.runInAsyncScope (node:async_hooks:206:9)\n    async Test.processPendingSubtests (node:internal/test_runner/test:526:7)\n  ...\n";
        let locs = parse(out, &PathMap::local("/w"));
        let got: Vec<(&str, u32)> = locs.iter().map(|l| (l.path.as_str(), l.line)).collect();
        assert_eq!(got, [("src/shapes.js", 3), ("test/shapes.test.js", 10)]);
    }

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
