//! The redactor: built once from the secret values the caller collected, then a pure function
//! from text to text with every secret replaced by `[REDACTED:<label>]`.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use super::entropy::EntropyRule;
use super::env::{is_searchable_value, is_secret_name};
use super::rules::{Rule, builtin};

/// One redacted span of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Byte range in the input text.
    pub range: Range<usize>,
    /// What was found: `openai_key`, `private_key`, `password`, `high_entropy`, `env:NAME`, …
    pub label: String,
}

struct Literal {
    value: String,
    label: String,
}

/// Replaces secrets in text. Cheap to build (the patterns are compiled once per process) and to
/// share; `redact` takes `&self` and touches nothing else.
pub struct Redactor {
    literals: Vec<Literal>,
    rules: &'static [Rule],
    entropy: &'static EntropyRule,
}

impl fmt::Debug for Redactor {
    // The literals are the secrets themselves; show only how many there are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secret_values", &self.literals.len())
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::new(std::iter::empty())
    }
}

impl Redactor {
    /// A redactor that, besides the built-in shapes, removes each of `secret_values` (values
    /// shorter than 6 characters, numbers and switch words are ignored as too common).
    pub fn new(secret_values: impl IntoIterator<Item = String>) -> Self {
        Self::with_literals(
            secret_values
                .into_iter()
                .map(|value| (value, "secret_value".to_owned())),
        )
    }

    /// Like [`Redactor::new`], taking the values of the variables whose names look secret
    /// (KEY, TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL, AUTH). Pass the whole environment.
    pub fn from_env_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self::with_literals(
            vars.into_iter()
                .filter(|(name, _)| is_secret_name(name))
                .map(|(name, value)| (value, format!("env:{name}"))),
        )
    }

    fn with_literals(values: impl Iterator<Item = (String, String)>) -> Self {
        let mut literals: Vec<Literal> = Vec::new();
        for (value, label) in values {
            let value = value.trim().to_owned();
            if is_searchable_value(&value) && !literals.iter().any(|l| l.value == value) {
                literals.push(Literal { value, label });
            }
        }
        Redactor {
            literals,
            rules: builtin(),
            entropy: EntropyRule::shared(),
        }
    }

    /// How many literal secret values this redactor searches for.
    pub fn secret_count(&self) -> usize {
        self.literals.len()
    }

    /// Every string inside a JSON value, redacted in place.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                if let Cow::Owned(clean) = self.redact(s) {
                    *s = clean;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }

    /// Rewrites a text file with its secrets redacted (atomically; untouched when clean).
    pub fn redact_file(&self, path: &std::path::Path) -> std::io::Result<()> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Cow::Owned(clean) = self.redact(&text) {
            crate::bundle::write_atomic(path, clean.as_bytes()).map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    /// `text` with every secret replaced by `[REDACTED:<label>]`; borrowed when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let findings = self.findings(text);
        if findings.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in &findings {
            out.push_str(&text[at..f.range.start]);
            out.push_str("[REDACTED:");
            out.push_str(&f.label);
            out.push(']');
            at = f.range.end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// The spans [`Redactor::redact`] replaces, sorted and non-overlapping (overlapping finds
    /// are merged into one span labelled by the find that starts first).
    pub fn findings(&self, text: &str) -> Vec<Finding> {
        // (range, rank, label): among finds starting at the same place the longest wins, then
        // the lowest rank (literal values, then rules in order, then entropy).
        let mut found: Vec<(Range<usize>, usize, String)> = Vec::new();
        for lit in &self.literals {
            for (start, m) in text.match_indices(lit.value.as_str()) {
                found.push((start..start + m.len(), 0, lit.label.clone()));
            }
        }
        let mut hits = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            hits.clear();
            rule.hits(text, &mut hits);
            found.extend(hits.drain(..).map(|h| (h.range, 1 + i, h.label.to_owned())));
        }
        let entropy_priority = 1 + self.rules.len();
        found.extend(
            self.entropy
                .hits(text)
                .into_iter()
                .map(|r| (r, entropy_priority, "high_entropy".to_owned())),
        );
        // Never re-redact our own markers (keeps redaction idempotent).
        let markers = marker_ranges(text);
        if !markers.is_empty() {
            found.retain(|(r, _, _)| !inside_any(&markers, r));
        }
        found.sort_by(|a, b| {
            a.0.start
                .cmp(&b.0.start)
                .then(b.0.end.cmp(&a.0.end))
                .then(a.1.cmp(&b.1))
        });
        let mut merged: Vec<Finding> = Vec::new();
        for (range, _, label) in found {
            match merged.last_mut() {
                Some(last) if range.start < last.range.end => {
                    last.range.end = last.range.end.max(range.end);
                }
                _ => merged.push(Finding { range, label }),
            }
        }
        merged
    }
}

/// The `[REDACTED:…]` markers already in `text`, in order.
fn marker_ranges(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("[REDACTED:").map(|i| from + i) {
        let Some(close) = text[open..].find(']').map(|i| open + i + 1) else {
            break;
        };
        out.push(open..close);
        from = close;
    }
    out
}

/// True when `range` lies within one of the sorted, disjoint `markers`.
fn inside_any(markers: &[Range<usize>], range: &Range<usize>) -> bool {
    let i = markers.partition_point(|m| m.end <= range.start);
    markers
        .get(i)
        .is_some_and(|m| m.start <= range.start && range.end <= m.end)
}

#[cfg(test)]
#[path = "redactor_tests.rs"]
mod tests;
