//! The languages `search` can edit (Python, Rust, JavaScript, TypeScript, Go), and the node kinds of their tree-sitter grammars it reads.
//! Everything grammar-specific is a table here; `mutate` walks trees with these tables only.

use tree_sitter::Language;

/// A language `search` parses and mutates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Python,
    Rust,
    JavaScript,
    TypeScript,
    /// TypeScript with JSX (`.tsx`): its own grammar, the same table as TypeScript.
    Tsx,
    Go,
}

/// Node kinds and spellings of one grammar.
pub(crate) struct Grammar {
    /// Binary expressions with an `operator` field (and `left`/`right`).
    pub binary: &'static [&'static str],
    /// Comparison chains whose operators are unnamed children (Python's `comparison_operator`).
    pub comparison_chain: Option<&'static str>,
    /// Negation nodes (`not x`, `!x`) with the negated expression in field `argument`.
    pub negation: &'static str,
    /// The negation operator token, when negation is a unary expression with an operator.
    pub negation_token: Option<&'static str>,
    /// Statements whose `condition` field is a condition to negate.
    pub conditional: &'static [&'static str],
    /// Condition kinds that are not expressions (`if let`): never negated.
    pub not_a_condition: &'static [&'static str],
    /// Integer literal kind.
    pub integer: &'static str,
    /// Boolean literal kinds, or one kind whose text is `true`/`false`.
    pub booleans: &'static [&'static str],
    /// Spelling of true and false.
    pub true_false: (&'static str, &'static str),
    /// How to write a negated condition around the original text.
    pub negate: fn(&str) -> String,
    /// Subscript/index expressions: (kind, field or child index holding the index).
    pub index: &'static [(&'static str, IndexField)],
    /// Argument lists.
    pub arguments: &'static str,
    /// Identifier kind.
    pub identifier: &'static str,
    /// Function definitions (the scope for variable replacement).
    pub function: &'static [&'static str],
    /// Nodes whose identifiers are bindings (parameters, assignment targets, `let` patterns).
    pub binding_parents: &'static [&'static str],
    /// Statements that may be deleted, and what replaces them.
    pub deletable: &'static [&'static str],
    pub deleted: &'static str,
    /// Compound assignments with an `operator` field (`+=`).
    pub compound: &'static [&'static str],
    /// Range expressions (`a..b`) whose operator flips between exclusive and inclusive.
    pub range: Option<&'static str>,
    /// Parent kinds (and the field) whose identifier child is a name, not a variable use.
    pub name_positions: &'static [(&'static str, &'static str)],
    /// Statements before which a `return` or a nearby statement may be inserted.
    pub statements: &'static [&'static str],
    /// A `return` statement of a value (`None`: a bare return).
    pub return_stmt: fn(Option<&str>) -> String,
    /// The conjunction and disjunction, and the negation prefix.
    pub and_or_not: (&'static str, &'static str, &'static str),
}

fn return_python(v: Option<&str>) -> String {
    v.map_or_else(|| "return".to_owned(), |v| format!("return {v}"))
}

fn return_rust(v: Option<&str>) -> String {
    v.map_or_else(|| "return;".to_owned(), |v| format!("return {v};"))
}

/// Where an index expression keeps its index.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IndexField {
    /// A named field.
    Field(&'static str),
    /// The n-th named child.
    NamedChild(usize),
    /// Several named fields, each a bound (Go's `s[lo:hi]`).
    Fields(&'static [&'static str]),
}

fn negate_python(cond: &str) -> String {
    format!("not ({cond})")
}

fn negate_rust(cond: &str) -> String {
    format!("!({cond})")
}

fn return_js(v: Option<&str>) -> String {
    v.map_or_else(|| "return;".to_owned(), |v| format!("return {v};"))
}

fn return_go(v: Option<&str>) -> String {
    v.map_or_else(|| "return".to_owned(), |v| format!("return {v}"))
}

static PYTHON: Grammar = Grammar {
    binary: &["binary_operator", "boolean_operator"],
    comparison_chain: Some("comparison_operator"),
    negation: "not_operator",
    negation_token: None,
    conditional: &["if_statement", "elif_clause", "while_statement"],
    not_a_condition: &[],
    integer: "integer",
    booleans: &["true", "false"],
    true_false: ("True", "False"),
    negate: negate_python,
    index: &[("subscript", IndexField::Field("subscript"))],
    arguments: "argument_list",
    identifier: "identifier",
    function: &["function_definition"],
    binding_parents: &[
        "parameters",
        "default_parameter",
        "typed_parameter",
        "typed_default_parameter",
        "assignment",
        "augmented_assignment",
        "for_statement",
        "pattern_list",
        "tuple_pattern",
    ],
    deletable: &["expression_statement"],
    deleted: "pass",
    compound: &["augmented_assignment"],
    range: None,
    name_positions: &[
        ("attribute", "attribute"),
        ("keyword_argument", "name"),
        ("function_definition", "name"),
        ("class_definition", "name"),
        ("call", "function"),
        ("import_from_statement", "name"),
        ("aliased_import", "alias"),
    ],
    statements: &[
        "expression_statement",
        "if_statement",
        "for_statement",
        "while_statement",
    ],
    return_stmt: return_python,
    and_or_not: ("and", "or", "not "),
};

static RUST: Grammar = Grammar {
    binary: &["binary_expression"],
    comparison_chain: None,
    negation: "unary_expression",
    negation_token: Some("!"),
    conditional: &["if_expression", "while_expression"],
    not_a_condition: &["let_condition", "let_chain"],
    integer: "integer_literal",
    booleans: &["boolean_literal"],
    true_false: ("true", "false"),
    negate: negate_rust,
    index: &[("index_expression", IndexField::NamedChild(1))],
    arguments: "arguments",
    identifier: "identifier",
    function: &["function_item", "closure_expression"],
    binding_parents: &[
        "parameter",
        "let_declaration",
        "for_expression",
        "closure_parameters",
    ],
    deletable: &["expression_statement"],
    deleted: "",
    compound: &["compound_assignment_expr"],
    range: Some("range_expression"),
    name_positions: &[
        ("field_expression", "field"),
        ("call_expression", "function"),
        ("function_item", "name"),
        ("macro_invocation", "macro"),
        ("scoped_identifier", "name"),
        ("scoped_identifier", "path"),
        ("field_initializer", "field"),
    ],
    statements: &["expression_statement", "let_declaration"],
    return_stmt: return_rust,
    and_or_not: ("&&", "||", "!"),
};

/// JavaScript, TypeScript and TSX: the TypeScript grammar is JavaScript's with types, which are
/// never identifiers (`type_identifier`, `predefined_type`), so one table serves all three.
static JAVASCRIPT: Grammar = Grammar {
    binary: &["binary_expression"],
    comparison_chain: None,
    negation: "unary_expression",
    negation_token: Some("!"),
    conditional: &[
        "if_statement",
        "while_statement",
        "do_statement",
        "ternary_expression",
    ],
    not_a_condition: &[],
    integer: "number",
    booleans: &["true", "false"],
    true_false: ("true", "false"),
    negate: negate_rust,
    index: &[("subscript_expression", IndexField::Field("index"))],
    arguments: "arguments",
    identifier: "identifier",
    function: &[
        "function_declaration",
        "function_expression",
        "generator_function_declaration",
        "arrow_function",
        "method_definition",
    ],
    binding_parents: &[
        "formal_parameters",
        "required_parameter",
        "optional_parameter",
        "variable_declarator",
        "assignment_expression",
        "augmented_assignment_expression",
        "assignment_pattern",
        "arrow_function",
        "for_in_statement",
        "array_pattern",
    ],
    deletable: &["expression_statement"],
    deleted: "",
    compound: &["augmented_assignment_expression"],
    range: None,
    name_positions: &[
        ("call_expression", "function"),
        ("new_expression", "constructor"),
        ("function_declaration", "name"),
        ("function_expression", "name"),
        ("class_declaration", "name"),
        ("import_specifier", "name"),
        ("import_specifier", "alias"),
        ("export_specifier", "name"),
        ("labeled_statement", "label"),
    ],
    statements: &[
        "expression_statement",
        "lexical_declaration",
        "variable_declaration",
        "if_statement",
        "for_statement",
        "for_in_statement",
        "while_statement",
    ],
    return_stmt: return_js,
    and_or_not: ("&&", "||", "!"),
};

static GO: Grammar = Grammar {
    binary: &["binary_expression"],
    comparison_chain: None,
    negation: "unary_expression",
    negation_token: Some("!"),
    conditional: &["if_statement", "for_clause"],
    not_a_condition: &[],
    integer: "int_literal",
    booleans: &["true", "false"],
    true_false: ("true", "false"),
    negate: negate_rust,
    index: &[
        ("index_expression", IndexField::Field("index")),
        ("slice_expression", IndexField::Fields(&["start", "end"])),
    ],
    arguments: "argument_list",
    identifier: "identifier",
    function: &["function_declaration", "method_declaration", "func_literal"],
    binding_parents: &[
        "parameter_declaration",
        "variadic_parameter_declaration",
        "var_spec",
        "const_spec",
        "expression_list",
    ],
    deletable: &[
        "expression_statement",
        "assignment_statement",
        "inc_statement",
        "dec_statement",
    ],
    deleted: "",
    compound: &["assignment_statement"],
    range: None,
    name_positions: &[
        ("call_expression", "function"),
        ("function_declaration", "name"),
        ("labeled_statement", "label"),
    ],
    statements: &[
        "expression_statement",
        "short_var_declaration",
        "assignment_statement",
        "inc_statement",
        "dec_statement",
        "if_statement",
        "for_statement",
    ],
    return_stmt: return_go,
    and_or_not: ("&&", "||", "!"),
};

impl Lang {
    /// The language of a workspace-relative path, by extension.
    pub fn of_path(path: &str) -> Option<Lang> {
        let ext = path.rsplit_once('.')?.1;
        match ext {
            "py" => Some(Lang::Python),
            "rs" => Some(Lang::Rust),
            "js" | "mjs" | "cjs" | "jsx" => Some(Lang::JavaScript),
            "ts" | "mts" | "cts" => Some(Lang::TypeScript),
            "tsx" => Some(Lang::Tsx),
            "go" => Some(Lang::Go),
            _ => None,
        }
    }

    pub(crate) fn language(self) -> Language {
        match self {
            Lang::Python => tree_sitter_python::LANGUAGE.into(),
            Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
            Lang::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Lang::Go => tree_sitter_go::LANGUAGE.into(),
        }
    }

    pub(crate) fn grammar(self) -> &'static Grammar {
        match self {
            Lang::Python => &PYTHON,
            Lang::Rust => &RUST,
            Lang::JavaScript | Lang::TypeScript | Lang::Tsx => &JAVASCRIPT,
            Lang::Go => &GO,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Rust => "rust",
            Lang::JavaScript => "javascript",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::Go => "go",
        }
    }
}
