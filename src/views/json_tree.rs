//! The context of a pause as a readable tree: nested `<details>` elements, so it
//! folds and unfolds without any script. Keys are muted, strings plain, numbers and
//! booleans distinct, `null` dimmed; objects and arrays deeper than 3 levels or with
//! more than 50 children start folded with a count. Every string is agent text.

use maud::{html, Markup};
use serde_json::Value;

use super::agent_text;

const OPEN_DEPTH: usize = 3;
const OPEN_CHILDREN: usize = 50;

pub fn tree(value: &Value) -> Markup {
    html! { div.json-tree { (node(None, value, 0)) } }
}

fn key_label(key: Option<&str>) -> Markup {
    html! {
        @if let Some(key) = key {
            span.json-key { (agent_text(key)) } span.json-colon { ": " }
        }
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn container<'a>(
    key: Option<&str>,
    open: &str,
    close: &str,
    summary: String,
    children: impl Iterator<Item = (Option<&'a str>, &'a Value)>,
    len: usize,
    depth: usize,
) -> Markup {
    if len == 0 {
        return html! { div.json-row { (key_label(key)) span.json-punct { (open) (close) } } };
    }
    let expanded = depth < OPEN_DEPTH && len <= OPEN_CHILDREN;
    html! {
        details.json-node open[expanded] {
            summary {
                (key_label(key)) span.json-punct { (open) }
                span.json-count { (summary) }
            }
            div.json-children {
                @for (k, v) in children { (node(k, v, depth + 1)) }
            }
            span.json-punct { (close) }
        }
    }
}

fn node(key: Option<&str>, value: &Value, depth: usize) -> Markup {
    match value {
        Value::Object(map) => container(
            key,
            "{",
            "}",
            count(map.len(), "key", "keys"),
            map.iter().map(|(k, v)| (Some(k.as_str()), v)),
            map.len(),
            depth,
        ),
        Value::Array(items) => container(
            key,
            "[",
            "]",
            count(items.len(), "item", "items"),
            items.iter().map(|v| (None, v)),
            items.len(),
            depth,
        ),
        Value::String(s) if s.contains('\n') => html! {
            div.json-row { (key_label(key)) pre.json-string.multiline { (agent_text(s)) } }
        },
        Value::String(s) => html! {
            div.json-row { (key_label(key)) span.json-string { "\"" (agent_text(s)) "\"" } }
        },
        Value::Number(n) => {
            html! { div.json-row { (key_label(key)) span.json-number { (n.to_string()) } } }
        }
        Value::Bool(b) => {
            html! { div.json-row { (key_label(key)) span.json-bool { (b.to_string()) } } }
        }
        Value::Null => html! { div.json-row { (key_label(key)) span.json-null { "null" } } },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_keys_and_values_and_folds_big_nodes() {
        let v = json!({
            "<b>key</b>": "</pre><script>alert(1)</script>",
            "diff": "line one\nline two",
            "many": (0..60).collect::<Vec<_>>(),
            "n": 1.5, "ok": true, "nothing": null
        });
        let html = tree(&v).into_string();
        assert!(!html.contains("<script>") && !html.contains("<b>"));
        assert!(html.contains("&lt;/pre&gt;&lt;script&gt;"));
        assert!(html.contains("pre class=\"json-string multiline\""));
        assert!(html.contains("60 items"));
        // The 60-item array starts folded; the top object is open.
        assert!(html.starts_with("<div class=\"json-tree\"><details class=\"json-node\" open>"));
        assert!(
            html.contains("<details class=\"json-node\"><summary><span class=\"json-key\">many")
        );
    }
}
