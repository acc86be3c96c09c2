//! Users: the people who sign in to the web page and decide.

use serde_json::json;

use super::{audit, password, Actor, Error, Result, Role};
use crate::clock::Millis;
use crate::db::users::Address;
use crate::db::{self, Tx};
use crate::model::reach::{self, Channel};
pub use crate::model::user::User;

/// Checks an email address and folds it to the stored form (lower case).
pub fn normalize_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Error::validation("the email address is empty"));
    }
    if email.len() > 254 || email.parse::<lettre::Address>().is_err() {
        return Err(Error::validation(format!(
            "{:?} is not a valid email address",
            raw.trim()
        )));
    }
    Ok(email)
}

pub fn add(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    email: &str,
    role: Role,
    password: &password::Hashed,
) -> Result<User> {
    let email = normalize_email(email)?;
    if db::users::by_email(tx, &email)?.is_some() {
        return Err(Error::Conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let id = db::users::insert(tx, &email, role, password.as_str(), now)?;
    audit::record(
        tx,
        now,
        actor,
        "user.added",
        None,
        json!({ "email": email, "role": role }),
    )?;
    by_id(tx, id)
}

/// Adds an invited user: no password yet, so they cannot sign in until they set one
/// with their link (see `accounts::invite`).
pub fn add_invited(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    email: &str,
    role: Role,
) -> Result<User> {
    let email = normalize_email(email)?;
    let id = db::users::insert(tx, &email, role, "", now)?;
    audit::record(
        tx,
        now,
        actor,
        "user.added",
        None,
        json!({ "email": email, "role": role, "invited": true }),
    )?;
    by_id(tx, id)
}

/// The password hash of someone who signs in only with the identity provider: no
/// password matches it (it is no PBKDF2 hash), yet they are no pending invitee: they
/// are mailed and counted as an admin who can sign in.
pub const PROVIDER_ONLY: &str = "!oidc";

/// Adds a user who signs in with the identity provider (`--oidc-auto-create`), with no
/// password.
pub fn add_from_provider(tx: &mut Tx, now: Millis, email: &str, role: Role) -> Result<User> {
    let email = normalize_email(email)?;
    if let Some(user) = db::users::by_email(tx, &email)? {
        return Ok(user);
    }
    let id = db::users::insert(tx, &email, role, PROVIDER_ONLY, now)?;
    audit::record(
        tx,
        now,
        &Actor::Anonymous,
        "user.added",
        None,
        json!({ "email": email, "role": role, "via": "oidc" }),
    )?;
    by_id(tx, id)
}

/// An invited user (no password yet) who signed in with the identity provider is no
/// longer pending: from now on they are mailed like everyone else. Their invitation
/// link still lets them choose a password.
pub fn signed_in_with_provider(tx: &mut Tx, user: User) -> Result<User> {
    if !user.invite_pending {
        return Ok(user);
    }
    db::users::set_password_hash(tx, user.id, PROVIDER_ONLY)?;
    Ok(User {
        invite_pending: false,
        ..user
    })
}

/// The user with this email.
pub fn by_email(conn: &rusqlite::Connection, email: &str) -> Result<User> {
    let email = normalize_email(email)?;
    db::users::by_email(conn, &email)?
        .ok_or_else(|| Error::NotFound(format!("no user with email {email}")))
}

pub fn list(conn: &rusqlite::Connection) -> Result<Vec<User>> {
    db::users::list(conn)
}

/// Removes a user, revoking their reviewer keys in the same transaction. The last
/// admin cannot be removed: nobody could manage the appliance from the page after.
pub fn remove(tx: &mut Tx, now: Millis, actor: &Actor, email: &str) -> Result<User> {
    let email = normalize_email(email)?;
    let user = db::users::by_email(tx, &email)?
        .ok_or_else(|| Error::NotFound(format!("no user with email {email}")))?;
    if user.role == Role::Admin && !user.invite_pending && db::users::count_admins(tx)? <= 1 {
        return Err(Error::Conflict(format!(
            "{email} is the last admin; add another admin before removing this one"
        )));
    }
    let revoked = db::keys::revoke_for_user(tx, user.id, now)?;
    db::users::delete(tx, user.id)?;
    audit::record(
        tx,
        now,
        actor,
        "user.removed",
        None,
        json!({ "email": email, "revokedKeys": revoked }),
    )?;
    Ok(user)
}

pub fn by_id(conn: &rusqlite::Connection, id: i64) -> Result<User> {
    db::users::by_id(conn, id)?.ok_or_else(|| Error::NotFound("no such user".into()))
}

/// A hash of a password nobody has, checked when the email is unknown so that a wrong
/// email costs as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| password::hash(&crate::secret::base62(32)))
}

/// The user with this email and their stored password hash, for `check_password`.
pub fn credentials(conn: &rusqlite::Connection, email: &str) -> Result<Option<(User, String)>> {
    let email = email.trim().to_lowercase();
    let Some(user) = db::users::by_email(conn, &email)? else {
        return Ok(None);
    };
    let hash = db::users::password_hash(conn, user.id)?.unwrap_or_default();
    Ok(Some((user, hash)))
}

/// The user if `password` matches, else `Unauthorized`. One PBKDF2 run (~0.2 s)
/// whether or not the email exists, so timing does not tell which emails are users.
/// CPU-heavy: run it on a blocking thread, never on the writer.
pub fn check_password(found: Option<(User, String)>, pw: &str) -> Result<User> {
    match found {
        Some((user, hash)) if !hash.is_empty() && hash != PROVIDER_ONLY => {
            match password::verify(pw, &hash) {
                true => Ok(user),
                false => Err(Error::Unauthorized),
            }
        }
        // An unknown email, an invited user with no password yet (an empty hash) or
        // one who signs in only with the identity provider: the same PBKDF2 run against
        // the decoy, so timing does not tell them apart.
        _ => {
            let _ = password::verify(pw, decoy_hash());
            Err(Error::Unauthorized)
        }
    }
}

/// Sets a user's new password (the caller checked the current one with
/// `check_password`) and ends their other sessions.
pub fn change_password(
    tx: &mut Tx,
    now: Millis,
    user_id: i64,
    new_password: &password::Hashed,
    keep_session: &[u8],
) -> Result<()> {
    let user = by_id(tx, user_id)?;
    db::users::set_password_hash(tx, user_id, new_password.as_str())?;
    // A reset link issued before (perhaps read by someone else) dies with the change.
    db::account_links::delete_unused_of(tx, user_id)?;
    let ended = db::sessions::delete_others(tx, user_id, keep_session)?;
    audit::record(
        tx,
        now,
        &Actor::User(user.email.clone()),
        "user.password_changed",
        None,
        json!({ "email": user.email, "otherSessionsEnded": ended }),
    )
}

/// Sets a user's role; the last admin stays an admin.
pub fn set_role(tx: &mut Tx, now: Millis, actor: &Actor, user_id: i64, role: Role) -> Result<User> {
    let user = by_id(tx, user_id)?;
    if user.role == role {
        return Ok(user);
    }
    if user.role == Role::Admin && !user.invite_pending && db::users::count_admins(tx)? <= 1 {
        return Err(Error::Conflict(format!(
            "{} is the last admin; make another user an admin first",
            user.email
        )));
    }
    db::users::set_role(tx, user_id, role)?;
    audit::record(
        tx,
        now,
        actor,
        "user.role_changed",
        None,
        json!({ "email": user.email, "role": role }),
    )?;
    Ok(User { role, ..user })
}

/// Turns email notifications of new pauses on or off for a user.
pub fn set_notify_email(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user_id: i64,
    on: bool,
) -> Result<User> {
    let user = by_id(tx, user_id)?;
    db::users::set_notify_email(tx, user_id, on)?;
    audit::record(
        tx,
        now,
        actor,
        "user.notifications_changed",
        None,
        json!({ "email": user.email, "emailNotifications": on }),
    )?;
    Ok(User {
        notify_email: on,
        ..user
    })
}

/// Which channels tell a user of pauses: `on` lists those kept (mail included); the
/// others are turned off.
pub fn set_channels(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user_id: i64,
    on: &[Channel],
) -> Result<User> {
    let user = by_id(tx, user_id)?;
    let email = on.contains(&Channel::Email);
    db::users::set_channels(tx, user_id, email, &reach::off_text(on))?;
    audit::record(
        tx,
        now,
        actor,
        "user.notifications_changed",
        None,
        json!({ "email": user.email, "channels": on }),
    )?;
    by_id(tx, user_id)
}

/// A Telegram private chat's id, as Telegram gives it.
pub fn check_telegram_chat(chat: &str) -> Result<String> {
    let chat = chat.trim();
    // A person's private chat with the bot: its id is theirs, positive. Buttons count
    // only from there (a group's members are not one person).
    match chat.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id.to_string()),
        _ => Err(Error::validation(format!(
            "{chat:?} is not the id of a private Telegram chat (a positive number such as 123456789)"
        ))),
    }
}

/// Links (or with `None` unlinks) the Telegram chat pauses are sent to.
pub fn set_telegram_chat(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user_id: i64,
    chat: Option<&str>,
) -> Result<User> {
    let chat = chat.map(check_telegram_chat).transpose()?;
    set_address(tx, now, actor, user_id, Address::TelegramChat, chat)
}

/// Sets a checked address (or clears it) and records it: whether one is set, never
/// the address itself.
fn set_address(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user_id: i64,
    which: Address,
    value: Option<String>,
) -> Result<User> {
    let user = by_id(tx, user_id)?;
    db::users::set_address(tx, user_id, which, value.as_deref())?;
    let (event, details) = match which {
        Address::TelegramChat => (
            "user.telegram_changed",
            json!({ "email": user.email, "linked": value.is_some() }),
        ),
        Address::NtfyUrl => (
            "user.ntfy_changed",
            json!({ "email": user.email, "set": value.is_some() }),
        ),
    };
    audit::record(tx, now, actor, event, None, details)?;
    by_id(tx, user_id)
}

/// An ntfy topic URL: http(s), a host, and a topic as the one path segment
/// (`https://ntfy.example.com/approvals-7f3a`).
pub fn check_ntfy_url(raw: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::validation(format!(
            "{raw:?} is not an ntfy topic URL such as https://ntfy.sh/my-approvals: {why}"
        ))
    };
    let url = url::Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    // What hitl publishes (a one-tap Approve link among it) never travels in clear.
    if !(url.scheme() == "https" || url.scheme() == "http" && loopback) {
        return Err(bad(
            "it must be https:// with a host (http:// only to this machine)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("no query, fragment or user name"));
    }
    let topic = url.path().trim_matches('/');
    let valid = !topic.is_empty()
        && topic.len() <= 64
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(bad(
            "the path must be the topic: up to 64 letters, digits, - or _",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Sets (or with `None` clears) the ntfy topic pauses are published to.
pub fn set_ntfy_url(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user_id: i64,
    url: Option<&str>,
) -> Result<User> {
    let url = url.map(check_ntfy_url).transpose()?;
    set_address(tx, now, actor, user_id, Address::NtfyUrl, url)
}

/// The longest absence one can set at once.
const MAX_AWAY_MS: Millis = 366 * crate::clock::DAY_MS;

/// When an absence ends, as typed: an RFC 3339 time, or a `YYYY-MM-DD` date meaning
/// until the end of that day (UTC).
pub fn parse_away_until(text: &str, now: Millis) -> Result<Millis> {
    let text = text.trim();
    let until = crate::clock::parse_rfc3339(text)
        .or_else(|| crate::clock::parse_date(text).map(|d| d + crate::clock::DAY_MS))
        .ok_or_else(|| {
            Error::validation(format!(
                "{text:?} is not a date: write YYYY-MM-DD (away until the end of that day, UTC) or an RFC 3339 time"
            ))
        })?;
    if until <= now {
        return Err(Error::validation(
            "the end of the absence must be in the future",
        ));
    }
    if until - now > MAX_AWAY_MS {
        return Err(Error::validation(
            "an absence can be set at most a year ahead",
        ));
    }
    Ok(until)
}

/// Marks a user away until `until` with a delegate who decides and is told of the
/// pauses routed to them meanwhile; `None` marks them back.
pub fn set_away(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user_id: i64,
    away: Option<(Millis, &str)>,
) -> Result<User> {
    let user = by_id(tx, user_id)?;
    let stored = match away {
        None => None,
        Some((until, delegate)) => {
            let delegate = by_email(tx, delegate)?;
            if delegate.id == user.id {
                return Err(Error::validation(
                    "name someone else as your delegate: they decide for you while you are away",
                ));
            }
            if until <= now || until - now > MAX_AWAY_MS {
                return Err(Error::validation(
                    "the end of the absence must be in the future, at most a year ahead",
                ));
            }
            Some((until, delegate))
        }
    };
    db::users::set_away(tx, user.id, stored.as_ref().map(|(u, d)| (*u, d.id)))?;
    audit::record(
        tx,
        now,
        actor,
        if stored.is_some() {
            "user.away"
        } else {
            "user.back"
        },
        None,
        match &stored {
            Some((until, d)) => {
                json!({ "email": user.email, "until": crate::clock::rfc3339(*until), "delegate": d.email })
            }
            None => json!({ "email": user.email }),
        },
    )?;
    Ok(User {
        away_until: stored.as_ref().map(|(u, _)| *u),
        delegate: stored.map(|(_, d)| d.email),
        ..user
    })
}

/// Removes a user by id (the web page's way; the CLI's goes by email).
pub fn remove_by_id(tx: &mut Tx, now: Millis, actor: &Actor, user_id: i64) -> Result<User> {
    let user = by_id(tx, user_id)?;
    remove(tx, now, actor, &user.email)
}
