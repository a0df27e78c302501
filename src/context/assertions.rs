//! The failure messages a proposer should read first: failed assertions with their
//! expected/actual values, panic and exception messages, and compiler error headlines.

use super::location::{Location, clip};
use super::pattern::compile;
use regex::Regex;
use std::sync::LazyLock;

/// At most this many messages are kept, each at most `MAX_MESSAGE_BYTES`.
const MAX_MESSAGES: usize = 20;
const MAX_MESSAGE_BYTES: usize = 1200;

static PYTEST_E: LazyLock<Regex> = LazyLock::new(|| compile(r"^E\s+(.*)$"));
static JEST_HEADER: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*● (.+)$"));
static VITEST_HEADER: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*FAIL\s+(\S+ > .+)$"));
static CODE_FRAME: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*>?\s*\d+\s*\|| ❯ |^\s+at |^\s*⎯|^\s*● "));
static UNITTEST_HEADER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(FAIL|ERROR): (\S+) \((.+)\)$"));
static GO_FAIL: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*--- FAIL: (\S+)"));

/// Failure messages in the order they should be read, without duplicates.
pub(crate) fn assertions(text: &str, locations: &[Location]) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if PYTEST_E.is_match(line) {
            let block: Vec<&str> = lines[i..]
                .iter()
                .take_while(|l| PYTEST_E.is_match(l))
                .copied()
                .collect();
            i += block.len();
            let text: Vec<&str> = block
                .iter()
                .filter_map(|l| {
                    PYTEST_E
                        .captures(l)
                        .and_then(|c| c.get(1))
                        .map(|m| m.as_str().trim_end())
                })
                .filter(|l| !l.trim().is_empty())
                .take(12)
                .collect();
            found.push(text.join("\n"));
            continue;
        }
        if let Some(caps) = JEST_HEADER
            .captures(line)
            .or_else(|| VITEST_HEADER.captures(line))
        {
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| !CODE_FRAME.is_match(l))
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .take(12)
                .collect();
            found.push(format!("{}\n{}", caps[1].trim(), body.join("\n")));
            i += 1 + body.len();
            continue;
        }
        if let Some(caps) = UNITTEST_HEADER.captures(line) {
            // The exception line closes the traceback that follows the header.
            if let Some(exception) = lines[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with("=====") && !l.starts_with("Ran "))
                .filter(|l| {
                    !l.starts_with(' ')
                        && !l.starts_with('-')
                        && !l.trim().is_empty()
                        && !l.starts_with("Traceback")
                })
                .last()
            {
                found.push(format!("{} {}: {}", &caps[1], &caps[3], exception.trim()));
            }
        } else if let Some(caps) = GO_FAIL.captures(line) {
            let logs: Vec<&str> = lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.starts_with("    ") && !l.trim_start().starts_with("---"))
                .copied()
                .collect();
            let after: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.starts_with("    ") && !l.trim_start().starts_with("---"))
                .copied()
                .collect();
            let mut body: Vec<&str> = logs.into_iter().rev().collect();
            body.extend(after);
            if !body.is_empty() {
                found.push(format!(
                    "--- FAIL: {}\n{}",
                    &caps[1],
                    body.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n")
                ));
            }
        }
        i += 1;
    }
    for loc in locations {
        if let Some(message) = &loc.message {
            found.push(message.clone());
        }
    }
    let mut unique: Vec<String> = Vec::new();
    for message in found {
        let message = clip(message.trim(), MAX_MESSAGE_BYTES);
        if message.is_empty() || unique.iter().any(|kept| kept.contains(message.as_str())) {
            continue;
        }
        unique.push(message);
        if unique.len() == MAX_MESSAGES {
            break;
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jest_block_and_pytest_lines() {
        let out = "  ● slugify › joins\n\n    expect(received).toBe(expected)\n\n    Expected: \"a-b\"\n    Received: \"a_b\"\n\n    > 5 |     expect(x)\nE       assert 3 == 4\nE        +  where 3 = f()\n";
        let got = assertions(out, &[]);
        assert_eq!(
            got[0],
            "slugify › joins\nexpect(received).toBe(expected)\nExpected: \"a-b\"\nReceived: \"a_b\""
        );
        assert_eq!(got[1], "assert 3 == 4\n+  where 3 = f()");
    }

    #[test]
    fn duplicates_from_locations_are_dropped() {
        let loc = Location {
            path: "a.py".into(),
            line: 1,
            column: None,
            in_workspace: true,
            parser: "pytest",
            message: Some("assert 3 == 4".into()),
            package: None,
        };
        let got = assertions("E       assert 3 == 4\n", &[loc]);
        assert_eq!(got, vec!["assert 3 == 4"]);
    }
}
