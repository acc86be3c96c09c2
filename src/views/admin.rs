//! The admin pages: API keys, users and routing policies (groups have their own
//! module).

use maud::{html, Markup};

use super::layout::{page, Nav};
use super::{agent_text, csrf, time_ago, Viewer};
use crate::clock::Millis;
use crate::domain::groups::Group;
use crate::domain::keys::{ApiKey, CreatedKey};
use crate::domain::outbox::Delivery;
use crate::domain::policies::Policy;
use crate::domain::users::User;
use crate::domain::Role;
use crate::urls;

/// The values of the create-key form, kept when it is shown again with an error.
#[derive(Debug, Clone, Default)]
pub struct KeyForm {
    pub name: String,
    pub user: String,
    pub webhook_url: String,
    pub monthly_limit: String,
    pub owner: String,
}

pub struct Keys {
    pub keys: Vec<ApiKey>,
    /// The latest test webhook, when one was just sent: (key name, delivery).
    pub tested: Option<(String, Delivery)>,
    pub users: Vec<User>,
    pub created: Option<CreatedKey>,
    /// A webhook secret just rotated: (key name, the new secret), shown once.
    pub rotated: Option<(String, String)>,
    pub form: KeyForm,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub now: Millis,
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
            @if let Some(secret) = &k.webhook_secret {
                div.secret-row {
                    label for="new-secret" { "Webhook secret" }
                    input #new-secret type="text" readonly value=(secret) data-select-all;
                    button type="button" data-copy=(secret) { "Copy" }
                }
            }
            p.muted {
                @if let Some(user) = &k.user_email { "A reviewer key acting for " (user) ": it lists and decides pauses, and creates none, so it has no webhooks." }
                @else { "An agent key: it creates pauses and sees its own. Webhooks for its pauses are signed with the secret (Standard Webhooks)." }
            }
        }
    }
}

fn rotated_box(name: &str, secret: &str) -> Markup {
    html! {
        section.created role="status" aria-labelledby="rotated-title" {
            h2 #rotated-title { "New webhook secret of “" (agent_text(name)) "”" }
            p.strong { "This is the only time the secret is shown. Copy it now: webhooks are signed with it from now on, and the old one no longer verifies." }
            div.secret-row {
                label for="new-secret" { "Webhook secret" }
                input #new-secret type="text" readonly value=(secret) data-select-all;
                button type="button" data-copy=(secret) { "Copy" }
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
        @if let Some((name, secret)) = &m.rotated { (rotated_box(name, secret)) }
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
                label { span { "Owner " span.muted { "(optional: the person who runs this agent; they can never decide its pauses)" } } input type="email" name="owner" value=(f.owner) placeholder="dev@example.com" autocomplete="off"; }
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
                                @if let Some(email) = &k.user_email { "reviewer · " (email) } @else { (k.kind.as_str()) @if let Some(owner) = &k.owner_email { " · owner " (owner) } }
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
                                    @if k.user_email.is_none() {
                                        form.inline method="post" action=(urls::key_rotate_secret(&k.id)) data-confirm=(format!("Give “{}” a new webhook secret? Receivers must switch to it: the old one stops verifying at once.", k.name)) {
                                            (csrf(viewer))
                                            button.small.secondary type="submit" title="Give this key a new webhook signing secret" { "New secret" }
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

/// An invitation or reset link just made, shown once on the Users page.
pub struct IssuedLink {
    pub email: String,
    pub invite: bool,
    pub link: String,
    pub expires_at: Millis,
    pub mailed: bool,
}

pub struct Users {
    pub users: Vec<User>,
    pub self_id: i64,
    pub issued: Option<IssuedLink>,
    /// Whether the server has mail (SMTP) configured.
    pub email_on: bool,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub form_email: String,
    pub now: Millis,
}

fn issued_box(i: &IssuedLink, now: Millis) -> Markup {
    let hours = ((i.expires_at - now).max(0) + 1_800_000) / 3_600_000;
    html! {
        section.created role="status" aria-labelledby="issued-title" {
            h2 #issued-title {
                @if i.invite { "Invitation for " (i.email) } @else { "Password reset link for " (i.email) }
            }
            p.strong {
                "With this link they "
                @if i.invite { "choose their password and are signed in" } @else { "set a new password; their sessions end then" }
                ". It works once, for " (hours) " hours. "
                @if i.mailed { "It was also mailed to them." } @else { "Pass it on yourself: it is not shown again." }
            }
            div.secret-row {
                label for="issued-link" { "Link" }
                input #issued-link type="text" readonly value=(i.link) data-select-all;
                button type="button" data-copy=(i.link) { "Copy" }
            }
        }
    }
}

pub fn users(viewer: &Viewer, m: &Users) -> Markup {
    let content = html! {
        div.page-head { h1 { "Users" } }
        @if let Some(notice) = &m.notice { div.notice role="status" { (notice) } }
        @if let Some(error) = &m.error { div.notice.error role="alert" { (error) } }
        @if let Some(issued) = &m.issued { (issued_box(issued, m.now)) }
        @if !m.email_on {
            p.notice role="note" { "Email notifications are off: this server has no mail (SMTP) settings. The switches below take effect once hitl serve runs with --smtp-url." }
        }
        details.create open[m.error.is_some()] {
            summary.button { "Invite a user" }
            form.stack method="post" action="/users/invite" {
                (csrf(viewer))
                label { span { "Email" } input type="email" name="email" required value=(m.form_email) autocomplete="off"; }
                label { span { "Role" }
                    select name="role" { option value="approver" { "approver: reviews and decides" } option value="admin" { "admin: also manages keys and users" } }
                }
                p.muted {
                    "They get a link (valid 7 days, usable once) with which they choose their own password and are signed in. "
                    @if m.email_on { "It is mailed to them and shown here." } @else { "Mail is off, so pass the link on yourself." }
                }
                div { button type="submit" { "Invite" } }
            }
        }
        div.table-wrap { table.list {
            thead { tr { th { "Email" } th { "Role" } th { "Email notifications" } th { "Added" } th { span.visually-hidden { "Actions" } } } }
            tbody {
                @for u in &m.users {
                    tr {
                        td.wide data-label="Email" { (u.email) @if u.id == m.self_id { " " span.muted { "(you)" } } @if u.invite_pending { " " span.muted { "(invited)" } } }
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
                            form.inline method="post" action=(urls::user_reset(u.id)) {
                                (csrf(viewer))
                                button.small.secondary type="submit" { @if u.invite_pending { "New invitation link" } @else { "Password reset link" } }
                            }
                            " "
                            form.inline method="post" action=(urls::user_remove(u.id)) data-confirm=(format!("Remove {}? Their reviewer keys are revoked.", u.email)) {
                                (csrf(viewer))
                                button.danger.small type="submit" { "Remove" }
                            }
                        }
                    }
                }
            }
        } }
        p.muted { "To put users into groups, open the " a href=(urls::GROUPS) { "Groups" } " page." }
    };
    page("Users", viewer, Nav::Users, content)
}

/// The values of the add-policy form, as typed; kept when it is shown again with an
/// error.
#[derive(Debug, Clone, Default)]
pub struct PolicyForm {
    pub name: String,
    /// Comma-separated.
    pub tags: String,
    pub key: String,
    pub action: String,
    pub risk: String,
    /// The groups ticked.
    pub reviewers: Vec<String>,
    pub approvals: String,
    pub remind_every: String,
    pub escalate_after: String,
    pub escalate_to: String,
    pub on_timeout: String,
}

pub struct Policies {
    /// In the order they are tried.
    pub policies: Vec<Policy>,
    pub groups: Vec<Group>,
    pub form: PolicyForm,
    pub error: Option<String>,
    pub notice: Option<String>,
}

const RISKS: [(&str, &str); 5] = [
    ("", "any"),
    ("low", "low or higher"),
    ("medium", "medium or higher"),
    ("high", "high or higher"),
    ("critical", "critical"),
];

const ON_TIMEOUT: [(&str, &str); 4] = [
    ("", "the agent's choice (never approve)"),
    ("expire", "expire"),
    ("reject", "reject"),
    ("approve", "approve"),
];

fn policy_form(viewer: &Viewer, m: &Policies) -> Markup {
    let f = &m.form;
    let approvals = if f.approvals.is_empty() {
        "1"
    } else {
        f.approvals.as_str()
    };
    html! {
        form.stack.policy-form method="post" action="/policies" {
            (csrf(viewer))
            label { span { "Name " span.muted { "(letters, digits, '-', '_' or '.')" } } input type="text" name="name" required maxlength="64" value=(f.name) placeholder="prod-changes" autocomplete="off"; }
            fieldset {
                legend { "Matches a pause when" }
                p.muted { "Every condition you fill in must hold. Leave them all empty to match every pause." }
                label { span { "Tags " span.muted { "(comma-separated: it carries any of them)" } } input type="text" name="tags" value=(f.tags) placeholder="prod, billing" autocomplete="off"; }
                label { span { "Key name " span.muted { "(the asking key's name)" } } input type="text" name="key" value=(f.key) placeholder="deploy-bot" autocomplete="off"; }
                label { span { "Action " span.muted { "(a pattern: * any text, ? one character)" } } input type="text" name="action" value=(f.action) placeholder="Bash: git push*" autocomplete="off"; }
                label { span { "Risk " span.muted { "(as the agent rated it)" } }
                    select name="risk" {
                        @for (value, text) in RISKS { option value=(value) selected[f.risk == value] { (text) } }
                    }
                }
            }
            fieldset {
                legend { "Decided by" }
                @if m.groups.is_empty() {
                    p.notice.warn role="note" data-no-groups {
                        "There are no groups yet, and a policy routes pauses to groups. Create one on the "
                        a href="/groups" { "Groups" } " page or with " code { "hitl group create NAME" } "."
                    }
                } @else {
                    p.muted { "Reviewers: the members of the groups you tick decide; nobody else can." }
                    fieldset.chips {
                        legend.visually-hidden { "Reviewers" }
                        @for g in &m.groups {
                            label.chip title=(if g.members.is_empty() { "nobody yet".to_string() } else { g.members.join(", ") }) {
                                input type="checkbox" name="reviewers" value=(g.name) checked[f.reviewers.contains(&g.name)];
                                (g.name) " " span.muted { "(" (g.members.len()) ")" }
                            }
                        }
                    }
                }
                label { span { "Approvals " span.muted { "(distinct people, 1 to 10; an agent may ask for more, never fewer)" } } input type="number" name="approvals" min="1" max="10" required value=(approvals); }
            }
            fieldset {
                legend { "While nobody decides" }
                label { span { "Remind every " span.muted { "(optional, e.g. 30m or 4h: reviewers who have not voted)" } } input type="text" name="remind_every" value=(f.remind_every) placeholder="30m" autocomplete="off"; }
                label { span { "Escalate after " span.muted { "(optional, e.g. 2h; with a group below)" } } input type="text" name="escalate_after" value=(f.escalate_after) placeholder="2h" autocomplete="off"; }
                label { span { "Escalate to " span.muted { "(this group joins the reviewers then)" } }
                    select name="escalate_to" {
                        option value="" { "nobody" }
                        @for g in &m.groups { option value=(g.name) selected[f.escalate_to == g.name] { (g.name) } }
                    }
                }
                label { span { "On timeout " span.muted { "(what the pause's timeout does)" } }
                    select name="on_timeout" {
                        @for (value, text) in ON_TIMEOUT { option value=(value) selected[f.on_timeout == value] { (text) } }
                    }
                }
            }
            div { button type="submit" { "Add policy" } }
        }
    }
}

pub fn policies(viewer: &Viewer, m: &Policies) -> Markup {
    let content = html! {
        div.page-head { h1 { "Policies" } }
        p.muted { "A new pause goes to the first policy below whose conditions all hold, tried from the top; a pause no policy matches can be decided by any approver, and one approval is enough." }
        @if let Some(notice) = &m.notice { div.notice role="status" { (notice) } }
        @if let Some(error) = &m.error { div.notice.error role="alert" { (error) } }
        details.create open[m.error.is_some() || m.policies.is_empty()] {
            summary.button { "Add a policy" }
            (policy_form(viewer, m))
        }
        @if m.policies.is_empty() {
            p.empty { "No policies yet: any approver decides any pause." }
        } @else {
            div.table-wrap { table.list data-policies {
                thead { tr { th { "#" } th { "Name" } th { "Matches" } th { "Decided by" } th { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for (i, p) in m.policies.iter().enumerate() {
                        tr data-policy=(p.name) {
                            // The place in the order (stored positions may have gaps).
                            td data-label="#" { (i + 1) }
                            td data-label="Name" { span.key-name { (agent_text(&p.name)) } }
                            td.details data-label="Matches" { (agent_text(&p.describe_conditions())) }
                            td.details data-label="Decided by" { (agent_text(&p.describe_outcome())) }
                            td.actions {
                                @if let Some(prev) = i.checked_sub(1).and_then(|j| m.policies.get(j)) {
                                    form.inline method="post" action=(urls::policy_move_up(&p.name)) {
                                        (csrf(viewer))
                                        button.small.secondary type="submit" title=(format!("Try it before {}", prev.name)) aria-label=(format!("Move {} up", p.name)) { "Move up" }
                                    }
                                    " "
                                }
                                form.inline method="post" action=(urls::policy_remove(&p.name)) data-confirm=(format!("Remove the policy “{}”? New pauses it would match go to the next policy that matches, or to any approver. Pauses it already routed keep their reviewers.", p.name)) {
                                    (csrf(viewer))
                                    button.danger.small type="submit" aria-label=(format!("Remove {}", p.name)) { "Remove" }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    page("Policies", viewer, Nav::Policies, content)
}
