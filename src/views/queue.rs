//! The queue: pending pauses, oldest waiting first.

use maud::{html, Markup};

use super::layout::{page, Nav};
use super::{agent_text, csrf, expiry, risk_badge, tags, time_ago, Viewer};
use crate::clock::Millis;
use crate::domain::pauses::Pause;
use crate::urls;

pub struct Queue {
    pub items: Vec<Pause>,
    /// All pending, also beyond the shown ones.
    pub pending: i64,
    pub now: Millis,
    pub public_url: String,
}

/// The list alone: the page's live updates fetch and swap it.
pub fn list(q: &Queue) -> Markup {
    html! {
        div #queue-list data-pending=(q.pending) {
            @if q.items.is_empty() {
                div.empty {
                    p { "Nothing is waiting. Agents will appear here when they pause." }
                    p.muted { "To try it, create an agent key with " code { "hitl key create --name test" } " and run:" }
                    pre.command { "curl -X POST " (q.public_url) "/api/pause \\\n  -H \"Authorization: Bearer $KEY\" \\\n  -d '{\"action\":\"Try hitl\",\"context\":{\"hello\":\"world\"}}'" }
                }
            } @else {
                ul.rows {
                    @for p in &q.items {
                        li.row data-watch-id=(p.watch_id) {
                            label.row-pick {
                                input type="checkbox" name="id" value=(p.watch_id) form="bulk" data-pick;
                                span.visually-hidden { "Select " (super::plain_preview(&p.action, 80)) }
                            }
                            a.row-link href=(urls::review(&p.watch_id)) {
                                span.dot.dot-pending aria-hidden="true" {}
                                span.row-main {
                                    span.row-action {
                                        @if let Some(risk) = p.risk { (risk_badge(risk)) }
                                        @if p.kind == crate::domain::Kind::Question { span.kind-question { "QUESTION" } " " }
                                        (agent_text(&p.action))
                                    }
                                    span.row-meta {
                                        span.key-name { (agent_text(&p.key_name)) }
                                        (tags(&p.tags))
                                        @if p.required_approvals > 1 { " " span.approvals-progress { (super::approvals_progress(p)) } }
                                    }
                                }
                                span.row-times {
                                    (time_ago(p.created_at, q.now))
                                    (expiry(p.expires_at, q.now))
                                }
                            }
                        }
                    }
                }
                @if (q.items.len() as i64) < q.pending {
                    p.muted { "Showing the oldest " (q.items.len()) " of " (q.pending) " pending." }
                }
            }
        }
    }
}

pub fn view(viewer: &Viewer, q: &Queue) -> Markup {
    page(
        "Queue",
        viewer,
        Nav::Queue,
        html! {
            div.page-head {
                h1 { "Waiting for a decision" }
                p.live-state {
                    span data-pending-label { (q.pending) " pending" }
                    span.live title="Updates as pauses arrive and are decided" data-live { " · live " span.live-dot {} }
                }
            }
            // Hidden by the stylesheet while the queue is empty.
            form #bulk .bulk-bar method="post" action=(urls::QUEUE_BULK) {
                (csrf(viewer))
                button.small.secondary type="submit" name="decision" value="approved" { "Approve selected…" }
                button.small.secondary type="submit" name="decision" value="rejected" { "Reject selected…" }
                span.muted data-picked { "Select pauses to decide several at once." }
            }
            (list(q))
        },
    )
}
