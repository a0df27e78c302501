//! Known secret shapes (provider key prefixes, private key blocks, credential headers and
//! assignments, URL passwords) as regular expressions, each with a label and, where a shape
//! alone would also match ordinary code, a check on the matched value.

use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// A secret found by a rule: where it is and what to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub range: Range<usize>,
    pub label: &'static str,
}

/// How a rule turns a regex match into a hit, or declines it.
type Judge = fn(text: &str, caps: &Captures<'_>) -> Option<Hit>;

pub(crate) struct Rule {
    regex: Regex,
    judge: Judge,
}

impl Rule {
    pub(crate) fn hits(&self, text: &str, out: &mut Vec<Hit>) {
        for caps in self.regex.captures_iter(text) {
            if let Some(hit) = (self.judge)(text, &caps) {
                out.push(hit);
            }
        }
    }
}

#[expect(
    clippy::expect_used,
    reason = "patterns are constants; every one is compiled by the unit tests"
)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in redaction pattern compiles")
}

/// The built-in rules, most specific first (earlier rules win ties on the same span), compiled
/// once per process.
pub(crate) fn builtin() -> &'static [Rule] {
    static RULES: LazyLock<Vec<Rule>> = LazyLock::new(compile);
    &RULES
}

fn compile() -> Vec<Rule> {
    vec![
        Rule {
            // Terminated blocks up to their END line; a truncated block through its whole base64
            // lines, so a cut-off log does not swallow the rest of the text.
            regex: re(concat!(
                r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
                r"(?:(?s:.*?)-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|(?m:(?:\n[A-Za-z0-9+/=]+\r?$)*))"
            )),
            judge: |_, c| whole(c, "private_key"),
        },
        Rule {
            regex: re(r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
            judge: |_, c| whole(c, "anthropic_key"),
        },
        Rule {
            regex: re(r"\bsk-(?:proj-|svcacct-|admin-)?([A-Za-z0-9_-]{20,})"),
            // Real keys are random; a long hyphenated slug such as `sk-learn-…` has no digit.
            judge: |_, c| {
                let body = c.get(1)?.as_str();
                body.bytes()
                    .any(|b| b.is_ascii_digit())
                    .then(|| whole(c, "openai_key"))?
            },
        },
        Rule {
            regex: re(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
            judge: |_, c| whole(c, "github_token"),
        },
        Rule {
            regex: re(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
            judge: |_, c| whole(c, "aws_access_key_id"),
        },
        Rule {
            regex: re(
                r#"(?i)aws_?secret_?(?:access_?)?key["']?\s*(?::=|=>|[:=])\s*["']?([A-Za-z0-9/+]{40})"#,
            ),
            judge: |_, c| group(c, 1, "aws_secret_key"),
        },
        Rule {
            regex: re(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
            judge: |_, c| whole(c, "slack_token"),
        },
        Rule {
            regex: re(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
            judge: |_, c| whole(c, "jwt"),
        },
        Rule {
            // The scheme word stays out of the class so `Authorization: Bearer $TOKEN` (a
            // variable, not a secret) does not match.
            regex: re(concat!(
                r#"(?i)\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?"#,
                r"((?:bearer|basic|token|bot|digest|apikey)\s+[A-Za-z0-9._~+/=:-]{4,}|[A-Za-z0-9._~+/=:-]{16,})"
            )),
            judge: |_, c| group(c, 1, "authorization"),
        },
        Rule {
            regex: re(r"\b[Bb]earer\s+([A-Za-z0-9._~+/-]{16,}=*)"),
            judge: |_, c| group(c, 1, "bearer_token"),
        },
        Rule {
            regex: re(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]+:([^\s/@]+)@"),
            judge: |_, c| {
                let pass = c.get(1)?.as_str();
                let placeholder =
                    pass.starts_with(['$', '{', '<', '[']) || pass.bytes().all(|b| b == b'*');
                (!placeholder).then(|| group(c, 1, "url_password"))?
            },
        },
        Rule {
            regex: re(concat!(
                r#"(?i)\b((?:[a-z0-9]+[_.-])*"#,
                r"(?:password|passwd|passphrase|secret|client[_-]?secret|secret[_-]?key|token|",
                r"auth[_-]?token|access[_-]?token|refresh[_-]?token|api[_-]?key|apikey|",
                r"access[_-]?key|private[_-]?key))",
                r#"["']?(\s*(?::=|=>|[:=])\s*)"#,
                r#"(?:"([^"\r\n]*)"|'([^'\r\n]*)'|([^\s"'`,;&()\[\]{}<>$]+))"#
            )),
            judge: assignment,
        },
    ]
}

fn whole(c: &Captures<'_>, label: &'static str) -> Option<Hit> {
    group(c, 0, label)
}

fn group(c: &Captures<'_>, i: usize, label: &'static str) -> Option<Hit> {
    let m = c.get(i)?;
    (!m.is_empty()).then(|| Hit {
        range: m.range(),
        label,
    })
}

/// Words that, as the unquoted right-hand side of `token = …` or `password: …`, are code
/// (types, literals, keywords), not secrets.
const CODE_WORDS: &[&str] = &[
    "none",
    "null",
    "nil",
    "true",
    "false",
    "undefined",
    "str",
    "string",
    "bytes",
    "int",
    "bool",
    "boolean",
    "object",
    "any",
    "optional",
    "option",
    "required",
    "self",
    "this",
    "new",
    "await",
    "void",
    "char",
    "secret",
    "secretstr",
    "password",
    "token",
    "text",
    "number",
    "env",
];

/// Decides whether `key = value` carries a secret. Quoted values are literals and count unless
/// they are placeholders; unquoted values count unless they read as code: a call or index
/// (`get_token()`, `os.environ[…]`), a dotted path, a type or keyword, or a bare identifier
/// written the way code writes it (`token = token`, `password: str`, `f(token=token)`).
fn assignment(text: &str, c: &Captures<'_>) -> Option<Hit> {
    let key = c.get(1)?.as_str().to_ascii_lowercase();
    let label = if key.contains("pass") {
        "password"
    } else if key.contains("token") {
        "token"
    } else if key.contains("secret") {
        "secret"
    } else {
        "api_key"
    };
    if let Some(m) = c.get(3).or_else(|| c.get(4)) {
        let v = m.as_str();
        let placeholder = v.trim().len() < 4
            || v.starts_with(['$', '{', '<', '%', '['])
            || v.contains("{{")
            || v.contains("${")
            || v.bytes().all(|b| b == b'*' || b == b'x' || b == b'X');
        return (!placeholder).then(|| Hit {
            range: m.range(),
            label,
        });
    }
    let m = c.get(5)?;
    let v = m.as_str();
    if v.len() < 4 || CODE_WORDS.contains(&v.to_ascii_lowercase().as_str()) {
        return None;
    }
    let next = text[m.end()..].chars().next();
    if matches!(next, Some('(' | '[' | '<' | '{')) {
        return None;
    }
    let is_ident = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
            && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    };
    if v.contains('.') && v.split('.').all(is_ident) {
        return None;
    }
    if v.contains("::") {
        return None;
    }
    let separator = c.get(2)?.as_str();
    let code_like_spacing = separator.contains(char::is_whitespace)
        || separator.trim() == ":"
        || matches!(next, Some(')' | ','));
    if is_ident(v) && !v.bytes().any(|b| b.is_ascii_digit()) && code_like_spacing {
        return None;
    }
    Some(Hit {
        range: m.range(),
        label,
    })
}
