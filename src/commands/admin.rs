//! `hitl key ...` and `hitl user ...`: work on the data directory directly, also while
//! `hitl serve` runs (SQLite's locking keeps the two apart).

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use super::fail;
use crate::cli::{KeyCommand, RoleArg, UserCommand};
use crate::clock;
use crate::db::{self, Store, Tx};
use crate::domain::keys::{self, NewKey};
use crate::domain::{password, users, Actor, Role};
use crate::notify::dns::Dns;
use crate::notify::policy::Policy;

fn open(dir: &Path) -> Result<rusqlite::Connection, String> {
    let store = Store::open(dir).map_err(|e| e.to_string())?;
    store.connect().map_err(|e| e.to_string())
}

/// Changes keys or users in one transaction, then tells a `hitl serve` running on the
/// same directory, which keeps authentications in memory, to check them again.
fn change<R>(
    conn: &mut rusqlite::Connection,
    dir: &Path,
    f: impl FnOnce(&mut Tx) -> crate::domain::Result<R>,
) -> Result<R, String> {
    let changed = db::with_tx(conn, f).map_err(|e| e.to_string())?;
    if let Err(e) = crate::memory::announce(dir) {
        eprintln!(
            "warning: cannot tell a running hitl serve about the change ({e}); it notices within a second"
        );
    }
    Ok(changed)
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => say!("{text}"),
        Err(e) => eprintln!("error: {e}"),
    }
}

/// Prints rows as aligned columns under a header.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        say!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn when(ms: Option<clock::Millis>) -> String {
    ms.map_or_else(|| "-".to_string(), clock::rfc3339)
}

pub fn key(cmd: KeyCommand, dir: &Path, policy: &Policy) -> ExitCode {
    match key_inner(cmd, dir, policy) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn key_inner(cmd: KeyCommand, dir: &Path, policy: &Policy) -> Result<(), String> {
    let mut conn = open(dir)?;
    match cmd {
        KeyCommand::Create {
            name,
            user,
            webhook_url,
            monthly_limit,
            json,
        } => {
            let new = NewKey {
                name,
                user_email: user,
                webhook_url,
                monthly_limit,
            };
            key_create(&mut conn, dir, policy, new, json)
        }
        KeyCommand::List { json } => key_list(&conn, json),
        KeyCommand::Revoke { id } => {
            let key = change(&mut conn, dir, |tx| {
                keys::revoke(tx, clock::now(), &Actor::Cli, &id)
            })?;
            say!("revoked {} ({})", key.id, key.name);
            Ok(())
        }
    }
}

/// `hitl key create`: the key alone on the first line (or JSON), shown this once.
fn key_create(
    conn: &mut rusqlite::Connection,
    dir: &Path,
    policy: &Policy,
    new: NewKey,
    json: bool,
) -> Result<(), String> {
    if let Some(url) = &new.webhook_url {
        Dns::new()?
            .check_url(url, policy)
            .map_err(|e| format!("--webhook-url {url}: {e}"))?;
    }
    let created = change(conn, dir, |tx| {
        keys::create(tx, clock::now(), &Actor::Cli, new)
    })?;
    if json {
        print_json(&created);
        return Ok(());
    }
    say!("{}", created.key);
    say!("id:             {}", created.id);
    say!("name:           {}", created.name);
    match &created.user {
        Some(email) => say!("kind:           reviewer key for {email}"),
        None => say!("kind:           agent key"),
    }
    say!("webhook secret: {}", created.webhook_secret);
    eprintln!("Store the key and the webhook secret now: they are not shown again.");
    Ok(())
}

/// `hitl key list`: a table, or JSON.
fn key_list(conn: &rusqlite::Connection, json: bool) -> Result<(), String> {
    let list = keys::list(conn, clock::now()).map_err(|e| e.to_string())?;
    if json {
        print_json(&list);
        return Ok(());
    }
    if list.is_empty() {
        eprintln!("No API keys yet. Create one with: hitl key create --name NAME");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|k| {
            vec![
                k.id.clone(),
                k.name.clone(),
                k.kind.as_str().to_string(),
                format!("{}…", k.prefix),
                k.user_email.clone().unwrap_or_else(|| "-".into()),
                match k.monthly_limit {
                    Some(l) => format!("{}/{l}", k.used_this_month),
                    None => k.used_this_month.to_string(),
                },
                when(Some(k.created_at)),
                when(k.last_used_at),
                if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                }
                .to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "NAME",
            "KIND",
            "PREFIX",
            "USER",
            "THIS MONTH",
            "CREATED",
            "LAST USED",
            "STATE",
        ],
        &rows,
    );
    Ok(())
}

pub fn user(cmd: UserCommand, dir: &Path) -> ExitCode {
    match user_inner(cmd, dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn user_inner(cmd: UserCommand, dir: &Path) -> Result<(), String> {
    match cmd {
        UserCommand::Add {
            email,
            role,
            password_stdin,
        } => {
            // Check the address before asking for a password.
            let email = users::normalize_email(&email).map_err(|e| e.to_string())?;
            let password = read_password(password_stdin)?;
            let hashed = password::Hashed::new(&password)?;
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Approver => Role::Approver,
            };
            let mut conn = open(dir)?;
            let user = change(&mut conn, dir, |tx| {
                users::add(tx, clock::now(), &Actor::Cli, &email, role, &hashed)
            })?;
            say!("added {} ({})", user.email, user.role);
        }
        UserCommand::List { json } => {
            let conn = open(dir)?;
            let list = users::list(&conn).map_err(|e| e.to_string())?;
            if json {
                print_json(&list);
            } else if list.is_empty() {
                eprintln!("No users yet. Add one with: hitl user add EMAIL --role admin");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|u| {
                        vec![
                            u.email.clone(),
                            u.role.to_string(),
                            if u.notify_email { "on" } else { "off" }.to_string(),
                            when(Some(u.created_at)),
                        ]
                    })
                    .collect();
                print_table(&["EMAIL", "ROLE", "EMAIL NOTIFICATIONS", "ADDED"], &rows);
            }
        }
        UserCommand::Remove { email } => {
            let mut conn = open(dir)?;
            let user = change(&mut conn, dir, |tx| {
                users::remove(tx, clock::now(), &Actor::Cli, &email)
            })?;
            say!("removed {}", user.email);
        }
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
