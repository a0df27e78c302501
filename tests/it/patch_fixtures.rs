//! The patch engine's scenario corpus and properties: every folder under
//! `tests/fixtures/patch/` is applied through the public API (with and without git) and checked
//! against `expected/` or `expected_rejection.txt`; diffs made by `similar` always apply; the
//! parser never panics on fixture patches or their mutations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pp::patch::{self, Applier, ApplyOptions, Rejection, WriteRules};
use proptest::prelude::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/patch")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
}

/// Every path under `root` with what it is (links are not followed).
fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.unwrap();
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(rel, Node::Link(std::fs::read_link(&path).unwrap()));
            } else if ft.is_dir() {
                out.insert(rel, Node::Dir);
                walk(root, &path, out);
            } else {
                out.insert(rel, Node::File(std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for (rel, node) in snapshot(from) {
        let dest = to.join(&rel);
        match node {
            Node::Dir => std::fs::create_dir_all(&dest).unwrap(),
            Node::File(bytes) => std::fs::write(&dest, bytes).unwrap(),
            Node::Link(_) => panic!("fixtures keep links in symlinks.txt, not in input/"),
        }
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    write_allowlist: Option<Vec<String>>,
    deny_write: Option<Vec<String>>,
    protected: Option<Vec<String>>,
    max_files_changed: Option<usize>,
    max_patch_bytes: Option<u64>,
    guard_tests: Option<bool>,
}

fn rules_for(case: &Path) -> WriteRules {
    let file: RulesFile = std::fs::read_to_string(case.join("rules.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_default();
    let d = WriteRules::default();
    WriteRules {
        write_allowlist: file.write_allowlist.unwrap_or(d.write_allowlist),
        deny_write: file.deny_write.unwrap_or(d.deny_write),
        protected: file.protected.unwrap_or_else(|| vec!["pp.yaml".into()]),
        max_files_changed: file.max_files_changed.unwrap_or(d.max_files_changed),
        max_patch_bytes: file.max_patch_bytes.unwrap_or(d.max_patch_bytes),
        guard_tests: file.guard_tests.unwrap_or(d.guard_tests),
    }
}

/// Copies `input/` into `<tmp>/root`, makes `<tmp>/outside` for links to aim at, and creates
/// the links of `symlinks.txt` (`link -> target`, relative to the root).
fn prepare(case: &Path, tmp: &Path) -> PathBuf {
    let root = tmp.join("root");
    copy_tree(&case.join("input"), &root);
    std::fs::create_dir_all(tmp.join("outside")).unwrap();
    if let Ok(text) = std::fs::read_to_string(case.join("symlinks.txt")) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (link, target) = line.split_once(" -> ").expect("`link -> target`");
            make_symlink(target.trim(), &root.join(link.trim()));
        }
    }
    root
}

#[cfg(unix)]
fn make_symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[cfg(not(unix))]
fn make_symlink(_target: &str, _link: &Path) {
    panic!("symlink fixtures need a unix host");
}

fn run_case(case: &Path, opts: &ApplyOptions) -> Result<(), String> {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let mode = if opts.builtin_only {
        "builtin"
    } else {
        "default"
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = prepare(case, tmp.path());
    let before = snapshot(&root);
    let rules = rules_for(case).compile().unwrap();
    let text = std::fs::read_to_string(case.join("patch.txt")).unwrap();
    let outcome = patch::parse(&text).and_then(|p| patch::apply_with(&root, &p, &rules, opts));
    let fail = |why: String| Err(format!("{name} [{mode}]: {why}"));
    if let Ok(want) = std::fs::read_to_string(case.join("expected_rejection.txt")) {
        let want = want.trim_end_matches('\n');
        let err = match outcome {
            Ok(cs) => {
                return fail(format!(
                    "applied but should be rejected; changed {:?}",
                    cs.changed_paths()
                ));
            }
            Err(e) => e,
        };
        if !err.to_string().contains(want) {
            return fail(format!("rejection `{err}` does not contain `{want}`"));
        }
        if !err.feedback().contains(&err.message) {
            return fail("feedback lacks the message".into());
        }
        if snapshot(&root) != before {
            return fail("a rejected patch changed the tree".into());
        }
        if snapshot(&tmp.path().join("outside")) != BTreeMap::new() {
            return fail("something was written outside the root".into());
        }
        return Ok(());
    }
    let cs = match outcome {
        Ok(cs) => cs,
        Err(e) => return fail(format!("rejected: {e}")),
    };
    let expected = snapshot(&case.join("expected"));
    let got = snapshot(&root);
    if got != expected {
        return fail(format!("tree differs\n got: {got:?}\nwant: {expected:?}"));
    }
    if let Ok(lines) = std::fs::read_to_string(case.join("report.txt"))
        && opts.builtin_only
    {
        let json = serde_json::to_string(cs.report()).unwrap();
        for l in lines.lines() {
            if !json.contains(l) {
                return fail(format!("report {json} lacks {l}"));
            }
        }
    }
    // The canonical diff reproduces the same tree from the input.
    let diff = cs.diff();
    let again = tempfile::tempdir().unwrap();
    let root2 = prepare(case, again.path());
    let reparsed = patch::parse(&diff)
        .map_err(|e| format!("{name}: canonical diff does not parse: {e}\n{diff}"))?;
    let builtin = ApplyOptions { builtin_only: true };
    patch::apply_with(&root2, &reparsed, &rules, &builtin)
        .map_err(|e| format!("{name}: canonical diff does not apply: {e}\n{diff}"))?;
    if snapshot(&root2) != expected {
        return fail(format!("canonical diff gives another tree:\n{diff}"));
    }
    // Undo restores the input exactly.
    cs.undo(&root).unwrap();
    if snapshot(&root) != before {
        return fail(format!(
            "undo left {:?}\nwant {:?}",
            snapshot(&root),
            before
        ));
    }
    Ok(())
}

fn cases() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

#[test]
fn fixture_corpus() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} fixture cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let has_expected = case.join("expected").is_dir();
        let has_rejection = case.join("expected_rejection.txt").is_file();
        assert!(
            has_expected != has_rejection,
            "{}: needs exactly one of expected/ and expected_rejection.txt",
            case.display()
        );
        for opts in [ApplyOptions::default(), ApplyOptions { builtin_only: true }] {
            if let Err(e) = run_case(case, &opts) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn git_available() -> bool {
    std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn clean_patches_go_through_git_and_drifted_ones_through_the_builtin_applier() {
    if !git_available() {
        eprintln!("git not installed: skipping the git strategy check");
        return;
    }
    let rules = WriteRules::default().compile().unwrap();
    let run = |name: &str| {
        let case = fixtures().join(name);
        let tmp = tempfile::tempdir().unwrap();
        let root = prepare(&case, tmp.path());
        let text = std::fs::read_to_string(case.join("patch.txt")).unwrap();
        let cs = patch::apply(&root, &patch::parse(&text).unwrap(), &rules).unwrap();
        cs.report().clone()
    };
    let clean = run("001_git_diff");
    assert_eq!(clean.applier, Applier::Git);
    assert!(clean.git_refusal.is_none());
    for name in [
        "016_new_file_nested_dirs",
        "018_delete_removes_empty_dir",
        "019_rename_with_change",
    ] {
        assert_eq!(run(name).applier, Applier::Git, "{name}");
    }
    let crlf = run("009_crlf_file");
    assert_eq!(crlf.applier, Applier::Builtin);
    assert!(crlf.git_refusal.is_some());
}

#[test]
fn git_apply_does_not_reach_a_parent_repository() {
    if !git_available() {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(outer.path())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(outer.path().join("top.txt"), "top\n").unwrap();
    let root = outer.path().join("work");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("a.txt"), "a\n").unwrap();
    let rules = WriteRules::default().compile().unwrap();
    let p = patch::parse("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n").unwrap();
    let cs = patch::apply(&root, &p, &rules).unwrap();
    assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), "b\n");
    assert_eq!(
        std::fs::read_to_string(outer.path().join("top.txt")).unwrap(),
        "top\n"
    );
    assert_eq!(cs.changed_paths(), vec!["a.txt"]);
}

#[test]
fn rejections_carry_machine_tags_and_feedback_with_nearest_lines() {
    let case = fixtures().join("104_context_not_found");
    let tmp = tempfile::tempdir().unwrap();
    let root = prepare(&case, tmp.path());
    let text = std::fs::read_to_string(case.join("patch.txt")).unwrap();
    let rules = WriteRules::default().compile().unwrap();
    let err: Rejection = patch::apply(&root, &patch::parse(&text).unwrap(), &rules).unwrap_err();
    assert_eq!(err.rule(), "context_not_found");
    let fb = err.feedback();
    assert!(fb.contains("File: notes.txt"), "{fb}");
    assert!(
        fb.contains("Hunk: #1 `@@ -5,3 +5,3 @@` (line 3 of your reply)"),
        "{fb}"
    );
    assert!(fb.contains("\n6 | line 6\n"), "{fb}");
}

#[test]
fn parser_never_panics_on_fixtures_and_their_mutations() {
    let mut rng = fastrand::Rng::with_seed(7);
    for case in cases() {
        let text = std::fs::read(case.join("patch.txt")).unwrap();
        let mut inputs: Vec<Vec<u8>> = vec![text.clone()];
        for cut in 0..text.len().min(400) {
            inputs.push(text[..cut].to_vec());
        }
        for _ in 0..200 {
            let mut m = text.clone();
            if m.is_empty() {
                break;
            }
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..m.len());
                match rng.u8(..4) {
                    0 => m[i] = rng.u8(..),
                    1 => m[i] = *b"\n\r @+-\\\t\"".get(rng.usize(..9)).unwrap(),
                    2 => {
                        m.remove(i);
                        if m.is_empty() {
                            break;
                        }
                    }
                    _ => {
                        let j = rng.usize(..m.len());
                        m.insert(i, m[j]);
                    }
                }
            }
            inputs.push(m);
        }
        for input in inputs {
            let s = String::from_utf8_lossy(&input);
            if let Ok(p) = patch::parse(&s) {
                // Whatever parses renders and parses again.
                let rendered = patch::render(&p);
                let again = patch::parse(&rendered);
                assert!(
                    again.is_ok(),
                    "{}: render of a parsed patch does not parse: {s:?}",
                    case.display()
                );
                if let Ok(again) = again {
                    assert_eq!(
                        patch::render(&again),
                        rendered,
                        "{}: unstable render of {s:?}",
                        case.display()
                    );
                }
                let ids: Vec<usize> = patch::hunks(&p).iter().map(|h| h.id).step_by(2).collect();
                assert!(patch::parse(&patch::render_subset(&p, &ids)).is_ok() || ids.is_empty());
            }
        }
    }
}

/// Original lines, final newline, edits (kind, position, text), final newline after.
type EditCase = (Vec<String>, bool, Vec<(u8, usize, String)>, bool);

fn edit_strategy() -> impl Strategy<Value = EditCase> {
    let line = prop::sample::select(vec![
        "",
        " ",
        "x",
        "x ",
        "y",
        "fn main() {",
        "}",
        "    let a = 1;",
        "return b",
        "\t# c",
    ])
    .prop_map(str::to_owned);
    (
        prop::collection::vec(line.clone(), 0..25),
        any::<bool>(),
        prop::collection::vec((0u8..3, any::<usize>(), line), 1..6),
        any::<bool>(),
    )
}

fn join(lines: &[String], final_newline: bool) -> String {
    let mut s = lines.join("\n");
    if final_newline && !lines.is_empty() {
        s.push('\n');
    }
    s
}

fn edited(original: &[String], edits: &[(u8, usize, String)]) -> Vec<String> {
    let mut v = original.to_vec();
    for (kind, at, text) in edits {
        match kind {
            0 => {
                let i = at % (v.len() + 1);
                v.insert(i, text.clone());
            }
            1 if !v.is_empty() => {
                let i = at % v.len();
                v.remove(i);
            }
            _ if !v.is_empty() => {
                let i = at % v.len();
                v[i] = text.clone();
            }
            _ => v.push(text.clone()),
        }
    }
    v
}

fn similar_diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header("a/f.txt", "b/f.txt")
        .to_string()
}

proptest! {
    #[test]
    fn similar_diffs_plan_to_the_edited_text((lines, nl, edits, nl2) in edit_strategy()) {
        let old = join(&lines, nl);
        let new = join(&edited(&lines, &edits), nl2);
        prop_assume!(old != new);
        let diff = similar_diff(&old, &new);
        let p = patch::parse(&diff).map_err(|e| TestCaseError::fail(format!("{e}\n{diff}")))?;
        let planned = patch::plan_hunks("f.txt", &old, &p.files[0].hunks, 0)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{diff}")))?;
        prop_assert_eq!(planned.content, new);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn similar_diffs_apply_through_the_public_api((lines, nl, edits, nl2) in edit_strategy(), builtin in any::<bool>()) {
        let old = join(&lines, nl);
        let new = join(&edited(&lines, &edits), nl2);
        prop_assume!(old != new);
        let diff = similar_diff(&old, &new);
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f.txt"), &old).unwrap();
        let rules = WriteRules::default().compile().unwrap();
        let p = patch::parse(&diff).unwrap();
        let cs = patch::apply_with(tmp.path(), &p, &rules, &ApplyOptions { builtin_only: builtin })
            .map_err(|e| TestCaseError::fail(format!("{e}\n{diff}")))?;
        prop_assert_eq!(std::fs::read_to_string(tmp.path().join("f.txt")).unwrap(), new);
        cs.undo(tmp.path()).unwrap();
        prop_assert_eq!(std::fs::read_to_string(tmp.path().join("f.txt")).unwrap(), old);
    }
}

/// Applies a fixture's patch (built-in applier) and returns the outcome.
fn outcome(name: &str) -> Result<patch::ChangeSet, Rejection> {
    let case = fixtures().join(name);
    let tmp = tempfile::tempdir().unwrap();
    let root = prepare(&case, tmp.path());
    let text = std::fs::read_to_string(case.join("patch.txt")).unwrap();
    let rules = rules_for(&case).compile().unwrap();
    patch::parse(&text)
        .and_then(|p| patch::apply_with(&root, &p, &rules, &ApplyOptions { builtin_only: true }))
}

#[test]
fn feedback_texts() {
    let mut all = String::new();
    for name in [
        "101_hunk_only_fragment",
        "104_context_not_found",
        "105_already_applied",
        "106_ambiguous_context",
        "113_write_through_existing_dir_symlink",
        "119_policy_file",
        "123_too_many_files",
        "138_prefix_lost_after_blank_line",
    ] {
        let err = outcome(name).err().unwrap();
        all.push_str(&format!("## {name} [{}]\n{}\n", err.rule(), err.feedback()));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn apply_report_json() {
    let mut all = serde_json::Map::new();
    for name in [
        "005_wrong_line_numbers",
        "010_trailing_whitespace_drift",
        "019_rename_with_change",
        "023_multi_hunk",
    ] {
        let cs = outcome(name).unwrap();
        all.insert(name.to_owned(), serde_json::to_value(cs.report()).unwrap());
    }
    insta::assert_json_snapshot!(all);
}
