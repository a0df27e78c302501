//! Running commands: each in its own process group, with a timeout that kills the whole group,
//! output streamed to capped files with a bounded in-memory tail, and an environment without
//! pp's secrets. The only place pp starts processes for the user's commands.

mod env;
mod output;
mod run;

pub use env::{EnvFilter, SECRET_ENV_VARS};
pub use run::{
    Cancel, CancelHandle, Capture, CommandSpec, ExecError, Isolation, TIMEOUT_EXIT, read_log, run,
};
// The sandbox's watcher, which every command is reported to, lives with the sandbox.
pub use crate::sandbox::{GroupWatch, signal_command};
