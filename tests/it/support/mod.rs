//! Test helpers: a temp git repo to run `pp` in, and a scripted `command` proposer.

#![allow(dead_code)]

pub mod model_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The pp under test: the one cargo built, or `PP_TEST_BIN` (CI runs the attack tests again as
/// an unprivileged user, from a copy of the binaries that user can read).
pub fn pp_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("PP_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pp").to_owned())
    })
}

/// A workspace (a real git repo in a temp dir) plus a scratch dir outside it.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub scratch: tempfile::TempDir,
    pub extra_env: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let env = Self {
            dir,
            scratch,
            extra_env: Vec::new(),
        };
        for (p, c) in files {
            env.write(p, c);
        }
        env.git(&["init", "-q"]);
        env.commit("init");
        env
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.root())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn commit(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-qm", msg, "--allow-empty"]);
    }

    /// Runs `pp` in the workspace with a clean PP_* environment.
    pub fn pp(&self, args: &[&str]) -> Output {
        self.pp_in(self.root(), args)
    }

    pub fn pp_in(&self, cwd: &Path, args: &[&str]) -> Output {
        self.pp_command(cwd, args).output().unwrap()
    }

    /// Starts pp in the workspace without waiting for it (to signal or kill it mid-session);
    /// with `capture`, stdout and stderr are piped for `wait_with_output`, else discarded.
    pub fn pp_spawn(&self, args: &[&str], capture: bool) -> std::process::Child {
        let out = || {
            if capture {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            }
        };
        self.pp_command(self.root(), args)
            .stdout(out())
            .stderr(out())
            .spawn()
            .unwrap()
    }

    /// Runs pp with stdout and/or stderr a pipe whose reader is already closed, as in
    /// `pp … | head -c0`; the stream left open is captured.
    pub fn pp_closed(&self, args: &[&str], close_stdout: bool, close_stderr: bool) -> Output {
        let closed = || {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            std::process::Stdio::from(writer)
        };
        let mut cmd = self.pp_command(self.root(), args);
        if close_stdout {
            cmd.stdout(closed());
        }
        if close_stderr {
            cmd.stderr(closed());
        }
        cmd.output().unwrap()
    }

    /// pp with the test's environment: none of the caller's `PP_*` variables, GitHub Actions
    /// variables nor `CARGO_TARGET_DIR`, no colour, and `extra_env`.
    /// Runs pp with a terminal for stdin, stdout and stderr (util-linux `script` makes one);
    /// returns everything it wrote there.
    pub fn pp_on_terminal(&self, args: &[&str]) -> Output {
        let line = shlex::try_join(std::iter::once(pp_bin()).chain(args.iter().copied())).unwrap();
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .current_dir(self.root());
        self.scrub(&mut cmd);
        cmd.stdin(std::process::Stdio::null()).output().unwrap()
    }

    fn pp_command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(pp_bin());
        cmd.args(args).current_dir(cwd);
        self.scrub(&mut cmd);
        cmd
    }

    /// The environment every pp a test runs gets: none of pp's own variables or GitHub's from
    /// the test's environment, `NO_COLOR`, and the test's `extra_env`.
    fn scrub(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("PP_") {
                cmd.env_remove(k);
            }
        }
        // Run inside GitHub Actions, pp would annotate and append to the real job's files.
        for k in [
            "GITHUB_ACTIONS",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_OUTPUT",
            "GITHUB_WORKSPACE",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("NO_COLOR", "1");
        // A shared target dir (set for building pp itself) would let concurrent tests' crates,
        // all named `demo`, overwrite each other's builds inside their sandboxes.
        cmd.env_remove("CARGO_TARGET_DIR");
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
    }

    /// The first event named `event` of the (first) session under `.pp-artifacts`, once it is
    /// written; `None` before.
    pub fn session_event(&self, event: &str) -> Option<serde_json::Value> {
        let session = std::fs::read_dir(self.root().join(".pp-artifacts"))
            .ok()?
            .filter_map(Result::ok)
            .find(|e| e.path().is_dir())?;
        let events =
            std::fs::read_to_string(session.path().join("proof_bundle/events.jsonl")).ok()?;
        events
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["event"] == event)
    }

    /// A `command` proposer that answers request N with `replies[N-1]` (the last one repeats)
    /// and saves each request as `request_N.json` in the scratch dir.
    pub fn proposer(&self, replies: &[&str]) -> String {
        let s = self.scratch.path();
        for (i, r) in replies.iter().enumerate() {
            std::fs::write(s.join(format!("reply_{}.txt", i + 1)), r).unwrap();
        }
        let script = s.join("proposer.sh");
        let last = replies.len();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nd='{d}'\nn=$(cat \"$d/count\" 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > \"$d/count\"\ncat > \"$d/request_$n.json\"\nif [ $n -gt {last} ]; then n={last}; fi\ncat \"$d/reply_$n.txt\"\n",
                d = s.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("command:{}", script.display())
    }

    /// How many requests the scripted proposer received.
    pub fn proposer_calls(&self) -> usize {
        std::fs::read_to_string(self.scratch.path().join("count"))
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(0)
    }

    pub fn request(&self, n: usize) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.scratch.path().join(format!("request_{n}.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Every file of the workspace (but .git and .pp-artifacts) with its bytes.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut v = Vec::new();
        walk(self.root(), self.root(), &mut v);
        v.sort();
        v
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let name = e.file_name();
        if name == ".git" || name == ".pp-artifacts" {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.push((
                p.strip_prefix(root).unwrap().to_owned(),
                std::fs::read(&p).unwrap(),
            ));
        }
    }
}

/// Asserts that no file under `dir` contains `needle`; returns how many files were read.
pub fn assert_no_file_holds(dir: &Path, needle: &str) -> usize {
    let mut stack = vec![dir.to_owned()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            files += 1;
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            assert!(!text.contains(needle), "{} holds {needle}", p.display());
        }
    }
    files
}

/// The `repro.json` of the bundle a `--json` summary names.
pub fn repro(v: &serde_json::Value) -> serde_json::Value {
    let b = std::path::Path::new(v["proof_bundle"].as_str().unwrap()).join("repro.json");
    serde_json::from_slice(&std::fs::read(b).unwrap()).unwrap()
}

/// The JSON document on stdout.
pub fn json_out(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A unified diff replacing `old` with `new` on line `line` of `path` (single-line files ok).
/// The fix of the `v.txt` fixture (`bad` → `good`), which `grep -qx good v.txt` checks.
pub const V_FIX: &str = "--- a/v.txt\n+++ b/v.txt\n@@ -1 +1 @@\n-bad\n+good\n";

/// `pp run "grep -qx good v.txt" [extra…] --json` with a scripted proposer that answers
/// [`V_FIX`]; asserts the session was proven and returns its summary.
pub fn prove_v_txt(env: &TestEnv, extra: &[&str]) -> serde_json::Value {
    let out = run_v_txt(env, extra);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    v
}

/// [`prove_v_txt`]'s session, whatever it ends with.
pub fn run_v_txt(env: &TestEnv, extra: &[&str]) -> Output {
    let provider = env.proposer(&[&json_diff(V_FIX)]);
    let mut args = vec!["run", "grep -qx good v.txt", "--provider", &provider];
    args.extend_from_slice(extra);
    args.push("--json");
    env.pp(&args)
}

pub fn json_diff(diff: &str) -> String {
    serde_json::json!({"diff": diff, "rationale": "test"}).to_string()
}

/// The unittest command of [`calc_env`].
pub const CALC_CMD: &str = "python3 -m unittest discover -s tests -v";
/// The fix of [`calc_env`]'s bug.
pub const CALC_FIX: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";

/// A repository whose `add` subtracts: `test_add` fails, `test_zero` passes.
pub fn calc_env() -> TestEnv {
    TestEnv::new(&[
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n    def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n",
        ),
    ])
}
