//! An agent's `context`, taken exactly as sent. The reviewer must see what the
//! executor will run, so two things a JSON parser may quietly do are refused or
//! avoided: a key given twice in one object (parsers disagree on which value wins) is
//! refused, naming its path; the text is stored as sent, less the whitespace between
//! tokens, so numbers keep their digits and objects their key order on the way out.
//! (Where hitl parses it again, for the review page and mail, serde_json's
//! `arbitrary_precision` and `preserve_order` keep digits and order there too.)

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::{Error, Result};

/// The context as stored: compact JSON text with the agent's digits and key order,
/// or `None` for an absent or `null` context.
pub fn normalise(raw: Option<&RawValue>, max_bytes: usize) -> Result<Option<String>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let text = raw.get();
    if text == "null" {
        return Ok(None);
    }
    check_unique_keys(text)?;
    let compact = without_whitespace(text);
    if compact.len() > max_bytes {
        return Err(Error::PayloadTooLarge(format!(
            "context is {} bytes; the limit is {max_bytes} bytes",
            compact.len()
        )));
    }
    Ok(Some(compact))
}

/// JSON text without the whitespace between its tokens; everything else, number
/// digits and string escapes included, is kept byte for byte. `text` is valid JSON.
fn without_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// Refuses JSON text in which one object names a key twice, at any depth.
pub fn check_unique_keys(text: &str) -> Result<()> {
    let mut de = serde_json::Deserializer::from_str(text);
    Walk { path: "context" }
        .deserialize(&mut de)
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Error::validation(strip_position(&e)),
            _ => Error::InvalidJson(format!("context is not valid JSON: {e}")),
        })
}

/// serde_json appends " at line L column C" to every message; the path says more.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// A visitor that walks a JSON value, keeping the path to where it is.
struct Walk<'p> {
    path: &'p str,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// `a.b` for a plain key, `a["odd key"]` otherwise, so the path reads unambiguously.
fn child_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{}]", Value::String(key.to_string()))
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let path = format!("{}[{index}]", self.path);
            if seq.next_element_seed(Walk { path: &path })?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = child_path(self.path, &key);
            if !seen.insert(key) {
                return Err(de::Error::custom(format!(
                    "{path} is given more than once; send each key once"
                )));
            }
            map.next_value_seed(Walk { path: &path })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(text: &str) -> Result<Option<String>> {
        let raw: Box<RawValue> = serde_json::from_str(text).map_err(Error::internal)?;
        normalise(Some(&raw), 1 << 20)
    }

    fn refusal(text: &str) -> String {
        match stored(text) {
            Err(Error::Validation(message)) => message,
            other => panic!("{text}: expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        assert_eq!(
            refusal(r#"{"amount":1,"amount":1000000}"#),
            "context.amount is given more than once; send each key once"
        );
        assert_eq!(
            refusal(r#"{"payment":{"to":"a","amount":1,"amount":2}}"#),
            "context.payment.amount is given more than once; send each key once"
        );
        assert_eq!(
            refusal(r#"[{"ok":1},{"x y":{"a":1,"a":1}}]"#),
            r#"context[1]["x y"].a is given more than once; send each key once"#
        );
        // The same key in sibling objects is fine.
        assert!(stored(r#"[{"a":1},{"a":2}]"#).is_ok());
    }

    #[test]
    fn digits_and_key_order_survive() {
        let cases = [
            r#"{"big":123456789012345678901234567890}"#,
            r#"{"tenth":0.1000000000000000055511151231257827}"#,
            r#"{"z":1,"a":2,"m":[1.0,1e400,-0,2.50]}"#,
        ];
        for case in cases {
            assert_eq!(stored(case).ok().flatten().as_deref(), Some(case));
        }
        assert_eq!(
            stored("{ \"b\" : 1 ,\n \"a\" : [ 1 , 2 ], \"s\" : \" x \\\" \\u0041 \" }")
                .ok()
                .flatten()
                .as_deref(),
            Some(r#"{"b":1,"a":[1,2],"s":" x \" \u0041 "}"#)
        );
        assert_eq!(stored("null").ok().flatten(), None);
    }

    #[test]
    fn the_size_limit_applies_to_the_stored_text() {
        let raw: Box<RawValue> =
            serde_json::from_str(r#"{"a":"0123456789"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            normalise(Some(&raw), 10),
            Err(Error::PayloadTooLarge(_))
        ));
    }
}
