//! Runs the failure-output corpus in `tests/fixtures/context/` through `pp::context`: location
//! recall over the whole corpus (must stay at or above 90%), exact test summaries, JUnit
//! summaries and infra/code classification per fixture, and `build` on the fixtures that keep a
//! copy of their project in `workspace/`.

use pp::context::{
    Classification, DEFAULT_CONTEXT_BUDGET_BYTES, PathMap, RunnerProgress, TestSummary, build,
    classify, junit_summary, locations, runner_progress, test_summary,
};
use serde::Deserialize;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Expected {
    workspace: PathBuf,
    sandbox: PathBuf,
    container_workdir: Option<PathBuf>,
    exit_code: i32,
    timed_out: bool,
    classification: String,
    locations: Vec<ExpectedLocation>,
    summary: Option<ExpectedSummary>,
    junit: Option<ExpectedSummary>,
    /// Present when the fixture keeps a copy of its project in `workspace/`.
    related: Option<Vec<String>>,
    /// How far the test runner got (`runner_progress`), when the fixture says; `null` for no
    /// runner at all.
    #[serde(default, deserialize_with = "some")]
    runner: Option<Option<RunnerProgress>>,
}

/// Tells a `runner: null` (no runner) from an absent key (not checked).
fn some<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<RunnerProgress>>, D::Error> {
    Option::<RunnerProgress>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct ExpectedLocation {
    path: String,
    line: u32,
    in_workspace: bool,
}

#[derive(Deserialize, Debug)]
struct ExpectedSummary {
    format: String,
    ran: u32,
    passed: u32,
    failed: u32,
    skipped: u32,
    failing: Vec<String>,
    passing: Option<Vec<String>>,
    #[serde(default = "yes")]
    counts_exact: bool,
    /// Files or modules that failed to load; compared when present.
    load_errors: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/context");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn check_summary(
    what: &str,
    got: Option<&TestSummary>,
    want: Option<&ExpectedSummary>,
) -> Result<(), String> {
    match (got, want) {
        (None, None) => Ok(()),
        (Some(got), None) => Err(format!("{what}: expected no summary, got {got:?}")),
        (None, Some(want)) => Err(format!("{what}: expected {want:?}, got none")),
        (Some(got), Some(want)) => {
            let counts = (
                &got.format[..],
                got.ran,
                got.passed,
                got.failed,
                got.skipped,
                got.counts_exact,
            );
            let wanted = (
                &want.format[..],
                want.ran,
                want.passed,
                want.failed,
                want.skipped,
                want.counts_exact,
            );
            if counts != wanted {
                return Err(format!("{what}: counts {counts:?}, expected {wanted:?}"));
            }
            if got.failing != want.failing {
                return Err(format!(
                    "{what}: failing {:?}, expected {:?}",
                    got.failing, want.failing
                ));
            }
            if let Some(passing) = &want.passing
                && &got.passing != passing
            {
                return Err(format!(
                    "{what}: passing {:?}, expected {passing:?}",
                    got.passing
                ));
            }
            if let Some(load_errors) = &want.load_errors
                && &got.load_errors != load_errors
            {
                return Err(format!(
                    "{what}: load errors {:?}, expected {load_errors:?}",
                    got.load_errors
                ));
            }
            Ok(())
        }
    }
}

/// `build` against the fixture's copy of its project: every expected in-workspace location whose
/// file exists is an edit target, each edit target's line is inside a snippet, the related
/// files are the expected ones, and the budget holds.
fn check_context(
    name: &str,
    output: &str,
    root: &Path,
    map: &PathMap,
    expected: &Expected,
    related: &[String],
) -> Result<(), String> {
    let ctx = build(output, root, map, &|_| true, DEFAULT_CONTEXT_BUDGET_BYTES);
    for want in expected
        .locations
        .iter()
        .filter(|l| l.in_workspace && root.join(&l.path).is_file())
    {
        if !ctx
            .locations
            .iter()
            .any(|l| l.path == want.path && l.line == want.line)
        {
            return Err(format!("{name}: build lost {}:{}", want.path, want.line));
        }
    }
    for loc in &ctx.locations {
        let covered = ctx
            .snippets
            .iter()
            .any(|s| s.path == loc.path && s.start_line <= loc.line && loc.line <= s.end_line);
        if !covered {
            return Err(format!(
                "{name}: no snippet shows {}:{}",
                loc.path, loc.line
            ));
        }
    }
    if ctx.related != related {
        return Err(format!(
            "{name}: related {:?}, expected {related:?}",
            ctx.related
        ));
    }
    if ctx.assertions.is_empty() {
        return Err(format!("{name}: no failure message extracted"));
    }
    let used: usize = ctx.assertions.iter().map(String::len).sum::<usize>()
        + ctx
            .snippets
            .iter()
            .map(|s| s.text.len() + s.path.len())
            .sum::<usize>();
    if used > DEFAULT_CONTEXT_BUDGET_BYTES {
        return Err(format!("{name}: context uses {used} bytes"));
    }
    Ok(())
}

#[test]
fn corpus() {
    let dirs = fixtures();
    assert!(
        dirs.len() >= 30,
        "the corpus has {} fixtures, want at least 30",
        dirs.len()
    );
    let (mut expected_total, mut found_total) = (0usize, 0usize);
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let output = fs::read_to_string(dir.join("output.txt")).unwrap();
        let expected: Expected =
            serde_json::from_str(&fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap_or_else(|e| panic!("{name}/expected.json: {e}"));
        assert!(dir.join("source.md").is_file(), "{name} has no source.md");
        let map = PathMap {
            workspace: expected.workspace.clone(),
            sandbox: expected.sandbox.clone(),
            container_workdir: expected.container_workdir.clone(),
        };

        let got = locations(&output, &map);
        for want in &expected.locations {
            expected_total += 1;
            if got.iter().any(|l| {
                l.path == want.path && l.line == want.line && l.in_workspace == want.in_workspace
            }) {
                found_total += 1;
            } else {
                eprintln!(
                    "{name}: missed {}:{} (in_workspace {})",
                    want.path, want.line, want.in_workspace
                );
            }
        }

        if let Err(e) = check_summary(
            &name,
            test_summary(&output).as_ref(),
            expected.summary.as_ref(),
        ) {
            failures.push(e);
        }
        let junit = dir.join("junit.xml");
        if junit.is_file() {
            let xml = fs::read_to_string(&junit).unwrap();
            if let Err(e) = check_summary(
                &format!("{name}/junit.xml"),
                junit_summary(&xml).as_ref(),
                expected.junit.as_ref(),
            ) {
                failures.push(e);
            }
        }

        if let Some(related) = &expected.related
            && let Err(e) = check_context(
                &name,
                &output,
                &dir.join("workspace"),
                &map,
                &expected,
                related,
            )
        {
            failures.push(e);
        }

        let runner = runner_progress(&output);
        if let Some(want) = &expected.runner
            && &runner != want
        {
            failures.push(format!("{name}: runner {runner:?}, expected {want:?}"));
        }
        let verdict = match classify(
            expected.exit_code,
            expected.timed_out,
            &output,
            runner.as_ref(),
        ) {
            Classification::Code => "code".to_string(),
            Classification::Infra { rule, evidence, .. } => {
                if !output.contains(evidence.as_str()) && !evidence.starts_with("exit code") {
                    failures.push(format!(
                        "{name}: evidence {evidence:?} is not a line of the output"
                    ));
                }
                rule
            }
        };
        if verdict != expected.classification {
            failures.push(format!(
                "{name}: classified {verdict}, expected {}",
                expected.classification
            ));
        }
    }
    let recall = found_total as f64 / expected_total as f64;
    eprintln!(
        "location recall: {found_total}/{expected_total} = {:.1}% over {} fixtures",
        recall * 100.0,
        dirs.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        recall >= 0.9,
        "location recall {:.1}% is below 90%",
        recall * 100.0
    );
}

/// What the lead writes into the bundle and the prompt, for two fixtures whose failing tests
/// lead to the code under test.
#[test]
fn failure_context_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/context");
    for name in ["jest_fail", "rust_workspace"] {
        let dir = root.join(name);
        let output = fs::read_to_string(dir.join("output.txt")).unwrap();
        let expected: Expected =
            serde_json::from_str(&fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        let map = PathMap {
            workspace: expected.workspace,
            sandbox: expected.sandbox,
            container_workdir: expected.container_workdir,
        };
        let ctx = build(&output, &dir.join("workspace"), &map, &|_| true, 4_000);
        insta::assert_json_snapshot!(name, ctx);
    }
}
