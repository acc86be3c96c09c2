//! Sessions of the web page: a random 256-bit id in an HttpOnly cookie, kept in the
//! database only as its SHA-256 hash. Idle sessions end after 12 hours, every
//! session after 7 days. The CSRF token is a MAC of the session id, so it is never
//! stored and dies with the session.

use ring::hmac;
use serde_json::json;

use super::{audit, Actor, Result, Reviewer};
use crate::clock::Millis;
use crate::db::{self, Tx};
use crate::secret;

pub const IDLE_MS: Millis = 12 * 3600 * 1000;
pub const ABSOLUTE_MS: Millis = 7 * 24 * 3600 * 1000;
/// "Last seen" is written at most this often per session.
const TOUCH_EVERY_MS: Millis = 60_000;
const CSRF_CONTEXT: &[u8] = b"hitl csrf token";

/// A signed-in browser, as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: Vec<u8>,
    pub user: Reviewer,
    /// The token every form and state-changing request of this session must carry.
    pub csrf: String,
    pub needs_touch: bool,
}

fn csrf_for(cookie: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, cookie.as_bytes());
    secret::b64url(hmac::sign(&key, CSRF_CONTEXT).as_ref())
}

impl Session {
    /// True when `submitted` is this session's CSRF token (constant-time).
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        secret::constant_time_eq(self.csrf.as_bytes(), submitted.as_bytes())
    }
}

/// Starts a session for a user who just proved who they are; returns the cookie value.
pub fn create(tx: &mut Tx, now: Millis, user: &Reviewer, client: &str) -> Result<String> {
    let cookie = secret::b64url(&secret::bytes(32));
    db::sessions::insert(tx, &secret::sha256(cookie.as_bytes()), user.user_id, now)?;
    audit::record(
        tx,
        now,
        &Actor::User(user.email.clone()),
        "session.created",
        None,
        json!({ "client": client }),
    )?;
    Ok(cookie)
}

/// The live session behind a cookie value, if any.
pub fn lookup(conn: &rusqlite::Connection, cookie: &str, now: Millis) -> Result<Option<Session>> {
    if cookie.len() != 43 {
        return Ok(None);
    }
    let id_hash = secret::sha256(cookie.as_bytes());
    let Some(row) = db::sessions::get(conn, &id_hash)? else {
        return Ok(None);
    };
    if now - row.last_seen_at >= IDLE_MS || now - row.created_at >= ABSOLUTE_MS {
        return Ok(None);
    }
    Ok(Some(Session {
        id_hash,
        user: row.user,
        csrf: csrf_for(cookie),
        needs_touch: now - row.last_seen_at >= TOUCH_EVERY_MS,
    }))
}

/// The session's user as it is now, read inside the transaction about to act for it:
/// a user removed or signed out since the request's first check cannot act, and a
/// demoted admin acts as an approver. `Forbidden` when the session has ended.
pub fn recheck(tx: &mut Tx, id_hash: &[u8], now: Millis) -> Result<Reviewer> {
    match db::sessions::get(tx, id_hash)? {
        Some(row) if now - row.last_seen_at < IDLE_MS && now - row.created_at < ABSOLUTE_MS => {
            Ok(row.user)
        }
        _ => Err(super::Error::Forbidden(
            "this session has ended (signed out, expired, or its user was removed); sign in again"
                .into(),
        )),
    }
}

pub fn touch(tx: &mut Tx, id_hash: &[u8], now: Millis) -> Result<()> {
    db::sessions::touch(tx, id_hash, now)
}

/// Signs out: the session row is deleted.
pub fn end(tx: &mut Tx, now: Millis, session: &Session) -> Result<()> {
    db::sessions::delete(tx, &session.id_hash)?;
    audit::record(
        tx,
        now,
        &Actor::User(session.user.email.clone()),
        "session.ended",
        None,
        json!({}),
    )
}

/// Forgets sessions that can no longer be used.
pub fn prune(tx: &mut Tx, now: Millis) -> Result<()> {
    db::sessions::prune(tx, now - IDLE_MS, now - ABSOLUTE_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_differ_per_session_and_verify() {
        let a = csrf_for("a".repeat(43).as_str());
        let b = csrf_for("b".repeat(43).as_str());
        assert_ne!(a, b);
        let session = Session {
            id_hash: vec![],
            user: Reviewer {
                user_id: 1,
                email: "x@example.com".into(),
                role: crate::domain::Role::Admin,
            },
            csrf: a.clone(),
            needs_touch: false,
        };
        assert!(session.csrf_ok(&a));
        assert!(!session.csrf_ok(&b));
        assert!(!session.csrf_ok(""));
    }
}

#[cfg(test)]
mod lifetime_tests {
    use super::*;
    use crate::db::{self, Store};
    use crate::domain::{password, users, Role};

    #[test]
    fn sessions_end_after_12_idle_hours_or_7_days() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut conn = store.connect().unwrap_or_else(|e| panic!("{e}"));
        let t0: Millis = 1_800_000_000_000;
        let hashed =
            password::Hashed::new("long enough password").unwrap_or_else(|e| panic!("{e}"));
        let user = db::with_tx(&mut conn, |tx| {
            users::add(tx, t0, &Actor::Cli, "s@example.com", Role::Admin, &hashed)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let cookie = db::with_tx(&mut conn, |tx| create(tx, t0, &user.reviewer(), "test"))
            .unwrap_or_else(|e| panic!("{e}"));
        let live = |conn: &rusqlite::Connection, at| {
            lookup(conn, &cookie, at)
                .unwrap_or_else(|e| panic!("{e}"))
                .is_some()
        };
        assert!(live(&conn, t0));
        assert!(live(&conn, t0 + IDLE_MS - 1));
        assert!(!live(&conn, t0 + IDLE_MS), "idle for 12 hours");
        // Used every few hours, it still ends after 7 days.
        let mut at = t0;
        while at < t0 + ABSOLUTE_MS - 3_600_000 {
            at += 3 * 3_600_000;
            let hash = secret::sha256(cookie.as_bytes());
            db::with_tx(&mut conn, |tx| touch(tx, &hash, at)).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(live(&conn, at.min(t0 + ABSOLUTE_MS - 1)));
        assert!(!live(&conn, t0 + ABSOLUTE_MS), "7 days old");
        assert!(lookup(&conn, "not-a-cookie", t0)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none());
    }
}
