//! The DSSE envelope: its JSON shape, its pre-authentication encoding (PAE), and strict decoding.
//! Which keys sign or verify is decided elsewhere (`keys`, `sign`, `verify`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// The only payload type pp writes or accepts: an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE v1 pre-authentication encoding, the exact bytes every signature covers:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let head = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(head.len() + payload.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// One `signatures[]` entry, with the signature already base64-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvelopeSignature {
    pub keyid: String,
    pub sig: Vec<u8>,
}

/// A decoded envelope; `payload` holds the decoded bytes.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<EnvelopeSignature>,
}

/// Renders the envelope as the JSON text of `attestation.json` (pretty, newline-terminated).
pub(crate) fn encode(envelope: &Envelope) -> Result<Vec<u8>, serde_json::Error> {
    let signatures: Vec<Value> = envelope
        .signatures
        .iter()
        .map(|s| json!({"keyid": s.keyid, "sig": STANDARD.encode(&s.sig)}))
        .collect();
    let value = json!({
        "payloadType": envelope.payload_type,
        "payload": STANDARD.encode(&envelope.payload),
        "signatures": signatures,
    });
    let mut text = serde_json::to_vec_pretty(&value)?;
    text.push(b'\n');
    Ok(text)
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str], what: &str, problems: &mut Vec<String>) {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            problems.push(format!("{what} has an unexpected field {key:?}"));
        }
    }
}

/// Reads an envelope from a strictly parsed JSON value. Problems are collected rather than
/// returned at the first one; `None` means the payload itself could not be recovered.
pub(crate) fn decode(value: &Value, problems: &mut Vec<String>) -> Option<Envelope> {
    let Some(map) = value.as_object() else {
        problems.push("attestation.json is not a JSON object".to_owned());
        return None;
    };
    only_keys(
        map,
        &["payloadType", "payload", "signatures"],
        "the envelope",
        problems,
    );

    let payload_type = match map.get("payloadType") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => {
            problems.push("envelope payloadType is not a string".to_owned());
            String::new()
        }
        None => {
            problems.push("envelope has no payloadType".to_owned());
            String::new()
        }
    };

    let payload = match map.get("payload") {
        Some(Value::String(text)) => match super::b64::decode(text) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                problems.push(format!("envelope payload is not valid base64: {e}"));
                None
            }
        },
        Some(_) => {
            problems.push("envelope payload is not a string".to_owned());
            None
        }
        None => {
            problems.push("envelope has no payload".to_owned());
            None
        }
    };

    let mut signatures = Vec::new();
    match map.get("signatures") {
        Some(Value::Array(entries)) => {
            for (i, entry) in entries.iter().enumerate() {
                if let Some(sig) = decode_signature(i, entry, problems) {
                    signatures.push(sig);
                }
            }
        }
        Some(_) => problems.push("envelope signatures is not an array".to_owned()),
        None => problems.push("envelope has no signatures array".to_owned()),
    }

    Some(Envelope {
        payload_type,
        payload: payload?,
        signatures,
    })
}

fn decode_signature(
    index: usize,
    entry: &Value,
    problems: &mut Vec<String>,
) -> Option<EnvelopeSignature> {
    let what = format!("signature entry {index}");
    let Some(map) = entry.as_object() else {
        problems.push(format!("{what} is not an object"));
        return None;
    };
    only_keys(map, &["keyid", "sig"], &what, problems);
    let keyid = match map.get("keyid") {
        Some(Value::String(k)) => k.clone(),
        None => String::new(),
        Some(_) => {
            problems.push(format!("{what} keyid is not a string"));
            return None;
        }
    };
    match map.get("sig") {
        Some(Value::String(text)) => match super::b64::decode(text) {
            Ok(sig) => Some(EnvelopeSignature { keyid, sig }),
            Err(e) => {
                problems.push(format!(
                    "{what} (keyid {keyid:?}) sig is not valid base64: {e}"
                ));
                None
            }
        },
        _ => {
            problems.push(format!("{what} (keyid {keyid:?}) has no sig string"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_known_answer_from_the_dsse_spec() {
        // The DSSE protocol document's worked example.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn pae_counts_bytes_not_characters_and_allows_empty_parts() {
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
        assert_eq!(
            pae("t", "é".as_bytes()),
            "DSSEv1 1 t 2 é".as_bytes().to_vec()
        );
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let env = Envelope {
            payload_type: PAYLOAD_TYPE.to_owned(),
            payload: b"{\"a\":1}".to_vec(),
            signatures: vec![EnvelopeSignature {
                keyid: "k".to_owned(),
                sig: vec![1, 2, 3, 250],
            }],
        };
        let text = encode(&env).unwrap();
        let value: Value = serde_json::from_slice(&text).unwrap();
        let mut problems = Vec::new();
        let back = decode(&value, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(back.payload, env.payload);
        assert_eq!(back.signatures, env.signatures);
    }

    #[test]
    fn decode_reports_bad_base64_and_unknown_fields() {
        let value = json!({
            "payloadType": PAYLOAD_TYPE,
            "payload": "e30=",
            "signatures": [{"keyid": "k", "sig": "not base64!"}],
            "extra": 1
        });
        let mut problems = Vec::new();
        let env = decode(&value, &mut problems).unwrap();
        assert!(env.signatures.is_empty());
        assert!(
            problems
                .iter()
                .any(|p| p.contains("sig is not valid base64")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("unexpected field \"extra\"")),
            "{problems:?}"
        );
    }

    #[test]
    fn decode_refuses_non_canonical_padding() {
        let value = json!({"payloadType": PAYLOAD_TYPE, "payload": "e30", "signatures": []});
        let mut problems = Vec::new();
        assert!(decode(&value, &mut problems).is_none());
        assert!(
            problems[0].contains("payload is not valid base64"),
            "{problems:?}"
        );
    }
}
