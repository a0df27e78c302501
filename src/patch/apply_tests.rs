use super::*;
use crate::patch::parse::parse;
use crate::patch::validate::WriteRules;

fn builtin() -> ApplyOptions {
    ApplyOptions { builtin_only: true }
}

#[cfg(unix)]
#[test]
fn undo_replaces_a_planted_symlink_instead_of_writing_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("sub/a.txt"), "a\n").unwrap();
    std::fs::write(outside.join("a.txt"), "outside\n").unwrap();
    let rules = WriteRules::default().compile().unwrap();
    let p = parse("--- a/sub/a.txt\n+++ b/sub/a.txt\n@@ -1 +1 @@\n-a\n+b\n").unwrap();
    let cs = apply_with(&root, &p, &rules, &builtin()).unwrap();
    // Code run during verification swaps the directory for a link out of the sandbox.
    std::fs::remove_dir_all(root.join("sub")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("sub")).unwrap();
    cs.undo(&root).unwrap();
    assert_eq!(
        std::fs::read_to_string(outside.join("a.txt")).unwrap(),
        "outside\n"
    );
    assert!(
        std::fs::symlink_metadata(root.join("sub"))
            .unwrap()
            .is_dir()
    );
    assert_eq!(
        std::fs::read_to_string(root.join("sub/a.txt")).unwrap(),
        "a\n"
    );
}

#[test]
fn recheck_failure_undoes_the_write() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.txt"), "a\n").unwrap();
    let open = WriteRules::default().compile().unwrap();
    let p = parse("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n").unwrap();
    let cs = apply_with(tmp.path(), &p, &open, &builtin()).unwrap();
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("a.txt")).unwrap(),
        "b\n"
    );
    // The same change judged by stricter rules after the write is refused and undone.
    let strict = WriteRules {
        deny_write: vec!["*.txt".into()],
        ..WriteRules::default()
    }
    .compile()
    .unwrap();
    let err = finish(tmp.path(), cs, &strict).unwrap_err();
    assert_eq!(err.rule, Rule::PostApplyCheck);
    assert!(err.message.contains("after applying"), "{}", err.message);
    assert!(err.message.contains("deny_write"), "{}", err.message);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("a.txt")).unwrap(),
        "a\n"
    );
}

#[test]
fn change_set_lists_paths_diff_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.txt"), "1\n2\n3\n").unwrap();
    std::fs::write(tmp.path().join("gone.txt"), "x\n").unwrap();
    let rules = WriteRules::default().compile().unwrap();
    let p = parse(concat!(
        "--- a/a.txt\n+++ b/a.txt\n@@ -7,2 +7,2 @@\n 1\n-2\n+two\n",
        "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n",
        "--- /dev/null\n+++ b/new/n.txt\n@@ -0,0 +1 @@\n+n\n",
    ))
    .unwrap();
    let cs = apply_with(tmp.path(), &p, &rules, &builtin()).unwrap();
    assert_eq!(cs.changed_paths(), vec!["a.txt", "gone.txt", "new/n.txt"]);
    let diff = cs.diff();
    assert!(diff.contains("diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n 1\n-2\n+two\n 3\n"), "{diff}");
    assert!(diff.contains("deleted file mode 100644"), "{diff}");
    assert!(diff.contains("new file mode 100644"), "{diff}");
    let json = serde_json::to_value(cs.report()).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["applier"], "builtin");
    assert_eq!(json["files"][0]["hunks"][0]["strategy"]["kind"], "offset");
    assert_eq!(json["files"][0]["hunks"][0]["strategy"]["lines"], -6);
    assert_eq!(json["files"][2]["hunks"][0]["id"], 2);
    cs.undo(tmp.path()).unwrap();
    assert!(!tmp.path().join("new").exists());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("gone.txt")).unwrap(),
        "x\n"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("a.txt")).unwrap(),
        "1\n2\n3\n"
    );
}

#[cfg(unix)]
#[test]
fn modes_follow_the_patch_and_undo() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("run.sh");
    std::fs::write(&f, "echo\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    let rules = WriteRules::default().compile().unwrap();
    let p = parse("diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n").unwrap();
    for opts in [builtin(), ApplyOptions::default()] {
        let cs = apply_with(tmp.path(), &p, &rules, &opts).unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_ne!(mode & 0o100, 0, "{mode:o}");
        assert!(
            cs.diff().contains("old mode 100644\nnew mode 100755"),
            "{}",
            cs.diff()
        );
        cs.undo(tmp.path()).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
}

#[test]
fn create_with_identical_content_is_already_applied() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("n.txt"), "n\n").unwrap();
    let rules = WriteRules::default().compile().unwrap();
    let p = parse("--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+n\n").unwrap();
    let err = apply(tmp.path(), &p, &rules).unwrap_err();
    assert_eq!(err.rule(), "already_applied");
}

fn mtime_secs(p: &std::path::Path) -> u64 {
    std::fs::metadata(p)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A same-size edit must never share a whole-second mtime with any earlier version of the file:
/// Python's bytecode cache (and make on coarse file systems) key on exactly that, and would run
/// the old code against a correct candidate. The old version here is stamped ahead of the clock,
/// so writing "now" would collide or go backwards; every write, by git or the built-in applier,
/// and every undo must land strictly later.
#[test]
fn every_version_pp_writes_has_a_later_whole_second_mtime_than_the_last() {
    for opts in [ApplyOptions::default(), builtin()] {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("calc.py");
        std::fs::write(&file, "def add(a, b):\n    return a - b\n").unwrap();
        let ahead = std::time::SystemTime::now() + std::time::Duration::from_secs(100);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(ahead)
            .unwrap();
        let original = mtime_secs(&file);
        let rules = WriteRules::default().compile().unwrap();
        let p = parse(
            "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n",
        )
        .unwrap();
        let cs = apply_with(tmp.path(), &p, &rules, &opts).unwrap();
        let patched = mtime_secs(&file);
        assert!(patched > original, "{opts:?}: {patched} <= {original}");
        cs.undo(tmp.path()).unwrap();
        let undone = mtime_secs(&file);
        assert!(undone > patched, "{opts:?}: undo {undone} <= {patched}");
        // The same candidate again: still a version of its own.
        let _cs = apply_with(tmp.path(), &p, &rules, &opts).unwrap();
        assert!(mtime_secs(&file) > undone, "{opts:?}: reapply");
    }
}
