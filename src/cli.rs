//! The command line: clap types, and the thin layer that turns them into settings, runs the
//! command, prints stdout (data) and stderr (everything else), and picks the exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::console::{errln, outln};
use crate::error::{EXIT_MISMATCH, EXIT_USAGE, Error};
use crate::exec::Cancel;
use crate::policy::AttestMode;
use crate::settings::{Mode, SessionFlags, Settings};

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
    Run(RunArgs),
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
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The failing command, e.g. "cargo test" (several words are joined with shell quoting; put them after `--` when they start with `-`).
    #[arg(required = true, num_args = 1.., value_name = "CMD")]
    pub cmd: Vec<String>,
    #[command(flatten)]
    pub session: SessionArgs,
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
    /// Proposer: auto (suggest, then any configured model), suggest, stub, openai, local, command, command:PATH; comma-separated for a fallback chain.
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
    /// Keep the sandbox after the session (its path is printed).
    #[arg(long)]
    pub keep_sandbox: bool,
    /// After a proof, apply final.patch to the working tree (only if it is unchanged since the run began).
    #[arg(long)]
    pub apply: bool,
    /// Free text for the proposer (an error description, an issue body), or @FILE.
    #[arg(long, value_name = "TEXT|@FILE")]
    pub context: Option<String>,
    /// Trust the policy file's host programs (`policy.provider.command`, a `container_runtime` other than docker or podman); also PP_TRUST_POLICY=1.
    #[arg(long)]
    pub trust_policy: bool,
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
    /// Environment variable holding the HMAC key, for --verify-attestation.
    #[arg(long, value_name = "NAME", default_value = "PP_ATTEST_HMAC_KEY")]
    pub key_env: String,
    /// Ed25519 public key (SPKI PEM) to trust, for --verify-attestation; may be repeated.
    #[arg(long, value_name = "F")]
    pub public_key: Vec<PathBuf>,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
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
    /// Environment variable holding the HMAC key.
    #[arg(long, value_name = "NAME", default_value = "PP_ATTEST_HMAC_KEY")]
    pub key_env: String,
    /// Ed25519 public key (SPKI PEM) to trust; may be repeated.
    #[arg(long, value_name = "F")]
    pub public_key: Vec<PathBuf>,
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

impl Command {
    fn json(&self) -> bool {
        match self {
            Self::Run(a) => a.session.json,
            Self::Prove(a) => a.json,
            Self::Replay(a) => a.json,
            Self::Attest(a) => a.json,
            Self::VerifyAttestation(a) => a.json,
            Self::Doctor(a) => a.json,
        }
    }
}

impl SessionArgs {
    fn flags(&self) -> SessionFlags {
        SessionFlags {
            policy: self.policy.clone(),
            provider: self.provider.clone(),
            json: self.json,
            attest: self.attest,
            attestation_mode: self.attestation_mode.map(Into::into),
            attestation_key_env: self.attestation_key_env.clone(),
            keep_sandbox: self.keep_sandbox,
            apply: self.apply,
            context: self.context.clone(),
            trust_policy: self.trust_policy,
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw
        .get(1)
        .is_some_and(|a| a == crate::sandbox::ISOLATE_SUBCOMMAND)
    {
        return isolate_main(&raw[2..]);
    }
    crate::hardening::init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            // `--json` promises one JSON document on stdout, even for a bad command line.
            if raw.iter().any(|a| a == "--json") {
                // Nothing is left to report a failure to.
                let _ = outln!("{}", clap_error_json(&e));
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing();
    let json = cli.command.json();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("error: failed to start the async runtime: {e}");
            return ExitCode::from(crate::error::EXIT_INTERNAL);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report_error(&e, json);
            ExitCode::from(e.exit_code())
        }
    }
}

/// `pp __isolate …`: the isolation wrapper and overlay holder (see `sandbox::isolate`).
fn isolate_main(args: &[std::ffi::OsString]) -> ExitCode {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    ExitCode::from(crate::sandbox::isolate_main(&args))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("pp=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::console::QuietStderr)
        .log_internal_errors(false)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .without_time()
        .with_target(false)
        .try_init();
}

/// The `pp.error/v1` document for a command line clap refused: clap's own sentence, which names
/// the flag or value (`unexpected argument '--x' found`), and its tip as the hint.
fn clap_error_json(e: &clap::Error) -> serde_json::Value {
    let rendered = e.render().to_string();
    // The first paragraph is the error (`… not provided:` lists the arguments below it).
    let error = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let error = match error.strip_prefix("error: ") {
        Some(e) => e.to_owned(),
        None if error.is_empty() => e.kind().to_string(),
        None => error,
    };
    let hint = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("tip: "))
        .map(str::to_owned)
        .unwrap_or_else(|| "see `pp --help` or `pp <command> --help`".to_owned());
    json!({"schema_version": "pp.error/v1", "success": false, "error": error, "hint": hint, "exit_code": EXIT_USAGE})
}

fn report_error(e: &Error, json: bool) {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!("\n  caused by: {s}"));
        source = s.source();
    }
    errln!("error: {msg}");
    if json {
        // The exit code still tells; a stdout that cannot take the document has no better way.
        let _ = outln!(
            "{}",
            json!({"schema_version": "pp.error/v1", "success": false, "error": msg, "exit_code": e.exit_code()})
        );
    }
}

fn cancel_on_signals() -> Cancel {
    let (handle, cancel) = Cancel::new();
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
        tracing::warn!("signal received: stopping the running command and cleaning up");
        handle.cancel();
    });
    cancel
}

fn print_json(v: &serde_json::Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| Error::Internal(format!("failed to encode JSON output: {e}")))?;
    Ok(outln!("{text}")?)
}

fn workspace() -> Result<PathBuf, Error> {
    std::env::current_dir().map_err(|e| Error::Io {
        what: "read the working directory".into(),
        source: e,
    })
}

fn self_exe() -> Result<PathBuf, Error> {
    std::env::current_exe().map_err(|e| Error::Io {
        what: "locate the pp executable".into(),
        source: e,
    })
}

async fn dispatch(cmd: Command) -> Result<u8, Error> {
    match cmd {
        Command::Run(a) => {
            let line = if a.cmd.len() == 1 {
                a.cmd[0].clone()
            } else {
                shlex::try_join(a.cmd.iter().map(String::as_str))
                    .unwrap_or_else(|_| a.cmd.join(" "))
            };
            session(Mode::Run(line), &a.session).await
        }
        Command::Prove(a) => session(Mode::Prove, &a).await,
        Command::Replay(a) => replay(a).await,
        Command::Attest(a) => attest(a),
        Command::VerifyAttestation(a) => verify_attestation(a),
        Command::Doctor(a) => crate::doctor::doctor(a).await,
    }
}

async fn session(mode: Mode, args: &SessionArgs) -> Result<u8, Error> {
    let settings = Settings::resolve(
        &workspace()?,
        mode,
        &args.flags(),
        crate::hardening::vars(),
        self_exe()?,
    )?;
    let cancel = cancel_on_signals();
    let outcome = crate::session::run_session(&settings, cancel).await?;
    if args.json {
        print_json(&crate::report::summary_json(&outcome))?;
    } else {
        crate::console::out(&crate::report::human_summary(&outcome))?;
    }
    if outcome.apply_refused.is_some() {
        // The proof stands, but what the user asked for (--apply) did not happen.
        return Ok(EXIT_USAGE);
    }
    Ok(outcome.status.exit_code())
}

fn attest(a: AttestArgs) -> Result<u8, Error> {
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
            print_json(
                &json!({"schema_version": "pp.keygen/v1", "private_key": private, "public_key": public, "keyid": keyid}),
            )?;
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
    let env = |k: &str| crate::hardening::var(k);
    let keys = crate::session::sign_keys(&env, &a.key_env, a.key_file.as_deref())?;
    let outcome = attest::attest(bundle, a.mode.into(), &keys)?;
    for w in &outcome.warnings {
        errln!("warning: {w}");
    }
    if a.json {
        print_json(
            &json!({"schema_version": "pp.attest/v1", "attestation": outcome.path, "signed_with": outcome.signed_with, "warnings": outcome.warnings}),
        )?;
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

fn require(r: Option<RequireArg>) -> Option<crate::bundle::attest::Trust> {
    use crate::bundle::attest::Trust;
    r.map(|r| match r {
        RequireArg::Hmac => Trust::Hmac,
        RequireArg::Ed25519 => Trust::Ed25519,
    })
}

fn verify_attestation(a: VerifyArgs) -> Result<u8, Error> {
    let report = crate::session::verify_bundle(
        &a.bundle,
        &a.key_env,
        &a.public_key,
        require(a.require),
        a.allow_unsigned,
    )?;
    for n in &report.notes {
        errln!("note: {n}");
    }
    // A signature vouches for the bytes, not for a finished session: say which it was.
    let bundle_status = report
        .predicate()
        .and_then(|p| p["status"].as_str())
        .map(str::to_owned);
    if let Some(s) = bundle_status.as_deref()
        && matches!(s, "interrupted" | "running")
    {
        errln!("note: the bundle records an unfinished session (status `{s}`)");
    }
    if a.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["schema_version"] = json!("pp.verify/v1");
        v["bundle_status"] = json!(bundle_status);
        print_json(&v)?;
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

fn trust_name(report: &crate::bundle::attest::VerifyReport) -> String {
    serde_json::to_value(report.trust)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn replay(a: ReplayArgs) -> Result<u8, Error> {
    // Verification comes first whenever there is something to verify with or against: a key,
    // a required trust level, or an attestation in the bundle. A bundle nothing vouches for is
    // replayed only on request (`--allow-unsigned`): its commands and policy are its author's.
    let keyed = crate::session::verify_key_configured(&a.key_env, &a.public_key);
    let attested = a.bundle.join("attestation.json").symlink_metadata().is_ok();
    let verified = if a.verify_attestation || keyed || a.require.is_some() || attested {
        let report = crate::session::verify_bundle(
            &a.bundle,
            &a.key_env,
            &a.public_key,
            require(a.require),
            a.allow_unsigned,
        )?;
        if !report.ok {
            return Ok(refuse_replay(&report.problems, a.json));
        }
        errln!("attestation verified (trust: {})", trust_name(&report));
        Some(report)
    } else if a.allow_unsigned {
        errln!(
            "note: the bundle has no attestation.json; replaying its own commands and policy unverified (--allow-unsigned)"
        );
        None
    } else {
        if !a.bundle.is_dir() {
            return Err(Error::Usage {
                message: format!("{} is not a bundle directory", a.bundle.display()),
                hint:
                    "pass a session's proof_bundle folder: .pp-artifacts/<session-id>/proof_bundle"
                        .into(),
            });
        }
        let problem = format!(
            "the bundle is unsigned (no attestation.json) and no verification key is configured: nothing vouches for the commands, policy and patch it would run (hint: replay a bundle attested with `pp attest` while {} or --public-key gives its key, or pass --allow-unsigned to run it as it is)",
            a.key_env
        );
        return Ok(refuse_replay(&[problem], a.json));
    };
    let opts = crate::session::ReplayOptions {
        bundle: a.bundle.clone(),
        cwd: a.cwd.clone(),
        allow_different_source: a.allow_different_source,
        self_exe: self_exe()?,
        env: crate::hardening::vars(),
        withheld: vec![a.key_env.clone()],
        verified,
    };
    let out = crate::session::replay(&opts, cancel_on_signals()).await?;
    if a.json {
        print_json(&serde_json::to_value(&out).unwrap_or_default())?;
    } else {
        outln!("replay: {} — {}", out.status, out.message)?;
        if let Some(h) = &out.hint {
            outln!("hint: {h}")?;
        }
        for t in &out.targets {
            outln!(
                "  {}: exit {} ({})",
                t.name,
                t.exit_code,
                if t.passed { "pass" } else { "FAIL" }
            )?;
        }
    }
    Ok(out.exit_code())
}

/// Reports a replay refused before anything ran; the exit code.
fn refuse_replay(problems: &[String], json: bool) -> u8 {
    if json {
        let _ = print_json(
            &json!({"schema_version": "pp.replay/v1", "success": false, "status": "attestation_failed", "problems": problems}),
        );
    } else {
        let _ = outln!("replay refused: the bundle is not verified:");
        for p in problems {
            let _ = outln!("- {p}");
        }
    }
    EXIT_MISMATCH
}
