//! From a failing test to the code under test: when every location is in a test file, follow
//! what the test imports (Python imports, Rust crate paths, JS/TS relative imports, the Go
//! package, Java imports) to the project's source files, ranked by how much of them the test
//! uses.

use super::pattern::compile;
use super::source::SourceTree;
use regex::Regex;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// A source file a failing test exercises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedFile {
    pub path: String,
    /// Names the test imports or calls that this file defines, with their definition lines.
    pub definitions: Vec<(String, u32)>,
}

/// True for files that hold tests rather than the code under test.
pub fn is_test_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    let in_test_dir = path
        .split('/')
        .rev()
        .skip(1)
        .any(|dir| matches!(dir, "tests" | "test" | "__tests__" | "spec" | "testing"));
    in_test_dir
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || name.contains(".test.")
        || name.contains(".spec.")
        || (name.ends_with(".java") && (stem.ends_with("Test") || stem.ends_with("Tests")))
        || name == "conftest.py"
}

/// Source files the given test files exercise, best first, skipping test files and files the
/// caller may not edit.
pub fn related_sources(
    tests: &[String],
    tree: &dyn SourceTree,
    editable: &dyn Fn(&str) -> bool,
) -> Vec<RelatedFile> {
    // (path, stem matches a test's stem, symbols, first-seen order)
    let mut found: Vec<(String, bool, BTreeSet<String>)> = Vec::new();
    for test in tests {
        let Some(text) = tree.read(test) else {
            continue;
        };
        let (candidates, symbols) = imports(test, &text, tree);
        for path in candidates {
            if is_test_file(&path) || !editable(&path) || !tree.exists(&path) {
                continue;
            }
            let stem_match = stem(&path) == test_stem(test);
            match found.iter_mut().find(|(p, _, _)| *p == path) {
                Some(entry) => {
                    entry.1 |= stem_match;
                    entry.2.extend(symbols.iter().cloned());
                }
                None => found.push((path, stem_match, symbols.iter().cloned().collect())),
            }
        }
    }
    let mut ranked: Vec<(usize, RelatedFile, bool)> = found
        .into_iter()
        .enumerate()
        .map(|(order, (path, stem_match, symbols))| {
            let text = tree.read(&path).unwrap_or_default();
            let definitions = symbols
                .iter()
                .filter_map(|s| definition_line(&text, s).map(|l| (s.clone(), l)))
                .collect();
            (order, RelatedFile { path, definitions }, stem_match)
        })
        .collect();
    ranked.sort_by(|a, b| {
        (b.1.definitions.len(), b.2)
            .cmp(&(a.1.definitions.len(), a.2))
            .then(a.0.cmp(&b.0))
    });
    ranked.into_iter().map(|(_, file, _)| file).collect()
}

fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split('.').next().unwrap_or(name)
}

/// `test_ops.py`, `ops_test.go`, `ops.test.ts`, `OpsTest.java` → `ops`/`Ops`.
fn test_stem(path: &str) -> &str {
    let s = stem(path);
    let s = s.strip_prefix("test_").unwrap_or(s);
    let s = s.strip_suffix("_test").unwrap_or(s);
    let s = s.strip_suffix("Tests").unwrap_or(s);
    s.strip_suffix("Test").unwrap_or(s)
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// Candidate source paths and the symbols the test uses, by the test file's language.
fn imports(test: &str, text: &str, tree: &dyn SourceTree) -> (Vec<String>, Vec<String>) {
    match test.rsplit('.').next().unwrap_or("") {
        "py" => python_imports(test, text),
        "rs" => rust_imports(test, text, tree),
        "js" | "jsx" | "ts" | "tsx" | "mjs" | "cjs" | "mts" | "cts" => js_imports(test, text),
        "go" => go_package(test, text, tree),
        "java" => java_imports(test, text),
        _ => (Vec::new(), Vec::new()),
    }
}

static PY_FROM: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?m)^\s*from\s+(\.*[\w.]*)\s+import\s+\(?([\w\s,*]+)"));
static PY_IMPORT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?m)^\s*import\s+([\w.]+(?:\s*,\s*[\w.]+)*)"));

fn python_imports(test: &str, text: &str) -> (Vec<String>, Vec<String>) {
    let mut modules: Vec<String> = Vec::new();
    let mut symbols = Vec::new();
    let test_dir = dir_of(test);
    for caps in PY_FROM.captures_iter(text) {
        let module = &caps[1];
        let names: Vec<&str> = caps[2]
            .split(',')
            .map(|n| n.split_whitespace().next().unwrap_or(""))
            .filter(|n| !n.is_empty() && *n != "*")
            .collect();
        let base = if module.starts_with('.') {
            let dots = module.len() - module.trim_start_matches('.').len();
            let mut dir = test_dir.to_string();
            for _ in 1..dots {
                dir = dir_of(&dir).to_string();
            }
            let rest = module.trim_start_matches('.').replace('.', "/");
            if rest.is_empty() {
                dir
            } else if dir.is_empty() {
                rest
            } else {
                format!("{dir}/{rest}")
            }
        } else {
            module.replace('.', "/")
        };
        modules.push(base.clone());
        for name in names {
            // `from pkg import module` names a module as often as a function.
            modules.push(if base.is_empty() {
                name.to_string()
            } else {
                format!("{base}/{name}")
            });
            symbols.push(name.to_string());
        }
    }
    for caps in PY_IMPORT.captures_iter(text) {
        for module in caps[1].split(',') {
            modules.push(module.trim().replace('.', "/"));
        }
    }
    let mut candidates = Vec::new();
    for module in modules.iter().filter(|m| !m.is_empty()) {
        for root in ["", "src/", "lib/"] {
            candidates.push(format!("{root}{module}.py"));
            candidates.push(format!("{root}{module}/__init__.py"));
        }
        if !test_dir.is_empty() {
            candidates.push(format!("{test_dir}/{module}.py"));
        }
    }
    (candidates, symbols)
}

static CARGO_NAME: LazyLock<Regex> = LazyLock::new(|| compile(r#"(?m)^\s*name\s*=\s*"([^"]+)""#));
static RUST_MOD: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?m)^\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+(\w+)\s*;"));
static RUST_IDENT: LazyLock<Regex> = LazyLock::new(|| compile(r"[A-Za-z_]\w*"));

fn rust_imports(test: &str, text: &str, tree: &dyn SourceTree) -> (Vec<String>, Vec<String>) {
    // The crate the test belongs to: the nearest Cargo.toml above it.
    let mut dir = dir_of(test).to_string();
    let (crate_dir, manifest) = loop {
        let manifest_path = if dir.is_empty() {
            "Cargo.toml".to_string()
        } else {
            format!("{dir}/Cargo.toml")
        };
        if let Some(manifest) = tree.read(&manifest_path) {
            break (dir, manifest);
        }
        if dir.is_empty() {
            return (Vec::new(), Vec::new());
        }
        dir = dir_of(&dir).to_string();
    };
    let prefix = if crate_dir.is_empty() {
        String::new()
    } else {
        format!("{crate_dir}/")
    };
    // `[lib] name` wins over `[package] name` when present; both are found by the same pattern,
    // so try each spelling.
    let names: Vec<String> = CARGO_NAME
        .captures_iter(&manifest)
        .map(|c| c[1].replace('-', "_"))
        .collect();
    let mut candidates = vec![format!("{prefix}src/lib.rs")];
    // Items are usually re-exported from modules declared in lib.rs; those modules are where
    // the definitions live.
    if let Some(lib) = tree.read(&format!("{prefix}src/lib.rs")) {
        for caps in RUST_MOD.captures_iter(&lib) {
            candidates.push(format!("{prefix}src/{}.rs", &caps[1]));
            candidates.push(format!("{prefix}src/{}/mod.rs", &caps[1]));
        }
    }
    let mut symbols = Vec::new();
    for name in names {
        let Ok(usage) = Regex::new(&format!(
            r"\b{}::((?:\{{[^}}]*\}}|[\w:])+)",
            regex::escape(&name)
        )) else {
            continue;
        };
        for caps in usage.captures_iter(text) {
            let idents: Vec<&str> = RUST_IDENT.find_iter(&caps[1]).map(|m| m.as_str()).collect();
            let mut path = String::new();
            let mut in_modules = true;
            for ident in idents {
                // Module segments come first; after a type (`Point::new`) the rest are items.
                in_modules &= ident.chars().next().is_some_and(char::is_lowercase);
                if in_modules && ident != "self" {
                    let module = if path.is_empty() {
                        ident.to_string()
                    } else {
                        format!("{path}/{ident}")
                    };
                    candidates.push(format!("{prefix}src/{module}.rs"));
                    candidates.push(format!("{prefix}src/{module}/mod.rs"));
                    path = module;
                }
                symbols.push(ident.to_string());
            }
        }
    }
    // Methods called on imported types (`a.midpoint(&b)`) are what the test exercises too.
    symbols.extend(method_calls(text));
    (candidates, symbols)
}

static METHOD_CALL: LazyLock<Regex> = LazyLock::new(|| compile(r"\.([a-z_]\w*)\("));

fn method_calls(text: &str) -> Vec<String> {
    const COMMON: &[&str] = &[
        "unwrap",
        "expect",
        "clone",
        "to_string",
        "into",
        "iter",
        "len",
        "new",
        "collect",
        "map",
    ];
    METHOD_CALL
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .filter(|m| !COMMON.contains(&m.as_str()))
        .collect()
}

static JS_IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?:import\s+(?:([\w$]+)\s*,?\s*)?(?:\{([^}]*)\}\s*)?(?:\*\s+as\s+[\w$]+\s*)?from\s*|require\(\s*|import\(\s*|import\s+)['"](\.{1,2}/[^'"]+)['"]"#,
    )
});
static JS_CONST_REQUIRE: LazyLock<Regex> = LazyLock::new(|| {
    compile(r#"(?:const|let|var)\s+\{([^}]*)\}\s*=\s*require\(\s*['"](\.{1,2}/[^'"]+)['"]"#)
});

fn js_imports(test: &str, text: &str) -> (Vec<String>, Vec<String>) {
    let dir = dir_of(test);
    let mut candidates = Vec::new();
    let mut symbols = Vec::new();
    let mut add = |spec: &str| {
        let Some(base) = join(dir, spec) else { return };
        let trimmed = base.trim_end_matches(".js").to_string();
        candidates.push(base.clone());
        for ext in ["ts", "tsx", "js", "jsx", "mjs", "cjs", "mts"] {
            candidates.push(format!("{trimmed}.{ext}"));
            candidates.push(format!("{base}/index.{ext}"));
        }
    };
    for caps in JS_IMPORT.captures_iter(text) {
        add(&caps[3]);
        symbols.extend(caps.get(1).map(|m| m.as_str().to_string()));
        if let Some(names) = caps.get(2) {
            symbols.extend(js_names(names.as_str()));
        }
    }
    for caps in JS_CONST_REQUIRE.captures_iter(text) {
        add(&caps[2]);
        symbols.extend(js_names(&caps[1]));
    }
    (candidates, symbols)
}

fn js_names(list: &str) -> Vec<String> {
    list.split(',')
        .filter_map(|n| n.split_whitespace().next())
        .filter(|n| !n.is_empty() && *n != "type")
        .map(str::to_string)
        .collect()
}

static GO_CALL: LazyLock<Regex> = LazyLock::new(|| compile(r"\b([A-Z]\w*)\("));

fn go_package(test: &str, text: &str, tree: &dyn SourceTree) -> (Vec<String>, Vec<String>) {
    let dir = dir_of(test);
    let candidates = tree
        .list(dir)
        .into_iter()
        .filter(|name| name.ends_with(".go") && !name.ends_with("_test.go"))
        .map(|name| {
            if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            }
        })
        .collect();
    let symbols = GO_CALL
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .filter(|s| !s.starts_with("Test"))
        .collect();
    (candidates, symbols)
}

static JAVA_IMPORT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?m)^import\s+(?:static\s+)?([\w.]+)\s*;"));
static JAVA_PACKAGE: LazyLock<Regex> = LazyLock::new(|| compile(r"(?m)^package\s+([\w.]+)\s*;"));

fn java_imports(test: &str, text: &str) -> (Vec<String>, Vec<String>) {
    let mut classes: Vec<String> = JAVA_IMPORT
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .collect();
    if let Some(package) = JAVA_PACKAGE.captures(text) {
        classes.push(format!("{}.{}", &package[1], test_stem(test)));
    }
    let mut candidates = Vec::new();
    let mut symbols = Vec::new();
    for class in classes {
        let path = class.replace('.', "/");
        symbols.push(class.rsplit('.').next().unwrap_or(&class).to_string());
        for root in ["src/main/java/", "src/", ""] {
            candidates.push(format!("{root}{path}.java"));
        }
    }
    (candidates, symbols)
}

/// The line where `symbol` is defined in `text`, by the definition keywords of the supported
/// languages.
pub(crate) fn definition_line(text: &str, symbol: &str) -> Option<u32> {
    let pattern = format!(
        r"^\s*(?:(?:pub(?:\([\w:]+\))?|export|default|async|static|public|private|protected|final|abstract|unsafe|const|extern)\s+)*(?:def|class|fn|struct|enum|trait|type|interface|function\*?|func(?:\s*\([^)]*\))?|const|let|var|impl)\s+{}\b",
        regex::escape(symbol)
    );
    let re = Regex::new(&pattern).ok()?;
    let js_assign = Regex::new(&format!(
        r"^\s*(?:export\s+)?(?:const|let|var)\s+{}\s*=",
        regex::escape(symbol)
    ))
    .ok()?;
    text.lines()
        .position(|line| re.is_match(line) || js_assign.is_match(line))
        .and_then(|i| u32::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::source::MemTree;

    fn all(_: &str) -> bool {
        true
    }

    #[test]
    fn test_files() {
        for p in [
            "tests/test_a.py",
            "pkg/a_test.go",
            "src/a.test.ts",
            "__tests__/x.js",
            "src/test/java/FooTest.java",
            "crates/x/tests/y.rs",
        ] {
            assert!(is_test_file(p), "{p}");
        }
        for p in ["src/a.py", "pkg/a.go", "src/contest.ts", "src/latest.rs"] {
            assert!(!is_test_file(p), "{p}");
        }
    }

    #[test]
    fn python_from_import() {
        let tree = MemTree::with(&[
            (
                "tests/test_ops.py",
                "import pytest\nfrom calc.ops import add, divide\n\ndef test_a():\n    assert add(1, 2) == 3\n",
            ),
            ("src/calc/__init__.py", ""),
            (
                "src/calc/ops.py",
                "def add(a, b):\n    return a + b\n\n\ndef divide(a, b):\n    return a / b\n",
            ),
        ]);
        let got = related_sources(&["tests/test_ops.py".into()], &tree, &all);
        assert_eq!(got[0].path, "src/calc/ops.py");
        assert_eq!(
            got[0].definitions,
            vec![("add".to_string(), 1), ("divide".to_string(), 5)]
        );
    }

    #[test]
    fn rust_crate_paths_in_a_workspace() {
        let tree = MemTree::with(&[
            ("crates/geo/Cargo.toml", "[package]\nname = \"geo-core\"\n"),
            (
                "crates/geo/src/lib.rs",
                "pub mod point;\npub use point::Point;\n",
            ),
            (
                "crates/geo/src/point.rs",
                "pub struct Point;\nimpl Point {\n    pub fn distance(&self) {}\n}\n",
            ),
            (
                "crates/geo/tests/point.rs",
                "use geo_core::Point;\n#[test]\nfn t() { Point::new(1.0).distance(&b); }\n",
            ),
        ]);
        let got = related_sources(&["crates/geo/tests/point.rs".into()], &tree, &all);
        assert_eq!(got[0].path, "crates/geo/src/point.rs");
        assert!(got[0].definitions.contains(&("distance".to_string(), 3)));
        assert!(got.iter().any(|f| f.path == "crates/geo/src/lib.rs"));
    }

    #[test]
    fn js_require_and_go_package() {
        let tree = MemTree::with(&[
            (
                "__tests__/slug.test.js",
                "const { slugify } = require('../src/slug');\n",
            ),
            ("src/slug.js", "function slugify(t) {\n  return t;\n}\n"),
            (
                "calc/calc_test.go",
                "package calc\nfunc TestAdd(t *testing.T) { Add(1, 2) }\n",
            ),
            (
                "calc/calc.go",
                "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
            ),
        ]);
        let got = related_sources(&["__tests__/slug.test.js".into()], &tree, &all);
        assert_eq!(got[0].path, "src/slug.js");
        assert_eq!(got[0].definitions, vec![("slugify".to_string(), 1)]);
        let got = related_sources(&["calc/calc_test.go".into()], &tree, &all);
        assert_eq!(got[0].path, "calc/calc.go");
        assert_eq!(got[0].definitions, vec![("Add".to_string(), 3)]);
    }

    #[test]
    fn non_editable_files_are_skipped() {
        let tree = MemTree::with(&[
            ("test_a.py", "from a import f\n"),
            ("a.py", "def f():\n    pass\n"),
        ]);
        assert!(related_sources(&["test_a.py".into()], &tree, &|_| false).is_empty());
    }
}
