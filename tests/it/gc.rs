//! `pp gc`: real session folders in a temp repository's `.pp-artifacts/` are pruned by count
//! and age; anything that is not a session folder (the digest cache, `.gitignore`, the user's
//! files, a planted symlink to a folder outside) survives, and so does what links point to.

use std::path::{Path, PathBuf};

use crate::support::*;

/// A finished session folder named `id` (its status `status`).
fn fake_session(artifacts: &Path, id: &str, status: &str) -> PathBuf {
    let dir = artifacts.join(id);
    std::fs::create_dir_all(dir.join("proof_bundle/attempts/1")).unwrap();
    std::fs::write(
        dir.join("proof_bundle/repro.json"),
        format!(r#"{{"schema_version": "pp.repro/v1", "status": "{status}", "complete": true}}"#),
    )
    .unwrap();
    std::fs::write(dir.join("proof_bundle/final.patch"), "x".repeat(1000)).unwrap();
    dir
}

fn ids(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e.get("session_id")
                .unwrap_or(e)
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn gc_keeps_the_newest_and_leaves_everything_else_alone() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    // One real session (now), three old ones.
    let real = prove_v_txt(&env, &[]);
    let real_id = real["session_id"].as_str().unwrap().to_owned();
    let a = env.root().join(".pp-artifacts");
    for id in [
        "20200101T000000Z-aa",
        "20210101T000000Z-bb",
        "20220101T000000Z-cc",
    ] {
        fake_session(&a, id, "not_proven");
    }
    // Not sessions: the user's folder, a folder named like one without the marker, a symlink
    // named like a session pointing at a real-looking session outside.
    std::fs::create_dir_all(a.join("notes")).unwrap();
    std::fs::write(a.join("notes/keep.txt"), "mine").unwrap();
    std::fs::create_dir_all(a.join("20190101T000000Z-dd/proof_bundle")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = fake_session(outside.path(), "20180101T000000Z-ee", "proven");
    std::os::unix::fs::symlink(&target, a.join("20180101T000000Z-ee")).unwrap();
    // A link inside an old session to a file outside: removing the session takes the link only.
    let precious = outside.path().join("precious.txt");
    std::fs::write(&precious, "do not delete").unwrap();
    std::os::unix::fs::symlink(&precious, a.join("20200101T000000Z-aa/proof_bundle/link")).unwrap();
    let before_other: Vec<_> = [".gitignore"]
        .iter()
        .map(|f| std::fs::read(a.join(f)).unwrap())
        .collect();

    // A dry run says and removes nothing.
    let out = env.pp(&["gc", "--keep", "2", "--dry-run", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["schema_version"], "pp.gc/v1");
    assert_eq!(v["dry_run"], true);
    assert_eq!(
        ids(&v, "removed"),
        ["20200101T000000Z-aa", "20210101T000000Z-bb"]
    );
    assert!(a.join("20200101T000000Z-aa").is_dir());

    let out = env.pp(&["gc", "--keep", "2", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["success"], true);
    assert_eq!(
        ids(&v, "removed"),
        ["20200101T000000Z-aa", "20210101T000000Z-bb"]
    );
    assert_eq!(
        ids(&v, "kept"),
        ["20220101T000000Z-cc".to_owned(), real_id.clone()]
    );
    assert!(v["freed_bytes"].as_u64().unwrap() >= 2000, "{v}");
    assert!(!a.join("20200101T000000Z-aa").exists());
    assert!(!a.join("20210101T000000Z-bb").exists());
    assert!(
        a.join("20220101T000000Z-cc/proof_bundle/repro.json")
            .is_file()
    );
    assert!(a.join(&real_id).join("proof_bundle/repro.json").is_file());
    // Untouched: the user's files, the unmarked folder, the link and what it points to.
    assert_eq!(
        std::fs::read_to_string(a.join("notes/keep.txt")).unwrap(),
        "mine"
    );
    assert!(a.join("20190101T000000Z-dd/proof_bundle").is_dir());
    assert!(
        std::fs::symlink_metadata(a.join("20180101T000000Z-ee"))
            .unwrap()
            .is_symlink()
    );
    assert!(target.join("proof_bundle/repro.json").is_file());
    assert!(target.join("proof_bundle/final.patch").is_file());
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "do not delete");
    let after_other: Vec<_> = [".gitignore"]
        .iter()
        .map(|f| std::fs::read(a.join(f)).unwrap())
        .collect();
    assert_eq!(before_other, after_other);

    // `--keep 0` with an age: only old ones go; the session of a minute ago stays.
    let out = env.pp(&["gc", "--keep", "0", "--older-than", "7d"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("removed 20220101T000000Z-cc"), "{text}");
    assert!(text.contains("removed 1 session,"), "{text}");
    assert!(a.join(&real_id).is_dir());
    assert!(target.join("proof_bundle/repro.json").is_file());
}

#[test]
fn a_session_that_may_still_run_is_kept() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let a = env.root().join(".pp-artifacts");
    fake_session(&a, "20200101T000000Z-aa", "running");
    fake_session(&a, "20200102T000000Z-bb", "proven");
    let v = json_out(&env.pp(&["gc", "--keep", "0", "--json"]));
    assert_eq!(ids(&v, "removed"), ["20200102T000000Z-bb"]);
    assert_eq!(ids(&v, "running"), ["20200101T000000Z-aa"]);
    assert!(a.join("20200101T000000Z-aa").is_dir());
}

#[test]
fn bad_ages_are_usage_errors_naming_the_value() {
    let env = TestEnv::new(&[("v.txt", "bad\n")]);
    let out = env.pp(&["gc", "--older-than", "soon"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("--older-than") && err.contains("`soon`") && err.contains("7d"),
        "{err}"
    );
    let out = env.pp(&["gc", "--older-than", "7", "--json"]);
    assert_eq!(code(&out), 2);
    let v = json_out(&out);
    assert_eq!(v["schema_version"], "pp.error/v1");
    assert!(v["error"].as_str().unwrap().contains("`7`"), "{v}");
    // Nothing to prune is not an error.
    let out = env.pp(&["gc", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_out(&out)["removed"], serde_json::json!([]));
}
