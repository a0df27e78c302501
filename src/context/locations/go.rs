//! go test and go vet: `t.Errorf` log lines (`    x_test.go:12: msg`, base names), compiler and
//! vet diagnostics (`./x.go:8:2: msg`, relative to the working directory) and panic goroutine
//! traces (`\t/abs/x.go:5 +0x1d`).

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

static TESTLOG: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s+([\w.-]+\.go):(\d+): (.*)$"));
static DIAG: LazyLock<Regex> = LazyLock::new(|| compile(r"^(\S*\.go):(\d+):(\d+): (.*)$"));
static FRAME: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\t(\S+\.go):(\d+)(?: \+0x[0-9a-f]+)?$"));
static PACKAGE: LazyLock<Regex> = LazyLock::new(|| compile(r"^(?:FAIL|ok)\s+(\S+)\s+(?:\d|\(|\[)"));
static PANIC: LazyLock<Regex> = LazyLock::new(|| compile(r"^panic: (.*)$"));

pub(crate) fn parse(text: &str, map: &PathMap) -> Vec<Location> {
    let mut found = Vec::new();
    // Base-name locations wait for the `FAIL\tpkg` line that closes their package's output.
    let mut pending: Vec<Location> = Vec::new();
    let mut panic: Option<String> = None;
    for line in text.lines() {
        if let Some(caps) = TESTLOG.captures(line) {
            pending.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                None,
                "go",
                Some(caps[3].to_string()),
            ));
        } else if let Some(caps) = DIAG.captures(line) {
            found.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                num(&caps[3]),
                "go",
                Some(caps[4].to_string()),
            ));
        } else if let Some(caps) = FRAME.captures(line) {
            found.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                None,
                "go",
                panic.take(),
            ));
        } else if let Some(caps) = PANIC.captures(line) {
            panic = Some(format!("panic: {}", &caps[1]));
        } else if let Some(caps) = PACKAGE.captures(line) {
            for mut loc in pending.drain(..) {
                loc.package = Some(caps[1].to_string());
                found.push(loc);
            }
        }
    }
    found.append(&mut pending);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_log_gets_package() {
        let out = "--- FAIL: TestAdd (0.00s)\n    calc_test.go:9: Add(1, 2) = 3, want 4\nFAIL\nFAIL\texample.com/calc/sub\t0.002s\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(locs.len(), 1);
        assert_eq!((locs[0].path.as_str(), locs[0].line), ("calc_test.go", 9));
        assert_eq!(locs[0].package.as_deref(), Some("example.com/calc/sub"));
    }

    #[test]
    fn vet_and_panic_frames() {
        let out = "# example.com/calc\n./calc.go:8:2: fmt.Printf format %d has arg s of wrong type string\npanic: boom\n\ngoroutine 1 [running]:\nexample.com/calc.F(...)\n\t/w/calc.go:5 +0x1d\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(
            (locs[0].path.as_str(), locs[0].line, locs[0].column),
            ("calc.go", 8, Some(2))
        );
        assert_eq!((locs[1].path.as_str(), locs[1].line), ("calc.go", 5));
        assert_eq!(locs[1].message.as_deref(), Some("panic: boom"));
    }
}
