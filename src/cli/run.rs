//! `pp run CMD` and `pp prove`: a session over settings resolved once from the flags, the
//! environment and the policy file; the JSON summary or the human one.

use super::args::SessionArgs;
use super::output;
use crate::error::{EXIT_USAGE, Error};
use crate::report::github::GithubEnv;
use crate::settings::{Env, Mode, Settings};

/// `pp run` and `pp prove`: resolve the settings once, run the session, report it.
pub(super) async fn session(mode: Mode, args: &SessionArgs, env: &Env) -> Result<u8, Error> {
    let settings = Settings::resolve(
        &output::workspace()?,
        mode,
        &args.flags(),
        env.vars().to_vec(),
        output::self_exe()?,
    )?;
    let watchers = super::progress::watchers(args.events.as_deref(), args.verbosity(), env)?;
    let cancel = super::entry::cancel_on_signals();
    let outcome = crate::session::run_session(&settings, cancel, watchers).await?;
    if GithubEnv::enabled(args.github, env.vars()) {
        super::github::emit(
            &outcome,
            &GithubEnv::from_vars(env.vars(), &settings.workspace),
            args.json,
        );
    }
    if args.json {
        output::print_json(&crate::report::summary(&outcome))?;
    } else {
        crate::console::out(&crate::report::human_summary(&outcome))?;
    }
    if outcome.apply_refused.is_some() {
        // The proof stands, but what the user asked for (--apply) did not happen.
        return Ok(EXIT_USAGE);
    }
    Ok(outcome.status.exit_code())
}
