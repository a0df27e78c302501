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
