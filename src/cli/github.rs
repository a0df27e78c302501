//! GitHub Actions output of `pp run` and `pp prove` (`--github`, or `GITHUB_ACTIONS=true`):
//! writes what `report::github` renders. Workflow commands go to stdout, or to stderr under
//! `--json`, where stdout carries the one JSON document (the runner reads workflow commands on
//! both streams); the job summary and the step outputs are appended to the files the runner
//! names. A file pp cannot append to is reported on stderr and does not change the exit code:
//! the proof stands.

use std::io::Write;
use std::path::Path;

use crate::console::errln;
use crate::outcome::Outcome;
use crate::report::github::{self, GithubEnv};

/// Prints the annotations and appends the job summary and the step outputs.
pub(super) fn emit(outcome: &Outcome, env: &GithubEnv, json: bool) {
    let mut lines = github::workflow_commands(outcome, &env.path_prefix).join("\n");
    lines.push('\n');
    if json {
        crate::console::err(&lines);
    } else if let Err(e) = crate::console::out(&lines) {
        errln!("error: {e}");
    }
    if let Some(path) = &env.step_summary {
        append(path, "GITHUB_STEP_SUMMARY", &github::step_summary(outcome));
    }
    if let Some(path) = &env.output {
        match outputs(outcome) {
            Some(text) => append(path, "GITHUB_OUTPUT", &text),
            None => errln!(
                "error: cannot write the step outputs: no delimiter was found that no value holds"
            ),
        }
    }
}

/// An `::error` annotation for a command that failed before (or instead of) a session: a bad
/// flag or policy file, a bug. No outputs: there is no session to describe.
pub(super) fn emit_error(message: &str, hint: Option<&str>, json: bool) {
    let mut line = github::error_command(message, hint);
    line.push('\n');
    if json {
        crate::console::err(&line);
    } else {
        let _ = crate::console::out(&line);
    }
}

/// The step outputs with a fresh random delimiter, drawn again while a value holds it.
fn outputs(outcome: &Outcome) -> Option<String> {
    (0..8).find_map(|_| {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok()?;
        github::outputs(
            outcome,
            &format!("ghadelimiter_{}", crate::digest::hex(&bytes)),
        )
    })
}

/// Appends `text` to the runner's file `path` (named by the variable `var`).
fn append(path: &Path, var: &str, text: &str) {
    let result = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = result {
        errln!(
            "error: cannot append to ${var} ({}): {e}\nhint: the runner sets {var} to a writable file; unset it to skip this output",
            path.display()
        );
    }
}
