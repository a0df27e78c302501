//! The fallback: any `path.ext:line[:col]` token whose extension is a source or config file,
//! for tools without a dedicated parser. URLs and host:port pairs are not paths.

use crate::context::location::Location;
use crate::context::paths::PathMap;
use crate::context::pattern::{compile, num};
use regex::Regex;
use std::sync::LazyLock;

static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?:^|[\s(\[\x22'=,])((?:file://)?[\w./~@+-]*?[\w@+-]+\.(?:py|pyi|rs|go|js|jsx|mjs|cjs|ts|tsx|mts|cts|vue|svelte|c|h|cc|cpp|cxx|hpp|hh|java|kt|kts|scala|rb|php|cs|swift|m|mm|ex|exs|erl|hs|ml|zig|lua|pl|sh|bash|sql|toml|ya?ml|json|ini|cfg|proto|tf)):(\d+)(?::(\d+))?\b",
    )
});

pub(crate) fn parse(text: &str, map: &PathMap) -> Vec<Location> {
    let mut found = Vec::new();
    // pytest's `SKIPPED [1] file:line: reason` names where a skip was declared, not a failure.
    for line in text.lines().filter(|l| !l.starts_with("SKIPPED ")) {
        for caps in TOKEN.captures_iter(line) {
            let Some(whole) = caps.get(1) else { continue };
            // `http://host/x.js:3` is a URL, not a file.
            if line[..whole.start()].ends_with("//")
                || whole.as_str().contains("://") && !whole.as_str().starts_with("file://")
            {
                continue;
            }
            found.extend(Location::new(
                map,
                whole.as_str(),
                num(&caps[2]).unwrap_or(0),
                caps.get(3).and_then(|c| num(c.as_str())),
                "generic",
                None,
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_paths_not_hosts() {
        let out = "lint: src/app.rb:12:3 bad\nsee https://example.com/x.js:80 and example.com:443 and 10.0.0.1:22\n(at lib/x.lua:7)\n";
        let locs = parse(out, &PathMap::local("/w"));
        let got: Vec<_> = locs.iter().map(|l| (l.path.as_str(), l.line)).collect();
        assert_eq!(got, vec![("src/app.rb", 12), ("lib/x.lua", 7)]);
    }
}
