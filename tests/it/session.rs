//! End-to-end sessions of `pp run` / `pp prove` with a scripted `command` proposer.

use crate::support::*;

const TEST_CMD: &str = CALC_CMD;

const FIX: &str = CALC_FIX;
const WRONG: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a * b\n";

/// The second request tells the proposer its first candidate was rejected, naming `needle`.
fn assert_first_attempt_rejected(env: &TestEnv, needle: &str) {
    let prev = &env.request(2)["previous_attempts"][0];
    assert!(
        prev["outcome"].as_str().unwrap().starts_with("rejected"),
        "{prev}"
    );
    assert!(
        prev["feedback"].as_str().unwrap().contains(needle),
        "{prev}"
    );
}

fn bundle(v: &serde_json::Value) -> std::path::PathBuf {
    std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

#[test]
fn correct_diff_is_proven_and_user_tree_untouched() {
    let env = calc_env();
    let before = env.snapshot();
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(v["schema_version"], "pp.summary/v1");
    assert_eq!(v["status"], "proven");
    assert_eq!(v["success"], true);
    assert_eq!(v["attempts_used"], 1);
    assert_eq!(v["final_exit_code"], 0);
    assert_eq!(env.snapshot(), before, "the user's tree changed");
    let b = bundle(&v);
    for f in [
        "repro.json",
        "policy.json",
        "environment.json",
        "workspace_manifest.json",
        "final.patch",
        "final_summary.md",
        "events.jsonl",
        "attempts/0_baseline/default/stdout.log",
        "attempts/0_baseline/default/result.json",
        "attempts/1/request.json",
        "attempts/1/reply.txt",
        "attempts/1/apply.json",
        "attempts/1/verification.json",
    ] {
        assert!(b.join(f).is_file(), "bundle lacks {f}");
    }
    let patch = std::fs::read_to_string(b.join("final.patch")).unwrap();
    assert!(patch.contains("+    return a + b"), "{patch}");
    let repro: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("repro.json")).unwrap()).unwrap();
    assert_eq!(repro["complete"], true);
    assert_eq!(repro["status"], "proven");
    assert_eq!(repro["git_dirty"], false);
    assert!(repro["git_commit"].as_str().unwrap().len() == 40);
    let summary = std::fs::read_to_string(b.join("final_summary.md")).unwrap();
    assert!(
        summary.contains("2 ran, 1 passed, 1 failed") && summary.contains("2 ran, 2 passed"),
        "{summary}"
    );
    // The proposer saw the failing output.
    let req = env.request(1);
    assert_eq!(req["schema_version"], "pp.request/v1");
    assert!(
        req["failures"][0]["output_tail"]
            .as_str()
            .unwrap()
            .contains("AssertionError")
    );
}

#[test]
fn only_wrong_diffs_are_not_proven_and_every_attempt_recorded() {
    let env = calc_env();
    let provider = env.proposer(&[&json_diff(WRONG), "I am not sure.", &json_diff(WRONG)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 10, "{}", stderr(&out));
    assert_eq!(v["status"], "not_proven");
    assert_eq!(v["success"], false);
    assert_eq!(v["attempts_used"], 3);
    let b = bundle(&v);
    for n in 1..=3 {
        assert!(
            b.join(format!("attempts/{n}/outcome.json")).is_file(),
            "attempt {n} not recorded"
        );
    }
    assert_eq!(std::fs::read_to_string(b.join("final.patch")).unwrap(), "");
    // Each attempt starts from the original source: the second request reports the first failure.
    let req2 = env.request(2);
    let prev = &req2["previous_attempts"][0];
    assert_eq!(prev["outcome"], "verification_failed");
    assert!(
        prev["feedback"]
            .as_str()
            .unwrap()
            .contains("AssertionError"),
        "{prev}"
    );
    let req3 = env.request(3);
    assert_eq!(req3["previous_attempts"][1]["outcome"], "no_change");
    assert_eq!(env.read("calc.py"), "def add(a, b):\n    return a - b\n");
}

#[test]
fn a_repeated_candidate_is_not_verified_again() {
    let env = calc_env();
    // The wrong change of attempt 1 again, as a bare fenced diff with a wrong line number.
    let again = "Same idea:\n```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -7,2 +7,2 @@\n def add(a, b):\n-    return a - b\n+    return a * b\n```\n";
    let provider = env.proposer(&[&json_diff(WRONG), again, &json_diff(FIX)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 3);
    let b = bundle(&v);
    let outcome: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("attempts/2/outcome.json")).unwrap()).unwrap();
    assert_eq!(outcome["outcome"], "duplicate", "{outcome}");
    assert!(
        outcome["feedback"]
            .as_str()
            .unwrap()
            .contains("exactly the change attempt 1 made"),
        "{outcome}"
    );
    // Attempt 1's wrong change was rejected by its failing test run alone.
    assert!(b.join("attempts/1/failing_first").is_dir());
    for stage in ["failing_first", "verify"] {
        assert!(
            !b.join("attempts/2").join(stage).exists(),
            "the repeated candidate was run again"
        );
    }
    let prev = &env.request(3)["previous_attempts"][1];
    assert!(
        prev["outcome"]
            .as_str()
            .unwrap()
            .starts_with("duplicate of attempt 1"),
        "{prev}"
    );
}

#[test]
fn passing_baseline_never_calls_the_proposer() {
    let env = TestEnv::new(&[("ok.txt", "fine\n")]);
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", "test -f ok.txt", "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 0);
    assert_eq!(v["status"], "already_passing");
    assert_eq!(v["success"], true);
    assert_eq!(env.proposer_calls(), 0);
}

#[test]
fn flaky_baseline_is_not_reproducible() {
    let env = TestEnv::new(&[("a.txt", "a\n")]);
    // Fails the first time, passes afterwards (the mark lives in the sandbox, the only place a
    // confined command can write that outlasts it).
    let cmd = "if [ -f .ran-once ]; then exit 0; else touch .ran-once; exit 1; fi";
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", cmd, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 14, "{}", stderr(&out));
    assert_eq!(v["status"], "not_reproducible");
    assert_eq!(env.proposer_calls(), 0);
}

#[test]
fn refused_connection_is_infra_stop() {
    let env = TestEnv::new(&[("a.txt", "a\n")]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let cmd =
        format!("python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}))\"");
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", &cmd, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    assert_eq!(v["status"], "infra_stop");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{v}"
    );
    assert_eq!(env.proposer_calls(), 0);
}

#[test]
fn command_outside_allowlist_is_refused_before_running() {
    let env = TestEnv::new(&[("pp.yaml", "policy:\n  allowed_commands: [\"true\"]\n")]);
    let marker = env.scratch.path().join("ran");
    let cmd = format!("touch {}", marker.display());
    let out = env.pp(&["run", &cmd, "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 11, "{}", stderr(&out));
    assert_eq!(v["status"], "policy_violation");
    assert!(
        v["message"].as_str().unwrap().contains("not allowed"),
        "{v}"
    );
    assert!(!marker.exists(), "the refused command ran");
}

#[test]
fn unknown_key_and_wrong_type_exit_2_naming_key_and_line() {
    let env = TestEnv::new(&[(
        "pp.yaml",
        "policy:\n  network: deny\n  limits:\n    max_attempt: 3\n",
    )]);
    let out = env.pp(&["run", "true"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("pp.yaml:4") && err.contains("max_attempt") && err.contains("policy.limits"),
        "{err}"
    );

    env.write("pp.yaml", "policy:\n  limits:\n    max_attempts: many\n");
    let out = env.pp(&["run", "true", "--json"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("policy.limits.max_attempts") && err.contains("line 3"),
        "{err}"
    );
    // --json still yields exactly one JSON document.
    assert_eq!(json_out(&out)["exit_code"], 2);
}

#[test]
fn hanging_command_and_its_grandchild_are_killed_at_the_timeout() {
    let env = TestEnv::new(&[(
        "pp.yaml",
        "policy:\n  limits: {per_command_timeout_sec: 1}\n",
    )]);
    let secs = sleep_marker(6);
    let cmd = format!("sh -c 'sleep {secs} & wait'; sleep {secs}");
    let out = env.pp(&["run", &cmd, "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "infra_stop", "{}", stderr(&out));
    assert_eq!(v["final_exit_code"], 124);
    assert_eq!(
        sleeps(&secs),
        Vec::<u32>::new(),
        "the grandchild still runs"
    );
}

#[test]
fn a_process_that_leaves_the_command_group_is_killed_at_the_timeout_too() {
    // `timeout` moves itself and its child into a process group of their own; pp finds them by
    // the command's session.
    let env = TestEnv::new(&[(
        "pp.yaml",
        "policy:\n  limits: {per_command_timeout_sec: 1}\n",
    )]);
    // In the background: a shell that execs its last command would make `timeout` the session
    // leader, which cannot leave its group.
    let secs = sleep_marker(3);
    let out = env.pp(&[
        "run",
        &format!("timeout 60 sleep {secs} & wait"),
        "--provider",
        "stub",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["final_exit_code"], 124, "{}", stderr(&out));
    let started = std::time::Instant::now();
    while !sleeps(&secs).is_empty() {
        assert!(
            started.elapsed().as_secs() < 5,
            "the sleep under `timeout` outlived the command's timeout"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn candidate_fixing_one_target_but_breaking_another_is_rejected() {
    let env = TestEnv::new(&[
        ("value.txt", "1\n"),
        (
            "pp.yaml",
            "proof_targets:\n  - {name: two, cmd: \"grep -qx 2 value.txt\"}\n  - {name: notone, cmd: \"test -s value.txt\"}\npolicy:\n  allowed_commands: [\"grep -qx 2 value.txt\", \"test -s value.txt\"]\n  limits: {max_attempts: 1}\n",
        ),
    ]);
    // Empties the file: `two` still fails and `notone` now fails too. Then write 2 wrongly.
    let breaks = "--- a/value.txt\n+++ b/value.txt\n@@ -1 +0,0 @@\n-1\n";
    let provider = env.proposer(&[&json_diff(breaks)]);
    let out = env.pp(&["prove", "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    assert_eq!(code(&out), 10);
}

#[test]
fn two_targets_one_fixed_other_broken_is_not_accepted() {
    // Target `a` needs a.txt to say yes; target `b` needs b.txt to say yes. The candidate fixes
    // `a` by breaking `b`.
    let env = TestEnv::new(&[
        ("a.txt", "no\n"),
        ("b.txt", "yes\n"),
        (
            "pp.yaml",
            "proof_targets:\n  - {name: a, cmd: \"grep -qx yes a.txt\"}\n  - {name: b, cmd: \"grep -qx yes b.txt\"}\npolicy:\n  allowed_commands: [\"grep -qx yes a.txt\", \"grep -qx yes b.txt\"]\n  limits: {max_attempts: 1}\n",
        ),
    ]);
    let diff = "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-no\n+yes\n--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-yes\n+no\n";
    let provider = env.proposer(&[&json_diff(diff)]);
    let out = env.pp(&["prove", "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let b = bundle(&v);
    let ver: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("attempts/1/verification.json")).unwrap())
            .unwrap();
    assert_eq!(ver["passed"], false);
    assert!(
        ver["problems"][0].as_str().unwrap().contains("target `b`"),
        "{ver}"
    );
}

#[test]
fn replay_of_a_proven_bundle_succeeds_and_a_later_commit_is_a_different_source() {
    let env = calc_env();
    let provider = env.proposer(&[&json_diff(FIX)]);
    let v = json_out(&env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]));
    assert_eq!(v["status"], "proven");
    let b = bundle(&v);
    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    let r = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(r["success"], true);
    assert_eq!(r["status"], "replayed");

    env.write("other.txt", "x\n");
    env.commit("later");
    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    let r = json_out(&out);
    assert_eq!(code(&out), 13);
    assert_eq!(r["status"], "different_source");
    assert_eq!(r["success"], false);
}

#[test]
fn apply_writes_the_patch_into_an_unchanged_tree() {
    let env = calc_env();
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&[
        "run",
        TEST_CMD,
        "--provider",
        &provider,
        "--apply",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(v["applied"], true);
    assert_eq!(env.read("calc.py"), "def add(a, b):\n    return a + b\n");
}

#[test]
fn apply_refuses_when_the_tree_changed_during_the_run() {
    let env = calc_env();
    // The proposer edits the user's tree while pp runs.
    let touch = env.root().join("NOTES.md");
    let s = env.scratch.path().join("edit.sh");
    std::fs::write(
        &s,
        format!(
            "#!/bin/sh\necho changed > '{}'\ncat >/dev/null\ncat <<'X'\n{}\nX\n",
            touch.display(),
            json_diff(FIX)
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
    let provider = format!("command:{}", s.display());
    let out = env.pp(&[
        "run",
        TEST_CMD,
        "--provider",
        &provider,
        "--apply",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(v["status"], "proven");
    assert!(v["hint"].as_str().unwrap().contains("git apply"), "{v}");
    assert_eq!(v["applied"], false);
    assert!(
        v["apply_refused"].as_str().unwrap().contains("NOTES.md"),
        "{v}"
    );
    assert_eq!(env.read("calc.py"), "def add(a, b):\n    return a - b\n");
}

#[test]
fn path_traversal_in_a_reply_is_rejected_and_fed_back() {
    let env = calc_env();
    let evil = "--- a/../escape.txt\n+++ b/../escape.txt\n@@ -0,0 +1 @@\n+pwned\n";
    let provider = env.proposer(&[&json_diff(evil), &json_diff(FIX)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 2);
    assert!(!env.root().parent().unwrap().join("escape.txt").exists());
    assert_first_attempt_rejected(&env, "escape.txt");
}

#[test]
fn network_deny_blocks_host_loopback_but_allows_own_servers() {
    // The copy backend and whatever `auto` picks here (overlay where it can) both isolate.
    for backend in ["copy", "auto"] {
        let env = TestEnv::new(&[("a.txt", "a\n")]);
        let policy = |network: &str| {
            format!("policy:\n  network: {network}\n  sandbox: {{backend: {backend}}}\n")
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connect = format!(
            "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\""
        );
        // Under deny the host's listener is unreachable: the command fails.
        env.write("pp.yaml", &policy("deny"));
        env.commit("deny");
        let out = env.pp(&["run", &connect, "--provider", "stub", "--json"]);
        let v = json_out(&out);
        assert_ne!(
            v["status"],
            "already_passing",
            "{backend}: {}",
            stderr(&out)
        );
        // Under allow it connects.
        env.write("pp.yaml", &policy("allow"));
        env.commit("allow");
        let out = env.pp(&["run", &connect, "--provider", "stub", "--json"]);
        assert_eq!(
            json_out(&out)["status"],
            "already_passing",
            "{backend}: {}",
            stderr(&out)
        );
        // A server started inside the sandbox is reachable under deny.
        env.write("pp.yaml", &policy("deny"));
        env.commit("deny again");
        let own = "python3 -c \"import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); c=socket.create_connection(s.getsockname()); print('ok')\"";
        let out = env.pp(&["run", own, "--provider", "stub", "--json"]);
        assert_eq!(
            json_out(&out)["status"],
            "already_passing",
            "{backend}: {}",
            stderr(&out)
        );
        drop(listener);
    }
}

#[test]
fn network_deny_without_isolation_stops_before_anything_runs() {
    for backend in ["copy", "auto"] {
        let mut env = TestEnv::new(&[("a.txt", "a\n")]);
        env.write(
            "pp.yaml",
            &format!("policy:\n  network: deny\n  sandbox: {{backend: {backend}}}\n"),
        );
        env.commit("policy");
        env.extra_env
            .push((pp::sandbox::SIMULATE_NETNS_REFUSAL_ENV.into(), "1".into()));
        let out = env.pp(&["run", "false", "--provider", "stub", "--json"]);
        let v = json_out(&out);
        assert_eq!(
            v["status"],
            "policy_violation",
            "{backend}: {}",
            stderr(&out)
        );
        let message = v["message"].as_str().unwrap();
        assert!(
            message.contains("cannot isolate commands from the network")
                && message.contains("simulated"),
            "{backend}: {message}"
        );
        assert!(
            v["hint"].as_str().unwrap().contains("network: allow"),
            "{v}"
        );
        let r = repro(&v);
        assert_eq!(r["isolation"]["applied"], "unavailable", "{r}");
        // Refused before anything was made or run.
        assert!(r["sandbox"].is_null(), "{backend}: {r}");
        assert!(!bundle(&v).join("attempts").exists(), "{backend}");
        // The same machine runs the command when the policy allows the network.
        env.write(
            "pp.yaml",
            &format!("policy:\n  network: allow\n  sandbox: {{backend: {backend}}}\n"),
        );
        env.commit("allow");
        let out = env.pp(&["run", "true", "--provider", "stub", "--json"]);
        assert_eq!(
            json_out(&out)["status"],
            "already_passing",
            "{}",
            stderr(&out)
        );
    }
}

/// Live (not zombie) processes whose argv (the NUL-separated `/proc/PID/cmdline`) satisfies
/// `wanted`.
fn processes(wanted: impl Fn(&[&[u8]]) -> bool) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv: Vec<&[u8]> = cmdline
                .strip_suffix(b"\0")
                .unwrap_or(&cmdline)
                .split(|&b| b == 0)
                .collect();
            !zombie && wanted(&argv)
        })
        .collect()
}

/// Guard processes (`pp __isolate --guard DIR …`) still alive for `dir`.
fn guards_of(dir: &str) -> Vec<u32> {
    processes(|argv| {
        argv.windows(2)
            .any(|w| w[0] == b"--guard" && w[1] == dir.as_bytes())
    })
}

/// A `sleep` duration no other test, and no other run of the suite, uses: 30 s and a fraction
/// made of this test process's pid and `n`, so `sleeps` finds only this test's processes.
pub(crate) fn sleep_marker(n: u32) -> String {
    format!("30.{}{n}", std::process::id())
}

/// Live processes whose command line is exactly `sleep SECS`.
pub(crate) fn sleeps(secs: &str) -> Vec<u32> {
    processes(|argv| argv == [b"sleep".as_slice(), secs.as_bytes()])
}

/// Kills pp (SIGKILL, so it cannot clean up) while its `backend` sandbox runs a command that
/// started two `sleep SECS` (one in the background), then checks that nothing is left: no sleep,
/// no sandbox directory, no worktree registration. `secs` tells this test's sleeps apart.
pub(crate) fn kill_pp_mid_command_and_check_cleanup(backend: &str, secs: &str) {
    let env = TestEnv::new(&[("a.txt", "a\n")]);
    env.write(
        "pp.yaml",
        &format!("policy:\n  sandbox: {{backend: {backend}}}\n"),
    );
    env.commit("policy");
    // One sleep in the command's group, one under `timeout`, which leaves that group.
    let command = format!("timeout 60 sleep {secs} & sleep {secs}; wait");
    let mut child = env.pp_spawn(&["run", &command, "--provider", "stub"], false);
    let started = std::time::Instant::now();
    let sandbox: serde_json::Value = loop {
        let created = env.session_event("sandbox_created");
        if let (Some(ev), 2) = (created, sleeps(secs).len()) {
            break ev["sandbox"].clone();
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "{backend}: the command never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(sandbox["backend"], backend);
    // The directory pp made for the sandbox (`pp-sandbox-*`), whatever lives inside it.
    let inner = sandbox["overlay"]["upper"]
        .as_str()
        .or(sandbox["root"].as_str())
        .unwrap();
    let dir = std::path::Path::new(inner)
        .ancestors()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pp-sandbox-"))
        })
        .unwrap()
        .to_owned();
    assert!(dir.is_dir(), "{backend}: {}", dir.display());
    child.kill().unwrap();
    child.wait().unwrap();
    let started = std::time::Instant::now();
    while dir.exists() || !sleeps(secs).is_empty() {
        assert!(
            started.elapsed().as_secs() < 10,
            "{backend}: after pp was killed, {} exists: {}, sleeps left: {:?}",
            dir.display(),
            dir.exists(),
            sleeps(secs)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let worktrees = env.git(&["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{backend}: {worktrees}");
}

#[test]
fn a_kept_copy_sandbox_outlives_pp() {
    for backend in ["copy", "git_worktree"] {
        let env = TestEnv::new(&[("a.txt", "a\n")]);
        env.write(
            "pp.yaml",
            &format!("policy:\n  sandbox: {{backend: {backend}}}\n"),
        );
        env.commit("policy");
        let out = env.pp(&[
            "run",
            "true",
            "--provider",
            "stub",
            "--json",
            "--keep-sandbox",
        ]);
        let v = json_out(&out);
        assert_eq!(v["status"], "already_passing", "{}", stderr(&out));
        let kept = std::path::PathBuf::from(v["sandbox"].as_str().unwrap());
        // Its guard was stopped with pp, not left to take pp's exit for a death and remove it.
        let dir = kept.parent().unwrap().to_str().unwrap().to_owned();
        assert!(
            guards_of(&dir).is_empty(),
            "{backend}: a guard of {dir} outlived pp"
        );
        assert_eq!(
            std::fs::read_to_string(kept.join("a.txt")).unwrap(),
            "a\n",
            "{backend}"
        );
        if backend == "git_worktree" {
            env.git(&["worktree", "remove", "--force", kept.to_str().unwrap()]);
        }
        std::fs::remove_dir_all(kept.parent().unwrap()).unwrap();
    }
}

#[test]
fn copy_sandbox_and_its_commands_go_when_pp_is_killed() {
    kill_pp_mid_command_and_check_cleanup("copy", &sleep_marker(1));
}

#[test]
fn git_worktree_sandbox_and_its_commands_go_when_pp_is_killed() {
    kill_pp_mid_command_and_check_cleanup("git_worktree", &sleep_marker(2));
}

#[test]
fn secrets_never_reach_the_command_or_the_bundle() {
    let mut env = TestEnv::new(&[("a.txt", "a\n")]);
    env.extra_env.push((
        "PP_OPENAI_API_KEY".into(),
        "sk-test-SECRETVALUE1234567890".into(),
    ));
    env.extra_env.push((
        "PP_ATTEST_HMAC_KEY".into(),
        "attest-SECRETVALUE-0987654321-abcdefghij".into(),
    ));
    let out = env.pp(&["run", "env; exit 1", "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let b = bundle(&v);
    assert!(assert_no_file_holds(&b, "SECRETVALUE") > 5);
    // The command ran and printed its environment, without the keys.
    let log = std::fs::read_to_string(b.join("attempts/0_baseline/default/stdout.log")).unwrap();
    assert!(log.contains("PATH="), "{log}");
}

#[test]
fn help_lists_every_command() {
    let out = std::process::Command::new(pp_bin())
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    for c in [
        "run",
        "prove",
        "replay",
        "attest",
        "verify-attestation",
        "doctor",
    ] {
        assert!(text.contains(c), "--help lacks {c}");
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == ".pp-artifacts" || name == "target" || name == "__pycache__" {
            continue;
        }
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

#[test]
fn every_example_fails_first_and_is_proven_with_its_known_fix() {
    let examples =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/failing_targets");
    for name in [
        "name_error",
        "slug_bug",
        "unsorted_median",
        "rust_compile_error",
        "rust_logic_bug",
    ] {
        let env = TestEnv::new(&[]);
        copy_dir(&examples.join(name), &env.root().join(name));
        env.commit("example");
        let ws = env.root().join(name);
        let cmd = if name.starts_with("rust_") {
            "cargo test --offline"
        } else {
            TEST_CMD
        };
        let provider = format!("command:{}", examples.join("known_fix.sh").display());
        // The stub proposes nothing: not proven, with the hint on configuring a model.
        let out = env.pp_in(&ws, &["run", cmd, "--provider", "stub", "--json"]);
        let v = json_out(&out);
        assert_eq!(v["status"], "not_proven", "{name}: {}", stderr(&out));
        assert!(v["hint"].as_str().unwrap().contains("PP_PROVIDER"), "{v}");
        let out = env.pp_in(&ws, &["run", cmd, "--provider", &provider, "--json"]);
        let v = json_out(&out);
        assert_eq!(v["status"], "proven", "{name}: {}", stderr(&out));
        assert_eq!(code(&out), 0);
    }
}

#[test]
fn a_candidate_whose_second_file_cannot_apply_leaves_both_untouched() {
    let env = calc_env();
    env.write("notes.txt", "alpha\n");
    env.commit("notes");
    // calc.py would apply; notes.txt's context does not exist: nothing may be written.
    let half = format!("{FIX}--- a/notes.txt\n+++ b/notes.txt\n@@ -1 +1 @@\n-gamma\n+delta\n");
    let provider = env.proposer(&[&json_diff(&half), &json_diff(WRONG)]);
    let out = env.pp(&[
        "run",
        TEST_CMD,
        "--provider",
        &provider,
        "--json",
        "--keep-sandbox",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let b = bundle(&v);
    let apply1: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("attempts/1/apply.json")).unwrap()).unwrap();
    assert_eq!(apply1["applied"], false, "{apply1}");
    assert!(apply1.to_string().contains("notes.txt"), "{apply1}");
    // The second candidate was applied to the original calc.py (its `-` line matched), which
    // it could not have been had the first candidate's calc.py hunk stayed behind.
    let apply2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("attempts/2/apply.json")).unwrap()).unwrap();
    assert_eq!(apply2["applied"], true, "{apply2}");
    let sandbox = std::path::PathBuf::from(v["sandbox"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(sandbox.join("notes.txt")).unwrap(),
        "alpha\n"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.join("calc.py")).unwrap(),
        "def add(a, b):\n    return a - b\n"
    );
    std::fs::remove_dir_all(sandbox.parent().unwrap()).unwrap();
}

#[test]
fn minimization_drops_an_unneeded_hunk_in_another_file() {
    let env = calc_env();
    env.write("README.txt", "calc\n");
    env.commit("readme");
    let extra = format!(
        "{FIX}--- a/README.txt\n+++ b/README.txt\n@@ -1 +1,2 @@\n calc\n+An unneeded line.\n"
    );
    let provider = env.proposer(&[&json_diff(&extra)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["changed_files"], serde_json::json!(["calc.py"]));
    let b = bundle(&v);
    let patch = std::fs::read_to_string(b.join("final.patch")).unwrap();
    assert!(patch.contains("return a + b"), "{patch}");
    assert!(!patch.contains("README.txt"), "{patch}");
    let repro: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("repro.json")).unwrap()).unwrap();
    assert_eq!(repro["minimization"]["hunks_before"], 2);
    assert_eq!(repro["minimization"]["hunks_after"], 1);
    // The minimized patch replays.
    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    assert_eq!(json_out(&out)["success"], true, "{}", stderr(&out));
}

#[test]
fn minimization_drops_noise_that_shares_a_hunk_with_the_fix() {
    // A whole-file rewrite: the fix and a reworded comment one line apart, in one hunk.
    let env = TestEnv::new(&[
        (
            "calc.py",
            "# Adds numbers.\ndef add(a, b):\n    return a - b\n",
        ),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
    ]);
    let rewrite = serde_json::json!({
        "path": "calc.py",
        "content": "# Adds two numbers, a and b.\ndef add(a, b):\n    return a + b\n",
    })
    .to_string();
    let provider = env.proposer(&[&rewrite]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let patch = std::fs::read_to_string(b.join("final.patch")).unwrap();
    assert!(patch.contains("+    return a + b"), "{patch}");
    assert!(!patch.contains("Adds two numbers"), "{patch}");
    assert!(
        patch.contains(" # Adds numbers."),
        "the comment stays as it was: {patch}"
    );
    let repro: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("repro.json")).unwrap()).unwrap();
    let m = &repro["minimization"];
    assert_eq!(m["hunks_before"], 1, "{m}");
    assert_eq!(m["lines"]["units_before"], 2, "{m}");
    assert_eq!(m["lines"]["units_after"], 1, "{m}");
    assert!(
        m["patch_bytes_after"].as_u64().unwrap() < m["patch_bytes_before"].as_u64().unwrap(),
        "{m}"
    );
    // The minimized patch replays.
    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    assert_eq!(json_out(&out)["success"], true, "{}", stderr(&out));
}

#[test]
fn ctrl_c_kills_the_command_cleans_the_sandbox_and_marks_the_bundle() {
    let env = TestEnv::new(&[("a.txt", "a\n")]);
    let secs = sleep_marker(7);
    let cmd = format!("sleep {secs}");
    let child = env.pp_spawn(&["run", &cmd, "--provider", "stub", "--json"], true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sleeps(&secs).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the command never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["status"], "interrupted");
    assert_eq!(sleeps(&secs), Vec::<u32>::new(), "the command survived");
    let b = bundle(&v);
    let repro: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("repro.json")).unwrap()).unwrap();
    assert_eq!(repro["complete"], false);
    assert_eq!(repro["status"], "interrupted");
    let root = repro["sandbox"]["root"].as_str().unwrap();
    assert!(
        !std::path::Path::new(root).exists(),
        "sandbox {root} left behind"
    );
}

#[test]
fn git_worktree_backend_includes_uncommitted_changes_and_is_removed() {
    let env = calc_env();
    env.write("pp.yaml", "policy:\n  sandbox: {backend: git_worktree}\n");
    env.commit("policy");
    // An uncommitted change and an untracked file the tests need.
    env.write(
        "calc.py",
        "from helper import sub\n\ndef add(a, b):\n    return sub(a, b)\n",
    );
    env.write("helper.py", "def sub(a, b):\n    return a - b\n");
    let fix = "--- a/calc.py\n+++ b/calc.py\n@@ -2,3 +2,3 @@\n \n def add(a, b):\n-    return sub(a, b)\n+    return a + b\n";
    let provider = env.proposer(&[&json_diff(fix)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    assert!(b.join("source_git.diff").is_file());
    let repro: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("repro.json")).unwrap()).unwrap();
    assert_eq!(repro["sandbox"]["backend"], "git_worktree");
    assert_eq!(repro["git_dirty"], true);
    let worktrees = env.git(&["worktree", "list"]);
    assert_eq!(
        worktrees.lines().count(),
        1,
        "a worktree was left behind: {worktrees}"
    );
}

#[test]
fn doctor_reports_policy_and_machine_with_probes() {
    let env = TestEnv::new(&[("pp.yaml", "policy:\n  allowed_commands: [\"make test\"]\n")]);
    let out = env.pp(&["doctor", "--json", "--command", "make test"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(v["policy"]["path"].as_str().unwrap().ends_with("pp.yaml"));
    assert_eq!(v["command_check"]["allowed"], true);
    assert_eq!(v["machine"]["git"]["available"], true);
    assert!(v["machine"]["network_isolation"]["available"].is_boolean());
    let out = env.pp(&["doctor", "--json", "--command", "rm -rf /"]);
    assert_eq!(json_out(&out)["command_check"]["allowed"], false);
}

#[test]
fn a_missing_proposer_program_is_infra_stop_naming_it() {
    let env = calc_env();
    let out = env.pp(&[
        "run",
        TEST_CMD,
        "--provider",
        "command:/nonexistent/proposer",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/proposer"),
        "{v}"
    );
}

#[test]
fn replay_reports_changed_untracked_files_and_non_git_sources_as_different() {
    // Untracked files are part of the source.
    let env = calc_env();
    env.write("helper.py", "X = 1\n");
    let provider = env.proposer(&[&json_diff(FIX)]);
    let v = json_out(&env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]));
    assert_eq!(v["status"], "proven");
    let b = bundle(&v);
    env.write("helper.py", "X = 2\n");
    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    assert_eq!(code(&out), 13);
    assert_eq!(json_out(&out)["status"], "different_source");

    // Without git, the manifest binds the source.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("v.txt"), "bad\n").unwrap();
    let env2 = TestEnv::new(&[]);
    let fix = "--- a/v.txt\n+++ b/v.txt\n@@ -1 +1 @@\n-bad\n+good\n";
    let provider = env2.proposer(&[&json_diff(fix)]);
    let out = env2.pp_in(
        plain.path(),
        &[
            "run",
            "grep -qx good v.txt",
            "--provider",
            &provider,
            "--json",
        ],
    );
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let out = env2.pp_in(
        plain.path(),
        &["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"],
    );
    assert_eq!(json_out(&out)["status"], "replayed", "{}", stderr(&out));
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("v.txt"), "other\n").unwrap();
    let out = env2.pp_in(
        plain.path(),
        &[
            "replay",
            b.to_str().unwrap(),
            "--cwd",
            other.path().to_str().unwrap(),
            "--allow-unsigned",
            "--json",
        ],
    );
    assert_eq!(code(&out), 13);
    assert_eq!(json_out(&out)["status"], "different_source");
}

#[test]
fn git_worktree_backend_runs_in_the_workspace_folder_of_a_larger_repo() {
    let env = TestEnv::new(&[
        ("top.txt", "top\n"),
        ("pkg/v.txt", "bad\n"),
        (
            "pkg/pp.yaml",
            "policy:\n  sandbox: {backend: git_worktree}\n",
        ),
    ]);
    env.write("pkg/untracked.txt", "u\n");
    let ws = env.root().join("pkg");
    let fix = "--- a/v.txt\n+++ b/v.txt\n@@ -1 +1 @@\n-bad\n+good\n";
    let provider = env.proposer(&[&json_diff(fix)]);
    let out = env.pp_in(
        &ws,
        &[
            "run",
            "test -f untracked.txt && test ! -f top.txt && grep -qx good v.txt",
            "--provider",
            &provider,
            "--json",
        ],
    );
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(env.git(&["worktree", "list"]).lines().count(), 1);
}

#[test]
fn a_candidate_may_not_plant_or_edit_a_policy_file() {
    let env = calc_env();
    env.write("pp.json", "{\"policy\": {\"write_allowlist\": [\"**\"]}}\n");
    env.commit("json policy");
    let plant = "--- /dev/null\n+++ b/pp.yaml\n@@ -0,0 +1,2 @@\n+policy:\n+  network: allow\n";
    let provider = env.proposer(&[&json_diff(plant), &json_diff(FIX)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 2);
    assert_first_attempt_rejected(&env, "pp.yaml");
}

#[test]
fn bad_inputs_get_usage_errors_not_mismatches_or_bugs() {
    let env = calc_env();
    // A bad flag with --json still prints one JSON document.
    let out = env.pp(&["run", "--json", "--bogus", "x"]);
    assert_eq!(code(&out), 2);
    let v = json_out(&out);
    assert_eq!(v["exit_code"], 2);
    // It names the flag, as the text on stderr does, and carries clap's tip as the hint.
    assert_eq!(v["error"], "unexpected argument '--bogus' found", "{v}");
    assert!(v["hint"].as_str().unwrap().contains("--bogus"), "{v}");
    let out = env.pp(&["run", "--json", "--attestation-mode", "many", "x"]);
    let v = json_out(&out);
    assert!(
        v["error"].as_str().unwrap().contains("'many'")
            && v["error"].as_str().unwrap().contains("--attestation-mode"),
        "{v}"
    );
    // A bundle path that does not exist.
    let out = env.pp(&["replay", "/nonexistent/bundle", "--json"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let out = env.pp(&["verify-attestation", "/nonexistent/bundle"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    // A short attestation key is refused before anything runs.
    let mut keyed = calc_env();
    keyed
        .extra_env
        .push(("PP_ATTEST_HMAC_KEY".into(), "short".into()));
    let out = keyed.pp(&["run", TEST_CMD, "--provider", "stub", "--attest"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("at least 32"), "{}", stderr(&out));
    assert!(
        !keyed.root().join(".pp-artifacts").exists(),
        "a session ran"
    );
    // A symlinked .pp-artifacts is not written through.
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), env.root().join(".pp-artifacts")).unwrap();
    let out = env.pp(&["run", TEST_CMD, "--provider", "stub"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn a_missing_program_in_an_argv_target_is_infra_stop() {
    let env = TestEnv::new(&[(
        "pp.yaml",
        "proof_targets:\n  - {name: t, argv: [\"no_such_program_xyz\", \"-x\"]}\npolicy:\n  allowed_argv: [[\"no_such_program_xyz\", \"-x\"]]\n",
    )]);
    let out = env.pp(&["prove", "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "infra_stop", "{}", stderr(&out));
    assert_eq!(v["final_exit_code"], 127);
}

/// Bundles stay out of the project's git (`.pp-artifacts/.gitignore`), and every file of a
/// bundle is readable alike (no 0600 JSON beside 0644 logs).
#[test]
fn bundles_stay_out_of_git_and_share_one_file_mode() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let v = prove_v_txt(&env, &["--attest"]);
    let status = env.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert_eq!(status, "", "pp left files git would add");
    let modes_of = |bundle: &str| {
        let mut modes = std::collections::BTreeMap::new();
        let mut stack = vec![std::path::PathBuf::from(bundle)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let m = e.metadata().unwrap();
                if m.is_dir() {
                    stack.push(e.path());
                } else {
                    modes
                        .entry(m.permissions().mode() & 0o777)
                        .or_insert_with(Vec::new)
                        .push(e.path());
                }
            }
        }
        modes
    };
    let modes = modes_of(v["proof_bundle"].as_str().unwrap());
    assert_eq!(modes.len(), 1, "{modes:#?}");
    // Under a umask that lets group write through, logs and JSON alike are 0644 (command logs
    // and events.jsonl used to be 0664 there, beside 0644 JSON).
    let provider = env.proposer(&[&json_diff(V_FIX)]);
    let out = std::process::Command::new("sh")
        .args(["-c", "umask 002; exec \"$@\"", "sh", pp_bin()])
        .args([
            "run",
            "grep -qx good v.txt",
            "--provider",
            &provider,
            "--json",
        ])
        .current_dir(env.root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let modes = modes_of(v["proof_bundle"].as_str().unwrap());
    assert_eq!(modes.keys().collect::<Vec<_>>(), [&0o644], "{modes:#?}");
    // A .gitignore the user wrote is theirs.
    let ignore = env.root().join(".pp-artifacts/.gitignore");
    std::fs::write(&ignore, "mine\n").unwrap();
    prove_v_txt(&env, &[]);
    assert_eq!(std::fs::read_to_string(&ignore).unwrap(), "mine\n");
}
