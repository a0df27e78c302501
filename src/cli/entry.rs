//! The binary's entry: parse, run the command, report an error, pick the exit code. Errors
//! print as `error: …` (with their causes) and `hint: …` on stderr, and, under `--json`, as one
//! `pp.error/v1` document on stdout.

use std::process::ExitCode;

use clap::Parser;

use super::args::{Cli, Command};
use crate::console::{errln, outln};
use crate::error::{EXIT_USAGE, Error};
use crate::exec::Cancel;
use crate::report::ErrorDocument;
use crate::settings::{Env, Mode};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw
        .get(1)
        .is_some_and(|a| a == crate::sandbox::ISOLATE_SUBCOMMAND)
    {
        return isolate_main(&raw[2..]);
    }
    crate::hardening::init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            // `--json` promises one JSON document on stdout, even for a bad command line.
            if raw.iter().any(|a| a == "--json") {
                // Nothing is left to report a failure to.
                let doc = clap_error_json(&e);
                let _ = outln!("{}", serde_json::to_string(&doc).unwrap_or_default());
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing(log_default(&cli.command));
    let json = cli.command.json();
    let github = cli.command.github();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("error: failed to start the async runtime: {e}");
            return ExitCode::from(crate::error::EXIT_INTERNAL);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report_error(&e, json);
            if github {
                super::github::emit_error(&e.to_string(), e.hint().as_deref(), json);
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// `pp __isolate …`: the isolation wrapper and overlay holder (see `sandbox::isolate`).
fn isolate_main(args: &[std::ffi::OsString]) -> ExitCode {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    ExitCode::from(crate::sandbox::isolate_main(&args))
}

/// pp's own log level unless `RUST_LOG` says: a session's progress comes from its events, so its
/// log shows warnings only, or everything with `-v`.
fn log_default(cmd: &Command) -> &'static str {
    match cmd {
        Command::Run { session, .. } | Command::Prove(session) => match session.verbosity() {
            super::progress::Verbosity::Verbose => "pp=info",
            _ => "pp=warn",
        },
        _ => "pp=info",
    }
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::console::QuietStderr)
        .log_internal_errors(false)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .without_time()
        .with_target(false)
        .try_init();
}

/// The `pp.error/v1` document for a command line clap refused: clap's own sentence, which names
/// the flag or value (`unexpected argument '--x' found`), and its tip as the hint.
fn clap_error_json(e: &clap::Error) -> ErrorDocument {
    let rendered = e.render().to_string();
    // The first paragraph is the error (`… not provided:` lists the arguments below it).
    let error = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let error = match error.strip_prefix("error: ") {
        Some(e) => e.to_owned(),
        None if error.is_empty() => e.kind().to_string(),
        None => error,
    };
    let hint = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("tip: "))
        .map(str::to_owned)
        .unwrap_or_else(|| "see `pp --help` or `pp <command> --help`".to_owned());
    ErrorDocument::new(error, Some(hint), EXIT_USAGE)
}

/// `error: …` with its causes, then `hint: …` on stderr; under `--json`, the `pp.error/v1`
/// document on stdout, the hint in its own field (as for a command line clap refused).
fn report_error(e: &Error, json: bool) {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!("\n  caused by: {s}"));
        source = s.source();
    }
    errln!("error: {msg}");
    let hint = e.hint();
    if let Some(h) = &hint {
        errln!("hint: {h}");
    }
    if json {
        // `hint` is always there, `null` when there is nothing to do.
        let doc = ErrorDocument::new(msg, hint, e.exit_code());
        // The exit code still tells; a stdout that cannot take the document has no better way.
        let _ = outln!("{}", serde_json::to_string(&doc).unwrap_or_default());
    }
}

/// How long pp may take to stop after SIGINT or SIGTERM before it exits as a killed pp would.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// SIGINT or SIGTERM, whichever comes first.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// A cancellation that SIGINT or SIGTERM triggers. Should pp not have stopped `STOP_GRACE`
/// later, or at a second signal (a step blocked on something that never answers, such as a
/// FIFO a repository's git configuration names), it exits at once with 130, as a killed pp
/// would: the sandboxes' watchers remove what it made and end what it started.
pub(super) fn cancel_on_signals() -> Cancel {
    let (handle, cancel) = Cancel::new();
    tokio::spawn(async move {
        stop_signal().await;
        tracing::warn!("signal received: stopping the running command and cleaning up");
        handle.cancel();
        tokio::select! {
            () = tokio::time::sleep(STOP_GRACE) => {}
            () = stop_signal() => {}
        }
        errln!(
            "error: pp did not stop within {} s of the signal; exiting now (the sandbox's watcher removes the sandbox)",
            STOP_GRACE.as_secs()
        );
        std::process::exit(130);
    });
    cancel
}

/// Runs `cmd` with the environment read once, here.
async fn dispatch(cmd: Command) -> Result<u8, Error> {
    let env = Env::snapshot();
    match cmd {
        Command::Run { cmd, session } => {
            let line = match cmd.as_slice() {
                [one] => one.clone(),
                _ => shlex::try_join(cmd.iter().map(String::as_str))
                    .unwrap_or_else(|_| cmd.join(" ")),
            };
            super::run::session(Mode::Run(line), &session, &env).await
        }
        Command::Prove(a) => super::run::session(Mode::Prove, &a, &env).await,
        Command::Replay(a) => super::replay::replay(a, &env).await,
        Command::Attest(a) => super::attest::attest(a, &env),
        Command::VerifyAttestation(a) => super::verify::verify_attestation(a, &env),
        Command::Doctor(a) => super::doctor::doctor(a, &env).await,
        Command::Show(a) => super::show::show(a, &env),
        Command::Gc(a) => super::gc::gc(a),
        Command::Completions(a) => super::completions::completions(a),
        Command::Man(a) => super::completions::man(a),
    }
}
