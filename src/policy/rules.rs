//! What a policy allows: turning proof targets into runnable invocations (or refusing them), and
//! the paths no patch may ever write.

use serde::Serialize;

use super::model::{Policy, TargetSpec};

/// How a command is run: through `sh -c`, or as an exact argv without a shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Invocation {
    Shell(String),
    Argv(Vec<String>),
}

impl Invocation {
    /// The command as a user would type it.
    pub fn display(&self) -> String {
        match self {
            Self::Shell(s) => s.clone(),
            Self::Argv(a) => {
                shlex::try_join(a.iter().map(String::as_str)).unwrap_or_else(|_| a.join(" "))
            }
        }
    }
}

/// A proof target the policy allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub name: String,
    pub invocation: Invocation,
    /// JUnit XML report the target writes, workspace-relative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub junit: Option<String>,
}

/// Paths no candidate may write, whatever the globs say. The policy file is added by the caller.
pub const ALWAYS_PROTECTED: [&str; 4] = [".git", ".git/**", ".pp-artifacts", ".pp-artifacts/**"];

/// The always-protected globs, every policy file name pp discovers at the workspace root (a
/// candidate must not plant a policy the next run would pick up), the policy's own `protected`
/// globs (test data), and the policy file's own workspace-relative path, escaped so its name is
/// never read as a glob.
pub fn protected_globs(policy_rel_path: Option<&str>, policy_protected: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ALWAYS_PROTECTED.iter().map(|s| (*s).to_owned()).collect();
    v.extend(policy_protected.iter().cloned());
    v.extend(super::DISCOVERED_NAMES.iter().map(|n| (*n).to_owned()));
    if let Some(p) = policy_rel_path {
        let escaped = globset::escape(p);
        if !v.contains(&escaped) {
            v.push(escaped);
        }
    }
    v
}

/// A target the policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub target: String,
    pub command: String,
}

/// Checks every target against `allowed_commands` / `allowed_argv`; all or nothing.
///
/// A `cmd` string is allowed when it equals an `allowed_commands` entry (run through `sh -c`) or
/// when its shell words equal an `allowed_argv` entry (run without a shell). An `argv` target
/// must equal an `allowed_argv` entry.
pub fn resolve_targets(policy: &Policy, specs: &[TargetSpec]) -> Result<Vec<Target>, Vec<Refusal>> {
    let commands = policy.allowed_commands.as_deref().unwrap_or_default();
    let argvs = policy.allowed_argv.as_deref().unwrap_or_default();
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    for spec in specs {
        let invocation = match (&spec.cmd, &spec.argv) {
            (Some(cmd), _) => {
                if commands.iter().any(|c| c == cmd) {
                    Some(Invocation::Shell(cmd.clone()))
                } else {
                    shlex::split(cmd)
                        .filter(|words| argvs.iter().any(|a| a == words))
                        .map(Invocation::Argv)
                }
            }
            (None, Some(argv)) => argvs
                .iter()
                .any(|a| a == argv)
                .then(|| Invocation::Argv(argv.clone())),
            (None, None) => None,
        };
        match invocation {
            Some(invocation) => ok.push(Target {
                name: spec.name.clone(),
                invocation,
                junit: spec.junit.clone(),
            }),
            None => refused.push(Refusal {
                target: spec.name.clone(),
                command: spec
                    .cmd
                    .clone()
                    .or_else(|| spec.argv.as_ref().map(|a| a.join(" ")))
                    .unwrap_or_default(),
            }),
        }
    }
    if refused.is_empty() {
        Ok(ok)
    } else {
        Err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, cmd: &str) -> TargetSpec {
        TargetSpec {
            name: name.into(),
            cmd: Some(cmd.into()),
            argv: None,
            junit: None,
        }
    }

    #[test]
    fn exact_command_runs_through_shell() {
        let p = Policy {
            allowed_commands: Some(vec!["pytest -q".into()]),
            ..Policy::default()
        };
        let t = resolve_targets(&p, &[spec("unit", "pytest -q")]).unwrap();
        assert_eq!(t[0].invocation, Invocation::Shell("pytest -q".into()));
    }

    #[test]
    fn near_miss_is_refused() {
        let p = Policy {
            allowed_commands: Some(vec!["pytest -q".into()]),
            ..Policy::default()
        };
        let err = resolve_targets(&p, &[spec("unit", "pytest -q; rm -rf /")]).unwrap_err();
        assert_eq!(err[0].target, "unit");
    }

    #[test]
    fn argv_match_runs_without_shell() {
        let p = Policy {
            allowed_argv: Some(vec![vec!["cargo".into(), "test".into()]]),
            ..Policy::default()
        };
        let t = resolve_targets(&p, &[spec("t", "cargo  test")]).unwrap();
        assert_eq!(
            t[0].invocation,
            Invocation::Argv(vec!["cargo".into(), "test".into()])
        );
        // Shell metacharacters never match an argv entry.
        assert!(resolve_targets(&p, &[spec("t", "cargo test && curl x")]).is_err());
    }

    #[test]
    fn policy_names_are_protected_literally() {
        let g = protected_globs(Some("conf/p[1].yaml"), &[]);
        assert!(g.contains(&"pp.yaml".to_owned()) && g.contains(&"pp.json".to_owned()));
        let set = {
            let mut b = globset::GlobSetBuilder::new();
            for p in &g {
                b.add(globset::Glob::new(p).unwrap());
            }
            b.build().unwrap()
        };
        assert!(set.is_match("conf/p[1].yaml"));
        assert!(!set.is_match("conf/p1.yaml"));
    }

    #[test]
    fn one_refusal_refuses_all() {
        let p = Policy {
            allowed_commands: Some(vec!["a".into()]),
            ..Policy::default()
        };
        let err = resolve_targets(&p, &[spec("a", "a"), spec("b", "b")]).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].target, "b");
    }
}
