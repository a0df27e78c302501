//! Several candidates per attempt (`policy.candidates`), each verified in its own sandbox at
//! once: real pytest suites, a scripted model server on 127.0.0.1 or a scripted `command`
//! proposer, real processes.

use std::path::{Path, PathBuf};

use crate::session::{sleep_marker, sleeps};
use crate::support::model_server::{ModelServer, Reply};
use crate::support::*;

const PYTEST: &str = "python3 -m pytest -q -p no:cacheprovider";

const CALC: &str = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n";
const CALC_TESTS: &str = "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n\n\ndef test_mul_zero():\n    assert mul(4, 0) == 0\n";

/// Leaves `add` broken.
const WRONG: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a * b\n";
/// Fixes `add`, breaks `mul`: the failing test passes alone, the full suite does not.
const BREAKS_MUL: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,6 +1,6 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n \n \n def mul(a, b):\n-    return a * b\n+    return a + b\n";
const FIX: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
/// Fixes `add` and rewrites `mul` harmlessly: passes, but is bigger than [`FIX`].
const FIX_AND_MORE: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,6 +1,6 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n \n \n def mul(a, b):\n-    return a * b\n+    return b * a\n";

fn env_with(policy: &str) -> TestEnv {
    TestEnv::new(&[
        ("calc.py", CALC),
        ("test_calc.py", CALC_TESTS),
        ("pp.yaml", policy),
    ])
}

fn model_env(server: &ModelServer, policy: &str) -> TestEnv {
    let mut env = env_with(policy);
    env.extra_env
        .push(("PP_LOCAL_BASE_URL".into(), server.base_url()));
    env.extra_env
        .push(("PP_LOCAL_MODEL".into(), "test-model".into()));
    env
}

fn bundle(v: &serde_json::Value) -> PathBuf {
    PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

fn json_file(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `candidates.json`'s verdicts, in the answer's order, and its winner.
fn verdicts(b: &Path, attempt: u32) -> (Vec<String>, serde_json::Value) {
    let c = json_file(&b.join(format!("attempts/{attempt}/candidates.json")));
    let v = c["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["verdict"].as_str().unwrap().to_owned())
        .collect();
    (v, c["winner"].clone())
}

fn events(b: &Path, name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(b.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == name)
        .collect()
}

/// A whole-file reply writing `content` to calc.py.
fn rewrite(content: &str) -> String {
    serde_json::json!({"path": "calc.py", "content": content}).to_string()
}

#[test]
fn three_choices_two_wrong_one_right_are_proven_in_one_attempt() {
    let server = ModelServer::start([Reply::choices(&[
        &json_diff(WRONG),
        &json_diff(BREAKS_MUL),
        &json_diff(FIX),
    ])]);
    let env = model_env(
        &server,
        "policy:\n  candidates: 3\n  provider: {retry_budget_sec: 20, max_retries: 3}\n",
    );
    let out = env.pp(&["run", PYTEST, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 1);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "one request asked for every candidate");
    assert_eq!(reqs[0].json()["n"], 3);

    let b = bundle(&v);
    let (verdicts, winner) = verdicts(&b, 1);
    assert_eq!(
        verdicts,
        ["failing_still_fail", "verification_failed", "passed"]
    );
    assert_eq!(winner, 3);
    // The second candidate passed its failing test alone; the full run rejected it.
    let second = json_file(&b.join("attempts/1/candidates/2/verification.json"));
    assert_eq!(second["passed"], false);
    assert!(b.join("attempts/1/candidates/2/failing_first").is_dir());
    assert!(b.join("attempts/1/candidates/2/verify").is_dir());
    assert!(
        !b.join("attempts/1/candidates/1/verify").exists(),
        "the full suite ran for a candidate its failing test rejects"
    );
    for i in 1..=3 {
        assert!(
            b.join(format!("attempts/1/candidates/{i}/candidate.diff"))
                .is_file()
        );
        assert!(
            b.join(format!("attempts/1/candidates/{i}/verdict.json"))
                .is_file()
        );
    }
    let patch = std::fs::read_to_string(b.join("final.patch")).unwrap();
    assert!(patch.contains("+    return a + b"), "{patch}");
    assert!(!patch.contains("-    return a * b"), "{patch}");
    assert_eq!(events(&b, "candidate_start").len(), 3);
    let ends = events(&b, "candidate_verdict");
    assert_eq!(ends.len(), 3);
    assert!(
        ends.iter()
            .any(|e| e["candidate"] == 3 && e["verdict"] == "passed")
    );
    // The user's tree is untouched.
    assert_eq!(env.read("calc.py"), CALC);
}

#[test]
fn a_server_that_ignores_n_is_asked_once_per_candidate() {
    let server = ModelServer::start([
        Reply::completion(&json_diff(WRONG)),
        Reply::completion(&json_diff(BREAKS_MUL)),
        Reply::completion(&json_diff(FIX)),
    ]);
    let env = model_env(
        &server,
        "policy:\n  candidates: 3\n  provider: {retry_budget_sec: 20, max_retries: 3}\n",
    );
    let out = env.pp(&["run", PYTEST, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 1);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].json()["n"], 3);
    assert!(reqs[1].json().get("n").is_none(), "{}", reqs[1].json());
    let (verdicts, winner) = verdicts(&bundle(&v), 1);
    assert_eq!(
        verdicts,
        ["failing_still_fail", "verification_failed", "passed"]
    );
    assert_eq!(winner, 3);
}

#[test]
fn the_command_proposer_may_answer_with_a_list() {
    let env = env_with("policy:\n  candidates: 2\n");
    let list = serde_json::json!([
        {"diff": WRONG, "rationale": "first"},
        {"diff": FIX, "rationale": "second"},
    ])
    .to_string();
    let provider = env.proposer(&[&list]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 1);
    assert_eq!(env.proposer_calls(), 1);
    assert_eq!(env.request(1)["candidates"], 2);
    let (verdicts, winner) = verdicts(&bundle(&v), 1);
    assert_eq!(verdicts, ["failing_still_fail", "passed"]);
    assert_eq!(winner, 2);
}

#[test]
fn one_candidate_keeps_the_single_candidate_layout() {
    let env = env_with("policy:\n  candidates: 2\n");
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    assert!(b.join("attempts/1/verification.json").is_file());
    assert!(!b.join("attempts/1/candidates").exists());
}

#[test]
fn the_smallest_of_two_passing_candidates_wins() {
    let env = env_with("policy:\n  candidates: 2\n  minimize: false\n");
    let list = serde_json::json!([{"diff": FIX_AND_MORE}, {"diff": FIX}]).to_string();
    let provider = env.proposer(&[&list]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let (verdicts, winner) = verdicts(&b, 1);
    assert_eq!(verdicts, ["passed", "passed"]);
    assert_eq!(winner, 2);
    let patch = std::fs::read_to_string(b.join("final.patch")).unwrap();
    assert!(patch.contains("+    return a + b"), "{patch}");
    assert!(!patch.contains("b * a"), "{patch}");
}

/// calc.py whose `add` first meets the other candidate's on 127.0.0.1:`port`: whichever
/// binds the port waits for the other to connect, the other connects. Alone, it waits 60 s
/// and fails: only candidates verified at the same time both pass.
fn meeting_calc(port: u16, note: &str) -> String {
    format!(
        "import socket\nimport time\n\n\ndef _meet():\n    # {note}\n    s = socket.socket()\n    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n    try:\n        s.bind((\"127.0.0.1\", {port}))\n        s.listen(1)\n    except OSError:\n        s.close()\n        deadline = time.time() + 60\n        while True:\n            try:\n                socket.create_connection((\"127.0.0.1\", {port}), timeout=5).close()\n                return\n            except OSError:\n                if time.time() > deadline:\n                    raise\n                time.sleep(0.1)\n    s.settimeout(60)\n    c, _ = s.accept()\n    c.close()\n    s.close()\n\n\ndef add(a, b):\n    _meet()\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
    )
}

#[test]
fn candidates_are_verified_at_the_same_time() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // `network: allow`: both sandboxes' commands share the host's loopback to meet on.
    // No minimization: a subset of the rewrite that meets alone would wait out its 60 s.
    let env = env_with(
        "policy:\n  network: allow\n  candidates: 2\n  parallelism: 2\n  minimize: false\n",
    );
    let list = serde_json::json!([
        rewrite(&meeting_calc(port, "first")),
        rewrite(&meeting_calc(port, "second")),
    ])
    .to_string();
    let provider = env.proposer(&[&list]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let (verdicts, _) = verdicts(&b, 1);
    assert_eq!(
        verdicts,
        ["passed", "passed"],
        "candidates ran one after the other"
    );
    let sandboxes: Vec<u64> = events(&b, "candidate_start")
        .iter()
        .map(|e| e["sandbox"].as_u64().unwrap())
        .collect();
    assert_eq!(sandboxes.len(), 2);
    assert_ne!(sandboxes[0], sandboxes[1], "{sandboxes:?}");
}

/// calc.py whose `add` starts `sleep SECS` and hangs.
fn hanging_calc(secs: &str, note: &str) -> String {
    format!(
        "import subprocess\nimport time\n\n\ndef add(a, b):\n    # {note}\n    subprocess.Popen([\"sleep\", \"{secs}\"])\n    time.sleep(600)\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
    )
}

/// The `pp-sandbox-*` directories under `tmp`.
fn sandboxes_in(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pp-sandbox-"))
        })
        .collect()
}

#[test]
fn a_candidate_that_times_out_leaves_no_process_and_another_wins() {
    let secs = sleep_marker(41);
    let mut env = env_with(
        "policy:\n  candidates: 2\n  parallelism: 2\n  limits: {per_command_timeout_sec: 8}\n",
    );
    let tmp = env.scratch.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    env.extra_env
        .push(("TMPDIR".into(), tmp.display().to_string()));
    let list =
        serde_json::json!([rewrite(&hanging_calc(&secs, "hangs")), json_diff(FIX)]).to_string();
    let provider = env.proposer(&[&list]);
    let out = env.pp(&["run", PYTEST, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let (verdicts, winner) = verdicts(&b, 1);
    assert_eq!(verdicts, ["failing_still_fail", "passed"]);
    assert_eq!(winner, 2);
    let hung = json_file(&b.join("attempts/1/candidates/1/verification.json"));
    assert_eq!(hung["runs"][0]["timed_out"], true, "{hung}");
    assert!(sleeps(&secs).is_empty(), "{:?}", sleeps(&secs));
    assert!(sandboxes_in(&tmp).is_empty(), "{:?}", sandboxes_in(&tmp));
}

/// Stops pp with `signal` while two hanging candidates run in two sandboxes, then checks that
/// nothing is left: no process they started, no sandbox directory.
fn stop_pp_while_candidates_run(
    signal: nix::sys::signal::Signal,
    marker: u32,
) -> std::process::Output {
    let secs = sleep_marker(marker);
    let mut env = env_with("policy:\n  candidates: 2\n  parallelism: 2\n");
    let tmp = env.scratch.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    env.extra_env
        .push(("TMPDIR".into(), tmp.display().to_string()));
    let list = serde_json::json!([
        rewrite(&hanging_calc(&secs, "one")),
        rewrite(&hanging_calc(&secs, "two")),
    ])
    .to_string();
    let provider = env.proposer(&[&list]);
    let child = env.pp_spawn(&["run", PYTEST, "--provider", &provider, "--json"], true);
    let started = std::time::Instant::now();
    while sleeps(&secs).len() < 2 {
        assert!(
            started.elapsed().as_secs() < 60,
            "the candidates never ran together: {:?}",
            sleeps(&secs)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(sandboxes_in(&tmp).len(), 2);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    let started = std::time::Instant::now();
    while !sleeps(&secs).is_empty() || !sandboxes_in(&tmp).is_empty() {
        assert!(
            started.elapsed().as_secs() < 15,
            "after {signal}: sleeps {:?}, sandboxes {:?}",
            sleeps(&secs),
            sandboxes_in(&tmp)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    out
}

#[test]
fn killing_pp_while_candidates_run_leaves_no_process_and_no_sandbox() {
    stop_pp_while_candidates_run(nix::sys::signal::Signal::SIGKILL, 42);
}

#[test]
fn interrupting_pp_while_candidates_run_removes_them_and_says_so() {
    let out = stop_pp_while_candidates_run(nix::sys::signal::Signal::SIGINT, 43);
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    assert_eq!(json_out(&out)["status"], "interrupted");
}

/// A module whose `clamp` returns the wrong bound: `search` finds the one-token fix.
fn clamp_env(policy: &str) -> TestEnv {
    TestEnv::new(&[
        (
            "shapes.py",
            "def area(w, h):\n    return w * h\n\n\ndef clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return lo\n    return x\n\n\ndef double(x):\n    return x + x\n",
        ),
        (
            "tests/test_shapes.py",
            "import unittest\nfrom shapes import area, clamp, double\n\n\nclass Shapes(unittest.TestCase):\n    def test_area(self):\n        self.assertEqual(area(2, 3), 6)\n\n    def test_double(self):\n        self.assertEqual(double(4), 8)\n\n    def test_clamp(self):\n        self.assertEqual(clamp(5, 0, 3), 3)\n        self.assertEqual(clamp(-1, 0, 3), 0)\n        self.assertEqual(clamp(2, 0, 3), 2)\n",
        ),
        ("pp.yaml", policy),
    ])
}

/// The search record of attempt 1 and the sandboxes its trials ran in.
fn searched(parallelism: u32) -> (serde_json::Value, Vec<u64>) {
    let env = clamp_env(&format!(
        "policy:\n  parallelism: {parallelism}\n  minimize: false\n"
    ));
    let out = env.pp(&[
        "run",
        "python3 -m unittest discover -s tests -v",
        "--provider",
        "search",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let record = json_file(&b.join("attempts/1/search.json"));
    let mut sandboxes: Vec<u64> = events(&b, "search_trial")
        .iter()
        .filter_map(|e| e["sandbox"].as_u64())
        .collect();
    sandboxes.sort_unstable();
    sandboxes.dedup();
    (record, sandboxes)
}

#[test]
fn search_tries_edits_in_several_sandboxes_and_finds_what_one_at_a_time_finds() {
    let (alone, none) = searched(1);
    assert!(none.is_empty(), "one at a time names no sandbox: {none:?}");
    let (together, sandboxes) = searched(2);
    assert_eq!(together["parallelism"], 2);
    assert_eq!(sandboxes, [0, 1], "the trials did not use two sandboxes");
    // The same winner after the same trials in ranking order, whatever finished first.
    assert_eq!(together["report"]["winner"], alone["report"]["winner"]);
    let edits = |r: &serde_json::Value| -> Vec<String> {
        r["report"]["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["edit"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(edits(&together), edits(&alone));
    // Later-ranked edits that ran while the winner was verified are kept apart, and lost.
    for t in together["trials_beside_winner"].as_array().unwrap() {
        assert!(!edits(&together).contains(&t["edit"].as_str().unwrap().to_owned()));
    }
}
