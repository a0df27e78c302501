//! The command line: clap types (`args`), one file per command (`run` for `run` and `prove`,
//! `replay`, `attest`, `verify`, `doctor`, `show`, `gc`, `completions` for `completions` and
//! `man`; `github` writes GitHub Actions output), and the entry that parses, dispatches,
//! reports errors and picks the exit code. Commands print stdout (data) and stderr (everything
//! else); each works from settings resolved once: its flags, the environment read once
//! (`settings::Env`), and the policy file. `progress` draws a session's events on stderr.

mod args;
mod attest;
mod completions;
mod doctor;
mod entry;
mod gc;
mod github;
mod output;
mod progress;
mod replay;
mod run;
mod show;
mod verify;

pub use args::{
    AttestArgs, Cli, Command, DoctorArgs, ModeArg, ReplayArgs, RequireArg, SessionArgs, VerifyArgs,
};
pub use entry::main;
