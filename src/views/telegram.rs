//! Telegram on the Account page: link a chat with a one-time code, or unlink it.

use maud::{html, Markup};

use super::layout::{page, Nav};
use super::{csrf, Viewer};
use crate::domain::users::User;

/// The deep link that hands `code` to the bot: `https://t.me/<bot>?start=<code>`.
pub fn deep_link(bot_username: &str, code: &str) -> String {
    format!("https://t.me/{bot_username}?start={code}")
}

/// The Account page's Telegram section (shown when the server has a bot).
/// `bot_username`: as `getMe` told it, `None` until then.
pub fn account_section(viewer: &Viewer, user: &User, bot_username: Option<&str>) -> Markup {
    html! {
        section #telegram {
            h2 { "Telegram" }
            @if user.telegram_chat.is_some() {
                form.inline method="post" action="/account/telegram/unlink" {
                    (csrf(viewer))
                    p data-telegram="linked" {
                        "The Telegram chat " code { (user.telegram_chat.as_deref().unwrap_or_default()) }
                        " is linked: pauses for you come there with Approve, Reject and Review buttons"
                        @if let Some(bot) = bot_username { " (from " strong { "@" (bot) } ")" }
                        ". "
                        button.small.secondary type="submit" { "Unlink" }
                    }
                }
            } @else {
                form.inline method="post" action="/account/telegram/link" {
                    (csrf(viewer))
                    p data-telegram="unlinked" {
                        "Get pauses in Telegram and decide them there. "
                        button.small type="submit" { "Link Telegram" }
                    }
                }
            }
        }
    }
}

/// After Link Telegram: the one-time link (and the command, to type it instead).
pub fn link_page(
    viewer: &Viewer,
    bot_username: Option<&str>,
    code: &str,
    expires_at: &str,
) -> Markup {
    let content = html! {
        div.page-head { h1 { "Link Telegram" } }
        @match bot_username {
            Some(bot) => {
                p { "Open this link on the device where you use Telegram and press " strong { "Start" } ":" }
                p { a #telegram-link href=(deep_link(bot, code)) rel="noreferrer" { (deep_link(bot, code)) } }
                p.muted { "Or send this message to " strong { "@" (bot) } ":" }
            }
            None => {
                p.notice role="note" { "hitl has not learnt the bot's name from Telegram yet. Send this message to the bot in a private chat:" }
            }
        }
        p { code #telegram-command { "/start " (code) } }
        p.muted {
            "The code works once, until " time datetime=(expires_at) { (expires_at) }
            ". The bot answers with the account it linked. Making another code voids this one."
        }
        p { a href="/account" { "Back to your account" } }
    };
    page("Link Telegram", viewer, Nav::Account, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    #[test]
    fn the_section_offers_link_or_unlink_with_the_csrf_token() {
        let viewer = Viewer {
            email: "r@example.com".into(),
            is_admin: false,
            csrf: "tok".into(),
            pending: 0,
        };
        let mut user = User {
            id: 1,
            email: "r@example.com".into(),
            role: Role::Approver,
            notify_email: true,
            created_at: 0,
            invite_pending: false,
            away_until: None,
            delegate: None,
            telegram_chat: None,
            ntfy_url: None,
            notify: crate::model::reach::Channel::ALL.to_vec(),
            push_devices: 0,
        };
        let html = account_section(&viewer, &user, Some("a_bot")).into_string();
        assert!(
            html.contains(r#"action="/account/telegram/link""#),
            "{html}"
        );
        assert!(html.contains(r#"name="csrf" value="tok""#), "{html}");
        user.telegram_chat = Some("5001".into());
        let html = account_section(&viewer, &user, Some("a_bot")).into_string();
        assert!(
            html.contains(r#"action="/account/telegram/unlink""#),
            "{html}"
        );
        assert!(html.contains("@a_bot"), "{html}");
        let page = link_page(&viewer, Some("a_bot"), "Code1", "2026-01-01T00:00:00Z").into_string();
        assert!(page.contains("https://t.me/a_bot?start=Code1"), "{page}");
        assert!(page.contains("/start Code1"), "{page}");
    }
}
