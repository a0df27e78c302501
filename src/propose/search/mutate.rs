//! Small edits at one line: the classic mutation operators, applied to tokens found by a real
//! parser (tree-sitter) and written back by byte range, so the rest of the file stays byte for
//! byte as it was (never re-printed). Which edit is right is the tests' business.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use tree_sitter::{Node, Parser, Tree};

use super::lang::{Grammar, IndexField, Lang};

/// The kind of edit a mutant makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// `<` → `<=` and the other comparisons.
    Relational,
    /// `+` → `-` and the other arithmetic operators (compound assignments too).
    Arithmetic,
    /// `and` ↔ `or`, `&&` ↔ `||`.
    LogicalConnector,
    /// A condition negated, or a negation removed.
    NegateCondition,
    /// An integer literal ±1.
    IntegerLiteral,
    /// An index, slice or range bound, or a call argument, ±1; a range made inclusive/exclusive.
    IndexBound,
    /// `True` ↔ `False`.
    BooleanLiteral,
    /// Two adjacent call arguments swapped.
    SwapArguments,
    /// The operands of a non-commutative operator swapped.
    SwapOperands,
    /// A variable replaced by another one bound in the same function.
    ReplaceVariable,
    /// A statement deleted.
    DeleteStatement,
    /// A condition extended with a variable of the function: `c and v`, `c or not v`, ….
    SynthesizeCondition,
    /// `return` (bare, or of a variable of the function) inserted before a statement.
    InsertReturn,
    /// A statement of the same block (within three lines) copied before this one.
    CopyStatement,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Relational => "relational",
            Operator::Arithmetic => "arithmetic",
            Operator::LogicalConnector => "logical_connector",
            Operator::NegateCondition => "negate_condition",
            Operator::IntegerLiteral => "integer_literal",
            Operator::IndexBound => "index_bound",
            Operator::BooleanLiteral => "boolean_literal",
            Operator::SwapArguments => "swap_arguments",
            Operator::SwapOperands => "swap_operands",
            Operator::ReplaceVariable => "replace_variable",
            Operator::DeleteStatement => "delete_statement",
            Operator::SynthesizeCondition => "synthesize_condition",
            Operator::InsertReturn => "insert_return",
            Operator::CopyStatement => "copy_statement",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One edit: replace bytes `start..end` of the file with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mutant {
    /// Workspace-relative path.
    pub path: String,
    /// 1-based line the edit starts on.
    pub line: u32,
    pub operator: Operator,
    pub start: usize,
    pub end: usize,
    pub original: String,
    pub replacement: String,
}

impl Mutant {
    /// The file's text with the edit made.
    pub fn apply(&self, source: &str) -> String {
        let mut out = String::with_capacity(source.len() + self.replacement.len());
        out.push_str(&source[..self.start]);
        out.push_str(&self.replacement);
        out.push_str(&source[self.end..]);
        out
    }

    /// `path:line: `a` → `b` (operator)`, for logs and the summary.
    pub fn describe(&self) -> String {
        format!(
            "{}:{}: `{}` → `{}` ({})",
            self.path,
            self.line,
            one_line(&self.original),
            one_line(&self.replacement),
            self.operator
        )
    }
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 60 {
        let cut: String = flat.chars().take(57).collect();
        format!("{cut}...")
    } else {
        flat
    }
}

/// A parsed source file, ready to yield mutants line by line.
pub struct SourceFile {
    pub path: String,
    pub lang: Lang,
    pub text: String,
    tree: Tree,
}

impl SourceFile {
    /// Parses `text`; `None` when the grammar cannot be loaded or nothing parses.
    pub fn parse(path: &str, lang: Lang, text: String) -> Option<SourceFile> {
        let mut parser = Parser::new();
        parser.set_language(&lang.language()).ok()?;
        let tree = parser.parse(&text, None)?;
        Some(SourceFile {
            path: path.to_owned(),
            lang,
            text,
            tree,
        })
    }

    /// Every mutant whose edit starts on `line` (1-based), most promising operators first,
    /// without two that produce the same text.
    pub fn mutants_at(&self, line: u32) -> Vec<Mutant> {
        let Some(row) = (line as usize).checked_sub(1) else {
            return Vec::new();
        };
        let mut m = Collector {
            file: self,
            g: self.lang.grammar(),
            row,
            out: Vec::new(),
        };
        m.walk(self.tree.root_node());
        let mut seen = BTreeSet::new();
        let mut out: Vec<Mutant> = m
            .out
            .into_iter()
            .filter(|x| x.original != x.replacement)
            .filter(|x| seen.insert((x.start, x.end, x.replacement.clone())))
            .collect();
        // Stable: within an operator, source order and the tables' order of alternatives.
        out.sort_by_key(|x| x.operator);
        out
    }

    /// Whether the parse found a syntax error (tests check that edits keep files parseable).
    #[cfg(test)]
    pub(crate) fn has_error(&self) -> bool {
        self.tree.root_node().has_error()
    }

    /// 1-based lines of the function (or the whole file when outside one) around `line`.
    pub fn enclosing_lines(&self, line: u32) -> std::ops::RangeInclusive<u32> {
        let g = self.lang.grammar();
        let row = (line as usize).saturating_sub(1);
        let point = tree_sitter::Point { row, column: 0 };
        let mut node = self
            .tree
            .root_node()
            .descendant_for_point_range(point, point);
        while let Some(n) = node {
            if g.function.contains(&n.kind()) {
                return (n.start_position().row as u32 + 1)..=(n.end_position().row as u32 + 1);
            }
            node = n.parent();
        }
        line..=line
    }
}

struct Collector<'a> {
    file: &'a SourceFile,
    g: &'static Grammar,
    row: usize,
    out: Vec<Mutant>,
}

impl Collector<'_> {
    fn text(&self, n: Node) -> &str {
        &self.file.text[n.byte_range()]
    }

    fn starts_here(&self, n: Node) -> bool {
        n.start_position().row == self.row
    }

    fn on_line(&self, n: Node) -> bool {
        n.start_position().row == self.row && n.end_position().row == self.row
    }

    fn push(&mut self, op: Operator, n: Node, replacement: String) {
        self.push_range(op, n.start_byte(), n.end_byte(), replacement);
    }

    fn push_range(&mut self, op: Operator, start: usize, end: usize, replacement: String) {
        self.out.push(Mutant {
            path: self.file.path.clone(),
            line: self.row as u32 + 1,
            operator: op,
            start,
            end,
            original: self.file.text[start..end].to_owned(),
            replacement,
        });
    }

    fn walk(&mut self, n: Node) {
        if n.end_position().row < self.row || n.start_position().row > self.row {
            return;
        }
        self.visit(n);
        let mut cursor = n.walk();
        for child in n.children(&mut cursor) {
            self.walk(child);
        }
    }

    fn visit(&mut self, n: Node) {
        let kind = n.kind();
        let g = self.g;
        if (g.binary.contains(&kind) || g.compound.contains(&kind))
            && let Some(op) = n.child_by_field_name("operator")
        {
            self.operator_token(op);
            if g.binary.contains(&kind) {
                self.swap_operands(n, op);
            }
        }
        if g.comparison_chain == Some(kind) {
            let mut cursor = n.walk();
            let ops: Vec<Node> = n.children(&mut cursor).filter(|c| !c.is_named()).collect();
            for op in &ops {
                self.operator_token(*op);
            }
            if let ([op], 2, Some(l), Some(r)) = (
                ops.as_slice(),
                n.named_child_count(),
                n.named_child(0),
                n.named_child(1),
            ) {
                self.swap(n, *op, l, r);
            }
        }
        if kind == g.negation && self.starts_here(n) {
            let first = n.child(0).map(|c| self.text(c).to_owned());
            if g.negation_token.is_none_or(|t| first.as_deref() == Some(t))
                && let Some(arg) = n
                    .child_by_field_name("argument")
                    .or_else(|| n.named_child(n.named_child_count().saturating_sub(1) as u32))
            {
                let t = self.text(arg).to_owned();
                self.push(Operator::NegateCondition, n, t);
            }
        }
        if g.conditional.contains(&kind)
            && let Some(cond) = n.child_by_field_name("condition").map(unparenthesized)
            && self.starts_here(cond)
            && !g.not_a_condition.contains(&cond.kind())
        {
            let t = (g.negate)(self.text(cond));
            self.push(Operator::NegateCondition, cond, t);
            self.synthesize(n, cond);
        }
        if kind == g.integer && self.starts_here(n) {
            self.integer(n);
        }
        if g.booleans.contains(&kind) && self.starts_here(n) {
            let (t, f) = g.true_false;
            let text = self.text(n);
            let flipped = if text == t {
                Some(f)
            } else if text == f {
                Some(t)
            } else {
                None
            };
            if let Some(x) = flipped {
                self.push(Operator::BooleanLiteral, n, x.to_owned());
            }
        }
        for (k, field) in g.index {
            if *k == kind {
                let idx = match field {
                    IndexField::Field(f) => n.child_by_field_name(f),
                    IndexField::NamedChild(i) => n.named_child(*i as u32),
                    IndexField::Fields(fs) => {
                        for b in fs.iter().filter_map(|f| n.child_by_field_name(f)) {
                            self.bound(b);
                        }
                        None
                    }
                };
                if let Some(idx) = idx {
                    self.bound(idx);
                    if idx.kind() == "slice" {
                        let mut cursor = idx.walk();
                        let parts: Vec<Node> = idx.named_children(&mut cursor).collect();
                        for p in parts {
                            self.bound(p);
                        }
                    }
                }
            }
        }
        if g.range == Some(kind) && self.starts_here(n) {
            self.range(n);
        }
        if kind == g.arguments {
            self.swap_arguments(n);
        }
        if kind == g.identifier && self.on_line(n) && self.is_use(n) {
            self.replace_variable(n);
        }
        if g.deletable.contains(&kind) && self.on_line(n) {
            self.push(Operator::DeleteStatement, n, g.deleted.to_owned());
        }
        if g.statements.contains(&kind) && self.starts_here(n) {
            self.insert_before(n);
        }
    }

    /// The function around `n`, when there is one.
    fn scope<'t>(&self, n: Node<'t>) -> Option<Node<'t>> {
        let mut s = n.parent();
        while let Some(p) = s {
            if self.g.function.contains(&p.kind()) {
                return Some(p);
            }
            s = p.parent();
        }
        None
    }

    /// Names bound in the function around `n`, at most `max`.
    fn scope_names(&self, n: Node, max: usize) -> Vec<String> {
        let Some(scope) = self.scope(n) else {
            return Vec::new();
        };
        let mut names = BTreeSet::new();
        self.bindings(scope, &mut names);
        names
            .into_iter()
            .filter(|v| !matches!(v.as_str(), "self" | "cls"))
            .take(max)
            .collect()
    }

    /// `c` → `(c) and v`, `(c) or v`, `(c) and not v`, `(c) or not v` for variables `v` of
    /// the function.
    fn synthesize(&mut self, stmt: Node, cond: Node) {
        let (and, or, not) = self.g.and_or_not;
        let c = self.text(cond).to_owned();
        for v in self.scope_names(stmt, 3) {
            for (op, neg) in [(and, ""), (or, ""), (and, not), (or, not)] {
                self.push(
                    Operator::SynthesizeCondition,
                    cond,
                    format!("({c}) {op} {neg}{v}"),
                );
            }
        }
    }

    /// Before a statement inside a function: a `return` (bare, or of a variable), or a copy of
    /// a statement of the same block at most three lines away.
    fn insert_before(&mut self, n: Node) {
        if self.scope(n).is_none() {
            return;
        }
        let at = n.start_byte();
        let line_start = self.file.text[..at].rfind('\n').map_or(0, |i| i + 1);
        let indent = &self.file.text[line_start..at];
        if !indent.chars().all(char::is_whitespace) {
            return; // not the first thing on its line
        }
        let indent = indent.to_owned();
        let ret = self.g.return_stmt;
        let mut values: Vec<Option<String>> = vec![None];
        values.extend(self.scope_names(n, 3).into_iter().map(Some));
        for v in values {
            let stmt = ret(v.as_deref());
            self.push_range(Operator::InsertReturn, at, at, format!("{stmt}\n{indent}"));
        }
        let Some(parent) = n.parent() else {
            return;
        };
        let mut cursor = parent.walk();
        let siblings: Vec<Node> = parent
            .named_children(&mut cursor)
            .filter(|s| s.id() != n.id() && self.g.statements.contains(&s.kind()))
            .filter(|s| s.start_position().row == s.end_position().row)
            .filter(|s| s.start_position().row.abs_diff(self.row) <= 3)
            .collect();
        for s in siblings {
            let t = self.text(s).to_owned();
            self.push_range(Operator::CopyStatement, at, at, format!("{t}\n{indent}"));
        }
    }

    fn operator_token(&mut self, op: Node) {
        if !self.on_line(op) {
            return;
        }
        let text = self
            .text(op)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let (class, alts) = alternatives(self.file.lang, &text);
        for alt in alts {
            self.push(class, op, (*alt).to_owned());
        }
    }

    fn swap_operands(&mut self, n: Node, op: Node) {
        if let (Some(l), Some(r)) = (
            n.child_by_field_name("left"),
            n.child_by_field_name("right"),
        ) {
            self.swap(n, op, l, r);
        }
    }

    /// `l op r` → `r op l`, for operators where order matters.
    fn swap(&mut self, n: Node, op: Node, l: Node, r: Node) {
        if !NON_COMMUTATIVE.contains(&self.text(op)) || !self.on_line(n) {
            return;
        }
        let middle = &self.file.text[l.end_byte()..r.start_byte()];
        let t = format!("{}{middle}{}", self.text(r), self.text(l));
        self.push_range(Operator::SwapOperands, l.start_byte(), r.end_byte(), t);
    }

    fn integer(&mut self, n: Node) {
        let text = self.text(n).to_owned();
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
            return; // hexadecimal, octal, binary: left alone
        }
        let suffix = &text[digits.len()..];
        if suffix.starts_with(['x', 'X', 'o', 'O', 'b', 'B', '.', 'e', 'E', 'j', 'J', '_']) {
            return;
        }
        let Ok(v) = digits.parse::<i128>() else {
            return;
        };
        for d in [1, -1] {
            let w = v + d;
            if w < 0 && !suffix.is_empty() {
                continue; // `0u32 - 1` does not exist
            }
            self.push(Operator::IntegerLiteral, n, format!("{w}{suffix}"));
        }
    }

    /// An index or bound that is an expression other than a literal: `i` → `i + 1`, `i - 1`.
    fn bound(&mut self, idx: Node) {
        if !self.on_line(idx) || idx.kind() == self.g.integer || idx.kind() == "slice" {
            return;
        }
        if !matches!(
            idx.kind(),
            "identifier"
                | "attribute"
                | "field_expression"
                | "member_expression"
                | "selector_expression"
                | "call"
                | "call_expression"
        ) {
            return;
        }
        let t = self.text(idx).to_owned();
        self.push(Operator::IndexBound, idx, format!("{t} + 1"));
        self.push(Operator::IndexBound, idx, format!("{t} - 1"));
    }

    fn range(&mut self, n: Node) {
        let mut cursor = n.walk();
        let children: Vec<Node> = n.children(&mut cursor).collect();
        for c in &children {
            if !c.is_named() {
                let alt = match self.text(*c) {
                    ".." => "..=",
                    "..=" => "..",
                    _ => continue,
                };
                self.push(Operator::IndexBound, *c, alt.to_owned());
            } else {
                self.bound(*c);
            }
        }
    }

    fn swap_arguments(&mut self, n: Node) {
        let mut cursor = n.walk();
        let args: Vec<Node> = n
            .named_children(&mut cursor)
            .filter(|a| !matches!(a.kind(), "comment" | "keyword_argument"))
            .collect();
        for a in &args {
            if a.kind() == self.g.identifier {
                self.bound(*a);
            }
        }
        for pair in args.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if !self.on_line(a) || !self.on_line(b) {
                continue;
            }
            let middle = &self.file.text[a.end_byte()..b.start_byte()];
            let t = format!("{}{middle}{}", self.text(b), self.text(a));
            self.push_range(Operator::SwapArguments, a.start_byte(), b.end_byte(), t);
        }
    }

    /// Whether an identifier is a variable being read (not a name being defined, a field, a
    /// called function or a keyword).
    fn is_use(&self, n: Node) -> bool {
        let Some(parent) = n.parent() else {
            return false;
        };
        for (kind, field) in self.g.name_positions {
            if parent.kind() == *kind
                && parent
                    .child_by_field_name(field)
                    .is_some_and(|c| c.id() == n.id())
            {
                return false;
            }
        }
        // `x = …` and parameters: the left side is a binding, not a use.
        if self.g.binding_parents.contains(&parent.kind()) && self.is_binding(n) {
            return false;
        }
        !matches!(self.text(n), "self" | "cls" | "super")
    }

    fn replace_variable(&mut self, n: Node) {
        let name = self.text(n).to_owned();
        let scope = {
            let mut s = n.parent();
            while let Some(p) = s {
                if self.g.function.contains(&p.kind()) {
                    break;
                }
                s = p.parent();
            }
            s
        };
        let Some(scope) = scope else {
            return;
        };
        let mut names = BTreeSet::new();
        self.bindings(scope, &mut names);
        if !names.contains(&name) {
            return; // a global, a builtin or an import: not ours to swap
        }
        for other in names.iter().filter(|o| **o != name).take(8) {
            self.push(Operator::ReplaceVariable, n, other.clone());
        }
    }

    /// Names bound anywhere in `scope` (parameters, assignment targets, loop variables).
    fn bindings(&self, scope: Node, names: &mut BTreeSet<String>) {
        let mut cursor = scope.walk();
        for child in scope.children(&mut cursor) {
            if child.kind() == self.g.identifier
                && child
                    .parent()
                    .is_some_and(|p| self.g.binding_parents.contains(&p.kind()))
                && self.is_binding(child)
                // Go's blank identifier binds nothing.
                && self.text(child) != "_"
            {
                names.insert(self.text(child).to_owned());
            }
            // Nested functions have their own scope.
            if !self.g.function.contains(&child.kind()) || child.id() == scope.id() {
                self.bindings(child, names);
            }
        }
    }

    fn is_binding(&self, n: Node) -> bool {
        let Some(mut parent) = n.parent() else {
            return false;
        };
        let mut child = n;
        // Go binds through a list: `a, b := …`, `a = …`, `for i, v := range …`.
        if parent.kind() == "expression_list" {
            let Some(owner) = parent.parent() else {
                return false;
            };
            if !matches!(
                owner.kind(),
                "short_var_declaration" | "assignment_statement" | "range_clause"
            ) {
                return false;
            }
            child = parent;
            parent = owner;
        }
        let field_is = |field: &str| {
            parent
                .child_by_field_name(field)
                .is_some_and(|f| f.id() == child.id())
        };
        match parent.kind() {
            "parameters"
            | "default_parameter"
            | "typed_parameter"
            | "typed_default_parameter"
            | "closure_parameters"
            | "pattern_list"
            | "tuple_pattern" => parent
                .child_by_field_name("value")
                .is_none_or(|v| v.id() != n.id()),
            "parameter" | "let_declaration" | "for_expression" => parent
                .child_by_field_name("pattern")
                .is_some_and(|p| p.id() == n.id()),
            "assignment" | "augmented_assignment" | "for_statement" => parent
                .child_by_field_name("left")
                .is_some_and(|l| l.id() == n.id()),
            // JavaScript and TypeScript.
            "formal_parameters" | "array_pattern" => true,
            "variable_declarator" => field_is("name"),
            "assignment_expression"
            | "augmented_assignment_expression"
            | "assignment_pattern"
            | "for_in_statement"
            | "short_var_declaration"
            | "assignment_statement"
            | "range_clause" => field_is("left"),
            "arrow_function" => field_is("parameter"),
            "required_parameter" | "optional_parameter" => field_is("pattern"),
            // Go: every identifier of a parameter or `var` spec outside its value is a name.
            "parameter_declaration" | "variadic_parameter_declaration" => true,
            "var_spec" | "const_spec" => !field_is("value"),
            _ => false,
        }
    }
}

/// A parenthesized condition's inside (`if (x)` in JavaScript): the edit goes within the
/// parentheses, which the statement needs.
fn unparenthesized(n: Node) -> Node {
    if n.kind() == "parenthesized_expression"
        && n.named_child_count() == 1
        && let Some(inner) = n.named_child(0)
    {
        return inner;
    }
    n
}

const NON_COMMUTATIVE: &[&str] = &["-", "/", "//", "%", "**", "<", "<=", ">", ">=", "<<", ">>"];

/// The replacements tried for an operator token, nearest first (boundary errors before
/// direction errors), and the class they belong to.
fn alternatives(lang: Lang, op: &str) -> (Operator, &'static [&'static str]) {
    use Operator::{Arithmetic, LogicalConnector, Relational};
    let rel: Option<&'static [&'static str]> = match op {
        "<" => Some(&["<=", ">", ">=", "==", "!="]),
        "<=" => Some(&["<", ">=", ">", "==", "!="]),
        ">" => Some(&[">=", "<", "<=", "==", "!="]),
        ">=" => Some(&[">", "<=", "<", "==", "!="]),
        "==" => Some(&["!=", "<=", ">="]),
        "!=" => Some(&["==", "<", ">"]),
        "===" => Some(&["!==", "<=", ">="]),
        "!==" => Some(&["===", "<", ">"]),
        "in" if lang == Lang::Python => Some(&["not in"]),
        "not in" if lang == Lang::Python => Some(&["in"]),
        "is" if lang == Lang::Python => Some(&["is not"]),
        "is not" if lang == Lang::Python => Some(&["is"]),
        _ => None,
    };
    if let Some(r) = rel {
        return (Relational, r);
    }
    let logic: Option<&'static [&'static str]> = match (lang, op) {
        (Lang::Python, "and") => Some(&["or"]),
        (Lang::Python, "or") => Some(&["and"]),
        (Lang::Python, _) => None,
        (_, "&&") => Some(&["||"]),
        (_, "||") => Some(&["&&"]),
        _ => None,
    };
    if let Some(l) = logic {
        return (LogicalConnector, l);
    }
    let arith: &'static [&'static str] = match (lang, op) {
        (_, "+") => &["-", "*"],
        (_, "-") => &["+"],
        (Lang::Python, "*") => &["/", "+", "**", "//"],
        (_, "*") => &["/", "+"],
        (Lang::Python, "/") => &["//", "*"],
        (_, "/") => &["*", "%"],
        (Lang::Python, "//") => &["/", "%", "*"],
        (Lang::Python, "%") => &["//"],
        (_, "%") => &["/"],
        (_, "**") => &["*"],
        (_, "<<") => &[">>"],
        (_, ">>") => &["<<"],
        (_, "&") => &["|"],
        (_, "|") => &["&", "^"],
        (_, "^") => &["|"],
        (_, "+=") => &["-="],
        (_, "-=") => &["+="],
        (_, "*=") => &["/=", "+="],
        (Lang::Python, "/=") => &["//=", "*="],
        (_, "/=") => &["*="],
        (Lang::Python, "//=") => &["/="],
        _ => &[],
    };
    (Arithmetic, arith)
}

#[cfg(test)]
#[path = "mutate_tests.rs"]
mod tests;
