//! `hitl key ...` (and the helpers `hitl user ...` shares): work on the data directory
//! directly, also while `hitl serve` runs (SQLite's locking keeps the two apart).

use std::path::Path;

use crate::cli::KeyCommand;
use crate::clock;
use crate::db::{self, Store, Tx};
use crate::domain::keys::{self, NewKey};
use crate::domain::{settings, Actor};
use crate::notify::dns::Dns;
use crate::notify::policy::Policy;

pub(super) fn open(dir: &Path) -> Result<rusqlite::Connection, String> {
    let store = Store::open(dir).map_err(|e| e.to_string())?;
    store.connect().map_err(|e| e.to_string())
}

/// Changes keys or users in one transaction, then tells a `hitl serve` running on the
/// same directory, which keeps authentications in memory, to check them again.
pub(super) fn change<R>(
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

pub(super) fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => say!("{text}"),
        Err(e) => eprintln!("error: {e}"),
    }
}

/// Prints rows as aligned columns under a header.
pub(super) fn print_table(header: &[&str], rows: &[Vec<String>]) {
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

pub(super) fn when(ms: Option<clock::Millis>) -> String {
    ms.map_or_else(|| "-".to_string(), clock::rfc3339)
}

pub fn key(cmd: KeyCommand, dir: &Path) -> Result<(), String> {
    let mut conn = open(dir)?;
    match cmd {
        KeyCommand::Create {
            name,
            user,
            webhook_url,
            monthly_limit,
            owner,
            json,
        } => {
            let new = NewKey {
                name,
                user_email: user,
                webhook_url,
                monthly_limit,
                owner_email: owner,
            };
            key_create(&mut conn, dir, new, json)
        }
        KeyCommand::List { json } => key_list(&conn, json),
        KeyCommand::Revoke { key } => {
            let key = change(&mut conn, dir, |tx| {
                keys::revoke(tx, clock::now(), &Actor::Cli, &key)
            })?;
            say!("revoked {} ({})", key.id, key.name);
            Ok(())
        }
        KeyCommand::RotateSecret { key, json } => {
            let (key, secret) = change(&mut conn, dir, |tx| {
                keys::rotate_secret(tx, clock::now(), &Actor::Cli, &key)
            })?;
            if json {
                print_json(&serde_json::json!({
                    "id": key.id,
                    "name": key.name,
                    "webhookSecret": secret,
                }));
            } else {
                say!("{secret}");
                eprintln!(
                    "New webhook secret of {} ({}). Webhooks are signed with it from now on, \
                     retries of earlier ones too; store it now: it is not shown again.",
                    key.name, key.id
                );
            }
            Ok(())
        }
    }
}

/// `hitl key create`: the key alone on the first line (or JSON), shown this once.
fn key_create(
    conn: &mut rusqlite::Connection,
    dir: &Path,
    new: NewKey,
    json: bool,
) -> Result<(), String> {
    if let Some(url) = &new.webhook_url {
        // The rules `hitl serve` delivers by, as it stored them at its last start.
        let stored = settings::webhook_policy(conn).map_err(|e| e.to_string())?;
        let policy = Policy::new(stored.deny_private, &stored.allow)?;
        Dns::new()?
            .check_url(url, &policy)
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
    match &created.user_email {
        Some(email) => say!("kind:           reviewer key for {email}"),
        None => say!("kind:           agent key"),
    }
    match &created.webhook_secret {
        Some(secret) => {
            say!("webhook secret: {secret}");
            eprintln!("Store the key and the webhook secret now: they are not shown again.");
        }
        None => eprintln!("Store the key now: it is not shown again."),
    }
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
