//! Attestation of proof bundles: writes `attestation.json` (a DSSE envelope around an in-toto
//! Statement v1 naming every other bundle file by sha256) and verifies it against keys the
//! verifier supplies. Reading the legacy veripatch format lives here too; replaying the proof is
//! left to the caller, which gets the verified statement and per-file digests from [`verify`].

mod dsse;
mod error;
mod json;
mod keys;
mod legacy;
mod sign;
mod statement;
mod verify;
mod walk;

pub use dsse::{PAYLOAD_TYPE, pae};
pub use error::AttestError;
pub use keys::{
    DEFAULT_HMAC_KEY_ENV, HMAC_KEYID, MIN_HMAC_KEY_LEN, Mode, SignKeys, Trust, VerifyKeys,
    ed25519_public_keyid, generate_ed25519,
};
pub use sign::{ATTESTATION_FILE, AttestOutcome, attest};
pub use statement::{PREDICATE_TYPE, ProofTarget, STATEMENT_TYPE};
pub use verify::{AttestationFormat, VerifyReport, verify};
