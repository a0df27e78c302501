//! `pp show`: the report of a real proven session (two attempts, the first a candidate that
//! writes `<script>` into a file the target prints), its `pp.show/v1` document, the HTML page
//! loaded in a real headless Chromium, and hostile or missing bundles refused with the file
//! named.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const KEY: &str = "an-hmac-key-of-more-than-32-bytes-0123456789";
/// The target prints the file, so a failed attempt's reason carries its content.
const CMD: &str = "cat v.txt; grep -qx good v.txt";
const SCRIPT_FIX: &str =
    "--- a/v.txt\n+++ b/v.txt\n@@ -1 +1 @@\n-bad\n+<script>alert(1)</script>\n";

/// A signed proven session: attempt 1 writes `<script>…` (and fails), attempt 2 the fix.
fn session() -> (TestEnv, PathBuf) {
    let mut env = TestEnv::new(&[("v.txt", "bad\n")]);
    env.extra_env
        .push(("PP_ATTEST_HMAC_KEY".into(), KEY.into()));
    let provider = env.proposer(&[&json_diff(SCRIPT_FIX), &json_diff(V_FIX)]);
    let out = env.pp(&["run", CMD, "--provider", &provider, "--attest", "--json"]);
    let v = json_out(&out);
    assert_eq!(v["status"], "proven", "{}", stderr(&out));
    assert_eq!(v["attempts_used"], 2, "{v}");
    let bundle = PathBuf::from(v["proof_bundle"].as_str().unwrap());
    (env, bundle)
}

#[test]
fn show_prints_the_report_the_attempts_and_what_the_viewers_keys_say() {
    let (env, bundle) = session();
    // `last` is the default; the session folder and the bundle name the same report.
    let last = env.pp(&["show"]);
    assert_eq!(code(&last), 0, "{}", stderr(&last));
    let text = String::from_utf8_lossy(&last.stdout).into_owned();
    for needle in [
        "# pp proof summary",
        "**Status:** `proven`",
        "+good",
        "## Attempts",
        "1. verification failed (command): The candidate applied, but verification failed: - target `default` failed",
        "2. passed (command)",
        "verified with your keys (trust: hmac, signed by hmac-sha256)",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    for arg in [bundle.clone(), bundle.parent().unwrap().to_path_buf()] {
        let out = env.pp(&["show", arg.to_str().unwrap()]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            text,
            "{}",
            arg.display()
        );
    }
    // Keys the viewer does not have vouch for nothing.
    let out = env.pp(&["show", "--key-env", "PP_NO_SUCH_KEY"]);
    assert_eq!(code(&out), 0);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("NOT verified with your keys: no verification key is configured"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A changed byte is seen.
    let patch = bundle.join("final.patch");
    let changed = std::fs::read_to_string(&patch)
        .unwrap()
        .replace("+good", "+evil");
    std::fs::write(&patch, changed).unwrap();
    let v = json_out(&env.pp(&["show", "--json"]));
    assert_eq!(v["attestation"]["verified"], false, "{v}");
    assert!(
        v["attestation"]["problems"]
            .to_string()
            .contains("final.patch"),
        "{v}"
    );
}

#[test]
fn show_json_is_the_pp_show_document() {
    let (env, bundle) = session();
    let out = env.pp(&["show", bundle.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["schema_version"], "pp.show/v1");
    assert_eq!(v["success"], true);
    assert_eq!(v["status"], "proven");
    assert_eq!(v["session_success"], true);
    assert_eq!(v["attempts_used"], 2);
    assert_eq!(v["targets"][0]["before"]["exit_code"], 1);
    assert_eq!(v["targets"][0]["after"]["exit_code"], 0);
    assert_eq!(v["attempts"][0]["outcome"], "verification_failed");
    assert!(
        v["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("<script>alert(1)</script>"),
        "{v}"
    );
    assert!(v["final_patch"].as_str().unwrap().contains("+good"));
    assert_eq!(v["attestation"]["verified"], true);
    assert_eq!(v["attestation"]["trust"], "hmac");
    let replay = v["replay"].to_string();
    assert!(
        replay.contains("pp replay ") && replay.contains("proof_bundle"),
        "{replay}"
    );
}

/// `chromium` or `chromium-browser` on PATH. CI installs Debian's `chromium` (.ci/run); a
/// machine without it fails this test rather than passing it untested.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "this test loads the page in a real browser and found no `chromium` or `chromium-browser` on PATH: install it (`apt-get install chromium` on Debian; .ci/run does)"
    );
}

/// Runs headless Chromium on `page` with `args`; returns its stdout. Killed after 120 s.
fn headless(page: &Path, profile: &Path, args: &[&str]) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "chromium failed: {:?}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn html_page_shows_the_session_in_a_real_browser_and_escapes_the_bundle() {
    let (env, bundle) = session();
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pp-show");
    std::fs::create_dir_all(&artifacts).unwrap();
    let page = artifacts.join("report.html");
    let out = env.pp(&[
        "show",
        bundle.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    // One self-contained page: no script, nothing to fetch.
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    for needle in ["http://", "https://", "src=\"", "<link"] {
        assert!(!html.contains(needle), "{needle} in the page");
    }

    let profile = tempfile::tempdir().unwrap();
    let dom = headless(&page, profile.path(), &["--dump-dom"]);
    // The candidate's `<script>` (in its diff and in the target's output the reason quotes) is
    // text in the rendered DOM, never an element.
    assert!(!dom.to_lowercase().contains("<script"), "{dom}");
    assert!(
        dom.contains("+&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dom}"
    );
    // Once in the candidate diff, once in the reason quoting the target's output.
    assert!(
        dom.matches("&lt;script&gt;alert(1)&lt;/script&gt;").count() >= 2,
        "{dom}"
    );
    for needle in [
        r#"<span id="status" class="status ok">proven</span>"#,
        r#"<span class="add">+good"#,
        r#"<span class="del">-bad"#,
        r#"<span class="hunk">@@ -1 +1 @@"#,
        "Attempt 1: verification failed",
        "target `default` failed with exit code 1",
        "Attempt 2: passed",
        "verified with your keys (trust: hmac, signed by hmac-sha256)",
        "pp replay ",
    ] {
        assert!(
            dom.contains(needle),
            "{needle:?} not in the rendered page:\n{dom}"
        );
    }

    // A screenshot, kept as the test's artifact.
    let shot = artifacts.join("report.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &page,
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
            "--hide-scrollbars",
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    eprintln!("screenshot of the report: {}", shot.display());
}

#[test]
fn hostile_or_missing_bundles_are_refused_with_the_file_named() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let out = env.pp(&["show"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no .pp-artifacts folder"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: run `pp run CMD` here first"),
        "{}",
        stderr(&out)
    );

    let bad = env.scratch.path().join("bundle");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("repro.json"), "{\"schema_version\": ").unwrap();
    let out = env.pp(&["show", bad.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 2);
    let v = json_out(&out);
    assert_eq!(v["schema_version"], "pp.error/v1");
    let err = v["error"].as_str().unwrap();
    assert!(err.contains("bundle/repro.json is not valid JSON"), "{err}");
    assert!(
        v["hint"].as_str().unwrap().contains("verify-attestation"),
        "{v}"
    );

    // A bundle file that is a link out of the bundle is refused, not followed.
    std::fs::write(
        bad.join("repro.json"),
        r#"{"schema_version": "pp.repro/v1", "status": "proven"}"#,
    )
    .unwrap();
    let secret = env.scratch.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(&secret, bad.join("final_summary.md")).unwrap();
    let out = env.pp(&["show", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("final_summary.md"),
        "{}",
        stderr(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("TOP-SECRET"));

    let out = env.pp(&["show", "/no/such/bundle"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("/no/such/bundle is not a folder"),
        "{}",
        stderr(&out)
    );
}
