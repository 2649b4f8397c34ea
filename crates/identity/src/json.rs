//! Strict JSON for token headers and claims: duplicate member names are refused at every
//! depth (serde_json alone silently keeps the last one, so two parsers could disagree on
//! what a token says), and nesting is bounded.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting accepted in a header or claim set (an `act` chain uses one level each).
pub(crate) const MAX_DEPTH: usize = 16;

/// Why strict parsing failed.
#[derive(Debug)]
pub(crate) enum StrictError {
    Duplicate(String),
    Invalid(String),
}

/// Parses a JSON object, refusing duplicates and deep nesting.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, StrictError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict { depth: 0 }.deserialize(&mut de).map_err(|e| classify(&e))?;
    de.end().map_err(|e| StrictError::Invalid(e.to_string()))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(StrictError::Invalid("not a JSON object".into())),
    }
}

const DUP_PREFIX: &str = "duplicate member name ";

fn classify(e: &serde_json::Error) -> StrictError {
    let text = e.to_string();
    match text.strip_prefix(DUP_PREFIX) {
        Some(rest) => StrictError::Duplicate(rest.split(" at line").next().unwrap_or(rest).into()),
        None => StrictError::Invalid(text),
    }
}

#[derive(Clone, Copy)]
struct Strict {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper::<A::Error>()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(inner)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper::<A::Error>()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(A::Error::custom(format_args!("{DUP_PREFIX}{key:?}")));
            }
            let value = map.next_value_seed(inner)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

impl Strict {
    fn deeper<E: serde::de::Error>(self) -> Result<Strict, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("JSON nested too deeply"));
        }
        Ok(Strict { depth: self.depth + 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_at_any_depth() {
        assert!(matches!(parse_object(br#"{"sub":"a","sub":"b"}"#), Err(StrictError::Duplicate(_))));
        assert!(matches!(parse_object(br#"{"act":{"sub":"a","sub":"b"}}"#), Err(StrictError::Duplicate(_))));
        // Escaped spellings of the same name are the same name.
        assert!(matches!(parse_object(br#"{"sub":"a","s\u0075b":"b"}"#), Err(StrictError::Duplicate(_))));
        assert!(parse_object(br#"{"sub":"a","act":{"sub":"b"}}"#).is_ok());
    }

    #[test]
    fn deep_nesting_and_trailing_data_are_refused() {
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let doc = format!("{{\"a\":{deep}}}");
        assert!(parse_object(doc.as_bytes()).is_err());
        assert!(parse_object(br#"{"a":1} {"a":2}"#).is_err());
        assert!(parse_object(b"[1]").is_err());
    }
}
