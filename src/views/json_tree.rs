//! The context of a pause as a readable tree: nested `<details>` elements, so it
//! folds and unfolds without any script. Keys are muted, strings plain, numbers and
//! booleans distinct, `null` dimmed. Every string is agent text.
//!
//! Nothing is hidden by default: a context of up to `OPEN_LEAVES` values and
//! `OPEN_BYTES` of JSON is shown whole. Only a larger one folds, objects and arrays
//! deeper than `FOLD_DEPTH` levels or with more than `FOLD_CHILDREN` children, and the
//! page then says how many are folded (see [`Tree::folded`]).

use maud::{html, Markup};
use serde_json::Value;

use super::agent_text;

/// Up to this many leaf values (strings, numbers, booleans, nulls, empty containers)…
pub const OPEN_LEAVES: usize = 200;
/// …and this many bytes of compact JSON, a context is shown fully open.
pub const OPEN_BYTES: usize = 64 * 1024;
const FOLD_DEPTH: usize = 3;
const FOLD_CHILDREN: usize = 50;

/// A laid-out tree and what of it starts folded.
pub struct Tree {
    pub markup: Markup,
    /// Objects and arrays that start folded.
    pub folded: usize,
    /// All non-empty objects and arrays.
    pub containers: usize,
}

/// Leaf values and containers of a JSON value.
fn census(value: &Value) -> (usize, usize) {
    match value {
        Value::Object(map) if !map.is_empty() => map.values().fold((0, 1), |(l, c), v| {
            let (vl, vc) = census(v);
            (l + vl, c + vc)
        }),
        Value::Array(items) if !items.is_empty() => items.iter().fold((0, 1), |(l, c), v| {
            let (vl, vc) = census(v);
            (l + vl, c + vc)
        }),
        _ => (1, 0),
    }
}

/// Whether a context is small enough to show whole (`compact_len`: its bytes).
pub fn fits_open(value: &Value, compact_len: usize) -> bool {
    compact_len <= OPEN_BYTES && census(value).0 <= OPEN_LEAVES
}

/// The tree of `value`; `open_all` opens every node, whatever the size.
pub fn tree(value: &Value, open_all: bool) -> Tree {
    let compact_len = serde_json::to_string(value).map_or(usize::MAX, |s| s.len());
    let mut layout = Layout {
        open_all: open_all || fits_open(value, compact_len),
        folded: 0,
        containers: 0,
    };
    let markup = html! { div.json-tree { (layout.node(None, value, 0)) } };
    Tree {
        markup,
        folded: layout.folded,
        containers: layout.containers,
    }
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

struct Layout {
    open_all: bool,
    folded: usize,
    containers: usize,
}

impl Layout {
    #[allow(clippy::too_many_arguments)]
    fn container<'a>(
        &mut self,
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
        self.containers += 1;
        let expanded = self.open_all || (depth < FOLD_DEPTH && len <= FOLD_CHILDREN);
        if !expanded {
            self.folded += 1;
        }
        let inner: Vec<Markup> = children.map(|(k, v)| self.node(k, v, depth + 1)).collect();
        html! {
            details.json-node open[expanded] {
                summary {
                    (key_label(key)) span.json-punct { (open) }
                    span.json-count { (summary) }
                }
                div.json-children {
                    @for child in &inner { (child) }
                }
                span.json-punct { (close) }
            }
        }
    }

    fn node(&mut self, key: Option<&str>, value: &Value, depth: usize) -> Markup {
        match value {
            Value::Object(map) => self.container(
                key,
                "{",
                "}",
                count(map.len(), "key", "keys"),
                map.iter().map(|(k, v)| (Some(k.as_str()), v)),
                map.len(),
                depth,
            ),
            Value::Array(items) => self.container(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_keys_and_values() {
        let v = json!({
            "<b>key</b>": "</pre><script>alert(1)</script>",
            "diff": "line one\nline two",
            "n": 1.5, "ok": true, "nothing": null
        });
        let html = tree(&v, false).markup.into_string();
        assert!(!html.contains("<script>") && !html.contains("<b>"));
        assert!(html.contains("&lt;/pre&gt;&lt;script&gt;"));
        assert!(html.contains("pre class=\"json-string multiline\""));
    }

    #[test]
    fn a_context_of_generous_size_is_open_to_the_last_level() {
        let v = json!({
            "a": { "b": { "c": { "d": { "e": "deep" } } } },
            "many": (0..150).collect::<Vec<_>>(),
        });
        let t = tree(&v, false);
        let html = t.markup.into_string();
        assert_eq!(t.folded, 0);
        assert_eq!(t.containers, 6);
        assert!(!html.contains("<details class=\"json-node\">"), "{html}");
        assert!(html.contains("deep"));
    }

    #[test]
    fn only_a_large_context_folds_and_counts_what_it_folded() {
        let v = json!({
            "a": { "b": { "c": { "d": 1 } } },
            "many": (0..250).collect::<Vec<_>>(),
        });
        let t = tree(&v, false);
        // The 250-item array and the depth-3 object start folded; the rest is open.
        assert_eq!((t.folded, t.containers), (2, 5));
        let html = t.markup.into_string();
        assert!(html.starts_with("<div class=\"json-tree\"><details class=\"json-node\" open>"));
        assert!(
            html.contains("<details class=\"json-node\"><summary><span class=\"json-key\">many")
        );
        assert!(html.contains("250 items"));
        let all = tree(&v, true);
        assert_eq!(all.folded, 0);
        let big =
            json!({ "blob": "x".repeat(OPEN_BYTES), "nested": { "a": { "b": { "c": [1] } } } });
        let t = tree(&big, false);
        // `b` (depth 3) and the `c` inside it.
        assert_eq!((t.folded, t.containers), (2, 5), "over the byte limit");
    }
}
