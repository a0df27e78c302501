//! GCC/Clang (and javac, mypy and other tools sharing the shape) diagnostics:
//! `file:line[:col]: [fatal ]error: message`.

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

static DIAG: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^([^\s:][^:]*?):(\d+):(?:(\d+):)? ((?:fatal )?error): (.*)$"));

pub(crate) fn parse(text: &str, map: &PathMap) -> Vec<Location> {
    let mut found = Vec::new();
    for line in text.lines() {
        if let Some(caps) = DIAG.captures(line) {
            let parser = if caps[1].ends_with(".java") {
                "javac"
            } else {
                "gcc"
            };
            let message = format!("{}: {}", &caps[4], &caps[5]);
            found.extend(Location::new(
                map,
                &caps[1],
                num(&caps[2]).unwrap_or(0),
                caps.get(3).and_then(|c| num(c.as_str())),
                parser,
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
    fn gcc_and_javac() {
        let out = "main.c: In function 'main':\nmain.c:4:12: error: 'y' undeclared (first use in this function)\nmain.c:5:3: warning: unused\nCalc.java:5: error: cannot find symbol\n";
        let locs = parse(out, &PathMap::local("/w"));
        assert_eq!(locs.len(), 2);
        assert_eq!(
            (locs[0].path.as_str(), locs[0].line, locs[0].column),
            ("main.c", 4, Some(12))
        );
        assert_eq!(
            (locs[1].parser, locs[1].line, locs[1].column),
            ("javac", 5, None)
        );
    }
}
