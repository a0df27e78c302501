//! Running `git apply` on the sandbox root with a git whose configuration pp controls. The
//! sandbox is written by the code under test, so its `.git/config` (filters, `core.fsmonitor`,
//! hooks) and its attributes are hostile: git is pointed at an empty repository pp makes for
//! each run (`GIT_DIR`, with the root as `GIT_WORK_TREE`), and system, global and XDG
//! configuration are switched off. With no configuration, no filter, textconv or fsmonitor
//! program exists for an attribute to name, so git runs nothing but itself.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Variables that would point git somewhere other than the root.
const GIT_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    // `-c` settings inherited from a calling git would change how the patch applies.
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
];

/// An empty repository of pp's own (HEAD, objects, refs; no config, no hooks) in `dir`.
fn empty_git_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("objects"))?;
    std::fs::create_dir_all(dir.join("refs"))?;
    std::fs::write(dir.join("HEAD"), "ref: refs/heads/main\n")
}

fn run(root: &Path, git_dir: &Path, args: &[&str], patch: &Path) -> Result<Output, String> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .arg(patch)
        .current_dir(root)
        .stdin(Stdio::null());
    for var in GIT_VARS {
        cmd.env_remove(var);
    }
    cmd.env("GIT_DIR", git_dir)
        .env("GIT_WORK_TREE", root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .env("XDG_CONFIG_HOME", git_dir)
        .env("HOME", git_dir);
    let out = cmd.output().map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        Err(if err.is_empty() {
            format!("git apply exited with {}", out.status)
        } else {
            err
        })
    }
}

/// Paths listed by `git apply --numstat -z`: one per entry, where it ends up (git's own
/// `diff --numstat` gives both names of a rename; `apply` gives the target, but both are read).
fn numstat_paths(stdout: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut tokens = stdout.split(|&b| b == 0).filter(|t| !t.is_empty());
    while let Some(tok) = tokens.next() {
        let text = String::from_utf8_lossy(tok);
        let mut fields = text.splitn(3, '\t');
        let (_, _, name) = (fields.next(), fields.next(), fields.next());
        match name {
            Some(n) if !n.is_empty() => out.push(n.to_owned()),
            _ => {
                for _ in 0..2 {
                    if let Some(t) = tokens.next() {
                        out.push(String::from_utf8_lossy(t).into_owned());
                    }
                }
            }
        }
    }
    out
}

/// Checks and applies `diff` with git (all or nothing, as `git apply` is). Refuses (with git's words) when git reads other target
/// paths than `expected`, so git never writes anything pp did not validate.
pub(crate) fn apply(root: &Path, diff: &str, expected: &[String]) -> Result<(), String> {
    let mut file = tempfile::NamedTempFile::new()
        .map_err(|e| format!("cannot write the patch for git: {e}"))?;
    file.write_all(diff.as_bytes())
        .map_err(|e| format!("cannot write the patch for git: {e}"))?;
    let patch = file.path();
    let home = tempfile::tempdir().map_err(|e| format!("cannot make a git dir for git: {e}"))?;
    let git_dir = home.path().join("git");
    empty_git_dir(&git_dir).map_err(|e| format!("cannot make a git dir for git: {e}"))?;
    // One run both lists the paths git reads and checks that every hunk applies (no writes).
    let listed = run(
        root,
        &git_dir,
        &[
            "apply",
            "--numstat",
            "-z",
            "--check",
            "--recount",
            "--whitespace=nowarn",
        ],
        patch,
    )?;
    let mut got = numstat_paths(&listed.stdout);
    got.sort();
    got.dedup();
    let mut want = expected.to_vec();
    want.sort();
    want.dedup();
    if got != want {
        return Err(format!(
            "git apply reads the paths as [{}] but pp parsed [{}]",
            got.join(", "),
            want.join(", ")
        ));
    }
    run(
        root,
        &git_dir,
        &["apply", "--recount", "--whitespace=nowarn"],
        patch,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_lists_plain_and_renamed_paths() {
        let out = b"1\t2\tsrc/a.rs\x000\t0\t\x00old name\x00new name\x00-\t-\tbin\x00";
        assert_eq!(
            numstat_paths(out),
            vec!["src/a.rs", "old name", "new name", "bin"]
        );
    }

    #[test]
    fn git_apply_stays_inside_a_non_repo_root_below_a_repo() {
        let outer = tempfile::tempdir().unwrap();
        let init = Command::new("git")
            .arg("init")
            .arg("-q")
            .arg(outer.path())
            .status();
        if !init.is_ok_and(|s| s.success()) {
            return; // no git here: the builtin applier covers this machine
        }
        let root = outer.path().join("sandbox");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("f.txt"), "a\n").unwrap();
        let diff = "diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-a\n+b\n";
        apply(&root, diff, &["f.txt".to_owned()]).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("f.txt")).unwrap(), "b\n");
        assert!(!outer.path().join("sandbox/sandbox").exists());
    }

    #[test]
    fn a_hostile_sandbox_repository_runs_nothing_through_git_apply() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("sandbox");
        std::fs::create_dir(&root).unwrap();
        let init = Command::new("git")
            .arg("init")
            .arg("-q")
            .arg(&root)
            .status();
        if !init.is_ok_and(|s| s.success()) {
            return; // no git here: the builtin applier covers this machine
        }
        // What a test in the sandbox could plant: a filter named by attributes, fsmonitor and a
        // hooks path, each of which would run a program as pp on the host.
        let marker = d.path().join("ran");
        let m = marker.display();
        let cfg = format!(
            "[filter \"x\"]\n\tclean = touch {m}.clean\n\tsmudge = touch {m}.smudge\n\trequired = true\n[core]\n\tfsmonitor = touch {m}.fsmonitor\n\thooksPath = {}\n",
            d.path().display()
        );
        std::fs::write(root.join(".git/config"), cfg).unwrap();
        std::fs::write(root.join(".git/info/attributes"), "* filter=x\n").unwrap();
        std::fs::write(root.join(".gitattributes"), "* filter=x\n").unwrap();
        std::fs::write(root.join("f.txt"), "a\n").unwrap();
        let diff = "diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-a\n+b\n";
        apply(&root, diff, &["f.txt".to_owned()]).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("f.txt")).unwrap(), "b\n");
        for suffix in ["clean", "smudge", "fsmonitor"] {
            assert!(
                !d.path().join(format!("ran.{suffix}")).exists(),
                "git ran the sandbox's {suffix} program"
            );
        }
    }
}
