//! Tells infrastructure failures (network, DNS, TLS, auth, rate limits, timeouts, missing
//! commands, full disks, OOM kills) from code failures, with a static rule table. Each infra
//! verdict names its rule and the output line that proved it.
//!
//! Precedence, decided here and relied on by the session:
//! 0. A timeout (pp's own flag, or exit 124 from a `timeout` inside the command) is judged by
//!    what the output shows: an infrastructure signature (a full disk, a refused connection,
//!    DNS…) names that cause; otherwise a test runner that had started means a test hangs,
//!    which is the code's failure; only a timeout before any runner started is `timeout`.
//! 1. The rules marked `decisive` (the container engine's own error with exit 125-127, exit 127, exit 137 with a kill/OOM line, a full disk): the
//!    environment failed whatever the code says.
//! 2. Otherwise code evidence wins: a compile error or a failed assertion (or a programming-error
//!    exception such as `TypeError`) anywhere in the output means the code can be fixed, even if
//!    the output also mentions a refused connection or a 401 (a web test asserting on a 401 is
//!    a code failure).
//! 3. Otherwise the first pattern rule in table order whose pattern matches a line. Patterns
//!    are phrases tools print ("Could not resolve host", "returned error: 429"), never bare
//!    words such as "timeout" that a test's name could contain.

use super::pattern::{compile, strip_ansi};
use super::progress::RunnerProgress;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// The verdict on a failed command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Classification {
    /// A failure the code can be changed to fix.
    Code,
    /// The environment failed; proposing patches would be pointless.
    Infra {
        rule: String,
        description: String,
        evidence: String,
    },
}

/// One row of the infrastructure rule table.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct InfraRule {
    pub id: &'static str,
    pub description: &'static str,
    /// The rule applies only to these exit codes; empty for any non-zero exit.
    pub exit_codes: &'static [i32],
    /// A line pattern. Required to match when `pattern_required`, otherwise only used to pick
    /// the evidence line.
    pub pattern: Option<&'static str>,
    pub pattern_required: bool,
    /// Decisive rules beat code evidence.
    pub decisive: bool,
}

/// The rules, in the order they are tried.
pub const INFRA_RULES: &[InfraRule] = &[
    InfraRule {
        id: "timeout",
        description: "the command ran out of time before any test started (exit 124)",
        exit_codes: &[124],
        pattern: Some(r"(?i)timed out|timeout"),
        pattern_required: false,
        decisive: true,
    },
    InfraRule {
        id: "container_engine",
        description: "the container engine could not run the command (exit 125-127 with the engine's own error)",
        // docker and podman exit 125 when they fail, 126/127 when the OCI runtime cannot
        // execute the command; the engine's own error text tells these from a command's own
        // 126 (`Permission denied`) or 127 (`not found`).
        exit_codes: &[125, 126, 127],
        pattern: Some(
            r"^docker: |Error response from daemon|^Error: .*(?:OCI|container|image|cgroup|conmon|catatonit)|OCI runtime (?:error|create failed|exec failed)|OCI permission denied|\b(?:crun|runc): ",
        ),
        pattern_required: true,
        decisive: true,
    },
    InfraRule {
        id: "missing_command",
        description: "a command the target needs is not installed (exit 127)",
        exit_codes: &[127],
        pattern: Some(
            r"command not found|: not found$|No such file or directory|executable file not found",
        ),
        pattern_required: false,
        decisive: true,
    },
    InfraRule {
        id: "oom_killed",
        description: "the process was killed for lack of memory (exit 137)",
        exit_codes: &[137],
        pattern: Some(r"\bKilled\b|(?i:out of memory)|OOMKilled|oom-kill"),
        pattern_required: true,
        decisive: true,
    },
    InfraRule {
        id: "disk_full",
        description: "the disk is full",
        exit_codes: &[],
        pattern: Some(r"No space left on device|\bENOSPC\b|Disk quota exceeded"),
        pattern_required: true,
        decisive: true,
    },
    InfraRule {
        id: "dns",
        description: "a host name could not be resolved",
        exit_codes: &[],
        pattern: Some(
            r"Could not resolve host|Name or service not known|Temporary failure in name resolution|getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|no such host|nodename nor servname provided|failed to lookup address information|Could not resolve hostname",
        ),
        pattern_required: true,
        decisive: false,
    },
    InfraRule {
        id: "tls",
        description: "a TLS handshake or certificate check failed",
        exit_codes: &[],
        pattern: Some(
            r"(?i)certificate verify failed|SSL certificate problem|x509: certificate|unable to get local issuer certificate|self[- ]signed certificate in certificate chain|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|invalid peer certificate|tls: handshake failure|SSL: WRONG_VERSION_NUMBER",
        ),
        pattern_required: true,
        decisive: false,
    },
    InfraRule {
        id: "rate_limit",
        description: "a service refused the request for exceeding its rate limit (429)",
        exit_codes: &[],
        pattern: Some(
            r"(?i)429 Too Many Requests|\bToo Many Requests\b|(?:returned error|status(?: code)?|HTTP(?:/[\d.]+)?|\berror):? 429\b|\brate limit(?:ed| exceeded)",
        ),
        pattern_required: true,
        decisive: false,
    },
    InfraRule {
        id: "auth",
        description: "authentication or authorization was refused (401/403, ssh key)",
        exit_codes: &[],
        pattern: Some(
            r"(?i)\b401 Unauthorized\b|\b403 Forbidden\b|(?:returned error|status(?: code)?|HTTP(?:/[\d.]+)?|\berror):? 40[13]\b|npm ERR! code E40[13]|Permission denied \(publickey|Authentication failed|authentication required|could not read Username|bad credentials|^\s*(?:error: )?unauthorized\b",
        ),
        pattern_required: true,
        decisive: false,
    },
    InfraRule {
        id: "network",
        description: "a network connection failed",
        exit_codes: &[],
        pattern: Some(
            r"Connection refused|Connection reset by peer|\bECONNREFUSED\b|\bECONNRESET\b|\bETIMEDOUT\b|Network is unreachable|No route to host|Connection timed out|spurious network error|\bEHOSTUNREACH\b",
        ),
        pattern_required: true,
        decisive: false,
    },
    InfraRule {
        id: "command_not_found",
        description: "a command the target needs is not installed",
        exit_codes: &[],
        pattern: Some(r"^(?:\S+: )?(?:line \d+: )?\S+: command not found$"),
        pattern_required: true,
        decisive: false,
    },
    InfraRule {
        id: "out_of_memory",
        description: "the process ran out of memory",
        exit_codes: &[],
        pattern: Some(
            r"JavaScript heap out of memory|memory allocation of \d+ bytes failed|Cannot allocate memory",
        ),
        pattern_required: true,
        decisive: false,
    },
];

static COMPILED: LazyLock<Vec<Option<Regex>>> = LazyLock::new(|| {
    INFRA_RULES
        .iter()
        .map(|rule| rule.pattern.map(compile))
        .collect()
});

/// Lines that prove the code itself is at fault: compile errors and failed assertions.
static CODE_EVIDENCE: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"^error\[E\d{4}\]:",
        r"|^\S+\(\d+,\d+\): error TS\d+|^\S+:\d+:\d+ - error TS\d+",
        r"|^[^\s:]+\.\w+:\d+:(?:\d+:)? (?:fatal )?error:",
        r"|^\s*(?:E\s+)?(?:AssertionError|SyntaxError|IndentationError|NameError|TypeError|AttributeError|KeyError|IndexError|ZeroDivisionError|UnboundLocalError|RecursionError|NotImplementedError|ReferenceError)\b",
        r"|^E\s+assert\b",
        r"|assertion `left [=!]= right` failed|assertion failed: ",
        r"|^\s*expect\(received\)",
        r"|^\s+\w+_test\.go:\d+: ",
    ))
});

/// Classifies a failed command from its exit code, pp's timeout flag, its output, and how far
/// its test runner got (`runner_progress` of the whole output, which may start before `output`,
/// a tail, does).
pub fn classify(
    exit_code: i32,
    timed_out: bool,
    output: &str,
    runner: Option<&RunnerProgress>,
) -> Classification {
    let text = strip_ansi(output);
    let lines: Vec<&str> = text.lines().collect();
    let rules = INFRA_RULES.iter().zip(COMPILED.iter());
    if timed_out || exit_code == 124 {
        // What was the command waiting for? An infrastructure line says; a runner that started
        // says a test; neither says the command never got going.
        let cause = rules
            .clone()
            .filter(|(rule, _)| rule.id != "timeout" && rule.exit_codes.is_empty())
            .find_map(|(rule, pattern)| {
                matches(rule, pattern.as_ref(), exit_code, &lines).map(|e| (rule, e))
            });
        if let Some((rule, evidence)) = cause {
            return infra(rule, evidence);
        }
        if runner.is_some() {
            return Classification::Code;
        }
        let evidence = if timed_out {
            format!(
                "pp stopped the command at its time limit (exit {exit_code}) before any test runner started"
            )
        } else {
            matches(&INFRA_RULES[0], COMPILED[0].as_ref(), exit_code, &lines)
                .unwrap_or_else(|| format!("exit code {exit_code}"))
        };
        return infra(&INFRA_RULES[0], evidence);
    }
    if exit_code == 0 {
        return Classification::Code;
    }
    for (rule, pattern) in rules.clone().filter(|(rule, _)| rule.decisive) {
        if let Some(evidence) = matches(rule, pattern.as_ref(), exit_code, &lines) {
            return infra(rule, evidence);
        }
    }
    if lines.iter().any(|line| CODE_EVIDENCE.is_match(line)) {
        return Classification::Code;
    }
    for (rule, pattern) in rules.filter(|(rule, _)| !rule.decisive) {
        if let Some(evidence) = matches(rule, pattern.as_ref(), exit_code, &lines) {
            return infra(rule, evidence);
        }
    }
    Classification::Code
}

/// The evidence line when `rule` applies.
fn matches(
    rule: &InfraRule,
    pattern: Option<&Regex>,
    exit_code: i32,
    lines: &[&str],
) -> Option<String> {
    if !rule.exit_codes.is_empty() && !rule.exit_codes.contains(&exit_code) {
        return None;
    }
    let line = pattern.and_then(|p| lines.iter().find(|line| p.is_match(line)));
    match line {
        Some(line) => Some(super::location::clip(line.trim(), 300)),
        None if rule.pattern_required => None,
        None => Some(format!("exit code {exit_code}")),
    }
}

fn infra(rule: &InfraRule, evidence: String) -> Classification {
    Classification::Infra {
        rule: rule.id.to_string(),
        description: rule.description.to_string(),
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(c: &Classification) -> &str {
        match c {
            Classification::Infra { rule, .. } => rule,
            Classification::Code => "code",
        }
    }

    #[test]
    fn every_pattern_compiles() {
        assert!(
            COMPILED
                .iter()
                .zip(INFRA_RULES)
                .all(|(c, r)| c.is_some() == r.pattern.is_some())
        );
        let ids: std::collections::HashSet<_> = INFRA_RULES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), INFRA_RULES.len(), "rule ids are unique");
    }

    #[test]
    fn one_case_per_rule() {
        let cases = [
            (124, false, "", "timeout"),
            (1, true, "still running", "timeout"),
            (
                127,
                false,
                "sh: 1: cargo-nextest: not found",
                "missing_command",
            ),
            (137, false, "Killed", "oom_killed"),
            (
                125,
                false,
                "docker: Error response from daemon: invalid mount config.",
                "container_engine",
            ),
            (
                125,
                false,
                "Error: crun: creating cgroup directory: OCI runtime error",
                "container_engine",
            ),
            // podman on a host whose cgroups crun refuses: every command "exits" 126.
            (
                126,
                false,
                "Error: crun: open `/sys/fs/cgroup/pids/x`: OCI permission denied",
                "container_engine",
            ),
            (
                126,
                false,
                "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: permission denied: unknown.",
                "container_engine",
            ),
            (
                127,
                false,
                "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"cargo\": executable file not found in $PATH: unknown.",
                "container_engine",
            ),
            (
                1,
                false,
                "write /tmp/x: No space left on device",
                "disk_full",
            ),
            (
                6,
                false,
                "curl: (6) Could not resolve host: x.invalid",
                "dns",
            ),
            (
                1,
                false,
                "socket.gaierror: [Errno -3] Temporary failure in name resolution",
                "dns",
            ),
            (
                60,
                false,
                "curl: (60) SSL certificate problem: self-signed certificate",
                "tls",
            ),
            (
                1,
                false,
                "fatal: unable to access 'x': The requested URL returned error: 429",
                "rate_limit",
            ),
            (
                22,
                false,
                "curl: (22) The requested URL returned error: 401",
                "auth",
            ),
            (
                128,
                false,
                "git@github.com: Permission denied (publickey).",
                "auth",
            ),
            (
                1,
                false,
                "Error: connect ECONNREFUSED 127.0.0.1:5432",
                "network",
            ),
            (
                2,
                false,
                "make: protoc: command not found",
                "command_not_found",
            ),
            (
                134,
                false,
                "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                "out_of_memory",
            ),
        ];
        for (exit, timed_out, out, want) in cases {
            let got = classify(exit, timed_out, out, None);
            assert_eq!(rule(&got), want, "{out:?}");
        }
    }

    #[test]
    fn evidence_is_the_matching_line() {
        let got = classify(
            6,
            false,
            "fetching\ncurl: (6) Could not resolve host: x.invalid\n",
            None,
        );
        assert_eq!(
            got,
            Classification::Infra {
                rule: "dns".into(),
                description: "a host name could not be resolved".into(),
                evidence: "curl: (6) Could not resolve host: x.invalid".into()
            }
        );
    }

    #[test]
    fn code_failures_that_mention_infra_words_stay_code() {
        // A test about timeouts that fails its assertion.
        let out = "test net::retries_after_timeout ... FAILED\nthread 'net::retries_after_timeout' panicked at src/net.rs:9:5:\nassertion `left == right` failed\n";
        assert_eq!(classify(101, false, out, None), Classification::Code);
        // A web test asserting on a 401 while logs show a refused connection.
        let out = "WARNING Connection refused, retrying\nE       assert 401 == 200\ntests/test_api.py:7: AssertionError\n";
        assert_eq!(classify(1, false, out, None), Classification::Code);
        // No infra phrase at all.
        assert_eq!(
            classify(1, false, "test_timeout_handling FAILED", None),
            Classification::Code
        );
        // Exit 0 is never infra.
        assert_eq!(
            classify(0, false, "Could not resolve host", None),
            Classification::Code
        );
        // 137 without a kill line is not called an OOM.
        assert_eq!(classify(137, false, "boom", None), Classification::Code);
    }

    #[test]
    fn a_commands_own_126_and_127_are_not_the_engines() {
        // The command's own "cannot execute": the code (or the repository) is at fault.
        assert_eq!(
            classify(126, false, "sh: 1: ./run_tests.sh: Permission denied", None),
            Classification::Code
        );
        // The command's own missing program stays `missing_command`.
        assert_eq!(
            rule(&classify(
                127,
                false,
                "sh: 1: cargo-nextest: not found",
                None
            )),
            "missing_command"
        );
        // Engine text with another exit code is the command's business.
        assert_eq!(
            classify(
                1,
                false,
                "Error response from daemon: no such container",
                None
            ),
            Classification::Code
        );
    }

    #[test]
    fn decisive_rules_beat_code_evidence() {
        let out =
            "error[E0308]: mismatched types\nerror: could not write: No space left on device\n";
        assert_eq!(rule(&classify(101, false, out, None)), "disk_full");
    }

    #[test]
    fn a_timeout_after_tests_started_is_a_hanging_test() {
        let out = "test_ok (tests.test_calc.T.test_ok) ... ok\ntest_loop (tests.test_calc.T.test_loop) ... ";
        let runner = crate::context::runner_progress(out);
        assert!(runner.is_some());
        assert_eq!(
            classify(124, true, out, runner.as_ref()),
            Classification::Code
        );
        // Nothing ran: the machine's (or the build's) time, not a test's.
        assert_eq!(
            rule(&classify(124, true, "   Compiling big v0.1.0", None)),
            "timeout"
        );
        // A runner stuck on a dead service is stuck on infrastructure.
        let out = "=== test session starts ===\ntests/test_db.py::test_query \nWARNING Connection refused, retrying\n";
        let runner = crate::context::runner_progress(out);
        assert_eq!(rule(&classify(124, true, out, runner.as_ref())), "network");
        // `timeout 5 pytest` inside the command: exit 124 without pp's flag, same reading.
        let out = "=== test session starts ===\ntests/test_a.py::test_spin ";
        let runner = crate::context::runner_progress(out);
        assert_eq!(
            classify(124, false, out, runner.as_ref()),
            Classification::Code
        );
    }
}
