//! The container backend end to end against a real engine: proofs inside the busybox test
//! image, timeouts that leave no container behind, network denial, secrets, limits in the
//! recorded argv, stale-container cleanup, and clear errors for a missing runtime or image.
//!
//! Tests needing an engine print why and return when `docker info` does not answer (CI starts
//! one with `scripts/ci-docker.sh`). The test image `pp-test-busybox:latest` is built here from
//! the host's static busybox when the engine answers but the image is missing.

use std::process::Command;
use std::sync::OnceLock;

use crate::support::*;

const IMAGE: &str = "pp-test-busybox:latest";

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().unwrap()
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Whether the engine answers and the test image exists (built once if needed). Prints the
/// reason when the caller must skip.
fn engine() -> bool {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let r = READY.get_or_init(|| {
        match Command::new("docker").args(["info"]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Err(format!(
                    "`docker info` does not answer: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => return Err(format!("no `docker` client: {e}")),
        }
        if docker(&["image", "inspect", IMAGE]).status.success() {
            return Ok(());
        }
        build_image()
    });
    match r {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipped: {why} (scripts/ci-docker.sh starts an engine)");
            false
        }
    }
}

/// `docker import` of a rootfs holding a static busybox and its applet links.
fn build_image() -> Result<(), String> {
    let bb = std::path::Path::new("/bin/busybox");
    let file = Command::new("file").arg("-L").arg(bb).output();
    let is_static = file.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("statically"));
    if !is_static {
        return Err(format!(
            "the engine answers but image {IMAGE} is missing and no static /bin/busybox exists to build it (apt-get install busybox-static)"
        ));
    }
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["tmp", "etc", "workspace"] {
        std::fs::create_dir_all(root.path().join(d)).unwrap();
    }
    std::fs::copy(bb, bin.join("busybox")).unwrap();
    let list = Command::new(bb).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
    }
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "chmod 1777 tmp && tar -c . | docker import --change 'ENV PATH=/bin' - {IMAGE} >/dev/null"
        ))
        .current_dir(root.path())
        .status()
        .unwrap();
    if status.success() {
        Ok(())
    } else {
        Err(format!("could not build {IMAGE}"))
    }
}

fn policy(extra: &str) -> String {
    format!(
        "policy:\n  sandbox: {{backend: container, container_image: \"{IMAGE}\", cpu_limit: \"1\", memory_limit: \"256m\", pids_limit: 100}}\n{extra}"
    )
}

fn bundle(v: &serde_json::Value) -> std::path::PathBuf {
    std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

fn read_json(p: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Containers still carrying this session's label.
fn leftovers(session: &str) -> String {
    docker_ok(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("label=pp.session={session}"),
    ])
}

/// Waits (up to 30 s) until a container of the pp process `pid` runs; the `docker ps` filter
/// that finds that pp's containers.
fn wait_for_container_of(pid: u32) -> String {
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .unwrap()
        .to_string_lossy()
        .replace([':', '[', ']'], "");
    let filter = format!("label=pp.owner={ns}:{pid}");
    let started = std::time::Instant::now();
    let mut running = String::new();
    while running.is_empty() && started.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        running = docker_ok(&["ps", "--quiet", "--filter", &filter]);
    }
    assert!(!running.is_empty(), "the container never started");
    filter
}

fn flag(argv: &[serde_json::Value], name: &str) -> Option<String> {
    let i = argv.iter().position(|a| a == name)?;
    argv.get(i + 1)?.as_str().map(str::to_owned)
}

#[test]
fn failing_shell_target_is_proven_inside_the_container() {
    if !engine() {
        return;
    }
    let env = TestEnv::new(&[("v.cfg", "value=1\n"), ("pp.yaml", &policy(""))]);
    // Passes only in /workspace (never the host sandbox path) with the fix applied; its failure
    // names the file by its container path.
    let target = "test \"$(pwd)\" = /workspace && grep -q value=2 v.cfg || { echo \"/workspace/v.cfg:1: expected value=2, found $(cat v.cfg)\"; exit 1; }";
    let fix = "--- a/v.cfg\n+++ b/v.cfg\n@@ -1 +1 @@\n-value=1\n+value=2\n";
    let provider = env.proposer(&[&json_diff(fix)]);
    let out = env.pp(&["run", target, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(env.read("v.cfg"), "value=1\n", "the user's tree changed");
    let b = bundle(&v);

    // The recorded invocation is the container run, with the policy's limits.
    let result = read_json(&b.join("attempts/0_baseline/default/result.json"));
    let argv = result["argv"].as_array().unwrap();
    assert_eq!(argv[0], "docker");
    assert_eq!(argv[1], "run");
    for (f, want) in [
        ("--cpus", "1"),
        ("--memory", "256m"),
        ("--pids-limit", "100"),
        ("--network", "none"),
        ("--pull", "never"),
        ("--workdir", "/workspace"),
    ] {
        assert_eq!(flag(argv, f).as_deref(), Some(want), "{f} in {argv:?}");
    }
    for f in ["--rm", "--init", "--user", "--name"] {
        assert!(argv.iter().any(|a| a == f), "{f} missing from {argv:?}");
    }
    let session = v["session_id"].as_str().unwrap();
    assert!(argv.contains(&serde_json::json!(format!("pp.session={session}"))));

    // The image is recorded by id, and that id is what ran.
    let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", IMAGE]);
    let environment = read_json(&b.join("environment.json"));
    assert_eq!(environment["container"]["image_id"], id.as_str());
    assert_eq!(environment["container"]["image"], IMAGE);
    assert!(
        environment["container"]["server_version"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(environment["isolation"]["applied"], "container");
    assert!(argv.contains(&serde_json::json!(id)));
    let repro = read_json(&b.join("repro.json"));
    assert_eq!(repro["container"]["image_id"], id.as_str());
    assert_eq!(repro["runtime"]["container_image_id"], id.as_str());
    assert_eq!(repro["sandbox"]["backend"], "container");

    // `/workspace/v.cfg` in the output was mapped back to the workspace file for the proposer.
    let req = env.request(1);
    let ctx = req["context"].to_string();
    let locations = req["context"]["locations"].as_array().unwrap();
    assert!(
        locations
            .iter()
            .any(|l| l["path"] == "v.cfg" && l["in_workspace"] == true),
        "/workspace/v.cfg not mapped back: {ctx}"
    );
    assert!(
        req["context"]["snippets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["path"] == "v.cfg"),
        "no snippet of v.cfg in {ctx}"
    );
    assert!(leftovers(session).is_empty());

    // Replay runs the recorded targets in a container again (the target passes only there).
    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    let r = json_out(&out);
    assert_eq!(r["status"], "replayed", "{}", stderr(&out));
}

#[test]
fn replay_runs_the_recorded_image_not_what_the_tag_points_at_now() {
    if !engine() {
        return;
    }
    // A tag of this test's own, first on the busybox image, later moved to another image;
    // removed however the test ends.
    struct Untag(&'static str);
    impl Drop for Untag {
        fn drop(&mut self) {
            let _ = docker(&["rmi", self.0]);
        }
    }
    let tag = "pp-test-replay:moved";
    docker_ok(&["tag", IMAGE, tag]);
    let _untag = Untag(tag);
    let env = TestEnv::new(&[
        ("v.cfg", "value=1\n"),
        (
            "pp.yaml",
            &format!("policy:\n  sandbox: {{backend: container, container_image: \"{tag}\"}}\n"),
        ),
    ]);
    // Passes with the fix, and only in an image without /marker.
    let target = "test ! -e /marker && grep -q value=2 v.cfg";
    let fix = "--- a/v.cfg\n+++ b/v.cfg\n@@ -1 +1 @@\n-value=1\n+value=2\n";
    let provider = env.proposer(&[&json_diff(fix)]);
    let out = env.pp(&["run", target, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let b = bundle(&v);
    let recorded = read_json(&b.join("repro.json"))["container"]["image_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The tag now names an image with /marker.
    let maker = "pp-test-replay-maker";
    let _ = docker(&["rm", "-f", maker]);
    docker_ok(&["run", "--name", maker, IMAGE, "touch", "/marker"]);
    docker_ok(&["commit", maker, tag]);
    docker_ok(&["rm", "-f", maker]);
    let now = docker_ok(&["image", "inspect", "--format", "{{.Id}}", tag]);
    assert_ne!(now, recorded);

    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    let r = json_out(&out);
    assert_eq!(r["status"], "replayed", "{r} {}", stderr(&out));

    // A bundle that records no image id (older pp) runs the tag, and says so.
    let repro_path = b.join("repro.json");
    let mut repro = read_json(&repro_path);
    repro["container"]["image_id"] = serde_json::Value::Null;
    std::fs::write(&repro_path, serde_json::to_vec(&repro).unwrap()).unwrap();
    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    let r = json_out(&out);
    assert_eq!(r["status"], "failed", "the tag's image has /marker: {r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("records no image id"),
        "{r}"
    );

    // A recorded image that is not here is refused by its id, never swapped for the tag's.
    let absent = format!("sha256:{}", "0".repeat(64));
    repro["container"]["image_id"] = serde_json::json!(absent);
    std::fs::write(&repro_path, serde_json::to_vec(&repro).unwrap()).unwrap();
    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let e = json_out(&out);
    let message = e["error"].as_str().unwrap();
    assert!(
        message.contains(&absent) && message.contains("not in the local"),
        "{message}"
    );
}

#[test]
fn hanging_command_is_killed_at_the_timeout_and_no_container_is_left() {
    if !engine() {
        return;
    }
    let env = TestEnv::new(&[(
        "pp.yaml",
        &policy("  limits: {per_command_timeout_sec: 2}\n"),
    )]);
    let out = env.pp(&[
        "run",
        "sleep 300 & sleep 300",
        "--provider",
        "stub",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "infra_stop", "{}", stderr(&out));
    assert_eq!(v["final_exit_code"], 124);
    let session = v["session_id"].as_str().unwrap();
    assert_eq!(leftovers(session), "", "containers left behind");
    let result = read_json(&bundle(&v).join("attempts/0_baseline/default/result.json"));
    assert_eq!(result["timed_out"], true);
    // Killed promptly, not after the sleep.
    assert!(result["duration_ms"].as_u64().unwrap() < 60_000);
}

/// The address of the host on the default bridge, when the engine has one.
fn bridge_gateway() -> Option<String> {
    let out = docker(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{(index .IPAM.Config 0).Gateway}}",
    ]);
    let gw = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !gw.is_empty()).then_some(gw)
}

#[test]
fn network_deny_blocks_the_host_but_allows_servers_inside() {
    if !engine() {
        return;
    }
    // Bound to every address, so a container on the bridge could reach it through the gateway.
    // It answers `pong` and closes, so a client that got through ends at once.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut conn, b"pong\n");
        }
    });
    let env = TestEnv::new(&[(
        "pp.yaml",
        &policy("  limits: {per_command_timeout_sec: 30}\n"),
    )]);
    let mut hosts = vec!["127.0.0.1".to_owned()];
    let gateway = bridge_gateway();
    hosts.extend(gateway.clone());
    for host in &hosts {
        let connect = format!("nc -w 3 {host} {port} </dev/null | grep -q pong");
        let out = env.pp(&["run", &connect, "--provider", "stub", "--json"]);
        let v = json_out(&out);
        assert_ne!(v["status"], "already_passing", "reached {host} under deny");
        let log =
            std::fs::read_to_string(bundle(&v).join("attempts/0_baseline/default/stderr.log"))
                .unwrap();
        assert!(log.contains("can't connect"), "{log}");
    }
    // A server the command starts on its own loopback works under deny.
    let own = "(echo pong | nc -l -p 9999 127.0.0.1 &); sleep 1; echo ping | nc -w 3 127.0.0.1 9999 | grep -q pong";
    let out = env.pp(&["run", own, "--provider", "stub", "--json"]);
    assert_eq!(
        json_out(&out)["status"],
        "already_passing",
        "{}",
        stderr(&out)
    );
    // Under allow the container is on the engine's bridge and reaches the host through it.
    match gateway {
        Some(gw) => {
            env.write(
                "pp.yaml",
                &policy("  network: allow\n  limits: {per_command_timeout_sec: 30}\n"),
            );
            env.commit("allow");
            let connect = format!("nc -w 3 {gw} {port} </dev/null | grep -q pong");
            let out = env.pp(&["run", &connect, "--provider", "stub", "--json"]);
            let v = json_out(&out);
            assert_eq!(v["status"], "already_passing", "{}", stderr(&out));
            let result = read_json(&bundle(&v).join("attempts/0_baseline/default/result.json"));
            assert!(flag(result["argv"].as_array().unwrap(), "--network").is_none());
        }
        None => eprintln!("allow part skipped: the engine has no default bridge"),
    }
}

#[test]
fn secrets_never_reach_the_container_or_the_bundle() {
    if !engine() {
        return;
    }
    let mut env = TestEnv::new(&[("pp.yaml", &policy(""))]);
    for (k, v) in [
        ("PP_OPENAI_API_KEY", "sk-test-SECRETVALUE1234567890"),
        ("PP_LOCAL_API_KEY", "local-SECRETVALUE-1234567890abc"),
        (
            "PP_ATTEST_HMAC_KEY",
            "attest-SECRETVALUE-0987654321-abcdefghij",
        ),
        ("PP_TEST_VISIBLE", "visible-in-container"),
    ] {
        env.extra_env.push((k.into(), v.into()));
    }
    let out = env.pp(&["run", "env; exit 1", "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven", "{}", stderr(&out));
    let b = bundle(&v);
    let log = std::fs::read_to_string(b.join("attempts/0_baseline/default/stdout.log")).unwrap();
    // The environment did reach the container (an ordinary variable is there)…
    assert!(
        log.contains("PP_TEST_VISIBLE=visible-in-container"),
        "{log}"
    );
    // …and no key, in any bundle file.
    assert!(assert_no_file_holds(&b, "SECRETVALUE") > 5);
    let environment = read_json(&b.join("environment.json"));
    let inside = environment["env_passed_into_container"].to_string();
    assert!(inside.contains("PP_TEST_VISIBLE") && !inside.contains("PP_OPENAI_API_KEY"));
}

#[test]
fn stale_containers_of_a_crashed_session_are_removed_at_start() {
    if !engine() {
        return;
    }
    // A pp process that is gone: a child that already exited.
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .unwrap()
        .to_string_lossy()
        .replace([':', '[', ']'], "");
    let session = format!("crashed-{}", std::process::id());
    let name = format!("pp-{session}-stale");
    docker_ok(&[
        "run",
        "--detach",
        "--name",
        &name,
        "--label",
        &format!("pp.session={session}"),
        "--label",
        &format!("pp.owner={ns}:{dead_pid}"),
        "--label",
        "pp.deadline=99999999999",
        "--network",
        "none",
        "--pull",
        "never",
        IMAGE,
        "sleep",
        "300",
    ]);
    let env = TestEnv::new(&[("pp.yaml", &policy(""))]);
    let out = env.pp(&["run", "true", "--provider", "stub", "--json"]);
    assert_eq!(
        json_out(&out)["status"],
        "already_passing",
        "{}",
        stderr(&out)
    );
    let gone = leftovers(&session).is_empty();
    if !gone {
        let _ = docker(&["rm", "-f", &name]);
    }
    assert!(
        gone,
        "the stale container {name} survived the session start"
    );
}

#[test]
fn missing_image_is_infra_stop_naming_it_with_a_hint() {
    if !engine() {
        return;
    }
    let env = TestEnv::new(&[(
        "pp.yaml",
        "policy:\n  sandbox: {backend: container, container_image: \"pp-no-such-image:never\"}\n",
    )]);
    let out = env.pp(&["run", "true", "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    assert_eq!(v["status"], "infra_stop");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains("pp-no-such-image:never"), "{msg}");
    let hint = v["hint"].as_str().unwrap();
    assert!(
        hint.contains("docker pull pp-no-such-image:never"),
        "{hint}"
    );
    // Never pulled.
    assert!(
        !docker(&["image", "inspect", "pp-no-such-image:never"])
            .status
            .success()
    );
}

#[test]
fn missing_runtime_is_infra_stop_naming_it() {
    // No engine needed: the runtime itself is missing.
    let env = TestEnv::new(&[(
        "pp.yaml",
        "policy:\n  sandbox: {backend: container, container_runtime: pp-no-such-runtime}\n",
    )]);
    let out = env.pp(&["run", "true", "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    assert_eq!(v["status"], "infra_stop");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("`pp-no-such-runtime` was not found"),
        "{v}"
    );
    assert!(v["hint"].as_str().unwrap().contains("container_runtime"));
}

#[test]
fn doctor_reports_runtime_engine_and_image_from_probes() {
    if !engine() {
        return;
    }
    let env = TestEnv::new(&[("pp.yaml", &policy(""))]);
    let out = env.pp(&["doctor", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    let c = &v["machine"]["container_runtime"];
    assert_eq!(c["name"], "docker");
    assert!(c["client"].as_str().unwrap().contains("ersion"), "{c}");
    assert_eq!(c["engine"]["available"], true);
    assert_eq!(c["image"]["present"], true);
    let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", IMAGE]);
    assert_eq!(c["image"]["id"], id.as_str());
    assert_eq!(c["usable"], true);

    env.write(
        "pp.yaml",
        "policy:\n  sandbox: {backend: container, container_image: \"pp-no-such-image:never\"}\n",
    );
    let v = json_out(&env.pp(&["doctor", "--json"]));
    let c = &v["machine"]["container_runtime"];
    assert_eq!(c["image"]["present"], false);
    assert_eq!(c["usable"], false);
}

#[test]
fn a_killed_pp_leaves_no_container_and_no_sandbox() {
    if !engine() {
        return;
    }
    let env = TestEnv::new(&[("pp.yaml", &policy(""))]);
    let mut child = env.pp_spawn(&["run", "sleep 300", "--provider", "stub", "--json"], false);
    let filter = wait_for_container_of(child.id());
    let created = env.session_event("sandbox_created").unwrap();
    let root = std::path::PathBuf::from(created["sandbox"]["root"].as_str().unwrap());
    let dir = root.parent().unwrap().to_owned();
    assert!(dir.is_dir());
    // SIGKILL: pp cannot clean up; its guard must remove the container, not just its client.
    child.kill().unwrap();
    child.wait().unwrap();
    let started = std::time::Instant::now();
    loop {
        let left = docker_ok(&["ps", "--all", "--quiet", "--filter", &filter]);
        if left.is_empty() && !dir.exists() {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "after pp was killed: containers {left:?}, {} exists: {}",
            dir.display(),
            dir.exists()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn interrupt_kills_the_running_container() {
    if !engine() {
        return;
    }
    let env = TestEnv::new(&[("pp.yaml", &policy(""))]);
    let child = env.pp_spawn(&["run", "sleep 300", "--provider", "stub", "--json"], true);
    let filter = wait_for_container_of(child.id());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let v = json_out(&out);
    assert_eq!(v["status"], "interrupted");
    assert_eq!(
        docker_ok(&["ps", "--all", "--quiet", "--filter", &filter]),
        "",
        "the container outlived the interrupt"
    );
}

#[test]
fn engine_refusing_the_limits_is_infra_stop_not_a_code_failure() {
    if !engine() {
        return;
    }
    // More CPUs than any test machine has: the engine refuses the run (exit 125).
    let env = TestEnv::new(&[(
        "pp.yaml",
        &format!(
            "policy:\n  sandbox: {{backend: container, container_image: \"{IMAGE}\", cpu_limit: \"4096\"}}\n"
        ),
    )]);
    let out = env.pp(&["run", "true", "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "infra_stop", "{}", stderr(&out));
    assert_eq!(v["final_exit_code"], 125);
    assert!(
        v["message"].as_str().unwrap().contains("container_engine"),
        "{v}"
    );
}
