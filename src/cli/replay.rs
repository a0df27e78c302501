//! `pp replay`: the verification that comes first, then the replay, then its report.

use super::args::ReplayArgs;
use super::output;
use crate::console::{errln, outln};
use crate::error::{EXIT_MISMATCH, Error};
use crate::settings::Env;

/// `pp replay`: verify first whenever anything can vouch for the bundle, then replay it.
pub(super) async fn replay(a: ReplayArgs, env: &Env) -> Result<u8, Error> {
    // Verification comes first whenever there is something to verify with or against: a key,
    // a required trust level, or an attestation in the bundle. A bundle nothing vouches for is
    // replayed only on request (`--allow-unsigned`): its commands and policy are its author's.
    let keyed = crate::session::verify_key_configured(env, &a.keys.key_env, &a.keys.public_key);
    let attested = a.bundle.join("attestation.json").symlink_metadata().is_ok();
    let verified = if a.verify_attestation || keyed || a.require.is_some() || attested {
        let report = crate::session::verify_bundle(
            &a.bundle,
            env,
            &a.keys.key_env,
            &a.keys.public_key,
            super::verify::require(a.require),
            a.allow_unsigned,
        )?;
        if !report.ok {
            return Ok(refuse_replay(&report.problems, a.json));
        }
        errln!(
            "attestation verified (trust: {})",
            super::verify::trust_name(&report)
        );
        Some(report)
    } else if a.allow_unsigned {
        errln!(
            "note: the bundle has no attestation.json; replaying its own commands and policy unverified (--allow-unsigned)"
        );
        None
    } else {
        if !a.bundle.is_dir() {
            return Err(Error::Usage {
                message: format!("{} is not a bundle directory", a.bundle.display()),
                hint:
                    "pass a session's proof_bundle folder: .pp-artifacts/<session-id>/proof_bundle"
                        .into(),
            });
        }
        let problem = format!(
            "the bundle is unsigned (no attestation.json) and no verification key is configured: nothing vouches for the commands, policy and patch it would run (hint: replay a bundle attested with `pp attest` while {} or --public-key gives its key, or pass --allow-unsigned to run it as it is)",
            a.keys.key_env
        );
        return Ok(refuse_replay(&[problem], a.json));
    };
    let opts = crate::session::ReplayOptions {
        bundle: a.bundle.clone(),
        cwd: a.cwd.clone(),
        allow_different_source: a.allow_different_source,
        self_exe: output::self_exe()?,
        env: env.vars().to_vec(),
        withheld: vec![a.keys.key_env.clone()],
        verified,
    };
    let out = crate::session::replay(&opts, super::entry::cancel_on_signals()).await?;
    if a.json {
        output::print_json(&serde_json::to_value(&out).unwrap_or_default())?;
    } else {
        outln!("replay: {} — {}", out.status, out.message)?;
        if let Some(h) = &out.hint {
            outln!("hint: {h}")?;
        }
        for t in &out.targets {
            outln!(
                "  {}: exit {} ({})",
                t.name,
                t.exit_code,
                if t.passed { "pass" } else { "FAIL" }
            )?;
        }
    }
    Ok(out.exit_code())
}

/// Reports a replay refused before anything ran; the exit code.
fn refuse_replay(problems: &[String], json: bool) -> u8 {
    let refused = crate::session::ReplayRefused::new(problems.to_vec());
    if json {
        let _ = output::print_json(&refused);
    } else {
        let _ = outln!("replay refused: the bundle is not verified:");
        for p in problems {
            let _ = outln!("- {p}");
        }
        let _ = outln!("hint: {}", refused.hint);
    }
    EXIT_MISMATCH
}
