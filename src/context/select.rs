//! Running only what decides: a target's command narrowed to the tests that failed in the
//! baseline, with each runner's own selection (pytest and unittest `-k`, libtest and nextest
//! name filters, `go test -run`, jest and vitest `-t`, `node --test --test-name-pattern`; for
//! `cargo test`, also the test targets cargo itself named for a rerun, so only those are built
//! and started). Pure: it rewrites the allowed command's arguments and never invents a command;
//! where a command cannot be narrowed safely it says why and the caller runs the whole command.

use std::sync::LazyLock;

use regex::Regex;

use crate::policy::Invocation;

/// The command narrowed to the failing tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub invocation: Invocation,
    /// The runner that selects (`pytest`, `unittest`, `libtest`, `nextest`, `gotest`, `jest`,
    /// `vitest`, `node`).
    pub runner: &'static str,
    /// The names it selects by.
    pub names: Vec<String>,
}

/// Characters a test name may hold to be passed on as a selector: what the runners print for
/// their own tests, nothing a shell or a selector language would read as syntax.
static SAFE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_:./\-]*$").unwrap_or_else(|_| unreachable!())
});

/// cargo's own note, on stderr, of how to rerun a test target that failed (`error: test failed,
/// to rerun pass `--test foo``; `-p pkg --lib` in a workspace).
static CARGO_RERUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^error: test failed, to rerun pass `([^`\n]+)`")
        .unwrap_or_else(|_| unreachable!())
});

/// cargo's arguments that select test targets: a command with one of them already chose.
const CARGO_TARGET_FLAGS: &[&str] = &[
    "--lib",
    "--bin",
    "--bins",
    "--test",
    "--tests",
    "--example",
    "--examples",
    "--bench",
    "--benches",
    "--all-targets",
    "--doc",
];

/// cargo's options (of `cargo test`) whose value is the next word, not a test name filter.
const CARGO_VALUE_FLAGS: &[&str] = &[
    "-p",
    "--package",
    "--exclude",
    "-F",
    "--features",
    "--target",
    "--target-dir",
    "--manifest-path",
    "-j",
    "--jobs",
    "--profile",
    "--bin",
    "--test",
    "--example",
    "--bench",
    "--color",
    "--message-format",
    "--config",
    "-Z",
    "--lockfile-path",
];

/// Test titles of the JavaScript runners, which select by a regular expression pp escapes:
/// words and spaces as people write them, nothing a shell would read (the command is quoted
/// anyway) and no leading `-` that a runner could take for a flag.
static SAFE_TITLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_:./\- ,'()\[\]#<>=+*?!@%^]*$")
        .unwrap_or_else(|_| unreachable!())
});

/// Most failing tests selected by name; beyond this the whole command is cheaper to read.
const MAX_NAMES: usize = 50;

/// `invocation` narrowed to `failing` (names as the runner printed them), or why not.
/// `stderr` is what the baseline's run printed there: `cargo test` names the failed test targets
/// in it.
pub fn narrow(
    invocation: &Invocation,
    failing: &[String],
    stderr: &str,
) -> Result<Selection, String> {
    if failing.is_empty() {
        return Err("the baseline names no failing test".into());
    }
    if failing.len() > MAX_NAMES {
        return Err(format!(
            "{} tests failed; more than {MAX_NAMES} are run as the whole command",
            failing.len()
        ));
    }
    let argv = match invocation {
        Invocation::Argv(a) => a.clone(),
        Invocation::Shell(s) => {
            if s.contains([
                ';', '&', '|', '<', '>', '$', '`', '(', ')', '{', '}', '\n', '*', '?',
            ]) {
                return Err(
                    "the command is a shell script (operators, redirections or expansions), not one runner"
                        .into(),
                );
            }
            shlex::split(s).ok_or_else(|| "the command's quoting cannot be read".to_owned())?
        }
    };
    let (runner, narrowed, names) = narrow_argv(&argv, failing, stderr)?;
    let invocation = match invocation {
        Invocation::Argv(_) => Invocation::Argv(narrowed),
        Invocation::Shell(_) => Invocation::Shell(
            shlex::try_join(narrowed.iter().map(String::as_str))
                .map_err(|_| "a selected name cannot be quoted".to_owned())?,
        ),
    };
    Ok(Selection {
        invocation,
        runner,
        names,
    })
}

fn program(argv: &[String]) -> &str {
    argv.first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("")
}

fn has_any(args: &[String], flags: &[&str]) -> bool {
    args.iter().any(|a| {
        flags
            .iter()
            .any(|f| a == f || a.starts_with(&format!("{f}=")))
    })
}

fn narrow_argv(
    argv: &[String],
    failing: &[String],
    stderr: &str,
) -> Result<(&'static str, Vec<String>, Vec<String>), String> {
    let prog = program(argv);
    let python = prog.starts_with("python");
    let module = |m: &str| python && argv.windows(2).any(|w| w[0] == "-m" && w[1] == m);
    let mut out = argv.to_vec();
    if prog == "pytest" || prog == "py.test" || module("pytest") {
        if has_any(argv, &["-k"]) {
            return Err("the command already selects tests with -k".into());
        }
        // `-k` matches names, not node ids: a test is selected by its function and, inside a
        // class, its class too, so `T::test_default` does not also run every `test_default`.
        let mut names: Vec<String> = Vec::new();
        for n in failing {
            let base = n.split('[').next().unwrap_or(n);
            let parts: Vec<String> = base.split("::").skip(1).map(str::to_owned).collect();
            let parts = if parts.is_empty() {
                vec![base.to_owned()]
            } else {
                parts
            };
            let keep = unique(parts[parts.len().saturating_sub(2)..].iter().cloned())?;
            let term = match keep.as_slice() {
                [class, function] => format!("({class} and {function})"),
                _ => keep.join(""),
            };
            if !names.contains(&term) {
                names.push(term);
            }
        }
        out.extend(["-k".to_owned(), names.join(" or ")]);
        return Ok(("pytest", out, names));
    }
    if module("unittest") {
        if has_any(argv, &["-k"]) {
            return Err("the command already selects tests with -k".into());
        }
        let names = unique(failing.iter().cloned())?;
        for n in &names {
            out.extend(["-k".to_owned(), n.clone()]);
        }
        return Ok(("unittest", out, names));
    }
    if prog == "cargo" {
        let sub = argv.iter().skip(1).find(|a| !a.starts_with('+'));
        let nextest = sub.is_some_and(|s| s == "nextest");
        if sub.is_some_and(|s| s == "test") || nextest {
            let after = argv.iter().position(|a| a == "--");
            let tail = after.map_or(&[][..], |i| &argv[i + 1..]);
            if tail.iter().any(|a| !a.starts_with('-')) || has_any(argv, &["-E", "--filterset"]) {
                return Err("the command already filters tests by name".into());
            }
            if after.is_none() {
                out.push("--".into());
            }
            let names = unique(failing.iter().cloned())?;
            out.extend(names.iter().cloned());
            // libtest prints a test's whole path, so it is matched exactly, not as a substring
            // of every other name.
            // Not where a word before `--` may be cargo's own name filter (`cargo test adds`),
            // which `--exact` would change too.
            let sub_at = argv.iter().position(|a| a == "test").unwrap_or(argv.len());
            let before = &argv[(sub_at + 1).min(argv.len())..after.unwrap_or(argv.len())];
            let value_of_option =
                |i: usize| i > 0 && CARGO_VALUE_FLAGS.contains(&before[i - 1].as_str());
            let words_before = before
                .iter()
                .enumerate()
                .any(|(i, a)| !a.starts_with('-') && !value_of_option(i));
            if !nextest && !words_before && !tail.iter().any(|a| a == "--exact") {
                out.push("--exact".into());
            }
            if !nextest && !has_any(before, CARGO_TARGET_FLAGS) {
                let at = after.unwrap_or(argv.len());
                let flags = cargo_rerun_targets(stderr, before);
                out.splice(at..at, flags);
            }
            return Ok((if nextest { "nextest" } else { "libtest" }, out, names));
        }
    }
    if prog == "go" && argv.get(1).is_some_and(|s| s == "test") {
        if has_any(argv, &["-run"]) {
            return Err("the command already selects tests with -run".into());
        }
        let names = unique(
            failing
                .iter()
                .map(|n| n.split('/').next().unwrap_or(n).to_owned()),
        )?;
        let at = argv.len().min(2);
        out.insert(at, format!("^({})$", names.join("|")));
        out.insert(at, "-run".into());
        return Ok(("gotest", out, names));
    }
    let js = |name: &str| prog == name || argv.iter().take(3).any(|a| a == name);
    if prog == "node" && argv.iter().any(|a| a == "--test") {
        if has_any(argv, &["--test-name-pattern", "--test-only"]) {
            return Err("the command already selects tests with --test-name-pattern".into());
        }
        let names = unique_titles(failing.iter().cloned())?;
        // Anchored: Node matches each test's own title, and runs a suite to reach a match.
        let pattern = format!(
            "^(?:{})$",
            names
                .iter()
                .map(|n| regex::escape(n))
                .collect::<Vec<_>>()
                .join("|")
        );
        out.insert(1, pattern);
        out.insert(1, "--test-name-pattern".to_owned());
        return Ok(("node", out, names));
    }
    if js("jest") || js("vitest") {
        if has_any(argv, &["-t", "--testNamePattern"]) {
            return Err("the command already selects tests with -t".into());
        }
        let names = unique_titles(
            failing
                .iter()
                .map(|n| n.rsplit(" > ").next().unwrap_or(n).to_owned()),
        )?;
        let pattern = names
            .iter()
            .map(|n| regex::escape(n))
            .collect::<Vec<_>>()
            .join("|");
        out.extend(["-t".to_owned(), pattern]);
        return Ok((if js("vitest") { "vitest" } else { "jest" }, out, names));
    }
    Err(format!(
        "pp does not know how to select tests of `{prog}`; the whole command runs"
    ))
}

/// The test targets cargo named for a rerun in `stderr` (`--lib`, `--test foo`, `-p pkg --bin x`),
/// as arguments, without a package `args` already names. Empty when cargo named none, or named
/// one pp does not pass on (a doc-test run, a word that is not a plain name): the name filter
/// alone then selects, in every target.
fn cargo_rerun_targets(stderr: &str, args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for caps in CARGO_RERUN.captures_iter(stderr) {
        let words: Vec<&str> = caps[1].split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            let (flag, value) = match words[i] {
                "--lib" => ("--lib", None),
                f @ ("-p" | "--package" | "--bin" | "--test" | "--example" | "--bench") => {
                    match words.get(i + 1) {
                        Some(v) if SAFE_NAME.is_match(v) && !v.starts_with('-') => (f, Some(*v)),
                        _ => return Vec::new(),
                    }
                }
                _ => return Vec::new(),
            };
            i += 1 + usize::from(value.is_some());
            let flag = if flag == "--package" { "-p" } else { flag };
            let given = |v: &str| {
                args.windows(2)
                    .any(|w| (w[0] == "-p" || w[0] == "--package") && w[1] == v)
                    || args.iter().any(|a| *a == format!("--package={v}"))
            };
            if flag == "-p" && value.is_some_and(given) {
                continue;
            }
            let pair: Vec<String> = std::iter::once(flag)
                .chain(value)
                .map(str::to_owned)
                .collect();
            if !out.windows(pair.len()).any(|w| w == pair.as_slice()) {
                out.extend(pair);
            }
        }
    }
    out
}

/// Like [`unique`], for titles the runner selects by an escaped regular expression.
fn unique_titles(names: impl Iterator<Item = String>) -> Result<Vec<String>, String> {
    unique_matching(names, &SAFE_TITLE)
}

/// `a::b::c[x]` → `c`: the last part of a node id, without parameters.
fn unique(names: impl Iterator<Item = String>) -> Result<Vec<String>, String> {
    unique_matching(names, &SAFE_NAME)
}

/// `names` without duplicates, in order, when every one matches `safe`.
fn unique_matching(
    names: impl Iterator<Item = String>,
    safe: &Regex,
) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !safe.is_match(&n) {
            return Err(format!(
                "the failing test `{}` has a name pp does not pass on as a selector",
                n.chars().take(80).collect::<String>()
            ));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(s: &str, failing: &[&str]) -> Result<String, String> {
        shell_after(s, failing, "")
    }

    fn shell_after(s: &str, failing: &[&str], stderr: &str) -> Result<String, String> {
        let f: Vec<String> = failing.iter().map(|s| s.to_string()).collect();
        narrow(&Invocation::Shell(s.into()), &f, stderr).map(|sel| match sel.invocation {
            Invocation::Shell(s) => s,
            Invocation::Argv(_) => unreachable!(),
        })
    }

    #[test]
    fn each_runner_selects_its_own_way() {
        assert_eq!(
            shell(
                "python3 -m pytest -q tests",
                &["tests/t.py::test_a", "tests/t.py::T::test_b[1-2]"]
            )
            .unwrap(),
            "python3 -m pytest -q tests -k 'test_a or (T and test_b)'"
        );
        assert_eq!(
            shell("pytest", &["t.py::test_a"]).unwrap(),
            "pytest -k test_a"
        );
        assert_eq!(
            shell(
                "python3 -m unittest discover -s tests -v",
                &["test_calc.T.test_add"]
            )
            .unwrap(),
            "python3 -m unittest discover -s tests -v -k test_calc.T.test_add"
        );
        assert_eq!(
            shell("cargo test -q", &["tests::adds", "visible"]).unwrap(),
            "cargo test -q -- tests::adds visible --exact"
        );
        assert_eq!(
            shell("cargo test -- --test-threads=1", &["a::b"]).unwrap(),
            "cargo test -- '--test-threads=1' a::b --exact"
        );
        assert_eq!(
            shell("cargo nextest run", &["a::b"]).unwrap(),
            "cargo nextest run -- a::b"
        );
        assert_eq!(
            shell("go test ./...", &["TestAdd/small", "TestSub"]).unwrap(),
            "go test -run '^(TestAdd|TestSub)$' ./..."
        );
        // JavaScript runners select by an escaped pattern: titles with spaces are fine.
        assert_eq!(
            shell("npx vitest run", &["adds numbers", "a (b)"]).unwrap(),
            r#"npx vitest run -t "adds numbers|a \\(b\\)""#
        );
        assert_eq!(
            shell("npx vitest run", &["a`b"]).unwrap_err(),
            "the failing test `a`b` has a name pp does not pass on as a selector"
        );
        assert_eq!(
            shell("node --test", &["adds numbers", "clamp"]).unwrap(),
            "node --test-name-pattern '^(?:adds numbers|clamp)$' --test"
        );
        assert_eq!(
            shlex::split(&shell("node --test test/", &["x.y"]).unwrap()).unwrap(),
            [
                "node",
                "--test-name-pattern",
                r"^(?:x\.y)$",
                "--test",
                "test/"
            ]
        );
        assert_eq!(shell("npx jest", &["adds"]).unwrap(), "npx jest -t adds");
        let argv = narrow(
            &Invocation::Argv(vec!["cargo".into(), "test".into()]),
            &["x".into()],
            "",
        )
        .unwrap();
        assert_eq!(
            argv.invocation,
            Invocation::Argv(vec![
                "cargo".into(),
                "test".into(),
                "--".into(),
                "x".into(),
                "--exact".into()
            ])
        );
        assert_eq!((argv.runner, argv.names), ("libtest", vec!["x".to_owned()]));
    }

    /// cargo names the failed test targets on stderr; only those are built and run again.
    #[test]
    fn cargo_test_is_narrowed_to_the_targets_cargo_named() {
        let one = "   Compiling semver v1.0.23\n     Running tests/test_version_req.rs (target/debug/deps/test_version_req-1)\nerror: test failed, to rerun pass `--test test_version_req`\n";
        assert_eq!(
            shell_after("cargo test --offline -q", &["test_tilde"], one).unwrap(),
            "cargo test --offline -q --test test_version_req -- test_tilde --exact"
        );
        // `--no-fail-fast` names every failed target; a workspace names the package too, once
        // per target, and a package the command already names is not named again.
        let many = "error: test failed, to rerun pass `-p a --lib`\nerror: test failed, to rerun pass `-p a --test it`\nerror: test failed, to rerun pass `--bin tool-x`\nerror: 3 targets failed:\n    `-p a --lib`\n";
        assert_eq!(
            shell_after(
                "cargo test --no-fail-fast -- --test-threads=1",
                &["t", "u"],
                many
            )
            .unwrap(),
            "cargo test --no-fail-fast -p a --lib --test it --bin tool-x -- '--test-threads=1' t u --exact"
        );
        assert_eq!(
            shell_after("cargo test -p a", &["t"], many).unwrap(),
            "cargo test -p a --lib --test it --bin tool-x -- t --exact"
        );
        // A command that already chose its targets keeps them; a doc-test target, or a word pp
        // does not know, leaves the name filter to select in every target.
        assert_eq!(
            shell_after("cargo test --lib", &["t"], one).unwrap(),
            "cargo test --lib -- t --exact"
        );
        for odd in [
            "error: test failed, to rerun pass `--doc`\n",
            "error: test failed, to rerun pass `--test $(x)`\n",
            "error: test failed, to rerun pass `--test`\n",
        ] {
            assert_eq!(
                shell_after("cargo test", &["t"], odd).unwrap(),
                "cargo test -- t --exact",
                "{odd}"
            );
        }
        // nextest prints no such note and keeps its own selection.
        assert_eq!(
            shell_after("cargo nextest run", &["a::b"], one).unwrap(),
            "cargo nextest run -- a::b"
        );
    }

    #[test]
    fn what_cannot_be_narrowed_safely_says_why() {
        for (cmd, why) in [
            (
                "make test",
                "pp does not know how to select tests of `make`",
            ),
            ("pytest -k slow", "already selects tests with -k"),
            ("cargo test -- adds", "already filters tests by name"),
            ("cd x && pytest", "shell script"),
            ("pytest $ARGS", "shell script"),
            ("go test -run X ./...", "already selects tests with -run"),
            (
                "node --test --test-name-pattern=x",
                "already selects tests with --test-name-pattern",
            ),
            (
                "node test.js",
                "pp does not know how to select tests of `node`",
            ),
        ] {
            let err = shell(cmd, &["t.py::test_a"]).unwrap_err();
            assert!(err.contains(why), "{cmd}: {err}");
        }
        // Names that would be syntax to a shell or a selector are never passed on.
        for bad in ["t.py::test_a or True", "a;rm -rf /", "$(x)", "-k"] {
            assert!(shell("pytest", &[bad]).is_err(), "{bad}");
        }
        assert!(
            shell("pytest", &[])
                .unwrap_err()
                .contains("no failing test")
        );
        // A name filter of cargo's own before `--` stays: libtest runs the union, which still
        // holds every failing test.
        assert_eq!(
            shell("cargo test adds", &["a::b"]).unwrap(),
            "cargo test adds -- a::b"
        );
        // The value of one of cargo's options is not a name filter; a word after it is.
        assert_eq!(
            shell("cargo test -p a --features x", &["a::b"]).unwrap(),
            "cargo test -p a --features x -- a::b --exact"
        );
        assert_eq!(
            shell("cargo test -p a adds", &["a::b"]).unwrap(),
            "cargo test -p a adds -- a::b"
        );
    }
}
