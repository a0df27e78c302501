//! The environment handed to commands: the user's, minus pp's own secrets and anything the
//! policy denies, or only what the policy passes.

use std::collections::BTreeSet;

/// pp's own secrets: never passed to a command, never written to the bundle.
pub const SECRET_ENV_VARS: [&str; 3] = [
    "PP_OPENAI_API_KEY",
    "PP_LOCAL_API_KEY",
    "PP_ATTEST_HMAC_KEY",
];

/// Variables kept even under `env.pass`, so ordinary tools still work.
const BASELINE_VARS: [&str; 7] = ["PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER"];

/// Decides which variables reach a command.
#[derive(Debug, Clone, Default)]
pub struct EnvFilter {
    denied: BTreeSet<String>,
    pass_only: Option<BTreeSet<String>>,
}

impl EnvFilter {
    /// `extra_secret_vars` adds e.g. a custom attestation key env name; `deny` and `pass` come
    /// from the policy's `env` section.
    pub fn new(
        extra_secret_vars: impl IntoIterator<Item = String>,
        deny: &[String],
        pass: Option<&[String]>,
    ) -> Self {
        let mut denied: BTreeSet<String> =
            SECRET_ENV_VARS.iter().map(|s| (*s).to_owned()).collect();
        denied.extend(extra_secret_vars);
        denied.extend(deny.iter().cloned());
        let pass_only = pass.map(|p| {
            p.iter()
                .cloned()
                .chain(BASELINE_VARS.iter().map(|s| (*s).to_owned()))
                .collect()
        });
        Self { denied, pass_only }
    }

    /// Names that are never passed (for the bundle's environment record).
    pub fn denied(&self) -> impl Iterator<Item = &str> {
        self.denied.iter().map(String::as_str)
    }

    pub fn allows(&self, name: &str) -> bool {
        if self.denied.contains(name) {
            return false;
        }
        self.pass_only.as_ref().is_none_or(|p| p.contains(name))
    }

    /// The filtered view of `vars`.
    pub fn apply(&self, vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
        vars.into_iter().filter(|(k, _)| self.allows(k)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(String, String)> {
        [
            ("PATH", "/bin"),
            ("PP_OPENAI_API_KEY", "sk-x"),
            ("MY_KEY", "k"),
            ("HOME", "/root"),
            ("OTHER", "o"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
    }

    #[test]
    fn secrets_and_denied_are_dropped() {
        let f = EnvFilter::new(["MY_KEY".to_owned()], &["OTHER".to_owned()], None);
        let names: Vec<_> = f.apply(vars()).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["PATH", "HOME"]);
    }

    #[test]
    fn pass_keeps_only_named_plus_baseline() {
        let f = EnvFilter::new(
            [],
            &[],
            Some(&["OTHER".to_owned(), "PP_OPENAI_API_KEY".to_owned()]),
        );
        let names: Vec<_> = f.apply(vars()).into_iter().map(|(k, _)| k).collect();
        // A secret stays out even when named in `pass`.
        assert_eq!(names, ["PATH", "HOME", "OTHER"]);
    }
}
