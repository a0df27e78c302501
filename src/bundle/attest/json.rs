//! Strict JSON reading for attestations (duplicate keys and trailing bytes are errors) and the
//! Python-compatible canonical form the legacy veripatch signatures were computed over.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses one JSON document, refusing duplicate object keys and anything after the document.
///
/// Duplicates matter because two readers may keep different copies of a repeated key: the
/// signature would then cover a document that means one thing to us and another to them.
pub(crate) fn parse_strict(bytes: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let StrictValue(value) = StrictValue::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end()
        .map_err(|e| format!("trailing data after the JSON document ({e})"))?;
    Ok(value)
}

struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Number(v.into())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Number(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<StrictValue, E> {
        Number::from_f64(v)
            .map(|n| StrictValue(Value::Number(n)))
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_none<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(StrictValue(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let StrictValue(value) = map.next_value()?;
            out.insert(key, value);
        }
        Ok(StrictValue(Value::Object(out)))
    }
}

/// Serializes `value` exactly as Python's
/// `json.dumps(value, sort_keys=True, separators=(",", ":"))` does (so `ensure_ascii=True`):
/// keys sorted by code point, no whitespace, every character outside `' '..='~'` escaped
/// (`\n`, `\r`, `\t`, `\b`, `\f` by name, others as lowercase `\uXXXX`, astral characters as
/// surrogate pairs). Only integers are accepted: Python's float formatting is not reproduced,
/// and the legacy statement never held floats.
pub(crate) fn python_canonical(value: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &Value, out: &mut String) -> Result<(), String> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                out.push_str(&n.to_string());
            } else {
                return Err(format!(
                    "number {n} is not an integer; the legacy canonical form covers integers only"
                ));
            }
        }
        Value::String(s) => write_python_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Rust orders `str` by UTF-8 bytes, which is code point order, like Python's sort.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_python_string(key, out);
                out.push(':');
                write_canonical(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parse_accepts_plain_documents() {
        let v = parse_strict(br#"{"a": [1, -2, 1.5, "x", null, true], "b": {}}"#).unwrap();
        assert_eq!(v["a"][3], "x");
        assert_eq!(v["a"][1], -2);
    }

    #[test]
    fn strict_parse_rejects_duplicate_keys_at_any_depth() {
        let err = parse_strict(br#"{"a": 1, "a": 2}"#).unwrap_err();
        assert!(err.contains("duplicate key \"a\""), "{err}");
        let err = parse_strict(br#"{"x": [{"k": 1, "k": 1}]}"#).unwrap_err();
        assert!(err.contains("duplicate key \"k\""), "{err}");
    }

    #[test]
    fn strict_parse_rejects_trailing_data_and_truncation() {
        let err = parse_strict(br#"{"a": 1} {"#).unwrap_err();
        assert!(err.contains("trailing data"), "{err}");
        assert!(parse_strict(br#"{"a": "#).is_err());
        // Whitespace after the document is not garbage.
        assert!(parse_strict(b"{\"a\": 1}\n").is_ok());
    }

    #[test]
    fn canonical_form_matches_python_json_dumps() {
        // Expected text produced by CPython 3:
        // json.dumps(v, sort_keys=True, separators=(",", ":"))
        let v: Value = serde_json::from_str(
            r#"{"z": 1, "a": {"b": [true, null, -3]}, "é": "naïve \"q\" \\ \n\t\u0001\u007f😀", "B": "~ "}"#,
        )
        .unwrap();
        let expected = r#"{"B":"~ ","a":{"b":[true,null,-3]},"z":1,"\u00e9":"na\u00efve \"q\" \\ \n\t\u0001\u007f\ud83d\ude00"}"#;
        assert_eq!(python_canonical(&v).unwrap(), expected);
    }

    #[test]
    fn canonical_form_refuses_floats() {
        let v: Value = serde_json::from_str(r#"{"t": 1.5}"#).unwrap();
        assert!(python_canonical(&v).unwrap_err().contains("not an integer"));
    }
}
