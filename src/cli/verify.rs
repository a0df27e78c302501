//! `pp verify-attestation`: the verifier's keys come from the flags and the resolved
//! environment, never from the bundle.

use serde_json::json;

use super::args::{RequireArg, VerifyArgs};
use super::output;
use crate::console::{errln, outln};
use crate::error::{EXIT_MISMATCH, Error};
use crate::settings::Env;

/// `pp verify-attestation`: check a bundle against its attestation and the verifier's keys.
pub(super) fn verify_attestation(a: VerifyArgs, env: &Env) -> Result<u8, Error> {
    let report = crate::session::verify_bundle(
        &a.bundle,
        env,
        &a.key_env,
        &a.public_key,
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
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["schema_version"] = json!("pp.verify/v1");
        v["bundle_status"] = json!(bundle_status);
        output::print_json(&v)?;
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
