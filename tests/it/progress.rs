//! What a session shows while it works: the `--events` stream (one `pp.event/v1` object per
//! line, the same lines as the bundle's `events.jsonl`, valid against
//! `docs/schemas/event.schema.json`), and the progress lines on stderr (elapsed time and phase,
//! a heartbeat for a slow command, no ANSI without a terminal, nothing under `-q`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::schemas::close;
use crate::support::*;

const TEST_CMD: &str = CALC_CMD;
const FIX: &str = CALC_FIX;
const KEY: &str = "an-hmac-key-of-more-than-32-bytes-0123456789";

fn bundle(v: &Value) -> PathBuf {
    PathBuf::from(v["proof_bundle"].as_str().unwrap())
}

/// Every line of `text` as JSON; panics naming a line that is not one object.
pub(crate) fn event_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect()
}

/// The event schema, closed: no field it does not describe. Its variants sit in `oneOf`s, so
/// the root says `unevaluatedProperties: false` (which sees into them and their `$ref`s), and
/// the shared types under `$defs` get `additionalProperties: false`, but for the records a
/// variant is made of (`attempt`, `minimized`), which sit beside the envelope's fields.
fn event_schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas/event.schema.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(jsonschema::meta::is_valid(&schema));
    let variants: Vec<String> = schema["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["$ref"].as_str())
        .filter_map(|r| r.strip_prefix("#/$defs/"))
        .map(str::to_owned)
        .collect();
    assert!(
        variants.contains(&"AttemptRecord".to_owned()),
        "{variants:?}"
    );
    if let Some(Value::Object(defs)) = schema.get_mut("$defs") {
        for (name, def) in defs.iter_mut() {
            if !variants.contains(name) {
                close(def);
            }
        }
    }
    schema["unevaluatedProperties"] = Value::Bool(false);
    schema
}

pub(crate) fn assert_valid_events(lines: &[Value]) {
    let validator = jsonschema::validator_for(&event_schema()).unwrap();
    for l in lines {
        let errors: Vec<String> = validator.iter_errors(l).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{l}\ndoes not match event.schema.json: {errors:?}"
        );
    }
    // The schema really is closed: an unknown field fails.
    let mut odd = lines[0].clone();
    odd["surprise"] = Value::Bool(true);
    assert!(
        !validator.is_valid(&odd),
        "the closed schema accepts unknown fields"
    );
}

/// `name` or `name/phase` of each event, in order.
fn names(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let e = l["event"].as_str().unwrap().to_owned();
            match l["phase"].as_str() {
                Some(p) => format!("{e}/{p}"),
                None => e,
            }
        })
        .collect()
}

/// Asserts `want` occurs in `got` in this order (other events may come between).
fn assert_in_order(got: &[String], want: &[&str]) {
    let mut at = 0;
    for w in want {
        match got[at..].iter().position(|g| g == w) {
            Some(i) => at += i + 1,
            None => panic!("`{w}` missing (in order) from {got:#?}"),
        }
    }
}

#[test]
fn an_events_file_holds_every_phase_of_a_proven_session_in_order_as_events_jsonl_does() {
    let mut env = calc_env();
    env.extra_env
        .push(("PP_ATTEST_HMAC_KEY".into(), KEY.into()));
    let provider = env.proposer(&[&json_diff(FIX)]);
    let stream = env.scratch.path().join("events.jsonl");
    let out = env.pp(&[
        "run",
        TEST_CMD,
        "--provider",
        &provider,
        "--attest",
        "--events",
        stream.to_str().unwrap(),
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let text = std::fs::read_to_string(&stream).unwrap();
    let recorded = std::fs::read_to_string(bundle(&v).join("events.jsonl")).unwrap();
    assert_eq!(text, recorded, "the stream and events.jsonl differ");
    let lines = event_lines(&text);
    assert_valid_events(&lines);
    assert_in_order(
        &names(&lines),
        &[
            "session_start",
            "sandbox_created",
            "run_start/baseline",
            "run_end/baseline",
            "baseline",
            "run_start/reproduce",
            "run_end/reproduce",
            "reproduce",
            "propose",
            "proposal",
            "apply",
            "verify",
            "run_start/verify",
            "run_end/verify",
            "attempt",
            "winner",
            "signing",
            "session_end",
        ],
    );
    assert_eq!(lines.last().unwrap()["event"], "session_end");
    assert_eq!(lines.last().unwrap()["status"], "proven");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["schema_version"], "pp.event/v1");
        assert_eq!(l["seq"], i as u64 + 1, "{l}");
    }
    let elapsed: Vec<u64> = lines
        .iter()
        .map(|l| l["elapsed_ms"].as_u64().unwrap())
        .collect();
    assert!(elapsed.is_sorted(), "elapsed_ms decreases: {elapsed:?}");
    // The baseline's run carries the exit code, duration and test counts.
    let base = lines
        .iter()
        .find(|l| l["event"] == "run_end" && l["phase"] == "baseline")
        .unwrap();
    assert_ne!(base["exit_code"], 0, "{base}");
    assert_eq!(base["tests"]["failed"], 1, "{base}");
    assert_eq!(base["tests"]["passed"], 1, "{base}");
    let verified = lines
        .iter()
        .find(|l| l["event"] == "run_end" && l["phase"] == "verify")
        .unwrap();
    assert_eq!(verified["exit_code"], 0, "{verified}");
    assert_eq!(verified["attempt"], 1, "{verified}");
    let apply = lines.iter().find(|l| l["event"] == "apply").unwrap();
    assert_eq!(apply["changed_files"], serde_json::json!(["calc.py"]));
}

#[test]
fn events_on_stderr_leave_stdout_one_json_document_and_replace_the_progress_lines() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let out = run_v_txt(&env, &["--events", "-"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    let err = stderr(&out);
    let streamed: Vec<&str> = err.lines().filter(|l| l.starts_with('{')).collect();
    let recorded = std::fs::read_to_string(bundle(&v).join("events.jsonl")).unwrap();
    assert_eq!(
        streamed,
        recorded.lines().collect::<Vec<_>>(),
        "stderr's events differ from events.jsonl"
    );
    assert_valid_events(&event_lines(&recorded));
    assert!(
        !err.lines().any(|l| l.starts_with('[') && l.contains("s] ")),
        "progress lines beside the events:\n{err}"
    );
}

/// `[  1.2s] ` at the start of a line.
fn stamped(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let (time, text) = rest.split_once("s] ")?;
    time.trim().parse::<f64>().ok()?;
    Some(text)
}

#[test]
fn progress_lines_without_a_terminal_carry_time_and_phase_and_no_escapes() {
    let mut env = TestEnv::new(&[("v.txt", "bad\n")]);
    // Colour allowed (an empty NO_COLOR is unset), yet stderr is a pipe: plain lines.
    env.extra_env.push(("NO_COLOR".into(), String::new()));
    let provider = env.proposer(&[&json_diff(V_FIX)]);
    let out = env.pp(&["run", "grep -qx good v.txt", "--provider", &provider]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escapes without a terminal:\n{err}"
    );
    let lines: Vec<&str> = err.lines().filter_map(stamped).collect();
    for want in [
        "baseline: running default: grep -qx good v.txt",
        "baseline: default failed (exit 1, ",
        "reproduce: running default: grep -qx good v.txt",
        "attempt 1: proposing (command:",
        "attempt 1: command proposed a change",
        "attempt 1: applied (v.txt)",
        "attempt 1: verifying default: grep -qx good v.txt",
        "attempt 1: default passed (exit 0, ",
        "attempt 1: passed",
        "done: proven",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "no progress line `{want}…` in:\n{err}"
        );
    }
    // The summary is stdout's.
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("status: proven"), "{summary}");
    assert!(!summary.contains("baseline:"), "{summary}");
}

#[test]
fn a_slow_command_gets_a_heartbeat_and_quiet_prints_no_progress() {
    let mut env = TestEnv::new(&[("v.txt", "bad\n")]);
    env.extra_env
        .push(("PP_HEARTBEAT_SECS".into(), "0.4".into()));
    let provider = env.proposer(&[&json_diff(V_FIX)]);
    let cmd = "sleep 1.3; grep -qx good v.txt";
    let out = env.pp(&["run", cmd, "--provider", &provider]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.lines()
            .filter_map(stamped)
            .any(|l| l == "baseline: still running default (1s)"),
        "no heartbeat:\n{err}"
    );
    let out = env.pp(&["run", cmd, "--provider", &provider, "-q"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        !err.lines().any(|l| stamped(l).is_some()),
        "-q printed progress:\n{err}"
    );
    assert!(!err.contains("baseline"), "{err}");
    // The summary still prints.
    assert!(String::from_utf8_lossy(&out.stdout).contains("status: proven"));
}

#[test]
fn a_slow_proposer_gets_a_heartbeat_too() {
    let mut env = TestEnv::new(&[("v.txt", "bad\n")]);
    env.extra_env
        .push(("PP_HEARTBEAT_SECS".into(), "0.4".into()));
    let script = env.scratch.path().join("slow.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat >/dev/null\nsleep 1.3\ncat <<'EOF'\n{}\nEOF\n",
            json_diff(V_FIX)
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let provider = format!("command:{}", script.display());
    let out = env.pp(&["run", "grep -qx good v.txt", "--provider", &provider]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    let want = format!("attempt 1: still proposing ({provider}, 1s)");
    assert!(
        err.lines().filter_map(stamped).any(|l| l == want),
        "no `{want}` in:\n{err}"
    );
}

#[test]
fn verbose_adds_log_folders_and_sizes() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let provider = env.proposer(&[&json_diff(V_FIX)]);
    let out = env.pp(&["run", "grep -qx good v.txt", "--provider", &provider, "-v"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("logs: "), "{err}");
    assert!(
        err.contains("proof_bundle/attempts/0_baseline/default"),
        "{err}"
    );
    assert!(err.contains("-byte prompt"), "{err}");
    assert!(err.contains("bundle: "), "{err}");
}

#[test]
fn a_secret_never_reaches_the_event_stream_or_the_progress_lines() {
    let secret = "tok-SECRETVALUE-5f3a9c1e7b2d4086";
    let mut env = TestEnv::new(&[("v.txt", "bad\n")]);
    env.extra_env
        .push(("MY_SERVICE_TOKEN".into(), secret.into()));
    // The secret is in the command line (run_start) and in its output (the attempt's feedback).
    let cmd = format!("echo {secret}; grep -qx good v.txt");
    let provider = env.proposer(&[&json_diff(
        "--- a/v.txt\n+++ b/v.txt\n@@ -1 +1 @@\n-bad\n+worse\n",
    )]);
    let stream = env.scratch.path().join("events.jsonl");
    let out = env.pp(&[
        "run",
        &cmd,
        "--provider",
        &provider,
        "--events",
        stream.to_str().unwrap(),
        "-v",
    ]);
    let err = stderr(&out);
    assert_eq!(code(&out), 10, "{err}");
    let text = std::fs::read_to_string(&stream).unwrap();
    assert!(!text.contains("SECRETVALUE"), "{text}");
    assert!(!err.contains("SECRETVALUE"), "{err}");
    // It was there to redact, and was.
    assert!(text.contains("[REDACTED:env:MY_SERVICE_TOKEN]"), "{text}");
    assert!(err.contains("[REDACTED:env:MY_SERVICE_TOKEN]"), "{err}");
    let base = std::fs::read_to_string(
        env.root()
            .join(".pp-artifacts")
            .read_dir()
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.path().is_dir())
            .unwrap()
            .path()
            .join("proof_bundle/events.jsonl"),
    )
    .unwrap();
    assert_eq!(text, base);
}

#[test]
fn an_events_file_pp_cannot_create_is_a_usage_error_naming_it() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let out = env.pp(&[
        "run",
        "grep -qx good v.txt",
        "--events",
        "/nonexistent/dir/x.jsonl",
        "--json",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let v = json_out(&out);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/dir/x.jsonl"),
        "{v}"
    );
    assert!(v["hint"].as_str().unwrap().contains("--events -"), "{v}");
    // Nothing ran: no bundle.
    assert!(!env.root().join(".pp-artifacts").exists());
}

#[test]
fn on_a_terminal_a_spinner_stands_in_for_the_heartbeat_lines() {
    let mut env = calc_env();
    // Without a terminal this would print a `still running` line every second.
    env.extra_env.push(("PP_HEARTBEAT_SECS".into(), "1".into()));
    let cmd = format!("sleep 2; {TEST_CMD}");
    let out = env.pp_on_terminal(&["run", &cmd, "--provider", "stub"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // The spinner redraws its line in place (clear line, carriage return) with a frame and the
    // command's elapsed time, and leaves the plain phase lines standing.
    assert!(text.contains("\x1b[2K"), "no line redrawn:\n{text:?}");
    assert!(
        text.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "no spinner frame:\n{text:?}"
    );
    assert!(text.contains("baseline: running default (1s)"), "{text:?}");
    assert!(
        !text.contains("still running"),
        "heartbeat lines on a terminal:\n{text:?}"
    );
    assert!(text.contains("] done: not_proven"), "{text:?}");
    // NO_COLOR holds on a terminal too.
    assert!(
        !text.contains("\x1b[3"),
        "colour despite NO_COLOR:\n{text:?}"
    );
}
