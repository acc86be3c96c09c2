//! First run: while there are no users, `hitl serve` prints a one-time link (valid for
//! an hour, single use) whose page creates the first admin.

use serde_json::json;

use super::{audit, users, Actor, Error, Result, Role};
use crate::clock::Millis;
use crate::db::{self, Tx};
use crate::secret;

pub const VALID_MS: Millis = 3600 * 1000;

/// A new setup token if there are no users yet (earlier unused tokens stop working).
pub fn issue(tx: &mut Tx, now: Millis) -> Result<Option<String>> {
    if db::users::count(tx)? > 0 {
        return Ok(None);
    }
    db::setup::delete_unused(tx)?;
    let token = secret::b64url(&secret::bytes(32));
    db::setup::insert(tx, &secret::sha256(token.as_bytes()), now + VALID_MS)?;
    Ok(Some(token))
}

fn check(conn: &rusqlite::Connection, token: &str, now: Millis) -> Result<Vec<u8>> {
    let hash = secret::sha256(token.as_bytes());
    let gone = || {
        Error::NotFound(
            "this setup link is not valid: it was used already, it expired, or it was replaced by \
             a newer one. Restart hitl serve for a new link, or add a user with hitl user add."
                .into(),
        )
    };
    match db::setup::get(conn, &hash)? {
        Some((expires_at, None)) if expires_at > now => {}
        _ => return Err(gone()),
    }
    if db::users::count(conn)? > 0 {
        return Err(gone());
    }
    Ok(hash)
}

/// Whether the setup page may be shown for this token.
pub fn is_valid(conn: &rusqlite::Connection, token: &str, now: Millis) -> Result<bool> {
    match check(conn, token, now) {
        Ok(_) => Ok(true),
        Err(Error::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Uses the token to create the first admin.
pub fn complete(
    tx: &mut Tx,
    now: Millis,
    token: &str,
    email: &str,
    password: &super::password::Hashed,
) -> Result<users::User> {
    let hash = check(tx, token, now)?;
    db::setup::mark_used(tx, &hash, now)?;
    let actor = Actor::User(users::normalize_email(email)?);
    let user = users::add(tx, now, &actor, email, Role::Admin, password)?;
    audit::record(
        tx,
        now,
        &actor,
        "setup.completed",
        None,
        json!({ "email": user.email }),
    )?;
    Ok(user)
}
