//! Sign-in, first-run setup, the account page, and error pages.

use maud::{html, Markup};

use super::layout::{bare, page, Nav};
use super::{csrf, Viewer};
use crate::domain::outbox::Channels;
use crate::domain::password;
use crate::model::reach::Channel;
use crate::model::user::User;
use crate::urls;

/// Which ways in the sign-in page offers.
#[derive(Debug, Clone, Copy)]
pub struct Ways {
    pub password: bool,
    pub oidc: bool,
}

pub fn signin(ways: Ways, error: Option<&str>, email: &str, next: &str) -> Markup {
    bare(
        "Sign in",
        html! {
            h1 { "Sign in" }
            @if let Some(error) = error { div.notice.error role="alert" { (error) } }
            @if ways.oidc {
                form.stack method="get" action="/signin/oidc" {
                    input type="hidden" name="next" value=(next);
                    button type="submit" { "Sign in with your identity provider" }
                }
            }
            @if ways.password {
                form.stack method="post" action="/signin" {
                    input type="hidden" name="next" value=(next);
                    label { span { "Email" } input type="email" name="email" required autocomplete="username" value=(email) autofocus; }
                    label { span { "Password" } input type="password" name="password" required autocomplete="current-password"; }
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// A sign-in with the identity provider that did not work.
pub fn oidc_refused(message: &str) -> Markup {
    bare(
        "Sign-in refused",
        html! {
            h1 { "You cannot sign in" }
            div.notice.error role="alert" { (message) }
            p { a href="/signin" { "Back to sign-in" } }
        },
    )
}

pub fn setup(token: &str, error: Option<&str>, email: &str) -> Markup {
    bare(
        "Set up hitl",
        html! {
            h1 { "Create the first admin" }
            p.muted { "This link works once. The account you create here manages keys and users." }
            @if let Some(error) = error { div.notice.error role="alert" { (error) } }
            form.stack method="post" action=(urls::setup(token)) {
                label { span { "Email" } input type="email" name="email" required autocomplete="username" value=(email) autofocus; }
                p.rule #password-rule { "The password needs " (password::RULE) "." }
                label { span { "Password" } input type="password" name="password" required minlength="10" autocomplete="new-password" aria-describedby="password-rule"; }
                label { span { "Password again" } input type="password" name="password_again" required minlength="10" autocomplete="new-password"; }
                button type="submit" { "Create admin and sign in" }
            }
        },
    )
}

pub fn setup_gone(message: &str) -> Markup {
    bare(
        "Setup link not valid",
        html! {
            h1 { "This setup link does not work" }
            p { (message) }
            p { a href="/signin" { "Go to sign-in" } }
        },
    )
}

/// The page of an invitation or password-reset link.
pub fn set_password(token: &str, email: &str, invite: bool, error: Option<&str>) -> Markup {
    bare(
        if invite {
            "Welcome to hitl"
        } else {
            "Set a new password"
        },
        html! {
            h1 { @if invite { "Welcome to hitl" } @else { "Set a new password" } }
            p.muted {
                "For " strong { (email) } ". This link works once. "
                @if !invite { "Your old password stops working, and your other sessions end, when you save." }
            }
            @if let Some(error) = error { div.notice.error role="alert" { (error) } }
            form.stack method="post" action=(urls::password_link(token)) {
                input type="email" name="email" value=(email) autocomplete="username" hidden;
                p.rule #password-rule { "The password needs " (password::RULE) "." }
                label { span { "Password" } input type="password" name="password" required minlength="10" autocomplete="new-password" aria-describedby="password-rule" autofocus; }
                label { span { "Password again" } input type="password" name="password_again" required minlength="10" autocomplete="new-password"; }
                button type="submit" { "Save password and sign in" }
            }
        },
    )
}

pub fn link_gone(message: &str) -> Markup {
    bare(
        "Link not valid",
        html! {
            h1 { "This link does not work" }
            p { (message) }
            p { a href="/signin" { "Go to sign-in" } }
        },
    )
}

#[derive(Clone)]
pub struct Account {
    pub user: User,
    /// The channels this server has.
    pub channels: Channels,
    /// Away now: until when (RFC 3339) and the delegate's email.
    pub away: Option<(String, String)>,
    pub error: Option<String>,
    pub notice: Option<String>,
    /// The server's VAPID public key, for the page's push subscription.
    pub vapid_public_key: String,
    /// The server has a Telegram bot: its name once Telegram told it.
    pub telegram_bot: Option<Option<String>>,
}

/// How a channel reaches this person, or what it still needs.
fn channel_state(a: &Account, channel: Channel) -> String {
    let u = &a.user;
    match channel {
        Channel::Email => format!("to {}", u.email),
        Channel::Slack => {
            "a direct message from the hitl app, to the Slack user with your email".into()
        }
        Channel::Telegram => match &u.telegram_chat {
            Some(_) => "to your linked chat".into(),
            None => "link your chat below first".into(),
        },
        Channel::Ntfy => match &u.ntfy_url {
            Some(url) => format!("published to {url}"),
            None => "set your topic URL below first".into(),
        },
        Channel::Push => match u.push_devices {
            0 => "turn it on in a browser below first".into(),
            1 => "to 1 browser".into(),
            n => format!("to {n} browsers"),
        },
    }
}

pub fn account(viewer: &Viewer, a: &Account) -> Markup {
    let offered: Vec<Channel> = Channel::ALL
        .into_iter()
        .filter(|c| a.channels.offers(*c))
        .collect();
    let content = html! {
        div.page-head { h1 { "Your account" } }
        p { "Signed in as " strong { (viewer.email) } "." }
        @if let Some(notice) = &a.notice { div.notice role="status" { (notice) } }
        @if let Some(error) = &a.error { div.notice.error role="alert" { (error) } }
        section #notifications {
            h2 { "Notifications" }
            p.muted { "Where you are told of new pauses, reminders and escalations routed to you. Approve and reject work from each of them, or open the review page." }
            @if !a.channels.email {
                p.notice role="note" { "This server has no mail (SMTP) settings: nothing is mailed whatever you choose here." }
            }
            form.stack method="post" action="/account/notify" {
                (csrf(viewer))
                fieldset {
                    legend { "Tell me by" }
                    @for channel in &offered {
                        label.check {
                            input type="checkbox" name=(channel.as_str()) value="on" checked[a.user.wants(*channel)];
                            span { strong { (channel.label()) } " " span.muted { "(" (channel_state(a, *channel)) ")" } }
                        }
                    }
                }
                div { button type="submit" { "Save" } }
            }
            h3 { "ntfy" }
            p.muted { "Publish your pauses to an ntfy topic (ntfy.sh or your own server), with Review and, unless the risk is high, Approve buttons in the ntfy app. Keep the topic name hard to guess." }
            form.stack method="post" action="/account/ntfy" {
                (csrf(viewer))
                label { span { "Topic URL" } input type="url" name="url" placeholder="https://ntfy.sh/approvals-7f3a9c" value=[a.user.ntfy_url.as_deref()] autocomplete="off"; }
                div {
                    button type="submit" { "Save topic" }
                    @if a.user.ntfy_url.is_some() { " " button.secondary type="submit" name="clear" value="1" { "Remove" } }
                }
            }
        }
        @if let Some(bot) = &a.telegram_bot {
            (crate::views::telegram::account_section(viewer, &a.user, bot.as_deref()))
        }
        (crate::views::push::account_section(viewer, &a.user, &a.vapid_public_key))
        section #away {
            h2 { "Away" }
            @if let Some((until, delegate)) = &a.away {
                form.inline method="post" action="/account/away" {
                    (csrf(viewer))
                    input type="hidden" name="action" value="back";
                    p data-away {
                        "You are away until " time datetime=(until) { (until) }
                        ". Pauses routed to you go to " strong { (delegate) } " meanwhile. "
                        button.small.secondary type="submit" { "I am back" }
                    }
                }
            } @else {
                p.muted { "Going away? Name a delegate: until the date you give, pauses routed to you go to them: they are told, and decide them in your place until you are back." }
                form.stack method="post" action="/account/away" {
                    (csrf(viewer))
                    input type="hidden" name="action" value="away";
                    label { span { "Away until the end of (UTC)" } input type="date" name="until" required; }
                    label { span { "Delegate (their email)" } input type="email" name="delegate" required autocomplete="off"; }
                    div { button type="submit" { "Set away" } }
                }
            }
        }
        section {
            h2 { "Change password" }
            form.stack method="post" action="/account/password" {
                (csrf(viewer))
                label { span { "Current password" } input type="password" name="current" required autocomplete="current-password"; }
                label { span { "New password " span.muted { "(" (password::RULE) ")" } } input type="password" name="new" required minlength="10" autocomplete="new-password"; }
                label { span { "New password again" } input type="password" name="new_again" required minlength="10" autocomplete="new-password"; }
                div { button type="submit" { "Change password" } }
            }
        }
    };
    page("Account", viewer, Nav::Account, content)
}

/// An error page: `viewer` when signed in keeps the navigation; the request id, when
/// known, is there to quote (the log has it too).
pub fn error(
    viewer: Option<&Viewer>,
    status: u16,
    title: &str,
    message: &str,
    request_id: Option<&str>,
) -> Markup {
    let content = html! {
        div.error-page {
            p.status-code { (status) }
            h1 { (title) }
            p { (message) }
            @if let Some(id) = request_id {
                p.request-id { "Request id " code { (id) } }
            }
            p { a href="/" { "Back to the queue" } }
        }
    };
    match viewer {
        Some(v) => page(title, v, Nav::None, content),
        None => bare(title, content),
    }
}
