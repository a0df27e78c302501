//! How far a test runner got: whether the output shows one starting (libtest's `running N
//! tests`, pytest's session header, unittest's `-v` lines, `go test -v`'s `=== RUN`, Jest and
//! Vitest file headers, nextest's `Starting`), whether its closing summary followed, and which
//! test was in progress when the output stopped. A runner that started and never closed did not
//! finish its tests, whatever its exit code says; a command stopped at its time limit after a
//! runner started was stuck in a test, not in the machine.
//!
//! Also `is_test_command`, which tells a test runner's command line from other commands.

use super::pattern::{compile, strip_ansi};
use super::summaries::{gotest, jest, libtest, nodetest, pytest, vitest};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// Where a test runner got to in one command's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerProgress {
    /// `libtest`, `nextest`, `pytest`, `unittest`, `gotest`, `jest`, `vitest` or `node`.
    pub runner: String,
    /// The line that showed it starting (or, when it printed no start line, its summary).
    pub started: String,
    /// Whether its closing summary followed.
    pub finished: bool,
    /// The test in progress when the output stopped, when the runner names tests as it starts
    /// them (`test x ... ` without a verdict, pytest `-v`, unittest `-v`, `=== RUN`); only when
    /// not `finished`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<String>,
}

/// How a runner starts, ends, and names the test it is running.
struct Signature {
    runner: &'static str,
    /// Every start needs its own close (libtest prints both once per test binary); otherwise
    /// any start opens the run and one close ends it.
    paired: bool,
    start: fn(&str) -> bool,
    close: fn(&str) -> bool,
    /// The test a line shows beginning ...
    begun: fn(&str) -> Option<String>,
    /// ... and the test a line shows ending.
    ended: fn(&str) -> Option<String>,
}

static LIBTEST_START: LazyLock<Regex> = LazyLock::new(|| compile(r"^running \d+ tests?$"));
static LIBTEST_BEGUN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^test (\S+) (?:\.\.\. ?$|has been running for over \d+ seconds)"));
static LIBTEST_ENDED: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^test (\S+) \.\.\. (?:ok|FAILED|ignored)\b"));

static NEXTEST_START: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*Starting \d+ tests? across \d+ binar(?:y|ies)"));
static NEXTEST_BEGUN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*SLOW \[[^\]]*\]\s+(?:\(\s*\d+/\d+\)\s+)?\S+\s+(\S+)\s*$"));
static NEXTEST_ENDED: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^\s*(?:PASS|FAIL|SKIP|SIGSEGV|SIGABRT|SIGKILL|TIMEOUT|LEAK|ABORT)\s+\[[^\]]*\]\s+(?:\(\s*\d+/\d+\)\s+)?\S+\s+(\S+)\s*$",
    )
});

static PYTEST_START: LazyLock<Regex> = LazyLock::new(|| compile(r"^=+ test session starts =+$"));
/// `-v` prints the test id, then its verdict on the same line once it ends; without `-v`, the
/// file, then a character per test.
static PYTEST_BEGUN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(\S+\.py::\S+)\s*$|^(\S+\.py) [.FEsxX]*$"));
static PYTEST_ENDED: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(\S+\.py::\S+) (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b"));

/// A `-v` line of a test method (unittest's default prefix is `test`), with or without its
/// verdict yet: prose such as `Fetching (a.b) ...` is not a test.
static UNITTEST_START: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^test\w* \([\w.]+\)(?:\s.*)? \.\.\.(?: |$)"));
static UNITTEST_CLOSE: LazyLock<Regex> = LazyLock::new(|| compile(r"^Ran \d+ tests? in [\d.]+s$"));
static UNITTEST_BEGUN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(\w+) \(([\w.]+)\)(?:\s.*)? \.\.\. ?$"));

static GO_RUN: LazyLock<Regex> = LazyLock::new(|| compile(r"^=== RUN\s+(\S+)"));
static GO_EVENT: LazyLock<Regex> = LazyLock::new(|| compile(r#"^\{.*"Action":"(\w+)".*\}\s*$"#));
static GO_EVENT_TEST: LazyLock<Regex> = LazyLock::new(|| compile(r#""Test":"([^"]+)""#));

static JEST_START: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*(?:PASS|FAIL|RUNS)\s+\S+\.[cm]?[jt]sx?(?:\s|$)"));
static NODE_START: LazyLock<Regex> = LazyLock::new(|| compile(r"^TAP version \d+\s*$"));
static VITEST_START: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*RUN\s+v\d+\.\d+\.\d+(?:\s|$)"));

/// The first group that took part in a match of `re` on `line`.
fn capture(re: &Regex, line: &str) -> Option<String> {
    let caps = re.captures(line)?;
    caps.iter()
        .skip(1)
        .flatten()
        .next()
        .map(|m| m.as_str().to_owned())
}

fn none(_: &str) -> Option<String> {
    None
}

fn unittest_begun(line: &str) -> Option<String> {
    let caps = UNITTEST_BEGUN.captures(line)?;
    let (method, inside) = (&caps[1], &caps[2]);
    Some(if inside.ends_with(&format!(".{method}")) {
        inside.to_owned()
    } else {
        format!("{inside}.{method}")
    })
}

/// A `go test -json` event: its action and test (none for package events).
fn go_event(line: &str) -> Option<(String, Option<String>)> {
    let action = GO_EVENT.captures(line)?[1].to_owned();
    let test = GO_EVENT_TEST.captures(line).map(|c| c[1].to_owned());
    Some((action, test))
}

fn go_start(line: &str) -> bool {
    GO_RUN.is_match(line) || go_event(line).is_some_and(|(a, _)| a == "run" || a == "start")
}

fn go_close(line: &str) -> bool {
    gotest::PACKAGE.is_match(line)
        || go_event(line).is_some_and(|(a, t)| t.is_none() && (a == "pass" || a == "fail"))
}

fn go_begun(line: &str) -> Option<String> {
    capture(&GO_RUN, line).or_else(|| match go_event(line)? {
        (a, Some(t)) if a == "run" => Some(t),
        _ => None,
    })
}

fn go_ended(line: &str) -> Option<String> {
    if let Some(caps) = gotest::RESULT.captures(line) {
        return Some(caps[2].to_owned());
    }
    match go_event(line)? {
        (a, Some(t)) if matches!(a.as_str(), "pass" | "fail" | "skip") => Some(t),
        _ => None,
    }
}

static SIGNATURES: &[Signature] = &[
    Signature {
        runner: "nextest",
        paired: false,
        start: |l| NEXTEST_START.is_match(l),
        close: |l| libtest::NEXTEST_SUMMARY.is_match(l),
        begun: |l| capture(&NEXTEST_BEGUN, l),
        ended: |l| capture(&NEXTEST_ENDED, l),
    },
    Signature {
        runner: "libtest",
        paired: true,
        start: |l| LIBTEST_START.is_match(l),
        close: |l| libtest::RESULT.is_match(l),
        begun: |l| capture(&LIBTEST_BEGUN, l),
        ended: |l| capture(&LIBTEST_ENDED, l),
    },
    Signature {
        runner: "pytest",
        paired: false,
        start: |l| PYTEST_START.is_match(l),
        close: |l| pytest::FINAL.is_match(l),
        begun: |l| capture(&PYTEST_BEGUN, l),
        ended: |l| capture(&PYTEST_ENDED, l),
    },
    Signature {
        runner: "unittest",
        paired: false,
        start: |l| UNITTEST_START.is_match(l),
        close: |l| UNITTEST_CLOSE.is_match(l),
        begun: unittest_begun,
        ended: none,
    },
    Signature {
        runner: "gotest",
        paired: false,
        start: go_start,
        close: go_close,
        begun: go_begun,
        ended: go_ended,
    },
    Signature {
        runner: "jest",
        paired: false,
        start: |l| JEST_START.is_match(l),
        close: |l| jest::TOTALS.is_match(l),
        begun: none,
        ended: none,
    },
    Signature {
        runner: "vitest",
        paired: false,
        start: |l| VITEST_START.is_match(l),
        close: |l| vitest::TOTALS.is_match(l),
        begun: none,
        ended: none,
    },
    Signature {
        runner: "node",
        paired: false,
        start: |l| NODE_START.is_match(l),
        close: |l| {
            nodetest::TOTAL
                .captures(l)
                .is_some_and(|c| &c[1] == "tests")
        },
        begun: none,
        ended: none,
    },
];

/// Where the runner in `output` got to: the first runner that started and did not finish,
/// else the first that finished; `None` when no runner shows up at all.
pub fn runner_progress(output: &str) -> Option<RunnerProgress> {
    let text = strip_ansi(output);
    let traces: Vec<RunnerProgress> = SIGNATURES
        .iter()
        .filter_map(|sig| trace(sig, &text))
        .collect();
    let unfinished = traces.iter().find(|t| !t.finished).cloned();
    unfinished.or_else(|| traces.into_iter().next())
}

fn trace(sig: &Signature, text: &str) -> Option<RunnerProgress> {
    // Runs started and not yet closed, most recent last (one at most unless `paired`): the
    // start line, and the tests begun in it without an end yet.
    let mut open: Vec<(String, Vec<String>)> = Vec::new();
    let mut first_start: Option<String> = None;
    let mut first_close: Option<String> = None;
    for line in text.lines() {
        // A close is checked first: some runners' summary lines would also read as starts.
        if (sig.close)(line) {
            first_close.get_or_insert_with(|| line.trim().to_owned());
            if sig.paired {
                open.pop();
            } else {
                open.clear();
            }
            continue;
        }
        if (sig.start)(line) {
            first_start.get_or_insert_with(|| line.trim().to_owned());
            if sig.paired || open.is_empty() {
                open.push((line.trim().to_owned(), Vec::new()));
            }
        }
        let Some((_, running)) = open.last_mut() else {
            continue;
        };
        if let Some(name) = (sig.ended)(line) {
            running.retain(|n| *n != name);
        } else if let Some(name) = (sig.begun)(line) {
            running.retain(|n| *n != name);
            running.push(name);
        }
    }
    if let Some((started, mut running)) = open.into_iter().next() {
        return Some(RunnerProgress {
            runner: sig.runner.to_owned(),
            started,
            finished: false,
            running: running.pop(),
        });
    }
    Some(RunnerProgress {
        runner: sig.runner.to_owned(),
        started: first_start.or(first_close)?,
        finished: true,
        running: None,
    })
}

static TEST_COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?:^|[\s/;&|(])(?:",
        r"cargo(?:\s+\+\S+)?\s+(?:test|nextest)",
        r"|pytest|py\.test",
        r"|python[\d.]*(?:\s+-\S+)*\s+-m\s+(?:pytest|unittest)",
        r"|go\s+test",
        r"|jest|vitest|mocha",
        r"|node(?:\s+-\S+)*\s+--test",
        r"|(?:npm|yarn|pnpm|bun)\s+(?:run\s+)?test",
        r")(?:\s|$)",
    ))
});

/// True when `command` runs one of the test runners pp reads (`cargo test`, `cargo nextest`,
/// `pytest`, `python -m pytest|unittest`, `go test`, `jest`, `vitest`, `mocha`, `node --test`,
/// `npm test` and
/// the like): such a command must show a test report before an exit 0 counts.
pub fn is_test_command(command: &str) -> bool {
    TEST_COMMAND.is_match(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(out: &str) -> RunnerProgress {
        runner_progress(out).unwrap_or_else(|| panic!("no runner in {out:?}"))
    }

    #[test]
    fn libtest_that_exits_mid_run_did_not_finish() {
        let out = "running 8 tests\ntest tests::a ... ok\ntest tests::b ... ";
        let p = progress(out);
        assert_eq!(
            (p.runner.as_str(), p.finished, p.started.as_str()),
            ("libtest", false, "running 8 tests")
        );
        assert_eq!(p.running.as_deref(), Some("tests::b"));
        // Two binaries, the second cut short.
        let out = "running 1 test\ntest a ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\nrunning 2 tests\n";
        assert!(!progress(out).finished);
        // The doc-tests run after a unit-test binary that stopped mid-test (`--test-threads=1`).
        let out = "running 2 tests\ntest tests::adds ... ok\ntest tests::zero ... \nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
        let p = progress(out);
        assert_eq!(
            (p.started.as_str(), p.running.as_deref()),
            ("running 2 tests", Some("tests::zero"))
        );
        let done = "running 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
        let p = progress(done);
        assert!(p.finished && p.running.is_none());
        // A long test in a multi-threaded run.
        let out = "running 3 tests\ntest quick ... ok\ntest tests::spin has been running for over 60 seconds\n";
        assert_eq!(progress(out).running.as_deref(), Some("tests::spin"));
    }

    #[test]
    fn pytest_and_unittest_name_the_test_in_progress() {
        let out = "============================= test session starts ==============================\ncollected 2 items\n\ntests/test_a.py::test_ok PASSED  [ 50%]\ntests/test_a.py::test_loop ";
        let p = progress(out);
        assert_eq!((p.runner.as_str(), p.finished), ("pytest", false));
        assert_eq!(p.running.as_deref(), Some("tests/test_a.py::test_loop"));
        let quiet = "=== test session starts ===\ncollected 2 items\n\ntests/test_a.py .";
        assert_eq!(progress(quiet).running.as_deref(), Some("tests/test_a.py"));
        let done =
            "=== test session starts ===\ntests/test_a.py .. [100%]\n=== 2 passed in 0.01s ===\n";
        assert!(progress(done).finished);

        let out = "test_ok (tests.test_calc.T.test_ok) ... ok\ntest_loop (tests.test_calc.T.test_loop) ... ";
        let p = progress(out);
        assert_eq!((p.runner.as_str(), p.finished), ("unittest", false));
        assert_eq!(p.running.as_deref(), Some("tests.test_calc.T.test_loop"));
        let done = "test_ok (t.T.test_ok) ... ok\n\n------\nRan 1 test in 0.000s\n\nOK\n";
        assert!(progress(done).finished);
    }

    #[test]
    fn go_jest_vitest_nextest() {
        let out = "=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestLoop\n";
        let p = progress(out);
        assert_eq!((p.runner.as_str(), p.finished), ("gotest", false));
        assert_eq!(p.running.as_deref(), Some("TestLoop"));
        assert!(
            progress("=== RUN   TestA\n--- PASS: TestA (0.00s)\nPASS\nok  \tm\t0.002s\n").finished
        );
        let json = "{\"Action\":\"run\",\"Package\":\"m\",\"Test\":\"TestA\"}\n{\"Action\":\"pass\",\"Package\":\"m\",\"Test\":\"TestA\"}\n{\"Action\":\"pass\",\"Package\":\"m\",\"Elapsed\":0.1}\n";
        assert!(progress(json).finished);
        assert!(!progress(&json[..json.len() - 46]).finished);

        assert!(!progress("PASS src/a.test.js\n").finished);
        assert!(progress("PASS src/a.test.js\nTests:       1 passed, 1 total\n").finished);
        assert!(!progress(" RUN  v1.6.0 /w\n ✓ a.test.ts (1)\n").finished);
        let out =
            "    Starting 2 tests across 1 binary\n        SLOW [> 60.000s] demo tests::spin\n";
        assert_eq!(progress(out).running.as_deref(), Some("tests::spin"));
    }

    #[test]
    fn words_any_script_prints_are_no_runner() {
        for out in [
            "FAIL max 4 9 -> 4 (calc.sh:7)\n2 passed, 0 failed\n",
            "PASS\nFAIL\nok\n",
            "running integration suite\n",
            "test everything ... \n",
            "Fetching (deps.lock) ... done\n",
        ] {
            assert_eq!(runner_progress(out), None, "{out}");
        }
    }

    #[test]
    fn test_commands() {
        for cmd in [
            "cargo test",
            "cargo +nightly test --offline",
            "cargo nextest run",
            "pytest -q",
            "python3 -m pytest tests",
            "python3 -B -m unittest discover -s tests -v",
            "cd sub && go test ./...",
            "npx jest",
            "npm test",
            "npm run test -- --ci",
            "./node_modules/.bin/vitest run",
        ] {
            assert!(is_test_command(cmd), "{cmd}");
        }
        for cmd in [
            "sh tests/run.sh",
            "python3 script.py",
            "cargo build",
            "make test",
            "test -f ok.txt",
            "echo pytest-like",
        ] {
            assert!(!is_test_command(cmd), "{cmd}");
        }
    }
}
