//! GitHub Actions output end to end: the built pp on real git repos with `GITHUB_ACTIONS=true`
//! (or `--github`) and the runner's files pointing at temp files; the annotations on stdout (on
//! stderr under `--json`), the job summary and the step outputs. Also the composite action's
//! shell steps, taken from `action.yml` and run with bash as the runner would, and the hint a
//! machine whose AppArmor restricts user namespaces gets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const TEST_CMD: &str = CALC_CMD;
const FIX: &str = CALC_FIX;

/// The runner's files for one step, in the scratch dir.
struct Runner {
    summary: PathBuf,
    output: PathBuf,
}

/// Points the runner's variables at fresh files, as GitHub does for every step.
fn on_github(env: &mut TestEnv, actions: bool) -> Runner {
    let runner = Runner {
        summary: env.scratch.path().join("step_summary.md"),
        output: env.scratch.path().join("github_output"),
    };
    if actions {
        env.extra_env.push(("GITHUB_ACTIONS".into(), "true".into()));
    }
    env.extra_env.extend([
        (
            "GITHUB_STEP_SUMMARY".into(),
            runner.summary.display().to_string(),
        ),
        ("GITHUB_OUTPUT".into(), runner.output.display().to_string()),
        ("GITHUB_WORKSPACE".into(), env.root().display().to_string()),
    ]);
    runner
}

/// `$GITHUB_OUTPUT` as the runner reads it: `name=value` and `name<<DELIMITER` … `DELIMITER`.
fn read_outputs(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                let l = lines
                    .next()
                    .unwrap_or_else(|| panic!("unterminated {name}:\n{text}"));
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            assert!(
                delimiter.len() > 20,
                "a guessable delimiter `{delimiter}`:\n{text}"
            );
            assert!(
                out.insert(name.to_owned(), value.join("\n")).is_none(),
                "{name} twice:\n{text}"
            );
        } else if let Some((name, value)) = line.split_once('=') {
            assert!(
                out.insert(name.to_owned(), value.to_owned()).is_none(),
                "{name} twice:\n{text}"
            );
        } else {
            panic!("a line the runner cannot read: {line:?}\n{text}");
        }
    }
    out
}

/// The workflow-command lines of a stream.
fn commands(stream: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stream)
        .lines()
        .filter(|l| l.starts_with("::"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_proof_annotates_the_failure_and_the_fix_and_fills_summary_and_outputs() {
    let mut env = calc_env();
    let runner = on_github(&mut env, true);
    let provider = env.proposer(&[&json_diff(FIX)]);
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = commands(&out.stdout);

    assert_eq!(lines[0], "::notice title=pp%3A proven::proven in attempt 1");
    // The failing assertion, where the traceback put it, with the exception's message.
    let error = lines
        .iter()
        .find(|l| l.starts_with("::error file=tests/test_calc.py,line=6,"))
        .unwrap_or_else(|| panic!("no error annotation at the failing assertion: {lines:#?}"));
    assert!(
        error.contains("title=pp%3A target `default` failed here::"),
        "{error}"
    );
    assert!(error.contains("AssertionError"), "{error}");
    // The fix's one changed line.
    let notices: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("::notice file="))
        .collect();
    assert_eq!(notices.len(), 1, "{lines:#?}");
    assert!(
        notices[0].starts_with("::notice file=calc.py,line=2,title=pp%3A proven fix::"),
        "{}",
        notices[0]
    );
    // The human summary follows on stdout, unchanged.
    assert!(String::from_utf8_lossy(&out.stdout).contains("status: proven (exit 0)"));

    let outputs = read_outputs(&runner.output);
    assert_eq!(outputs["status"], "proven");
    assert_eq!(outputs["success"], "true");
    let bundle = PathBuf::from(&outputs["proof_bundle"]);
    assert!(bundle.join("repro.json").is_file(), "{outputs:?}");
    assert_eq!(
        PathBuf::from(&outputs["final_patch"]),
        bundle.join("final.patch")
    );
    let patch = std::fs::read_to_string(&outputs["final_patch"]).unwrap();
    assert!(patch.contains("+    return a + b"), "{patch}");

    let summary = std::fs::read_to_string(&runner.summary).unwrap();
    assert!(
        summary.starts_with("## ✅ pp: `proven` (exit 0)"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "| default | `{TEST_CMD}` | exit 1; 1 passed, 1 failed; "
        )),
        "{summary}"
    );
    assert!(
        summary.contains("| exit 0; 2 passed, 0 failed; "),
        "{summary}"
    );
    assert!(
        summary.contains("```diff\ndiff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n"),
        "{summary}"
    );
    let bundle_word = bundle.display().to_string();
    assert!(
        summary.contains(&format!(
            "pp verify-attestation {bundle_word} --allow-unsigned\npp replay {bundle_word} --allow-unsigned\n"
        )),
        "{summary}"
    );

    // The runner appends: a second step's session adds to both files, never overwrites.
    let out = env.pp(&["run", TEST_CMD, "--provider", &provider]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&runner.summary).unwrap();
    assert_eq!(text.matches("## ✅ pp: `proven`").count(), 2);
    let text = std::fs::read_to_string(&runner.output).unwrap();
    assert_eq!(text.matches("status=proven").count(), 2);
}

#[test]
fn under_json_stdout_is_one_document_and_the_commands_go_to_stderr() {
    let mut env = calc_env();
    let runner = on_github(&mut env, true);
    // `stub` proposes nothing: the session is not proven.
    let out = env.pp(&["run", TEST_CMD, "--provider", "stub", "--json"]);
    assert_eq!(code(&out), 10, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["status"], "not_proven");
    assert!(commands(&out.stdout).is_empty());
    let lines = commands(&out.stderr);
    assert!(
        lines[0].starts_with("::error title=pp%3A not_proven::"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::error file=tests/test_calc.py,line=6,")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("::notice")),
        "no fix, no notice: {lines:#?}"
    );
    let outputs = read_outputs(&runner.output);
    assert_eq!(outputs["status"], "not_proven");
    assert_eq!(outputs["success"], "false");
    assert_eq!(outputs["final_patch"], "", "no patch was proven");
    assert_eq!(outputs["proof_bundle"], v["proof_bundle"].as_str().unwrap());
    let summary = std::fs::read_to_string(&runner.summary).unwrap();
    assert!(
        summary.starts_with("## ❌ pp: `not_proven` (exit 10)"),
        "{summary}"
    );
    assert!(summary.contains("No patch was proven."), "{summary}");
}

#[test]
fn a_refused_session_reports_its_refusal_and_hint() {
    let mut env = TestEnv::new(&[("pp.yaml", "policy:\n  allowed_commands: [\"true\"]\n")]);
    let runner = on_github(&mut env, true);
    let out = env.pp(&["run", "false"]);
    assert_eq!(code(&out), 11, "{}", stderr(&out));
    let lines = commands(&out.stdout);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with(
            "::error title=pp%3A policy_violation::command not allowed by the policy: `false` (default)%0Ahint: "
        ),
        "{}",
        lines[0]
    );
    let outputs = read_outputs(&runner.output);
    assert_eq!(outputs["status"], "policy_violation");
    let summary = std::fs::read_to_string(&runner.summary).unwrap();
    assert!(
        summary.contains("| default | `false` | did not run | did not run |"),
        "{summary}"
    );
    assert!(
        summary.contains("**Hint:** add the exact command"),
        "{summary}"
    );
}

#[test]
fn off_the_runner_nothing_is_written_unless_asked() {
    let mut env = TestEnv::new(&[("v.txt", "good\n")]);
    let runner = on_github(&mut env, false);
    let out = env.pp(&["run", "grep -qx good v.txt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(commands(&out.stdout).is_empty(), "{}", stderr(&out));
    assert!(!runner.summary.exists());
    assert!(!runner.output.exists());
    // `--github` asks for it anywhere.
    let out = env.pp(&["run", "grep -qx good v.txt", "--github"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = commands(&out.stdout);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("::notice title=pp%3A already_passing::"),
        "{}",
        lines[0]
    );
    assert_eq!(read_outputs(&runner.output)["status"], "already_passing");
}

#[test]
fn an_error_before_the_session_is_annotated_too() {
    let mut env = TestEnv::new(&[("pp.yaml", "policy:\n  netwrok: deny\n")]);
    let runner = on_github(&mut env, true);
    let out = env.pp(&["run", "true", "--json"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["schema_version"], "pp.error/v1");
    let lines = commands(&out.stderr);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("::error title=pp%3A error::"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("netwrok"), "{}", lines[0]);
    assert!(lines[0].contains("%0Ahint: "), "{}", lines[0]);
    assert!(!runner.output.exists(), "no session, no outputs");
}

/// A bubblewrap that fails as Ubuntu 24.04's does with the AppArmor restriction on.
fn refusing_bwrap(env: &TestEnv) -> PathBuf {
    let script = env.scratch.path().join("bwrap");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn a_namespace_refusal_under_apparmor_names_the_sysctl_fix() {
    let mut env = TestEnv::new(&[("v.txt", "bad\n")]);
    let bwrap = refusing_bwrap(&env);
    let sysctl = env
        .scratch
        .path()
        .join("apparmor_restrict_unprivileged_userns");
    std::fs::write(&sysctl, "1\n").unwrap();
    env.extra_env.extend([
        ("PP_BWRAP".into(), bwrap.display().to_string()),
        (
            "PP_SIMULATE_APPARMOR_SYSCTL".into(),
            sysctl.display().to_string(),
        ),
    ]);
    let runner = on_github(&mut env, true);
    let out = env.pp(&["run", "grep -qx good v.txt", "--json"]);
    assert_eq!(code(&out), 11, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["status"], "policy_violation");
    let hint = v["hint"].as_str().unwrap();
    assert!(
        hint.contains("restricts unprivileged user namespaces through AppArmor")
            && hint.contains("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
        "{hint}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("setting up uid map: Permission denied"),
        "{v}"
    );
    // The annotation carries the fix too.
    let lines = commands(&out.stderr);
    assert!(
        lines[0].contains("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
        "{lines:#?}"
    );
    assert_eq!(read_outputs(&runner.output)["status"], "policy_violation");

    // The same refusal where AppArmor does not restrict: the general namespace hint.
    std::fs::write(&sysctl, "0\n").unwrap();
    let out = env.pp(&["run", "grep -qx good v.txt", "--json"]);
    assert_eq!(code(&out), 11, "{}", stderr(&out));
    let hint = json_out(&out)["hint"].as_str().unwrap().to_owned();
    assert!(!hint.contains("through AppArmor"), "{hint}");
    assert!(hint.contains("user namespaces"), "{hint}");
}

/// `${{ inputs.NAME }}` and `${{ github.action_path }}` evaluated as the runner would; anything
/// else is a test failure (the action must not grow expressions this test does not model).
fn evaluate(value: &str, inputs: &BTreeMap<&str, String>, action_path: &Path) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap() + start;
        let expr = rest[start + 3..end].trim();
        let v = if let Some(name) = expr.strip_prefix("inputs.") {
            inputs.get(name).cloned().unwrap_or_default()
        } else if expr == "github.action_path" {
            action_path.display().to_string()
        } else {
            panic!("an expression the test does not model: {expr}")
        };
        out.push_str(&v);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `KEY=VALUE` lines a step appended to `$GITHUB_ENV`.
fn read_env_file(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn the_actions_shell_steps_prove_a_fix_and_set_the_outputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let action = action();
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    // The action's outputs are the `pp` step's.
    for name in [
        "status",
        "success",
        "proof_bundle",
        "final_patch",
        "exit_code",
    ] {
        assert_eq!(
            action["outputs"][name]["value"].as_str(),
            Some(format!("${{{{ steps.pp.outputs.{name} }}}}").as_str()),
            "output {name}"
        );
    }
    // Every input has a default, so `evaluate` sees what the runner would.
    let mut inputs: BTreeMap<&str, String> = action["inputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap(),
                v["default"].as_str().unwrap().to_owned(),
            )
        })
        .collect();

    let env = calc_env();
    let provider = env.proposer(&[&json_diff(FIX)]);
    inputs.insert("command", TEST_CMD.to_owned());
    inputs.insert("provider", provider);
    inputs.insert("args", "--attest".to_owned());
    inputs.insert("pp-binary", pp_bin().to_owned());
    let files = tempfile::tempdir().unwrap();
    let (output, summary, github_env) = (
        files.path().join("output"),
        files.path().join("summary"),
        files.path().join("env"),
    );

    let mut step_env: Vec<(String, String)> = vec![
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()),
        ("GITHUB_OUTPUT".into(), output.display().to_string()),
        ("GITHUB_ENV".into(), github_env.display().to_string()),
        ("GITHUB_WORKSPACE".into(), env.root().display().to_string()),
        ("RUNNER_TEMP".into(), files.path().display().to_string()),
        (
            "PP_ATTEST_HMAC_KEY".into(),
            "an-hmac-key-of-more-than-32-bytes-0123456789".into(),
        ),
    ];
    let mut ran = Vec::new();
    for step in action["runs"]["steps"].as_sequence().unwrap() {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        assert_eq!(step["shell"].as_str(), Some("bash"));
        assert!(
            !script.contains("${{"),
            "inputs reach scripts through env only: {script}"
        );
        let cwd = step["working-directory"]
            .as_str()
            .map(|d| env.root().join(evaluate(d, &inputs, root)))
            .unwrap_or_else(|| env.root().to_owned());
        // As GitHub runs `shell: bash`.
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(cwd);
        for (k, _) in std::env::vars() {
            if k.starts_with("PP_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("NO_COLOR", "1").env_remove("CARGO_TARGET_DIR");
        cmd.envs(step_env.iter().map(|(k, v)| (k, v)));
        cmd.envs(read_env_file(&github_env));
        if let Some(vars) = step["env"].as_mapping() {
            for (k, v) in vars {
                cmd.env(
                    k.as_str().unwrap(),
                    evaluate(v.as_str().unwrap(), &inputs, root),
                );
            }
        }
        let out = cmd.output().unwrap();
        let name = step["name"].as_str().unwrap_or("?").to_owned();
        assert_eq!(
            code(&out),
            0,
            "step `{name}` failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
        ran.push((name, out));
    }
    assert_eq!(ran.len(), 3, "every shell step ran");
    step_env.clear();

    let outputs = read_outputs(&output);
    assert_eq!(outputs["status"], "proven", "{outputs:?}");
    assert_eq!(outputs["exit_code"], "0");
    let bundle = PathBuf::from(&outputs["proof_bundle"]);
    assert!(
        bundle.join("attestation.json").is_file(),
        "--attest from args"
    );
    let patch = std::fs::read_to_string(&outputs["final_patch"]).unwrap();
    assert!(patch.contains("+    return a + b"), "{patch}");
    // The job summary and the annotations came from the same run.
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("## ✅ pp: `proven`")
    );
    let (_, run) = ran.last().unwrap();
    assert!(
        commands(&run.stdout)
            .iter()
            .any(|l| l.starts_with("::notice file=calc.py,line=2,")),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    // The bundle verifies with the key the step had.
    let mut verify = env.pp(&["verify-attestation", bundle.to_str().unwrap()]);
    assert_eq!(code(&verify), 13, "no key here: nothing vouches");
    let mut env = env;
    env.extra_env.push((
        "PP_ATTEST_HMAC_KEY".into(),
        "an-hmac-key-of-more-than-32-bytes-0123456789".into(),
    ));
    verify = env.pp(&["verify-attestation", bundle.to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", stderr(&verify));
}

#[test]
fn the_action_fails_the_step_with_pps_exit_code() {
    let action = action();
    let step = action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some("pp"))
        .unwrap();
    let env = TestEnv::new(&[("pp.yaml", "policy:\n  allowed_commands: [\"true\"]\n")]);
    let files = tempfile::tempdir().unwrap();
    let output = files.path().join("output");
    let out = Command::new("bash")
        .args([
            "--noprofile",
            "--norc",
            "-eo",
            "pipefail",
            "-c",
            step["run"].as_str().unwrap(),
        ])
        .current_dir(env.root())
        .env("PP_ACTION_BIN", pp_bin())
        .env("PP_ACTION_COMMAND", "false")
        .env("PP_ACTION_POLICY", "")
        .env("PP_ACTION_PROVIDER", "")
        .env("PP_ACTION_ARGS", "")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_WORKSPACE")
        .output()
        .unwrap();
    assert_eq!(code(&out), 11, "{}", stderr(&out));
    let outputs = read_outputs(&output);
    assert_eq!(outputs["status"], "policy_violation");
    assert_eq!(outputs["exit_code"], "11");
}

#[test]
fn the_action_lifts_the_apparmor_restriction_only_where_it_is_on() {
    let action = action();
    let step = action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["env"]["PP_ACTION_ALLOW_USERNS"].is_string())
        .unwrap();
    let script = step["run"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // `sudo` and `sysctl` that only record how they were called.
    let log = dir.path().join("calls");
    for tool in ["sudo", "sysctl"] {
        let path = dir.path().join(tool);
        let body = if tool == "sudo" {
            format!(
                "#!/bin/sh\necho \"sudo $*\" >> '{}'\n\"$@\"\n",
                log.display()
            )
        } else {
            format!("#!/bin/sh\necho \"sysctl $*\" >> '{}'\n", log.display())
        };
        std::fs::write(&path, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let sysctl = dir.path().join("restrict");
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |value: &str, allow: &str| {
        std::fs::write(&sysctl, value).unwrap();
        let _ = std::fs::remove_file(&log);
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .env("PATH", &path)
            .env("PP_ACTION_ALLOW_USERNS", allow)
            .env("PP_SIMULATE_APPARMOR_SYSCTL", &sysctl)
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        std::fs::read_to_string(&log).unwrap_or_default()
    };
    let calls = run("1\n", "true");
    assert!(
        calls.contains("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
        "{calls}"
    );
    assert_eq!(run("0\n", "true"), "", "nothing to lift");
    assert_eq!(run("1\n", "false"), "", "allow-userns: false");
}

/// The shipped `action.yml`.
fn action() -> serde_yaml_ng::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    serde_yaml_ng::from_str(&std::fs::read_to_string(root.join("action.yml")).unwrap()).unwrap()
}
