//! The form subset and response checks, tested directly.

use super::*;
use serde_json::json;

fn raw(v: Value) -> Box<RawValue> {
    RawValue::from_string(v.to_string()).unwrap()
}

fn schema() -> String {
    check_schema(&raw(json!({
        "type": "object",
        "title": "Refund",
        "properties": {
            "amount": {"type": "number", "minimum": 0, "maximum": 100, "title": "Amount"},
            "count": {"type": "integer", "minimum": 1},
            "reason": {"type": "string", "maxLength": 10, "description": "Why"},
            "notify": {"type": "boolean"},
            "channel": {"enum": ["mail", "phone"]}
        },
        "required": ["amount", "reason"]
    })))
    .unwrap()
}

fn refused(v: Value) -> String {
    match check_schema(&raw(v)) {
        Err(Error::Validation(m)) => m,
        other => panic!("accepted: {other:?}"),
    }
}

fn answer_error(response: Value) -> String {
    match check_response(&schema(), Some(&response), "response") {
        Err(Error::Validation(m)) => m,
        other => panic!("accepted: {other:?}"),
    }
}

#[test]
fn the_subset_is_accepted_and_read_as_a_form() {
    let form = stored(&schema()).unwrap();
    assert_eq!(form.title.as_deref(), Some("Refund"));
    let names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["amount", "count", "reason", "notify", "channel"]);
    assert!(form.fields[0].required && !form.fields[1].required);
    assert_eq!(form.fields[0].label(), "Amount");
    assert_eq!(form.fields[1].label(), "count");
    assert_eq!(
        form.fields[4].kind,
        FieldKind::Choice(vec!["mail".into(), "phone".into()])
    );
    assert_eq!(
        form.fields[1].kind,
        FieldKind::Number {
            integer: true,
            minimum: Some(1.into()),
            maximum: None
        }
    );
}

#[test]
fn anything_outside_the_subset_is_refused_by_name() {
    let m = refused(json!({"type": "object", "properties": {
        "code": {"type": "string", "pattern": "^[a-z]+$"}}}));
    assert!(
        m.contains("properties.code") && m.contains("\"pattern\""),
        "{m}"
    );
    let m = refused(json!({"type": "object", "properties": {
        "tags": {"type": "array"}}}));
    assert!(m.contains("\"array\" is not supported"), "{m}");
    let m = refused(
        json!({"type": "object", "properties": {"a": {"type": "string"}},
        "$ref": "#/x"}),
    );
    assert!(m.contains("\"$ref\""), "{m}");
    let m = refused(json!({"type": "object", "properties": {"a": {"$ref": "#/x"}}}));
    assert!(m.contains("properties.a"), "{m}");
    let m = refused(json!({"type": "string"}));
    assert!(m.contains("responseSchema.type"), "{m}");
    let m = refused(json!({"type": "object", "properties": {}}));
    assert!(m.contains("1 to 50 fields"), "{m}");
    let m = refused(
        json!({"type": "object", "properties": {"a": {"type": "string"}},
        "required": ["b"]}),
    );
    assert!(m.contains("\"b\""), "{m}");
    let m = refused(json!({"type": "object", "properties": {
        "n": {"type": "number", "minimum": 5, "maximum": 1}}}));
    assert!(m.contains("above maximum"), "{m}");
    let m = refused(json!({"type": "object", "properties": {
        "n": {"type": "integer", "enum": [1, 2]}}}));
    assert!(m.contains("enum"), "{m}");
    let m = refused(
        json!({"type": "object", "properties": {"a": {"type": "string"}},
        "additionalProperties": true}),
    );
    assert!(m.contains("additionalProperties"), "{m}");
    let m = refused(json!([1]));
    assert!(m.contains("must be an object"), "{m}");
    let big = "x".repeat(MAX_SCHEMA_BYTES);
    let m = refused(
        json!({"type": "object", "properties": {"a": {"type": "string",
        "description": big}}}),
    );
    assert!(m.contains("longer than"), "{m}");
}

#[test]
fn responses_are_checked_with_the_field_named() {
    assert_eq!(
        answer_error(json!({"amount": 101, "reason": "x"})),
        "response.amount must be at most 100"
    );
    assert_eq!(
        answer_error(json!({"amount": -1, "reason": "x"})),
        "response.amount must be at least 0"
    );
    assert_eq!(
        answer_error(json!({"amount": 5})),
        "response.reason is required"
    );
    assert_eq!(
        answer_error(json!({"amount": "5", "reason": "x"})),
        "response.amount must be a number"
    );
    assert_eq!(
        answer_error(json!({"amount": 5, "reason": "x", "count": 1.5})),
        "response.count must be a whole number"
    );
    assert_eq!(
        answer_error(json!({"amount": 5, "reason": "far too long a reason"})),
        "response.reason must be at most 10 characters"
    );
    assert_eq!(
        answer_error(json!({"amount": 5, "reason": "x", "channel": "fax"})),
        "response.channel must be one of \"mail\", \"phone\""
    );
    assert_eq!(
        answer_error(json!({"amount": 5, "reason": "x", "extra": 1})),
        "response.extra is not a field of this form"
    );
    assert!(answer_error(json!([1])).starts_with("response must be an object"));
    // The first field on the form is named first.
    assert_eq!(
        answer_error(json!({"reason": "far too long a reason", "amount": 500})),
        "response.amount must be at most 100"
    );
    let ok = check_response(
        &schema(),
        Some(&json!({"amount": 99.5, "reason": "ok"})),
        "response",
    );
    assert_eq!(ok.unwrap(), r#"{"amount":99.5,"reason":"ok"}"#);
    // No response: an empty form, refused when a field is required.
    assert!(matches!(
        check_response(&schema(), None, "response"),
        Err(Error::Validation(m)) if m == "response.amount is required"
    ));
}

#[test]
fn a_posted_page_is_turned_into_json_by_type() {
    let form = stored(&schema()).unwrap();
    let typed = |name: &str| match name {
        "amount" => Some("12.50".to_string()),
        "count" => Some(String::new()),
        "reason" => Some("late".to_string()),
        "channel" => Some("mail".to_string()),
        _ => None,
    };
    let value = from_page(&form, &typed, "response").unwrap();
    // The digits as typed.
    assert_eq!(
        value.to_string(),
        r#"{"amount":12.50,"reason":"late","notify":false,"channel":"mail"}"#
    );
    let bad = |name: &str| (name == "amount").then(|| "twelve".to_string());
    assert!(matches!(
        from_page(&form, &bad, "response"),
        Err(Error::Validation(m)) if m == "response.amount must be a number"
    ));
}
