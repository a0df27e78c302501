use super::*;

fn py(src: &str) -> SourceFile {
    SourceFile::parse("m.py", Lang::Python, src.to_owned()).unwrap()
}

fn rs(src: &str) -> SourceFile {
    SourceFile::parse("m.rs", Lang::Rust, src.to_owned()).unwrap()
}

/// The edited versions of `line`, as (operator, new line text).
fn edits(f: &SourceFile, line: u32) -> Vec<(Operator, String)> {
    f.mutants_at(line)
        .iter()
        .map(|m| {
            let text = m.apply(&f.text);
            let l = text.lines().nth(line as usize - 1).unwrap_or("").to_owned();
            (m.operator, l)
        })
        .collect()
}

fn has(e: &[(Operator, String)], op: Operator, line: &str) -> bool {
    e.iter().any(|(o, l)| *o == op && l == line)
}

#[test]
fn python_operators_edit_tokens_in_place() {
    let src = "def f(a, b, xs):\n    if a < b and b != 0:\n        return xs[a] + a * 2\n    return max(a, b)  # keep   this comment\n";
    let f = py(src);
    let e2 = edits(&f, 2);
    assert!(
        has(&e2, Operator::Relational, "    if a <= b and b != 0:"),
        "{e2:?}"
    );
    assert!(has(&e2, Operator::Relational, "    if a < b and b == 0:"));
    assert!(has(
        &e2,
        Operator::LogicalConnector,
        "    if a < b or b != 0:"
    ));
    assert!(has(
        &e2,
        Operator::NegateCondition,
        "    if not (a < b and b != 0):"
    ));
    assert!(has(
        &e2,
        Operator::IntegerLiteral,
        "    if a < b and b != 1:"
    ));
    assert!(has(&e2, Operator::SwapOperands, "    if b < a and b != 0:"));
    assert!(has(
        &e2,
        Operator::ReplaceVariable,
        "    if xs < b and b != 0:"
    ));
    let e3 = edits(&f, 3);
    assert!(
        has(&e3, Operator::Arithmetic, "        return xs[a] - a * 2"),
        "{e3:?}"
    );
    assert!(has(
        &e3,
        Operator::IndexBound,
        "        return xs[a + 1] + a * 2"
    ));
    assert!(has(
        &e3,
        Operator::IndexBound,
        "        return xs[a - 1] + a * 2"
    ));
    assert!(has(
        &e3,
        Operator::IntegerLiteral,
        "        return xs[a] + a * 3"
    ));
    let e4 = edits(&f, 4);
    assert!(
        has(
            &e4,
            Operator::SwapArguments,
            "    return max(b, a)  # keep   this comment"
        ),
        "{e4:?}"
    );
    // Every mutant changes only its own bytes: the rest of the file is untouched.
    for m in f.mutants_at(3) {
        let out = m.apply(src);
        assert_eq!(&out[..m.start], &src[..m.start]);
        assert_eq!(&out[m.start + m.replacement.len()..], &src[m.end..]);
    }
    // Names that are not variables are never swapped: the called `max`, the parameter list.
    assert!(
        !e4.iter()
            .any(|(_, l)| l.contains("return a(") || l.contains("xs(a, b)"))
    );
}

#[test]
fn python_literals_slices_statements_and_membership() {
    let src = "def g(items, n):\n    done = False\n    items.append(n)\n    head = items[1:n]\n    return n not in head\n";
    let f = py(src);
    assert!(has(
        &edits(&f, 2),
        Operator::BooleanLiteral,
        "    done = True"
    ));
    assert!(has(&edits(&f, 3), Operator::DeleteStatement, "    pass"));
    let e4 = edits(&f, 4);
    assert!(
        has(&e4, Operator::IndexBound, "    head = items[1:n + 1]"),
        "{e4:?}"
    );
    assert!(has(&e4, Operator::IntegerLiteral, "    head = items[0:n]"));
    assert!(has(
        &edits(&f, 5),
        Operator::Relational,
        "    return n in head"
    ));
}

#[test]
fn rust_operators_ranges_and_negation() {
    let src = "fn f(v: &[i32], n: usize) -> i32 {\n    let mut s = 0;\n    for i in 0..n {\n        if !(v[i] > 0) || i % 2 == 1 {\n            s += v[i];\n        }\n    }\n    s\n}\n";
    let f = rs(src);
    let e3 = edits(&f, 3);
    assert!(
        has(&e3, Operator::IndexBound, "    for i in 0..=n {"),
        "{e3:?}"
    );
    assert!(has(&e3, Operator::IndexBound, "    for i in 0..n - 1 {"));
    let e4 = edits(&f, 4);
    assert!(
        has(
            &e4,
            Operator::LogicalConnector,
            "        if !(v[i] > 0) && i % 2 == 1 {"
        ),
        "{e4:?}"
    );
    assert!(has(
        &e4,
        Operator::NegateCondition,
        "        if (v[i] > 0) || i % 2 == 1 {"
    ));
    assert!(has(
        &e4,
        Operator::Relational,
        "        if !(v[i] >= 0) || i % 2 == 1 {"
    ));
    assert!(has(
        &e4,
        Operator::IndexBound,
        "        if !(v[i + 1] > 0) || i % 2 == 1 {"
    ));
    let e5 = edits(&f, 5);
    assert!(
        has(&e5, Operator::Arithmetic, "            s -= v[i];"),
        "{e5:?}"
    );
    assert!(has(&e5, Operator::DeleteStatement, "            "));
}

#[test]
fn rust_let_conditions_and_suffixed_literals() {
    let src = "fn g(x: Option<u8>) -> u8 {\n    if let Some(y) = x {\n        return y + 1u8;\n    }\n    0u8\n}\n";
    let f = rs(src);
    assert!(
        !edits(&f, 2)
            .iter()
            .any(|(o, _)| *o == Operator::NegateCondition),
        "`if let` is not a condition to negate"
    );
    let e3 = edits(&f, 3);
    assert!(
        has(&e3, Operator::IntegerLiteral, "        return y + 2u8;"),
        "{e3:?}"
    );
    assert!(has(
        &e3,
        Operator::IntegerLiteral,
        "        return y + 0u8;"
    ));
    // No `0u8 - 1`: an unsigned literal never goes below zero.
    assert!(!edits(&f, 5).iter().any(|(_, l)| l.contains("-1u8")));
}

#[test]
fn mutants_are_distinct_and_ordered_by_operator() {
    let f = py("def h(a, b):\n    return a - b\n");
    let ms = f.mutants_at(2);
    let mut keys: Vec<_> = ms
        .iter()
        .map(|m| (m.start, m.end, m.replacement.clone()))
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n);
    assert!(ms.windows(2).all(|w| w[0].operator <= w[1].operator));
    assert_eq!(ms[0].operator, Operator::Arithmetic);
    assert_eq!(ms[0].describe(), "m.py:2: `-` → `+` (arithmetic)");
}

#[test]
fn enclosing_lines_name_the_function() {
    let f = py("import os\n\ndef h(a):\n    x = a\n    return x\n\ny = 1\n");
    assert_eq!(f.enclosing_lines(4), 3..=5);
    assert_eq!(f.enclosing_lines(7), 7..=7);
}

/// The edits that add code: a `return` before a statement, a nearby statement copied, a
/// condition combined with a variable of the function. They come after every token edit.
#[test]
fn insertions_and_condition_synthesis() {
    let src = "def find(xs, target):\n    i = 0\n    for x in xs:\n        if x == target:\n            done = True\n        i += 1\n    return -1\n";
    let f = py(src);
    let e3 = edits(&f, 3);
    assert!(has(&e3, Operator::InsertReturn, "    return i"), "{e3:?}");
    assert!(has(&e3, Operator::InsertReturn, "    return"));
    let whole: Vec<String> = f.mutants_at(3).iter().map(|m| m.apply(src)).collect();
    assert!(
        whole
            .iter()
            .any(|t| t.contains("    i = 0\n    i = 0\n    for x in xs:")),
        "a copy of the statement above"
    );
    let e4 = edits(&f, 4);
    assert!(
        has(
            &e4,
            Operator::SynthesizeCondition,
            "        if (x == target) and not done:"
        ),
        "{e4:?}"
    );
    assert!(has(
        &e4,
        Operator::SynthesizeCondition,
        "        if (x == target) or i:"
    ));
    // Token edits first, insertions last.
    let ops: Vec<Operator> = f.mutants_at(4).iter().map(|m| m.operator).collect();
    assert_eq!(ops.first(), Some(&Operator::Relational));
    let rs_src = "fn f(v: &[i64]) -> i64 {\n    let mut s = 0;\n    for x in v {\n        s += x;\n    }\n    s\n}\n";
    let r = rs(rs_src);
    let e2: Vec<String> = r
        .mutants_at(2)
        .iter()
        .filter(|m| m.operator == Operator::InsertReturn)
        .map(|m| m.apply(rs_src))
        .collect();
    assert!(
        e2.iter()
            .any(|t| t.contains("    return s;\n    let mut s = 0;")),
        "{e2:?}"
    );
    // Outside a function nothing is inserted.
    let top = py("x = 1\ny = 2\n");
    assert!(
        top.mutants_at(2)
            .iter()
            .all(|m| m.operator != Operator::InsertReturn && m.operator != Operator::CopyStatement)
    );
}

fn parsed(path: &str, src: &str) -> SourceFile {
    let lang = Lang::of_path(path).unwrap();
    SourceFile::parse(path, lang, src.to_owned()).unwrap()
}

/// Every operator family on JavaScript, through the same walker as Python and Rust: the
/// parenthesized `if` condition is edited inside its parentheses, so every edit still parses.
#[test]
fn javascript_operators_edit_tokens_in_place() {
    let src = "function f(xs, n) {\n  let total = 0;\n  for (const x of xs) {\n    if (x > 0 && x !== n) {\n      total += xs[n] * 2;\n    }\n  }\n  const done = false;\n  return Math.max(total, n);\n}\n\nconst g = (a, b) => a - b;\n";
    for path in ["m.js", "m.mjs", "m.cjs"] {
        assert_eq!(Lang::of_path(path), Some(Lang::JavaScript));
    }
    let f = parsed("m.js", src);
    let e4 = edits(&f, 4);
    assert!(
        has(&e4, Operator::Relational, "    if (x >= 0 && x !== n) {"),
        "{e4:?}"
    );
    assert!(has(
        &e4,
        Operator::Relational,
        "    if (x > 0 && x === n) {"
    ));
    assert!(has(
        &e4,
        Operator::LogicalConnector,
        "    if (x > 0 || x !== n) {"
    ));
    assert!(has(
        &e4,
        Operator::NegateCondition,
        "    if (!(x > 0 && x !== n)) {"
    ));
    assert!(has(
        &e4,
        Operator::IntegerLiteral,
        "    if (x > 1 && x !== n) {"
    ));
    assert!(has(
        &e4,
        Operator::SwapOperands,
        "    if (0 > x && x !== n) {"
    ));
    assert!(has(
        &e4,
        Operator::ReplaceVariable,
        "    if (x > 0 && x !== total) {"
    ));
    assert!(has(
        &e4,
        Operator::SynthesizeCondition,
        "    if ((x > 0 && x !== n) && !done) {"
    ));
    let e5 = edits(&f, 5);
    assert!(
        has(&e5, Operator::Arithmetic, "      total -= xs[n] * 2;"),
        "{e5:?}"
    );
    assert!(has(&e5, Operator::Arithmetic, "      total += xs[n] / 2;"));
    assert!(has(
        &e5,
        Operator::IndexBound,
        "      total += xs[n + 1] * 2;"
    ));
    assert!(has(&e5, Operator::DeleteStatement, "      "));
    assert!(has(
        &edits(&f, 8),
        Operator::BooleanLiteral,
        "  const done = true;"
    ));
    let e9 = edits(&f, 9);
    assert!(
        has(&e9, Operator::SwapArguments, "  return Math.max(n, total);"),
        "{e9:?}"
    );
    assert!(has(
        &e9,
        Operator::IndexBound,
        "  return Math.max(total, n - 1);"
    ));
    // `Math` and `max` are no variables of the function.
    assert!(!e9.iter().any(|(_, l)| !l.contains("Math.max(")), "{e9:?}");
    let e12 = edits(&f, 12);
    assert!(
        has(&e12, Operator::SwapOperands, "const g = (a, b) => b - a;"),
        "{e12:?}"
    );
    assert!(has(
        &e12,
        Operator::ReplaceVariable,
        "const g = (a, b) => b - b;"
    ));
    assert!(has(
        &edits(&f, 3),
        Operator::InsertReturn,
        "  return total;"
    ));
    // Every edit of every line parses again without an error.
    for line in 1..=12 {
        for m in f.mutants_at(line) {
            let edited = parsed("m.js", &m.apply(src));
            assert!(!edited.has_error(), "{}", m.describe());
        }
    }
}

/// TypeScript and TSX: types are no variables, typed parameters are bindings.
#[test]
fn typescript_and_tsx() {
    let src = "export function clamp(x: number, lo: number, hi: number): number {\n  if (x > hi) {\n    return lo;\n  }\n  return x < lo ? lo : x;\n}\n";
    let f = parsed("m.ts", src);
    assert_eq!(f.lang, Lang::TypeScript);
    let e3 = edits(&f, 3);
    assert!(
        has(&e3, Operator::ReplaceVariable, "    return hi;"),
        "{e3:?}"
    );
    assert!(!e3.iter().any(|(_, l)| l.contains("number;")));
    let e5 = edits(&f, 5);
    assert!(
        has(&e5, Operator::Relational, "  return x <= lo ? lo : x;"),
        "{e5:?}"
    );
    assert!(has(
        &e5,
        Operator::NegateCondition,
        "  return !(x < lo) ? lo : x;"
    ));
    let tsx = "export const Label = (props: { n: number }) => {\n  const big = props.n > 10;\n  return <b>{big}</b>;\n};\n";
    let t = parsed("m.tsx", tsx);
    assert_eq!(t.lang, Lang::Tsx);
    assert!(!t.has_error());
    let e2 = edits(&t, 2);
    assert!(
        has(&e2, Operator::Relational, "  const big = props.n >= 10;"),
        "{e2:?}"
    );
    assert!(has(
        &e2,
        Operator::IntegerLiteral,
        "  const big = props.n > 11;"
    ));
}

/// Go: `:=` and list assignments bind, slices have two bounds, `&&`/`||` swap, `i++` may go.
#[test]
fn go_operators_slices_and_bindings() {
    let src = "package calc\n\nfunc Sum(xs []int, n int) int {\n\ttotal, seen := 0, false\n\tfor i := 0; i < n; i++ {\n\t\tif xs[i] > 0 || !seen {\n\t\t\ttotal += xs[i]\n\t\t}\n\t}\n\thead := xs[1:n]\n\treturn total + len(head)\n}\n";
    let f = parsed("calc.go", src);
    assert_eq!(f.lang, Lang::Go);
    let e5 = edits(&f, 5);
    assert!(
        has(&e5, Operator::Relational, "\tfor i := 0; i <= n; i++ {"),
        "{e5:?}"
    );
    assert!(has(
        &e5,
        Operator::IntegerLiteral,
        "\tfor i := 1; i < n; i++ {"
    ));
    assert!(has(
        &e5,
        Operator::NegateCondition,
        "\tfor i := 0; !(i < n); i++ {"
    ));
    let e6 = edits(&f, 6);
    assert!(
        has(
            &e6,
            Operator::LogicalConnector,
            "\t\tif xs[i] > 0 && !seen {"
        ),
        "{e6:?}"
    );
    assert!(has(
        &e6,
        Operator::NegateCondition,
        "\t\tif xs[i] > 0 || seen {"
    ));
    assert!(has(
        &e6,
        Operator::IndexBound,
        "\t\tif xs[i - 1] > 0 || !seen {"
    ));
    assert!(has(
        &e6,
        Operator::ReplaceVariable,
        "\t\tif xs[i] > 0 || !total {"
    ));
    let e7 = edits(&f, 7);
    assert!(
        has(&e7, Operator::Arithmetic, "\t\t\ttotal -= xs[i]"),
        "{e7:?}"
    );
    assert!(has(&e7, Operator::DeleteStatement, "\t\t\t"));
    assert!(has(
        &edits(&f, 4),
        Operator::BooleanLiteral,
        "\ttotal, seen := 0, true"
    ));
    let e10 = edits(&f, 10);
    assert!(
        has(&e10, Operator::IndexBound, "\thead := xs[1:n + 1]"),
        "{e10:?}"
    );
    assert!(has(&e10, Operator::IntegerLiteral, "\thead := xs[0:n]"));
    let e11 = edits(&f, 11);
    assert!(
        has(&e11, Operator::Arithmetic, "\treturn total - len(head)"),
        "{e11:?}"
    );
    // The blank identifier is no variable to use.
    let r = parsed(
        "r.go",
        "package r\n\nfunc F(xs []int) int {\n\tt := 0\n\tfor _, x := range xs {\n\t\tt += x\n\t}\n\treturn t\n}\n",
    );
    assert!(!r.mutants_at(6).iter().any(|m| m.replacement.contains('_')));
    assert!(has(&edits(&r, 6), Operator::ReplaceVariable, "\t\tt += t"));
    // `len` is a builtin, not a variable; `head` may stand for `total`.
    assert!(!e11.iter().any(|(_, l)| l.contains("total(head)")));
    assert!(has(
        &e11,
        Operator::ReplaceVariable,
        "\treturn head + len(head)"
    ));
    for line in 1..=12 {
        for m in f.mutants_at(line) {
            let edited = parsed("calc.go", &m.apply(src));
            assert!(!edited.has_error(), "{}", m.describe());
        }
    }
}

/// Text no grammar reads as code still parses (with error nodes) and yields no panic.
#[test]
fn bad_input_never_panics() {
    for path in ["x.js", "x.ts", "x.tsx", "x.go"] {
        for src in ["", "}}}{{{", "func (", "if (x > ) {", "\u{0}\u{1}é"] {
            let f = parsed(path, src);
            for line in 0..4 {
                let _ = f.mutants_at(line);
            }
        }
    }
}
