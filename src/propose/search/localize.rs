//! Fault localization: which lines to edit first. Two sources, best first:
//! - a **spectrum** (which lines each failing and passing test ran), scored by Ochiai, when the
//!   session could record one;
//! - the **stack**: frames in the project's own source files, then the functions the failing
//!   test's frames call (found by name in the files the test exercises), then the functions
//!   around the frames.
//!
//! Pure over a [`SourceTree`]; the ranking is recorded in the bundle as is.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::lang::Lang;
use super::mutate::SourceFile;
use crate::context::{FailureContext, SourceTree, is_test_file};

/// Why a line is ranked where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Ochiai suspiciousness from the failing and passing tests' coverage.
    Spectrum,
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

/// The tracer `Spectrum::from_trace` reads: installed as `sitecustomize` for one run.
pub const PYTHON_TRACER: &str = include_str!("trace.py");

/// Most lines considered; beyond this, a search would not reach them within any budget.
const MAX_LINES: usize = 400;

/// The ranking for a failure. `editable` is the policy's write rule.
pub fn localize(
    tree: &dyn SourceTree,
    ctx: &FailureContext,
    spectrum: Option<&Spectrum>,
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
    let mut called: Vec<String> = Vec::new();
    for (path, line) in &frames {
        if let Some(text) = tree.read(path)
            && let Some(l) = text.lines().nth((*line as usize).saturating_sub(1))
        {
            for c in CALL.captures_iter(l) {
                if !called.contains(&c[1].to_owned()) {
                    called.push(c[1].to_owned());
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
            if called.contains(&name) {
                for (i, line) in range.enumerate() {
                    push(path, line, 1.0 - 0.001 * i as f64, Reason::CalledFunction);
                }
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
    let pattern: &Regex = match file.lang {
        Lang::Python => &PY_DEF,
        Lang::Rust => &RS_FN,
        Lang::JavaScript | Lang::TypeScript | Lang::Tsx => &JS_FUNCTION,
        Lang::Go => &GO_FUNC,
    };
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
        let r = localize(&tree, &ctx, None, &|_| true);
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
        let r = localize(&tree, &ctx, None, &|_| true);
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
        let r = localize(&tree, &ctx, Some(&s), &|_| true);
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
        let r = localize(&tree, &FailureContext::default(), Some(&s), &|_| true);
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
        assert!(localize(&tree, &ctx, None, &|p| p != "lib.py").is_empty());
    }
}
