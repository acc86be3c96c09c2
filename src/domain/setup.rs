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

/// Whether adding a user now closes a first-run setup link that is still open (call
/// it before adding): once a user exists, `check` refuses the link and says why. The
/// command line uses it to say so.
pub fn close(tx: &mut Tx, now: Millis) -> Result<bool> {
    // Only counted: `check` refuses the token from now on, and names the reason.
    Ok(db::users::count(tx)? == 0 && db::setup::live(tx, now)? > 0)
}

/// What the command line says when `close` closed a link.
pub const CLOSED_NOTE: &str = "note: the first-run setup link that hitl serve printed is closed now, because a user exists; sign in (or use the invitation link) instead";

fn check(conn: &rusqlite::Connection, token: &str, now: Millis) -> Result<Vec<u8>> {
    let hash = secret::sha256(token.as_bytes());
    let gone = || {
        Error::NotFound(
            "this setup link is not valid: it was used already, it expired (links last an hour), or \
             it was replaced by a newer one. Restart hitl serve for a new link, or add a user with hitl user add."
                .into(),
        )
    };
    match db::setup::get(conn, &hash)? {
        Some((expires_at, None)) if expires_at > now => {}
        _ => return Err(gone()),
    }
    if db::users::count(conn)? > 0 {
        return Err(Error::NotFound(
            "this setup link was closed because a user was added since it was printed (with \
             hitl user add or hitl user invite): the first admin exists. Sign in instead, or ask \
             an admin for an invitation."
                .into(),
        ));
    }
    Ok(hash)
}

/// Whether the setup page may be shown for this token: `None` if so, else why not.
pub fn why_invalid(
    conn: &rusqlite::Connection,
    token: &str,
    now: Millis,
) -> Result<Option<String>> {
    match check(conn, token, now) {
        Ok(_) => Ok(None),
        Err(Error::NotFound(why)) => Ok(Some(why)),
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
