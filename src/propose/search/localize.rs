//! Fault localization: which lines to edit first. Two sources, best first:
//! - a **spectrum** (which lines each failing and passing test ran), scored by Ochiai, when the
//!   session could record one (Python);
//! - a **backtrace** of the failing tests (Rust, run once with `RUST_BACKTRACE=1`): the frames
//!   in the project's own source, deepest first;
//! - the **stack**: frames in the project's own source files (tracebacks, panics, node stack
//!   traces, go test and goroutine lines, as `context` extracts them), then the functions the
//!   failing test's frames call (found by name in the files the test exercises; first those
//!   called on the failing line, then those called earlier in the test), then the functions
//!   around the frames.
//!
//! Pure over a [`SourceTree`]; the ranking is recorded in the bundle as is.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::lang::Lang;
use super::mutate::SourceFile;
use crate::context::{FailureContext, PathMap, SourceTree, is_test_file};

/// Why a line is ranked where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Ochiai suspiciousness from the failing and passing tests' coverage.
    Spectrum,
    /// A frame of the failing test's `RUST_BACKTRACE=1` backtrace in the project's source.
    Backtrace,
    /// A frame of the failure's traceback or panic in the project's source.
    Frame,
    /// In a function the failing test calls.
    CalledFunction,
    /// In the function around a frame.
    NearFrame,
    /// In a file the failing test exercises.
    RelatedFile,
}

/// A line worth editing, with its score (higher first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedLine {
    pub path: String,
    pub line: u32,
    pub score: f64,
    pub reason: Reason,
}

/// Which lines each test ran, and whether it failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spectrum {
    /// (path, line) → (failing tests that ran it, passing tests that ran it).
    pub lines: BTreeMap<(String, u32), (u32, u32)>,
    /// Failing tests in all.
    pub failed_total: u32,
}

impl Spectrum {
    /// Ochiai: failed(s) / sqrt(total_failed · (failed(s) + passed(s))).
    pub fn ochiai(&self, failed: u32, passed: u32) -> f64 {
        let denom = (f64::from(self.failed_total) * f64::from(failed + passed)).sqrt();
        if denom == 0.0 {
            0.0
        } else {
            f64::from(failed) / denom
        }
    }
}

impl Spectrum {
    /// Reads what `trace.py` wrote (test function name → `[path, line]` pairs) against the
    /// names of the failing tests as their runner printed them (`tests/t.py::test_a`,
    /// `t.T.test_a`): a traced test is failing when some failing name ends with its name.
    /// `None` when the trace is unreadable or saw no failing test (then it cannot rank).
    pub fn from_trace(trace: &str, failing: &[String]) -> Option<Spectrum> {
        let tests: BTreeMap<String, Vec<(String, u32)>> = serde_json::from_str(trace).ok()?;
        let fails = |name: &str| {
            failing.iter().any(|f| {
                let base = f.split('[').next().unwrap_or(f);
                base.rsplit([':', '.', ' ', '(']).next() == Some(name)
                    || base.trim_end_matches(')').rsplit('.').next() == Some(name)
            })
        };
        let mut s = Spectrum::default();
        for (test, lines) in &tests {
            let failed = fails(test);
            s.failed_total += u32::from(failed);
            for (path, line) in lines {
                let e = s.lines.entry((path.clone(), *line)).or_default();
                if failed {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
        }
        (s.failed_total > 0).then_some(s)
    }
}

/// The frames of `RUST_BACKTRACE=1` backtraces in `output` that are the project's own code, in
/// printed order (deepest first), each (workspace-relative path, line) once. Frames outside
/// the workspace (`/rustc/…`, `~/.cargo/registry`, vendored crates) and the test functions
/// themselves (in a `tests` module, or in a test file) are left out: they are the harness and
/// the assertion, not code to edit.
pub fn rust_backtrace(output: &str, map: &PathMap) -> Vec<(String, u32)> {
    let text = crate::context::strip_ansi(output);
    let mut out: Vec<(String, u32)> = Vec::new();
    let mut symbol: Option<String> = None;
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("stack backtrace:") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(c) = BT_SYMBOL.captures(line) {
            symbol = Some(c[1].to_owned());
            continue;
        }
        let Some(c) = BT_AT.captures(line) else {
            // A line that is neither a frame nor its location ends this backtrace.
            inside = false;
            symbol = None;
            continue;
        };
        let Some(sym) = symbol.as_deref() else {
            continue;
        };
        let test_code = sym.split("::").any(|p| p == "tests" || p == "test");
        let Some(mapped) = map.map(&c[1]) else {
            continue;
        };
        let line_no: u32 = c[2].parse().unwrap_or(0);
        let key = (mapped.path, line_no);
        if mapped.in_workspace
            && line_no > 0
            && !test_code
            && !is_test_file(&key.0)
            && !out.contains(&key)
        {
            out.push(key);
        }
    }
    out
}

/// `  12: crate::module::function` (the `N:` index of a backtrace frame).
static BT_SYMBOL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\d+: (\S.*)$").unwrap_or_else(|_| unreachable!()));
/// `             at ./src/lib.rs:4:5`.
static BT_AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+at (\S.*?):(\d+)(?::\d+)?$").unwrap_or_else(|_| unreachable!())
});

/// The tracer `Spectrum::from_trace` reads: installed as `sitecustomize` for one run.
pub const PYTHON_TRACER: &str = include_str!("trace.py");

/// Most lines considered; beyond this, a search would not reach them within any budget.
const MAX_LINES: usize = 400;

/// The ranking for a failure. `backtrace` is what [`rust_backtrace`] found (deepest first);
/// `editable` is the policy's write rule.
pub fn localize(
    tree: &dyn SourceTree,
    ctx: &FailureContext,
    spectrum: Option<&Spectrum>,
    backtrace: &[(String, u32)],
    editable: &dyn Fn(&str) -> bool,
) -> Vec<RankedLine> {
    let mut files = Files::new(tree, editable);
    let mut ranked: Vec<RankedLine> = Vec::new();
    let mut push = |path: &str, line: u32, score: f64, reason: Reason| {
        ranked.push(RankedLine {
            path: path.to_owned(),
            line,
            score,
            reason,
        });
    };
    if let Some(s) = spectrum {
        for ((path, line), (failed, passed)) in &s.lines {
            if *failed > 0 && files.get(path).is_some() {
                push(
                    path,
                    *line,
                    2.0 + s.ochiai(*failed, *passed),
                    Reason::Spectrum,
                );
            }
        }
    }
    // Backtrace frames between the spectrum and the printed frames: a backtrace names the
    // callers a panic message leaves out.
    for (k, (path, line)) in backtrace.iter().enumerate() {
        if !is_test_file(path) && files.get(path).is_some() {
            push(path, *line, 1.9 - 0.001 * k as f64, Reason::Backtrace);
        }
    }
    let frames: Vec<(String, u32)> = ctx
        .locations
        .iter()
        .map(|l| (l.path.clone(), l.line))
        .collect();
    // Frames in the project's source, deepest (last printed) first for tracebacks.
    for (k, (path, line)) in frames.iter().rev().enumerate() {
        if !is_test_file(path) && files.get(path).is_some() {
            push(path, *line, 1.5 - 0.001 * k as f64, Reason::Frame);
        }
    }
    // Functions the failing tests' frames call, and the functions around source frames.
    // A frame's own line first; then, in a test, the lines of the test above it (go test's
    // `t.Errorf` line reports a value an earlier line computed).
    let mut called: Vec<String> = Vec::new();
    let mut called_before: Vec<String> = Vec::new();
    for (path, line) in &frames {
        let Some(text) = tree.read(path) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        let at = (*line as usize).saturating_sub(1);
        if let Some(l) = lines.get(at) {
            for c in CALL.captures_iter(l) {
                if !called.contains(&c[1].to_owned()) {
                    called.push(c[1].to_owned());
                }
            }
        }
        if !is_test_file(path) {
            continue;
        }
        let Some(pattern) = Lang::of_path(path).map(definition_pattern) else {
            continue;
        };
        for l in lines[..at.min(lines.len())].iter().rev().take(30) {
            if pattern.is_match(l) {
                break;
            }
            for c in CALL.captures_iter(l) {
                let name = c[1].to_owned();
                if !called.contains(&name) && !called_before.contains(&name) {
                    called_before.push(name);
                }
            }
        }
    }
    let mut sources: Vec<String> = ctx.related.clone();
    for (path, _) in &frames {
        if !is_test_file(path) && !sources.contains(path) {
            sources.push(path.clone());
        }
    }
    for path in &sources {
        let Some(file) = files.get(path) else {
            continue;
        };
        for (name, range) in definitions(file) {
            let base = if called.contains(&name) {
                1.0
            } else if called_before.contains(&name) {
                0.9
            } else {
                continue;
            };
            for (i, line) in range.enumerate() {
                push(path, line, base - 0.001 * i as f64, Reason::CalledFunction);
            }
        }
    }
    for (path, line) in &frames {
        if is_test_file(path) {
            continue;
        }
        let Some(file) = files.get(path) else {
            continue;
        };
        for l in file.enclosing_lines(*line) {
            let distance = f64::from(l.abs_diff(*line));
            push(path, l, 0.8 - 0.001 * distance, Reason::NearFrame);
        }
    }
    for path in &ctx.related {
        let Some(file) = files.get(path) else {
            continue;
        };
        for (_, range) in definitions(file) {
            for (i, line) in range.enumerate() {
                push(path, line, 0.3 - 0.0001 * i as f64, Reason::RelatedFile);
            }
        }
    }
    // Best score per line, then by score (stable: first seen wins ties).
    let mut best: HashMap<(String, u32), usize> = HashMap::new();
    let mut out: Vec<RankedLine> = Vec::new();
    for r in ranked {
        match best.get(&(r.path.clone(), r.line)) {
            Some(&i) if out[i].score >= r.score => {}
            Some(&i) => out[i] = r,
            None => {
                best.insert((r.path.clone(), r.line), out.len());
                out.push(r);
            }
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(MAX_LINES);
    out
}

/// Names called on a line: `name(` and `.name(`.
static CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(").unwrap_or_else(|_| unreachable!())
});

/// Function definitions of a file: name and the 1-based lines of its body (after the signature
/// line).
fn definitions(file: &SourceFile) -> Vec<(String, std::ops::RangeInclusive<u32>)> {
    let pattern = definition_pattern(file.lang);
    let mut out = Vec::new();
    for (i, l) in file.text.lines().enumerate() {
        if let Some(name) = pattern
            .captures(l)
            .and_then(|c| c.iter().skip(1).flatten().next())
            .map(|m| m.as_str().to_owned())
            .filter(|n| !matches!(n.as_str(), "if" | "for" | "while" | "switch" | "catch"))
        {
            let line = i as u32 + 1;
            let range = file.enclosing_lines(line + 1);
            if range.start() <= &line && range.end() > &line {
                out.push((name, (line + 1)..=*range.end()));
            }
        }
    }
    out
}

/// The line that opens a function definition in `lang`; its first capture group that matched
/// is the name.
fn definition_pattern(lang: Lang) -> &'static Regex {
    match lang {
        Lang::Python => &PY_DEF,
        Lang::Rust => &RS_FN,
        Lang::JavaScript | Lang::TypeScript | Lang::Tsx => &JS_FUNCTION,
        Lang::Go => &GO_FUNC,
    }
}

static PY_DEF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)")
        .unwrap_or_else(|_| unreachable!())
});
static RS_FN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)")
        .unwrap_or_else(|_| unreachable!())
});

/// `function name(`, `name = function`, `name = (…) =>`, `name = x =>` and methods
/// (`name(…) {`), with `export`, `async` and TypeScript modifiers.
static JS_FUNCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)",
        r"|^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]*)?=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*(?::[^=]*)?=>|[A-Za-z_$][\w$]*\s*=>)",
        r"|^\s*(?:(?:public|private|protected|static|async|override|readonly)\s+)*([A-Za-z_$][\w$]*)\s*\([^)]*\)\s*(?::[^{]*)?\{\s*$",
    ))
    .unwrap_or_else(|_| unreachable!())
});
/// `func Name(` and methods `func (r *T) Name(`.
static GO_FUNC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^func\s+(?:\([^)]*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*[\[(]")
        .unwrap_or_else(|_| unreachable!())
});

/// Parsed files the search may edit, read once.
pub(crate) struct Files<'a> {
    tree: &'a dyn SourceTree,
    editable: &'a dyn Fn(&str) -> bool,
    parsed: HashMap<String, Option<SourceFile>>,
}

impl<'a> Files<'a> {
    pub(crate) fn new(tree: &'a dyn SourceTree, editable: &'a dyn Fn(&str) -> bool) -> Self {
        Files {
            tree,
            editable,
            parsed: HashMap::new(),
        }
    }

    /// The parsed file, when it is an editable, non-test source file of a language `search`
    /// knows.
    pub(crate) fn get(&mut self, path: &str) -> Option<&SourceFile> {
        if !self.parsed.contains_key(path) {
            let file = Lang::of_path(path)
                .filter(|_| !is_test_file(path) && (self.editable)(path))
                .and_then(|lang| Some((lang, self.tree.read(path)?)))
                .and_then(|(lang, text)| SourceFile::parse(path, lang, text));
            self.parsed.insert(path.to_owned(), file);
        }
        self.parsed.get(path).and_then(Option::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Location, MemTree};

    fn loc(path: &str, line: u32) -> Location {
        Location {
            path: path.into(),
            line,
            column: None,
            in_workspace: true,
            parser: "python",
            message: None,
            package: None,
        }
    }

    #[test]
    fn a_failing_test_line_leads_to_the_function_it_calls() {
        let tree = MemTree::with(&[
            (
                "calc.py",
                "import os\n\ndef add(a, b):\n    return a - b\n\ndef sub(a, b):\n    return a - b\n",
            ),
            (
                "tests/test_calc.py",
                "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n",
            ),
        ]);
        let ctx = FailureContext {
            locations: vec![loc("tests/test_calc.py", 4)],
            related: vec!["calc.py".into()],
            ..FailureContext::default()
        };
        let r = localize(&tree, &ctx, None, &[], &|_| true);
        assert_eq!((r[0].path.as_str(), r[0].line), ("calc.py", 4));
        assert_eq!(r[0].reason, Reason::CalledFunction);
        // `sub` is in the file the test exercises, but ranks below what the test calls.
        let sub = r.iter().position(|x| x.line == 7).unwrap();
        assert_eq!(r[sub].reason, Reason::RelatedFile);
        // Test files are never edit targets.
        assert!(r.iter().all(|x| x.path == "calc.py"));
    }

    #[test]
    fn source_frames_come_first_and_spectrum_above_all() {
        let tree = MemTree::with(&[(
            "lib.py",
            "def f(x):\n    y = x + 1\n    return g(y)\n\ndef g(y):\n    return 10 // y\n",
        )]);
        let ctx = FailureContext {
            locations: vec![loc("lib.py", 3), loc("lib.py", 6)],
            ..FailureContext::default()
        };
        let r = localize(&tree, &ctx, None, &[], &|_| true);
        // The deepest frame (printed last) first, then the other frame, then their functions.
        assert_eq!(r[0].line, 6);
        assert_eq!(r[1].line, 3);
        assert_eq!(r[0].reason, Reason::Frame);
        assert!(
            r.iter()
                .any(|x| x.line == 2 && x.reason == Reason::NearFrame)
        );
        let mut s = Spectrum {
            failed_total: 1,
            ..Spectrum::default()
        };
        s.lines.insert(("lib.py".into(), 2), (1, 0));
        s.lines.insert(("lib.py".into(), 5), (0, 3));
        let r = localize(&tree, &ctx, Some(&s), &[], &|_| true);
        assert_eq!((r[0].line, r[0].reason), (2, Reason::Spectrum));
        // A line only passing tests ran is no suspect of the spectrum's.
        assert!(
            !r.iter()
                .any(|x| x.line == 5 && x.reason == Reason::Spectrum)
        );
    }

    /// The tracer, run by a real Python over a real unittest suite, ranks the line only the
    /// failing test runs first.
    #[test]
    fn python_tracer_yields_a_spectrum_that_finds_the_bug() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        std::fs::create_dir_all(root.join(".pp-search")).unwrap();
        std::fs::write(
            root.join("calc.py"),
            "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    x = a\n    return x + b\n",
        )
        .unwrap();
        std::fs::write(
            root.join("tests/test_calc.py"),
            "import unittest\nfrom calc import add, sub\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n\n    def test_sub(self):\n        self.assertEqual(sub(3, 1), 2)\n",
        )
        .unwrap();
        std::fs::write(root.join(".pp-search/sitecustomize.py"), PYTHON_TRACER).unwrap();
        let out = root.join(".pp-search/trace.json");
        let status = std::process::Command::new("python3")
            .args(["-m", "unittest", "discover", "-s", "tests"])
            .current_dir(root)
            .env("PYTHONPATH", root.join(".pp-search"))
            .env("PP_SEARCH_TRACE_ROOT", root)
            .env("PP_SEARCH_TRACE_OUT", &out)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "test_sub fails");
        let trace = std::fs::read_to_string(&out).unwrap();
        let s = Spectrum::from_trace(&trace, &["test_calc.T.test_sub".to_owned()]).unwrap();
        assert_eq!(s.failed_total, 1);
        assert_eq!(s.lines.get(&("calc.py".to_owned(), 6)), Some(&(1, 0)));
        assert_eq!(s.lines.get(&("calc.py".to_owned(), 2)), Some(&(0, 1)));
        let tree = crate::context::DiskTree::new(root);
        let r = localize(&tree, &FailureContext::default(), Some(&s), &[], &|_| true);
        assert_eq!(r[0].reason, Reason::Spectrum);
        assert!(
            r.iter().take(2).all(|x| x.line == 5 || x.line == 6),
            "{r:?}"
        );
        assert!(
            !r.iter()
                .any(|x| x.line == 2 && x.reason == Reason::Spectrum)
        );
        // Unreadable traces and traces that saw no failing test do not rank.
        assert!(Spectrum::from_trace("not json", &[]).is_none());
        assert!(Spectrum::from_trace(&trace, &["other.test_x".to_owned()]).is_none());
    }

    /// Real `RUST_BACKTRACE=1` output of `cargo test` (Rust 1.95): an index out of bounds in a
    /// helper, called with the wrong index by `stats::last`, two calls below the test.
    const BACKTRACE: &str = include_str!("testdata/rust_backtrace.txt");

    #[test]
    fn rust_backtrace_keeps_the_projects_frames_deepest_first() {
        let frames = rust_backtrace(BACKTRACE, &PathMap::local("/w"));
        assert_eq!(
            frames,
            vec![
                ("src/util.rs".to_owned(), 3),
                ("src/stats.rs".to_owned(), 11),
                ("src/stats.rs".to_owned(), 5),
            ],
            "std frames (/rustc/…) and the test in tests/stats.rs are left out"
        );
        // Frames of a `tests` module, dependencies and absolute paths in the workspace.
        let unit = "stack backtrace:\n   0: core::panicking::panic_fmt\n             at /rustc/abc/library/core/src/panicking.rs:80:14\n   1: demo::calc::half\n             at /w/src/calc.rs:7:9\n   2: itoa::fmt\n             at /root/.cargo/registry/src/index.crates.io-1/itoa-1.0.0/src/lib.rs:4:1\n   3: demo::calc::tests::halves\n             at ./src/calc.rs:20:9\n   4: demo::calc::half\n             at ./src/calc.rs:7:9\nnote: Some details are omitted\n   5: demo::late\n             at ./src/late.rs:1:1\n";
        assert_eq!(
            rust_backtrace(unit, &PathMap::local("/w")),
            vec![("src/calc.rs".to_owned(), 7)]
        );
        // No backtrace, or garbage: nothing, and no panic.
        for text in [
            "",
            "stack backtrace:",
            "stack backtrace:\n 1: x\n at :0:0\n at a.rs:99999999999:1\n",
        ] {
            assert!(
                rust_backtrace(text, &PathMap::local("/w")).is_empty(),
                "{text}"
            );
        }
    }

    /// With the backtrace, the caller that passes the wrong index ranks right after the panic
    /// line; without it, the panic message names only the helper.
    #[test]
    fn backtrace_frames_rank_the_callers() {
        let tree = MemTree::with(&[
            ("src/lib.rs", "pub mod stats;\npub mod util;\n"),
            (
                "src/util.rs",
                "/// The `i`-th value.\npub fn nth(xs: &[i64], i: usize) -> i64 {\n    xs[i]\n}\n",
            ),
            (
                "src/stats.rs",
                "use crate::util::nth;\n\n/// The largest value minus the smallest of a sorted slice.\npub fn spread(sorted: &[i64]) -> i64 {\n    last(sorted) - nth(sorted, 0)\n}\n\n/// The last value.\npub fn last(xs: &[i64]) -> i64 {\n    let n = xs.len();\n    nth(xs, n)\n}\n",
            ),
        ]);
        let ctx = FailureContext {
            locations: vec![loc("src/util.rs", 3)],
            ..FailureContext::default()
        };
        let frames = rust_backtrace(BACKTRACE, &PathMap::local("/w"));
        let r = localize(&tree, &ctx, None, &frames, &|_| true);
        let top: Vec<(&str, u32, Reason)> = r
            .iter()
            .take(3)
            .map(|x| (x.path.as_str(), x.line, x.reason))
            .collect();
        assert_eq!(
            top,
            vec![
                ("src/util.rs", 3, Reason::Backtrace),
                ("src/stats.rs", 11, Reason::Backtrace),
                ("src/stats.rs", 5, Reason::Backtrace),
            ]
        );
        let without = localize(&tree, &ctx, None, &[], &|_| true);
        assert!(!without.iter().any(|x| x.path == "src/stats.rs"));
    }

    /// go test reports the `t.Errorf` line; the call that computed the value is above it.
    #[test]
    fn go_and_node_frames_lead_to_the_functions_the_test_calls() {
        let tree = MemTree::with(&[
            (
                "calc.go",
                "package calc\n\nfunc Max(a, b int) int {\n\tif a < b {\n\t\treturn a\n\t}\n\treturn b\n}\n\nfunc (c *Counter) Add(n int) {\n\tc.n += n\n}\n",
            ),
            (
                "calc_test.go",
                "package calc\n\nimport \"testing\"\n\nfunc TestMax(t *testing.T) {\n\tgot := Max(2, 3)\n\tif got != 3 {\n\t\tt.Errorf(\"Max(2, 3) = %d\", got)\n\t}\n}\n",
            ),
            (
                "src/calc.js",
                "export function clamp(x, lo, hi) {\n  if (x > hi) {\n    return lo;\n  }\n  return x;\n}\n\nexport const twice = (x) => {\n  return x * 2;\n};\n",
            ),
            (
                "test/calc.test.js",
                "import { clamp } from '../src/calc.js';\ntest('clamps', () => {\n  assert.equal(clamp(5, 0, 3), 3);\n});\n",
            ),
        ]);
        let ctx = FailureContext {
            locations: vec![loc("calc_test.go", 8)],
            related: vec!["calc.go".into()],
            ..FailureContext::default()
        };
        let r = localize(&tree, &ctx, None, &[], &|_| true);
        assert_eq!((r[0].path.as_str(), r[0].line), ("calc.go", 4), "{r:?}");
        assert_eq!(r[0].reason, Reason::CalledFunction);
        // The method of a type the test does not call ranks below.
        let add = r.iter().position(|x| x.line == 11).unwrap();
        assert_eq!(r[add].reason, Reason::RelatedFile);
        let ctx = FailureContext {
            locations: vec![loc("test/calc.test.js", 3)],
            related: vec!["src/calc.js".into()],
            ..FailureContext::default()
        };
        let r = localize(&tree, &ctx, None, &[], &|_| true);
        assert_eq!((r[0].path.as_str(), r[0].line), ("src/calc.js", 2), "{r:?}");
        assert_eq!(r[0].reason, Reason::CalledFunction);
        let twice = r.iter().position(|x| x.line == 9).unwrap();
        assert_eq!(r[twice].reason, Reason::RelatedFile);
    }

    #[test]
    fn ochiai_scores() {
        let s = Spectrum {
            failed_total: 2,
            ..Spectrum::default()
        };
        assert_eq!(s.ochiai(2, 0), 1.0);
        assert!((s.ochiai(1, 1) - 0.5).abs() < 1e-9);
        assert_eq!(s.ochiai(0, 5), 0.0);
    }

    #[test]
    fn files_the_policy_protects_are_not_ranked() {
        let tree = MemTree::with(&[("lib.py", "def f(x):\n    return x + 1\n")]);
        let ctx = FailureContext {
            locations: vec![loc("lib.py", 2)],
            ..FailureContext::default()
        };
        assert!(localize(&tree, &ctx, None, &[], &|p| p != "lib.py").is_empty());
    }
}
