//! Finding and reading the policy file: discovery, YAML or JSON, strict keys and types with the
//! offending key path and line, and the checks serde cannot express.

use std::path::{Path, PathBuf};

use super::PolicyError;
use super::model::{PolicyDoc, TargetSpec};

/// File names tried, in order, when `--policy` is not given.
pub const DISCOVERED_NAMES: [&str; 3] = ["pp.yaml", "pp.yml", "pp.json"];

/// A policy together with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    pub doc: PolicyDoc,
    /// `None` when no file was found and the defaults apply.
    pub path: Option<PathBuf>,
    /// sha256 of the file's bytes, hex; `None` for the defaults.
    pub sha256: Option<String>,
}

/// Loads `explicit` if given, else the first discovered file in `dir`, else the defaults.
pub fn load(dir: &Path, explicit: Option<&Path>) -> Result<LoadedPolicy, PolicyError> {
    let path = match explicit {
        Some(p) => {
            let p = if p.is_absolute() {
                p.to_owned()
            } else {
                dir.join(p)
            };
            if !p.is_file() {
                return Err(PolicyError::NotFound { path: p });
            }
            Some(p)
        }
        None => DISCOVERED_NAMES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file()),
    };
    let Some(path) = path else {
        return Ok(LoadedPolicy {
            doc: PolicyDoc::default(),
            path: None,
            sha256: None,
        });
    };
    let bytes = std::fs::read(&path).map_err(|source| PolicyError::Read {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| PolicyError::Syntax {
        path: path.clone(),
        line: None,
        key: String::new(),
        message: "the file is not valid UTF-8".to_owned(),
    })?;
    let doc = parse(&path, &text)?;
    validate(&path, &doc)?;
    Ok(LoadedPolicy {
        doc,
        sha256: Some(crate::digest::sha256_hex(&bytes)),
        path: Some(path),
    })
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

/// Parses the text strictly; the error names the key path and the line.
pub fn parse(path: &Path, text: &str) -> Result<PolicyDoc, PolicyError> {
    if is_json(path) {
        let mut de = serde_json::Deserializer::from_str(text);
        let doc: PolicyDoc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let line = Some(e.inner().line());
            PolicyError::Syntax {
                path: path.to_owned(),
                line,
                key: render_path(&e.path().to_string()),
                message: strip_location(&e.inner().to_string()),
            }
        })?;
        de.end().map_err(|e| PolicyError::Syntax {
            path: path.to_owned(),
            line: Some(e.line()),
            key: String::new(),
            message: strip_location(&e.to_string()),
        })?;
        Ok(doc)
    } else {
        if text.trim().is_empty() {
            return Ok(PolicyDoc::default());
        }
        let de = serde_yaml_ng::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let line = e.inner().location().map(|l| l.line());
            PolicyError::Syntax {
                path: path.to_owned(),
                line,
                key: render_path(&e.path().to_string()),
                message: strip_location(&e.inner().to_string()),
            }
        })
    }
}

/// serde_path_to_error renders the root as "."; say so in words.
fn render_path(p: &str) -> String {
    if p == "." {
        String::new()
    } else {
        p.to_owned()
    }
}

/// The line is reported separately; drop the parser's own " at line N column M" suffix.
fn strip_location(msg: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    // Some parsers put the key path in front; it is reported separately.
    match msg.split_once(": ") {
        Some((head, rest)) if !head.contains(' ') && head.contains('.') => rest.to_owned(),
        _ => msg.to_owned(),
    }
}

/// The rules serde cannot check: target shape, names, limits, globs.
/// Most candidates one attempt may ask for: each costs a sandbox and a verification.
const MAX_CANDIDATES: u32 = 16;
/// Most sandboxes verifying at once.
const MAX_PARALLELISM: u32 = 64;

pub fn validate(path: &Path, doc: &PolicyDoc) -> Result<(), PolicyError> {
    let invalid = |key: String, message: String, hint: &str| PolicyError::Invalid {
        path: path.to_owned(),
        key,
        message,
        hint: hint.to_owned(),
    };
    let mut names = std::collections::HashSet::new();
    for (i, t) in doc.proof_targets.iter().enumerate() {
        check_target(t).map_err(|m| {
            invalid(
                format!("proof_targets[{i}]"),
                m,
                "give each target a `name` and exactly one of `cmd` (a shell string) or `argv` (a list)",
            )
        })?;
        if let Some(j) = &t.junit
            && (j.is_empty()
                || j.starts_with('/')
                || j.contains('\\')
                || j.split('/').any(|c| c == ".."))
        {
            return Err(invalid(
                format!("proof_targets[{i}].junit"),
                format!("`{j}` must be a relative path inside the workspace"),
                "write e.g. `junit: reports/junit.xml`",
            ));
        }
        if !names.insert(t.name.as_str()) {
            return Err(invalid(
                format!("proof_targets[{i}].name"),
                format!("duplicate target name `{}`", t.name),
                "target names must be unique",
            ));
        }
    }
    let p = &doc.policy;
    if p.limits.max_attempts == 0 {
        return Err(invalid(
            "policy.limits.max_attempts".into(),
            "must be at least 1".into(),
            "set max_attempts to 1 or more",
        ));
    }
    if !(1..=MAX_CANDIDATES).contains(&p.candidates) {
        return Err(invalid(
            "policy.candidates".into(),
            format!("`{}` is not between 1 and {MAX_CANDIDATES}", p.candidates),
            "set how many candidates to ask per attempt, e.g. 1 (the default) or 4",
        ));
    }
    if let Some(n) = p.parallelism
        && !(1..=MAX_PARALLELISM).contains(&n)
    {
        return Err(invalid(
            "policy.parallelism".into(),
            format!("`{n}` is not between 1 and {MAX_PARALLELISM}"),
            "set how many candidates may be verified at once, or leave the key out for the number of cores",
        ));
    }
    if p.limits.per_command_timeout_sec == 0 {
        return Err(invalid(
            "policy.limits.per_command_timeout_sec".into(),
            "must be at least 1".into(),
            "set a timeout in seconds, e.g. 600",
        ));
    }
    if p.limits.max_files_changed == 0 || p.limits.max_patch_bytes == 0 {
        return Err(invalid(
            "policy.limits".into(),
            "max_files_changed and max_patch_bytes must be at least 1".into(),
            "a zero limit would refuse every patch",
        ));
    }
    for (key, globs) in [
        ("policy.write_allowlist", &p.write_allowlist),
        ("policy.deny_write", &p.deny_write),
        ("policy.protected", &p.protected),
        ("policy.sandbox.exclude", &p.sandbox.exclude),
    ] {
        for (i, g) in globs.iter().enumerate() {
            globset::Glob::new(g).map_err(|e| {
                invalid(
                    format!("{key}[{i}]"),
                    format!("invalid glob `{g}`: {}", e.kind()),
                    "use glob syntax such as `src/**` or `**/*.py`",
                )
            })?;
        }
    }
    let sb = &p.sandbox;
    if !sb.container_workdir.starts_with('/') || sb.container_workdir.contains([',', ':', '\n']) {
        return Err(invalid(
            "policy.sandbox.container_workdir".into(),
            format!(
                "`{}` is not an absolute path without `,` or `:`",
                sb.container_workdir
            ),
            "use a path such as /workspace",
        ));
    }
    if sb.pids_limit == 0 {
        return Err(invalid(
            "policy.sandbox.pids_limit".into(),
            "must be at least 1".into(),
            "set a process limit for containers, e.g. 512",
        ));
    }
    for (key, value) in [
        ("policy.sandbox.container_runtime", &sb.container_runtime),
        ("policy.sandbox.container_image", &sb.container_image),
        ("policy.sandbox.cpu_limit", &sb.cpu_limit),
        ("policy.sandbox.memory_limit", &sb.memory_limit),
    ] {
        // These become single argv entries of `docker run`; one starting with `-` would be
        // read as a flag.
        if value.trim().is_empty() || value.starts_with('-') {
            return Err(invalid(
                key.into(),
                format!("`{value}` is empty or starts with `-`"),
                "give a value such as the documented default",
            ));
        }
    }
    if let Some(argvs) = &p.allowed_argv {
        for (i, a) in argvs.iter().enumerate() {
            if a.is_empty() {
                return Err(invalid(
                    format!("policy.allowed_argv[{i}]"),
                    "an argv must name a program".into(),
                    "write e.g. [\"pytest\", \"-q\"]",
                ));
            }
        }
    }
    if let Some(cmd) = &p.provider.command
        && cmd.is_empty()
    {
        return Err(invalid(
            "policy.provider.command".into(),
            "the proposer command is empty".into(),
            "give the program and its arguments as a list",
        ));
    }
    Ok(())
}

fn check_target(t: &TargetSpec) -> Result<(), String> {
    if t.name.trim().is_empty() {
        return Err("the target has an empty name".into());
    }
    if t.name.contains('/') || t.name.contains("..") || t.name.contains('\\') {
        return Err(format!(
            "target name `{}` may not contain `/`, `\\` or `..` (it names a folder in the bundle)",
            t.name
        ));
    }
    match (&t.cmd, &t.argv) {
        (Some(c), None) if !c.trim().is_empty() => Ok(()),
        (None, Some(a)) if !a.is_empty() => Ok(()),
        (Some(_), Some(_)) => Err(format!("target `{}` sets both `cmd` and `argv`", t.name)),
        _ => Err(format!("target `{}` has no command", t.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<PolicyDoc, PolicyError> {
        let p = Path::new("pp.yaml");
        let doc = parse(p, text)?;
        validate(p, &doc)?;
        Ok(doc)
    }

    #[test]
    fn defaults_fill_missing_keys() {
        let doc = yaml("policy:\n  network: allow\n").unwrap();
        assert_eq!(doc.policy.network, super::super::Network::Allow);
        assert_eq!(doc.policy.write_allowlist, vec!["**"]);
        assert_eq!(doc.policy.limits.max_attempts, 3);
        assert_eq!(doc.policy.limits.per_command_timeout_sec, 600);
        assert!(doc.policy.allowed_commands.is_none());
    }

    #[test]
    fn unknown_key_names_path_and_line() {
        let err = yaml("policy:\n  network: deny\n  limits:\n    max_attempt: 3\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("policy.limits"), "{msg}");
        assert!(msg.contains("max_attempt"), "{msg}");
        assert!(msg.contains("line 4"), "{msg}");
    }

    #[test]
    fn wrong_type_names_path_and_line() {
        let err = yaml("policy:\n  limits:\n    max_attempts: lots\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("policy.limits.max_attempts"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn json_unknown_key_names_line() {
        let err = parse(
            Path::new("pp.json"),
            "{\n  \"policy\": {\n    \"netwrk\": \"deny\"\n  }\n}\n",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("netwrk"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn target_needs_exactly_one_command() {
        let err = yaml("proof_targets:\n  - name: a\n    cmd: x\n    argv: [x]\n").unwrap_err();
        assert!(err.to_string().contains("both"), "{err}");
        let err = yaml("proof_targets:\n  - name: a\n").unwrap_err();
        assert!(err.to_string().contains("no command"), "{err}");
    }

    #[test]
    fn container_settings_default_and_are_checked() {
        let doc = yaml("policy:\n  sandbox: {backend: container}\n").unwrap();
        assert_eq!(doc.policy.sandbox.pids_limit, 512);
        assert_eq!(doc.policy.sandbox.container_workdir, "/workspace");
        for (text, key) in [
            ("{pids_limit: 0}", "policy.sandbox.pids_limit"),
            (
                "{container_workdir: work}",
                "policy.sandbox.container_workdir",
            ),
            (
                "{container_workdir: \"/a,b\"}",
                "policy.sandbox.container_workdir",
            ),
            (
                "{memory_limit: \"--privileged\"}",
                "policy.sandbox.memory_limit",
            ),
            ("{container_image: \"\"}", "policy.sandbox.container_image"),
        ] {
            let err = yaml(&format!("policy:\n  sandbox: {text}\n")).unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn bad_glob_is_named() {
        let err = yaml("policy:\n  write_allowlist: [\"src/[\"]\n").unwrap_err();
        assert!(
            err.to_string().contains("policy.write_allowlist[0]"),
            "{err}"
        );
    }

    #[test]
    fn candidates_and_parallelism_are_checked_by_name() {
        let doc = yaml("policy: {candidates: 4, parallelism: 2}\n").unwrap();
        assert_eq!((doc.policy.candidates, doc.policy.parallelism()), (4, 2));
        assert_eq!(yaml("{}").unwrap().policy.candidates, 1);
        assert!(yaml("{}").unwrap().policy.parallelism() >= 1);
        for (text, key) in [
            ("policy: {candidates: 0}\n", "policy.candidates"),
            ("policy: {candidates: 99}\n", "policy.candidates"),
            ("policy: {parallelism: 0}\n", "policy.parallelism"),
            ("policy: {candidates: many}\n", "policy.candidates"),
        ] {
            let err = yaml(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn zero_attempts_refused() {
        let err = yaml("policy:\n  limits: {max_attempts: 0}\n").unwrap_err();
        assert!(err.to_string().contains("max_attempts"), "{err}");
    }
}

#[cfg(test)]
mod example_tests {
    /// The shipped example documents every key: it must load, and its values must be the
    /// defaults wherever it does not say "example".
    #[test]
    fn example_policy_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pp.example.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = super::parse(&path, &text).unwrap();
        super::validate(&path, &doc).unwrap();
        let d = super::super::Policy::default();
        let p = &doc.policy;
        assert_eq!(p.limits, d.limits);
        assert_eq!(p.sandbox, d.sandbox);
        assert_eq!(p.attestation, d.attestation);
        assert_eq!(p.provider, d.provider);
        assert_eq!(
            (
                p.minimize,
                p.reproduce_runs,
                p.confirm_runs,
                p.failing_first,
                p.context_budget_bytes
            ),
            (
                d.minimize,
                d.reproduce_runs,
                d.confirm_runs,
                d.failing_first,
                d.context_budget_bytes
            )
        );
    }
}
