//! An engine that answers `--version`, `info` and `image inspect` like docker but cannot start
//! containers (as podman could not on a host whose cgroups crun refused): `pp doctor` reports it
//! unusable, and sessions and replay end `infra_stop` (exit 12) with the engine's own error,
//! before any proposer call. No real engine is needed: the engine is a shell script that, while
//! it works, runs the command on the host in the mounted directory.

use std::path::{Path, PathBuf};

use crate::schemas;
use crate::support::*;

/// The engine's error, as podman printed it on the Debian 12 host of the issue.
const OCI_ERROR: &str = "Error: crun: open `/sys/fs/cgroup/pids/user.slice`: OCI permission denied";

/// A fake runtime in `dir`: `run` number N fails with [`OCI_ERROR`] (exit 126) once N reaches
/// the number in `dir/fail_from` (no file: every run works). Every call is logged to
/// `dir/calls`, one line each.
struct FakeEngine {
    dir: PathBuf,
}

impl FakeEngine {
    fn new(dir: &Path) -> Self {
        let script = dir.join("fake-docker");
        std::fs::write(
            &script,
            format!(
                r#"#!/bin/sh
d='{d}'
echo "$*" >> "$d/calls"
case "$1" in
  --version) echo "Fake version 1.0" ;;
  info) echo '{{"ServerVersion":"1.0-fake"}}' ;;
  image) echo sha256:fake ;;
  ps) ;;
  container) exit 1 ;;
  run)
    n=$(( $(cat "$d/runs" 2>/dev/null || echo 0) + 1 ))
    echo $n > "$d/runs"
    if [ -e "$d/fail_from" ] && [ $n -ge "$(cat "$d/fail_from")" ]; then
      echo '{err}' >&2
      exit 126
    fi
    src=
    while [ $# -gt 0 ]; do
      case "$1" in
        --mount) [ -n "$src" ] || src=$(printf '%s' "$2" | sed 's/.*source=\([^,]*\),.*/\1/'); shift 2 ;;
        sha256:fake) shift; break ;;
        *) shift ;;
      esac
    done
    cd "$src" && exec "$@" ;;
  *) ;;
esac
"#,
                d = dir.display(),
                err = OCI_ERROR.replace('\'', "'\\''"),
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            dir: dir.to_owned(),
        }
    }

    fn path(&self) -> String {
        self.dir.join("fake-docker").display().to_string()
    }

    /// Every `run` from the `n`-th on fails.
    fn fail_from(&self, n: u32) {
        std::fs::write(self.dir.join("fail_from"), n.to_string()).unwrap();
    }

    /// The `run` calls so far.
    fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("run "))
            .map(str::to_owned)
            .collect()
    }
}

fn policy(engine: &FakeEngine) -> String {
    format!(
        "policy:\n  sandbox: {{backend: container, container_runtime: \"{}\", container_image: \"busybox:fake\"}}\n",
        engine.path()
    )
}

#[test]
fn doctor_starts_a_container_and_reports_the_engines_error() {
    let scratch = tempfile::tempdir().unwrap();
    let engine = FakeEngine::new(scratch.path());
    let mut env = TestEnv::new(&[("pp.yaml", &policy(&engine))]);
    // The fake engine is a program the policy names: the user trusts it.
    env.extra_env.push(("PP_TRUST_POLICY".into(), "1".into()));
    let out = env.pp(&["doctor", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let c = json_out(&out)["machine"]["container_runtime"].clone();
    assert_eq!(c["usable"], true, "{c}");
    assert_eq!(c["start"]["ran"], true, "{c}");
    // The probe is one throwaway container: removed, no network, `true`.
    let runs = engine.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    for part in [
        "--rm",
        "--network none",
        "--pull never",
        "--init",
        "sha256:fake true",
    ] {
        assert!(runs[0].contains(part), "{part} not in {}", runs[0]);
    }

    engine.fail_from(1);
    let out = env.pp(&["doctor", "--json"]);
    let c = json_out(&out)["machine"]["container_runtime"].clone();
    assert_eq!(c["engine"]["available"], true, "{c}");
    assert_eq!(c["image"]["present"], true, "{c}");
    assert_eq!(c["start"]["ran"], false, "{c}");
    assert_eq!(c["usable"], false, "{c}");
    let error = c["start"]["error"].as_str().unwrap();
    assert!(error.contains(OCI_ERROR), "{error}");
    assert!(error.contains("exited with 126"), "{error}");
    let out = env.pp(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("container start: not usable:") && text.contains("OCI permission denied"),
        "{text}"
    );
}

#[test]
fn a_session_on_an_engine_that_cannot_start_containers_is_infra_stop_before_any_proposal() {
    let scratch = tempfile::tempdir().unwrap();
    let engine = FakeEngine::new(scratch.path());
    engine.fail_from(1);
    let env = trusted_env(&engine);
    let out = run_v_txt(&env, &[]);
    let v = json_out(&out);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    assert_eq!(v["status"], "infra_stop");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("cannot start a container"), "{message}");
    assert!(message.contains(OCI_ERROR), "{message}");
    assert!(v["hint"].as_str().unwrap().contains("pp doctor"), "{v}");
    assert_eq!(env.proposer_calls(), 0, "the proposer was asked");
    // Only the probe ran: no target was spent on the broken engine.
    assert_eq!(engine.runs().len(), 1, "{:?}", engine.runs());
}

#[test]
fn an_engine_failing_once_the_session_runs_is_infrastructure_not_a_code_failure() {
    let scratch = tempfile::tempdir().unwrap();
    let engine = FakeEngine::new(scratch.path());
    // The probe starts; every target run after it gets the engine's error and exit 126.
    engine.fail_from(2);
    let env = trusted_env(&engine);
    let out = run_v_txt(&env, &[]);
    let v = json_out(&out);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    assert_eq!(v["status"], "infra_stop");
    assert_eq!(v["final_exit_code"], 126);
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("container_engine"), "{message}");
    assert!(message.contains("OCI permission denied"), "{message}");
    assert_eq!(env.proposer_calls(), 0, "the proposer was asked");
}

/// A workspace whose policy names the fake engine, which the user trusts.
fn trusted_env(engine: &FakeEngine) -> TestEnv {
    let mut env = TestEnv::new(&[("v.txt", "bad\n"), ("pp.yaml", &policy(engine))]);
    env.extra_env.push(("PP_TRUST_POLICY".into(), "1".into()));
    env
}

#[test]
fn replay_on_an_engine_that_cannot_start_containers_is_infra_stop() {
    let scratch = tempfile::tempdir().unwrap();
    let engine = FakeEngine::new(scratch.path());
    let env = trusted_env(&engine);
    let v = prove_v_txt(&env, &[]);
    let b = v["proof_bundle"].as_str().unwrap().to_owned();
    // A container session's records (engine, image, container network) match their schemas.
    let repro = schemas::read_json(&Path::new(&b).join("repro.json"));
    assert_eq!(repro["isolation"]["applied"], "container", "{repro}");
    schemas::assert_valid(
        "repro.schema.json",
        &repro,
        "a container session's repro.json",
    );
    let environment = schemas::read_json(&Path::new(&b).join("environment.json"));
    schemas::assert_valid(
        "environment.schema.json",
        &environment,
        "a container session's environment.json",
    );
    let out = env.pp(&["replay", &b, "--allow-unsigned", "--json"]);
    assert_eq!(json_out(&out)["status"], "replayed", "{}", stderr(&out));

    // The engine breaks: the start probe fails, nothing runs.
    let before = engine.runs().len();
    engine.fail_from(before as u32 + 1);
    let out = env.pp(&["replay", &b, "--allow-unsigned", "--json"]);
    let r = json_out(&out);
    assert_eq!(code(&out), 12, "{r}");
    assert_eq!(r["status"], "infra_stop");
    assert_eq!(r["success"], false);
    assert!(r["message"].as_str().unwrap().contains(OCI_ERROR), "{r}");
    assert!(r["hint"].as_str().is_some(), "{r}");
    schemas::assert_valid("replay.schema.json", &r, "an infra_stop replay's document");
    assert_eq!(engine.runs().len(), before + 1, "only the probe ran");

    // The engine breaks after the probe: the target's failure is the engine's, not the proof's.
    engine.fail_from(engine.runs().len() as u32 + 2);
    let out = env.pp(&["replay", &b, "--allow-unsigned"]);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("replay: infra_stop"), "{text}");
    assert!(text.contains("the container engine failed"), "{text}");
    assert!(text.contains("\nhint: "), "{text}");
}
