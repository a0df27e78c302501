//! The tests are the judge: when the write rules guard tests (`policy.allow_test_edits` off), a
//! candidate may not change what the tests are or how they run. Three checks, all pure:
//!
//! * **Test files** (by path, `context::is_test_file`) and **whole harness files** a runner
//!   reads before any test (`pytest.ini`, `tox.ini`, `conftest.py`, `sitecustomize.py`, `.pth`
//!   files, `.cargo/config.toml`, nextest's config, Jest/Vitest/Mocha/Karma/AVA configs and setup
//!   files) may not be written at all: `check_path`, before anything touches disk.
//! * **Test sections of shared files** may not change: `Cargo.toml` (`[[test]]`, `[[bench]]`,
//!   `[profile.test]`, and `test`/`harness`/`doctest`/`autotests`/`autobenches`/`bench` keys),
//!   `pyproject.toml` (`[tool.pytest…]`, `[tool.tox…]`), `setup.cfg` (`[tool:pytest]`),
//!   `package.json` (`test*`/`pretest`/`posttest` scripts, `jest`, `mocha`, `ava`, `vitest`
//!   keys), Maven's `pom.xml` and Gradle builds (lines about surefire, failsafe, skipping and
//!   excluding tests): `check_change`, on the files' contents before and after.
//! * **Test-level edits in any other source file**: fewer test definitions (`#[test]`,
//!   `#[cfg(test)]`, `def test_…`, `class Test…`, `func Test…`, `it(`/`test(`/`describe(`), more
//!   disabling marks (`#[ignore]`, `#[should_panic]`, `#[cfg(not(test))]`, skip and xfail
//!   decorators, `skipTest`, `.skip`/`.only`, `xit`, `t.Skip`), or, in a file that had none,
//!   process exits (`sys.exit`, `os._exit`, `std::process::exit`, `process.exit`, `os.Exit`)
//!   and assignments to test-framework objects (`unittest.…`, `pytest.…`, `TestCase.…`).
//!
//!   For Rust and Python, also any edit of a test's own text: a `#[test]` function or a
//!   `#[cfg(test)]` module, a `def test…` or `class Test…` (deleting an assertion or weakening
//!   an expected value is as much a test edit as deleting the test), found with tree-sitter.
//!
//! Counting markers before and after, and comparing the tests' texts as a multiset, makes moved
//! code neutral; markers in comments and strings count too, which errs on the side of the judge.

use std::sync::LazyLock;

use regex::Regex;

use super::error::{Rejection, Rule};

const HINT: &str = "tests decide whether a fix works: change the code under test, not the tests or how they run (`policy.allow_test_edits: true` allows test edits)";

/// Harness files a runner reads before any test, by file name.
const HARNESS_NAMES: &[&str] = &[
    "pytest.ini",
    ".pytest.ini",
    "tox.ini",
    "conftest.py",
    "noxfile.py",
    "sitecustomize.py",
    "usercustomize.py",
    "setupTests.js",
    "setupTests.ts",
    "karma.conf.js",
    "karma.conf.cjs",
    "karma.conf.ts",
];

/// Harness files by name prefix (any extension): `jest.config.js`, `vitest.workspace.ts`, …
const HARNESS_PREFIXES: &[&str] = &[
    "jest.config.",
    "jest.setup.",
    "vitest.config.",
    "vitest.workspace.",
    "vitest.setup.",
    ".mocharc.",
    "ava.config.",
];

fn re(pattern: &str) -> Regex {
    crate::context::compile_pattern(pattern)
}

/// Why `path` may not be written at all while tests are guarded; `None` when it may.
fn whole_file_reason(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if HARNESS_NAMES.contains(&name) || HARNESS_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some("test-runner configuration");
    }
    if name.ends_with(".pth") {
        return Some("a `.pth` file, which Python runs at start-up");
    }
    let dir_is = |dir: &str| {
        path.strip_suffix(name)
            .and_then(|p| p.strip_suffix('/'))
            .is_some_and(|parent| parent == dir || parent.ends_with(&format!("/{dir}")))
    };
    if dir_is(".cargo") && (name == "config.toml" || name == "config") {
        return Some("cargo configuration (runners, flags and aliases for `cargo test`)");
    }
    if dir_is(".config") && name == "nextest.toml" {
        return Some("nextest configuration");
    }
    if crate::context::is_test_file(path) {
        return Some("a test file");
    }
    None
}

/// Refuses a path that is a test file or a whole harness file.
pub(crate) fn check_path(path: &str) -> Result<(), Rejection> {
    match whole_file_reason(path) {
        None => Ok(()),
        Some(what) => Err(Rejection::at_path(
            Rule::TestFileEdit,
            path,
            format!("`{path}` is {what}; it may not change (policy.allow_test_edits is false)"),
        )
        .with_hint(HINT)),
    }
}

/// Refuses a change of a file's test sections, or a test-level edit in a source file.
pub(crate) fn check_change(
    path: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<(), Rejection> {
    let (before, after) = (before.unwrap_or(""), after.unwrap_or(""));
    if before == after {
        return Ok(());
    }
    let reject =
        |message: String| Err(Rejection::at_path(Rule::TestEdit, path, message).with_hint(HINT));
    if let Some((what, old, new)) = harness_sections(path, before, after)
        && old != new
    {
        return reject(format!(
            "`{path}`: the candidate changes {what}, which decides how the tests run"
        ));
    }
    let Some(lang) = Lang::of(path) else {
        return Ok(());
    };
    for m in lang.markers() {
        let (old, new) = (
            m.pattern.find_iter(before).count(),
            m.pattern.find_iter(after).count(),
        );
        let broken = match m.kind {
            Kind::Definition => new < old,
            Kind::Disabling => new > old,
            Kind::Foreign => old == 0 && new > 0,
        };
        if broken {
            let did = match m.kind {
                Kind::Definition => {
                    format!("removes or disables {} ({old} before, {new} after)", m.what)
                }
                Kind::Disabling => format!("adds {} ({old} before, {new} after)", m.what),
                Kind::Foreign => format!("adds {}, which the file did not have", m.what),
            };
            return reject(format!("`{path}`: the candidate {did}"));
        }
    }
    if let Some(name) = changed_test(lang, before, after) {
        return reject(format!(
            "`{path}`: the candidate changes or removes the test `{name}` (its body, attributes or decorators)"
        ));
    }
    Ok(())
}

// ---- tests defined in source files ----

/// The first test whose text (attributes or decorators included) the change edits or removes,
/// by name: Rust items marked `#[test]`, `#[…::test]` or `#[cfg(test)]` (a test module whole),
/// Python `def test…` functions and `class Test…` classes. Parsed with tree-sitter; a file that
/// does not parse falls back to the marker counts alone. Tests added are not edits.
fn changed_test(lang: Lang, before: &str, after: &str) -> Option<String> {
    let language: tree_sitter::Language = match lang {
        Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
        Lang::Python => tree_sitter_python::LANGUAGE.into(),
        Lang::Js | Lang::Go => return None,
    };
    let regions = |text: &str| {
        let mut parser = tree_sitter::Parser::new();
        parser.set_language(&language).ok()?;
        let tree = parser.parse(text, None)?;
        let mut out = Vec::new();
        test_regions(lang, text, tree.root_node(), &mut out);
        Some(out)
    };
    let (old, mut new) = (regions(before)?, regions(after)?);
    for (name, text) in old {
        match new.iter().position(|(_, t)| *t == text) {
            Some(i) => {
                new.swap_remove(i);
            }
            None => return Some(name),
        }
    }
    None
}

static RUST_TEST_ATTR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^#\[\s*(?:(?:[\w:]+::)?test\b|cfg\s*\(\s*test\s*\)|rstest\b|test_case\b|quickcheck\b|proptest\b)",
    )
});

/// Collects (name, text) of the tests under `node`, not descending into one.
fn test_regions(lang: Lang, text: &str, node: tree_sitter::Node, out: &mut Vec<(String, String)>) {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        let region = match lang {
            Lang::Rust => rust_test(text, child),
            Lang::Python => python_test(text, child),
            Lang::Js | Lang::Go => None,
        };
        match region {
            Some(r) => out.push(r),
            None => test_regions(lang, text, child, out),
        }
    }
}

fn rust_test(text: &str, item: tree_sitter::Node) -> Option<(String, String)> {
    if !matches!(
        item.kind(),
        "function_item" | "mod_item" | "impl_item" | "macro_invocation"
    ) {
        return None;
    }
    let mut start = item.start_byte();
    let mut marked = false;
    let mut prev = item.prev_sibling();
    while let Some(p) = prev.filter(|p| p.kind() == "attribute_item" || p.kind() == "line_comment")
    {
        if p.kind() == "attribute_item" {
            marked |= RUST_TEST_ATTR.is_match(&text[p.byte_range()]);
            start = p.start_byte();
        }
        prev = p.prev_sibling();
    }
    if !marked {
        return None;
    }
    let name = item.child_by_field_name("name").map_or_else(
        || "<unnamed>".to_owned(),
        |n| text[n.byte_range()].to_owned(),
    );
    Some((name, text[start..item.end_byte()].to_owned()))
}

fn python_test(text: &str, node: tree_sitter::Node) -> Option<(String, String)> {
    let def = if node.kind() == "decorated_definition" {
        node.child_by_field_name("definition")?
    } else {
        node
    };
    let name = text[def.child_by_field_name("name")?.byte_range()].to_owned();
    let is_test = match def.kind() {
        "function_definition" => name.starts_with("test"),
        "class_definition" => name.starts_with("Test"),
        _ => false,
    };
    is_test.then(|| (name, text[node.byte_range()].to_owned()))
}

// ---- test sections of shared files ----

static TOML_HEADER: LazyLock<Regex> =
    LazyLock::new(|| re(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$"));
static CARGO_TEST_KEY: LazyLock<Regex> =
    LazyLock::new(|| re(r"^\s*(?:autotests|autobenches|test|harness|doctest|bench)\s*="));
static BUILD_TEST_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)skipTests|maven\.test\.skip|testFailureIgnore|ignoreFailures|surefire|failsafe|<excludes?>|<includes?>|\btest\s*\{|tasks\.(?:named\s*\(\s*.)?test\b|\bexclude\s*[(\x22\x27]|\bfilter\s*\{",
    )
});

/// For a file with test sections: what they are, and their lines before and after.
fn harness_sections(
    path: &str,
    before: &str,
    after: &str,
) -> Option<(&'static str, Vec<String>, Vec<String>)> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let sections =
        |keep: fn(&str, &str) -> bool| (section_lines(before, keep), section_lines(after, keep));
    let (what, (old, new)) = match name {
        "Cargo.toml" => (
            "Cargo.toml's test settings (`[[test]]`, `[[bench]]`, `[profile.test]`, `test`/`harness`/`doctest`/`autotests` keys)",
            sections(|section, line| {
                matches!(section, "test" | "bench" | "profile.test" | "profile.bench")
                    || CARGO_TEST_KEY.is_match(line)
            }),
        ),
        "pyproject.toml" => (
            "pyproject.toml's pytest or tox settings",
            sections(|section, _| {
                section.starts_with("tool.pytest") || section.starts_with("tool.tox")
            }),
        ),
        "setup.cfg" => (
            "setup.cfg's `[tool:pytest]` section",
            sections(|section, _| section == "tool:pytest" || section == "pytest"),
        ),
        "package.json" => return package_json(before, after),
        "pom.xml" | "build.gradle" | "build.gradle.kts" => (
            "the build's test configuration (surefire, failsafe, skipped or excluded tests)",
            (
                matching_lines(before, &BUILD_TEST_LINE),
                matching_lines(after, &BUILD_TEST_LINE),
            ),
        ),
        _ => return None,
    };
    Some((what, old, new))
}

/// The lines `keep` selects, each with its section, ignoring blank lines and comments.
fn section_lines(text: &str, keep: fn(&str, &str) -> bool) -> Vec<String> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(caps) = TOML_HEADER.captures(line) {
            section = caps[1].replace(' ', "");
            if keep(&section, "") {
                out.push(format!("[{section}]"));
            }
            continue;
        }
        if keep(&section, trimmed) {
            out.push(format!("{section}: {trimmed}"));
        }
    }
    out
}

fn matching_lines(text: &str, pattern: &Regex) -> Vec<String> {
    text.lines()
        .filter(|l| pattern.is_match(l))
        .map(|l| l.trim().to_owned())
        .collect()
}

/// `package.json`'s test scripts and runner keys, before and after (as JSON text).
fn package_json(before: &str, after: &str) -> Option<(&'static str, Vec<String>, Vec<String>)> {
    let pick = |text: &str| -> Option<Vec<String>> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let mut out = Vec::new();
        if let Some(scripts) = v.get("scripts").and_then(|s| s.as_object()) {
            for (k, script) in scripts {
                if k.starts_with("test") || k == "pretest" || k == "posttest" {
                    out.push(format!("scripts.{k}: {script}"));
                }
            }
        }
        for key in ["jest", "mocha", "ava", "vitest"] {
            if let Some(config) = v.get(key) {
                out.push(format!("{key}: {config}"));
            }
        }
        Some(out)
    };
    // A file that does not parse on either side fails the build on its own.
    Some((
        "package.json's test scripts or test-runner settings",
        pick(before)?,
        pick(after)?,
    ))
}

// ---- test-level edits in source files ----

#[derive(Clone, Copy)]
enum Kind {
    /// Tests: fewer of them is a removed or disabled test.
    Definition,
    /// Marks that skip or weaken tests: more of them is a disabled test.
    Disabling,
    /// Things test-free code has no business adding (process exits, framework patching): new
    /// in a file that had none.
    Foreign,
}

struct Marker {
    what: &'static str,
    kind: Kind,
    pattern: Regex,
}

#[derive(Clone, Copy)]
enum Lang {
    Rust,
    Python,
    Js,
    Go,
}

impl Lang {
    fn of(path: &str) -> Option<Lang> {
        let ext = path.rsplit_once('.').map(|(_, e)| e)?;
        Some(match ext {
            "rs" => Lang::Rust,
            "py" | "pyi" => Lang::Python,
            "js" | "jsx" | "mjs" | "cjs" | "ts" | "tsx" | "mts" | "cts" => Lang::Js,
            "go" => Lang::Go,
            _ => return None,
        })
    }

    fn markers(self) -> &'static [Marker] {
        match self {
            Lang::Rust => &RUST,
            Lang::Python => &PYTHON,
            Lang::Js => &JS,
            Lang::Go => &GO,
        }
    }
}

fn marker(what: &'static str, kind: Kind, pattern: &str) -> Marker {
    Marker {
        what,
        kind,
        pattern: re(pattern),
    }
}

static RUST: LazyLock<Vec<Marker>> = LazyLock::new(|| {
    vec![
        marker(
            "`#[test]` functions",
            Kind::Definition,
            r"#\[\s*(?:[\w:]+::)?test\s*\]",
        ),
        marker(
            "`#[cfg(test)]` modules",
            Kind::Definition,
            r"#\[\s*cfg\s*\(\s*test\s*\)\s*\]",
        ),
        marker("`#[ignore]` marks", Kind::Disabling, r"#\[\s*ignore\b"),
        marker(
            "`#[should_panic]` marks",
            Kind::Disabling,
            r"#\[\s*should_panic\b",
        ),
        marker(
            "`#[cfg(…)]` conditions that compile tests out",
            Kind::Disabling,
            r"#\[\s*cfg(?:_attr)?\s*\(\s*(?:not\s*\(\s*test\s*\)|any\s*\(\s*\)|FALSE|false)",
        ),
        marker(
            "`std::process::exit` calls",
            Kind::Foreign,
            r"\bprocess::exit\s*\(",
        ),
    ]
});

static PYTHON: LazyLock<Vec<Marker>> = LazyLock::new(|| {
    vec![
        marker(
            "test functions (`def test…`)",
            Kind::Definition,
            r"(?m)^\s*(?:async\s+)?def\s+test\w*\s*\(",
        ),
        marker(
            "test classes (`class Test…`)",
            Kind::Definition,
            r"(?m)^\s*class\s+Test\w*",
        ),
        marker(
            "skip or expected-failure marks",
            Kind::Disabling,
            r"@\s*(?:unittest\s*\.\s*)?(?:skip\w*|expectedFailure)\b|@\s*pytest\s*\.\s*mark\s*\.\s*(?:skip\w*|xfail)\b|\bpytest\s*\.\s*(?:skip|xfail)\s*\(|\.skipTest\s*\(|\bSkipTest\b|__test__\s*=\s*False",
        ),
        marker(
            "process exits (`sys.exit`, `os._exit`, `SystemExit`)",
            Kind::Foreign,
            r"\bsys\s*\.\s*exit\s*\(|\bos\s*\.\s*_exit\s*\(|\bSystemExit\b|(?m)^\s*(?:exit|quit)\s*\(",
        ),
        marker(
            "assignments to test-framework objects (`unittest.…`, `pytest.…`, `TestCase.…`)",
            Kind::Foreign,
            r"\b(?:unittest|_?pytest|TestCase)(?:\s*\.\s*\w+)+\s*=[^=]|\bsetattr\s*\(\s*(?:unittest|_?pytest|TestCase)\b",
        ),
    ]
});

static JS: LazyLock<Vec<Marker>> = LazyLock::new(|| {
    vec![
        marker(
            "tests (`it(`, `test(`, `describe(`)",
            Kind::Definition,
            r"(?:^|[^.\w$])(?:it|test|describe)\s*\(",
        ),
        marker(
            "`.skip`, `.only`, `.todo`, `xit` or `fit` marks",
            Kind::Disabling,
            r"\b(?:it|test|describe|suite)\s*\.\s*(?:skip|only|todo|fails)\b|(?:^|[^.\w$])[xf](?:it|describe|test)\s*\(",
        ),
        marker(
            "`process.exit` calls",
            Kind::Foreign,
            r"\bprocess\s*\.\s*(?:exit|reallyExit)\s*\(",
        ),
    ]
});

static GO: LazyLock<Vec<Marker>> = LazyLock::new(|| {
    vec![
        marker(
            "test functions (`func Test…`)",
            Kind::Definition,
            r"(?m)^func\s+(?:Test|Benchmark|Fuzz|Example)\w*\s*\(",
        ),
        marker(
            "`t.Skip` calls",
            Kind::Disabling,
            r"\b\w+\s*\.\s*Skip(?:Now|f)?\s*\(",
        ),
        marker("`os.Exit` calls", Kind::Foreign, r"\bos\s*\.\s*Exit\s*\("),
    ]
});

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_of(r: Result<(), Rejection>) -> Option<String> {
        r.err().map(|r| format!("{} {}", r.rule(), r.message))
    }

    #[test]
    fn harness_files_by_path() {
        for path in [
            "pytest.ini",
            "sub/tox.ini",
            "tests/conftest.py",
            "conftest.py",
            ".cargo/config.toml",
            "crates/a/.cargo/config",
            ".config/nextest.toml",
            "jest.config.ts",
            "web/vitest.config.mts",
            ".mocharc.yml",
            "src/setupTests.ts",
            "sitecustomize.py",
            "venv/lib/site-packages/evil.pth",
            "tests/test_calc.py",
            "pkg/calc_test.go",
        ] {
            let got = check_path(path);
            assert_eq!(
                got.as_ref().map_err(|r| r.rule()),
                Err("test_file_edit"),
                "{path}"
            );
        }
        for path in [
            "src/lib.rs",
            "calc.py",
            "Cargo.toml",
            "package.json",
            "config.toml",
            "src/jest_helpers.js",
        ] {
            assert!(check_path(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn cargo_toml_test_keys() {
        let before =
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n\n[dependencies]\nregex = \"1\"\n";
        // A dependency bump is fine.
        assert!(
            check_change(
                "Cargo.toml",
                Some(before),
                Some(&before.replace("\"1\"", "\"1.10\""))
            )
            .is_ok()
        );
        for after in [
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nautotests = false\n\n[dependencies]\nregex = \"1\"\n",
            &format!("{before}\n[[test]]\nname = \"it\"\nharness = false\n"),
            &format!("{before}\n[lib]\ntest = false\n"),
            &format!("{before}\n[profile.test]\nopt-level = 3\n"),
        ] {
            let got = rule_of(check_change("Cargo.toml", Some(before), Some(after)));
            assert!(
                got.as_deref().is_some_and(|g| g.starts_with("test_edit")),
                "{after}: {got:?}"
            );
        }
    }

    #[test]
    fn python_and_js_configs() {
        let before = "[project]\nname = \"x\"\n\n[tool.pytest.ini_options]\naddopts = \"-q\"\n\n[tool.ruff]\nline-length = 100\n";
        let deselect = before.replace("\"-q\"", "\"-q -k 'not slow'\"");
        assert!(check_change("pyproject.toml", Some(before), Some(&deselect)).is_err());
        let ruff = before.replace("100", "120");
        assert!(check_change("pyproject.toml", Some(before), Some(&ruff)).is_ok());
        let cfg = "[metadata]\nname = x\n\n[tool:pytest]\ntestpaths = tests\n";
        assert!(
            check_change(
                "setup.cfg",
                Some(cfg),
                Some(&format!("{cfg}addopts = -p no_fail\n"))
            )
            .is_err()
        );
        assert!(
            check_change(
                "setup.cfg",
                Some(cfg),
                Some(&cfg.replace("name = x", "name = y"))
            )
            .is_ok()
        );

        let pkg = r#"{"name": "x", "scripts": {"test": "jest", "build": "tsc"}, "dependencies": {"a": "1"}}"#;
        let bypass = pkg.replace("\"jest\"", "\"exit 0\"");
        assert!(check_change("package.json", Some(pkg), Some(&bypass)).is_err());
        let build = pkg.replace("\"tsc\"", "\"tsc -p .\"");
        assert!(check_change("package.json", Some(pkg), Some(&build)).is_ok());
        let jest = pkg.replace(
            "\"dependencies\"",
            "\"jest\": {\"testPathIgnorePatterns\": [\"calc\"]}, \"dependencies\"",
        );
        assert!(check_change("package.json", Some(pkg), Some(&jest)).is_err());

        let pom = "<project>\n  <build>\n  </build>\n</project>\n";
        let skip = pom.replace(
            "<build>",
            "<build>\n    <properties><skipTests>true</skipTests></properties>",
        );
        assert!(check_change("pom.xml", Some(pom), Some(&skip)).is_err());
    }

    /// Deleting an assertion, weakening an expected value or rewriting a test's body is a test
    /// edit, not only removing the test: the tests are the judge.
    #[test]
    fn the_body_of_an_inline_test_is_the_judge_s() {
        let before = "pub fn mid(a: i64, b: i64) -> i64 {\n    (a - b) / 2\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn middle() {\n        assert_eq!(mid(2, 8), 5);\n    }\n}\n";
        for after in [
            before.replace("        assert_eq!(mid(2, 8), 5);\n", "        \n"),
            before.replace("5);", "-3);"),
            before.replace(
                "    use super::*;\n",
                "    use super::*;\n    fn helper() {}\n",
            ),
        ] {
            let r = rule_of(check_change("src/lib.rs", Some(before), Some(&after)));
            assert!(
                r.as_deref()
                    .is_some_and(|r| r.starts_with("test_edit") && r.contains("`tests`")),
                "{after}: {r:?}"
            );
        }
        // The code under test is free to change; so is where the test module sits.
        let fixed = before.replace("(a - b) / 2", "(a + b) / 2");
        assert_eq!(
            rule_of(check_change("src/lib.rs", Some(before), Some(&fixed))),
            None
        );
        let moved = format!(
            "#[cfg(test)]{}\n\npub fn mid(a: i64, b: i64) -> i64 {{\n    (a + b) / 2\n}}\n",
            before.split("#[cfg(test)]").nth(1).unwrap()
        );
        assert_eq!(
            rule_of(check_change("src/lib.rs", Some(before), Some(&moved))),
            None
        );
        let py =
            "def area(w, h):\n    return w * h\n\n\ndef test_area():\n    assert area(2, 3) == 6\n";
        let weakened = py.replace("== 6", "== 5");
        let r = rule_of(check_change("shapes.py", Some(py), Some(&weakened)));
        assert!(r.is_some_and(|r| r.contains("the test `test_area`")));
        let fixed = py.replace("w * h", "w * h + 0");
        assert_eq!(
            rule_of(check_change("shapes.py", Some(py), Some(&fixed))),
            None
        );
    }

    #[test]
    fn rust_inline_tests() {
        let before = "pub fn f() -> i32 { 1 }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn one() { assert_eq!(super::f(), 1); }\n    #[test]\n    fn two() { assert_eq!(super::f(), 2); }\n}\n";
        let cases = [
            (
                "deleted test",
                before.replace(
                    "    #[test]\n    fn two() { assert_eq!(super::f(), 2); }\n",
                    "",
                ),
            ),
            (
                "module compiled out",
                before.replace("#[cfg(test)]", "#[cfg(all(test, any()))]"),
            ),
            ("cfg removed", before.replace("#[cfg(test)]\n", "")),
            (
                "ignored",
                before.replace(
                    "    #[test]\n    fn two",
                    "    #[test]\n    #[ignore]\n    fn two",
                ),
            ),
            (
                "should_panic",
                before.replace(
                    "    #[test]\n    fn two",
                    "    #[test]\n    #[should_panic]\n    fn two",
                ),
            ),
            (
                "exit",
                before.replace("fn two() {", "fn two() { std::process::exit(0);"),
            ),
            (
                "not test",
                before.replace("#[cfg(test)]", "#[cfg(not(test))]"),
            ),
        ];
        for (what, after) in cases {
            let got = check_change("src/lib.rs", Some(before), Some(&after));
            assert_eq!(
                got.map_err(|r| r.rule().to_owned()),
                Err("test_edit".to_owned()),
                "{what}"
            );
        }
        // Fixing the code, moving a test, or touching a file with an exit already is fine.
        assert!(
            check_change(
                "src/lib.rs",
                Some(before),
                Some(&before.replace("{ 1 }", "{ 2 }"))
            )
            .is_ok()
        );
        let main = "fn main() {\n    if bad() { std::process::exit(2); }\n}\n";
        let more = main.replace(
            "exit(2); }",
            "exit(2); }\n    if worse() { std::process::exit(3); }",
        );
        assert!(check_change("src/main.rs", Some(main), Some(&more)).is_ok());
    }

    #[test]
    fn python_js_go_source_edits() {
        let py = "import unittest\n\ndef add(a, b):\n    return a - b\n";
        for after in [
            format!("{py}\nunittest.TestCase.assertEqual = lambda *a, **k: None\n"),
            format!("import sys\n{py}\nsys.exit(0)\n"),
            format!("import os\n{py}os._exit(0)\n"),
            format!("{py}\nsetattr(unittest.TestCase, 'assertEqual', print)\n"),
        ] {
            assert!(
                check_change("calc.py", Some(py), Some(&after)).is_err(),
                "{after}"
            );
        }
        assert!(check_change("calc.py", Some(py), Some(&py.replace("a - b", "a + b"))).is_ok());
        // An equality test is not an assignment.
        let cmp = format!("{py}\nOK = unittest.TestCase.maxDiff == None\n");
        assert!(check_change("calc.py", Some(py), Some(&cmp)).is_ok());
        let inline =
            "def add(a, b):\n    return a - b\n\ndef test_add():\n    assert add(1, 1) == 2\n";
        assert!(
            check_change(
                "calc.py",
                Some(inline),
                Some("def add(a, b):\n    return a - b\n")
            )
            .is_err()
        );
        let skipped = inline.replace("def test_add", "@pytest.mark.skip\ndef test_add");
        assert!(check_change("calc.py", Some(inline), Some(&skipped)).is_err());

        let js = "export function add(a, b) { return a - b }\nif (import.meta.vitest) {\n  const { it, expect } = import.meta.vitest\n  it('adds', () => expect(add(1, 1)).toBe(2))\n}\n";
        assert!(
            check_change(
                "src/add.ts",
                Some(js),
                Some(&js.replace("it('adds'", "it.skip('adds'"))
            )
            .is_err()
        );
        assert!(check_change("src/add.ts", Some(js), Some(&js.replace("a - b", "a + b"))).is_ok());
        assert!(
            check_change(
                "src/add.ts",
                Some(js),
                Some(&format!("{js}process.exit(0)\n"))
            )
            .is_err()
        );
        // `re.test(s)` is a method call, not a test.
        let re = "const ok = /x/.test(s)\n";
        assert!(check_change("src/v.js", Some(re), Some("const ok = true\n")).is_ok());

        let go = "package calc\n\nfunc Add(a, b int) int { return a - b }\n";
        assert!(
            check_change(
                "calc.go",
                Some(go),
                Some(&format!("{go}\nfunc init() {{ os.Exit(0) }}\n"))
            )
            .is_err()
        );
    }
}
