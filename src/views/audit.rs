//! The audit log page (admin).

use maud::{html, Markup};
use serde_json::Value;

use super::history::pager;
use super::layout::{page, Nav};
use super::{agent_text, query_value, Viewer};
use crate::clock;
use crate::domain::audit::Entry;
use crate::urls;

#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub event: String,
    pub actor: String,
    pub watch_id: String,
    pub from: String,
    pub to: String,
}

impl Filters {
    pub fn query(&self) -> String {
        [
            ("event", &self.event),
            ("actor", &self.actor),
            ("watch_id", &self.watch_id),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

pub struct Audit {
    pub filters: Filters,
    pub events: Vec<String>,
    pub items: Vec<Entry>,
    pub next_cursor: Option<String>,
    pub prev_cursor: Option<String>,
    pub error: Option<String>,
}

fn link(base: &str, filters: &Filters, cursor: Option<&str>) -> String {
    let mut q = filters.query();
    if let Some(c) = cursor {
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(&format!("cursor={c}"));
    }
    if q.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{q}")
    }
}

/// "2026-07-28 10:42:03": the exact time to the second (the title has the milliseconds).
fn short_time(at: clock::Millis) -> String {
    let exact = clock::rfc3339(at).replace('T', " ");
    exact.get(..19).unwrap_or(&exact).to_string()
}

/// An RFC 3339 time as the table shows times: "2026-07-28 10:42:03 UTC".
fn readable_time(rfc3339: &str) -> Markup {
    match (rfc3339.get(..19), rfc3339.ends_with('Z')) {
        (Some(second), true) => html! { (second.replace('T', " ")) " UTC" },
        _ => agent_text(rfc3339),
    }
}

/// A watchId cut to its first characters ("wch_4Jd8sK2m…"); the link and title keep it whole.
fn short_id(watch_id: &str) -> String {
    match watch_id.char_indices().nth(12) {
        Some((cut, _)) => format!("{}…", &watch_id[..cut]),
        None => watch_id.to_string(),
    }
}

/// Who acted, in words: a key by its name, a user by their email.
fn actor(e: &Entry) -> Markup {
    match (e.actor.split_once(':'), &e.key_name) {
        (Some(("key", id)), Some(name)) => html! {
            span.actor-kind { "key" } " " span.key-name title=(id) { (agent_text(name)) }
        },
        (Some(("user", email)), _) => html! { span.actor-kind { "user" } " " (email) },
        _ => html! { (agent_text(&e.actor)) },
    }
}

/// The label of a details field: `webhookUrl` reads "webhook", `revokedKeys` "revoked keys".
fn field_label(name: &str) -> String {
    match name {
        "webhookUrl" | "url" => "webhook".to_string(),
        "expiresAt" => "expires".to_string(),
        "id" => "key id".to_string(),
        _ => {
            let mut label = String::with_capacity(name.len() + 4);
            for c in name.chars() {
                if c.is_ascii_uppercase() {
                    label.push(' ');
                    label.push(c.to_ascii_lowercase());
                } else {
                    label.push(c);
                }
            }
            label
        }
    }
}

/// Nothing worth a line: null, "", [] or {}.
fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A value in words: strings as agent text, lists joined by commas, yes and no.
fn value(v: &Value) -> Markup {
    html! {
        @match v {
            Value::String(s) => (agent_text(s)),
            Value::Bool(b) => (if *b { "yes" } else { "no" }),
            Value::Number(n) => (n.to_string()),
            Value::Null => span.muted { "none" },
            Value::Array(items) => {
                @for (i, item) in items.iter().enumerate() {
                    @if i > 0 { ", " }
                    (value(item))
                }
            }
            Value::Object(fields) => {
                @for (i, (k, item)) in fields.iter().enumerate() {
                    @if i > 0 { "; " }
                    (field_label(k)) ": " (value(item))
                }
            }
        }
    }
}

/// The entry's details (stored as JSON) as labelled lines, "comment: ship it".
fn details(json: &str) -> Markup {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(fields)) => {
            let shown: Vec<_> = fields.iter().filter(|(_, v)| !is_blank(v)).collect();
            html! {
                @if shown.is_empty() { span.muted { "—" } }
                div.fields {
                    @for (k, v) in shown {
                        div.field {
                            span.field-name { (field_label(k)) ":" } " "
                            span.field-value {
                                @match (k.as_str(), v) {
                                    ("expiresAt", Value::String(at)) => (readable_time(at)),
                                    _ => (value(v)),
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(other) if !is_blank(&other) => value(&other),
        Ok(_) => html! { span.muted { "—" } },
        Err(_) => html! { (agent_text(json)) },
    }
}

pub fn view(viewer: &Viewer, a: &Audit) -> Markup {
    let f = &a.filters;
    let content = html! {
        div.page-head {
            h1 { "Audit log" }
            a.button.secondary href=(link("/audit.csv", f, None)) download="hitl-audit.csv" { "Export CSV" }
        }
        form.filters method="get" action="/audit" {
            div.filter-fields {
                label { span { "Event" }
                    select name="event" {
                        option value="" { "any event" }
                        @for e in &a.events { option value=(e) selected[*e == f.event] { (e) } }
                    }
                }
                label { span { "Actor" } input type="text" name="actor" value=(f.actor) placeholder="user:alice@example.com, key:key_…, cli, system"; }
                label { span { "watchId" } input type="text" name="watch_id" value=(f.watch_id); }
                label { span { "From" } input type="date" name="from" value=(f.from); }
                label { span { "To" } input type="date" name="to" value=(f.to); }
                div.filter-actions { button type="submit" { "Filter" } a.button.secondary href="/audit" { "Clear" } }
            }
        }
        @if let Some(error) = &a.error { div.notice.error role="alert" { (error) } }
        @if a.items.is_empty() {
            p.empty { "No entries match." }
        } @else {
            div.table-wrap {
                table.list.audit {
                    thead { tr { th { "Time (UTC)" } th { "Event" } th { "Actor" } th { "Pause" } th { "Details" } } }
                    tbody {
                        @for e in &a.items {
                            tr {
                                td data-label="Time (UTC)" {
                                    time.stamp datetime=(clock::rfc3339(e.at)) title=(clock::rfc3339(e.at).replace('T', " ")) { (short_time(e.at)) }
                                }
                                td.wide data-label="Event" { code { (e.event) } }
                                td data-label="Actor" { (actor(e)) }
                                td data-label="Pause" {
                                    @if let Some(w) = &e.watch_id {
                                        a href=(urls::review(w)) title=(w) { code { (short_id(w)) } }
                                    } @else { span.muted { "—" } }
                                }
                                td.details data-label="Details" { (details(&e.details)) }
                            }
                        }
                    }
                }
            }
        }
        (pager(
            a.prev_cursor.as_deref().map(|c| link("/audit", f, Some(c))),
            a.next_cursor.as_deref().map(|c| link("/audit", f, Some(c))),
        ))
    };
    page("Audit log", viewer, Nav::Audit, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_as_labelled_lines_never_json() {
        let html = details(
            r#"{"by":"alice@example.com","comment":"<b>ship</b> it","webhookUrl":"http://h/x","tags":["a","b"],"monthlyLimit":null,"expiresAt":"2026-07-28T10:42:03.123Z","nested":{"k":1}}"#,
        )
        .into_string();
        for part in [
            "by:",
            "alice@example.com",
            "comment:",
            "&lt;b&gt;ship&lt;/b&gt; it",
            "webhook:",
            "a, b",
            "2026-07-28 10:42:03 UTC",
            "k: 1",
        ] {
            assert!(html.contains(part), "{part} in {html}");
        }
        assert!(
            !html.contains("monthly"),
            "null fields are left out: {html}"
        );
        assert!(!html.contains("{\"") && !html.contains("{&quot;"), "{html}");
        assert!(details("{}").into_string().contains('—'));
        assert!(details("not json <x>").into_string().contains("&lt;x&gt;"));
    }

    #[test]
    fn actors_are_named() {
        let entry = |actor: &str, key_name: Option<&str>| Entry {
            id: 1,
            at: 0,
            actor: actor.to_string(),
            event: "pause.created".to_string(),
            watch_id: None,
            details: "{}".to_string(),
            hash: None,
            key_name: key_name.map(str::to_string),
        };
        let key = actor(&entry("key:key_A4x5", Some("<deploy-bot>"))).into_string();
        assert!(
            key.contains("&lt;deploy-bot&gt;") && !key.contains(">key:key_"),
            "{key}"
        );
        let user = actor(&entry("user:alice@example.com", None)).into_string();
        assert!(
            user.contains("alice@example.com") && !user.contains("user:"),
            "{user}"
        );
        assert_eq!(actor(&entry("cli", None)).into_string(), "cli");
        assert_eq!(short_id("wch_4Jd8sK2mQ9xV7bN1pL3cR5tY"), "wch_4Jd8sK2m…");
    }
}
