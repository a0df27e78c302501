//! Which environment variables hold secrets, judged by name, and which of their values are
//! worth searching for. The caller reads the environment; this only looks at names and values.

/// Name endings that mark a secret (compared per `_`/`-`/`.`-separated segment, upper case).
const SECRET_WORDS: &[&str] = &[
    "KEY",
    "KEYS",
    "TOKEN",
    "TOKENS",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
];

/// Shortest value searched for: shorter ones (`1`, `true`, `admin`) would redact ordinary text.
pub const MIN_SECRET_LEN: usize = 6;

/// True when a variable name looks like it holds a secret: one of its segments ends in KEY,
/// TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL or AUTH (so `OPENAI_API_KEY`, `GH_TOKEN`,
/// `DB_PASSWD`, `OAUTH_CLIENT`, `PP_ATTEST_HMAC_KEY`, but not `KEYBOARD` or `AUTHOR`).
pub fn is_secret_name(name: &str) -> bool {
    name.to_ascii_uppercase()
        .split(['_', '-', '.'])
        .any(|segment| SECRET_WORDS.iter().any(|w| segment.ends_with(w)))
}

/// True when a secret variable's value is worth redacting wherever it appears: long enough to
/// be distinctive and not a number or a switch word.
pub fn is_searchable_value(value: &str) -> bool {
    let v = value.trim();
    if v.chars().count() < MIN_SECRET_LEN {
        return false;
    }
    if v.parse::<f64>().is_ok() {
        return false;
    }
    !matches!(
        v.to_ascii_lowercase().as_str(),
        "enabled" | "disabled" | "required" | "optional" | "default"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "PP_OPENAI_API_KEY",
            "PP_ATTEST_HMAC_KEY",
            "GITHUB_TOKEN",
            "gh_token",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "MYSQL_PASSWD",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "OAUTH_CLIENT",
            "NPM_AUTH",
            "APIKEY",
            "SSH_PASSPHRASE",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "KEYBOARD",
            "AUTHOR",
            "TOKENIZER",
            "SECRETARY",
            "PWD",
            "GIT_ASKPASS",
            "RUST_LOG",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
        // Judged per segment on purpose: a `*_PASSWORD_FILE` path is redacted too, harmlessly.
        assert!(is_secret_name("DB_PASSWORD_FILE"));
    }

    #[test]
    fn searchable_values() {
        assert!(is_searchable_value("hunter22"));
        assert!(is_searchable_value("/run/secrets/db"));
        for v in [
            "", "abc", "short", "300000", "1.5e10", "enabled", "  tiny  ",
        ] {
            assert!(!is_searchable_value(v), "{v:?}");
        }
    }
}
