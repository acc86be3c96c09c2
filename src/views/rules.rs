//! The Rules page: the standing approvals reviewers made, with their uses, and Revoke.

use maud::{html, Markup};

use super::csrf;
use super::layout::{page, Nav};
use super::{agent_text, time_ago, Viewer};
use crate::clock::Millis;
use crate::domain::rules::Rule;
use crate::urls;

pub struct Rules {
    /// Newest first.
    pub rules: Vec<Rule>,
    /// The ids of the rules the viewer may revoke (theirs, or all for an admin).
    pub revocable: Vec<i64>,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub now: Millis,
}

fn state(rule: &Rule, now: Millis) -> Markup {
    html! {
        @if let Some(at) = rule.revoked_at {
            "revoked " (time_ago(at, now))
            @if let Some(by) = &rule.revoked_by { " by " (by) }
        } @else if rule.expires_at.is_some_and(|at| at <= now) {
            span.muted { "expired" }
        } @else if rule.max_uses.is_some_and(|max| rule.uses >= max) {
            span.muted { "used up" }
        } @else {
            strong { "active" }
        }
    }
}

pub fn view(viewer: &Viewer, m: &Rules) -> Markup {
    let content = html! {
        div.page-head { h1 { "Standing approvals" } }
        p.muted {
            "A standing approval approves, as soon as they are made, new requests of one agent key with the same action "
            "(or one its pattern matches), until it expires, is used up or is revoked. Reviewers make one with "
            "“Approve & allow again…” on a request's page. Never for requests that need several approvals, "
            "critical risks or questions."
        }
        @if let Some(notice) = &m.notice { div.notice role="status" { (notice) } }
        @if let Some(error) = &m.error { div.notice.error role="alert" { (error) } }
        @if m.rules.is_empty() {
            p.empty { "No standing approvals yet." }
        } @else {
            div.table-wrap { table.list data-rules {
                thead { tr {
                    th { "#" } th { "Key" } th { "Action" } th { "Made by" } th { "Until" }
                    th { "Uses" } th { "Last used" } th { "State" } th { span.visually-hidden { "Actions" } }
                } }
                tbody {
                    @for r in &m.rules {
                        tr.revoked[!r.active] data-rule=(r.id) {
                            td data-label="#" { (r.id) }
                            td data-label="Key" { span.key-name { (agent_text(&r.key_name)) } }
                            td.wide data-label="Action" {
                                code.rule-action { (agent_text(&r.action)) }
                                @if r.is_glob { " " span.tag title="* is any text, ? one character" { "pattern" } }
                            }
                            td data-label="Made by" {
                                (r.created_by) " · " (time_ago(r.created_at, m.now))
                                @if let Some(w) = &r.watch_id { " · " a href=(urls::review(w)) { "request" } }
                            }
                            td data-label="Until" {
                                @if let Some(at) = r.expires_at { (time_ago(at, m.now)) } @else { "always " span.muted { "(until revoked)" } }
                            }
                            td data-label="Uses" {
                                (r.uses) @if let Some(max) = r.max_uses { " of " (max) }
                            }
                            td data-label="Last used" {
                                @if let Some(at) = r.last_used_at { (time_ago(at, m.now)) } @else { span.muted { "never" } }
                            }
                            td data-label="State" { (state(r, m.now)) }
                            td.actions {
                                @if r.revoked_at.is_none() && m.revocable.contains(&r.id) {
                                    form.inline method="post" action=(urls::rule_revoke(r.id)) data-confirm=(format!("Revoke standing approval #{}? The next matching request waits for a reviewer again.", r.id)) {
                                        (csrf(viewer))
                                        button.danger.small type="submit" aria-label=(format!("Revoke standing approval {}", r.id)) { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    page("Rules", viewer, Nav::Rules, content)
}
