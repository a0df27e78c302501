//! TypeScript compiler diagnostics, plain (`file(line,col): error TS…`) and pretty
//! (`file:line:col - error TS…`).

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

static PLAIN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(\S.*?)\((\d+),(\d+)\): error (TS\d+): (.*)$"));
static PRETTY: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(\S.*?):(\d+):(\d+) - error (TS\d+): (.*)$"));

pub(crate) fn parse(text: &str, map: &PathMap) -> Vec<Location> {
    let mut found = Vec::new();
    for line in text.lines() {
        if let Some(caps) = PLAIN.captures(line).or_else(|| PRETTY.captures(line)) {
            let message = format!("error {}: {}", &caps[4], &caps[5]);
            found.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                num(&caps[3]),
                "tsc",
                Some(message),
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_styles() {
        let out = "src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\nsrc/b.ts:4:1 - error TS2304: Cannot find name 'x'.\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(locs.len(), 2);
        assert_eq!(
            (locs[0].path.as_str(), locs[0].line, locs[0].column),
            ("src/a.ts", 3, Some(7))
        );
        assert_eq!((locs[1].path.as_str(), locs[1].line), ("src/b.ts", 4));
    }
}
