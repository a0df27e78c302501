//! What GitHub Actions reads of a session: workflow commands (an `::error` at each failure
//! position pp extracted, a `::notice` on each hunk of a proven patch, one line for the
//! status), the job summary (`$GITHUB_STEP_SUMMARY`, Markdown) and the step outputs
//! (`$GITHUB_OUTPUT`). Pure rendering over an [`Outcome`]; `cli::github` decides where each
//! goes and writes it.
//!
//! Everything pp did not choose itself (messages from the output, paths, the patch) is escaped
//! as the runner unescapes it (`%`, CR, LF in messages; also `:` and `,` in properties), so a
//! value can never end its command early or start another one. Step outputs use the
//! `name<<DELIMITER` form with a delimiter the caller draws at random and no value contains.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::outcome::{Outcome, Status, TargetOutcome, TestCounts};

/// GitHub keeps at most 10 error annotations per step (and 50 per job); pp sends its best.
pub const MAX_ERRORS: usize = 10;
/// Notices for at most this many hunks; the job summary shows the whole patch.
pub const MAX_NOTICES: usize = 10;

/// Where GitHub Actions output goes, from the environment the runner sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubEnv {
    /// `$GITHUB_STEP_SUMMARY`: the job summary file, appended to.
    pub step_summary: Option<PathBuf>,
    /// `$GITHUB_OUTPUT`: the step outputs file, appended to.
    pub output: Option<PathBuf>,
    /// The workspace relative to `$GITHUB_WORKSPACE` (`""` at its root, else `dir/`): annotations
    /// name files from the repository's root.
    pub path_prefix: String,
}

impl GithubEnv {
    /// Whether GitHub Actions output is wanted: `--github`, or `GITHUB_ACTIONS=true` (which the
    /// runner sets for every step).
    pub fn enabled(flag: bool, vars: &[(String, String)]) -> bool {
        flag || var(vars, "GITHUB_ACTIONS") == Some("true")
    }

    /// The files and the path prefix, from the runner's variables and pp's workspace.
    pub fn from_vars(vars: &[(String, String)], workspace: &Path) -> Self {
        let file = |name| var(vars, name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let path_prefix = var(vars, "GITHUB_WORKSPACE")
            .filter(|v| !v.is_empty())
            .and_then(|root| {
                let root = std::fs::canonicalize(root).unwrap_or_else(|_| PathBuf::from(root));
                let ws = std::fs::canonicalize(workspace).unwrap_or_else(|_| workspace.to_owned());
                ws.strip_prefix(&root).ok().map(|rel| {
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    if rel.is_empty() {
                        rel
                    } else {
                        format!("{rel}/")
                    }
                })
            })
            .unwrap_or_default();
        Self {
            step_summary: file("GITHUB_STEP_SUMMARY"),
            output: file("GITHUB_OUTPUT"),
            path_prefix,
        }
    }
}

fn var<'v>(vars: &'v [(String, String)], name: &str) -> Option<&'v str> {
    vars.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A workflow command's message, escaped as the runner unescapes it: `%`, CR and LF.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as [`escape_data`], and `:` and `,`, which end a
/// property.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One workflow command line: `::KIND p=v,…::MESSAGE`.
fn command(kind: &str, props: &[(&str, String)], message: &str) -> String {
    let props: Vec<String> = props
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let sep = if props.is_empty() { "" } else { " " };
    format!("::{kind}{sep}{}::{}", props.join(","), escape_data(message))
}

/// The `::error` of a command that failed without a session (exit 2 or 1): its message and hint.
pub fn error_command(message: &str, hint: Option<&str>) -> String {
    let mut text = message.to_owned();
    if let Some(h) = hint {
        text.push_str("\nhint: ");
        text.push_str(h);
    }
    command("error", &[("title", "pp: error".to_owned())], &text)
}

/// The changed lines of one hunk of a patch, on the new side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub path: String,
    /// First and last changed line of the new file (a hunk that only deletes marks the line
    /// after the deletion).
    pub start: u32,
    pub end: u32,
    pub added: u32,
    pub removed: u32,
}

/// Every hunk of a unified diff, with its changed lines on the new side. Lines of a file
/// deleted by the patch (`+++ /dev/null`) have nowhere to point and are left out.
pub fn hunks(patch: &str) -> Vec<Hunk> {
    let mut out = Vec::new();
    let mut path: Option<String> = None;
    // The hunk being read, and how many old and new lines it still has.
    let mut current: Option<(Hunk, u32, u32)> = None;
    let mut new_line = 0u32;
    for line in patch.lines() {
        if let Some((h, old_left, new_left)) = current.as_mut() {
            let at = new_line.max(1);
            let mark = |h: &mut Hunk| {
                if h.start == 0 || at < h.start {
                    h.start = at;
                }
                h.end = h.end.max(at);
            };
            match line.as_bytes().first() {
                Some(b'+') => {
                    mark(h);
                    h.added += 1;
                    new_line += 1;
                    *new_left = new_left.saturating_sub(1);
                }
                Some(b'-') => {
                    mark(h);
                    h.removed += 1;
                    *old_left = old_left.saturating_sub(1);
                }
                Some(b'\\') => {}
                _ => {
                    new_line += 1;
                    *old_left = old_left.saturating_sub(1);
                    *new_left = new_left.saturating_sub(1);
                }
            }
            if *old_left == 0
                && *new_left == 0
                && let Some((h, _, _)) = current.take()
                && (h.added > 0 || h.removed > 0)
            {
                out.push(h);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("+++ ") {
            let name = rest.split('\t').next().unwrap_or(rest).trim_end();
            path = match name {
                "/dev/null" => None,
                n => Some(n.strip_prefix("b/").unwrap_or(n).to_owned()),
            };
        } else if let Some(rest) = line.strip_prefix("@@ ")
            && let Some((new_start, old_count, new_count)) = hunk_header(rest)
            && let Some(p) = &path
        {
            new_line = new_start;
            let hunk = Hunk {
                path: p.clone(),
                start: 0,
                end: 0,
                added: 0,
                removed: 0,
            };
            current = Some((hunk, old_count, new_count));
        }
    }
    if let Some((h, _, _)) = current
        && (h.added > 0 || h.removed > 0)
    {
        out.push(h);
    }
    out
}

/// From a hunk header's tail (`-1,2 +3,4 @@ …`): the new side's first line, and the old and
/// new line counts (1 when left out).
fn hunk_header(header: &str) -> Option<(u32, u32, u32)> {
    let mut words = header.split_whitespace();
    let range = |w: &str| -> Option<(u32, u32)> {
        let mut parts = w.splitn(2, ',');
        let start = parts.next()?.parse().ok()?;
        let count = match parts.next() {
            Some(c) => c.parse().ok()?,
            None => 1,
        };
        Some((start, count))
    };
    let (_, old_count) = range(words.next()?.strip_prefix('-')?)?;
    let (new_start, new_count) = range(words.next()?.strip_prefix('+')?)?;
    Some((new_start, old_count, new_count))
}

/// The workflow commands of a session, in order: the status (an `::error` unless it
/// succeeded), an `::error` at each failure position (at most [`MAX_ERRORS`]), and, for a
/// proof, a `::notice` on each hunk of the patch (at most [`MAX_NOTICES`]). `prefix` is
/// [`GithubEnv::path_prefix`].
pub fn workflow_commands(o: &Outcome, prefix: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let status = o.status.as_str();
    let mut message = o.message.clone();
    if let Some(h) = &o.hint {
        message.push_str("\nhint: ");
        message.push_str(h);
    }
    let title = format!("pp: {status}");
    lines.push(if o.status.success() {
        command("notice", &[("title", title)], &message)
    } else {
        command("error", &[("title", title)], &message)
    });
    if o.status != Status::AlreadyPassing {
        let failing: Vec<&str> = o
            .targets
            .iter()
            .filter(|t| t.baseline_exit_code.is_some_and(|c| c != 0))
            .map(|t| t.name.as_str())
            .collect();
        let title = match failing.as_slice() {
            [] => "pp: the failure".to_owned(),
            [one] => format!("pp: target `{one}` failed here"),
            many => format!("pp: targets {} failed here", many.join(", ")),
        };
        for f in o.failures.iter().take(MAX_ERRORS) {
            let mut props = vec![
                ("file", format!("{prefix}{}", f.path)),
                ("line", f.line.to_string()),
            ];
            if let Some(c) = f.column {
                props.push(("col", c.to_string()));
            }
            props.push(("title", title.clone()));
            let message = f
                .message
                .clone()
                .unwrap_or_else(|| "the failing run's output points here".to_owned());
            lines.push(command("error", &props, &message));
        }
    }
    if o.status == Status::Proven
        && let Some(patch) = &o.patch
    {
        for h in hunks(patch).iter().take(MAX_NOTICES) {
            let mut props = vec![
                ("file", format!("{prefix}{}", h.path)),
                ("line", h.start.to_string()),
            ];
            if h.end > h.start {
                props.push(("endLine", h.end.to_string()));
            }
            props.push(("title", "pp: proven fix".to_owned()));
            let message = format!(
                "pp's proven patch changes this hunk (+{} -{}); every proof target passed with it. The patch and its proof: {}",
                h.added,
                h.removed,
                o.proof_bundle.display()
            );
            lines.push(command("notice", &props, &message));
        }
    }
    lines
}

/// A Markdown table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.replace(['\r', '\n'], " ").replace('|', "\\|")
}

/// Inline code that holds any text: a backtick fence longer than any run inside.
fn code(s: &str) -> String {
    let s = cell(s);
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in s.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

fn tests(t: Option<&TestCounts>) -> String {
    match t {
        Some(t) => {
            let mut s = format!("{} passed, {} failed", t.passed, t.failed);
            if t.skipped > 0 {
                let _ = write!(s, ", {} skipped", t.skipped);
            }
            if !t.counts_exact {
                s.push_str(" (at least)");
            }
            s
        }
        None => "—".to_owned(),
    }
}

fn run_cell(exit: Option<i32>, counts: Option<&TestCounts>, ms: Option<u64>) -> String {
    match exit {
        None => "did not run".to_owned(),
        Some(code) => {
            let mut s = format!("exit {code}");
            if counts.is_some() {
                let _ = write!(s, "; {}", tests(counts));
            }
            if let Some(ms) = ms {
                let _ = write!(s, "; {}", seconds(ms));
            }
            s
        }
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
}

fn target_row(t: &TargetOutcome) -> String {
    format!(
        "| {} | {} | {} | {} |",
        cell(&t.name),
        code(&t.command),
        run_cell(
            t.baseline_exit_code,
            t.baseline_tests.as_ref(),
            t.baseline_duration_ms
        ),
        run_cell(
            t.final_exit_code,
            t.final_tests.as_ref(),
            t.final_duration_ms
        ),
    )
}

/// A shell word for a path in the commands the summary shows.
fn shell_word(p: &Path) -> String {
    let s = p.to_string_lossy();
    shlex::try_quote(&s)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| s.replace(['\0'], ""))
}

/// The job summary: the status, each target before and after, the patch, and how to verify and
/// replay the bundle.
pub fn step_summary(o: &Outcome) -> String {
    let mut s = String::new();
    let mark = if o.status.success() { "✅" } else { "❌" };
    let _ = writeln!(
        s,
        "## {mark} pp: `{}` (exit {})\n",
        o.status.as_str(),
        o.status.exit_code()
    );
    let _ = writeln!(s, "{}\n", cell(&o.message));
    if let Some(h) = &o.hint {
        let _ = writeln!(s, "**Hint:** {}\n", cell(h));
    }
    let _ = writeln!(
        s,
        "Attempts: {} · session {} · {}\n",
        o.attempts_used,
        code(&o.session_id),
        seconds(o.duration_ms)
    );
    let _ = writeln!(s, "| target | command | before | after |");
    let _ = writeln!(s, "|---|---|---|---|");
    for t in &o.targets {
        let _ = writeln!(s, "{}", target_row(t));
    }
    match (&o.patch, o.status) {
        (Some(patch), Status::Proven) => {
            let _ = writeln!(
                s,
                "\n### The proven patch\n\nFiles: {}\n",
                o.changed_files
                    .iter()
                    .map(|f| code(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(n) = &o.patch_note {
                let _ = writeln!(s, "**Note:** the patch was {}.\n", cell(n));
            }
            let fence = "`".repeat((longest_run(patch, '`') + 1).max(3));
            let body = patch.trim_end_matches('\n');
            let _ = writeln!(s, "{fence}diff\n{body}\n{fence}");
            if o.applied {
                let _ = writeln!(s, "\nApplied to the working tree (`--apply`).");
            }
        }
        _ => {
            let _ = writeln!(s, "\nNo patch was proven.");
        }
    }
    let bundle = shell_word(&o.proof_bundle);
    let _ = writeln!(
        s,
        "\n### Verify and replay\n\nOn the runner the proof bundle is {}; elsewhere, download it (upload it as an artifact) and run these in a checkout of the same commit, with the bundle's folder in place of the path:\n",
        code(&o.proof_bundle.to_string_lossy())
    );
    let unsigned = if o.attestation.is_some() {
        ""
    } else {
        " --allow-unsigned"
    };
    let _ = writeln!(
        s,
        "```sh\npp verify-attestation {bundle}{unsigned}\npp replay {bundle}{unsigned}\n```"
    );
    if o.attestation.is_some() {
        let _ = writeln!(
            s,
            "\nThe bundle is signed: set the key it was signed with (`PP_ATTEST_HMAC_KEY`, or `--public-key F` for Ed25519) before verifying."
        );
    } else {
        let _ = writeln!(
            s,
            "\nThe bundle is not signed (`--attest` signs it): `--allow-unsigned` checks its files against its digests only."
        );
    }
    s
}

/// The step outputs, in `$GITHUB_OUTPUT`'s syntax: `status`, `success`, and `session_id`,
/// `proof_bundle` and `final_patch` (empty unless a patch was proven) in the multiline form with
/// `delimiter`, which the caller draws at random. `None` when a value contains the delimiter
/// (draw again). The exit code is left to the step (the action adds `exit_code`): it is pp's
/// process's, which `--apply` can change.
pub fn outputs(o: &Outcome, delimiter: &str) -> Option<String> {
    let final_patch = match (o.status, &o.patch, &o.final_patch) {
        (Status::Proven, Some(_), Some(p)) => p.to_string_lossy().into_owned(),
        _ => String::new(),
    };
    let bundle = o.proof_bundle.to_string_lossy().into_owned();
    let mut s = String::new();
    let _ = writeln!(s, "status={}", o.status.as_str());
    let _ = writeln!(s, "success={}", o.status.success());
    for (name, value) in [
        ("session_id", o.session_id.as_str()),
        ("proof_bundle", bundle.as_str()),
        ("final_patch", final_patch.as_str()),
    ] {
        if value.contains(delimiter) || delimiter.is_empty() {
            return None;
        }
        let _ = writeln!(s, "{name}<<{delimiter}\n{value}\n{delimiter}");
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::FailureMark;

    const PATCH: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,4 +1,4 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n \n def sub(a, b):\n@@ -10,3 +10,2 @@ def mul(a, b):\n x = 1\n-y = 2\n z = 3\n--- a/new.txt\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n";

    fn outcome(status: Status) -> Outcome {
        Outcome {
            status,
            session_id: "20261207T000000Z-abcd".into(),
            attempts_used: 1,
            final_exit_code: Some(0),
            duration_ms: 1234,
            proof_bundle: PathBuf::from("/w/.pp-artifacts/s/proof_bundle"),
            final_patch: Some(PathBuf::from("/w/.pp-artifacts/s/proof_bundle/final.patch")),
            attestation: None,
            message: "proven in attempt 1".into(),
            hint: None,
            applied: false,
            apply_refused: None,
            sandbox_kept: None,
            targets: vec![TargetOutcome {
                name: "default".into(),
                command: "python3 -m unittest | tee x".into(),
                baseline_exit_code: Some(1),
                final_exit_code: Some(0),
                baseline_tests: Some(TestCounts {
                    format: "unittest".into(),
                    ran: 2,
                    passed: 1,
                    failed: 1,
                    skipped: 0,
                    counts_exact: true,
                }),
                final_tests: Some(TestCounts {
                    format: "unittest".into(),
                    ran: 2,
                    passed: 2,
                    failed: 0,
                    skipped: 0,
                    counts_exact: true,
                }),
                baseline_duration_ms: Some(120),
                final_duration_ms: Some(80),
            }],
            changed_files: vec!["calc.py".into()],
            patch_note: None,
            patch: Some(PATCH.into()),
            failures: vec![FailureMark {
                path: "tests/test_calc.py".into(),
                line: 6,
                column: None,
                message: Some("AssertionError: -1 != 5".into()),
            }],
        }
    }

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(
            escape_property("a,b:c%\n"),
            "a%2Cb%3Ac%25%0A",
            "`,` and `:` end a property"
        );
        // A message cannot start a second command on a line of its own.
        let line = command("error", &[], "boom\n::add-mask::x");
        assert_eq!(line, "::error::boom%0A::add-mask::x");
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn hunks_point_at_the_changed_lines_of_the_new_file() {
        let h = hunks(PATCH);
        assert_eq!(
            h,
            vec![
                Hunk {
                    path: "calc.py".into(),
                    start: 2,
                    end: 2,
                    added: 1,
                    removed: 1
                },
                Hunk {
                    path: "calc.py".into(),
                    start: 11,
                    end: 11,
                    added: 0,
                    removed: 1
                },
                Hunk {
                    path: "new.txt".into(),
                    start: 1,
                    end: 2,
                    added: 2,
                    removed: 0
                },
            ]
        );
        // A deleted file has no lines to point at.
        assert!(hunks("--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n").is_empty());
    }

    #[test]
    fn a_proof_annotates_the_failure_and_each_hunk() {
        let lines = workflow_commands(&outcome(Status::Proven), "sub/");
        assert_eq!(lines[0], "::notice title=pp%3A proven::proven in attempt 1");
        assert_eq!(
            lines[1],
            "::error file=sub/tests/test_calc.py,line=6,title=pp%3A target `default` failed here::AssertionError: -1 != 5"
        );
        assert!(lines[2].starts_with("::notice file=sub/calc.py,line=2,title=pp%3A proven fix::"));
        assert!(lines[3].starts_with("::notice file=sub/calc.py,line=11,title="));
        assert!(lines[4].starts_with("::notice file=sub/new.txt,line=1,endLine=2,title="));
        assert_eq!(lines.len(), 5);
        assert!(lines.iter().all(|l| !l.contains('\n')));
    }

    #[test]
    fn a_failure_is_an_error_with_its_hint_and_no_notices() {
        let mut o = outcome(Status::NotProven);
        o.message = "no candidate passed".into();
        o.hint = Some("give it more attempts,\nor a model".into());
        let lines = workflow_commands(&o, "");
        assert_eq!(
            lines[0],
            "::error title=pp%3A not_proven::no candidate passed%0Ahint: give it more attempts,%0Aor a model"
        );
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].starts_with("::error file=tests/test_calc.py,line=6,"));
    }

    #[test]
    fn a_hostile_path_or_message_stays_inside_its_command() {
        let mut o = outcome(Status::NotProven);
        o.failures = vec![FailureMark {
            path: "a,line=99::x.py".into(),
            line: 3,
            column: Some(7),
            message: Some("bad\r\n::set-output name=x::y%".into()),
        }];
        let lines = workflow_commands(&o, "");
        assert_eq!(
            lines[1],
            "::error file=a%2Cline=99%3A%3Ax.py,line=3,col=7,title=pp%3A target `default` failed here::bad%0D%0A::set-output name=x::y%25"
        );
    }

    #[test]
    fn errors_are_capped() {
        let mut o = outcome(Status::NotProven);
        o.failures = (1..=30)
            .map(|n| FailureMark {
                path: "f.py".into(),
                line: n,
                column: None,
                message: None,
            })
            .collect();
        let errors = workflow_commands(&o, "")
            .iter()
            .filter(|l| l.starts_with("::error file="))
            .count();
        assert_eq!(errors, MAX_ERRORS);
    }

    #[test]
    fn the_summary_shows_targets_patch_and_replay() {
        let s = step_summary(&outcome(Status::Proven));
        assert!(s.starts_with("## ✅ pp: `proven` (exit 0)\n"), "{s}");
        assert!(
            s.contains("| default | `python3 -m unittest \\| tee x` | exit 1; 1 passed, 1 failed; 0.1 s | exit 0; 2 passed, 0 failed; 0.0 s |"),
            "{s}"
        );
        assert!(s.contains("```diff\n--- a/calc.py\n"), "{s}");
        assert!(
            s.contains("pp verify-attestation /w/.pp-artifacts/s/proof_bundle --allow-unsigned\npp replay /w/.pp-artifacts/s/proof_bundle --allow-unsigned\n"),
            "{s}"
        );
        let mut refused = outcome(Status::PolicyViolation);
        refused.patch = None;
        refused.targets[0].baseline_exit_code = None;
        refused.targets[0].final_exit_code = None;
        let s = step_summary(&refused);
        assert!(s.contains("| did not run | did not run |"), "{s}");
        assert!(s.contains("No patch was proven."), "{s}");
    }

    #[test]
    fn a_patch_with_backticks_gets_a_longer_fence() {
        let mut o = outcome(Status::Proven);
        o.patch = Some("--- a/r.md\n+++ b/r.md\n@@ -1 +1 @@\n-```\n+````\n".into());
        let s = step_summary(&o);
        assert!(s.contains("`````diff\n"), "{s}");
    }

    #[test]
    fn outputs_use_the_delimiter_and_refuse_one_a_value_holds() {
        let o = outcome(Status::Proven);
        let text = outputs(&o, "ghadelimiter_X").unwrap();
        assert_eq!(
            text,
            "status=proven\nsuccess=true\n\
             session_id<<ghadelimiter_X\n20261207T000000Z-abcd\nghadelimiter_X\n\
             proof_bundle<<ghadelimiter_X\n/w/.pp-artifacts/s/proof_bundle\nghadelimiter_X\n\
             final_patch<<ghadelimiter_X\n/w/.pp-artifacts/s/proof_bundle/final.patch\nghadelimiter_X\n"
        );
        assert_eq!(outputs(&o, "proof_bundle"), None);
        let mut failed = outcome(Status::NotProven);
        failed.patch = None;
        let text = outputs(&failed, "D").unwrap();
        assert!(text.contains("final_patch<<D\n\nD\n"), "{text}");
        assert!(text.starts_with("status=not_proven\nsuccess=false\nsession_id<<D\n"));
    }

    #[test]
    fn enabled_by_the_flag_or_the_runner() {
        let on = vec![("GITHUB_ACTIONS".to_owned(), "true".to_owned())];
        assert!(GithubEnv::enabled(false, &on));
        assert!(GithubEnv::enabled(true, &[]));
        assert!(!GithubEnv::enabled(false, &[]));
        let off = vec![("GITHUB_ACTIONS".to_owned(), "false".to_owned())];
        assert!(!GithubEnv::enabled(false, &off));
    }

    #[test]
    fn paths_are_relative_to_the_repository_root() {
        let root = tempfile::tempdir().unwrap();
        let sub = root.path().join("pkg/app");
        std::fs::create_dir_all(&sub).unwrap();
        let vars = vec![
            (
                "GITHUB_WORKSPACE".to_owned(),
                root.path().to_string_lossy().into_owned(),
            ),
            ("GITHUB_OUTPUT".to_owned(), "/o".to_owned()),
        ];
        let env = GithubEnv::from_vars(&vars, &sub);
        assert_eq!(env.path_prefix, "pkg/app/");
        assert_eq!(env.output, Some(PathBuf::from("/o")));
        assert_eq!(env.step_summary, None);
        assert_eq!(GithubEnv::from_vars(&vars, root.path()).path_prefix, "");
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(
            GithubEnv::from_vars(&vars, elsewhere.path()).path_prefix,
            ""
        );
    }
}
