//! An agent's `context`, taken exactly as sent. The reviewer must see what the
//! executor will run, so two things a JSON parser may quietly do are refused or
//! avoided: a key given twice in one object (parsers disagree on which value wins) is
//! refused, naming its path; the text is stored as sent, less the whitespace between
//! tokens, so numbers keep their digits and objects their key order on the way out.
//! (Where hitl parses it again, for the review page and mail, serde_json's
//! `arbitrary_precision` and `preserve_order` keep digits and order there too.)

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, MapAccess, Visitor};
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

/// Keys serde_json gives a meaning of its own when it parses into a `Value` (with
/// `arbitrary_precision` and `raw_value`): an object holding one would be shown as a
/// number or as other JSON, or not at all, while the executor gets the object.
const RESERVED_KEY_PREFIX: &str = "$serde_json::private::";

/// Refuses JSON text in which one object names a key twice, or names a key serde_json
/// reserves, at any depth.
pub fn check_unique_keys(text: &str) -> Result<()> {
    walk(text, "context")
}

/// Walks the value in `text` (valid JSON) by its raw text: an object's or an array's
/// members are taken as raw text again, so a number is never mistaken for an object
/// (with `arbitrary_precision`, serde_json hands numbers to visitors as maps).
fn walk(text: &str, path: &str) -> Result<()> {
    let invalid =
        |e: serde_json::Error| Error::InvalidJson(format!("context is not valid JSON: {e}"));
    match text.trim_start().as_bytes().first() {
        Some(b'{') => {
            let Members(members) = serde_json::from_str(text).map_err(invalid)?;
            let mut seen = HashSet::new();
            for (key, value) in members {
                let at = child_path(path, &key);
                if key.starts_with(RESERVED_KEY_PREFIX) {
                    return Err(Error::validation(format!(
                        "{at}: keys starting with {RESERVED_KEY_PREFIX} are reserved"
                    )));
                }
                if !seen.insert(key) {
                    return Err(Error::validation(format!(
                        "{at} is given more than once; send each key once"
                    )));
                }
                walk(value.get(), &at)?;
            }
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(invalid)?;
            for (index, item) in items.iter().enumerate() {
                walk(item.get(), &format!("{path}[{index}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// An object's members in the order sent, duplicates kept, values as raw text.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Collect<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Collect<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'a>, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Collect(std::marker::PhantomData))
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
    fn keys_serde_json_reserves_are_refused() {
        // Parsed into a `Value`, these would show as the number 5 or as other JSON.
        assert_eq!(
            refusal(r#"{"amount":{"$serde_json::private::Number":"5"}}"#),
            r#"context.amount["$serde_json::private::Number"]: keys starting with $serde_json::private:: are reserved"#
        );
        assert!(refusal(r#"[{"$serde_json::private::RawValue":"{}"}]"#).contains("reserved"));
        // Numbers, nested or not, are no objects.
        assert!(stored(r#"{"n":[1,-2.5e3,{"m":0}]}"#).is_ok());
        assert!(stored("12").is_ok());
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
