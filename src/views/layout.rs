//! The page frame: head, navigation, and the centred card of the sign-in pages.

use maud::{html, Markup, DOCTYPE};

use super::{csrf, Viewer};
use crate::assets;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Queue,
    History,
    Rules,
    Keys,
    Users,
    Groups,
    Policies,
    Audit,
    About,
    Account,
    None,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) }
            link rel="icon" href=(assets::url("icons/logo.svg")) type="image/svg+xml";
            link rel="stylesheet" href=(assets::url("app.css"));
            link rel="manifest" href=(assets::url("manifest.webmanifest"));
            script src=(assets::url("app.js")) defer {}
        }
    }
}

fn nav_link(href: &str, label: Markup, here: bool, keep: bool) -> Markup {
    html! {
        a.nav-link.here[here].keep[keep] href=(href) aria-current=[here.then_some("page")] { (label) }
    }
}

fn links(viewer: &Viewer, active: Nav) -> Markup {
    let queue_label = html! {
        "Queue"
        @if viewer.pending > 0 { " " span.count data-pending-count { (viewer.pending) } }
        @else { " " span.count.zero data-pending-count { "0" } }
    };
    html! {
        (nav_link("/", queue_label, active == Nav::Queue, true))
        (nav_link("/history", html! { "History" }, active == Nav::History, false))
        (nav_link(crate::urls::RULES, html! { "Rules" }, active == Nav::Rules, false))
        @if viewer.is_admin {
            (nav_link("/keys", html! { "Keys" }, active == Nav::Keys, false))
            (nav_link("/users", html! { "Users" }, active == Nav::Users, false))
            (nav_link(crate::urls::GROUPS, html! { "Groups" }, active == Nav::Groups, false))
            (nav_link("/policies", html! { "Policies" }, active == Nav::Policies, false))
            (nav_link("/audit", html! { "Audit" }, active == Nav::Audit, false))
        }
        (nav_link("/about", html! { "About" }, active == Nav::About, false))
    }
}

fn sign_out(viewer: &Viewer) -> Markup {
    html! {
        form.inline method="post" action="/signout" {
            (csrf(viewer))
            button.link type="submit" { "Sign out" }
        }
    }
}

/// A page of the signed-in application.
pub fn page(title: &str, viewer: &Viewer, active: Nav, content: Markup) -> Markup {
    let full_title = if viewer.pending > 0 {
        format!("({}) {title} · hitl", viewer.pending)
    } else {
        format!("{title} · hitl")
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&full_title))
            body data-title=(format!("{title} · hitl")) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.bar {
                        a.brand href="/" { (assets::icon("logo")) span { "hitl" } }
                        nav.primary aria-label="Main" { (links(viewer, active)) }
                        details.user-menu {
                            summary { span.who { (viewer.email) } " ▾" }
                            div.menu-panel {
                                nav.phone-links aria-label="Pages" { (links(viewer, active)) }
                                a href="/account" { "Account" }
                                (sign_out(viewer))
                            }
                        }
                    }
                }
                main #main { (content) }
            }
        }
    }
}

/// A centred card without navigation (sign-in, setup, errors before sign-in).
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("{title} · hitl")))
            body.bare {
                main #main.card-page {
                    div.card {
                        div.brand.centered { (assets::icon("logo")) span { "hitl" } }
                        (content)
                    }
                }
            }
        }
    }
}
