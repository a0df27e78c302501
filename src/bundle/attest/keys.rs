//! Signing modes, key material, trust levels, and the HMAC-SHA256 / Ed25519 primitives.
//! Reading keys from the environment or from files is the caller's job (settings); this file
//! only checks, uses and generates key bytes.

use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::AttestError;

/// The environment variable holding the HMAC key unless the policy or `--key-env` names another.
pub const DEFAULT_HMAC_KEY_ENV: &str = "PP_ATTEST_HMAC_KEY";

/// Shorter HMAC keys are refused: a guessable secret makes every signature forgeable.
pub const MIN_HMAC_KEY_LEN: usize = 32;

/// The keyid of HMAC signatures. Fixed on purpose: any key-derived id (even a hash) would give
/// an attacker an offline oracle for guessing the secret.
pub const HMAC_KEYID: &str = "hmac-sha256";

/// Bytes of an Ed25519 signature.
pub(crate) const ED25519_SIGNATURE_LEN: usize = ed25519_dalek::SIGNATURE_LENGTH;

/// How `attest` signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Sign with every configured key; warn and write an unsigned envelope when there is none.
    Auto,
    /// Sign with the HMAC key only; fail when it is missing.
    HmacSha256,
    /// Sign with the Ed25519 private key only; fail when it is missing.
    Ed25519,
    /// Write an unsigned envelope.
    None,
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Mode::Auto),
            "hmac-sha256" | "hmac" => Ok(Mode::HmacSha256),
            "ed25519" => Ok(Mode::Ed25519),
            "none" => Ok(Mode::None),
            other => Err(format!(
                "unknown attestation mode {other:?}; expected auto, hmac-sha256, ed25519 or none"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Auto => "auto",
            Mode::HmacSha256 => "hmac-sha256",
            Mode::Ed25519 => "ed25519",
            Mode::None => "none",
        })
    }
}

/// Keys available for signing, already read by the caller.
#[derive(Clone, Default)]
pub struct SignKeys {
    /// HMAC key bytes (from the key env var).
    pub hmac: Option<Vec<u8>>,
    /// PKCS#8 PEM text of an Ed25519 private key (from the key file).
    pub ed25519_private_pem: Option<String>,
}

impl fmt::Debug for SignKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignKeys")
            .field("hmac", &self.hmac.as_ref().map(|_| "<redacted>"))
            .field(
                "ed25519_private_pem",
                &self.ed25519_private_pem.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Keys the verifier trusts. Nothing in the bundle ever adds to these.
#[derive(Clone, Default)]
pub struct VerifyKeys {
    /// HMAC key bytes (from the key env var).
    pub hmac: Option<Vec<u8>>,
    /// SPKI PEM texts of trusted Ed25519 public keys.
    pub ed25519_public_pems: Vec<String>,
}

impl VerifyKeys {
    /// True when any key is configured: then an unsigned attestation fails.
    pub fn any(&self) -> bool {
        self.hmac.is_some() || !self.ed25519_public_pems.is_empty()
    }
}

impl fmt::Debug for VerifyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKeys")
            .field("hmac", &self.hmac.as_ref().map(|_| "<redacted>"))
            .field("ed25519_public_pems", &self.ed25519_public_pems.len())
            .finish()
    }
}

/// How much a verified attestation is worth, weakest first: a shared secret proves less than a
/// public-key signature anyone can check.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    Unsigned,
    Hmac,
    Ed25519,
}

impl FromStr for Trust {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unsigned" | "none" => Ok(Trust::Unsigned),
            "hmac" | "hmac-sha256" => Ok(Trust::Hmac),
            "ed25519" => Ok(Trust::Ed25519),
            other => Err(format!(
                "unknown trust level {other:?}; expected hmac or ed25519"
            )),
        }
    }
}

impl fmt::Display for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trust::Unsigned => "unsigned",
            Trust::Hmac => "hmac",
            Trust::Ed25519 => "ed25519",
        })
    }
}

/// Refuses HMAC keys shorter than [`MIN_HMAC_KEY_LEN`].
pub(crate) fn check_hmac_key(key: &[u8]) -> Result<(), AttestError> {
    if key.len() < MIN_HMAC_KEY_LEN {
        return Err(AttestError::HmacKeyTooShort {
            len: key.len(),
            min: MIN_HMAC_KEY_LEN,
        });
    }
    Ok(())
}

fn hmac_for(key: &[u8]) -> Option<Hmac<Sha256>> {
    // HMAC accepts keys of any length, so this is `Some` in practice.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()
}

pub(crate) fn hmac_sign(key: &[u8], message: &[u8]) -> Result<Vec<u8>, AttestError> {
    let mut mac = hmac_for(key).ok_or(AttestError::HmacKeyTooShort {
        len: key.len(),
        min: MIN_HMAC_KEY_LEN,
    })?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// Constant-time check of an HMAC-SHA256 tag.
pub(crate) fn hmac_verify(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    match hmac_for(key) {
        Some(mut mac) => {
            mac.update(message);
            mac.verify_slice(tag).is_ok()
        }
        None => false,
    }
}

/// Reads a PKCS#8 PEM Ed25519 private key, v1 or v2; a v2 key's embedded public key must match.
pub(crate) fn parse_private_pem(pem: &str) -> Result<SigningKey, AttestError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| AttestError::PrivateKey {
        reason: e.to_string(),
    })
}

pub(crate) fn parse_public_pem(pem: &str) -> Result<VerifyingKey, AttestError> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| AttestError::PublicKey {
        reason: e.to_string(),
    })
}

/// The keyid pp writes for an Ed25519 key: the one securesystemslib 1.x (and so the in-toto and
/// TUF tooling) computes for it by default (`SSlibKey.from_crypto` → `compute_default_keyid`),
/// the hex sha256 of the OLPC canonical JSON of the public key dict
/// `{"keytype":"ed25519","keyval":{"public":"<hex of the raw key>"},"scheme":"ed25519"}`
/// (keys sorted, no whitespace; hex needs no escaping, so the text is built directly).
pub(crate) fn ed25519_keyid(key: &VerifyingKey) -> String {
    sslib_keyid(key, "")
}

/// Every keyid that names this key when verifying: [`ed25519_keyid`]; securesystemslib 0.x's,
/// whose dict also held `"keyid_hash_algorithms":["sha256","sha512"]`; and the
/// `ed25519:<hex sha256 of the raw key>` pp wrote before it used securesystemslib's.
pub(crate) fn ed25519_keyids(key: &VerifyingKey) -> [String; 3] {
    [
        ed25519_keyid(key),
        sslib_keyid(key, r#""keyid_hash_algorithms":["sha256","sha512"],"#),
        format!("ed25519:{}", hex(&Sha256::digest(key.as_bytes()))),
    ]
}

/// securesystemslib's keyid of `key`, with `extra` (canonical members sorting before
/// `keytype`, each followed by a comma) in the dict.
fn sslib_keyid(key: &VerifyingKey, extra: &str) -> String {
    let canonical = format!(
        r#"{{{extra}"keytype":"ed25519","keyval":{{"public":"{}"}},"scheme":"ed25519"}}"#,
        hex(key.as_bytes())
    );
    hex(&Sha256::digest(canonical.as_bytes()))
}

/// The keyid that signatures by this SPKI PEM public key carry (for display and `doctor`).
pub fn ed25519_public_keyid(public_pem: &str) -> Result<String, AttestError> {
    Ok(ed25519_keyid(&parse_public_pem(public_pem)?))
}

pub(crate) fn ed25519_sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    key.sign(message).to_bytes().to_vec()
}

/// Strict Ed25519 verification (rejects small-order and non-canonical encodings).
pub(crate) fn ed25519_verify(key: &VerifyingKey, message: &[u8], sig: &[u8]) -> bool {
    match Signature::from_slice(sig) {
        Ok(sig) => key.verify_strict(message, &sig).is_ok(),
        Err(_) => false,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Creates a new Ed25519 key pair: the private key as PKCS#8 PEM (mode 0600 on Unix, as the
/// temp file is created) and the public key as SPKI PEM. Refuses to overwrite either file.
pub fn generate_ed25519(private_out: &Path, public_out: &Path) -> Result<(), AttestError> {
    for path in [private_out, public_out] {
        if path.symlink_metadata().is_ok() {
            return Err(AttestError::KeyFileExists {
                path: path.to_path_buf(),
            });
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| AttestError::Randomness {
        reason: e.to_string(),
    })?;
    let signing = SigningKey::from_bytes(&seed);
    let private_pem = private_pem_v1(&signing)?;
    let public_pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| AttestError::PublicKey {
            reason: e.to_string(),
        })?;
    write_new(private_out, private_pem.as_bytes())?;
    write_new(public_out, public_pem.as_bytes())
}

/// The private key as PKCS#8 v1 PEM (RFC 5208, no embedded public key), which OpenSSL 3.0 and
/// Python's cryptography read; `SigningKey::to_pkcs8_pem` writes v2 (RFC 5958), which they refuse.
fn private_pem_v1(signing: &SigningKey) -> Result<Zeroizing<String>, AttestError> {
    KeypairBytes {
        secret_key: signing.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| AttestError::PrivateKey {
        reason: e.to_string(),
    })
}

/// Writes a file that must not exist yet, via a temp file in the same folder.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), AttestError> {
    let write_err = |source| AttestError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            AttestError::KeyFileExists {
                path: path.to_path_buf(),
            }
        } else {
            write_err(e.error)
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let tag = hmac_sign(b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(hmac_verify(b"Jefe", b"what do ya want for nothing?", &tag));
        assert!(!hmac_verify(b"Jeff", b"what do ya want for nothing?", &tag));
        assert!(!hmac_verify(
            b"Jefe",
            b"what do ya want for nothing?",
            &tag[..31]
        ));
    }

    #[test]
    fn short_hmac_keys_are_refused_with_a_hint() {
        let e = check_hmac_key(&[7u8; 31]).unwrap_err();
        let err = e.to_string();
        assert!(
            err.contains("it is 31 bytes, at least 32 are needed"),
            "{err}"
        );
        // The hint is data beside the message, printed as its own `hint:` line.
        assert!(
            e.hint().is_some_and(|h| h.contains("openssl rand")),
            "{err}"
        );
        assert!(check_hmac_key(&[7u8; 32]).is_ok());
    }

    #[test]
    fn generated_keys_round_trip_and_sign() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("k.pem");
        let public = dir.path().join("k.pub.pem");
        generate_ed25519(&private, &public).unwrap();
        let private_pem = std::fs::read_to_string(&private).unwrap();
        let public_pem = std::fs::read_to_string(&public).unwrap();
        assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let sk = parse_private_pem(&private_pem).unwrap();
        let vk = parse_public_pem(&public_pem).unwrap();
        assert_eq!(sk.verifying_key(), vk);
        let sig = ed25519_sign(&sk, b"msg");
        assert!(ed25519_verify(&vk, b"msg", &sig));
        assert!(!ed25519_verify(&vk, b"msh", &sig));
        assert_eq!(
            ed25519_public_keyid(&public_pem).unwrap(),
            ed25519_keyid(&sk.verifying_key())
        );
    }

    /// The key of seed 7…7, whose keyids and PEM below come from securesystemslib 1.6 /
    /// 0.31 and Python's cryptography.
    fn seven() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn keyid_is_the_one_securesystemslib_computes() {
        let vk = seven().verifying_key();
        // `SSlibKey.from_crypto(pub).keyid` in securesystemslib 1.6.
        assert_eq!(
            ed25519_keyid(&vk),
            "bfe1a83869e5bf574e3ff3acbb83f840de84a990d10059f3096f0bf4f2b90c10"
        );
        let [now, sslib0, old] = ed25519_keyids(&vk);
        assert_eq!(now, ed25519_keyid(&vk));
        // `keys._get_keyid("ed25519", "ed25519", …)` in securesystemslib 0.31.
        assert_eq!(
            sslib0,
            "eab68a81e62173a71a44258d69ff4876569e173ae1d73ce908b7c8079b744ada"
        );
        assert_eq!(
            old,
            "ed25519:fe812c12f3ab4ce6ac5db69ac352f906cb1b11ef43fb33e252ef7ff552263889"
        );
    }

    #[test]
    fn private_keys_are_written_as_pkcs8_v1_and_read_in_both_versions() {
        let v1 = private_pem_v1(&seven()).unwrap();
        // What `cryptography` writes (PrivateFormat.PKCS8) for the same key: version 0, no
        // public key.
        assert_eq!(
            v1.as_str(),
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n-----END PRIVATE KEY-----\n"
        );
        assert_eq!(parse_private_pem(&v1).unwrap().to_bytes(), [7u8; 32]);
        // v2, as ed25519-dalek (and pp before) writes it, with the public key embedded.
        let v2 = seven().to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_ne!(v2.as_str(), v1.as_str());
        assert_eq!(parse_private_pem(&v2).unwrap().to_bytes(), [7u8; 32]);
        // A v2 key whose embedded public key is another key's is refused.
        let wrong = KeypairBytes {
            secret_key: [7u8; 32],
            public_key: Some(ed25519_dalek::pkcs8::PublicKeyBytes(
                SigningKey::from_bytes(&[8u8; 32])
                    .verifying_key()
                    .to_bytes(),
            )),
        }
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
        let err = parse_private_pem(&wrong).unwrap_err();
        let e = err.to_string();
        assert!(err.hint().is_some(), "{e}");
    }

    #[test]
    fn generate_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("k.pem");
        std::fs::write(&private, "keep me").unwrap();
        let err = generate_ed25519(&private, &dir.path().join("k.pub")).unwrap_err();
        assert!(matches!(err, AttestError::KeyFileExists { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&private).unwrap(), "keep me");
    }

    #[test]
    fn modes_and_trust_parse_and_print() {
        for mode in [Mode::Auto, Mode::HmacSha256, Mode::Ed25519, Mode::None] {
            assert_eq!(mode.to_string().parse::<Mode>().unwrap(), mode);
        }
        assert!(Trust::Unsigned < Trust::Hmac && Trust::Hmac < Trust::Ed25519);
        assert_eq!("ed25519".parse::<Trust>().unwrap(), Trust::Ed25519);
        assert_eq!(serde_json::to_string(&Trust::Hmac).unwrap(), "\"hmac\"");
        assert!("rsa".parse::<Trust>().is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let keys = SignKeys {
            hmac: Some(b"super-secret-super-secret-super-secret".to_vec()),
            ed25519_private_pem: Some("PRIVATE".to_owned()),
        };
        let text = format!("{keys:?}");
        assert!(
            !text.contains("super-secret") && !text.contains("PRIVATE"),
            "{text}"
        );
    }
}
