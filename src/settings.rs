//! Resolved settings: flags, environment and policy file merged once, before any work starts
//! (CLI > environment > policy file > defaults). The session never looks at argv or the
//! environment again.

use std::path::{Path, PathBuf};

use crate::policy::{self, AttestMode, LoadedPolicy, PolicyDoc, TargetSpec};
use crate::propose::openai::{ConfigError, Flavor, HttpConfig};
use crate::propose::{self, ProviderSpec};

/// Which proof targets a session proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `pp run CMD`: one target named `default`.
    Run(String),
    /// `pp prove`: every `proof_targets` entry.
    Prove,
}

/// Attestation settings after flags and policy are merged.
#[derive(Debug, Clone)]
pub struct AttestSettings {
    pub enabled: bool,
    pub mode: AttestMode,
    pub key_env: String,
    pub key_file: Option<PathBuf>,
}

/// Flags of `run` / `prove` after parsing (the CLI's plain view of them).
#[derive(Debug, Clone, Default)]
pub struct SessionFlags {
    pub policy: Option<PathBuf>,
    pub provider: Option<String>,
    pub json: bool,
    pub attest: bool,
    pub attestation_mode: Option<AttestMode>,
    pub attestation_key_env: Option<String>,
    pub attestation_key_file: Option<PathBuf>,
    pub keep_sandbox: bool,
    pub apply: bool,
    pub context: Option<String>,
    /// `--trust-policy`: the policy file may name host programs pp runs with its secrets.
    pub trust_policy: bool,
}

/// The environment pp started with, read once (through `hardening::vars`, secrets included:
/// callers filter what they pass on). Every command takes its variables from here; none reads
/// the process environment itself.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    /// The snapshot `hardening::init` took (or the process environment, before it).
    pub fn snapshot() -> Self {
        Self {
            vars: crate::hardening::vars(),
        }
    }

    pub fn from_vars(vars: Vec<(String, String)>) -> Self {
        Self { vars }
    }

    /// One variable, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// One variable as an owned value (the shape key readers take).
    pub fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }
}

/// Environment variable that trusts the policy file's host programs, as `--trust-policy`.
pub const TRUST_POLICY_ENV: &str = "PP_TRUST_POLICY";

/// Container runtimes pp knows by name (found on `PATH`); any other value is a program path a
/// policy file chose.
pub const KNOWN_RUNTIMES: &[&str] = &["docker", "podman"];

/// The host programs a policy file names that would run outside the sandbox, with pp's
/// environment: they need the user's explicit trust, since in CI that file comes from the
/// change under test.
pub fn untrusted_programs(doc: &PolicyDoc, chain: &[ProviderSpec]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(cmd) = &doc.policy.provider.command
        && chain
            .iter()
            .any(|c| matches!(c, ProviderSpec::Command(argv) if argv == cmd))
    {
        out.push(format!("policy.provider.command `{}`", cmd.join(" ")));
    }
    let runtime = &doc.policy.sandbox.container_runtime;
    if !KNOWN_RUNTIMES.contains(&runtime.as_str()) {
        out.push(format!("policy.sandbox.container_runtime `{runtime}`"));
    }
    out
}

/// Everything a session needs, resolved and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub workspace: PathBuf,
    pub policy: LoadedPolicy,
    /// The policy file's path relative to the workspace, when it lies inside it.
    pub policy_rel: Option<String>,
    pub mode: Mode,
    pub targets: Vec<TargetSpec>,
    pub chain: Vec<ProviderSpec>,
    pub provider_label: String,
    pub attest: AttestSettings,
    pub keep_sandbox: bool,
    pub apply: bool,
    pub json: bool,
    pub user_context: Option<String>,
    /// pp's own executable, for the isolation wrapper.
    pub self_exe: PathBuf,
    /// The process environment, read once.
    pub env: Vec<(String, String)>,
    /// Endpoint settings of the HTTP proposers in the chain (from `PP_OPENAI_*`, `PP_LOCAL_*`).
    pub openai: Option<HttpConfig>,
    pub local: Option<HttpConfig>,
}

/// Errors resolving settings: the user's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
    #[error(transparent)]
    Provider(#[from] propose::ProposeError),
    #[error(transparent)]
    Model(#[from] ConfigError),
    #[error("{message}")]
    Invalid { message: String, hint: String },
}

impl SettingsError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Policy(e) => e.hint().map(str::to_owned),
            Self::Provider(e) => e.hint().map(str::to_owned),
            Self::Model(e) => e.hint(),
            Self::Invalid { hint, .. } => Some(hint.clone()),
        }
    }
}

impl Settings {
    /// Resolves a `run`/`prove` invocation in `workspace` with the given environment.
    pub fn resolve(
        workspace: &Path,
        mode: Mode,
        flags: &SessionFlags,
        env: Vec<(String, String)>,
        self_exe: PathBuf,
    ) -> Result<Self, SettingsError> {
        let workspace = workspace
            .canonicalize()
            .map_err(|e| SettingsError::Invalid {
                message: format!("cannot use working directory {}: {e}", workspace.display()),
                hint: "run pp from the project's directory".into(),
            })?;
        let mut policy = policy::load(&workspace, flags.policy.as_deref())?;
        let policy_rel = policy
            .path
            .as_ref()
            .and_then(|p| p.canonicalize().ok())
            .and_then(|p| {
                p.strip_prefix(&workspace)
                    .ok()
                    .map(|r| r.to_string_lossy().into_owned())
            });
        let targets = match &mode {
            Mode::Run(cmd) => {
                if cmd.trim().is_empty() {
                    return Err(SettingsError::Invalid {
                        message: "the command to prove is empty".into(),
                        hint: "write e.g. `pp run \"cargo test\"`".into(),
                    });
                }
                let p = &mut policy.doc.policy;
                if p.allowed_commands.is_none() && p.allowed_argv.is_none() {
                    // Without an allowlist in the file, `pp run CMD` allows exactly CMD.
                    p.allowed_commands = Some(vec![cmd.clone()]);
                }
                vec![TargetSpec {
                    name: "default".into(),
                    cmd: Some(cmd.clone()),
                    argv: None,
                    junit: None,
                }]
            }
            Mode::Prove => {
                if policy.doc.proof_targets.is_empty() {
                    return Err(SettingsError::Invalid {
                        message: match &policy.path {
                            Some(p) => format!("{} defines no `proof_targets`", p.display()),
                            None => "no policy file (pp.yaml, pp.yml, pp.json) found and no --policy given".into(),
                        },
                        hint: "add `proof_targets: [{name: unit, cmd: \"pytest -q\"}]` to the policy, or use `pp run CMD`".into(),
                    });
                }
                policy.doc.proof_targets.clone()
            }
        };
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (provider_label, mut chain) = resolve_provider(flags, &policy.doc, &lookup)?;
        let trusted = flags.trust_policy || lookup(TRUST_POLICY_ENV).is_some_and(|v| v == "1");
        if let Some(path) = &policy.path
            && !trusted
        {
            let programs = untrusted_programs(&policy.doc, &chain);
            if !programs.is_empty() {
                return Err(SettingsError::Invalid {
                    message: format!(
                        "{} names host programs pp would run outside the sandbox with your environment: {}",
                        path.display(),
                        programs.join(", ")
                    ),
                    hint: format!(
                        "a policy file alone never does that (in CI it comes from the change under test): if you trust this file, pass --trust-policy or set {TRUST_POLICY_ENV}=1; or give the proposer as `--provider command:PATH`"
                    ),
                });
            }
        }
        // Proposers run inside the sandbox: a relative program path means the user's directory.
        for spec in &mut chain {
            if let ProviderSpec::Command(argv) = spec
                && let Some(prog) = argv.first_mut()
                && prog.contains('/')
                && Path::new(prog.as_str()).is_relative()
            {
                *prog = workspace.join(&*prog).to_string_lossy().into_owned();
            }
        }
        let http = |flavor: Flavor, name: &str| -> Result<Option<HttpConfig>, SettingsError> {
            if chain.iter().any(|c| c.name() == name) {
                let mut cfg = HttpConfig::from_lookup(flavor, &lookup)?;
                let pc = &policy.doc.policy.provider;
                cfg.retry_budget = std::time::Duration::from_secs(pc.retry_budget_sec);
                cfg.max_retries = pc.max_retries;
                Ok(Some(cfg))
            } else {
                Ok(None)
            }
        };
        let openai = http(Flavor::OpenAi, "openai")?;
        let local = http(Flavor::Local, "local")?;
        let att = &policy.doc.policy.attestation;
        let attest = AttestSettings {
            enabled: flags.attest || att.enabled,
            mode: flags.attestation_mode.unwrap_or(att.mode),
            key_env: flags
                .attestation_key_env
                .clone()
                .unwrap_or_else(|| att.key_env.clone()),
            key_file: flags
                .attestation_key_file
                .clone()
                .or_else(|| att.key_file.as_ref().map(|f| workspace.join(f))),
        };
        if attest.enabled {
            check_attestation_keys(&attest, &lookup)?;
        }
        let user_context = match &flags.context {
            Some(c) => Some(read_context(c, &workspace)?),
            None => None,
        };
        Ok(Self {
            workspace,
            policy,
            policy_rel,
            mode,
            targets,
            chain,
            provider_label,
            attest,
            keep_sandbox: flags.keep_sandbox,
            apply: flags.apply,
            json: flags.json,
            user_context,
            self_exe,
            env,
            openai,
            local,
        })
    }

    pub fn doc(&self) -> &PolicyDoc {
        &self.policy.doc
    }

    pub fn lookup_env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Signing keys are checked before any work, so a session never ends unsigned for a key problem
/// found after the fact.
fn check_attestation_keys(
    attest: &AttestSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), SettingsError> {
    use crate::bundle::attest::{MIN_HMAC_KEY_LEN, Mode};
    let hmac = env(&attest.key_env).filter(|v| !v.is_empty());
    if let Some(k) = &hmac
        && k.len() < MIN_HMAC_KEY_LEN
        && matches!(attest.mode, Mode::Auto | Mode::HmacSha256)
    {
        return Err(SettingsError::Invalid {
            message: format!(
                "the attestation key in ${} has {} bytes; at least {MIN_HMAC_KEY_LEN} are required",
                attest.key_env,
                k.len()
            ),
            hint: format!(
                "export {}=\"$(head -c 32 /dev/urandom | base64)\"",
                attest.key_env
            ),
        });
    }
    match attest.mode {
        Mode::HmacSha256 if hmac.is_none() => Err(SettingsError::Invalid {
            message: format!("attestation mode hmac-sha256 needs a key in ${}", attest.key_env),
            hint: format!("export {} (at least {MIN_HMAC_KEY_LEN} bytes), or use --attestation-mode auto", attest.key_env),
        }),
        Mode::Ed25519 if attest.key_file.is_none() => Err(SettingsError::Invalid {
            message: "attestation mode ed25519 needs a private key".into(),
            hint: "set `policy.attestation.key_file` to a PKCS#8 PEM key (`pp attest --generate-key F` makes one)".into(),
        }),
        _ => match &attest.key_file {
            Some(f) if !f.is_file() => Err(SettingsError::Invalid {
                message: format!("attestation key file {} does not exist", f.display()),
                hint: "fix `policy.attestation.key_file` (relative to the working directory)".into(),
            }),
            _ => Ok(()),
        },
    }
}

/// `--context TEXT` or `--context @FILE`.
fn read_context(value: &str, workspace: &Path) -> Result<String, SettingsError> {
    match value.strip_prefix('@') {
        Some(file) => {
            let path = workspace.join(file);
            std::fs::read_to_string(&path).map_err(|e| SettingsError::Invalid {
                message: format!("cannot read --context file {}: {e}", path.display()),
                hint: "use `--context @path/to/file` with a readable text file, or pass the text directly".into(),
            })
        }
        None => Ok(value.to_owned()),
    }
}

/// `--provider` > `PP_PROVIDER` > `policy.provider.name` > `auto`. `auto` is `suggest` (the
/// compilers' own suggestions), then each model configured: `PP_OPENAI_API_KEY`,
/// `PP_LOCAL_BASE_URL`/`PP_LOCAL_MODEL`, `policy.provider.command`. A name given explicitly
/// replaces the whole chain (`suggest,openai` keeps suggest first).
fn resolve_provider(
    flags: &SessionFlags,
    doc: &PolicyDoc,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<ProviderSpec>), SettingsError> {
    let policy_command = doc.policy.provider.command.as_deref();
    let name = flags
        .provider
        .clone()
        .or_else(|| env("PP_PROVIDER").filter(|s| !s.trim().is_empty()))
        .or_else(|| doc.policy.provider.name.clone())
        .unwrap_or_else(|| "auto".to_owned());
    if name.trim() == "auto" {
        // The compilers' own suggestions first: free, deterministic, and often enough; then
        // the search over small edits, which costs test runs but no tokens.
        let mut chain = vec![ProviderSpec::Suggest];
        if doc.policy.search.enabled {
            chain.push(ProviderSpec::Search);
        }
        if env("PP_OPENAI_API_KEY").is_some() {
            chain.push(ProviderSpec::OpenAi);
        }
        if env("PP_LOCAL_BASE_URL").is_some() || env("PP_LOCAL_MODEL").is_some() {
            chain.push(ProviderSpec::Local);
        }
        if let Some(cmd) = policy_command {
            chain.push(ProviderSpec::Command(cmd.to_vec()));
        }
        return Ok(("auto".to_owned(), chain));
    }
    let chain = propose::parse_chain(&name, policy_command)?;
    Ok((name, chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(flag: Option<&str>, vars: &[(&str, &str)]) -> Vec<ProviderSpec> {
        let flags = SessionFlags {
            provider: flag.map(str::to_owned),
            ..SessionFlags::default()
        };
        let lookup = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        resolve_provider(&flags, &PolicyDoc::default(), &lookup)
            .unwrap()
            .1
    }

    #[test]
    fn auto_starts_with_suggest_and_adds_configured_models() {
        use ProviderSpec::{Local, OpenAi, Search, Suggest};
        assert_eq!(chain(None, &[]), vec![Suggest, Search]);
        assert_eq!(
            chain(None, &[("PP_OPENAI_API_KEY", "k")]),
            vec![Suggest, Search, OpenAi]
        );
        assert_eq!(
            chain(None, &[("PP_LOCAL_BASE_URL", "http://127.0.0.1:1/v1")]),
            vec![Suggest, Search, Local]
        );
        // `policy.search.enabled: false` leaves search out of `auto`.
        let mut off = PolicyDoc::default();
        off.policy.search.enabled = false;
        let none = |_: &str| None;
        let (_, c) = resolve_provider(&SessionFlags::default(), &off, &none).unwrap();
        assert_eq!(c, vec![Suggest]);
        // An explicit choice replaces the chain, `suggest` and `stub` included.
        assert_eq!(chain(Some("suggest"), &[]), vec![ProviderSpec::Suggest]);
        assert_eq!(
            chain(None, &[("PP_PROVIDER", "stub")]),
            vec![ProviderSpec::Stub]
        );
    }
}
