//! End to end with a model: `pp run` against a scripted OpenAI-compatible server on 127.0.0.1.

use std::time::Duration;

use crate::support::model_server::{ModelServer, Reply};
use crate::support::*;

const TEST_CMD: &str = "python3 -m unittest discover -s tests -v";
const FIX: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";

fn calc_env(server: &ModelServer) -> TestEnv {
    let mut env = TestEnv::new(&[
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
        (
            "pp.yaml",
            "policy:\n  provider: {retry_budget_sec: 20, max_retries: 3}\n",
        ),
    ]);
    env.extra_env
        .push(("PP_LOCAL_BASE_URL".into(), server.base_url()));
    env.extra_env
        .push(("PP_LOCAL_MODEL".into(), "test-model".into()));
    env
}

fn json_reply(diff: &str) -> Reply {
    Reply::completion(
        &serde_json::json!({"diff": diff, "rationale": "fix", "confidence": 0.9}).to_string(),
    )
}

#[test]
fn proven_in_one_attempt_and_exchange_recorded() {
    let server = ModelServer::start([json_reply(FIX)]);
    let env = calc_env(&server);
    let out = env.pp(&["run", TEST_CMD, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 1);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let body = reqs[0].json();
    assert_eq!(body["model"], "test-model");
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    assert!(
        prompt.contains("AssertionError") && prompt.contains(TEST_CMD),
        "{prompt}"
    );
    let b = std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let proposal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("attempts/1/proposal.json")).unwrap())
            .unwrap();
    assert_eq!(proposal["proposer"], "local");
    // The model as the server reported it.
    assert_eq!(proposal["model"], "scripted-model");
    assert!(proposal["http"]["exchanges"][0]["request"]["messages"].is_array());
    let repro: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("repro.json")).unwrap()).unwrap();
    assert_eq!(repro["model"], "scripted-model");
    assert!(
        repro["endpoints"]["local"]
            .to_string()
            .contains("127.0.0.1")
    );
}

#[test]
fn rate_limit_and_server_error_are_retried_without_using_attempts() {
    let server = ModelServer::start([
        Reply::error(429, "slow down").header("Retry-After", "1"),
        Reply::error(500, "boom"),
        json_reply(FIX),
    ]);
    let env = calc_env(&server);
    let out = env.pp(&["run", TEST_CMD, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 1);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs[1].received_at.duration_since(reqs[0].received_at) >= Duration::from_secs(1));
}

#[test]
fn prose_then_a_misnumbered_fenced_diff_then_proven() {
    // The hunk claims line 40; the patch engine finds the real place.
    let misnumbered = FIX.replace("@@ -1,2 +1,2 @@", "@@ -40,2 +40,2 @@");
    let server = ModelServer::start([
        Reply::completion("I think the bug is in add, it subtracts."),
        Reply::completion(&format!("Here you go:\n```diff\n{misnumbered}```\n")),
        json_reply(FIX),
    ]);
    let env = calc_env(&server);
    let out = env.pp(&["run", TEST_CMD, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert!(v["attempts_used"].as_u64().unwrap() <= 3);
    let reqs = server.requests();
    // The second request tells the model why its reply was unusable.
    let second = reqs[1].everything();
    assert!(second.contains("no usable change"), "{second}");
}

#[test]
fn whole_file_reply_is_proven() {
    let server = ModelServer::start([Reply::completion(
        &serde_json::json!({"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"})
            .to_string(),
    )]);
    let env = calc_env(&server);
    let out = env.pp(&["run", TEST_CMD, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["changed_files"], serde_json::json!(["calc.py"]));
}

#[test]
fn unauthorized_is_infra_stop_with_the_servers_message() {
    let server = ModelServer::start([Reply::error(401, "invalid api key provided")]);
    let env = calc_env(&server);
    let out = env.pp(&["run", TEST_CMD, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    assert_eq!(v["status"], "infra_stop");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("invalid api key provided"),
        "{v}"
    );
    assert!(v["hint"].is_string(), "the hint has its own field: {v}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_server_that_never_answers_is_bounded_by_the_timeout() {
    let server = ModelServer::start([Reply::never()]).with_fallback(Reply::never());
    let mut env = calc_env(&server);
    env.extra_env
        .push(("PP_LOCAL_TIMEOUT_SEC".into(), "1".into()));
    env.write(
        "pp.yaml",
        "policy:\n  provider: {retry_budget_sec: 1, max_retries: 0}\n",
    );
    env.commit("short");
    let out = env.pp(&["run", TEST_CMD, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "infra_stop", "{}", stderr(&out));
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.contains("127.0.0.1") && msg.contains("did not answer within 1s"),
        "{msg}"
    );
}

#[test]
fn fallback_chain_uses_the_next_proposer_and_records_it() {
    let server = ModelServer::start([json_reply(FIX)]);
    let mut env = calc_env(&server);
    // `openai` points at a port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    env.extra_env.push(("PP_OPENAI_BASE_URL".into(), dead_url));
    env.extra_env.push((
        "PP_OPENAI_API_KEY".into(),
        "sk-test-0000000000000000000000".into(),
    ));
    env.write(
        "pp.yaml",
        "policy:\n  provider: {retry_budget_sec: 1, max_retries: 0}\n",
    );
    env.commit("chain");
    let out = env.pp(&["run", TEST_CMD, "--provider", "openai,local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let proposal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("attempts/1/proposal.json")).unwrap())
            .unwrap();
    assert_eq!(proposal["proposer"], "local");
    assert!(
        proposal["fallbacks"][0]
            .as_str()
            .unwrap()
            .starts_with("openai"),
        "{proposal}"
    );
}

#[test]
fn secrets_printed_by_the_command_never_reach_the_model_or_the_bundle() {
    let server = ModelServer::start([json_reply(FIX)]);
    let mut env = calc_env(&server);
    let openai_key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
    let aws = "AKIAIOSFODNN7EXAMPLE";
    let password = "hunter2-very-secret";
    let custom = "s3cr3t-value-of-my-token-zz";
    env.extra_env
        .push(("MY_SERVICE_TOKEN".into(), custom.into()));
    env.write(
        "tests/test_calc.py",
        &format!(
            "import os, unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        print('key {openai_key} aws {aws} password={password} tok', os.environ.get('MY_SERVICE_TOKEN'))\n        self.assertEqual(add(2, 3), 5)\n"
        ),
    );
    env.commit("leaky test");
    let out = env.pp(&["run", TEST_CMD, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let secrets = [openai_key, aws, password, custom];
    for r in server.requests() {
        let all = r.everything();
        for s in secrets {
            assert!(!all.contains(s), "the model received {s}");
        }
    }
    let b = std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let mut stack = vec![b];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            for s in secrets {
                assert!(!text.contains(s), "{} holds {s}", p.display());
            }
        }
    }
}

#[test]
fn diffs_that_keep_failing_to_apply_lead_to_a_whole_file_request() {
    let bad = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def plus(a, b):\n-    return a - b\n+    return a + b\n";
    let server = ModelServer::start([
        json_reply(bad),
        json_reply(bad),
        Reply::completion(&serde_json::json!({"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"}).to_string()),
    ]);
    let env = calc_env(&server);
    let out = env.pp(&["run", TEST_CMD, "--provider", "local", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 3);
    let third = server.requests()[2].json();
    let prompt = third["messages"][1]["content"].as_str().unwrap();
    assert!(
        prompt.contains("Whole-file rewrite") && prompt.contains("return a - b"),
        "{prompt}"
    );
}
