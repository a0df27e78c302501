//! The `overlay` sandbox backend end to end: commands see the workspace at its own path, writes
//! land in pp's upper layer, the user's tree stays byte-identical, and the mount and its
//! directory are gone after the session, a timeout and Ctrl-C; `auto` falls back to `copy`
//! when the probe fails. Skips (with a printed reason) where this machine has no overlay.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const TEST_CMD: &str = "python3 -m unittest discover -s tests -v";
const FIX: &str = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";

fn calc_env(policy: &str) -> TestEnv {
    TestEnv::new(&[
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
        ("pp.yaml", policy),
    ])
}

/// Whether this machine can mount an overlay for pp (as `pp doctor` probes it).
pub(crate) fn overlay_available() -> bool {
    let out = Command::new(pp_bin())
        .args(["doctor", "--json"])
        .env_remove(pp::sandbox::SIMULATE_REFUSAL_ENV)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ok = v["machine"]["overlay_sandbox"]["available"] == true;
    if !ok {
        eprintln!(
            "skipping: no overlay sandbox on this machine: {}",
            v["machine"]["overlay_sandbox"]["error"]
        );
    }
    ok
}

fn manifest(root: &Path) -> serde_json::Value {
    serde_json::to_value(pp::bundle::manifest(root).unwrap()).unwrap()
}

/// The overlay recorded in `repro` is unmounted everywhere and its directory removed.
fn assert_released(repro: &serde_json::Value) {
    let ov = &repro["sandbox"]["overlay"];
    let upper = ov["upper"]
        .as_str()
        .expect("an overlay sandbox was recorded");
    let dir = Path::new(upper).parent().unwrap();
    assert!(
        !dir.exists(),
        "sandbox dir {} was left behind",
        dir.display()
    );
    let pid = ov["holder_pid"].as_u64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains(upper),
        "the overlay holder {pid} still runs"
    );
    for proc_dir in std::fs::read_dir("/proc").unwrap().flatten() {
        let mounts = std::fs::read_to_string(proc_dir.path().join("mountinfo")).unwrap_or_default();
        assert!(
            !mounts.contains(upper),
            "the overlay is still mounted in the namespace of {}",
            proc_dir.path().display()
        );
    }
}

#[test]
fn overlay_session_proves_a_fix_at_the_workspace_path_and_leaves_the_tree_byte_identical() {
    if !overlay_available() {
        return;
    }
    let env = calc_env("policy:\n  sandbox: {backend: overlay}\n");
    let manifest_before = manifest(env.root());
    let before = env.snapshot();
    // The command records where it ran and writes a build output into the workspace.
    let cmd = format!("pwd && echo built > out.bin && {TEST_CMD}");
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", &cmd, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let r = repro(&v);
    assert_eq!(r["sandbox"]["backend"], "overlay");
    assert_eq!(r["sandbox"]["requested"], "overlay");
    let ws = env.root().canonicalize().unwrap();
    let bundle = PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let stdout =
        std::fs::read_to_string(bundle.join("attempts/0_baseline/default/stdout.log")).unwrap();
    assert_eq!(
        stdout.lines().next().unwrap_or(""),
        ws.to_str().unwrap(),
        "commands run at the workspace's own path"
    );
    assert_eq!(r["sandbox"]["command_cwd"], ws.to_str().unwrap());
    assert_eq!(
        manifest(env.root()),
        manifest_before,
        "the user's tree changed"
    );
    assert_eq!(env.snapshot(), before);
    assert!(!env.root().join("out.bin").exists());
    assert_eq!(v["changed_files"], serde_json::json!(["calc.py"]));
    assert!(r["timings"]["sandbox_setup_ms"].as_f64().unwrap() > 0.0);
    assert_released(&r);
}

#[test]
fn deletes_and_renames_in_the_sandbox_leave_the_user_tree_intact_and_the_changed_set_right() {
    if !overlay_available() {
        return;
    }
    let env = TestEnv::new(&[
        ("calc.py", "def add(a, b):\n    return a - b\n"),
        (
            "tests/test_calc.py",
            "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
        ("data/a/one.txt", "1\n"),
        ("data/b.txt", "2\n"),
        ("junk.txt", "junk\n"),
        ("pp.yaml", "policy:\n  sandbox: {backend: overlay}\n"),
    ]);
    let before = env.snapshot();
    let manifest_before = manifest(env.root());
    // Every run renames a directory that came from the lower layer (back and forth), renames a
    // file, deletes one, then runs the tests.
    let cmd = format!(
        "if [ -d data ]; then mv data moved && mv moved/b.txt moved/c.txt; else mv moved/c.txt moved/b.txt && mv moved data; fi; rm -f junk.txt; test ! -e junk.txt && {TEST_CMD}"
    );
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&[
        "run",
        &cmd,
        "--provider",
        &provider,
        "--json",
        "--keep-sandbox",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["changed_files"], serde_json::json!(["calc.py"]));
    let b = PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let patch = std::fs::read_to_string(b.join("final.patch")).unwrap();
    assert!(
        !patch.contains("junk") && !patch.contains("data/"),
        "{patch}"
    );
    // The kept sandbox shows what the commands did; the user's tree shows none of it.
    let kept = PathBuf::from(v["sandbox"].as_str().unwrap());
    assert!(!kept.join("junk.txt").exists());
    assert!(kept.join("moved/a/one.txt").is_file() || kept.join("data/a/one.txt").is_file());
    assert_eq!(
        std::fs::read_to_string(kept.join("calc.py")).unwrap(),
        "def add(a, b):\n    return a + b\n"
    );
    assert_eq!(env.snapshot(), before, "the user's tree changed");
    assert_eq!(manifest(env.root()), manifest_before);
    std::fs::remove_dir_all(kept.parent().unwrap()).unwrap();
}

#[test]
fn editable_install_of_a_src_layout_package_tests_the_patched_module() {
    if !overlay_available() {
        return;
    }
    let env = TestEnv::new(&[
        (
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"mypkg\"\nversion = \"0.1\"\n\n[tool.setuptools.packages.find]\nwhere = [\"src\"]\n",
        ),
        (
            "src/mypkg/__init__.py",
            "def add(a, b):\n    return a - b\n",
        ),
        (
            "check.py",
            "import sys, mypkg\nprint('imported', mypkg.__file__)\nsys.exit(0 if mypkg.add(2, 3) == 5 else 1)\n",
        ),
        (".gitignore", ".venv/\n*.egg-info/\n"),
    ]);
    let venv = Command::new("python3")
        .args(["-m", "venv", ".venv"])
        .current_dir(env.root())
        .output()
        .unwrap();
    let pip = venv.status.success().then(|| {
        Command::new(env.root().join(".venv/bin/pip"))
            .args([
                "install",
                "-q",
                "--no-index",
                "--no-build-isolation",
                "-e",
                ".",
            ])
            .current_dir(env.root())
            .output()
            .unwrap()
    });
    match &pip {
        Some(o) if o.status.success() => {}
        other => {
            eprintln!(
                "skipping: cannot make an editable install offline here: {}",
                other
                    .as_ref()
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .unwrap_or_else(|| String::from_utf8_lossy(&venv.stderr).into_owned())
            );
            return;
        }
    }
    let cmd = ".venv/bin/python check.py";
    let fix = "--- a/src/mypkg/__init__.py\n+++ b/src/mypkg/__init__.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
    let before = manifest(env.root());
    for (backend, expected) in [("overlay", "proven"), ("copy", "not_proven")] {
        env.write(
            "pp.yaml",
            &format!("policy:\n  sandbox: {{backend: {backend}}}\n  limits: {{max_attempts: 1}}\n"),
        );
        let provider = env.proposer(&[&json_diff(fix)]);
        let out = env.pp(&["run", cmd, "--provider", &provider, "--json"]);
        let v = json_out(&out);
        // A copy moves the tree, and the editable install still imports the original source,
        // so the patch is never what gets tested there; the overlay keeps the path.
        assert_eq!(v["status"], expected, "{backend}: {}", stderr(&out));
        let b = PathBuf::from(v["proof_bundle"].as_str().unwrap());
        let log = std::fs::read_to_string(b.join("attempts/1/verify/default/stdout.log")).unwrap();
        let ws = env.root().canonicalize().unwrap();
        assert!(
            log.contains(&format!("imported {}/src/mypkg/__init__.py", ws.display())),
            "{backend}: {log}"
        );
    }
    let mut after = manifest(env.root());
    // Only pp.yaml differs (it was written between the runs), never the package.
    let strip = |m: &mut serde_json::Value| {
        m["files"]
            .as_array_mut()
            .unwrap()
            .retain(|f| f["path"] != "pp.yaml");
    };
    let mut before = before;
    strip(&mut before);
    strip(&mut after);
    assert_eq!(before["files"], after["files"]);
    assert_eq!(
        env.read("src/mypkg/__init__.py"),
        "def add(a, b):\n    return a - b\n"
    );
}

#[test]
fn the_overlay_is_released_after_a_timeout_kill() {
    if !overlay_available() {
        return;
    }
    let env = TestEnv::new(&[(
        "pp.yaml",
        "policy:\n  sandbox: {backend: overlay}\n  limits: {per_command_timeout_sec: 1}\n",
    )]);
    let out = env.pp(&[
        "run",
        "echo x > made.txt; sleep 30",
        "--provider",
        "stub",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "infra_stop", "{}", stderr(&out));
    assert_eq!(v["final_exit_code"], 124);
    assert!(!env.root().join("made.txt").exists());
    assert_released(&repro(&v));
}

#[test]
fn the_overlay_is_released_after_ctrl_c() {
    if !overlay_available() {
        return;
    }
    let env = TestEnv::new(&[("pp.yaml", "policy:\n  sandbox: {backend: overlay}\n")]);
    let child = env.pp_spawn(
        &[
            "run",
            "echo x > made.txt; sleep 30",
            "--provider",
            "stub",
            "--json",
        ],
        true,
    );
    // Wait until the command runs inside the sandbox.
    let started = std::time::Instant::now();
    while env.session_event("sandbox_created").is_none() {
        assert!(
            started.elapsed().as_secs() < 20,
            "the session never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "interrupted");
    let r = repro(&v);
    assert!(!env.root().join("made.txt").exists());
    assert_released(&r);
}

#[test]
fn the_holder_cleans_up_when_pp_itself_is_killed() {
    if !overlay_available() {
        return;
    }
    crate::session::kill_pp_mid_command_and_check_cleanup(
        "overlay",
        &crate::session::sleep_marker(4),
    );
}

#[test]
fn auto_falls_back_to_copy_when_namespaces_are_refused_and_says_why() {
    let mut env = calc_env("policy:\n  sandbox: {backend: auto}\n");
    env.extra_env
        .push((pp::sandbox::SIMULATE_REFUSAL_ENV.into(), "1".into()));
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let r = repro(&v);
    assert_eq!(r["sandbox"]["backend"], "copy");
    assert_eq!(r["sandbox"]["requested"], "auto");
    let reason = r["sandbox"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("overlay probe failed") && reason.contains("refused a user namespace"),
        "{reason}"
    );
    // An explicit `overlay` request is refused instead, naming the way out.
    env.write("pp.yaml", "policy:\n  sandbox: {backend: overlay}\n");
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "policy_violation", "{}", stderr(&out));
    assert!(v["hint"].as_str().unwrap().contains("backend: auto"), "{v}");
    // pp doctor says the same.
    let out = env.pp(&["doctor", "--json"]);
    let d = json_out(&out);
    assert_eq!(d["machine"]["overlay_sandbox"]["available"], false);
    assert_eq!(d["machine"]["auto_backend"], "copy");
}

#[test]
fn auto_picks_overlay_where_the_probe_succeeds() {
    if !overlay_available() {
        return;
    }
    let env = calc_env("policy:\n  network: deny\n");
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider, "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let r = repro(&v);
    assert_eq!(r["sandbox"]["backend"], "overlay");
    assert!(
        r["sandbox"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("auto: overlay")
    );
    // The command's process enters the overlay itself, then bubblewrap denies the network.
    assert_eq!(r["isolation"]["applied"], "network_namespace");
    let b = PathBuf::from(v["proof_bundle"].as_str().unwrap());
    let result: serde_json::Value = serde_json::from_slice(
        &std::fs::read(b.join("attempts/0_baseline/default/result.json")).unwrap(),
    )
    .unwrap();
    let argv: Vec<String> = serde_json::from_value(result["argv"].clone()).unwrap();
    assert!(
        argv[0].ends_with("bwrap") && argv.contains(&"--unshare-net".to_owned()),
        "{argv:?}"
    );
    assert!(!argv.iter().any(|a| a == "--join"), "{argv:?}");
    assert_released(&r);
}

#[test]
fn an_unprivileged_user_gets_an_overlay_in_a_user_namespace() {
    // Only root can become another user to check this; elsewhere the other tests already run
    // unprivileged.
    if !nix_is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipping: needs root and setpriv to run pp as an unprivileged user");
        return;
    }
    if !overlay_available() {
        return;
    }
    let env = calc_env("policy:\n  sandbox: {backend: overlay}\n  network: deny\n");
    let provider = env.proposer(&[&json_diff(FIX)]);
    for dir in [env.root(), env.scratch.path()] {
        let st = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", pp_bin()])
        .args(["run", TEST_CMD, "--provider", &provider, "--json"])
        .current_dir(env.root())
        .env("HOME", env.scratch.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let r = repro(&v);
    assert_eq!(r["sandbox"]["backend"], "overlay");
    assert_eq!(r["sandbox"]["overlay"]["user_namespace"], true);
    assert_eq!(r["sandbox"]["overlay"]["userxattr"], true);
    assert_eq!(env.read("calc.py"), "def add(a, b):\n    return a - b\n");
    assert_released(&r);
}

fn nix_is_root() -> bool {
    String::from_utf8_lossy(&Command::new("id").arg("-u").output().unwrap().stdout).trim() == "0"
}

#[test]
fn writes_beside_a_workspace_inside_a_repository_stay_in_the_sandbox() {
    if !overlay_available() {
        return;
    }
    let env = TestEnv::new(&[
        ("top.txt", "top\n"),
        ("proj/v.txt", "bad\n"),
        ("proj/pp.yaml", "policy:\n  sandbox: {backend: overlay}\n"),
    ]);
    let ws = env.root().join("proj");
    let fix = "--- a/v.txt\n+++ b/v.txt\n@@ -1 +1 @@\n-bad\n+good\n";
    let provider = env.proposer(&[&json_diff(fix)]);
    // The command writes into the repository, outside the workspace folder, on every run.
    let out = env.pp_in(
        &ws,
        &[
            "run",
            "echo x >> ../top.txt; grep -qx good v.txt",
            "--provider",
            &provider,
            "--json",
        ],
    );
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(
        env.read("top.txt"),
        "top\n",
        "a write beside the workspace reached the user's repository"
    );
    assert_eq!(env.read("proj/v.txt"), "bad\n");
}
