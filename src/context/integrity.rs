//! The integrity rule: a candidate that makes the targets exit 0 must still have run the tests
//! the baseline ran, and the tests that failed must now pass by name.

use super::summary::TestSummary;

/// Problems with a candidate's test run compared with the baseline; empty when it holds up.
///
/// Counts are compared only when both runs report exact counts (go test without `-v` does
/// not). Names are compared only where the candidate's output lists them: a baseline test that
/// is neither passing nor failing in a fully named candidate run has vanished.
pub fn integrity_problems(
    baseline: Option<&TestSummary>,
    candidate: Option<&TestSummary>,
    candidate_exit: i32,
) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(base) = baseline else {
        return problems;
    };
    let Some(cand) = candidate else {
        if candidate_exit == 0 {
            problems.push(format!(
                "the test suite did not run: the command exited 0 but printed no {} summary, while the baseline ran {} tests",
                base.format, base.ran
            ));
        }
        return problems;
    };
    if base.counts_exact && cand.counts_exact && cand.ran < base.ran {
        problems.push(format!(
            "the candidate ran fewer tests than the baseline ({} < {})",
            cand.ran, base.ran
        ));
    }
    if candidate_exit == 0 && cand.failed > 0 {
        problems.push(format!(
            "the command exited 0 but its output reports {} failing tests",
            cand.failed
        ));
    }
    let known = cand.names_complete();
    for name in &base.passing {
        if cand.failing.contains(name) {
            problems.push(format!(
                "test `{name}` passed in the baseline and now fails"
            ));
        } else if known && !cand.passing.contains(name) {
            problems.push(format!(
                "test `{name}` passed in the baseline and no longer runs"
            ));
        }
    }
    for name in &base.failing {
        if cand.failing.contains(name) {
            problems.push(format!(
                "test `{name}` failed in the baseline and still fails"
            ));
        } else if known && !cand.passing.contains(name) {
            problems.push(format!(
                "test `{name}` failed in the baseline and no longer runs"
            ));
        }
    }
    problems
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

    #[test]
    fn clean_fix_has_no_problems() {
        let base = summary(&["a"], &["b"]);
        let cand = summary(&["a", "b"], &[]);
        assert!(integrity_problems(Some(&base), Some(&cand), 0).is_empty());
    }

    #[test]
    fn suite_that_did_not_run() {
        let base = summary(&["a"], &["b"]);
        let problems = integrity_problems(Some(&base), None, 0);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("the test suite did not run"));
        assert!(integrity_problems(Some(&base), None, 1).is_empty());
        assert!(integrity_problems(None, None, 0).is_empty());
    }

    #[test]
    fn deleted_failing_test_is_caught() {
        let base = summary(&["a"], &["b"]);
        let cand = summary(&["a"], &[]);
        let problems = integrity_problems(Some(&base), Some(&cand), 0);
        assert!(
            problems.iter().any(|p| p.contains("fewer tests")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`b` failed in the baseline and no longer runs")),
            "{problems:?}"
        );
    }

    #[test]
    fn regressions_and_still_failing() {
        let base = summary(&["a"], &["b"]);
        let cand = summary(&[], &["a", "b"]);
        let problems = integrity_problems(Some(&base), Some(&cand), 1);
        assert!(problems.contains(&"test `a` passed in the baseline and now fails".to_string()));
        assert!(problems.contains(&"test `b` failed in the baseline and still fails".to_string()));
    }

    #[test]
    fn unnamed_passes_are_not_called_vanished() {
        let base = summary(&[], &["b"]);
        let mut cand = TestSummary::new("pytest");
        cand.passed = 1;
        let cand = cand.finish();
        assert!(integrity_problems(Some(&base), Some(&cand), 0).is_empty());
    }

    #[test]
    fn inexact_counts_are_not_compared() {
        let mut base = summary(&[], &["TestB"]);
        base.counts_exact = false;
        let mut cand = TestSummary::new("gotest");
        cand.counts_exact = false;
        assert!(integrity_problems(Some(&base), Some(&cand.finish()), 0).is_empty());
    }
}
