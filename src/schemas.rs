//! The JSON Schemas of the documents pp writes, generated from their Rust types with
//! `schemars` and published in `docs/schemas/`: one file per document. The types own the
//! formats (`bundle::schema`, `report::Summary`, `session::ReplayOutcome`, `session::EventLine`); this module only
//! lists them and renders their schemas. A unit test keeps the committed files equal to what the
//! types generate (`PP_UPDATE_SCHEMAS=1 cargo test schemas` rewrites them); integration tests
//! validate real outputs against the committed files.
//!
//! The schemas describe what pp writes (schemars' serialize contract): every field pp always
//! writes is `required`, and the ones it leaves out when empty are not. They leave
//! `additionalProperties` open, because fields are only ever added within a schema version
//! (DESIGN §1): a consumer's copy of a `v1` schema keeps accepting a newer pp's `v1` documents.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

use crate::bundle::schema::{AttemptRecord, Environment, IsolationRecord, ProofPredicate, Repro};
use crate::report::show::ShowReport;
use crate::report::{
    AttestDocument, CompletionsDocument, DoctorDocument, ErrorDocument, GcDocument, KeygenDocument,
    ManDocument, Summary, VerifyDocument,
};
use crate::session::{EventLine, ReplayOutcome, ReplayRefused};

/// Where the schemas live, relative to the repository's root.
pub const DIR: &str = "docs/schemas";

/// One published schema.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file under `docs/schemas/`.
    pub file: &'static str,
    pub schema: serde_json::Value,
}

impl Document {
    /// The file's content: pretty JSON, one trailing newline.
    pub fn render(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Either `pp.replay/v1` document: the replay's outcome, or its refusal before it read the
/// bundle.
#[derive(JsonSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "a type for its schema only: replay prints one of the two documents it names"
)]
enum ReplayDocument {
    Outcome(ReplayOutcome),
    Refused(ReplayRefused),
}

fn document<T: JsonSchema>(file: &'static str, title: &str) -> Document {
    let mut schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    let mut schema = schema.to_value();
    unwrap_descriptions(&mut schema);
    Document { file, schema }
}

/// Descriptions come from doc comments wrapped at 100 columns: a single line break becomes a
/// space, a blank line (a paragraph) stays.
fn unwrap_descriptions(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(text) if key == "description" => {
                        *text = text
                            .split("\n\n")
                            .map(|paragraph| paragraph.replace('\n', " "))
                            .collect::<Vec<_>>()
                            .join("\n\n");
                    }
                    _ => unwrap_descriptions(v),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}

/// Every published schema, in the order the README lists them.
pub fn documents() -> Vec<Document> {
    vec![
        document::<Summary>(
            "summary.schema.json",
            "pp.summary/v1: the JSON summary of pp run / pp prove",
        ),
        document::<Repro>(
            "repro.schema.json",
            "pp.repro/v1: a proof bundle's repro.json",
        ),
        document::<Environment>(
            "environment.schema.json",
            "pp.environment/v1: a proof bundle's environment.json",
        ),
        document::<AttemptRecord>(
            "attempt-outcome.schema.json",
            "a proof bundle's attempts/<n>/outcome.json (also repro.json's attempts and the attempt event)",
        ),
        document::<IsolationRecord>(
            "isolation.schema.json",
            "the isolation record of repro.json and environment.json",
        ),
        document::<ProofPredicate>(
            "proof-predicate.schema.json",
            "https://pp.dev/proof/v1: the predicate of attestation.json's in-toto statement",
        ),
        document::<ReplayDocument>(
            "replay.schema.json",
            "pp.replay/v1: the JSON document of pp replay",
        ),
        document::<EventLine>(
            "event.schema.json",
            "pp.event/v1: one line of a proof bundle's events.jsonl and of the --events stream",
        ),
        document::<VerifyDocument>(
            "verify.schema.json",
            "pp.verify/v1: the JSON document of pp verify-attestation",
        ),
        document::<AttestDocument>(
            "attest.schema.json",
            "pp.attest/v1: the JSON document of pp attest BUNDLE",
        ),
        document::<KeygenDocument>(
            "keygen.schema.json",
            "pp.keygen/v1: the JSON document of pp attest --generate-key",
        ),
        document::<ErrorDocument>(
            "error.schema.json",
            "pp.error/v1: the JSON document of any command's error under --json",
        ),
        document::<ShowReport>(
            "show.schema.json",
            "pp.show/v1: the JSON document of pp show",
        ),
        document::<GcDocument>("gc.schema.json", "pp.gc/v1: the JSON document of pp gc"),
        document::<DoctorDocument>(
            "doctor.schema.json",
            "pp.doctor/v1: the JSON document of pp doctor",
        ),
        document::<CompletionsDocument>(
            "completions.schema.json",
            "pp.completions/v1: the JSON document of pp completions SHELL",
        ),
        document::<ManDocument>("man.schema.json", "pp.man/v1: the JSON document of pp man"),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Like an `insta` snapshot: the committed schemas are what the types generate. With
    /// `PP_UPDATE_SCHEMAS=1` the test rewrites them instead of failing.
    #[test]
    fn committed_schemas_are_current() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR);
        let update = std::env::var_os("PP_UPDATE_SCHEMAS").is_some_and(|v| v != "0");
        let docs = documents();
        let mut stale = Vec::new();
        for doc in &docs {
            let path = dir.join(doc.file);
            let text = doc.render();
            if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
                continue;
            }
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, text).unwrap();
            } else {
                stale.push(doc.file.to_owned());
            }
        }
        // A schema whose document no longer exists is stale too.
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if docs.iter().all(|d| d.file != name) {
                if update {
                    std::fs::remove_file(dir.join(&name)).unwrap();
                } else {
                    stale.push(format!("{name} (no such document)"));
                }
            }
        }
        assert!(
            stale.is_empty(),
            "{DIR}/ does not match the Rust types: {}\n\
             If the change is intended, regenerate them with `PP_UPDATE_SCHEMAS=1 cargo test schemas`, \
             review the diff and commit it.",
            stale.join(", ")
        );
    }

    #[test]
    fn every_document_has_a_distinct_file() {
        let docs = documents();
        let mut files: Vec<&str> = docs.iter().map(|d| d.file).collect();
        files.sort_unstable();
        files.dedup();
        assert_eq!(files.len(), docs.len());
    }
}
