//! Strict JSON for everything that decides who a token belongs to: JOSE
//! headers, claim sets, JWKs and JWK Sets.
//!
//! `serde_json` keeps the last of two members with one name; other parsers
//! keep the first or fail. Two parsers that disagree about
//! `{"sub":"alice","sub":"admin"}` are an identity-confusion attack (the
//! gateway checks one `sub`, the service uses the other), so a duplicate
//! member name at any nesting level is refused here (issue 11.5; RFC 7515
//! §5.2 and RFC 7519 §4 allow refusing).
//!
//! Written as a serde visitor rather than taken from a crate: no
//! maintained crate in the tree rejects duplicates while producing a
//! `serde_json::Map`, and this builds the same map `serde_json` would in one
//! pass, so the uncached verification path still parses each part once.
//! `serde_json`'s own recursion limit (128) still applies.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrictJsonError {
    /// Not JSON, or not an object at the top level.
    Syntax(String),
    /// A member name appears twice in one object; `at` is the path of that
    /// object (`$`, `$.keys[1]`, ...).
    Duplicate { name: String, at: String },
}

impl fmt::Display for StrictJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrictJsonError::Syntax(e) => f.write_str(e),
            StrictJsonError::Duplicate { name, at } => {
                write!(f, "duplicate member name \"{name}\" in {at}")
            }
        }
    }
}

/// Parses a JSON object, refusing a duplicate member name at any level.
pub(crate) fn object_from_slice(bytes: &[u8]) -> Result<Map<String, Value>, StrictJsonError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = ValueSeed {
        path: None,
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match value {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StrictJsonError::Syntax("not a JSON object".into())),
        Err(e) => Err(duplicate
            .into_inner()
            .unwrap_or_else(|| StrictJsonError::Syntax(e.to_string()))),
    }
}

/// [`object_from_slice`] for text.
pub(crate) fn object_from_str(text: &str) -> Result<Map<String, Value>, StrictJsonError> {
    object_from_slice(text.as_bytes())
}

/// Where a value sits, as a linked list on the stack: nothing is allocated
/// unless a duplicate is found.
#[derive(Clone, Copy)]
enum Segment<'a> {
    Member(&'a str),
    Index(usize),
}

struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Segment<'a>,
}

fn render(path: Option<&Path<'_>>) -> String {
    let mut segments = Vec::new();
    let mut cur = path;
    while let Some(p) = cur {
        segments.push(p.segment);
        cur = p.parent;
    }
    let mut out = String::from("$");
    for s in segments.iter().rev() {
        match s {
            Segment::Member(name) => {
                out.push('.');
                out.push_str(name);
            }
            Segment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

struct ValueSeed<'p> {
    path: Option<&'p Path<'p>>,
    /// Where a duplicate is reported: `serde::de::Error` carries only text.
    duplicate: &'p RefCell<Option<StrictJsonError>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never yields a non-finite float from text.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
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

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        loop {
            let here = Path {
                parent: self.path,
                segment: Segment::Index(out.len()),
            };
            match seq.next_element_seed(ValueSeed {
                path: Some(&here),
                duplicate: self.duplicate,
            })? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            // One lookup per member: the entry is taken before the value is
            // parsed, and filled after.
            match out.entry(name) {
                serde_json::map::Entry::Occupied(seen) => {
                    let at = render(self.path);
                    *self.duplicate.borrow_mut() = Some(StrictJsonError::Duplicate {
                        name: seen.key().clone(),
                        at,
                    });
                    return Err(de::Error::custom("duplicate member name"));
                }
                serde_json::map::Entry::Vacant(slot) => {
                    let here = Path {
                        parent: self.path,
                        segment: Segment::Member(slot.key()),
                    };
                    let value = map.next_value_seed(ValueSeed {
                        path: Some(&here),
                        duplicate: self.duplicate,
                    })?;
                    slot.insert(value);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(text: &str) -> (String, String) {
        match object_from_str(text) {
            Err(StrictJsonError::Duplicate { name, at }) => (name, at),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn duplicates_are_found_at_every_level_with_their_path() {
        assert_eq!(dup(r#"{"sub":"a","sub":"b"}"#), ("sub".into(), "$".into()));
        // An escaped spelling is the same name once decoded.
        assert_eq!(
            dup(r#"{"sub":"a","s\u0075b":"b"}"#),
            ("sub".into(), "$".into())
        );
        assert_eq!(
            dup(r#"{"cnf":{"jkt":"a","jkt":"b"}}"#),
            ("jkt".into(), "$.cnf".into())
        );
        assert_eq!(
            dup(r#"{"keys":[{"kty":"EC"},{"kty":"EC","kty":"oct"}]}"#),
            ("kty".into(), "$.keys[1]".into())
        );
        assert_eq!(
            dup(r#"{"a":[[{"x":1,"x":1}]]}"#),
            ("x".into(), "$.a[0][0]".into())
        );
    }

    #[test]
    fn the_same_document_as_serde_json_without_duplicates() {
        let text = r#"{"sub":"a","n":[1,-2,3.5,18446744073709551615,1e300],"o":{"t":true,"f":false,"z":null},"s":"\u00e9\n"}"#;
        let strict = object_from_str(text).unwrap();
        let plain: Map<String, Value> = serde_json::from_str(text).unwrap();
        assert_eq!(strict, plain);
        // Same names in different objects are not duplicates.
        assert!(object_from_str(r#"{"a":{"x":1},"b":{"x":1},"x":[{"x":1},{"x":2}]}"#).is_ok());
    }

    #[test]
    fn non_objects_and_bad_syntax_are_refused() {
        for text in [
            "[]",
            "1",
            "\"s\"",
            "null",
            "{",
            "{\"a\":1} x",
            "{\"a\":1,}",
            "",
        ] {
            assert!(
                matches!(object_from_str(text), Err(StrictJsonError::Syntax(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn deep_nesting_hits_the_recursion_limit_not_the_stack() {
        let text = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            object_from_str(&text),
            Err(StrictJsonError::Syntax(_))
        ));
    }
}
