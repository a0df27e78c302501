//! TypeScript's "Did you mean" diagnostics: TS2551 (`Property 'lenght' does not exist on type
//! 'string'. Did you mean 'length'?`), TS2552 (`Cannot find name 'cout'. Did you mean
//! 'count'?`) and TS2724 (`… has no exported member named 'a'. Did you mean 'b'?`), in tsc's
//! plain (`file(line,col): error …`) and pretty (`file:line:col - error …`) forms.

use std::sync::LazyLock;

use regex::Regex;

use super::model::{Edit, Suggestion, pattern};

static PLAIN: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"^(.+?)\((\d+),(\d+)\): error (TS\d+): (.+)$"));
static PRETTY: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"^(.+?):(\d+):(\d+) - error (TS\d+): (.+)$"));
static MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?:Property|Cannot find name|has no exported member named) '([\w$]+)'.*Did you mean '([\w$]+)'\?",
    )
});

/// Every suggestion in `text` (ANSI codes already stripped).
pub fn parse(text: &str, first_group: u32) -> Vec<Suggestion> {
    let mut out = Vec::new();
    let mut group = first_group;
    for raw in text.lines() {
        let line = raw.trim();
        let Some(c) = PLAIN.captures(line).or_else(|| PRETTY.captures(line)) else {
            continue;
        };
        let rule = match &c[4] {
            "TS2551" => "property_did_you_mean",
            "TS2552" => "name_did_you_mean",
            "TS2724" => "export_did_you_mean",
            _ => continue,
        };
        let Some(m) = MESSAGE.captures(&c[5]) else {
            continue;
        };
        out.push(Suggestion {
            source: "typescript",
            rule,
            diagnostic: format!("{}: {}", &c[4], &c[5]),
            path: c[1].to_owned(),
            edits: vec![Edit::Token {
                line: c[2].parse().unwrap_or(0),
                column: c[3].parse().ok(),
                after_indent: false,
                old: m[1].to_owned(),
                new: m[2].to_owned(),
                // An import names the member once; its uses in the module follow it.
                whole_file: rule == "export_did_you_mean",
            }],
            group,
            alternative: 0,
        });
        group += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let plain = parse(
            "src/a.ts(4,5): error TS2552: Cannot find name 'cout'. Did you mean 'count'?",
            0,
        );
        let pretty = parse(
            "src/a.ts:4:5 - error TS2552: Cannot find name 'cout'. Did you mean 'count'?",
            0,
        );
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].edits, pretty[0].edits);
        assert!(
            parse(
                "src/a.ts(1,1): error TS2339: Property 'x' does not exist on type 'Y'.",
                0
            )
            .is_empty()
        );
    }
}
