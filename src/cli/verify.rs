//! `pp verify-attestation`: the verifier's keys come from the flags and the resolved
//! environment, never from the bundle.

use super::args::{RequireArg, VerifyArgs};
use super::output;
use crate::console::{errln, outln};
use crate::error::{EXIT_MISMATCH, Error};
use crate::report::{VERIFY_SCHEMA, VerifyDocument};
use crate::settings::Env;

/// `pp verify-attestation`: check a bundle against its attestation and the verifier's keys.
pub(super) fn verify_attestation(a: VerifyArgs, env: &Env) -> Result<u8, Error> {
    let report = crate::session::verify_bundle(
        &a.bundle,
        env,
        &a.keys.key_env,
        &a.keys.public_key,
        require(a.require),
        a.allow_unsigned,
    )?;
    for n in &report.notes {
        errln!("note: {n}");
    }
    // A signature vouches for the bytes, not for a finished session: say which it was.
    let bundle_status = report.proof().and_then(|p| p.status().map(str::to_owned));
    if let Some(s) = bundle_status.as_deref()
        && matches!(s, "interrupted" | "running")
    {
        errln!("note: the bundle records an unfinished session (status `{s}`)");
    }
    if a.json {
        // `success` as in every other document; `ok` stays, its alias since v1 began.
        output::print_json(&VerifyDocument {
            schema_version: VERIFY_SCHEMA,
            success: report.ok,
            hint: (!report.ok).then(|| VERIFY_HINT.to_owned()),
            bundle_status,
            report: report.clone(),
        })?;
    } else if report.ok {
        outln!(
            "ok: {} (trust: {})",
            a.bundle.display(),
            trust_name(&report)
        )?;
    } else {
        outln!("FAILED: {}", a.bundle.display())?;
        for p in &report.problems {
            outln!("- {p}")?;
        }
    }
    Ok(if report.ok { 0 } else { EXIT_MISMATCH })
}

/// What to do about a bundle that failed verification.
const VERIFY_HINT: &str = "verification trusts only the keys it is given: set the HMAC key the bundle was signed with (PP_ATTEST_HMAC_KEY, or --key-env NAME) or pass --public-key F for Ed25519; --allow-unsigned accepts a bundle on its digests alone when no key is configured; a changed, missing or extra file means the bundle is not the one that was signed";

/// The trust level's name, as the JSON report spells it.
pub(super) fn trust_name(report: &crate::bundle::attest::VerifyReport) -> String {
    serde_json::to_value(report.trust)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The trust `--require` asks for.
pub(super) fn require(r: Option<RequireArg>) -> Option<crate::bundle::attest::Trust> {
    use crate::bundle::attest::Trust;
    r.map(|r| match r {
        RequireArg::Hmac => Trust::Hmac,
        RequireArg::Ed25519 => Trust::Ed25519,
    })
}
