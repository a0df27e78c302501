//! The in-toto Statement v1 pp signs: one subject per bundle file and the `https://pp.dev/proof/v1`
//! predicate built from `repro.json`; also the strict reading of a statement and its subject names.

use serde::Serialize;
use serde_json::{Value, json};

use super::sign::ATTESTATION_FILE;
use super::walk::BundleFile;
use crate::bundle::schema::{Attester, PredicateSource, ProofPredicate};

/// The statement `_type` pp writes and accepts.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The predicate type of a pp proof. Version 1; fields are only ever added within it.
pub const PREDICATE_TYPE: &str = "https://pp.dev/proof/v1";

/// A proof target as recorded in the predicate: replay reruns it. At least one of `cmd`
/// (a shell command line) and `argv` (an exact argument vector) is present in pp's own bundles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProofTarget {
    pub name: Option<String>,
    pub cmd: Option<String>,
    pub argv: Option<Vec<String>>,
}

impl ProofTarget {
    pub(crate) fn from_value(value: &Value) -> ProofTarget {
        ProofTarget {
            name: value.get("name").and_then(Value::as_str).map(str::to_owned),
            cmd: value.get("cmd").and_then(Value::as_str).map(str::to_owned),
            argv: value
                .get("argv")
                .and_then(Value::as_array)
                .and_then(|items| {
                    items
                        .iter()
                        .map(|a| a.as_str().map(str::to_owned))
                        .collect::<Option<Vec<String>>>()
                }),
        }
    }

    fn to_value(&self) -> Value {
        json!({"name": self.name, "cmd": self.cmd, "argv": self.argv})
    }
}

fn field(repro: Option<&Value>, key: &str) -> Value {
    repro
        .and_then(|r| r.get(key))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Builds the predicate from `repro.json`, reading it leniently: a missing field is `null`.
/// `targets` is normalized to `[{name, cmd, argv}]` so replay reads one shape.
pub(crate) fn predicate_from_repro(repro: Option<&Value>) -> Value {
    let targets = match repro
        .and_then(|r| r.get("targets"))
        .and_then(Value::as_array)
    {
        Some(items) => Value::Array(
            items
                .iter()
                .map(|t| ProofTarget::from_value(t).to_value())
                .collect(),
        ),
        None => Value::Null,
    };
    let source = repro.and_then(|r| r.get("source"));
    let predicate = ProofPredicate {
        status: field(repro, "status"),
        command: field(repro, "command"),
        targets,
        policy_sha256: field(repro, "policy_sha256"),
        source: PredicateSource {
            git_commit: field(source, "git_commit"),
            git_dirty: field(source, "git_dirty"),
            dirty_diff_sha256: field(source, "dirty_diff_sha256"),
            untracked_sha256: field(source, "untracked_sha256"),
        },
        sandbox: field(repro, "sandbox"),
        isolation: field(repro, "isolation"),
        provider: field(repro, "provider"),
        model: field(repro, "model"),
        pp_version: field(repro, "pp_version"),
        timings: field(repro, "timings"),
        attester: Attester {
            name: "pp".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
    };
    serde_json::to_value(predicate).unwrap_or_default()
}

/// The statement over `files` (already sorted by path) with `predicate`.
pub(crate) fn build_statement(files: &[BundleFile], predicate: Value) -> Value {
    let subjects: Vec<Value> = files
        .iter()
        .map(|f| json!({"name": f.path, "digest": {"sha256": f.sha256}}))
        .collect();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    })
}

/// Checks a bundle-relative subject name: `/`-separated, relative, no `.`/`..`/empty
/// components, no backslash or control character, and never the attestation itself.
pub(crate) fn check_subject_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("subject name {name:?} {why}"));
    if name.is_empty() {
        return bad("is empty");
    }
    if name.starts_with('/') {
        return bad("is an absolute path");
    }
    if name.contains('\\') {
        return bad("contains a backslash");
    }
    if name.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    for part in name.split('/') {
        match part {
            ".." => return bad("contains a `..` component"),
            "." | "" => return bad("is not a normalized relative path"),
            _ => {}
        }
    }
    if name == ATTESTATION_FILE {
        return bad("names the attestation itself");
    }
    Ok(())
}

pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Reads the subjects of a decoded statement as `(name, sha256)`, in document order,
/// pushing every problem found. Returns `None` when the statement is unusable as a whole.
pub(crate) fn parse_statement(
    value: &Value,
    problems: &mut Vec<String>,
) -> Option<Vec<(String, String)>> {
    let Some(map) = value.as_object() else {
        problems.push("statement is not a JSON object".to_owned());
        return None;
    };
    for key in map.keys() {
        if !["_type", "subject", "predicateType", "predicate"].contains(&key.as_str()) {
            problems.push(format!("statement has an unexpected field {key:?}"));
        }
    }
    match map.get("_type") {
        Some(Value::String(t)) if t == STATEMENT_TYPE => {}
        other => problems.push(format!(
            "statement _type is {}, expected {STATEMENT_TYPE:?}",
            shown(other)
        )),
    }
    match map.get("predicateType") {
        Some(Value::String(t)) if t == PREDICATE_TYPE => {}
        other => problems.push(format!(
            "statement predicateType is {}, expected {PREDICATE_TYPE:?}",
            shown(other)
        )),
    }
    if !map.get("predicate").is_some_and(Value::is_object) {
        problems.push("statement predicate is not an object".to_owned());
    }
    let Some(Value::Array(entries)) = map.get("subject") else {
        problems.push("statement has no subject array".to_owned());
        return None;
    };
    let mut subjects: Vec<(String, String)> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        if let Some(subject) = parse_subject(i, entry, problems) {
            if subjects.iter().any(|(n, _)| *n == subject.0) {
                problems.push(format!("duplicate subject {:?}", subject.0));
                continue;
            }
            subjects.push(subject);
        }
    }
    Some(subjects)
}

fn parse_subject(
    index: usize,
    entry: &Value,
    problems: &mut Vec<String>,
) -> Option<(String, String)> {
    let Some(map) = entry.as_object() else {
        problems.push(format!("subject {index} is not an object"));
        return None;
    };
    let Some(Value::String(name)) = map.get("name") else {
        problems.push(format!("subject {index} has no name"));
        return None;
    };
    if let Err(problem) = check_subject_name(name) {
        problems.push(problem);
        return None;
    }
    match map.get("digest").and_then(|d| d.get("sha256")) {
        Some(Value::String(digest)) if is_sha256_hex(digest) => {
            Some((name.clone(), digest.clone()))
        }
        _ => {
            problems.push(format!(
                "subject {name:?} has no lowercase hex sha256 digest"
            ));
            None
        }
    }
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "missing".to_owned(), Value::to_string)
}

/// The predicate's `targets`, if it holds any.
pub(crate) fn targets_of(statement: &Value) -> Vec<ProofTarget> {
    statement
        .get("predicate")
        .and_then(|p| p.get("targets"))
        .and_then(Value::as_array)
        .map(|items| items.iter().map(ProofTarget::from_value).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_reads_repro_leniently() {
        let repro = json!({
            "status": "proven",
            "targets": [{"name": "unit", "cmd": "cargo test"}, {"name": "lint", "argv": ["cargo", "clippy"]}],
            "source": {"git_commit": "abc"},
            "model": "m",
            "unrelated": 1
        });
        let p = predicate_from_repro(Some(&repro));
        assert_eq!(p["status"], "proven");
        assert_eq!(
            p["targets"][0],
            json!({"name": "unit", "cmd": "cargo test", "argv": null})
        );
        assert_eq!(p["targets"][1]["argv"], json!(["cargo", "clippy"]));
        assert_eq!(p["source"]["git_commit"], "abc");
        assert_eq!(p["source"]["dirty_diff_sha256"], Value::Null);
        assert_eq!(p["policy_sha256"], Value::Null);
        assert!(p.get("unrelated").is_none());
        let empty = predicate_from_repro(None);
        assert_eq!(empty["targets"], Value::Null);
        assert_eq!(empty["attester"]["name"], "pp");
    }

    #[test]
    fn subject_names_must_be_plain_relative_paths() {
        for good in ["final.patch", "attempts/1/reply.txt", "a..b", ".hidden"] {
            assert!(check_subject_name(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("../x", "`..`"),
            ("a/../../x", "`..`"),
            ("/etc/passwd", "absolute"),
            ("a\\b", "backslash"),
            ("a//b", "normalized"),
            ("./a", "normalized"),
            ("a/", "normalized"),
            ("", "empty"),
            ("a\nb", "control"),
            ("attestation.json", "attestation itself"),
        ] {
            let err = check_subject_name(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn statement_round_trips_through_the_parser() {
        let files = vec![BundleFile {
            path: "final.patch".to_owned(),
            sha256: "a".repeat(64),
            size: 1,
        }];
        let statement = build_statement(&files, predicate_from_repro(None));
        let mut problems = Vec::new();
        let subjects = parse_statement(&statement, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(subjects, [("final.patch".to_owned(), "a".repeat(64))]);
    }

    #[test]
    fn statement_parser_reports_type_digest_and_duplicates() {
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": PREDICATE_TYPE,
            "predicate": {},
            "subject": [
                {"name": "a", "digest": {"sha256": "A".repeat(64)}},
                {"name": "b", "digest": {"sha256": "b".repeat(64)}},
                {"name": "b", "digest": {"sha256": "b".repeat(64)}}
            ]
        });
        let mut problems = Vec::new();
        let subjects = parse_statement(&statement, &mut problems).unwrap();
        assert_eq!(subjects.len(), 1);
        let text = problems.join("\n");
        assert!(
            text.contains("statement _type is \"https://in-toto.io/Statement/v0.1\""),
            "{text}"
        );
        assert!(
            text.contains("subject \"a\" has no lowercase hex sha256"),
            "{text}"
        );
        assert!(text.contains("duplicate subject \"b\""), "{text}");
    }
}
