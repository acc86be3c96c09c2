//! The admin pages: API keys and users.

use maud::{html, Markup};

use super::layout::{page, Nav};
use super::{agent_text, time_ago, Viewer};
use crate::clock::Millis;
use crate::domain::keys::{ApiKey, CreatedKey};
use crate::domain::outbox::Delivery;
use crate::domain::users::User;
use crate::domain::{password, Role};
use crate::urls;

/// The values of the create-key form, kept when it is shown again with an error.
#[derive(Debug, Clone, Default)]
pub struct KeyForm {
    pub name: String,
    pub user: String,
    pub webhook_url: String,
    pub monthly_limit: String,
}

pub struct Keys {
    pub keys: Vec<ApiKey>,
    /// The latest test webhook, when one was just sent: (key name, delivery).
    pub tested: Option<(String, Delivery)>,
    pub users: Vec<User>,
    pub created: Option<CreatedKey>,
    pub form: KeyForm,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub now: Millis,
}

fn csrf(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

fn created_box(k: &CreatedKey) -> Markup {
    html! {
        section.created role="status" aria-labelledby="created-title" {
            h2 #created-title { "Key “" (agent_text(&k.name)) "” created" }
            p.strong { "This is the only time the key is shown. Copy it now." }
            div.secret-row {
                label for="new-key" { "API key" }
                input #new-key type="text" readonly value=(k.key) data-select-all;
                button type="button" data-copy=(k.key) { "Copy" }
            }
            div.secret-row {
                label for="new-secret" { "Webhook secret" }
                input #new-secret type="text" readonly value=(k.webhook_secret) data-select-all;
                button type="button" data-copy=(k.webhook_secret) { "Copy" }
            }
            p.muted {
                @if let Some(user) = &k.user { "A reviewer key acting for " (user) ". " }
                @else { "An agent key: it creates pauses and sees its own. " }
                "Webhooks for its pauses are signed with the secret (Standard Webhooks)."
            }
        }
    }
}

fn test_result(name: &str, d: &Delivery) -> Markup {
    let s = &d.stored;
    let last = d.attempts.last();
    html! {
        div.notice.test-result role="status" data-state=(s.state) {
            "Test webhook for " strong { (agent_text(name)) } " to " code { (agent_text(&s.target)) } ": "
            @match (s.state.as_str(), last) {
                ("delivered", Some(a)) => { "✓ delivered" @if let Some(code) = a.http_status { " (HTTP " (code) ")" } " in " (a.duration_ms) " ms." }
                (_, None) => { "sending… reload this page to see the result." }
                (state, Some(a)) => {
                    "✕ " (agent_text(a.error.as_deref().unwrap_or("failed")))
                    @if state == "pending" { " · it will be retried." } @else { "." }
                }
            }
        }
    }
}

pub fn keys(viewer: &Viewer, m: &Keys) -> Markup {
    let f = &m.form;
    let content = html! {
        div.page-head { h1 { "API keys" } }
        @if let Some(created) = &m.created { (created_box(created)) }
        @if let Some(notice) = &m.notice { div.notice role="status" { (notice) } }
        @if let Some(error) = &m.error { div.notice.error role="alert" { (error) } }
        @if let Some((name, d)) = &m.tested { (test_result(name, d)) }
        details.create open[m.error.is_some() || m.keys.is_empty()] {
            summary.button { "Create a key" }
            form.stack method="post" action="/keys" {
                (csrf(viewer))
                label { span { "Name" } input type="text" name="name" required maxlength="100" value=(f.name) placeholder="deploy-bot"; }
                label {
                    span { "Acts for a reviewer " span.muted { "(optional: makes a reviewer key that can decide)" } }
                    select name="user" {
                        option value="" { "nobody: an agent key" }
                        @for u in &m.users {
                            option value=(u.email) selected[u.email == f.user] { (u.email) " (" (u.role) ")" }
                        }
                    }
                }
                label { span { "Webhook URL " span.muted { "(optional)" } } input type="url" name="webhook_url" value=(f.webhook_url) placeholder="https://example.internal/hooks/hitl"; }
                label { span { "Monthly limit " span.muted { "(optional: pauses per calendar month, UTC)" } } input type="number" name="monthly_limit" min="1" value=(f.monthly_limit); }
                div { button type="submit" { "Create key" } }
            }
        }
        @if m.keys.is_empty() {
            p.empty { "No keys yet." }
        } @else {
            div.table-wrap { table.list {
                thead { tr { th { "Name" } th { "Key" } th { "Kind" } th { "This month" } th { "Last used" } th { "State" } th { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for k in &m.keys {
                        tr.revoked[k.revoked_at.is_some()] {
                            td.wide data-label="Name" { span.key-name { (agent_text(&k.name)) } }
                            td data-label="Key" { code { (k.prefix) "…" } }
                            td data-label="Kind" {
                                @if let Some(email) = &k.user_email { "reviewer · " (email) } @else { (k.kind.as_str()) }
                            }
                            td data-label="This month" {
                                (k.used_this_month)
                                @if let Some(limit) = k.monthly_limit { " / " (limit) }
                            }
                            td data-label="Last used" {
                                @if let Some(at) = k.last_used_at { (time_ago(at, m.now)) } @else { span.muted { "never" } }
                            }
                            td data-label="State" {
                                @if let Some(at) = k.revoked_at { "revoked " (time_ago(at, m.now)) } @else { "active" }
                            }
                            td.actions {
                                @if k.revoked_at.is_none() {
                                    details.edit {
                                        summary.link { "Edit" }
                                        form.stack method="post" action=(urls::key(&k.id)) {
                                            (csrf(viewer))
                                            label { span { "Webhook URL" } input type="url" name="webhook_url" value=(k.webhook_url.as_deref().unwrap_or("")); }
                                            label { span { "Monthly limit" } input type="number" name="monthly_limit" min="1" value=(k.monthly_limit.map(|l| l.to_string()).unwrap_or_default()); }
                                            button type="submit" { "Save" }
                                        }
                                    }
                                    @if k.webhook_url.is_some() {
                                        form.inline method="post" action=(urls::key_test_webhook(&k.id)) {
                                            (csrf(viewer))
                                            button.small.secondary type="submit" { "Send test webhook" }
                                        }
                                        " "
                                    }
                                    form.inline method="post" action=(urls::key_revoke(&k.id)) data-confirm=(format!("Revoke the key “{}”? Agents using it stop working at once.", k.name)) {
                                        (csrf(viewer))
                                        button.danger.small type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    page("API keys", viewer, Nav::Keys, content)
}

pub struct Users {
    pub users: Vec<User>,
    pub self_id: i64,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub form_email: String,
    pub now: Millis,
}

pub fn users(viewer: &Viewer, m: &Users) -> Markup {
    let content = html! {
        div.page-head { h1 { "Users" } }
        @if let Some(notice) = &m.notice { div.notice role="status" { (notice) } }
        @if let Some(error) = &m.error { div.notice.error role="alert" { (error) } }
        details.create open[m.error.is_some()] {
            summary.button { "Add a user" }
            form.stack method="post" action="/users" {
                (csrf(viewer))
                label { span { "Email" } input type="email" name="email" required value=(m.form_email) autocomplete="off"; }
                label { span { "Role" }
                    select name="role" { option value="approver" { "approver: reviews and decides" } option value="admin" { "admin: also manages keys and users" } }
                }
                label { span { "Password " span.muted { "(" (password::RULE) ")" } } input type="password" name="password" required minlength="10" autocomplete="new-password"; }
                div { button type="submit" { "Add user" } }
            }
        }
        div.table-wrap { table.list {
            thead { tr { th { "Email" } th { "Role" } th { "Email notifications" } th { "Added" } th { span.visually-hidden { "Actions" } } } }
            tbody {
                @for u in &m.users {
                    tr {
                        td.wide data-label="Email" { (u.email) @if u.id == m.self_id { " " span.muted { "(you)" } } }
                        td data-label="Role" {
                            form.inline method="post" action=(urls::user_role(u.id)) {
                                (csrf(viewer))
                                select name="role" aria-label=(format!("Role of {}", u.email)) data-autosubmit {
                                    option value="approver" selected[u.role == Role::Approver] { "approver" }
                                    option value="admin" selected[u.role == Role::Admin] { "admin" }
                                }
                                noscript { button.small type="submit" { "Set" } }
                            }
                        }
                        td data-label="Email notifications" {
                            form.inline method="post" action=(urls::user_notify(u.id)) {
                                (csrf(viewer))
                                input type="hidden" name="on" value=(if u.notify_email { "false" } else { "true" });
                                button.small.secondary type="submit" aria-label=(format!("Turn email notifications {} for {}", if u.notify_email { "off" } else { "on" }, u.email)) {
                                    @if u.notify_email { "On · turn off" } @else { "Off · turn on" }
                                }
                            }
                        }
                        td data-label="Added" { (time_ago(u.created_at, m.now)) }
                        td.actions {
                            form.inline method="post" action=(urls::user_remove(u.id)) data-confirm=(format!("Remove {}? Their reviewer keys are revoked.", u.email)) {
                                (csrf(viewer))
                                button.danger.small type="submit" { "Remove" }
                            }
                        }
                    }
                }
            }
        } }
    };
    page("Users", viewer, Nav::Users, content)
}
