//! Forms: a pause's `responseSchema`, a small subset of JSON Schema that the review
//! page shows as a form, and the reviewer's `response` checked against it.
//!
//! The subset: an object of fields, each a string, number, integer, boolean or a
//! choice (`enum` of strings); `required`; `minimum`/`maximum` for numbers;
//! `maxLength` for strings; `title` and `description` for labels and help. Anything
//! else is refused when the pause is created, so that every accepted schema can be
//! shown as a form and every response checked on every path. The check itself is the
//! `jsonschema` crate's, with extra fields refused.

use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use super::{Error, Result};

/// The largest `responseSchema`, as sent.
pub const MAX_SCHEMA_BYTES: usize = 16 * 1024;
/// The most fields a form has.
pub const MAX_FIELDS: usize = 50;
/// The longest field name.
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// The most choices of an `enum`, and the longest choice.
pub const MAX_CHOICES: usize = 50;
pub const MAX_CHOICE_CHARS: usize = 200;
/// The largest response, as stored (its JSON text).
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024;

/// A form as the review page shows it: its fields in the schema's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub title: Option<String>,
    pub description: Option<String>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The property name: the key of the response object.
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub required: bool,
    pub kind: FieldKind,
}

impl Field {
    /// What the form calls the field: its title, else its name.
    pub fn label(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text {
        max_length: Option<u64>,
    },
    Number {
        integer: bool,
        minimum: Option<Number>,
        maximum: Option<Number>,
    },
    Boolean,
    Choice(Vec<String>),
}

const TOP_KEYWORDS: &[&str] = &[
    "$schema",
    "type",
    "title",
    "description",
    "properties",
    "required",
    "additionalProperties",
];

fn unsupported(at: &str, keyword: &str, allowed: &[&str]) -> Error {
    Error::validation(format!(
        "{at}: {keyword:?} is not supported in a form (supported here: {})",
        allowed.join(", ")
    ))
}

fn text_of(at: &str, key: &str, value: &Value, max: usize) -> Result<String> {
    let Some(text) = value.as_str() else {
        return Err(Error::validation(format!("{at}.{key} must be a string")));
    };
    let one_line = key != "title" || !text.chars().any(char::is_control);
    if text.chars().count() > max || !one_line {
        return Err(Error::validation(format!(
            "{at}.{key} must be at most {max} characters{}",
            if key == "title" { ", on one line" } else { "" }
        )));
    }
    Ok(text.to_string())
}

/// A non-negative whole number, as a `u64`.
fn whole(at: &str, key: &str, value: &Value) -> Result<u64> {
    value
        .as_u64()
        .ok_or_else(|| Error::validation(format!("{at}.{key} must be a whole number, 0 or more")))
}

fn number(at: &str, key: &str, value: &Value) -> Result<Number> {
    match value {
        Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(n.clone()),
        _ => Err(Error::validation(format!("{at}.{key} must be a number"))),
    }
}

fn field(name: &str, schema: &Value, required: bool) -> Result<Field> {
    let at = format!("responseSchema.properties.{name}");
    let Some(schema) = schema.as_object() else {
        return Err(Error::validation(format!("{at} must be an object")));
    };
    let kind = match (schema.get("type"), schema.get("enum")) {
        (None | Some(Value::String(_)), Some(_)) => "enum",
        (Some(Value::String(t)), None) => t.as_str(),
        (Some(Value::Array(_)), _) => {
            return Err(Error::validation(format!(
                "{at}.type: a list of types is not supported in a form; give one of string, number, integer, boolean"
            )))
        }
        (Some(_), _) => {
            return Err(Error::validation(format!(
                "{at}.type must be one of string, number, integer, boolean"
            )))
        }
        (None, None) => {
            return Err(Error::validation(format!(
                "{at} needs a \"type\" (string, number, integer or boolean) or an \"enum\""
            )))
        }
    };
    let allowed: &[&str] = match kind {
        "string" => &["type", "title", "description", "maxLength"],
        "number" | "integer" => &["type", "title", "description", "minimum", "maximum"],
        "boolean" => &["type", "title", "description"],
        "enum" => &["type", "title", "description", "enum"],
        other => {
            return Err(Error::validation(format!(
                "{at}.type {other:?} is not supported in a form (supported: string, number, integer, boolean, or an enum of strings)"
            )))
        }
    };
    for key in schema.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(unsupported(&at, key, allowed));
        }
    }
    let title = schema
        .get("title")
        .map(|t| text_of(&at, "title", t, MAX_TITLE_CHARS))
        .transpose()?;
    let description = schema
        .get("description")
        .map(|d| text_of(&at, "description", d, MAX_DESCRIPTION_CHARS))
        .transpose()?;
    let kind = match kind {
        "string" => FieldKind::Text {
            max_length: schema
                .get("maxLength")
                .map(|m| whole(&at, "maxLength", m))
                .transpose()?,
        },
        "number" | "integer" => {
            let minimum = schema
                .get("minimum")
                .map(|m| number(&at, "minimum", m))
                .transpose()?;
            let maximum = schema
                .get("maximum")
                .map(|m| number(&at, "maximum", m))
                .transpose()?;
            if let (Some(lo), Some(hi)) = (&minimum, &maximum) {
                if lo.as_f64() > hi.as_f64() {
                    return Err(Error::validation(format!(
                        "{at}: minimum {lo} is above maximum {hi}"
                    )));
                }
            }
            FieldKind::Number {
                integer: kind == "integer",
                minimum,
                maximum,
            }
        }
        "boolean" => FieldKind::Boolean,
        _ => {
            if schema.get("type").is_some_and(|t| t != "string") {
                return Err(Error::validation(format!(
                    "{at}: an enum is a list of strings, with \"type\": \"string\" or no type"
                )));
            }
            FieldKind::Choice(choices(&at, schema.get("enum"))?)
        }
    };
    Ok(Field {
        name: name.to_string(),
        title,
        description,
        required,
        kind,
    })
}

fn choices(at: &str, value: Option<&Value>) -> Result<Vec<String>> {
    let problem = || {
        Error::validation(format!(
            "{at}.enum must be a list of 1 to {MAX_CHOICES} distinct strings of at most {MAX_CHOICE_CHARS} characters"
        ))
    };
    let items = value.and_then(Value::as_array).ok_or_else(problem)?;
    if items.is_empty() || items.len() > MAX_CHOICES {
        return Err(problem());
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let text = item.as_str().ok_or_else(problem)?;
        if text.chars().count() > MAX_CHOICE_CHARS || out.iter().any(|o| o == text) {
            return Err(problem());
        }
        out.push(text.to_string());
    }
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.chars().any(char::is_control)
}

/// Reads a schema as a form, refusing anything outside the subset.
pub fn parse(schema: &Value) -> Result<Form> {
    let Some(top) = schema.as_object() else {
        return Err(Error::validation(
            "responseSchema must be an object: {\"type\": \"object\", \"properties\": {...}}",
        ));
    };
    for key in top.keys() {
        if !TOP_KEYWORDS.contains(&key.as_str()) {
            return Err(unsupported("responseSchema", key, TOP_KEYWORDS));
        }
    }
    if top.get("type").and_then(Value::as_str) != Some("object") {
        return Err(Error::validation(
            "responseSchema.type must be \"object\": a form is an object of fields",
        ));
    }
    if top.get("$schema").is_some_and(|s| !s.is_string()) {
        return Err(Error::validation("responseSchema.$schema must be a string"));
    }
    match top.get("additionalProperties") {
        None | Some(Value::Bool(false)) => {}
        Some(_) => {
            return Err(Error::validation(
                "responseSchema.additionalProperties may only be false: a response has only the form's fields",
            ))
        }
    }
    let Some(properties) = top.get("properties").and_then(Value::as_object) else {
        return Err(Error::validation(
            "responseSchema.properties must be an object of the form's fields",
        ));
    };
    if properties.is_empty() || properties.len() > MAX_FIELDS {
        return Err(Error::validation(format!(
            "responseSchema.properties must hold 1 to {MAX_FIELDS} fields"
        )));
    }
    let required = required_names(top.get("required"), properties)?;
    let mut fields = Vec::with_capacity(properties.len());
    for (name, schema) in properties {
        if !valid_name(name) {
            return Err(Error::validation(format!(
                "responseSchema.properties: field names must be visible text of at most {MAX_NAME_CHARS} characters; {name:?} is not"
            )));
        }
        fields.push(field(name, schema, required.contains(name))?);
    }
    Ok(Form {
        title: top
            .get("title")
            .map(|t| text_of("responseSchema", "title", t, MAX_TITLE_CHARS))
            .transpose()?,
        description: top
            .get("description")
            .map(|d| text_of("responseSchema", "description", d, MAX_DESCRIPTION_CHARS))
            .transpose()?,
        fields,
    })
}

fn required_names(value: Option<&Value>, properties: &Map<String, Value>) -> Result<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(items) = value.as_array() else {
        return Err(Error::validation(
            "responseSchema.required must be a list of field names",
        ));
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Some(name) = item.as_str() else {
            return Err(Error::validation(
                "responseSchema.required must be a list of field names",
            ));
        };
        if !properties.contains_key(name) {
            return Err(Error::validation(format!(
                "responseSchema.required names {name:?}, which is not one of its properties"
            )));
        }
        if out.iter().any(|n| n == name) {
            return Err(Error::validation(format!(
                "responseSchema.required names {name:?} twice"
            )));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// Checks a `responseSchema` as sent and returns it as stored (compact JSON text).
pub fn check_schema(raw: &RawValue) -> Result<String> {
    if raw.get().len() > MAX_SCHEMA_BYTES {
        return Err(Error::validation(format!(
            "responseSchema is longer than {MAX_SCHEMA_BYTES} bytes"
        )));
    }
    let value: Value = serde_json::from_str(raw.get())
        .map_err(|e| Error::validation(format!("responseSchema is not valid JSON: {e}")))?;
    parse(&value)?;
    // The checker must accept it too (it always should: the subset is plain JSON Schema).
    validator(&value)?;
    serde_json::to_string(&value).map_err(Error::internal)
}

/// The form of a stored schema (accepted when its pause was created).
pub fn stored(schema: &str) -> Result<Form> {
    let value: Value = serde_json::from_str(schema)
        .map_err(|e| Error::internal(format!("stored responseSchema: {e}")))?;
    parse(&value)
}

/// The validator of a schema: the schema itself, with fields outside it refused.
fn validator(schema: &Value) -> Result<jsonschema::Validator> {
    let mut schema = schema.clone();
    if let Some(top) = schema.as_object_mut() {
        // Resolved nowhere: the subset has no references, and no draft is fetched.
        top.remove("$schema");
        top.insert("additionalProperties".into(), Value::Bool(false));
    }
    jsonschema::draft202012::new(&schema)
        .map_err(|e| Error::validation(format!("responseSchema is not a usable schema: {e}")))
}

/// How an error names a field: `response.amount`, or `response["two words"]`.
fn path_of(prefix: &str, field: Option<&str>) -> String {
    match field {
        None => prefix.to_string(),
        Some(f) if f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            format!("{prefix}.{f}")
        }
        Some(f) => format!("{prefix}[{f:?}]"),
    }
}

fn type_words(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Text { .. } | FieldKind::Choice(_) => "text",
        FieldKind::Number { integer: true, .. } => "a whole number",
        FieldKind::Number { .. } => "a number",
        FieldKind::Boolean => "true or false",
    }
}

/// Checks a reviewer's response against a stored schema: `None` is an empty form
/// (`{}`), so a form with required fields needs one. Returns the response as stored
/// (compact JSON text). `prefix` is how errors name it (`response`, or `answer`).
pub fn check_response(schema: &str, response: Option<&Value>, prefix: &str) -> Result<String> {
    let empty = Value::Object(Map::new());
    let response = response.unwrap_or(&empty);
    let schema_value: Value = serde_json::from_str(schema)
        .map_err(|e| Error::internal(format!("stored responseSchema: {e}")))?;
    let form = parse(&schema_value)?;
    if !response.is_object() {
        return Err(Error::validation(format!(
            "{prefix} must be an object of the form's fields ({})",
            form.fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let validator = validator(&schema_value)?;
    // Errors in the form's order, so the first named is the first field on the page.
    let mut errors: Vec<(usize, String)> = validator
        .iter_errors(response)
        .map(|e| describe(&form, prefix, &e))
        .collect();
    errors.sort_by_key(|(order, _)| *order);
    if let Some((_, message)) = errors.into_iter().next() {
        return Err(Error::validation(message));
    }
    let text = serde_json::to_string(response).map_err(Error::internal)?;
    if text.len() > MAX_RESPONSE_BYTES {
        return Err(Error::validation(format!(
            "{prefix} is longer than {MAX_RESPONSE_BYTES} bytes"
        )));
    }
    Ok(text)
}

/// One error in words, with the position of its field in the form.
fn describe(form: &Form, prefix: &str, e: &jsonschema::ValidationError) -> (usize, String) {
    use jsonschema::error::ValidationErrorKind as K;
    let segment = e.instance_path().into_iter().next().map(|s| s.to_string());
    let field_name = match (e.kind(), &segment) {
        (K::Required { property }, None) => property.as_str().map(str::to_string),
        (_, s) => s.clone(),
    };
    let position = field_name
        .as_deref()
        .and_then(|n| form.fields.iter().position(|f| f.name == n))
        .unwrap_or(usize::MAX);
    let field = form.fields.get(position);
    let at = path_of(prefix, field_name.as_deref());
    let message = match e.kind() {
        K::Required { .. } => format!("{at} is required"),
        K::AdditionalProperties { unexpected } => {
            let names = unexpected
                .iter()
                .map(|u| path_of(prefix, Some(u)))
                .collect::<Vec<_>>();
            return (
                usize::MAX,
                format!("{} is not a field of this form", names.join(", ")),
            );
        }
        K::Maximum { limit } => format!("{at} must be at most {limit}"),
        K::Minimum { limit } => format!("{at} must be at least {limit}"),
        K::MaxLength { limit } => format!("{at} must be at most {limit} characters"),
        K::Enum { options } => format!(
            "{at} must be one of {}",
            options
                .as_array()
                .map(|o| o
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ),
        K::Type { .. } => match field {
            Some(f) => format!("{at} must be {}", type_words(&f.kind)),
            None => format!("{at} must be an object of the form's fields"),
        },
        _ => format!("{at}: {e}"),
    };
    (position, message)
}

/// The response of a form posted from the review page: each field's text as typed
/// (`field.NAME`), turned into JSON by its type. An empty box is no value; a checkbox
/// is true when sent and false when not. The result is then checked like any other.
pub fn from_page(
    form: &Form,
    typed: &dyn Fn(&str) -> Option<String>,
    prefix: &str,
) -> Result<Value> {
    let mut out = Map::new();
    for field in &form.fields {
        let text = typed(&field.name).unwrap_or_default();
        let value = match &field.kind {
            FieldKind::Boolean => Some(Value::Bool(!text.is_empty())),
            _ if text.trim().is_empty() => None,
            FieldKind::Number { .. } => {
                let number = text
                    .trim()
                    .parse::<Number>()
                    .ok()
                    .filter(|n| n.as_f64().is_some_and(f64::is_finite));
                match number {
                    Some(n) => Some(Value::Number(n)),
                    None => {
                        return Err(Error::validation(format!(
                            "{} must be {}",
                            path_of(prefix, Some(&field.name)),
                            type_words(&field.kind)
                        )))
                    }
                }
            }
            FieldKind::Text { .. } | FieldKind::Choice(_) => Some(Value::String(text)),
        };
        if let Some(value) = value {
            out.insert(field.name.clone(), value);
        }
    }
    Ok(Value::Object(out))
}

/// The name of a field's input on the review page.
pub fn input_name(field: &Field) -> String {
    format!("field.{}", field.name)
}

#[cfg(test)]
mod tests;
