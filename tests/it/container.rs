//! The container backend end to end against a real engine: proofs inside the busybox test
//! image, timeouts that leave no container behind, network denial, secrets, limits in the
//! recorded argv, stale-container cleanup, and clear errors for a missing runtime or image.
//!
//! Each test needing an engine runs once against docker and once against podman
//! (`container::docker::…`, `container::podman::…`), and prints why and returns when that
//! engine's `info` does not answer (CI starts docker with `scripts/ci-docker.sh` and installs
//! podman). The test image `pp-test-busybox:latest` is built here from
//! the host's static busybox when the engine answers but the image is missing.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::support::*;

const IMAGE: &str = "pp-test-busybox:latest";

/// The engine a test runs against: its client, and for podman the containers.conf this module
/// writes (given to the client and to pp through `CONTAINERS_CONF`).
pub struct Engine {
    pub rt: &'static str,
    conf: Option<PathBuf>,
}

impl Engine {
    fn env_vars(&self) -> Vec<(String, String)> {
        self.conf
            .iter()
            .map(|c| ("CONTAINERS_CONF".to_owned(), c.display().to_string()))
            .collect()
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new(self.rt)
            .args(args)
            .envs(self.env_vars())
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            self.rt,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A workspace whose pp reaches this engine as the client would.
    fn test_env(&self, files: &[(&str, &str)]) -> TestEnv {
        let mut env = TestEnv::new(files);
        env.extra_env.extend(self.env_vars());
        env
    }

    /// A policy running the test image in this engine, with `extra` lines under `policy:`.
    fn policy(&self, extra: &str) -> String {
        self.policy_with(&format!("container_image: \"{IMAGE}\", cpu_limit: \"1\", memory_limit: \"256m\", pids_limit: 100"), extra)
    }

    /// A container policy with `sandbox` settings of the caller's.
    fn policy_with(&self, sandbox: &str, extra: &str) -> String {
        format!(
            "policy:\n  sandbox: {{backend: container, container_runtime: {}, {sandbox}}}\n{extra}",
            self.rt
        )
    }

    fn image_id(&self, image: &str) -> String {
        self.ok(&["image", "inspect", "--format", "{{.Id}}", image])
    }
}

/// Docker, when `docker info` answers (CI starts it with `scripts/ci-docker.sh`); the test image
/// is built when missing. Prints the reason when the caller must skip.
fn docker() -> Option<&'static Engine> {
    static READY: OnceLock<Result<Engine, String>> = OnceLock::new();
    ready(READY.get_or_init(|| {
        prepare(Engine {
            rt: "docker",
            conf: None,
        })
    }))
}

/// Rootful podman, when it is installed (`.ci/run` installs it with catatonit, which its
/// `--init` needs), with the containers.conf a Debian 12 host of CI's kind needs: ulimits the
/// host lets root set (podman asks for nofile=1048576; without CAP_SYS_RESOURCE the hard limit
/// is lower, and runc then fails every container with `OCI permission denied`), and runc, since
/// crun refuses the hybrid cgroup layout of such hosts.
fn podman() -> Option<&'static Engine> {
    static READY: OnceLock<Result<Engine, String>> = OnceLock::new();
    ready(READY.get_or_init(|| {
        let conf = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pp-podman-containers.conf");
        std::fs::write(&conf, podman_conf()).map_err(|e| e.to_string())?;
        prepare(Engine {
            rt: "podman",
            conf: Some(conf),
        })
    }))
}

/// The containers.conf of [`podman`]; the README shows the same for users on such hosts.
fn podman_conf() -> String {
    let hard = |flag: &str| {
        let out = Command::new("sh")
            .args(["-c", &format!("ulimit -H{flag}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let nofile = match hard("n").as_str() {
        "unlimited" | "" => "1048576".to_owned(),
        n => n.to_owned(),
    };
    let runc = Command::new("sh")
        .args(["-c", "command -v runc"])
        .output()
        .is_ok_and(|o| o.status.success());
    format!(
        "[containers]\ndefault_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc=4096:4096\"]\n{}",
        if runc {
            "\n[engine]\nruntime = \"runc\"\n"
        } else {
            ""
        }
    )
}

fn ready(r: &'static Result<Engine, String>) -> Option<&'static Engine> {
    match r {
        Ok(e) => Some(e),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// The engine when its `info` answers, with the test image built in it if missing.
fn prepare(e: Engine) -> Result<Engine, String> {
    match Command::new(e.rt).arg("info").envs(e.env_vars()).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!(
                "`{} info` does not answer: {} (.ci/run starts one)",
                e.rt,
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Err(err) => return Err(format!("no `{}` client: {err} (.ci/run installs it)", e.rt)),
    }
    if !e.cmd(&["image", "inspect", IMAGE]).status.success() {
        build_image(&e)?;
    }
    Ok(e)
}

/// `RUNTIME import` of a rootfs holding a static busybox and its applet links.
fn build_image(e: &Engine) -> Result<(), String> {
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
            "chmod 1777 tmp && tar -c . | {} import --change 'ENV PATH=/bin' - {IMAGE} >/dev/null",
            e.rt
        ))
        .envs(e.env_vars())
        .current_dir(root.path())
        .status()
        .unwrap();
    if status.success() {
        Ok(())
    } else {
        Err(format!("could not build {IMAGE} with {}", e.rt))
    }
}

/// Each test body once per engine: `docker::NAME` and `podman::NAME`, each printing that it was
/// skipped when its engine is not there.
macro_rules! on_each_engine {
    ($($name:ident),* $(,)?) => {
        mod docker {
            $(#[test]
            fn $name() {
                if let Some(e) = super::docker() {
                    super::$name(e);
                }
            })*
        }
        mod podman {
            $(#[test]
            fn $name() {
                if let Some(e) = super::podman() {
                    super::$name(e);
                }
            })*
        }
    };
}

on_each_engine!(
    failing_shell_target_is_proven_inside_the_container,
    replay_runs_the_recorded_image_not_what_the_tag_points_at_now,
    hanging_command_is_killed_at_the_timeout_and_no_container_is_left,
    network_deny_blocks_the_host_but_allows_servers_inside,
    secrets_never_reach_the_container_or_the_bundle,
    stale_containers_of_a_crashed_session_are_removed_at_start,
    missing_image_is_infra_stop_naming_it_with_a_hint,
    doctor_reports_runtime_engine_and_image_from_probes,
    a_killed_pp_leaves_no_container_and_no_sandbox,
    interrupt_kills_the_running_container,
    engine_refusing_the_limits_is_infra_stop_not_a_code_failure,
);

fn bundle(v: &serde_json::Value) -> std::path::PathBuf {
    std::path::PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

fn read_json(p: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Containers still carrying this session's label.
fn leftovers(e: &Engine, session: &str) -> String {
    e.ok(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("label=pp.session={session}"),
    ])
}

/// Waits (up to 30 s) until a command's container of the pp process `pid` runs (not the start
/// probe's, which runs before the sandbox exists); the `ps` filter that finds that pp's
/// containers.
fn wait_for_container_of(e: &Engine, env: &TestEnv, pid: u32) -> String {
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .unwrap()
        .to_string_lossy()
        .replace([':', '[', ']'], "");
    let filter = format!("label=pp.owner={ns}:{pid}");
    let started = std::time::Instant::now();
    let mut running = String::new();
    while running.is_empty() && started.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if env.session_event("sandbox_created").is_some() {
            running = e.ok(&["ps", "--quiet", "--filter", &filter]);
        }
    }
    assert!(!running.is_empty(), "the container never started");
    filter
}

fn flag(argv: &[serde_json::Value], name: &str) -> Option<String> {
    let i = argv.iter().position(|a| a == name)?;
    argv.get(i + 1)?.as_str().map(str::to_owned)
}

fn failing_shell_target_is_proven_inside_the_container(e: &Engine) {
    let env = e.test_env(&[("v.cfg", "value=1\n"), ("pp.yaml", &e.policy(""))]);
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
    assert_eq!(argv[0], e.rt);
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
    let id = e.image_id(IMAGE);
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
    assert!(leftovers(e, session).is_empty());

    // Replay runs the recorded targets in a container again (the target passes only there).
    let out = env.pp(&["replay", b.to_str().unwrap(), "--allow-unsigned", "--json"]);
    let r = json_out(&out);
    assert_eq!(r["status"], "replayed", "{}", stderr(&out));
}

fn replay_runs_the_recorded_image_not_what_the_tag_points_at_now(e: &Engine) {
    // A tag of this test's own, first on the busybox image, later moved to another image;
    // removed however the test ends.
    struct Untag<'a>(&'a Engine, &'static str);
    impl Drop for Untag<'_> {
        fn drop(&mut self) {
            let _ = self.0.cmd(&["rmi", self.1]);
        }
    }
    let tag = "pp-test-replay:moved";
    e.ok(&["tag", IMAGE, tag]);
    let _untag = Untag(e, tag);
    let env = e.test_env(&[
        ("v.cfg", "value=1\n"),
        (
            "pp.yaml",
            &e.policy_with(&format!("container_image: \"{tag}\""), ""),
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
    let _ = e.cmd(&["rm", "-f", maker]);
    e.ok(&["run", "--name", maker, IMAGE, "touch", "/marker"]);
    e.ok(&["commit", maker, tag]);
    e.ok(&["rm", "-f", maker]);
    let now = e.ok(&["image", "inspect", "--format", "{{.Id}}", tag]);
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

fn hanging_command_is_killed_at_the_timeout_and_no_container_is_left(e: &Engine) {
    let env = e.test_env(&[(
        "pp.yaml",
        &e.policy("  limits: {per_command_timeout_sec: 2}\n"),
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
    assert_eq!(leftovers(e, session), "", "containers left behind");
    let result = read_json(&bundle(&v).join("attempts/0_baseline/default/result.json"));
    assert_eq!(result["timed_out"], true);
    // Killed promptly, not after the sleep.
    assert!(result["duration_ms"].as_u64().unwrap() < 60_000);
}

/// The address of the host on the default bridge, when the engine has one (docker's `bridge`,
/// podman's `podman` network).
fn bridge_gateway(e: &Engine) -> Option<String> {
    let out = match e.rt {
        "podman" => e.cmd(&[
            "network",
            "inspect",
            "podman",
            "--format",
            "{{range .Subnets}}{{.Gateway}}{{end}}",
        ]),
        _ => e.cmd(&[
            "network",
            "inspect",
            "bridge",
            "--format",
            "{{(index .IPAM.Config 0).Gateway}}",
        ]),
    };
    let gw = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !gw.is_empty()).then_some(gw)
}

fn network_deny_blocks_the_host_but_allows_servers_inside(e: &Engine) {
    // Bound to every address, so a container on the bridge could reach it through the gateway.
    // It answers `pong` and closes, so a client that got through ends at once.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut conn, b"pong\n");
        }
    });
    let env = e.test_env(&[(
        "pp.yaml",
        &e.policy("  limits: {per_command_timeout_sec: 30}\n"),
    )]);
    let mut hosts = vec!["127.0.0.1".to_owned()];
    let gateway = bridge_gateway(e);
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
                &e.policy("  network: allow\n  limits: {per_command_timeout_sec: 30}\n"),
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

fn secrets_never_reach_the_container_or_the_bundle(e: &Engine) {
    let mut env = e.test_env(&[("pp.yaml", &e.policy(""))]);
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

fn stale_containers_of_a_crashed_session_are_removed_at_start(e: &Engine) {
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
    e.ok(&[
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
    let env = e.test_env(&[("pp.yaml", &e.policy(""))]);
    let out = env.pp(&["run", "true", "--provider", "stub", "--json"]);
    assert_eq!(
        json_out(&out)["status"],
        "already_passing",
        "{}",
        stderr(&out)
    );
    let gone = leftovers(e, &session).is_empty();
    if !gone {
        let _ = e.cmd(&["rm", "-f", &name]);
    }
    assert!(
        gone,
        "the stale container {name} survived the session start"
    );
}

fn missing_image_is_infra_stop_naming_it_with_a_hint(e: &Engine) {
    let env = e.test_env(&[(
        "pp.yaml",
        &e.policy_with("container_image: \"pp-no-such-image:never\"", ""),
    )]);
    let out = env.pp(&["run", "true", "--provider", "stub", "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    assert_eq!(v["status"], "infra_stop");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains("pp-no-such-image:never"), "{msg}");
    let hint = v["hint"].as_str().unwrap();
    assert!(
        hint.contains(&format!("{} pull pp-no-such-image:never", e.rt)),
        "{hint}"
    );
    // Never pulled.
    assert!(
        !e.cmd(&["image", "inspect", "pp-no-such-image:never"])
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
    let out = env.pp(&[
        "run",
        "true",
        "--provider",
        "stub",
        "--trust-policy",
        "--json",
    ]);
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

fn doctor_reports_runtime_engine_and_image_from_probes(e: &Engine) {
    let env = e.test_env(&[("pp.yaml", &e.policy(""))]);
    let out = env.pp(&["doctor", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    let c = &v["machine"]["container_runtime"];
    assert_eq!(c["name"], e.rt);
    assert!(c["client"].as_str().unwrap().contains("ersion"), "{c}");
    assert_eq!(c["engine"]["available"], true);
    assert_eq!(c["image"]["present"], true);
    assert_eq!(c["image"]["id"], e.image_id(IMAGE).as_str());
    assert_eq!(c["start"]["ran"], true, "{c}");
    assert_eq!(c["usable"], true);

    env.write(
        "pp.yaml",
        &e.policy_with("container_image: \"pp-no-such-image:never\"", ""),
    );
    let v = json_out(&env.pp(&["doctor", "--json"]));
    let c = &v["machine"]["container_runtime"];
    assert_eq!(c["image"]["present"], false);
    assert_eq!(c["usable"], false);
}

fn a_killed_pp_leaves_no_container_and_no_sandbox(e: &Engine) {
    let env = e.test_env(&[("pp.yaml", &e.policy(""))]);
    let mut child = env.pp_spawn(&["run", "sleep 300", "--provider", "stub", "--json"], false);
    let filter = wait_for_container_of(e, &env, child.id());
    let created = env.session_event("sandbox_created").unwrap();
    let root = std::path::PathBuf::from(created["sandbox"]["root"].as_str().unwrap());
    let dir = root.parent().unwrap().to_owned();
    assert!(dir.is_dir());
    // SIGKILL: pp cannot clean up; its guard must remove the container, not just its client.
    child.kill().unwrap();
    child.wait().unwrap();
    let started = std::time::Instant::now();
    loop {
        let left = e.ok(&["ps", "--all", "--quiet", "--filter", &filter]);
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

fn interrupt_kills_the_running_container(e: &Engine) {
    let env = e.test_env(&[("pp.yaml", &e.policy(""))]);
    let child = env.pp_spawn(&["run", "sleep 300", "--provider", "stub", "--json"], true);
    let filter = wait_for_container_of(e, &env, child.id());
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
        e.ok(&["ps", "--all", "--quiet", "--filter", &filter]),
        "",
        "the container outlived the interrupt"
    );
}

fn engine_refusing_the_limits_is_infra_stop_not_a_code_failure(e: &Engine) {
    // A memory limit no container can start under: docker refuses it (exit 125), podman's OCI
    // runtime fails to apply it (exit 126).
    let env = e.test_env(&[(
        "pp.yaml",
        &e.policy_with(
            &format!("container_image: \"{IMAGE}\", memory_limit: \"1k\""),
            "",
        ),
    )]);
    let provider = env.proposer(&["{}"]);
    let out = env.pp(&["run", "true", "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(code(&out), 12, "{}", stderr(&out));
    assert_eq!(v["status"], "infra_stop", "{}", stderr(&out));
    // The start probe meets the refusal before the baseline, and says it in the engine's words.
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("cannot start a container"), "{message}");
    let (exit, words) = match e.rt {
        "podman" => ("exited with 126", "Error: OCI runtime error"),
        _ => ("exited with 125", "docker: Error response from daemon"),
    };
    assert!(message.contains(exit), "{message}");
    assert!(message.contains(words), "{message}");
    assert!(v["hint"].as_str().unwrap().contains("memory_limit"), "{v}");
    assert_eq!(env.proposer_calls(), 0);
    assert!(
        !bundle(&v).join("attempts/0_baseline/default").exists(),
        "the baseline ran on an engine that cannot start containers"
    );
}
