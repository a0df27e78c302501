//! High-entropy tokens: long runs of base64/base64url characters that look random rather than
//! like words, identifiers, paths or hashes.
//!
//! Decisions (measured on random keys and on identifiers from real Rust, Java and C code):
//! - a candidate is a run of `[A-Za-z0-9+/_-]` of at least 32 characters (plus `=` padding);
//! - it must mix upper case, lower case and digits. This deliberately leaves every hex string
//!   alone: git commit ids, sha256 digests, UUIDs and hashes in test names are identifiers in
//!   the contexts `pp` sends (logs, lockfiles, test output), and hex secrets are caught by the
//!   context rules (`api_key = "…"`) and by the secret environment values instead;
//! - digests written with their algorithm (`sha256-…`, `sha512:…`, Subresource Integrity) are
//!   left alone;
//! - identifiers and paths are told apart from random text by their structure: separators
//!   (`_`, `-`, `/`) every few characters, few changes between character classes, and long
//!   lower-case runs (words). Random base64 changes class about two times in three and rarely
//!   has three lower-case letters in a row.
//!
//! About 1–3 % of random 32-character secrets look too regular to flag; longer ones are caught
//! almost always. The known-shape rules and the environment values back this up.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// The shortest run (padding excluded) considered a possible secret.
pub const MIN_LEN: usize = 32;
/// Minimum Shannon entropy in bits per character.
const MIN_ENTROPY: f64 = 3.5;
/// Minimum share of adjacent alphanumeric pairs that change class (lower/upper/digit).
const MIN_CLASS_CHANGE_RATE: f64 = 0.4;
/// Maximum share of characters in lower-case runs of three or more (i.e. in words).
const MAX_WORDY_SHARE: f64 = 0.45;

pub(crate) struct EntropyRule {
    candidates: Regex,
}

impl EntropyRule {
    #[expect(
        clippy::expect_used,
        reason = "the pattern is a constant, compiled by every test"
    )]
    fn new() -> Self {
        EntropyRule {
            candidates: Regex::new(r"[A-Za-z0-9+/_-]{32,}={0,2}")
                .expect("entropy candidate pattern compiles"),
        }
    }

    /// The rule, compiled once per process.
    pub(crate) fn shared() -> &'static EntropyRule {
        static RULE: LazyLock<EntropyRule> = LazyLock::new(EntropyRule::new);
        &RULE
    }

    /// Ranges of `text` holding tokens that look like random secrets.
    pub(crate) fn hits(&self, text: &str) -> Vec<Range<usize>> {
        self.candidates
            .find_iter(text)
            .filter(|m| {
                !after_digest_prefix(&text[..m.start()]) && !starts_with_digest_name(m.as_str())
            })
            .filter(|m| looks_random(m.as_str()))
            .map(|m| m.range())
            .collect()
    }
}

/// True when `token` (one candidate run) looks like a random secret.
pub fn looks_random(token: &str) -> bool {
    let token = token.trim_end_matches('=');
    let bytes = token.as_bytes();
    if bytes.len() < MIN_LEN {
        return false;
    }
    let has = |f: fn(&u8) -> bool| bytes.iter().any(f);
    if !(has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase) && has(u8::is_ascii_digit)) {
        return false;
    }
    let separators = bytes
        .iter()
        .filter(|b| matches!(b, b'_' | b'-' | b'/'))
        .count();
    if separators * 8 > bytes.len() {
        return false;
    }
    class_change_rate(bytes) >= MIN_CLASS_CHANGE_RATE
        && wordy_share(bytes) < MAX_WORDY_SHARE
        && shannon_entropy(bytes) >= MIN_ENTROPY
}

/// Shannon entropy of the byte distribution, in bits per byte.
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

fn class_of(b: u8) -> u8 {
    match b {
        b'a'..=b'z' => 0,
        b'A'..=b'Z' => 1,
        b'0'..=b'9' => 2,
        _ => 3,
    }
}

fn class_change_rate(bytes: &[u8]) -> f64 {
    let mut pairs = 0u32;
    let mut changes = 0u32;
    for w in bytes.windows(2) {
        if w[0].is_ascii_alphanumeric() && w[1].is_ascii_alphanumeric() {
            pairs += 1;
            if class_of(w[0]) != class_of(w[1]) {
                changes += 1;
            }
        }
    }
    if pairs == 0 {
        0.0
    } else {
        f64::from(changes) / f64::from(pairs)
    }
}

/// Share of bytes sitting in runs of at least three lower-case letters.
fn wordy_share(bytes: &[u8]) -> f64 {
    let mut in_words = 0usize;
    let mut run = 0usize;
    for &b in bytes.iter().chain(std::iter::once(&b' ')) {
        if b.is_ascii_lowercase() {
            run += 1;
        } else {
            if run >= 3 {
                in_words += run;
            }
            run = 0;
        }
    }
    in_words as f64 / bytes.len() as f64
}

const DIGESTS: &[&str] = &[
    "sha1", "sha224", "sha256", "sha384", "sha512", "md5", "blake2b", "blake3",
];

/// True for `sha512-…` (Subresource Integrity), where the algorithm is part of the run.
fn starts_with_digest_name(token: &str) -> bool {
    let head = token.get(..8).unwrap_or(token).to_ascii_lowercase();
    DIGESTS.iter().any(|alg| {
        head.strip_prefix(alg)
            .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// True when the text just before a token names a digest algorithm (`sha256:`, `md5=`, …).
fn after_digest_prefix(before: &str) -> bool {
    let tail: String = before
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_ascii_lowercase();
    let Some(sep) = tail.strip_suffix(['-', ':', '=']) else {
        return false;
    };
    DIGESTS.iter().any(|alg| sep.ends_with(alg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_values() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn random_tokens_are_flagged() {
        for t in [
            "7Fq2kLpZ9xWc3VbN8mQr1TsY6uHj0GdE4aKo",
            "kJN6XerooB-8fbl9j55-Ub2RqM1zT0wYcA3d",
            "m/ZcjC+onWHItzCBfj3VpL0aQ7rT2xYk9sE=",
        ] {
            assert!(looks_random(t), "{t}");
        }
    }

    #[test]
    fn structured_tokens_are_not() {
        for t in [
            "3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
            "3F2A9C1E8B7D6A5F4E3D2C1B0A9F8E7D6C5B4A39",
            "test_regression_3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
            "HttpResponse2xxHandlerFactoryBeanImpl",
            "src/main/java/com/example/Service2Impl",
            "aws_lc_0_47_0_i2d_re_X509_REQ_tbs",
            "FlushL1DCacheOnContextSwitchOutOfTask",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1a",
            "short7Fq2kLpZ9x",
        ] {
            assert!(!looks_random(t), "{t}");
        }
    }

    #[test]
    fn digest_prefixes() {
        assert!(after_digest_prefix("image@sha256:"));
        assert!(after_digest_prefix("MD5="));
        assert!(!after_digest_prefix("token="));
        assert!(starts_with_digest_name("sha512-Kq5sNclPz7QV2"));
        assert!(!starts_with_digest_name("shaky-Kq5sNclPz7QV2"));
    }
}
