//! History: every pause, with filters and search.

use maud::{html, Markup};

use super::layout::{page, Nav};
use super::{agent_text, query_value, status_badge, tags, time_ago, Viewer};
use crate::clock::Millis;
use crate::domain::pauses::{Pause, SHORT_TEXT_WINDOW};
use crate::domain::Status;
use crate::urls;

/// The filter form's values, as typed.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub statuses: Vec<Status>,
    pub tag: String,
    pub key: String,
    pub from: String,
    pub to: String,
    pub q: String,
}

impl Filters {
    /// The filters as a query string, for links that keep them.
    pub fn query(&self) -> String {
        let mut parts: Vec<String> = self
            .statuses
            .iter()
            .map(|s| format!("status={s}"))
            .collect();
        for (name, value) in [
            ("tag", &self.tag),
            ("key", &self.key),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ] {
            if !value.is_empty() {
                parts.push(format!("{name}={}", query_value(value)));
            }
        }
        parts.join("&")
    }
}

pub struct History {
    pub filters: Filters,
    /// (id, name) of every key, for the key filter.
    pub keys: Vec<(String, String)>,
    pub items: Vec<Pause>,
    pub next_cursor: Option<String>,
    pub prev_cursor: Option<String>,
    pub now: Millis,
    pub error: Option<String>,
    /// The search text was too short for the index, and this page searched only some
    /// of the pauses: the "Older" link searches on.
    pub window_cut: bool,
}

/// `n` with its thousands grouped by commas: 100,000.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn page_link(filters: &Filters, cursor: &str) -> String {
    let q = filters.query();
    if q.is_empty() {
        format!("/history?cursor={cursor}")
    } else {
        format!("/history?{q}&cursor={cursor}")
    }
}

pub fn pager(prev: Option<String>, next: Option<String>) -> Markup {
    html! {
        nav.pager aria-label="Pages" {
            @if let Some(href) = prev { a.button.secondary href=(href) rel="prev" { "← Newer" } } @else { span {} }
            @if let Some(href) = next { a.button.secondary href=(href) rel="next" { "Older →" } }
        }
    }
}

pub fn view(viewer: &Viewer, h: &History) -> Markup {
    let f = &h.filters;
    let content = html! {
        div.page-head { h1 { "History" } }
        form.filters method="get" action="/history" role="search" {
            fieldset.chips {
                legend.visually-hidden { "Status" }
                @for status in Status::ALL {
                    label class=(format!("chip chip-{status}")) {
                        input type="checkbox" name="status" value=(status.as_str()) checked[f.statuses.contains(&status)];
                        " " (status.as_str())
                    }
                }
            }
            div.filter-fields {
                label { span { "Search" } input type="search" name="q" value=(f.q) placeholder="words in the action"; }
                label { span { "Tag" } input type="text" name="tag" value=(f.tag); }
                label { span { "Key" }
                    select name="key" {
                        option value="" { "any key" }
                        @for (id, name) in &h.keys {
                            option value=(id) selected[*id == f.key] { (agent_text(name)) }
                        }
                    }
                }
                label { span { "From" } input type="date" name="from" value=(f.from); }
                label { span { "To" } input type="date" name="to" value=(f.to); }
                div.filter-actions {
                    button type="submit" { "Filter" }
                    a.button.secondary href="/history" { "Clear" }
                }
            }
        }
        @if let Some(error) = &h.error { div.notice.error role="alert" { (error) } }
        @if h.window_cut {
            div.notice role="status" {
                "A search of one or two characters cannot use the search index, so each page reads "
                (grouped(SHORT_TEXT_WINDOW.unsigned_abs())) " pauses at most. “Older →” searches further back; "
                "three characters or more search them all at once."
            }
        }
        @if h.items.is_empty() {
            p.empty { @if h.window_cut { "No pauses match among these." } @else { "No pauses match." } }
        } @else {
            div.table-wrap {
                table.list.history {
                    thead { tr { th { "Status" } th { "Action" } th { "Key" } th { "Created" } th { "Decided" } } }
                    tbody {
                        @for p in &h.items {
                            tr {
                                td data-label="Status" { (status_badge(p.status)) }
                                td.action-cell data-label="Action" {
                                    @if p.kind == crate::domain::Kind::Question { span.kind-question { "QUESTION" } " " }
                                    a href=(urls::review(&p.watch_id)) { (agent_text(&p.action)) }
                                    @if !p.tags.is_empty() { div { (tags(&p.tags)) } }
                                }
                                td data-label="Key" { span.key-name { (agent_text(&p.key_name)) } }
                                td data-label="Created" { (time_ago(p.created_at, h.now)) }
                                td.decided data-label="Decided" {
                                    @if p.timed_out() && p.status != crate::domain::Status::Expired {
                                        div.by { "the timeout" }
                                    } @else if let Some(by) = &p.resolved_by { div.by { (agent_text(by)) } }
                                    @if let Some(at) = p.resolved_at { div { (time_ago(at, h.now)) } }
                                    @if p.resolved_by.is_none() && p.resolved_at.is_none() { span.muted { "—" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        (pager(h.prev_cursor.as_deref().map(|c| page_link(f, c)), h.next_cursor.as_deref().map(|c| page_link(f, c))))
    };
    page("History", viewer, Nav::History, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short search's page says that it searched only some pauses, and how to go on.
    #[test]
    fn a_page_cut_at_the_window_says_so_and_leads_on() {
        let viewer = Viewer {
            email: "r@example.com".into(),
            is_admin: false,
            csrf: "tok".into(),
            pending: 0,
        };
        let mut h = History {
            filters: Filters {
                q: "zq".into(),
                ..Filters::default()
            },
            keys: Vec::new(),
            items: Vec::new(),
            next_cursor: Some("cDEyMw".into()),
            prev_cursor: None,
            now: 0,
            error: None,
            window_cut: true,
        };
        let html = view(&viewer, &h).into_string();
        assert!(html.contains("reads 10 pauses at most"), "{html}");
        assert!(html.contains("No pauses match among these."), "{html}");
        assert!(
            html.contains("href=\"/history?q=zq&amp;cursor=cDEyMw\""),
            "{html}"
        );
        h.window_cut = false;
        h.next_cursor = None;
        let html = view(&viewer, &h).into_string();
        assert!(!html.contains("search index"), "{html}");
        assert!(html.contains("No pauses match."), "{html}");
        assert_eq!(grouped(100_000), "100,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
