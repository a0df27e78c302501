//! `locations`: runs every output parser and merges their findings into one ranked,
//! de-duplicated list.

use super::location::Location;
use super::locations::{gcc, generic, go, node, pytest, python, rust, tsc};
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
    let parsers: [fn(&str, &PathMap) -> Vec<Location>; 8] = [
        rust::parse,
        tsc::parse,
        gcc::parse,
        go::parse,
        pytest::parse,
        python::parse,
        node::parse,
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
