//! Attestation of proof bundles: writes `attestation.json` (a DSSE envelope around an in-toto
//! Statement v1 naming every other bundle file by sha256) and verifies it against keys the
//! verifier supplies. Reading the legacy veripatch format lives here too; replaying the proof is
//! left to the caller, which gets the verified statement and per-file digests from [`verify`].
//!
//! # Format (API; changed only on purpose)
//!
//! `attestation.json` is `{"payloadType": "application/vnd.in-toto+json", "payload": <base64>,
//! "signatures": [{"keyid", "sig": <base64>}]}`. Each `sig` covers the DSSE v1 PAE of the
//! payload type and the decoded payload bytes. The payload is an in-toto Statement v1:
//! `_type` `https://in-toto.io/Statement/v1`; one `subject` per bundle file except
//! `attestation.json` itself (`name`: bundle-relative `/` path, `digest.sha256`: lowercase hex),
//! sorted by name; `predicateType` [`PREDICATE_TYPE`]; `predicate` copied leniently from
//! `repro.json` (`status`, `command`, `targets` as `[{name, cmd, argv}]`, `policy_sha256`,
//! `source {git_commit, git_dirty, dirty_diff_sha256}`, `sandbox`, `isolation`, `provider`,
//! `model`, `pp_version`, `timings`; absent fields are `null`) plus `attester {name, version}`.
//!
//! Keyids: `hmac-sha256` for HMAC (never derived from the secret); for Ed25519 the keyid
//! securesystemslib 1.x computes by default, the hex sha256 of the canonical JSON
//! `{"keytype":"ed25519","keyval":{"public":"<hex raw key>"},"scheme":"ed25519"}`, so in-toto
//! and TUF tooling find the key without being told. Verification also takes securesystemslib
//! 0.x's keyid and pp's earlier `ed25519:<hex sha256 of the raw key>` as naming the key. Keyids
//! are hints; trust comes only from the verifier's keys.
//!
//! Keys: private keys are PKCS#8 PEM, written as v1 (what OpenSSL 3.0 reads) and read as v1 or
//! v2; public keys are SPKI PEM.
//!
//! # Verification rules
//!
//! Trust is `ed25519` > `hmac` > `unsigned`: the strongest signature that verifies with a
//! supplied key. When any key is supplied, an envelope without signatures, or with none that
//! verifies, fails; so does a signature whose keyid names a supplied key but does not verify.
//! Signatures no supplied key can check are noted, not failed. Without keys every bundle is at
//! best `unsigned`, and `require` turns a lower level into a failure. The bundle's files must
//! equal the subjects exactly; symlinks (never followed), special files, names with `..`, `.`,
//! empty components, a leading `/`, a backslash or a control character, duplicate JSON keys,
//! trailing data, unknown envelope or statement fields and malformed base64 (unpadded, stray
//! characters, mixed alphabets, non-canonical) all fail, each with what is wrong and where.
//! Verification never stops at the first problem: the report lists them all.

mod b64;
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
