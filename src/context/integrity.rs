//! The integrity rule of DESIGN §5: a candidate that makes the targets exit 0 must still have
//! run the tests. A runner seen starting must have finished; where the baseline shows tests that
//! ran, the candidate must run at least as many and the tests that failed must now pass by name;
//! where the baseline shows none (a build failure, a collection error), a test command must show
//! a complete report with tests that ran and none failing.

use super::progress::{RunnerProgress, is_test_command};
use super::summary::{TestSummary, plural};

/// Names listed in one message before the rest are only counted.
const MAX_NAMES: usize = 12;

/// What one run of a proof target showed about its tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct TestEvidence<'a> {
    /// The runner's report (its closing summary, or a JUnit file).
    pub summary: Option<&'a TestSummary>,
    /// How far the runner got.
    pub progress: Option<&'a RunnerProgress>,
}

/// Problems with a candidate's test run compared with the baseline; empty when it holds up.
///
/// `command` is the target's command line: a test runner's command (see `is_test_command`)
/// must show a report before an exit 0 counts. Counts are compared only when both runs report
/// exact counts (go test without `-v` does not). Names are compared only where the candidate's
/// output lists them: a baseline test that is neither passing, failing nor skipped in a fully
/// named candidate run has vanished.
pub fn integrity_problems(
    command: &str,
    baseline: TestEvidence<'_>,
    candidate: TestEvidence<'_>,
    candidate_exit: i32,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(p) = candidate.progress.filter(|p| !p.finished) {
        let running = p
            .running
            .as_ref()
            .map(|t| format!(", while `{t}` was running"))
            .unwrap_or_default();
        problems.push(format!(
            "the {} run started (`{}`) but never printed its closing summary{running}: the suite did not finish, so exit {candidate_exit} proves nothing",
            p.runner, p.started
        ));
    }
    let base = baseline.summary.filter(|s| s.has_counts());
    match (base, candidate.summary) {
        (Some(base), None) => {
            if candidate_exit == 0 && problems.is_empty() {
                problems.push(format!(
                    "the test suite did not run: the command exited 0 but printed no {} summary, while in the baseline {}",
                    base.format,
                    base.describe()
                ));
            }
        }
        (Some(base), Some(cand)) => compare(base, cand, &mut problems),
        (None, Some(cand)) => {
            if !cand.load_errors.is_empty() {
                problems.push(format!(
                    "{} could not load {}",
                    cand.format,
                    names(&cand.load_errors)
                ));
            } else if cand.counts_exact && cand.ran == 0 && candidate_exit == 0 {
                problems.push(format!(
                    "the candidate's {} report shows no test that ran; the baseline {}, so a proof needs tests that ran and passed",
                    cand.format,
                    baseline_lacks_counts(baseline)
                ));
            }
        }
        (None, None) => {
            // A zero-test report in the baseline may be a misreading; it is no evidence alone.
            let test_like = is_test_command(command)
                || baseline.progress.is_some()
                || baseline.summary.is_some_and(|s| !s.load_errors.is_empty());
            if candidate_exit == 0 && problems.is_empty() && test_like {
                problems.push(format!(
                    "the test suite did not run: `{command}` exited 0 but printed no test summary; the baseline {}, so a proof needs the candidate's complete test report with no failures",
                    baseline_lacks_counts(baseline)
                ));
            }
        }
    }
    if let Some(cand) = candidate.summary
        && candidate_exit == 0
        && cand.failed > 0
    {
        let which = if cand.failing.is_empty() {
            String::new()
        } else {
            format!(": {}", names(&cand.failing))
        };
        problems.push(format!(
            "the command exited 0 but its output reports {} failing {}{which}",
            cand.failed,
            plural(cand.failed, "test", "tests")
        ));
    }
    problems
}

/// Why the baseline gives no counts to compare with.
fn baseline_lacks_counts(baseline: TestEvidence<'_>) -> String {
    if let Some(s) = baseline.summary {
        return format!("had {}", s.describe());
    }
    match baseline.progress {
        Some(p) if !p.finished => format!(
            "started {} (`{}`) but did not finish it",
            p.runner, p.started
        ),
        _ => "showed no test report (it failed before any test ran)".to_owned(),
    }
}

/// The candidate's report against a baseline that shows tests that ran.
fn compare(base: &TestSummary, cand: &TestSummary, problems: &mut Vec<String>) {
    let known = cand.names_complete();
    let mut now_failing = Vec::new();
    let mut still_failing = Vec::new();
    let mut skipped = Vec::new();
    let mut vanished = Vec::new();
    for (name, failed_before) in base
        .passing
        .iter()
        .map(|n| (n, false))
        .chain(base.failing.iter().map(|n| (n, true)))
    {
        if cand.failing.contains(name) {
            if failed_before {
                still_failing.push(name.clone());
            } else {
                now_failing.push(name.clone());
            }
        } else if cand.skipping.contains(name) {
            skipped.push(name.clone());
        } else if known && !cand.passing.contains(name) {
            vanished.push(name.clone());
        }
    }
    if base.counts_exact && cand.counts_exact && cand.ran < base.ran {
        let which = if vanished.is_empty() && skipped.is_empty() {
            "; the output does not name every test, so which ones is not known (a verbose run names them)".to_owned()
        } else {
            String::new()
        };
        problems.push(format!(
            "the candidate ran fewer tests than the baseline ({} < {}){which}",
            cand.ran, base.ran
        ));
    }
    if !now_failing.is_empty() {
        problems.push(format!(
            "passed in the baseline and now {}: {}",
            if now_failing.len() == 1 {
                "fails"
            } else {
                "fail"
            },
            names(&now_failing)
        ));
    }
    if !still_failing.is_empty() {
        problems.push(format!(
            "failed in the baseline and still {}: {}",
            if still_failing.len() == 1 {
                "fails"
            } else {
                "fail"
            },
            names(&still_failing)
        ));
    }
    if !skipped.is_empty() {
        problems.push(format!(
            "ran in the baseline and {} now skipped: {}",
            if skipped.len() == 1 { "is" } else { "are" },
            names(&skipped)
        ));
    }
    if !vanished.is_empty() {
        problems.push(format!(
            "ran in the baseline and no longer {}: {}",
            if vanished.len() == 1 { "runs" } else { "run" },
            names(&vanished)
        ));
    }
}

/// `` `a`, `b` and 3 more ``.
fn names(list: &[String]) -> String {
    let shown: Vec<String> = list
        .iter()
        .take(MAX_NAMES)
        .map(|n| format!("`{n}`"))
        .collect();
    let mut text = shown.join(", ");
    if list.len() > MAX_NAMES {
        text.push_str(&format!(" and {} more", list.len() - MAX_NAMES));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(passing: &[&str], failing: &[&str]) -> TestSummary {
        let mut s = TestSummary::new("pytest");
        s.passed = passing.len() as u32;
        s.failed = failing.len() as u32;
        s.passing = passing.iter().map(|n| n.to_string()).collect();
        s.failing = failing.iter().map(|n| n.to_string()).collect();
        s.finish()
    }

    fn ev(s: &TestSummary) -> TestEvidence<'_> {
        TestEvidence {
            summary: Some(s),
            progress: None,
        }
    }

    fn check(base: TestEvidence<'_>, cand: TestEvidence<'_>, exit: i32) -> Vec<String> {
        integrity_problems("pytest -v", base, cand, exit)
    }

    const NOTHING: TestEvidence<'static> = TestEvidence {
        summary: None,
        progress: None,
    };

    #[test]
    fn clean_fix_has_no_problems() {
        let base = summary(&["a"], &["b"]);
        let cand = summary(&["a", "b"], &[]);
        assert!(check(ev(&base), ev(&cand), 0).is_empty());
    }

    #[test]
    fn suite_that_did_not_run() {
        let base = summary(&["a"], &["b"]);
        let problems = check(ev(&base), NOTHING, 0);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("the test suite did not run"));
        assert!(
            problems[0].contains("2 tests ran (1 passed, 1 failed)"),
            "{problems:?}"
        );
        assert!(check(ev(&base), NOTHING, 1).is_empty());
        assert!(integrity_problems("sh check.sh", NOTHING, NOTHING, 0).is_empty());
    }

    #[test]
    fn deleted_failing_test_is_caught_by_name() {
        let base = summary(&["a"], &["b"]);
        let cand = summary(&["a"], &[]);
        let problems = check(ev(&base), ev(&cand), 0);
        assert!(
            problems.contains(&"the candidate ran fewer tests than the baseline (1 < 2)".into()),
            "{problems:?}"
        );
        assert!(
            problems.contains(&"ran in the baseline and no longer runs: `b`".into()),
            "{problems:?}"
        );
    }

    #[test]
    fn fewer_unnamed_tests_say_the_names_are_unknown() {
        let mut base = TestSummary::new("libtest");
        base.passed = 50;
        let mut cand = TestSummary::new("libtest");
        cand.passed = 49;
        let problems = check(ev(&base.finish()), ev(&cand.finish()), 0);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("(49 < 50)") && problems[0].contains("which ones is not known"),
            "{problems:?}"
        );
    }

    #[test]
    fn regressions_still_failing_and_skipped_are_named() {
        let base = summary(&["a", "c"], &["b"]);
        let mut cand = summary(&[], &["a", "b"]);
        cand.skipped = 1;
        cand.skipping = vec!["c".into()];
        let problems = check(ev(&base), ev(&cand), 1);
        assert!(problems.contains(&"passed in the baseline and now fails: `a`".into()));
        assert!(problems.contains(&"failed in the baseline and still fails: `b`".into()));
        assert!(
            problems.contains(&"ran in the baseline and is now skipped: `c`".into()),
            "{problems:?}"
        );
    }

    #[test]
    fn unnamed_passes_are_not_called_vanished() {
        let base = summary(&[], &["b"]);
        let mut cand = TestSummary::new("pytest");
        cand.passed = 1;
        let cand = cand.finish();
        assert!(check(ev(&base), ev(&cand), 0).is_empty());
    }

    #[test]
    fn inexact_counts_are_not_compared() {
        let mut base = summary(&[], &["TestB"]);
        base.counts_exact = false;
        let mut cand = TestSummary::new("gotest");
        cand.counts_exact = false;
        assert!(check(ev(&base), ev(&cand.finish()), 0).is_empty());
    }

    #[test]
    fn a_runner_that_started_and_never_closed_did_not_run() {
        // A build failure before (no counts), then `running 8 tests` and exit 0.
        let started = RunnerProgress {
            runner: "libtest".into(),
            started: "running 8 tests".into(),
            finished: false,
            running: Some("tests::adds".into()),
        };
        let cand = TestEvidence {
            summary: None,
            progress: Some(&started),
        };
        let problems = integrity_problems("cargo test", NOTHING, cand, 0);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("`running 8 tests`")
                && problems[0].contains("never printed its closing summary")
                && problems[0].contains("`tests::adds`"),
            "{problems:?}"
        );
        // Whatever the baseline showed: a summary of earlier binaries does not make up for it.
        let base = summary(&["a"], &["b"]);
        let partial = summary(&["a", "b"], &[]);
        let cand = TestEvidence {
            summary: Some(&partial),
            progress: Some(&started),
        };
        assert_eq!(check(ev(&base), cand, 0).len(), 1);
    }

    #[test]
    fn without_baseline_counts_a_test_command_needs_a_clean_report() {
        // cargo test that did not compile: no report in the baseline.
        assert_eq!(
            integrity_problems("cargo test", NOTHING, NOTHING, 0).len(),
            1
        );
        let mut none_ran = TestSummary::new("libtest");
        none_ran.counts_exact = true;
        let problems = integrity_problems("cargo test", NOTHING, ev(&none_ran), 0);
        assert!(
            problems[0].contains("shows no test that ran"),
            "{problems:?}"
        );
        let good = summary(&["a"], &[]);
        assert!(integrity_problems("cargo test", NOTHING, ev(&good), 0).is_empty());
        // A collection error in the baseline is described as one, not as "1 tests".
        let mut collect = TestSummary::new("pytest");
        collect.load_errors = vec!["tests/test_units.py".into()];
        let collect = collect.finish();
        let problems = check(ev(&collect), NOTHING, 0);
        assert!(
            problems[0].contains("no test ran: pytest could not load tests/test_units.py"),
            "{problems:?}"
        );
        // A plain command with no test output anywhere is not held to a report.
        assert!(integrity_problems("python3 check.py", NOTHING, NOTHING, 0).is_empty());
    }

    #[test]
    fn a_baseline_guess_of_zero_tests_demands_nothing() {
        let mut guess = TestSummary::new("gotest");
        guess.counts_exact = false;
        let guess = guess.finish();
        let mut plain = TestSummary::new("plain");
        plain.passed = 2;
        let plain = plain.finish();
        assert!(integrity_problems("sh calc_test.sh", ev(&guess), ev(&plain), 0).is_empty());
    }
}
