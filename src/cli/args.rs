//! The clap types of every command: the flags as parsed, and nothing else. Each command's file
//! turns them into settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::progress::Verbosity;
use crate::policy::AttestMode;
use crate::settings::SessionFlags;

#[derive(Debug, Parser)]
#[command(
    name = "pp",
    version,
    about = "Proves code fixes: reproduce a failure in a sandbox, apply a proposed patch under a policy, verify it, and write a proof bundle.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prove CMD (one proof target named `default`).
    Run {
        /// The failing command, e.g. "cargo test" (several words are joined with shell quoting; put them after `--` when they start with `-`).
        #[arg(required = true, num_args = 1.., value_name = "CMD")]
        cmd: Vec<String>,
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Prove every `proof_targets` entry of the policy together.
    Prove(SessionArgs),
    /// Re-apply a bundle's final.patch to a fresh sandbox of the source and rerun its targets (no model).
    Replay(ReplayArgs),
    /// (Re)write a bundle's attestation.json.
    Attest(AttestArgs),
    /// Check a bundle against its attestation and the verifier's own keys.
    VerifyAttestation(VerifyArgs),
    /// Show the resolved policy and what this machine can enforce.
    Doctor(DoctorArgs),
    /// The human report of a bundle (`last`: the newest here); --html writes one self-contained page.
    Show(ShowArgs),
    /// Prune old session folders under .pp-artifacts/.
    Gc(GcArgs),
    /// Print shell completions from the command-line definitions.
    Completions(CompletionsArgs),
    /// Print pp's man page (roff), or write every page to a folder.
    #[command(hide = true)]
    Man(ManArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Auto,
    #[value(name = "hmac-sha256")]
    HmacSha256,
    Ed25519,
    None,
}

impl From<ModeArg> for AttestMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Auto => AttestMode::Auto,
            ModeArg::HmacSha256 => AttestMode::HmacSha256,
            ModeArg::Ed25519 => AttestMode::Ed25519,
            ModeArg::None => AttestMode::None,
        }
    }
}

#[derive(Debug, Args)]
pub struct SessionArgs {
    /// Policy file (default: pp.yaml, pp.yml or pp.json in the working directory).
    #[arg(long, value_name = "F")]
    pub policy: Option<PathBuf>,
    /// Proposer: auto (suggest, search, then any configured model), suggest, search, stub, openai, local, command, command:PATH; comma-separated for a fallback chain.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// Sign the bundle (attestation.json).
    #[arg(long)]
    pub attest: bool,
    /// Attestation mode.
    #[arg(long, value_name = "M")]
    pub attestation_mode: Option<ModeArg>,
    /// Environment variable holding the HMAC key.
    #[arg(long, value_name = "NAME")]
    pub attestation_key_env: Option<String>,
    /// Ed25519 private key (PKCS#8 PEM) to sign with, instead of `policy.attestation.key_file`;
    /// hidden from every command whatever the policy file says.
    #[arg(long, value_name = "F")]
    pub attestation_key_file: Option<PathBuf>,
    /// Keep the sandbox after the session (its path is printed).
    #[arg(long)]
    pub keep_sandbox: bool,
    /// After a proof, apply final.patch to the working tree (only if it is unchanged since the run began).
    #[arg(long)]
    pub apply: bool,
    /// Free text for the proposer (an error description, an issue body), or @FILE.
    #[arg(long, value_name = "TEXT|@FILE")]
    pub context: Option<String>,
    /// Write every event as it happens, one JSON object per line, to FILE; `-` for stderr (instead of the progress lines).
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<String>,
    /// No progress on stderr (warnings, errors and the summary still print).
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr: log folders, prompt and reply sizes, every search trial, pp's own log.
    #[arg(short, long)]
    pub verbose: bool,
    /// Trust the policy file's host programs (`policy.provider.command`, a `container_runtime` other than docker or podman); also PP_TRUST_POLICY=1.
    #[arg(long)]
    pub trust_policy: bool,
    /// GitHub Actions output: annotations, the job summary ($GITHUB_STEP_SUMMARY), step outputs ($GITHUB_OUTPUT); on by itself when GITHUB_ACTIONS=true.
    #[arg(long)]
    pub github: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The proof bundle directory.
    pub bundle: PathBuf,
    /// Source checkout to replay against (default: the recorded workspace).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Verify the attestation first; replay only a verified bundle (the default whenever a key is configured or the bundle is attested).
    #[arg(long)]
    pub verify_attestation: bool,
    /// Fail unless the bundle carries a valid signature of this kind.
    #[arg(long, value_name = "KIND")]
    pub require: Option<RequireArg>,
    /// Accept a bundle no configured key vouches for: an attested one on its digests alone, one without attestation.json as it is.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Replay even when the source differs from the recorded one (reported, never as a plain pass).
    #[arg(long)]
    pub allow_different_source: bool,
    #[command(flatten)]
    pub keys: TrustedKeys,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The keys a bundle's attestation is checked with (`verify-attestation`, `replay`, `show`).
#[derive(Debug, Args)]
pub struct TrustedKeys {
    /// Environment variable holding the HMAC key the attestation is checked with.
    #[arg(long, value_name = "NAME", default_value = "PP_ATTEST_HMAC_KEY")]
    pub key_env: String,
    /// Ed25519 public key (SPKI PEM) to trust; may be repeated.
    #[arg(long, value_name = "F")]
    pub public_key: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The proof bundle directory.
    #[arg(required_unless_present = "generate_key")]
    pub bundle: Option<PathBuf>,
    #[arg(long, value_name = "M", default_value = "auto")]
    pub mode: ModeArg,
    /// Environment variable holding the HMAC key (at least 32 bytes).
    #[arg(long, value_name = "NAME", default_value = "PP_ATTEST_HMAC_KEY")]
    pub key_env: String,
    /// Ed25519 private key (PKCS#8 PEM).
    #[arg(long, value_name = "F")]
    pub key_file: Option<PathBuf>,
    /// Generate an Ed25519 key pair: the private key at F, the public key (SPKI PEM) at F.pub.
    #[arg(long, value_name = "F", conflicts_with = "bundle")]
    pub generate_key: Option<PathBuf>,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RequireArg {
    Hmac,
    Ed25519,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The proof bundle directory.
    pub bundle: PathBuf,
    /// Fail unless the bundle carries a valid signature of this kind.
    #[arg(long, value_name = "KIND")]
    pub require: Option<RequireArg>,
    #[command(flatten)]
    pub keys: TrustedKeys,
    /// With no key configured, accept the bundle on integrity alone (its files match the attested digests; trust: unsigned).
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Policy file (default: discovered in the working directory).
    #[arg(long, value_name = "F")]
    pub policy: Option<PathBuf>,
    /// Check whether this command would be allowed.
    #[arg(long, value_name = "C")]
    pub command: Option<String>,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A bundle (.pp-artifacts/<session-id>/proof_bundle), its session folder, or `last` (the newest session here).
    #[arg(value_name = "BUNDLE|last", default_value = "last")]
    pub bundle: PathBuf,
    /// Also write the report as one self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub keys: TrustedKeys,
    /// Print the pp.show/v1 document instead of the report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Keep the newest N sessions, however old (default 10).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Remove only sessions older than D (e.g. 7d, 12h, 30m); the newest --keep stay regardless.
    #[arg(long, value_name = "D", value_parser = super::gc::parse_age)]
    pub older_than: Option<std::time::Duration>,
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
    /// Print a JSON document holding the script instead of the script.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write pp.1 and one page per command (pp-run.1, …) into DIR instead of printing pp.1.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Print a JSON document (the page, or the files written) instead.
    #[arg(long)]
    pub json: bool,
}

impl Command {
    /// Whether the command promised one JSON document on stdout.
    pub fn json(&self) -> bool {
        match self {
            Self::Run { session, .. } => session.json,
            Self::Prove(a) => a.json,
            Self::Replay(a) => a.json,
            Self::Attest(a) => a.json,
            Self::VerifyAttestation(a) => a.json,
            Self::Doctor(a) => a.json,
            Self::Show(a) => a.json,
            Self::Gc(a) => a.json,
            Self::Completions(a) => a.json,
            Self::Man(a) => a.json,
        }
    }
}

impl Command {
    /// Whether GitHub Actions output is wanted: `--github` (run, prove) or `GITHUB_ACTIONS=true`.
    pub fn github(&self) -> bool {
        let flag = match self {
            Self::Run { session, .. } => session.github,
            Self::Prove(a) => a.github,
            _ => false,
        };
        flag || std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
    }
}

impl SessionArgs {
    pub fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }

    /// The flags as settings read them.
    pub fn flags(&self) -> SessionFlags {
        SessionFlags {
            policy: self.policy.clone(),
            provider: self.provider.clone(),
            json: self.json,
            attest: self.attest,
            attestation_mode: self.attestation_mode.map(Into::into),
            attestation_key_env: self.attestation_key_env.clone(),
            // Relative to where pp was started, like every path on the command line.
            attestation_key_file: self
                .attestation_key_file
                .as_ref()
                .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone())),
            keep_sandbox: self.keep_sandbox,
            apply: self.apply,
            context: self.context.clone(),
            trust_policy: self.trust_policy,
        }
    }
}
