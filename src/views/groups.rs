//! The Groups page (admin): every group with its members, create a group, add and
//! remove members. The same changes as `hitl group`.

use maud::{html, Markup};

use super::csrf;
use super::layout::{page, Nav};
use super::{time_ago, Viewer};
use crate::clock::Millis;
use crate::domain::groups::Group;
use crate::urls;

/// What was typed into a form that is shown again with an error.
#[derive(Debug, Clone, Default)]
pub struct GroupForm {
    /// The create form's name.
    pub name: String,
    /// The add-members form that failed: (group name, the emails as typed).
    pub adding: Option<(String, String)>,
    /// Whether the error came from the create form (which then stays open).
    pub creating: bool,
}

pub struct Groups {
    pub groups: Vec<Group>,
    /// Every user's email, suggested while typing a member's email.
    pub emails: Vec<String>,
    pub form: GroupForm,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub now: Millis,
}

fn members(viewer: &Viewer, g: &Group) -> Markup {
    html! {
        @if g.members.is_empty() {
            span.muted { "nobody yet" }
        } @else {
            ul.members {
                @for email in &g.members {
                    li {
                        span.member { (email) }
                        form.inline method="post" action=(urls::group_member_remove(&g.name)) data-confirm=(format!("Take {email} out of the group {}?", g.name)) {
                            (csrf(viewer))
                            input type="hidden" name="email" value=(email);
                            button.small.secondary type="submit" aria-label=(format!("Remove {email} from {}", g.name)) { "Remove" }
                        }
                    }
                }
            }
        }
    }
}

fn add_form(viewer: &Viewer, g: &Group, typed: &str) -> Markup {
    let field = format!("add-{}", g.name);
    html! {
        form.add-members method="post" action=(urls::group_members(&g.name)) {
            (csrf(viewer))
            label.visually-hidden for=(field) { "Emails to add to " (g.name) }
            input #(field) type="email" multiple name="emails" required list="user-emails" value=(typed) placeholder="a@example.com, b@example.com" autocomplete="off";
            button.small type="submit" { "Add" }
        }
    }
}

pub fn groups(viewer: &Viewer, m: &Groups) -> Markup {
    let typed = |name: &str| match &m.form.adding {
        Some((group, emails)) if group == name => emails.as_str(),
        _ => "",
    };
    let content = html! {
        div.page-head {
            h1 { "Groups" }
            p.muted { "Named sets of users. Members are added by the email they sign in with." }
        }
        @if let Some(notice) = &m.notice { div.notice role="status" { (notice) } }
        @if let Some(error) = &m.error { div.notice.error role="alert" { (error) } }
        details.create open[m.form.creating || m.groups.is_empty()] {
            summary.button { "Create a group" }
            form.stack method="post" action=(urls::GROUPS) {
                (csrf(viewer))
                label {
                    span { "Name " span.muted { "(1 to 64 letters, digits, '-', '_' or '.')" } }
                    input type="text" name="name" required maxlength="64" value=(m.form.name) placeholder="on-call" autocomplete="off";
                }
                div { button type="submit" { "Create group" } }
            }
        }
        datalist #user-emails {
            @for email in &m.emails { option value=(email) {} }
        }
        @if m.groups.is_empty() {
            p.empty { "No groups yet. Create one above, or with " code { "hitl group create NAME" } "." }
        } @else {
            div.table-wrap { table.list data-groups {
                thead { tr { th { "Group" } th { "Members" } th { "Add members" } th { "Created" } } }
                tbody {
                    @for g in &m.groups {
                        tr #(format!("group-{}", g.name)) {
                            td data-label="Group" { span.key-name { (g.name) } }
                            td.wide data-label="Members" { (members(viewer, g)) }
                            td.wide data-label="Add members" { (add_form(viewer, g, typed(&g.name))) }
                            td data-label="Created" { (time_ago(g.created_at, m.now)) }
                        }
                    }
                }
            } }
        }
    };
    page("Groups", viewer, Nav::Groups, content)
}
