//! `hitl user ...`: invite, reset a password, change a role, add, list, remove.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use serde_json::json;

use super::admin::{change, open, print_json, print_table, when};
use crate::cli::UserCommand;
use crate::clock;
use crate::domain::accounts::{self, Issued};
use crate::domain::{password, settings, setup, users, Actor};
use crate::urls::Urls;

pub fn user(cmd: UserCommand, dir: &Path) -> Result<(), String> {
    match cmd {
        UserCommand::Invite { email, role, json } => {
            let role = role.role();
            issue(dir, json, |tx, now, mail| {
                accounts::invite(tx, now, &Actor::Cli, &email, role, mail)
            })
        }
        UserCommand::ResetPassword { email, json } => issue(dir, json, |tx, now, mail| {
            accounts::reset(tx, now, &Actor::Cli, &email, mail)
        }),
        UserCommand::Set {
            email,
            role,
            away_until,
            delegate,
            back,
            notify,
            telegram_chat,
            no_telegram,
            ntfy,
            no_ntfy,
            json,
        } => {
            let channels = notify
                .as_deref()
                .map(crate::model::reach::parse_list)
                .transpose()
                .map_err(|e| format!("--notify: {e}"))?;
            let telegram = (telegram_chat.is_some() || no_telegram).then_some(telegram_chat);
            let ntfy = (ntfy.is_some() || no_ntfy).then_some(ntfy);
            if role.is_none()
                && away_until.is_none()
                && !back
                && channels.is_none()
                && telegram.is_none()
                && ntfy.is_none()
            {
                return Err(
                    "nothing to change: give a setting, e.g. --role admin, --away-until DATE --delegate EMAIL, --back, --notify email,telegram, --telegram-chat ID or --ntfy URL"
                        .into(),
                );
            }
            let mut conn = open(dir)?;
            let user = change(&mut conn, dir, |tx| {
                let now = clock::now();
                let mut user = users::by_email(tx, &email)?;
                if let Some(role) = role {
                    user = users::set_role(tx, now, &Actor::Cli, user.id, role.role())?;
                }
                if let (Some(until), Some(delegate)) = (&away_until, &delegate) {
                    let until = users::parse_away_until(until, now)?;
                    user = users::set_away(tx, now, &Actor::Cli, user.id, Some((until, delegate)))?;
                } else if back {
                    user = users::set_away(tx, now, &Actor::Cli, user.id, None)?;
                }
                if let Some(chat) = &telegram {
                    user =
                        users::set_telegram_chat(tx, now, &Actor::Cli, user.id, chat.as_deref())?;
                }
                if let Some(url) = &ntfy {
                    user = users::set_ntfy_url(tx, now, &Actor::Cli, user.id, url.as_deref())?;
                }
                if let Some(on) = &channels {
                    user = users::set_channels(tx, now, &Actor::Cli, user.id, on)?;
                }
                Ok(user)
            })?;
            if json {
                print_json(&user);
            } else {
                if role.is_some() {
                    say!("{} is now {}", user.email, user.role);
                }
                match (user.away_until, &user.delegate) {
                    (Some(until), Some(delegate)) => say!(
                        "{} is away until {}; pauses routed to them go to {delegate} meanwhile",
                        user.email,
                        clock::rfc3339(until)
                    ),
                    _ if back => say!("{} is back", user.email),
                    _ => {}
                }
                if let Some(chat) = &telegram {
                    match chat {
                        Some(chat) => {
                            say!("{}'s pauses go to the Telegram chat {chat}", user.email)
                        }
                        None => say!("{} has no Telegram chat linked now", user.email),
                    }
                }
                if let Some(url) = &ntfy {
                    match url {
                        Some(_) => say!(
                            "{}'s pauses are published to {}",
                            user.email,
                            user.ntfy_url.as_deref().unwrap_or_default()
                        ),
                        None => say!("{}'s pauses are no longer published to ntfy", user.email),
                    }
                }
                if channels.is_some() {
                    let on: Vec<&str> = user.notify.iter().map(|c| c.as_str()).collect();
                    say!(
                        "{} is told of pauses by: {}",
                        user.email,
                        if on.is_empty() {
                            "nothing (all channels off)".to_string()
                        } else {
                            on.join(", ")
                        }
                    );
                }
            }
            Ok(())
        }
        UserCommand::Add {
            email,
            role,
            password_stdin,
            json,
        } => {
            // Check the address before asking for a password.
            let email = users::normalize_email(&email).map_err(|e| e.to_string())?;
            let password = read_password(password_stdin)?;
            let hashed = password::Hashed::new(&password)?;
            let mut conn = open(dir)?;
            let (user, closed) = change(&mut conn, dir, |tx| {
                let now = clock::now();
                let closed = setup::close(tx, now)?;
                let user = users::add(tx, now, &Actor::Cli, &email, role.role(), &hashed)?;
                Ok((user, closed))
            })?;
            if json {
                print_json(&user);
            } else {
                say!("added {} ({})", user.email, user.role);
            }
            if closed {
                eprintln!("{}", setup::CLOSED_NOTE);
            }
            Ok(())
        }
        UserCommand::List { json } => {
            let conn = open(dir)?;
            let list = users::list(&conn).map_err(|e| e.to_string())?;
            if json {
                print_json(&list);
            } else if list.is_empty() {
                eprintln!("No users yet. Invite one with: hitl user invite EMAIL --role admin");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|u| {
                        vec![
                            u.email.clone(),
                            u.role.to_string(),
                            if u.invite_pending {
                                "invited"
                            } else {
                                "active"
                            }
                            .to_string(),
                            match u.notify.iter().map(|c| c.as_str()).collect::<Vec<_>>() {
                                on if on.is_empty() => "nothing".to_string(),
                                on => on.join(","),
                            },
                            when(Some(u.created_at)),
                        ]
                    })
                    .collect();
                print_table(&["EMAIL", "ROLE", "STATE", "NOTIFIED BY", "ADDED"], &rows);
            }
            Ok(())
        }
        UserCommand::Remove { email } => {
            let mut conn = open(dir)?;
            let user = change(&mut conn, dir, |tx| {
                users::remove(tx, clock::now(), &Actor::Cli, &email)
            })?;
            say!("removed {}", user.email);
            Ok(())
        }
    }
}

/// Makes an invitation or reset link and prints it; mails it (through the running
/// server's outbox) when the server has mail.
fn issue(
    dir: &Path,
    json: bool,
    make: impl FnOnce(&mut crate::db::Tx, clock::Millis, bool) -> crate::domain::Result<Issued>,
) -> Result<(), String> {
    let mut conn = open(dir)?;
    let public_url = settings::public_url(&conn)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            "hitl serve has not run on this data directory yet, so the server's address for \
             the link is unknown; start hitl serve (with --public-url) once, then try again"
                .to_string()
        })?;
    let mail = settings::email_on(&conn).map_err(|e| e.to_string())?;
    let (issued, closed) = change(&mut conn, dir, |tx| {
        let now = clock::now();
        let closed = setup::close(tx, now)?;
        Ok((make(tx, now, mail)?, closed))
    })?;
    let link = Urls::new(&public_url).password_link(&issued.token);
    if json {
        print_json(&json!({
            "email": issued.user.email,
            "role": issued.user.role,
            "purpose": issued.purpose,
            "link": link,
            "expiresAt": clock::rfc3339(issued.expires_at),
            "mailed": issued.mailed,
        }));
    } else {
        say!("{link}");
        let what = match issued.purpose {
            accounts::Purpose::Invite => "sets their password and signs in",
            accounts::Purpose::Reset => "sets a new password (their sessions end then)",
        };
        eprintln!(
            "With this link {} ({}) {what}. It works once, until {}.",
            issued.user.email,
            issued.user.role,
            clock::rfc3339(issued.expires_at)
        );
        if issued.mailed {
            eprintln!("It is also mailed to {} by hitl serve.", issued.user.email);
        } else {
            eprintln!("Mail is off in hitl serve: pass the link on yourself.");
        }
    }
    if closed {
        eprintln!("{}", setup::CLOSED_NOTE);
    }
    Ok(())
}

/// The new user's password: the first line of stdin with `--password-stdin`, else
/// asked twice on the terminal without echo.
fn read_password(from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(
                "no terminal to ask for the password on; pipe it in with --password-stdin".into(),
            );
        }
        eprintln!("The password must be {}.", password::RULE);
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let second = rpassword::prompt_password("Repeat it: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        if first != second {
            return Err("the two passwords differ; nothing was changed".into());
        }
        first
    };
    Ok(password)
}
