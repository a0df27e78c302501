//! Attacks on containment: the target command (and so every candidate and the code under test)
//! is an attacker's. Each test runs a real attack through a real `pp run` and checks that the
//! user's tree, pp's keys, the host's sockets and processes, and the bundle stayed out of reach.
//! CI runs this module as root and again as an unprivileged user.

use std::path::{Path, PathBuf};

use crate::session::{sleep_marker, sleeps};
use crate::support::*;

const TEST_CMD: &str = "python3 -m unittest discover -s tests -v";
const FIX: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";

fn calc_env(extra: &[(&str, &str)]) -> TestEnv {
    let mut files = vec![
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
    ];
    files.extend_from_slice(extra);
    TestEnv::new(&files)
}

fn bundle(v: &serde_json::Value) -> PathBuf {
    PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

fn baseline_stdout(v: &serde_json::Value) -> String {
    std::fs::read_to_string(bundle(v).join("attempts/0_baseline/default/stdout.log")).unwrap()
}

/// The user's `.git` as bytes (config, hooks, info), to compare before and after.
fn git_state(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["config", "hooks", "info"] {
        let p = root.join(".git").join(sub);
        if p.is_file() {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        } else if let Ok(rd) = std::fs::read_dir(&p) {
            for e in rd.flatten() {
                if e.path().is_file() {
                    out.push((e.path(), std::fs::read(e.path()).unwrap()));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_test_cannot_plant_git_configuration_that_pp_or_the_user_later_runs() {
    let env = calc_env(&[]);
    let mark = env.scratch.path().join("ran");
    let m = mark.display();
    // The test writes a filter, fsmonitor and hooks into the sandbox's repository and names
    // the filter in attributes; pp's next `git apply` (and the user's next git command, were
    // this the real repository) would run them outside every sandbox.
    let cmd = format!(
        "printf '[filter \"x\"]\\n\\tclean = touch {m}.clean\\n\\tsmudge = touch {m}.smudge\\n\\trequired = true\\n[core]\\n\\tfsmonitor = touch {m}.fsmonitor\\n\\thooksPath = .evil\\n' >> .git/config; \
         echo '* filter=x' > .gitattributes; echo '* filter=x' >> .git/info/attributes; \
         mkdir -p .git/hooks; printf '#!/bin/sh\\ntouch {m}.hook\\n' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; \
         {TEST_CMD}"
    );
    let git_before = git_state(env.root());
    let before = env.snapshot();
    for backend in ["copy", "overlay", "git_worktree"] {
        env.write(
            "pp.yaml",
            &format!("policy:\n  sandbox: {{backend: {backend}}}\n"),
        );
        env.commit(backend);
        let provider = env.proposer(&[&json_diff(FIX)]);
        let out = env.pp(&["run", &cmd, "--provider", &provider, "--json"]);
        let v = json_out(&out);
        if v["status"] == "policy_violation" && backend == "overlay" {
            continue; // no overlay on this machine: copy and git_worktree still ran
        }
        assert_eq!(v["status"], "proven", "{backend}: {}", stderr(&out));
        for suffix in ["clean", "smudge", "fsmonitor", "hook"] {
            assert!(
                !env.scratch.path().join(format!("ran.{suffix}")).exists(),
                "{backend}: the planted {suffix} program ran"
            );
        }
    }
    // Commit the user's own way, as they would next: no planted hook or filter runs.
    env.git(&["commit", "-q", "--allow-empty", "-m", "after"]);
    assert!(!env.scratch.path().join("ran.hook").exists());
    let mut after = git_state(env.root());
    after.retain(|(p, _)| !p.ends_with("config") || git_before.iter().any(|(q, _)| q == p));
    assert_eq!(git_before, after, "the user's .git changed");
    let now: Vec<_> = env
        .snapshot()
        .into_iter()
        .filter(|(p, _)| p != Path::new("pp.yaml"))
        .collect();
    let then: Vec<_> = before
        .into_iter()
        .filter(|(p, _)| p != Path::new("pp.yaml"))
        .collect();
    assert_eq!(now, then, "the user's tree changed");
}

#[test]
fn the_users_tree_and_git_dir_are_unreachable_by_any_path() {
    let env = calc_env(&[]);
    let root = env.root().canonicalize().unwrap();
    let r = root.display();
    // Every way in the attack pass found: the real path ($PWD before the sandbox, inherited),
    // /proc/<pid>/cwd and /proc/<pid>/root of every process it can see (pp among them),
    // and the real .git's hooks.
    let cmd = format!(
        "for t in '{r}/calc.py' '{r}/.git/config' '{r}/.git/hooks/post-checkout'; do echo pwned >> \"$t\" 2>/dev/null; done; \
         for p in /proc/[0-9]*; do echo pwned > $p/cwd/pwned.txt 2>/dev/null; echo pwned > $p/root{r}/pwned.txt 2>/dev/null; done; \
         echo pp-visible: $(cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | grep -c '[p]p run'); echo pids: $(ls -d /proc/[0-9]* | wc -l); cat /proc/1/cmdline | tr '\\0' ' '; echo; {TEST_CMD}"
    );
    let git_before = git_state(env.root());
    let before = env.snapshot();
    for backend in ["copy", "git_worktree", "overlay"] {
        env.write(
            "pp.yaml",
            &format!("policy:\n  sandbox: {{backend: {backend}}}\n"),
        );
        let out = env.pp(&["run", &cmd, "--provider", "stub", "--json"]);
        let v = json_out(&out);
        if v["status"] == "policy_violation" && backend == "overlay" {
            continue;
        }
        assert_eq!(v["status"], "not_proven", "{backend}: {}", stderr(&out));
        let log = baseline_stdout(&v);
        // pp and every host process are invisible: the namespace holds bubblewrap's init,
        // the shell and what it runs.
        let pids: usize = log
            .lines()
            .find_map(|l| l.strip_prefix("pids: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(pids <= 6, "{backend}: {pids} processes visible:\n{log}");
        assert!(
            log.contains("pp-visible: 0"),
            "{backend}: pp is visible:\n{log}"
        );
        assert!(
            log.contains("bwrap"),
            "{backend}: pid 1 is not the sandbox's: {log}"
        );
        assert!(!root.join("pwned.txt").exists(), "{backend}");
        assert_eq!(git_state(env.root()), git_before, "{backend}: .git changed");
        let now: Vec<_> = env
            .snapshot()
            .into_iter()
            .filter(|(p, _)| p != Path::new("pp.yaml"))
            .collect();
        assert_eq!(now, before, "{backend}: the user's tree changed");
    }
}

#[test]
fn network_deny_holds_against_host_unix_sockets() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let env = calc_env(&[]);
    // Real listeners where daemons keep theirs: /run (Docker's socket is /run/docker.sock),
    // /tmp, /dev/shm, and the abstract namespace.
    let tag = format!("pp-attack-{}", std::process::id());
    let mut paths = vec![
        env.scratch.path().join("daemon.sock"),
        PathBuf::from(format!("/dev/shm/{tag}.sock")),
    ];
    if nix::unistd::geteuid().is_root() {
        paths.push(PathBuf::from(format!("/run/{tag}.sock")));
    }
    let mut listeners: Vec<UnixListener> = paths
        .iter()
        .map(|p| {
            let _ = std::fs::remove_file(p);
            UnixListener::bind(p).unwrap()
        })
        .collect();
    let abstract_name = format!("{tag}-abstract");
    listeners.push(
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(&abstract_name).unwrap()).unwrap(),
    );
    for l in &listeners {
        l.set_nonblocking(true).unwrap();
    }
    let targets: Vec<String> = paths
        .iter()
        .map(|p| format!("'{}'", p.display()))
        .chain([format!("'\\0{abstract_name}'")])
        .collect();
    let script = format!(
        "import socket\nfor t in [{}]:\n    s = socket.socket(socket.AF_UNIX)\n    try:\n        s.connect(t)\n        print('CONNECTED', t)\n    except OSError as e:\n        print('refused', t, e)\n",
        targets.join(", ")
    );
    env.write("probe.py", &script);
    env.commit("probe");
    let out = env.pp(&[
        "run",
        &format!("python3 probe.py; {TEST_CMD}"),
        "--provider",
        "stub",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let log = baseline_stdout(&v);
    assert!(log.contains("refused"), "{log}");
    assert!(!log.contains("CONNECTED"), "{log}");
    for (l, name) in listeners.iter().zip(
        paths
            .iter()
            .map(|p| p.display().to_string())
            .chain([abstract_name]),
    ) {
        assert!(l.accept().is_err(), "{name} was reached from the sandbox");
    }
    for p in &paths {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn secrets_stay_out_of_reach_of_the_test_the_bundle_and_pp_s_environment_block() {
    let mut env = calc_env(&[]);
    let model_key = format!(
        "sk-attack{}abcdefghijklmnopqrstuvwxyz0123",
        std::process::id()
    );
    let hmac_key = format!(
        "hmac-attack-{}-0123456789abcdefghijklmnop",
        std::process::id()
    );
    env.extra_env
        .push(("PP_OPENAI_API_KEY".into(), model_key.clone()));
    env.extra_env
        .push(("PP_ATTEST_HMAC_KEY".into(), hmac_key.clone()));
    // Long enough to look at pp while it runs, short enough not to slow the suite.
    let secs = format!("2.{}40", std::process::id());
    // Looks everywhere a key could be: every environment it can see, its own descriptors.
    let cmd = format!(
        "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c attack; echo fds: $(ls /proc/self/fd | tr '\\n' ' '); sleep {secs}; {TEST_CMD}"
    );
    // A descriptor pp inherited (as from a CI runner) must not reach the command.
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec 7</etc/hostname; exec \"$@\"")
        .arg("sh")
        .arg(pp_bin())
        .args(["run", &cmd, "--provider", "stub", "--attest", "--json"])
        .current_dir(env.root())
        .envs(env.extra_env.iter().cloned())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pp_pid = child.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sleeps(&secs).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the command never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While pp runs: its environment block holds neither key, and it makes no core dumps.
    let environ = std::fs::read(format!("/proc/{pp_pid}/environ")).unwrap_or_default();
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains(&model_key) && !environ.contains(&hmac_key));
    let limits = std::fs::read_to_string(format!("/proc/{pp_pid}/limits")).unwrap();
    assert!(
        limits.lines().any(
            |l| l.starts_with("Max core file size") && l.split_whitespace().nth(4) == Some("0")
        ),
        "{limits}"
    );
    let out = child.wait_with_output().unwrap();
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let log = baseline_stdout(&v);
    assert!(log.starts_with("0\n"), "a key was visible: {log}");
    let fds = log.lines().find_map(|l| l.strip_prefix("fds: ")).unwrap();
    assert_eq!(
        fds.trim(),
        "0 1 2 3",
        "descriptors beyond stdio reached the command"
    );
    assert!(assert_no_file_holds(&bundle(&v), &model_key) > 5);
    assert_no_file_holds(&bundle(&v), &hmac_key);
}

#[test]
fn nothing_the_test_starts_outlives_it() {
    let env = calc_env(&[]);
    let secs = sleep_marker(41);
    // setsid, a double fork and nohup: each leaves the command's process group and session.
    let cmd = format!(
        "setsid sh -c 'sleep {secs} &'; (sh -c 'sleep {secs} &' &); nohup sleep {secs} >/dev/null 2>&1 & {TEST_CMD}"
    );
    let out = env.pp(&["run", &cmd, "--provider", "stub", "--json"]);
    assert_eq!(json_out(&out)["status"], "not_proven", "{}", stderr(&out));
    assert_eq!(
        sleeps(&secs),
        Vec::<u32>::new(),
        "a daemon outlived the command"
    );
}

#[test]
fn a_daemon_left_by_the_test_cannot_forge_the_signed_bundle() {
    let mut env = calc_env(&[]);
    let key = "forge-test-key-0123456789abcdefghijklmnopqrstuvwxyz";
    env.extra_env
        .push(("PP_ATTEST_HMAC_KEY".into(), key.to_owned()));
    let root = env.root().canonicalize().unwrap();
    // A daemon that appends code to every final.patch it can reach, for as long as it lives.
    let cmd = format!(
        "setsid sh -c 'while true; do for f in {r}/.pp-artifacts/*/proof_bundle/final.patch; do echo INJECTED >> \"$f\"; done; sleep 0.05; done' >/dev/null 2>&1 & {TEST_CMD}",
        r = root.display()
    );
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", &cmd, "--provider", &provider, "--attest", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let b = bundle(&v);
    let patch = std::fs::read_to_string(b.join("final.patch")).unwrap();
    assert!(!patch.contains("INJECTED"), "{patch}");
    let out = env.pp(&[
        "verify-attestation",
        b.to_str().unwrap(),
        "--require",
        "hmac",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_policy_file_alone_never_runs_host_programs() {
    let env = calc_env(&[]);
    let mark = env.scratch.path().join("host-ran");
    let evil = env.scratch.path().join("evil.sh");
    std::fs::write(
        &evil,
        format!("#!/bin/sh\ntouch '{}'\necho '{{}}'\n", mark.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    for policy in [
        format!(
            "policy:\n  provider:\n    name: command\n    command: [\"{}\"]\n",
            evil.display()
        ),
        format!(
            "policy:\n  sandbox: {{backend: container, container_runtime: \"{}\"}}\n",
            evil.display()
        ),
    ] {
        env.write("pp.yaml", &policy);
        env.commit("policy");
        let out = env.pp(&["run", TEST_CMD, "--json"]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        let v = json_out(&out);
        assert!(v.to_string().contains("--trust-policy"), "{v}");
        assert!(!mark.exists(), "the policy's program ran: {policy}");
    }
    // Trusted explicitly, the same file's proposer runs.
    env.write(
        "pp.yaml",
        &format!(
            "policy:\n  provider:\n    name: command\n    command: [\"{}\"]\n",
            evil.display()
        ),
    );
    env.commit("trusted");
    let out = env.pp(&["run", TEST_CMD, "--trust-policy", "--json"]);
    assert_eq!(json_out(&out)["status"], "not_proven", "{}", stderr(&out));
    assert!(
        mark.exists(),
        "--trust-policy did not run the trusted proposer"
    );
}

#[test]
fn pp_never_follows_the_sandbox_s_symlinks_out_of_it() {
    let env = calc_env(&[(
        "pp.yaml",
        "proof_targets: [{name: default, cmd: \"sh run.sh\", junit: reports/junit.xml}]\npolicy:\n  allowed_commands: [\"sh run.sh\"]\n",
    )]);
    // A host directory holding a report-shaped file pp must neither delete nor read, and a
    // host file holding a secret pp must not send to the proposer.
    let host = env.scratch.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let victim = host.join("junit.xml");
    std::fs::write(&victim, "<testsuite tests=\"99\" failures=\"0\"/>").unwrap();
    let secret = host.join("secret.py");
    std::fs::write(&secret, "SECRET_TOKEN = 'exfiltrated-by-symlink'\n").unwrap();
    env.write(
        "run.sh",
        &format!(
            "rm -rf reports; ln -s '{h}' reports\nln -sf '{s}' leak.py\nprintf 'Traceback (most recent call last):\\n  File \"leak.py\", line 1, in <module>\\nNameError: name x is not defined\\n' >&2\nexit 1\n",
            h = host.display(),
            s = secret.display()
        ),
    );
    env.commit("attack");
    let provider = env.proposer(&["no idea"]);
    let out = env.pp(&["prove", "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    assert!(
        victim.exists(),
        "pp deleted a host file through the report's symlink"
    );
    let req = std::fs::read_to_string(env.scratch.path().join("request_1.json")).unwrap();
    assert!(
        !req.contains("exfiltrated-by-symlink"),
        "a host file reached the proposer"
    );
    let b = bundle(&v);
    assert_no_file_holds(&b, "exfiltrated-by-symlink");
    let result: serde_json::Value = serde_json::from_slice(
        &std::fs::read(b.join("attempts/0_baseline/default/result.json")).unwrap(),
    )
    .unwrap();
    assert_ne!(result["tests"]["total"], 99, "the host's report was read");
}

#[test]
fn the_tracer_s_folder_cannot_be_turned_into_a_way_out() {
    // During search's traced run the suite swaps pp's `.pp-search` folder for a link to a folder
    // outside the sandbox that holds a trace of the attacker's choosing and a file to destroy:
    // pp reads the trace only beneath the sandbox, and removes the link, never what it names.
    let outside = tempfile::tempdir().unwrap();
    let o = outside.path().display();
    std::fs::write(outside.path().join("victim.txt"), "keep me\n").unwrap();
    let planted = r#"{"test_add": [["calc.py", 1]]}"#;
    std::fs::write(outside.path().join("trace.json"), planted).unwrap();
    let test = format!(
        "import os\nimport shutil\nimport unittest\nfrom calc import add\n\nif os.environ.get('PP_SEARCH_TRACE_OUT'):\n    shutil.rmtree('.pp-search', ignore_errors=True)\n    os.symlink('{o}', '.pp-search')\n\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n"
    );
    let env = calc_env(&[]);
    env.write("tests/test_calc.py", &test);
    env.commit("attack");
    let out = env.pp(&["run", TEST_CMD, "--provider", "search", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let search: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(bundle(&v).join("attempts/1/search.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        search["spectrum"], false,
        "pp read a trace through the link"
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("victim.txt")).unwrap(),
        "keep me\n"
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("trace.json")).unwrap(),
        planted
    );
}

/// The kernel's switches under `/proc` stay out of reach, as root too: uid 0 may write most of
/// `/proc/sys` with no capability, and `kernel.core_pattern` names a program the kernel runs as
/// root on the host. The attack writes each switch's own value back, so that a failed defence
/// changes nothing on the machine running the tests.
#[test]
fn a_test_cannot_write_the_kernel_s_switches_under_proc() {
    let env = calc_env(&[]);
    let cmd = format!(
        "for f in /proc/sys/kernel/core_pattern /proc/sys/vm/swappiness /proc/sys/kernel/hostname; do \
           if [ -e $f ]; then v=$(cat $f); if printf '%s\\n' \"$v\" > $f 2>/dev/null; then echo \"written: $f\"; else echo \"refused: $f\"; fi; fi; \
         done; \
         for f in /proc/pressure/cpu /proc/pressure/io /proc/pressure/memory; do            if [ -e $f ] && [ -w $f ]; then echo \"written: $f is writable\"; fi;          done;          grep ' /proc/sys ' /proc/self/mountinfo; {TEST_CMD}"
    );
    let out = env.pp(&["run", &cmd, "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let log = baseline_stdout(&v);
    assert!(
        log.contains("refused: /proc/sys/kernel/core_pattern"),
        "the attack did not run: {log}"
    );
    assert!(
        !log.contains("written:"),
        "a /proc/sys switch was written: {log}"
    );
    // Read-only because of the mount, not only the caller's uid.
    assert!(
        log.lines().any(|l| l.contains(" /proc/sys ")
            && l.split(' ')
                .nth(5)
                .is_some_and(|o| o.split(',').any(|f| f == "ro"))),
        "/proc/sys is not a read-only mount: {log}"
    );
}

/// A folder for signing keys in the user's home: outside `/tmp`, which the sandbox replaces
/// anyway, so only pp's own hiding keeps a key there from the test.
fn keys_in_home() -> tempfile::TempDir {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap();
    tempfile::Builder::new()
        .prefix("pp-attack-keys-")
        .tempdir_in(&home)
        .unwrap()
}

/// The first bytes of a key file, hex-encoded as a test prints them (no redaction hides hex).
fn key_hex(key: &Path) -> String {
    let pem = std::fs::read(key).unwrap();
    pem.iter().take(40).map(|b| format!("{b:02x}")).collect()
}

/// pp's Ed25519 signing key stays out of the test's reach wherever it lies: outside the
/// workspace (in the user's home, which the sandbox otherwise shows read-only), inside it (an
/// untracked file the sandbox copies), and through a symlink to it.
#[test]
fn a_test_cannot_read_pp_s_signing_key_file() {
    let keys = keys_in_home();
    for (name, inside) in [("outside", false), ("inside", true), ("linked", false)] {
        let env = calc_env(&[]);
        let key = if inside {
            env.root().join("signing.pem")
        } else {
            keys.path().join(format!("{name}.pem"))
        };
        let out = env.pp(&["attest", "--generate-key", key.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let named = if name == "linked" {
            let link = keys.path().join("link.pem");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&key, &link).unwrap();
            link
        } else {
            key.clone()
        };
        env.write(
            "pp.yaml",
            &format!(
                "policy:\n  attestation: {{enabled: true, mode: ed25519, key_file: \"{}\"}}\n",
                named.display()
            ),
        );
        env.commit("policy");
        let pem = std::fs::read_to_string(&key).unwrap();
        let secret_line = pem.lines().nth(1).unwrap().to_owned();
        // The key's bytes, hex-encoded so no redaction would hide them, from every path the test
        // could read it by: the one named, its target, and the sandbox's own copy.
        let cmd = format!(
            "for f in '{}' '{}' ./signing.pem; do echo \"$f: $(od -An -tx1 \"$f\" 2>&1 | tr -d ' \\n' | head -c 400)\"; done; {TEST_CMD}",
            named.display(),
            key.display()
        );
        let out = env.pp(&["run", &cmd, "--provider", "stub", "--json"]);
        let v = json_out(&out);
        assert_eq!(v["status"], "not_proven", "{name}: {}", stderr(&out));
        let log = baseline_stdout(&v);
        let hex = key_hex(&key);
        assert!(log.contains(": "), "{name}: the attack did not run: {log}");
        assert!(
            !log.contains(&hex),
            "{name}: the test read the signing key: {log}"
        );
        assert!(!log.contains(&secret_line), "{name}: {log}");
        // The session still signed with it.
        let att = std::fs::read_to_string(bundle(&v).join("attestation.json")).unwrap();
        assert!(att.contains("signatures"), "{name}: {att}");
    }
}

/// A container sees the sandbox's copy of the workspace whole, so a signing key kept in the
/// workspace is refused there before any engine is asked.
#[test]
fn a_container_session_refuses_a_signing_key_inside_the_workspace() {
    let env = calc_env(&[]);
    let key = env.root().join("keys/signing.pem");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    let out = env.pp(&["attest", "--generate-key", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    env.write(
        "pp.yaml",
        "policy:\n  sandbox: {backend: container}\n  attestation: {enabled: true, mode: ed25519, key_file: keys/signing.pem}\n",
    );
    env.commit("policy");
    let out = env.pp(&["run", TEST_CMD, "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "policy_violation", "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("signing key") && message.contains("inside the workspace"),
        "{message}"
    );
}

/// Makes `repo`'s git configuration define a filter driver named by `* filter=evil`, in a place
/// only git itself evaluates (`how`: an `includeIf "hasconfig:…"` include, or per-worktree
/// configuration), whose program leaves `marker` behind, with what it saw of pp's environment.
fn plant_hidden_filter(env: &TestEnv, how: &str, marker: &Path) {
    let repo = env.root();
    let git = |args: &[&str]| {
        env.git(args);
    };
    let script = repo.join(".git/evil.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 ran: $PP_ATTEST_HMAC_KEY\" >> '{}'\ncat\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let driver = format!(
        "[filter \"evil\"]\n\tclean = {s} clean\n\tsmudge = {s} smudge\n",
        s = script.display()
    );
    match how {
        "include" => {
            std::fs::write(repo.join(".git/evil.cfg"), driver).unwrap();
            git(&["remote", "add", "origin", "https://evil.example/x.git"]);
            git(&[
                "config",
                "--add",
                "includeIf.hasconfig:remote.*.url:https://evil.example/**.path",
                "evil.cfg",
            ]);
        }
        _ => {
            git(&["config", "extensions.worktreeConfig", "true"]);
            std::fs::write(repo.join(".git/config.worktree"), driver).unwrap();
        }
    }
}

/// The planted program is real: a plain `git diff HEAD` in the repository runs it (the marker
/// appears, and is removed for the attack proper).
fn assert_plain_git_runs_it(env: &TestEnv, marker: &Path) {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(env.root())
        .args(["diff", "HEAD", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.code().is_some());
    assert!(
        marker.exists(),
        "the planted program does not run under git"
    );
    std::fs::remove_file(marker).unwrap();
}

/// The `git_worktree` backend runs git over the user's repository, which may be a checkout
/// someone handed over: a filter driver git alone sees (an include, per-worktree configuration)
/// never runs, in a session or in a replay against that checkout.
#[test]
fn a_hostile_checkout_s_hidden_git_filters_never_run_on_the_host() {
    for how in ["include", "worktree"] {
        let env = calc_env(&[(".gitattributes", "* filter=evil\n")]);
        env.write(
            "pp.yaml",
            &format!(
                "policy:\n  allowed_commands: [\"{TEST_CMD}\"]\n  sandbox: {{backend: git_worktree}}\n"
            ),
        );
        env.commit("policy");
        // A genuine bundle first, from the clean repository.
        let provider = env.proposer(&[&json_diff(FIX)]);
        let v = json_out(&env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]));
        assert_eq!(v["status"], "proven", "{how}: {v}");
        let b = bundle(&v);

        let marker = env.scratch.path().join(format!("{how}.ran"));
        plant_hidden_filter(&env, how, &marker);
        assert_plain_git_runs_it(&env, &marker);

        let mut hostile = TestEnv::new(&[]);
        hostile.extra_env.push((
            "PP_ATTEST_HMAC_KEY".into(),
            "hostile-test-key-0123456789abcdefghij".into(),
        ));
        let out = hostile.pp_in(
            env.root(),
            &["run", TEST_CMD, "--provider", "stub", "--json"],
        );
        let v = json_out(&out);
        assert_eq!(v["status"], "not_proven", "{how}: {}", stderr(&out));
        assert!(
            !marker.exists(),
            "{how}: a session ran the checkout's filter: {}",
            std::fs::read_to_string(&marker).unwrap_or_default()
        );
        let out = hostile.pp_in(
            env.root(),
            &[
                "replay",
                b.to_str().unwrap(),
                "--cwd",
                env.root().to_str().unwrap(),
                "--allow-unsigned",
                "--allow-different-source",
                "--json",
            ],
        );
        assert!(json_out(&out)["status"].is_string(), "{}", stderr(&out));
        assert!(
            !marker.exists(),
            "{how}: replay ran the checkout's filter: {}",
            std::fs::read_to_string(&marker).unwrap_or_default()
        );
    }
}

/// A checkout can hold a link where the user's tree shows a folder (the link marked
/// skip-worktree): the untracked files under that folder are never written through the link.
#[test]
fn untracked_files_are_never_copied_through_a_link_in_the_checkout() {
    let env = calc_env(&[]);
    let outside = env.scratch.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("victim.txt"), "original\n").unwrap();
    std::os::unix::fs::symlink(&outside, env.root().join("lnk")).unwrap();
    env.write(
        "pp.yaml",
        &format!(
            "policy:\n  allowed_commands: [\"{TEST_CMD}\"]\n  sandbox: {{backend: git_worktree}}\n"
        ),
    );
    env.commit("link");
    env.git(&["update-index", "--skip-worktree", "lnk"]);
    std::fs::remove_file(env.root().join("lnk")).unwrap();
    env.write("lnk/victim.txt", "overwritten by the checkout\n");
    env.write("lnk/planted.sh", "echo planted\n");
    let out = env.pp(&["run", TEST_CMD, "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(
        std::fs::read_to_string(outside.join("victim.txt")).unwrap(),
        "original\n"
    );
    assert!(!outside.join("planted.sh").exists());
    assert_eq!(v["status"], "policy_violation", "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("lnk"),
        "the refusal names the link: {v}"
    );
}

/// The sandbox's copy of a signing key kept in the workspace is gone, not only masked: a command
/// that renames the key's folder finds nothing under the new name in the next command.
#[test]
fn a_renamed_folder_never_uncovers_the_signing_key() {
    for backend in ["copy", "overlay", "git_worktree"] {
        let env = calc_env(&[(".gitignore", "keys/\n")]);
        let key = env.root().join("keys/signing.pem");
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        let out = env.pp(&["attest", "--generate-key", key.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        env.write(
            "pp.yaml",
            &format!(
                "policy:\n  sandbox: {{backend: {backend}}}\n  attestation: {{enabled: true, mode: ed25519, key_file: keys/signing.pem}}\n"
            ),
        );
        env.commit("policy");
        let cmd = format!(
            "for f in keys/signing.pem keys2/signing.pem; do echo \"$f: $(od -An -tx1 $f 2>&1 | tr -d ' \\n' | head -c 400)\"; done; \
             mv keys keys2 2>/dev/null && echo renamed; {TEST_CMD}"
        );
        let out = env.pp(&["run", &cmd, "--provider", "stub", "--json"]);
        let v = json_out(&out);
        if backend == "overlay" && v["status"] == "policy_violation" {
            // No overlay on this machine (auto would have copied): nothing to check here.
            continue;
        }
        assert_eq!(v["status"], "not_proven", "{backend}: {}", stderr(&out));
        let hex = key_hex(&key);
        let b = bundle(&v);
        for run in [
            "attempts/0_baseline/default",
            "attempts/0_baseline/rerun_1/default",
        ] {
            let log = std::fs::read_to_string(b.join(run).join("stdout.log")).unwrap_or_default();
            assert!(
                log.contains("keys2/signing.pem: "),
                "{backend} {run}: the attack did not run: {log}"
            );
            assert!(
                !log.contains(&hex),
                "{backend} {run}: the test read the signing key: {log}"
            );
        }
    }
}

/// A submodule is a repository with a configuration of its own, which no listing in the
/// superproject shows: git_worktree's git never looks inside one, so a filter defined there
/// never runs on the host.
#[test]
fn a_submodule_s_own_git_filters_never_run_on_the_host() {
    let sub = TestEnv::new(&[
        ("a.txt", "hello\n"),
        (".gitattributes", "a.txt filter=evil\n"),
    ]);
    let env = calc_env(&[]);
    env.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        sub.root().to_str().unwrap(),
        "sub",
    ]);
    env.write(
        "pp.yaml",
        &format!(
            "policy:\n  allowed_commands: [\"{TEST_CMD}\"]\n  sandbox: {{backend: git_worktree}}\n"
        ),
    );
    env.commit("submodule");
    let marker = env.scratch.path().join("submodule.ran");
    let config = env.root().join(".git/modules/sub/config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[filter \"evil\"]\n\tclean = \"sh -c 'echo ran >> {m}; cat'\"\n",
        m = marker.display()
    ));
    std::fs::write(&config, text).unwrap();
    // Stat-dirty, so git would hash it again through the clean filter.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(env.root().join("sub/a.txt"), "hello\n").unwrap();
    assert_plain_git_runs_it(&env, &marker);
    let out = env.pp(&["run", TEST_CMD, "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    assert!(!marker.exists(), "a session ran the submodule's filter");
}

/// A linked worktree's `.git` is a file pointing into the user's repository: read-only to
/// commands like a `.git` folder, so none can swap in a repository of its own (whose
/// configuration the user's next git command in a kept sandbox would run) or leave the user's
/// repository with a registration pp cannot remove.
#[test]
fn a_worktree_s_git_file_cannot_be_replaced() {
    let env = calc_env(&[]);
    env.write("pp.yaml", "policy:\n  sandbox: {backend: git_worktree}\n");
    env.commit("policy");
    let cmd = format!(
        "test -f .git && echo is-a-file; (echo x > .git) 2>/dev/null && echo wrote-git; \
         mv .git moved 2>/dev/null && echo moved-git; rm -f .git 2>/dev/null; test -f .git && echo still-there; {TEST_CMD}"
    );
    let out = env.pp(&["run", &cmd, "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let log = baseline_stdout(&v);
    assert!(
        log.contains("is-a-file") && log.contains("still-there"),
        "{log}"
    );
    assert!(
        !log.contains("wrote-git") && !log.contains("moved-git"),
        "{log}"
    );
    let worktrees = env.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches("worktree ").count(),
        1,
        "the sandbox's registration was left behind: {worktrees}"
    );
}

/// A repository can make pp block host-side (its git configuration includes a FIFO, which
/// libgit2 reads while it discovers the repository). A signal still ends pp: when it has not
/// stopped some seconds after SIGTERM it exits with 130 as a killed pp would, and nothing it
/// started stays behind.
#[test]
fn a_blocked_pp_still_ends_on_sigterm() {
    let env = calc_env(&[]);
    let fifo = env.root().join(".git/evil.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let config = env.root().join(".git/config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[include]\n\tpath = evil.fifo\n");
    std::fs::write(&config, text).unwrap();
    let mut child = env.pp_spawn(&["run", TEST_CMD, "--provider", "stub", "--json"], true);
    // Long enough to reach the blocking read (and the signal handler to be installed).
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "pp did not block on the FIFO: the attack did not run"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    // The grace is 10 s; a minute covers a loaded machine. A pp that ignores the signal is
    // killed here so the test ends, and fails.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let ended = child.try_wait().unwrap();
    if ended.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        ended.and_then(|s| s.code()),
        Some(130),
        "pp did not end on SIGTERM: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("did not stop within"),
        "{}",
        stderr(&out)
    );
}

/// A key named on the command line (`--attestation-key-file`) is hidden from every command
/// whatever the policy file says: in CI the policy may come from the pull request, which would
/// rather not name it.
#[test]
fn a_key_named_on_the_command_line_is_hidden_whatever_the_policy_says() {
    let keys = keys_in_home();
    let key = keys.path().join("signing.pem");
    let env = calc_env(&[]);
    let out = env.pp(&["attest", "--generate-key", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The pull request's policy says nothing of attestation.
    env.write("pp.yaml", "policy:\n  network: deny\n");
    env.commit("policy");
    let cmd = format!(
        "echo \"key: $(od -An -tx1 '{}' 2>&1 | tr -d ' \\n' | head -c 400)\"; {TEST_CMD}",
        key.display()
    );
    let out = env.pp(&[
        "run",
        &cmd,
        "--provider",
        "stub",
        "--attest",
        "--attestation-key-file",
        key.to_str().unwrap(),
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let log = baseline_stdout(&v);
    let hex = key_hex(&key);
    assert!(log.contains("key: "), "the attack did not run: {log}");
    assert!(!log.contains(&hex), "the test read the signing key: {log}");
    // The session signed with the key named on the command line.
    let public = keys.path().join("signing.pem.pub");
    let out = env.pp(&[
        "verify-attestation",
        bundle(&v).to_str().unwrap(),
        "--require",
        "ed25519",
        "--public-key",
        public.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(json_out(&out)["ok"], true, "{}", stderr(&out));
}
