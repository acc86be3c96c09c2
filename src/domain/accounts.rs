//! One-time links with which a person sets their own password: an invitation (the
//! user exists from the start, with no password, and cannot sign in until they set
//! one) or a password reset (the old password works until the new one is set; then
//! it stops, and every session of the user ends).
//!
//! A link is valid for `INVITE_VALID_MS` (7 days) or `RESET_VALID_MS` (24 hours),
//! works once, and a newer link for the same person replaces older unused ones. The
//! database keeps only the SHA-256 of the token. The token itself is an HMAC, under
//! the server's link key, of a random nonce; a mail in the outbox carries only the
//! nonce, and the notifier derives the link when it sends it.

use ring::hmac;
use serde::Serialize;
use serde_json::json;

use super::{audit, outbox, password, users, Actor, Error, Result, Role};
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
use crate::model::delivery::{Kind, NewRow};
use crate::model::events::Event;
use crate::secret;

pub const INVITE_VALID_MS: Millis = 7 * 24 * 3600 * 1000;
pub const RESET_VALID_MS: Millis = 24 * 3600 * 1000;
/// The `watch_id` of the outbox rows that mail these links.
pub const OUTBOX_WATCH_ID: &str = "account";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Invite,
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
        }
    }

    fn parse(text: &str) -> Option<Purpose> {
        match text {
            "invite" => Some(Purpose::Invite),
            "reset" => Some(Purpose::Reset),
            _ => None,
        }
    }

    fn valid_ms(self) -> Millis {
        match self {
            Purpose::Invite => INVITE_VALID_MS,
            Purpose::Reset => RESET_VALID_MS,
        }
    }
}

/// A link just made: the token goes into `Urls::password_link`.
#[derive(Debug, Clone)]
pub struct Issued {
    pub user: users::User,
    pub purpose: Purpose,
    pub token: String,
    pub expires_at: Millis,
    /// Whether a mail with the link was queued.
    pub mailed: bool,
}

/// The token for a nonce: the link key's HMAC of it.
pub fn token_for(link_key: &[u8], nonce: &str) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, link_key),
        format!("hitl-account|{nonce}").as_bytes(),
    );
    secret::b64url(tag.as_ref())
}

fn issue(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user: users::User,
    purpose: Purpose,
    mail: bool,
) -> Result<Issued> {
    db::account_links::delete_unused_of(tx, user.id)?;
    let nonce = secret::b64url(&secret::bytes(24));
    let token = token_for(&outbox::link_key(tx)?, &nonce);
    let expires_at = now + purpose.valid_ms();
    db::account_links::insert(
        tx,
        &secret::sha256(token.as_bytes()),
        purpose.as_str(),
        user.id,
        now,
        expires_at,
    )?;
    if mail {
        db::outbox::insert(
            tx,
            &NewRow {
                kind: Kind::Email,
                watch_id: OUTBOX_WATCH_ID.into(),
                event_id: format!("msg_{}", secret::base62(24)),
                target: user.email.clone(),
                key_id: None,
                user_id: Some(user.id),
                payload:
                    json!({ "event": purpose.as_str(), "nonce": nonce, "expiresAt": expires_at })
                        .to_string(),
                at: now,
            },
        )?;
        tx.emit(Event::OutboxReady);
    }
    let event = match purpose {
        Purpose::Invite => "user.invited",
        Purpose::Reset => "user.password_reset_issued",
    };
    audit::record(
        tx,
        now,
        actor,
        event,
        None,
        json!({ "email": user.email, "role": user.role, "expiresAt": clock::rfc3339(expires_at), "mailed": mail }),
    )?;
    Ok(Issued {
        user,
        purpose,
        token,
        expires_at,
        mailed: mail,
    })
}

/// Invites a person: adds them with no password (they cannot sign in yet) and makes
/// the link with which they set one. Inviting someone whose invitation is still
/// pending makes a new link (the old one stops working) and keeps their role.
pub fn invite(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    email: &str,
    role: Role,
    mail: bool,
) -> Result<Issued> {
    let email = users::normalize_email(email)?;
    let user = match db::users::by_email(tx, &email)? {
        Some(user) if user.invite_pending => user,
        Some(_) => {
            return Err(Error::Conflict(format!(
                "{email} is already a user; to give them a new password, use: hitl user reset-password {email}"
            )))
        }
        None => users::add_invited(tx, now, actor, &email, role)?,
    };
    issue(tx, now, actor, user, Purpose::Invite, mail)
}

/// A link with which an existing user sets a new password.
pub fn reset(tx: &mut Tx, now: Millis, actor: &Actor, email: &str, mail: bool) -> Result<Issued> {
    let user = users::by_email(tx, email)?;
    let purpose = if user.invite_pending {
        Purpose::Invite
    } else {
        Purpose::Reset
    };
    issue(tx, now, actor, user, purpose, mail)
}

fn gone() -> Error {
    Error::NotFound(
        "this link is not valid: it was used already, it expired, or a newer link replaced it. \
         Ask an admin for a new one (hitl user reset-password EMAIL, or the Users page)."
            .into(),
    )
}

/// What a valid link is for, and whose it is.
pub fn inspect(
    conn: &rusqlite::Connection,
    token: &str,
    now: Millis,
) -> Result<(Purpose, users::User)> {
    let row = db::account_links::get(conn, &secret::sha256(token.as_bytes()))?.ok_or_else(gone)?;
    if row.used_at.is_some() || row.expires_at <= now {
        return Err(gone());
    }
    let purpose = Purpose::parse(&row.purpose).ok_or_else(gone)?;
    let user = db::users::by_id(conn, row.user_id)?.ok_or_else(gone)?;
    Ok((purpose, user))
}

/// Uses a link: sets the password, ends every session of the user, and returns the
/// user (the caller signs them in).
pub fn complete(
    tx: &mut Tx,
    now: Millis,
    token: &str,
    password: &password::Hashed,
) -> Result<users::User> {
    let (purpose, user) = inspect(tx, token, now)?;
    if !db::account_links::mark_used(tx, &secret::sha256(token.as_bytes()), now)? {
        return Err(gone());
    }
    db::users::set_password_hash(tx, user.id, password.as_str())?;
    let ended = db::sessions::delete_others(tx, user.id, &[])?;
    audit::record(
        tx,
        now,
        &Actor::User(user.email.clone()),
        "user.password_set",
        None,
        json!({ "email": user.email, "link": purpose.as_str(), "sessionsEnded": ended }),
    )?;
    Ok(users::User {
        invite_pending: false,
        ..user
    })
}
