//! Reading a proposer's reply: the JSON object `{diff, rationale, risk_notes, confidence}`, a
//! whole-file rewrite `{path, content}` (or `{files: [{path, content}]}`), or a unified diff,
//! fenced or bare. Pure; what the diff does is the patch engine's business.

use serde::Serialize;

use crate::patch::{FileRewrite, ReplyBody};

/// A reply understood: the change (if any) and the proposer's notes.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    #[serde(skip)]
    pub body: Option<ReplyBody>,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Why no change could be read from the reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_reason: Option<String>,
}

impl Proposal {
    pub fn empty(reason: impl Into<String>) -> Self {
        Self {
            body: None,
            kind: "none",
            rationale: None,
            risk_notes: None,
            confidence: None,
            empty_reason: Some(reason.into()),
        }
    }
}

/// Interprets a reply's text.
pub fn parse_reply(text: &str) -> Proposal {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Proposal::empty("the reply was empty");
    }
    if let Some(obj) = json_object(trimmed) {
        return from_json(&obj);
    }
    if looks_like_diff(trimmed) {
        return Proposal {
            body: Some(ReplyBody::Diff(text.to_owned())),
            kind: "diff",
            rationale: None,
            risk_notes: None,
            confidence: None,
            empty_reason: None,
        };
    }
    Proposal::empty("the reply holds neither a JSON object with `diff` nor a unified diff")
}

/// Splits a reply holding several candidates (a JSON list on stdout from a `command` proposer:
/// each item a reply object, or a string holding a reply) into one reply text each. Any other
/// reply, the one-diff forms included, is one candidate.
pub fn split_replies(text: &str) -> Vec<String> {
    let trimmed = text.trim();
    if !trimmed.starts_with('[') {
        return vec![text.to_owned()];
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(trimmed) {
        Ok(items) if !items.is_empty() => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        _ => vec![text.to_owned()],
    }
}

fn looks_like_diff(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("@@") || l.starts_with("+++ ") || l.starts_with("diff --git "))
}

/// The reply as a JSON object: bare, or in a ```json fence.
fn json_object(text: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let candidate = if text.starts_with('{') {
        text
    } else {
        let start = text.find("```json")?;
        let rest = &text[start + 7..];
        let end = rest.find("```")?;
        rest[..end].trim()
    };
    match serde_json::from_str::<serde_json::Value>(candidate) {
        Ok(serde_json::Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn from_json(obj: &serde_json::Map<String, serde_json::Value>) -> Proposal {
    let s = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let rationale = s("rationale");
    let risk_notes = s("risk_notes");
    let confidence = obj.get("confidence").and_then(serde_json::Value::as_f64);
    let with = |body: Option<ReplyBody>, kind: &'static str, empty: Option<String>| Proposal {
        body,
        kind,
        rationale: rationale.clone(),
        risk_notes: risk_notes.clone(),
        confidence,
        empty_reason: empty,
    };
    if let Some(diff) = s("diff") {
        if diff.trim().is_empty() {
            return with(None, "none", Some("the reply's `diff` is empty".into()));
        }
        return with(Some(ReplyBody::Diff(diff)), "diff", None);
    }
    let rewrite = |v: &serde_json::Value| {
        Some(FileRewrite {
            path: v.get("path")?.as_str()?.to_owned(),
            content: v.get("content")?.as_str()?.to_owned(),
        })
    };
    if let Some(one) = rewrite(&serde_json::Value::Object(obj.clone())) {
        return with(Some(ReplyBody::Rewrites(vec![one])), "rewrite", None);
    }
    if let Some(files) = obj.get("files").and_then(|v| v.as_array()) {
        let all: Option<Vec<_>> = files.iter().map(rewrite).collect();
        if let Some(all) = all.filter(|a| !a.is_empty()) {
            return with(Some(ReplyBody::Rewrites(all)), "rewrite", None);
        }
    }
    with(
        None,
        "none",
        Some("the JSON reply has no `diff` string and no `{path, content}` rewrite".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n";

    #[test]
    fn json_diff_with_notes() {
        let reply =
            serde_json::json!({"diff": DIFF, "rationale": "r", "confidence": 0.5}).to_string();
        let p = parse_reply(&reply);
        assert_eq!(p.kind, "diff");
        assert_eq!(p.rationale.as_deref(), Some("r"));
        assert_eq!(p.confidence, Some(0.5));
        assert!(matches!(p.body, Some(ReplyBody::Diff(d)) if d == DIFF));
    }

    #[test]
    fn fenced_and_bare_diffs() {
        let fenced = format!("Here is the fix:\n```diff\n{DIFF}```\n");
        assert_eq!(parse_reply(&fenced).kind, "diff");
        assert_eq!(parse_reply(DIFF).kind, "diff");
    }

    #[test]
    fn whole_file_rewrites() {
        let one = serde_json::json!({"path": "a.py", "content": "x = 1\n"}).to_string();
        let p = parse_reply(&one);
        assert!(matches!(&p.body, Some(ReplyBody::Rewrites(r)) if r[0].path == "a.py"));
        let many = serde_json::json!({"files": [{"path": "a", "content": ""}, {"path": "b", "content": "x"}]}).to_string();
        assert!(matches!(parse_reply(&many).body, Some(ReplyBody::Rewrites(r)) if r.len() == 2));
    }

    #[test]
    fn prose_and_empty_are_no_change() {
        assert!(parse_reply("I cannot fix this.").body.is_none());
        assert!(parse_reply("").body.is_none());
        assert!(parse_reply(r#"{"diff": ""}"#).body.is_none());
    }

    #[test]
    fn a_json_list_is_several_candidates_and_one_reply_is_one() {
        let list = r#"[{"diff": "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"}, "--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+c\n"]"#;
        let parts = split_replies(list);
        assert_eq!(parts.len(), 2);
        assert!(parse_reply(&parts[0]).body.is_some(), "{}", parts[0]);
        assert!(parse_reply(&parts[1]).body.is_some(), "{}", parts[1]);
        let one = r#"{"diff": "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"}"#;
        assert_eq!(split_replies(one), vec![one.to_owned()]);
        assert_eq!(split_replies("[]"), vec!["[]".to_owned()]);
        assert_eq!(split_replies("[not json").len(), 1);
    }
}
