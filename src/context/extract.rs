//! `locations`: runs every output parser and merges their findings into one ranked,
//! de-duplicated list.

use super::location::Location;
use super::locations::{gcc, generic, go, java, node, pytest, python, rust, tsc};
use super::paths::PathMap;
use super::pattern::strip_ansi;
use std::collections::HashMap;

/// Every file position the output names, best first.
///
/// Compiler diagnostics rank before test-runner frames (a build error stops everything after
/// it), and each parser's own order is kept (innermost frame first for tracebacks). The generic
/// `path:line` fallback only adds positions no dedicated parser found. A position found twice
/// keeps its first rank and gains the column or message it lacked.
pub fn locations(output: &str, map: &PathMap) -> Vec<Location> {
    let text = strip_ansi(output);
    let parsers: [fn(&str, &PathMap) -> Vec<Location>; 9] = [
        rust::parse,
        tsc::parse,
        gcc::parse,
        go::parse,
        pytest::parse,
        python::parse,
        node::parse,
        java::parse,
        generic::parse,
    ];
    let mut merged: Vec<Location> = Vec::new();
    let mut seen: HashMap<(String, u32), usize> = HashMap::new();
    for parse in parsers {
        for loc in parse(&text, map) {
            let key = (loc.path.clone(), loc.line);
            match seen.get(&key) {
                Some(&index) => {
                    let kept = &mut merged[index];
                    kept.column = kept.column.or(loc.column);
                    if kept.message.is_none() {
                        kept.message = loc.message;
                    }
                    if kept.package.is_none() {
                        kept.package = loc.package;
                    }
                }
                None => {
                    seen.insert(key, merged.len());
                    merged.push(loc);
                }
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{classify, test_summary};
    use proptest::prelude::*;

    /// Fragments of real output, shuffled into arbitrary text.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("  File \"/w/a.py\", line 3, in f\n".to_string()),
            Just("Traceback (most recent call last):\n".to_string()),
            Just("E       assert 1 == 2\n".to_string()),
            Just("tests/t.py:9: AssertionError\n".to_string()),
            Just("thread 'x' panicked at src/lib.rs:1:1:\n".to_string()),
            Just("error[E0308]: mismatched types\n --> src/lib.rs:0:0\n".to_string()),
            Just("    at f (/w/x.js:1:2)\n".to_string()),
            Just(
                "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n"
                    .to_string()
            ),
            Just("Tests:       1 failed, 1 total\n".to_string()),
            Just("--- FAIL: TestX (0.00s)\n".to_string()),
            Just("\x1b[31m❯\x1b[39m a.ts:1:1\n".to_string()),
            "[^\x00]{0,40}",
        ]
    }

    proptest! {
        #[test]
        fn parsers_take_any_text(parts in proptest::collection::vec(fragment(), 0..30), exit in -1i32..300) {
            let text: String = parts.concat();
            let map = PathMap::local("/w");
            for loc in locations(&text, &map) {
                prop_assert!(loc.line > 0);
                prop_assert!(!loc.in_workspace || !loc.path.starts_with('/'));
            }
            let _ = test_summary(&text);
            let runner = crate::context::runner_progress(&text);
            let _ = classify(exit, false, &text, runner.as_ref());
        }
    }

    #[test]
    fn first_parser_wins_and_gains_missing_columns() {
        // pytest finds tests/t.py:9 without a column; nothing else does, so it stays pytest's.
        let out = "______ test_x ______\ntests/t.py:9: AssertionError\nlog: see tests/t.py:9:4\n";
        let locs = locations(out, &PathMap::local("/w"));
        assert_eq!(locs.len(), 1);
        assert_eq!((locs[0].parser, locs[0].column), ("pytest", Some(4)));
    }
}
