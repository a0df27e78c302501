//! Evidence (interim): infrastructure classification, a failure's tail, and test counts.
//! Replaced by the full extractor.

use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone)]
pub struct PathMap {
    pub workspace: PathBuf,
    pub sandbox: PathBuf,
    pub container_workdir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Location {
    pub path: String,
    pub line: u32,
    pub column: Option<u32>,
    pub in_workspace: bool,
    pub parser: &'static str,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TestSummary {
    pub format: String,
    pub ran: u32,
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub failing: Vec<String>,
    pub passing: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Classification {
    Code,
    Infra {
        rule: String,
        description: String,
        evidence: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Snippet {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct FailureContext {
    pub assertions: Vec<String>,
    pub locations: Vec<Location>,
    pub hints: Vec<Location>,
    pub related: Vec<String>,
    pub snippets: Vec<Snippet>,
    pub summary: Option<TestSummary>,
}

const RULES: &[(&str, &str, &str)] = &[
    (
        "connection_refused",
        "a network connection was refused",
        "Connection refused",
    ),
    (
        "connection_reset",
        "a network connection was reset",
        "Connection reset",
    ),
    (
        "dns",
        "a host name could not be resolved",
        "Could not resolve host",
    ),
    (
        "dns",
        "a host name could not be resolved",
        "Temporary failure in name resolution",
    ),
    (
        "dns",
        "a host name could not be resolved",
        "Name or service not known",
    ),
    (
        "tls",
        "a TLS/certificate error",
        "certificate verify failed",
    ),
    ("auth", "authentication was refused", "401 Unauthorized"),
    ("auth", "access was forbidden", "403 Forbidden"),
    (
        "rate_limit",
        "a rate limit was hit",
        "429 Too Many Requests",
    ),
    ("disk_full", "the disk is full", "No space left on device"),
    (
        "command_not_found",
        "a command was not found",
        "command not found",
    ),
];

pub fn classify(exit_code: i32, timed_out: bool, output: &str) -> Classification {
    if timed_out || exit_code == 124 {
        return Classification::Infra {
            rule: "timeout".into(),
            description: "the command hit its timeout".into(),
            evidence: format!("exit code {exit_code}"),
        };
    }
    for (rule, description, needle) in RULES {
        if let Some(line) = output.lines().find(|l| l.contains(needle)) {
            return Classification::Infra {
                rule: (*rule).into(),
                description: (*description).into(),
                evidence: line.trim().to_owned(),
            };
        }
    }
    if exit_code == 127 {
        return Classification::Infra {
            rule: "command_not_found".into(),
            description: "a command was not found".into(),
            evidence: "exit code 127".into(),
        };
    }
    if exit_code == 137 {
        return Classification::Infra {
            rule: "oom_kill".into(),
            description: "the command was killed (out of memory)".into(),
            evidence: "exit code 137".into(),
        };
    }
    Classification::Code
}

pub fn test_summary(output: &str) -> Option<TestSummary> {
    // unittest: "Ran N tests"
    let re = regex::Regex::new(r"(?m)^Ran (\d+) tests? in").ok()?;
    let ran = re
        .captures_iter(output)
        .last()?
        .get(1)?
        .as_str()
        .parse()
        .ok()?;
    let failed = regex::Regex::new(r"FAILED \((?:failures=(\d+))?(?:, )?(?:errors=(\d+))?")
        .ok()?
        .captures(output)
        .map(|c| {
            c.get(1).map_or(0, |m| m.as_str().parse().unwrap_or(0))
                + c.get(2).map_or(0, |m| m.as_str().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    Some(TestSummary {
        format: "unittest".into(),
        ran,
        passed: ran - failed.min(ran),
        failed,
        skipped: 0,
        failing: vec![],
        passing: vec![],
    })
}

pub fn integrity_problems(
    baseline: Option<&TestSummary>,
    candidate: Option<&TestSummary>,
    candidate_exit: i32,
) -> Vec<String> {
    let mut p = Vec::new();
    match (baseline, candidate) {
        (Some(_), None) if candidate_exit == 0 => p.push("the test suite did not run: the baseline printed a test summary and the candidate's run printed none".to_owned()),
        (Some(b), Some(c)) if c.ran < b.ran => p.push(format!("the candidate ran {} tests, fewer than the baseline's {}", c.ran, b.ran)),
        _ => {}
    }
    p
}

pub fn build(
    output: &str,
    _root: &Path,
    _map: &PathMap,
    _editable: &dyn Fn(&str) -> bool,
    _budget_bytes: usize,
) -> FailureContext {
    FailureContext {
        summary: test_summary(output),
        ..FailureContext::default()
    }
}
