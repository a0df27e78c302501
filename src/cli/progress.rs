//! What `run` and `prove` show on stderr while a session works, drawn from its events
//! (`session::Events`): a line per phase with the time since the session began
//! (`[  1.2s] baseline: running default: pytest -q`), and while a command runs, a heartbeat line
//! every few seconds, or on a terminal a spinner with its elapsed time. `-q` shows nothing,
//! `-v` more. Also the `--events` stream's destination. What the events are is the session's.

use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::console::errln;
use crate::error::Error;
use crate::session::{Busy, Event, EventLine, Phase, Progress, Watchers};
use crate::settings::Env;

/// Environment variable: seconds between heartbeat lines (default 5).
pub const HEARTBEAT_ENV: &str = "PP_HEARTBEAT_SECS";
const HEARTBEAT_DEFAULT: Duration = Duration::from_secs(5);

/// How much stderr shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// The session's watchers from `--events`, `-q`/`-v` and the environment: the stream, and the
/// progress display unless `-q` or `--events -` (the events then take stderr's place).
pub(super) fn watchers(
    events: Option<&str>,
    verbosity: Verbosity,
    env: &Env,
) -> Result<Watchers, Error> {
    let to_stderr = events == Some("-");
    let stream: Option<Box<dyn std::io::Write + Send>> = match events {
        None => None,
        Some("-") => Some(Box::new(std::io::stderr())),
        Some(path) => Some(Box::new(open_stream(Path::new(path))?)),
    };
    let heartbeat = heartbeat(env)?;
    let progress: Option<Box<dyn Progress>> = if verbosity == Verbosity::Quiet || to_stderr {
        None
    } else {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let color = env.get("NO_COLOR").is_none_or(str::is_empty);
        Some(Box::new(Display {
            verbose: verbosity == Verbosity::Verbose,
            heartbeat,
            live: terminal.then(|| Live {
                color,
                spinner: None,
            }),
        }))
    };
    Ok(Watchers { stream, progress })
}

fn open_stream(path: &Path) -> Result<std::fs::File, Error> {
    std::fs::File::create(path).map_err(|e| Error::Usage {
        message: format!("cannot write the --events file {}: {e}", path.display()),
        hint: match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => format!(
                "create the folder {} first, or pass `--events -` for stderr",
                dir.display()
            ),
            _ => "name a file you can write, or pass `--events -` for stderr".into(),
        },
    })
}

fn heartbeat(env: &Env) -> Result<Duration, Error> {
    let Some(text) = env.get(HEARTBEAT_ENV) else {
        return Ok(HEARTBEAT_DEFAULT);
    };
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| Error::Usage {
            message: format!("{HEARTBEAT_ENV}=`{text}` is not a number of seconds"),
            hint: format!("set {HEARTBEAT_ENV} to a positive number such as 5, or unset it"),
        })
}

/// Progress lines on stderr; with `live`, a spinner while a command runs.
struct Display {
    verbose: bool,
    heartbeat: Duration,
    live: Option<Live>,
}

struct Live {
    color: bool,
    spinner: Option<ProgressBar>,
}

impl Progress for Display {
    fn event(&mut self, line: &EventLine) {
        let Some(text) = render(line, self.verbose) else {
            return;
        };
        let Some(live) = &mut self.live else {
            errln!("{text}");
            return;
        };
        match live.spinner.take() {
            // Through the bar, which prints above itself and knows how many lines it drew.
            Some(bar) => {
                bar.println(&text);
                bar.finish_and_clear();
            }
            None => errln!("{text}"),
        }
        let waiting = match &line.event {
            Event::RunStart { phase, target, .. } => Some(running(*phase, target)),
            Event::Propose {
                attempt, provider, ..
            } => Some(format!("attempt {attempt}: proposing ({provider})")),
            _ => None,
        };
        live.spinner = waiting.map(|w| spinner(live.color, &w));
    }

    fn heartbeat(&mut self, busy: Busy<'_>, running_for: Duration, at: Duration) {
        if self.live.is_some() {
            return; // the spinner shows the time itself
        }
        let secs = running_for.as_secs();
        let text = match busy {
            Busy::Run { phase, target } => {
                let (stage, _) = phase_words(phase);
                format!("{stage}: still running {target} ({secs}s)")
            }
            Busy::Propose { attempt, provider } => {
                format!("attempt {attempt}: still proposing ({provider}, {secs}s)")
            }
        };
        errln!("{} {text}", stamp(at.as_millis()));
    }

    fn heartbeat_every(&self) -> Option<Duration> {
        // A terminal's spinner ticks by itself.
        self.live.is_none().then_some(self.heartbeat)
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(bar) = self.live.as_mut().and_then(|l| l.spinner.take()) {
            bar.finish_and_clear();
        }
    }
}

fn spinner(color: bool, message: &str) -> ProgressBar {
    let template = if color {
        "{spinner:.cyan} {msg} ({elapsed})"
    } else {
        "{spinner} {msg} ({elapsed})"
    };
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// `[  1.2s]`: the time since the session began.
fn stamp(ms: impl Into<u128>) -> String {
    let ms = ms.into();
    format!("[{:>3}.{}s]", ms / 1000, (ms % 1000) / 100)
}

/// The stage a phase belongs to, and what a run in it does.
fn phase_words(phase: Phase) -> (String, &'static str) {
    match phase {
        Phase::Baseline => ("baseline".into(), "running"),
        Phase::Reproduce { run: 1 } => ("reproduce".into(), "running"),
        Phase::Reproduce { run } => (format!("reproduce (rerun {run})"), "running"),
        Phase::VerifyFailing { attempt } => (format!("attempt {attempt}"), "failing tests of"),
        Phase::Verify { attempt } => (format!("attempt {attempt}"), "verifying"),
        Phase::Confirm { attempt, run } => {
            (format!("attempt {attempt} (confirm {run})"), "confirming")
        }
        Phase::Minimize { run, .. } => (format!("minimizing (run {run})"), "running"),
        Phase::SearchTrace { attempt } => (format!("attempt {attempt}: search"), "tracing"),
        Phase::SearchTrial { attempt } => (format!("attempt {attempt}: search"), "trying"),
        Phase::Candidate { attempt, candidate } => (
            format!("attempt {attempt}: candidate {candidate}"),
            "verifying",
        ),
        Phase::Replay => ("replay".into(), "running"),
    }
}

fn running(phase: Phase, target: &str) -> String {
    let (stage, verb) = phase_words(phase);
    format!("{stage}: {verb} {target}")
}

fn secs(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// The progress line of an event, if it has one at this verbosity.
fn render(line: &EventLine, verbose: bool) -> Option<String> {
    let text = match &line.event {
        Event::SessionStart {
            session_id,
            provider,
            bundle,
        } => {
            let mut t = format!("session {session_id} (proposer: {provider})");
            if verbose {
                t.push_str(&format!("\n       bundle: {}", bundle.display()));
            }
            t
        }
        Event::SandboxCreated { sandbox } => {
            let backend = sandbox["backend"].as_str().unwrap_or("?");
            let mut t = format!("sandbox ready ({backend})");
            if verbose && let Some(root) = sandbox["root"].as_str() {
                t.push_str(&format!(" at {root}"));
            }
            t
        }
        Event::ContainerEngine { engine, .. } if verbose => format!(
            "container engine {} {}",
            engine["runtime"].as_str().unwrap_or("?"),
            engine["server_version"].as_str().unwrap_or("")
        ),
        Event::RunStart {
            phase,
            command,
            target,
            log_dir,
        } => {
            let mut t = format!("{}: {command}", running(*phase, target));
            if verbose {
                t.push_str(&format!("\n       logs: {}", log_dir.display()));
            }
            t
        }
        Event::RunEnd { phase, run } => {
            let (stage, _) = phase_words(*phase);
            let verdict = if run.exit_code == 0 && !run.timed_out {
                "passed"
            } else {
                "failed"
            };
            let mut detail = if run.timed_out {
                format!("timed out, exit {}", run.exit_code)
            } else {
                format!("exit {}", run.exit_code)
            };
            detail.push_str(&format!(", {}", secs(run.duration_ms)));
            if let Some(t) = &run.tests {
                detail.push_str(&format!(", {} passed, {} failed", t.passed, t.failed));
            }
            format!("{stage}: {} {verdict} ({detail})", run.target)
        }
        Event::Propose {
            attempt,
            provider,
            prompt_bytes,
        } => {
            let mut t = format!("attempt {attempt}: proposing ({provider})");
            if verbose {
                t.push_str(&format!(", a {prompt_bytes}-byte prompt"));
            }
            t
        }
        Event::Proposal {
            attempt,
            proposer,
            model,
            latency_ms,
            reply_bytes,
            change,
            reason,
        } => {
            let by = match model {
                Some(m) => format!("{proposer} ({m})"),
                None => proposer.clone(),
            };
            let mut t = if *change {
                format!("attempt {attempt}: {by} proposed a change")
            } else {
                format!(
                    "attempt {attempt}: {by} proposed no change: {}",
                    first_line(reason.as_deref().unwrap_or(""))
                )
            };
            t.push_str(&format!(" ({})", secs(*latency_ms)));
            if verbose {
                t.push_str(&format!(", a {reply_bytes}-byte reply"));
            }
            t
        }
        Event::Apply {
            attempt,
            applied: true,
            changed_files,
            ..
        } => format!("attempt {attempt}: applied ({})", changed_files.join(", ")),
        Event::Apply {
            attempt,
            rule,
            reason,
            ..
        } => format!(
            "attempt {attempt}: rejected ({}): {}",
            rule.as_deref().unwrap_or("?"),
            first_line(reason.as_deref().unwrap_or(""))
        ),
        Event::Attempt(rec) => {
            let outcome = serde_json::to_value(rec.outcome).unwrap_or_default();
            let mut t = format!(
                "attempt {}: {}",
                rec.attempt,
                outcome.as_str().unwrap_or("?").replace('_', " ")
            );
            if rec.outcome != crate::bundle::schema::AttemptKind::Passed && verbose {
                t.push_str(&format!(": {}", first_line(&rec.feedback)));
            }
            t
        }
        Event::Search { attempt, lines, .. } => {
            format!("attempt {attempt}: search: trying small edits on {lines} ranked line(s)")
        }
        Event::SearchTrial {
            attempt,
            trial,
            edit,
            verdict,
            ..
        } => {
            let passed = *verdict == crate::propose::search::Verdict::Passed;
            if !(verbose || passed || trial % 10 == 0) {
                return None;
            }
            let verdict = serde_json::to_value(verdict).unwrap_or_default();
            let verdict = verdict.as_str().unwrap_or("?").replace('_', " ");
            if verbose {
                format!("attempt {attempt}: search: trial {trial}: {edit}: {verdict}")
            } else {
                format!("attempt {attempt}: search: {trial} edit(s) tried ({verdict})")
            }
        }
        Event::Minimize { hunks, .. } => format!("minimizing ({hunks} hunks)"),
        Event::Minimized(m) => format!(
            "minimized: {} of {} hunks kept",
            m.hunks_after, m.hunks_before
        ),
        Event::CandidateStart {
            attempt, candidate, ..
        } if verbose => format!("attempt {attempt}: candidate {candidate} verifying"),
        Event::CandidateVerdict {
            attempt,
            candidate,
            verdict,
            reason,
            duration_ms,
            ..
        } => {
            let verdict = serde_json::to_value(verdict).unwrap_or_default();
            let mut t = format!(
                "attempt {attempt}: candidate {candidate}: {} ({})",
                verdict.as_str().unwrap_or("?"),
                secs(*duration_ms)
            );
            if let Some(r) = reason.as_deref().map(first_line).filter(|r| !r.is_empty()) {
                t.push_str(&format!(": {r}"));
            }
            t
        }
        Event::Signing { mode } => format!("signing ({mode})"),
        Event::Applied { workspace } => {
            format!("applied final.patch to {}", workspace.display())
        }
        Event::SessionEnd { status, .. } => {
            let status = serde_json::to_value(status).unwrap_or_default();
            format!("done: {}", status.as_str().unwrap_or("?"))
        }
        _ => return None,
    };
    Some(format!("{} {text}", stamp(line.elapsed_ms)))
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::schema::RunSummary;

    fn line(elapsed_ms: u64, event: Event) -> EventLine {
        EventLine {
            schema_version: crate::session::EVENT_SCHEMA.into(),
            seq: 1,
            ts: String::new(),
            elapsed_ms,
            event,
        }
    }

    #[test]
    fn lines_carry_the_time_and_the_phase() {
        let start = line(
            1234,
            Event::RunStart {
                phase: Phase::Baseline,
                target: "default".into(),
                command: "pytest -q".into(),
                log_dir: "/b/attempts/0_baseline/default".into(),
            },
        );
        assert_eq!(
            render(&start, false).unwrap(),
            "[  1.2s] baseline: running default: pytest -q"
        );
        assert!(render(&start, true).unwrap().contains("logs: /b/attempts"));
        let end = line(
            20_400,
            Event::RunEnd {
                phase: Phase::Verify { attempt: 2 },
                run: RunSummary {
                    target: "default".into(),
                    exit_code: 1,
                    duration_ms: 1500,
                    ..RunSummary::default()
                },
            },
        );
        assert_eq!(
            render(&end, false).unwrap(),
            "[ 20.4s] attempt 2: default failed (exit 1, 1.5s)"
        );
        let propose = line(
            20_400,
            Event::Propose {
                attempt: 1,
                provider: "suggest".into(),
                prompt_bytes: 10,
            },
        );
        assert_eq!(
            render(&propose, false).unwrap(),
            "[ 20.4s] attempt 1: proposing (suggest)"
        );
    }

    #[test]
    fn quiet_events_have_no_line_and_trials_are_thinned() {
        assert!(render(&line(0, Event::Winner { attempt: 1 }), true).is_none());
        let trial = |trial| {
            line(
                0,
                Event::SearchTrial {
                    attempt: 1,
                    trial,
                    edit: "a.py:3: `-` → `+`".into(),
                    verdict: crate::propose::search::Verdict::FailingStillFail,
                    duration_ms: 5,
                    sandbox: None,
                },
            )
        };
        assert!(render(&trial(3), false).is_none());
        assert!(render(&trial(10), false).is_some());
        assert!(render(&trial(3), true).unwrap().contains("a.py:3"));
    }

    #[test]
    fn a_heartbeat_interval_comes_from_the_environment_or_is_refused_by_name() {
        let env = |v: &str| Env::from_vars(vec![(HEARTBEAT_ENV.into(), v.into())]);
        assert_eq!(heartbeat(&Env::default()).unwrap(), HEARTBEAT_DEFAULT);
        assert_eq!(heartbeat(&env("0.5")).unwrap(), Duration::from_millis(500));
        for bad in ["0", "-1", "x", "inf"] {
            let e = heartbeat(&env(bad)).unwrap_err();
            assert!(e.to_string().contains(HEARTBEAT_ENV), "{e}");
        }
    }

    #[test]
    fn an_events_file_that_cannot_be_created_is_named_with_a_hint() {
        let e = open_stream(Path::new("/nonexistent/dir/x")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/dir/x"), "{e}");
        assert!(e.hint().unwrap().contains("/nonexistent/dir"), "{e}");
    }
}
