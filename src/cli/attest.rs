//! `pp attest`: sign a bundle with the keys the flags name (read from the resolved
//! environment), or generate an Ed25519 key pair.

use std::path::PathBuf;

use super::args::AttestArgs;
use super::output;
use crate::console::{errln, outln};
use crate::error::Error;
use crate::report::{ATTEST_SCHEMA, AttestDocument, KEYGEN_SCHEMA, KeygenDocument};
use crate::settings::Env;

/// `pp attest`: (re)write a bundle's attestation, or generate a key pair.
pub(super) fn attest(a: AttestArgs, env: &Env) -> Result<u8, Error> {
    use crate::bundle::attest;
    if let Some(private) = &a.generate_key {
        let mut public = private.clone().into_os_string();
        public.push(".pub");
        let public = PathBuf::from(public);
        attest::generate_ed25519(private, &public)?;
        let keyid = std::fs::read_to_string(&public)
            .ok()
            .and_then(|pem| attest::ed25519_public_keyid(&pem).ok());
        if a.json {
            output::print_json(&KeygenDocument {
                schema_version: KEYGEN_SCHEMA,
                success: true,
                private_key: private.clone(),
                public_key: public,
                keyid,
            })?;
        } else {
            outln!(
                "private key: {}\npublic key:  {}",
                private.display(),
                public.display()
            )?;
            if let Some(k) = keyid {
                outln!("keyid:       {k}")?;
            }
        }
        return Ok(0);
    }
    let Some(bundle) = &a.bundle else {
        return Err(Error::Usage {
            message: "no bundle given".into(),
            hint: "pp attest BUNDLE [--mode M]".into(),
        });
    };
    let keys = crate::session::sign_keys(&|k: &str| env.var(k), &a.key_env, a.key_file.as_deref())?;
    let outcome = attest::attest(bundle, a.mode.into(), &keys)?;
    for w in &outcome.warnings {
        errln!("warning: {w}");
    }
    if a.json {
        output::print_json(&AttestDocument {
            schema_version: ATTEST_SCHEMA,
            success: true,
            attestation: outcome.path,
            signed_with: outcome.signed_with,
            warnings: outcome.warnings,
        })?;
    } else {
        let with = if outcome.signed_with.is_empty() {
            "unsigned".to_owned()
        } else {
            outcome.signed_with.join(", ")
        };
        outln!("wrote {} ({with})", outcome.path.display())?;
    }
    Ok(0)
}
