//! The audit log page (admin).

use maud::{html, Markup};

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
            table.list.audit {
                thead { tr { th { "Time (UTC)" } th { "Event" } th { "Actor" } th { "Pause" } th { "Details" } } }
                tbody {
                    @for e in &a.items {
                        tr {
                            td data-label="Time" { time datetime=(clock::rfc3339(e.at)) { (clock::rfc3339(e.at).replace('T', " ")) } }
                            td data-label="Event" { code { (e.event) } }
                            td data-label="Actor" { (agent_text(&e.actor)) }
                            td data-label="Pause" {
                                @if let Some(w) = &e.watch_id { a href=(urls::review(w)) { code { (w) } } }
                            }
                            td.details data-label="Details" { code { (agent_text(&e.details)) } }
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
