//! Shared regex helpers: compiling the literal patterns the parsers use and stripping terminal
//! colour codes before any parser sees the output.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// Compiles a pattern written as a literal in this module tree.
///
/// Every pattern passed here is a constant exercised by the unit tests, so a failure is a
/// programming error caught by `cargo test`, never a runtime condition.
#[expect(
    clippy::expect_used,
    reason = "patterns are literals covered by unit tests"
)]
pub(crate) fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("literal pattern compiles")
}

static ANSI: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\r"));

/// Removes ANSI colour/cursor sequences and carriage returns, which test runners emit when they
/// believe they talk to a terminal and which would otherwise split paths and numbers.
pub fn strip_ansi(output: &str) -> Cow<'_, str> {
    ANSI.replace_all(output, "")
}

/// Parses a decimal number, treating anything unparsable as absent.
pub(crate) fn num(text: &str) -> Option<u32> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colour_and_carriage_returns() {
        let raw = "\x1b[31mFAIL\x1b[39m  src/a.test.ts\r\n\x1b]8;;file:///x\x07link\x1b]8;;\x07";
        assert_eq!(strip_ansi(raw), "FAIL  src/a.test.ts\nlink");
    }

    #[test]
    fn num_rejects_garbage() {
        assert_eq!(num(" 12 "), Some(12));
        assert_eq!(num("x"), None);
    }
}
