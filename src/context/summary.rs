//! `TestSummary` and `test_summary`: how many tests ran, passed, failed and were skipped, and
//! which, read from a test runner's own report. Parsing lives in `summaries/`, one file per
//! runner.

use super::pattern::strip_ansi;
use super::summaries::{gotest, jest, libtest, nodetest, plain, pytest, unittest, vitest};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a test run reported about itself.
///
/// `ran` counts tests that executed to a verdict (`passed + failed`); skipped, ignored and
/// deselected tests are in `skipped` only, so that `ran` compares across runs of the same
/// suite whatever the runner's own convention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(default)]
pub struct TestSummary {
    /// `libtest`, `nextest`, `pytest`, `unittest`, `gotest`, `jest`, `vitest`, `node`
    /// (`node --test`), `junit` or `plain` (a bare `N passed, M failed` line).
    pub format: String,
    pub ran: u32,
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
    /// Failing tests by the runner's own name for them, in order, without duplicates.
    pub failing: Vec<String>,
    /// Passing tests, when the output lists them (verbose modes); empty otherwise.
    pub passing: Vec<String>,
    /// Skipped or ignored tests, when the output names them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipping: Vec<String>,
    /// Test files or modules that failed to load before any of their tests ran (a pytest
    /// collection error, a unittest import failure). They are not tests: `ran` and `failed`
    /// leave them out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub load_errors: Vec<String>,
    /// False when the counts are only a lower bound: `go test` without `-v` reports failures
    /// but not how many tests passed.
    pub counts_exact: bool,
}

impl TestSummary {
    pub(crate) fn new(format: &str) -> Self {
        TestSummary {
            format: format.to_string(),
            counts_exact: true,
            ..TestSummary::default()
        }
    }

    /// True when every passing test is named, so a test missing from both lists did not run.
    pub fn names_complete(&self) -> bool {
        self.counts_exact
            && self.passing.len() as u32 >= self.passed
            && self.failing.len() as u32 >= self.failed
    }

    pub(crate) fn add_failing(&mut self, name: &str) {
        push_unique(&mut self.failing, name);
    }

    pub(crate) fn add_passing(&mut self, name: &str) {
        push_unique(&mut self.passing, name);
    }

    pub(crate) fn add_skipping(&mut self, name: &str) {
        push_unique(&mut self.skipping, name);
    }

    pub(crate) fn add_load_error(&mut self, name: &str) {
        push_unique(&mut self.load_errors, name);
    }

    /// True when the report shows tests that ran to a verdict: counts a later run can be held
    /// to. A report of zero tests, or only of load errors, shows nothing of the sort.
    pub fn has_counts(&self) -> bool {
        self.ran > 0
    }

    /// The report in a few words, for messages: `8 tests ran (6 passed, 2 failed)`, or what
    /// stopped the tests from running.
    pub fn describe(&self) -> String {
        if !self.load_errors.is_empty() && self.ran == 0 {
            return format!(
                "no test ran: {} could not load {}",
                self.format,
                self.load_errors.join(", ")
            );
        }
        if self.ran == 0 {
            return format!("its {} report shows no test that ran", self.format);
        }
        let mut parts = vec![format!("{} passed", self.passed)];
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.skipped > 0 {
            parts.push(format!("{} skipped", self.skipped));
        }
        let at_least = if self.counts_exact { "" } else { "at least " };
        format!(
            "{at_least}{} {} ran ({})",
            self.ran,
            plural(self.ran, "test", "tests"),
            parts.join(", ")
        )
    }

    pub(crate) fn finish(mut self) -> Self {
        self.ran = self.passed + self.failed;
        self
    }
}

pub(crate) fn plural<'a>(n: u32, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

fn push_unique(list: &mut Vec<String>, name: &str) {
    let name = name.trim();
    if !name.is_empty() && !list.iter().any(|n| n == name) {
        list.push(name.to_string());
    }
}

/// The test report in `output`, if any runner's summary is there.
///
/// Runners are tried in a fixed order and the first that recognises its own summary line wins;
/// a command that runs two different runners reports the first one found. The plain
/// `N passed, M failed` line of hand-written suites comes last.
pub fn test_summary(output: &str) -> Option<TestSummary> {
    let text = strip_ansi(output);
    let parsers: [fn(&str) -> Option<TestSummary>; 9] = [
        libtest::parse_nextest,
        libtest::parse,
        pytest::parse,
        unittest::parse,
        gotest::parse,
        jest::parse,
        vitest::parse,
        nodetest::parse,
        plain::parse,
    ];
    parsers.iter().find_map(|parse| parse(&text))
}

pub use super::summaries::junit::junit_summary;
