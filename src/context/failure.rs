//! `build`: assembles the `FailureContext` a proposer sees from a failing command's output and
//! the sandbox's files, within a byte budget, failure messages first.

use super::assertions::assertions;
use super::extract::locations;
use super::location::Location;
use super::paths::PathMap;
use super::pattern::{compile, strip_ansi};
use super::related::{RelatedFile, is_test_file, related_sources};
use super::snippets::{Focus, Snippet, snippets};
use super::source::{DiskTree, SourceTree};
use super::summary::{TestSummary, test_summary};
use regex::Regex;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

/// The proposed default for the policy key `context_budget_bytes`: the bytes of failure
/// messages plus snippets handed to a proposer. About 6k tokens, room for a few functions.
pub const DEFAULT_CONTEXT_BUDGET_BYTES: usize = 24_000;

/// The evidence for one failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FailureContext {
    /// Failure messages (assertions with expected/actual, panics, exceptions, compile errors).
    pub assertions: Vec<String>,
    /// Editable positions in the project, best first.
    pub locations: Vec<Location>,
    /// Positions that are not edit targets: dependencies, the toolchain, files outside the
    /// workspace, and files the policy protects. In-workspace paths that name no file in the
    /// sandbox are dropped: they were misread or are generated.
    pub hints: Vec<Location>,
    /// Source files the failing tests exercise, best first (when every location is in a test).
    pub related: Vec<String>,
    pub snippets: Vec<Snippet>,
    pub summary: Option<TestSummary>,
    /// Snippets left out because the budget was spent.
    pub omitted_snippets: u32,
}

/// Builds the failure context for `output` against the files under `root` (the sandbox).
pub fn build(
    output: &str,
    root: &Path,
    map: &PathMap,
    editable: &dyn Fn(&str) -> bool,
    budget_bytes: usize,
) -> FailureContext {
    build_from(output, &DiskTree::new(root), map, editable, budget_bytes)
}

/// `build` over any `SourceTree`.
pub fn build_from(
    output: &str,
    tree: &dyn SourceTree,
    map: &PathMap,
    editable: &dyn Fn(&str) -> bool,
    budget_bytes: usize,
) -> FailureContext {
    let text = strip_ansi(output);
    let mut primary = Vec::new();
    let mut hints = Vec::new();
    let go_module = tree
        .read("go.mod")
        .and_then(|m| GO_MODULE.captures(&m).map(|c| c[1].to_string()));
    let mut exists: HashMap<String, bool> = HashMap::new();
    for mut loc in locations(&text, map) {
        resolve_package(&mut loc, go_module.as_deref());
        resolve_source_root(&mut loc, tree);
        let readable = loc.in_workspace
            && *exists
                .entry(loc.path.clone())
                .or_insert_with(|| tree.exists(&loc.path));
        if readable && editable(&loc.path) {
            primary.push(loc);
        } else {
            // A path that names no file in the sandbox was misread (or is generated): not a hint
            // either, unless it is outside the workspace.
            if readable || !loc.in_workspace {
                hints.push(loc);
            }
        }
    }
    let summary = test_summary(&text);
    let messages = assertions(&text, &primary);

    // Tests in play: in-workspace locations in test files, plus test files named by failing ids.
    let workspace_locs: Vec<&Location> = primary
        .iter()
        .chain(hints.iter().filter(|h| h.in_workspace))
        .collect();
    let all_in_tests = workspace_locs.iter().all(|l| is_test_file(&l.path));
    let mut tests: Vec<String> = Vec::new();
    for loc in &workspace_locs {
        if is_test_file(&loc.path) && !tests.contains(&loc.path) {
            tests.push(loc.path.clone());
        }
    }
    if let Some(summary) = &summary {
        for name in &summary.failing {
            let path = test_file_of(name).filter(|p| is_test_file(p) && tree.exists(p));
            if let Some(path) = path.filter(|p| !tests.contains(p)) {
                tests.push(path);
            }
        }
    }
    let related: Vec<RelatedFile> = if all_in_tests && !tests.is_empty() {
        related_sources(&tests, tree, editable)
    } else {
        Vec::new()
    };

    // Budget: messages first, at most half of it, then snippets in rank order.
    let mut kept_messages = Vec::new();
    let mut used = 0;
    for message in messages {
        if used + message.len() > budget_bytes / 2 {
            break;
        }
        used += message.len();
        kept_messages.push(message);
    }
    let mut focuses: Vec<Focus> = primary
        .iter()
        .map(|l| Focus {
            path: l.path.clone(),
            line: l.line,
        })
        .collect();
    for file in &related {
        if file.definitions.is_empty() {
            focuses.push(Focus {
                path: file.path.clone(),
                line: 1,
            });
        }
        focuses.extend(file.definitions.iter().map(|(_, line)| Focus {
            path: file.path.clone(),
            line: *line,
        }));
    }
    focuses.extend(hints.iter().filter(|h| h.in_workspace).map(|l| Focus {
        path: l.path.clone(),
        line: l.line,
    }));
    let read = |path: &str| tree.read(path);
    let (snippets, omitted_snippets) = snippets(&focuses, &read, budget_bytes.saturating_sub(used));

    FailureContext {
        assertions: kept_messages,
        locations: primary,
        hints,
        related: related.into_iter().map(|f| f.path).collect(),
        snippets,
        summary,
        omitted_snippets,
    }
}

static GO_MODULE: LazyLock<Regex> = LazyLock::new(|| compile(r"(?m)^module\s+(\S+)"));

/// go test names files by base name; place them in their package's folder using `go.mod`.
fn resolve_package(loc: &mut Location, module: Option<&str>) {
    let (Some(package), Some(module)) = (loc.package.as_deref(), module) else {
        return;
    };
    if loc.path.contains('/') {
        return;
    }
    if package == module {
        return;
    }
    if let Some(dir) = package
        .strip_prefix(module)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        loc.path = format!("{dir}/{}", loc.path);
    }
}

/// Source roots JVM builds keep package folders under.
const JVM_SOURCE_ROOTS: &[&str] = &[
    "src/main/java",
    "src/test/java",
    "src/main/kotlin",
    "src/test/kotlin",
    "src/main/scala",
    "src/test/scala",
    "src",
    "app/src/main/java",
    "app/src/test/java",
];

/// JVM frames name `com/acme/Invoice.java`; find the source root that holds it.
fn resolve_source_root(loc: &mut Location, tree: &dyn SourceTree) {
    if loc.parser != "java" || !loc.in_workspace || tree.exists(&loc.path) {
        return;
    }
    if let Some(found) = JVM_SOURCE_ROOTS
        .iter()
        .map(|root| format!("{root}/{}", loc.path))
        .find(|p| tree.exists(p))
    {
        loc.path = found;
    }
}

/// The file part of a failing test's id: `tests/t.py::test_a`, `test/a.test.ts > s > t`.
fn test_file_of(name: &str) -> Option<String> {
    let file = name
        .split("::")
        .next()
        .filter(|_| name.contains("::"))
        .or_else(|| name.split(" > ").next().filter(|_| name.contains(" > ")))?;
    let file = file.trim().trim_start_matches("./");
    (file.contains('.') && !file.contains(' ')).then(|| file.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::source::MemTree;

    fn all(_: &str) -> bool {
        true
    }

    #[test]
    fn test_only_locations_lead_to_the_code_under_test() {
        let tree = MemTree::with(&[
            (
                "tests/test_ops.py",
                "from calc.ops import clamp\n\n\ndef test_clamp_high():\n    assert clamp(15, 0, 10) == 10\n",
            ),
            (
                "src/calc/ops.py",
                "def clamp(x, lo, hi):\n    if x > hi:\n        return lo\n    return x\n",
            ),
        ]);
        let out = "_____ test_clamp_high _____\n\n>       assert clamp(15, 0, 10) == 10\nE       assert 0 == 10\n\ntests/test_ops.py:5: AssertionError\n=== short test summary info ===\nFAILED tests/test_ops.py::test_clamp_high - assert 0 == 10\n=== 1 failed in 0.01s ===\n";
        let ctx = build_from(out, &tree, &PathMap::local("/w"), &all, 10_000);
        assert_eq!(ctx.assertions[0], "assert 0 == 10");
        assert_eq!(ctx.locations[0].path, "tests/test_ops.py");
        assert_eq!(ctx.related, vec!["src/calc/ops.py"]);
        let paths: Vec<&str> = ctx.snippets.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, vec!["tests/test_ops.py", "src/calc/ops.py"]);
        assert!(ctx.snippets[1].text.contains("def clamp"));
        assert_eq!(ctx.summary.unwrap().failed, 1);
    }

    #[test]
    fn protected_and_missing_files_are_hints_or_dropped() {
        let tree = MemTree::with(&[
            ("src/a.rs", "fn a() {\n    panic!()\n}\n"),
            ("tests/t.rs", "#[test]\nfn t() { a() }\n"),
        ]);
        let out = "thread 't' panicked at src/a.rs:2:5:\nboom\n  --> src/gone.rs:3:1\nerror: x\n   at /rustc/abc/library/core/src/panicking.rs:10:5\n    at ./tests/t.rs:2:10\n";
        let editable = |p: &str| !p.starts_with("tests/");
        let ctx = build_from(out, &tree, &PathMap::local("/w"), &editable, 10_000);
        assert_eq!(ctx.locations.len(), 1);
        assert_eq!(ctx.locations[0].path, "src/a.rs");
        let hint_paths: Vec<&str> = ctx.hints.iter().map(|h| h.path.as_str()).collect();
        assert!(hint_paths.contains(&"tests/t.rs"));
        assert!(hint_paths.contains(&"/rustc/abc/library/core/src/panicking.rs"));
        assert!(!hint_paths.contains(&"src/gone.rs"));
    }

    #[test]
    fn go_base_names_resolve_through_go_mod() {
        let tree = MemTree::with(&[
            ("go.mod", "module example.com/tools\n\ngo 1.22\n"),
            ("internal/text/strings_test.go", "package text\n"),
        ]);
        let out = "--- FAIL: TestReverse (0.00s)\n    strings_test.go:1: bad\nFAIL\nFAIL\texample.com/tools/internal/text\t0.003s\n";
        let ctx = build_from(out, &tree, &PathMap::local("/w"), &all, 10_000);
        assert_eq!(ctx.locations[0].path, "internal/text/strings_test.go");
    }

    #[test]
    fn jvm_frames_find_their_source_root() {
        let tree = MemTree::with(&[("src/main/java/com/acme/Invoice.java", "class Invoice {}\n")]);
        let out = "java.lang.ArithmeticException: / by zero\n\tat com.acme.Invoice.average(Invoice.java:1)\n";
        let ctx = build_from(out, &tree, &PathMap::local("/w"), &all, 10_000);
        assert_eq!(ctx.locations[0].path, "src/main/java/com/acme/Invoice.java");
    }

    #[test]
    fn budget_is_respected() {
        let body: String = (0..200).map(|i| format!("    x{i} = {i}\n")).collect();
        let tree = MemTree::with(&[("a.py", &format!("def f():\n{body}"))]);
        let out = "Traceback (most recent call last):\n  File \"/w/a.py\", line 100, in f\nValueError: bad\n";
        for budget in [200, 1_000, 24_000] {
            let ctx = build_from(out, &tree, &PathMap::local("/w"), &all, budget);
            let used: usize = ctx.assertions.iter().map(String::len).sum::<usize>()
                + ctx
                    .snippets
                    .iter()
                    .map(|s| s.text.len() + s.path.len())
                    .sum::<usize>();
            assert!(used <= budget, "{used} > {budget}");
        }
        let ctx = build_from(out, &tree, &PathMap::local("/w"), &all, 24_000);
        assert!(
            ctx.snippets[0].text.contains("> 100 |     x98 = 98"),
            "{}",
            ctx.snippets[0].text
        );
    }

    #[test]
    fn test_file_of_ids() {
        assert_eq!(
            test_file_of("tests/t.py::test_a[1]").as_deref(),
            Some("tests/t.py")
        );
        assert_eq!(
            test_file_of("test/a.test.ts > s > t").as_deref(),
            Some("test/a.test.ts")
        );
        assert_eq!(test_file_of("tests::it_works"), None);
    }
}
