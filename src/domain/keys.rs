//! API keys: agent keys create pauses and see their own; reviewer keys act for a user
//! and may list and decide every pause. A key is shown once; only its SHA-256 hash and
//! a short visible prefix are kept.

use serde::Serialize;
use serde_json::json;

use super::{audit, users, Actor, Error, KeyRef, Principal, Result};
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
pub use crate::model::key::{ApiKey, Kind};
use crate::secret;

pub const TOKEN_PREFIX: &str = "hitl_";
const TOKEN_RANDOM_LEN: usize = 40;
/// `hitl_` and the first 8 random characters: shown in lists, used to find the key.
const VISIBLE_LEN: usize = TOKEN_PREFIX.len() + 8;
const SECRET_PREFIX: &str = "whsec_";
const SECRET_BYTES: usize = 32;
/// "Last used" is written at most this often per key, so reads stay reads.
const TOUCH_EVERY_MS: Millis = 60_000;

/// What `create` hands back once: the key and, for an agent key, its webhook signing
/// secret (a reviewer key creates no pauses, so it sends no webhooks: `None`). The
/// field names are those of `ApiKey` (`hitl key list --json`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    pub id: String,
    pub name: String,
    pub key: String,
    pub webhook_secret: Option<String>,
    pub prefix: String,
    pub kind: Kind,
    pub user_email: Option<String>,
    pub webhook_url: Option<String>,
    pub monthly_limit: Option<i64>,
    pub owner_email: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: String,
    pub user_email: Option<String>,
    pub webhook_url: Option<String>,
    pub monthly_limit: Option<i64>,
    /// The person who runs an agent key (separation of duties: they may never decide
    /// its pauses).
    pub owner_email: Option<String>,
}

/// A key as the rules see it after authentication.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub monthly_limit: Option<i64>,
    /// True when "last used" is stale enough to be written again.
    pub needs_touch: bool,
}

pub fn validate_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::validation("the key name must not be empty"));
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::validation(
            "the key name must be at most 100 characters, without control characters",
        ));
    }
    Ok(name.to_string())
}

pub fn create(tx: &mut Tx, now: Millis, actor: &Actor, new: NewKey) -> Result<CreatedKey> {
    let name = validate_name(&new.name)?;
    let webhook_url = new
        .webhook_url
        .as_deref()
        .map(super::pauses::validate_webhook_url)
        .transpose()?;
    if let Some(limit) = new.monthly_limit {
        if limit < 1 {
            return Err(Error::validation("the monthly limit must be at least 1"));
        }
    }
    let owner_email = new
        .owner_email
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(users::normalize_email)
        .transpose()?;
    if owner_email.is_some() && new.user_email.is_some() {
        return Err(Error::validation(
            "an owner is the person who runs an agent key; a reviewer key has none",
        ));
    }
    if db::keys::active_id_by_name(tx, &name)?.is_some() {
        return Err(Error::Conflict(format!(
            "an active key is already named {name:?}; choose another name, or revoke that key first"
        )));
    }
    let (kind, user) = match new.user_email.as_deref() {
        None => (Kind::Agent, None),
        Some(email) => {
            let email = users::normalize_email(email)?;
            let user = db::users::by_email(tx, &email)?.ok_or_else(|| {
                Error::validation(format!("no user with email {email}; add the user first"))
            })?;
            if webhook_url.is_some() {
                return Err(Error::validation(
                    "a reviewer key creates no pauses, so it sends no webhooks: leave out the webhook URL",
                ));
            }
            if user.invite_pending {
                return Err(Error::validation(format!(
                    "{email} has not accepted the invitation yet; a key may act for them once they have set a password"
                )));
            }
            (Kind::Reviewer, Some(user))
        }
    };
    let id = format!("key_{}", secret::base62(12));
    let key = format!("{TOKEN_PREFIX}{}", secret::base62(TOKEN_RANDOM_LEN));
    let prefix = key[..VISIBLE_LEN].to_string();
    let webhook_secret = new_webhook_secret();
    db::keys::insert(
        tx,
        &db::keys::NewRow {
            id: &id,
            name: &name,
            prefix: &prefix,
            key_hash: &secret::sha256(key.as_bytes()),
            kind,
            user_id: user.as_ref().map(|u| u.id),
            webhook_url: webhook_url.as_deref(),
            webhook_secret: &webhook_secret,
            monthly_limit: new.monthly_limit,
            created_at: now,
            owner_email: owner_email.as_deref(),
        },
    )?;
    let user_email = user.map(|u| u.email);
    audit::record(
        tx,
        now,
        actor,
        "key.created",
        None,
        json!({ "id": id, "name": name, "kind": kind, "user": user_email,
                "webhookUrl": webhook_url, "monthlyLimit": new.monthly_limit,
                "owner": owner_email }),
    )?;
    Ok(CreatedKey {
        id,
        name,
        key,
        webhook_secret: (kind == Kind::Agent).then_some(webhook_secret),
        prefix,
        kind,
        user_email,
        webhook_url,
        monthly_limit: new.monthly_limit,
        owner_email,
    })
}

/// A valid key as found in the database: who it acts for, and when it was last used.
/// `crate::memory` keeps these, so that a request costs no key lookup.
#[derive(Debug, Clone)]
pub struct Valid {
    pub principal: Principal,
    pub monthly_limit: Option<i64>,
    pub last_used_at: Option<Millis>,
}

impl Valid {
    /// The key used at `now`: "last used" is due to be written again at most once a
    /// minute (`TOUCH_EVERY_MS`).
    pub fn use_at(&mut self, now: Millis) -> Authenticated {
        let needs_touch = self.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS);
        if needs_touch {
            self.last_used_at = Some(now);
        }
        Authenticated {
            principal: self.principal.clone(),
            monthly_limit: self.monthly_limit,
            needs_touch,
        }
    }
}

/// Whether a bearer token has the shape of a hitl key (it may still be unknown).
pub fn well_formed(token: &str) -> bool {
    token.is_ascii()
        && token.len() == TOKEN_PREFIX.len() + TOKEN_RANDOM_LEN
        && token.starts_with(TOKEN_PREFIX)
}

/// The SHA-256 of a well-formed bearer token; anything else is `Unauthorized`.
pub fn token_hash(token: &str) -> Result<Vec<u8>> {
    if !well_formed(token) {
        return Err(Error::Unauthorized);
    }
    Ok(secret::sha256(token.as_bytes()))
}

/// The key behind a bearer token whose hash is `hash`, from the database. Unknown,
/// malformed and revoked keys are all `Unauthorized`, and so is a reviewer key whose
/// user is gone; hashes are compared in constant time.
pub fn lookup(conn: &rusqlite::Connection, token: &str, hash: &[u8]) -> Result<Valid> {
    let prefix = token.get(..VISIBLE_LEN).ok_or(Error::Unauthorized)?;
    let found = db::keys::by_prefix(conn, prefix)?
        .into_iter()
        .find(|c| secret::constant_time_eq(&c.key_hash, hash))
        .ok_or(Error::Unauthorized)?;
    if found.revoked {
        return Err(Error::Unauthorized);
    }
    let key = KeyRef {
        id: found.id,
        name: found.name,
    };
    let principal = match (found.kind, found.user) {
        (Kind::Agent, _) => Principal::Agent(key),
        (Kind::Reviewer, Some(user)) => Principal::ReviewerKey(key, user),
        // A reviewer key whose user is gone acts for nobody.
        (Kind::Reviewer, None) => return Err(Error::Unauthorized),
    };
    Ok(Valid {
        principal,
        monthly_limit: found.monthly_limit,
        last_used_at: found.last_used_at,
    })
}

/// The `whsec_` secret that signs a key's webhooks.
pub fn webhook_secret(conn: &rusqlite::Connection, key_id: &str) -> Result<Option<String>> {
    db::keys::webhook_secret(conn, key_id)
}

/// Records that a key was used (at most once a minute per key; see `TOUCH_EVERY_MS`).
pub fn touch(tx: &mut Tx, key_id: &str, now: Millis) -> Result<()> {
    db::keys::touch(tx, key_id, now)
}

pub fn list(conn: &rusqlite::Connection, now: Millis) -> Result<Vec<ApiKey>> {
    db::keys::list(conn, &clock::month_of(now))
}

/// Changes a live key's webhook URL and monthly limit (`None` clears them).
pub fn update(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    id: &str,
    webhook_url: Option<&str>,
    monthly_limit: Option<i64>,
) -> Result<ApiKey> {
    let key = db::keys::by_id(tx, id, &clock::month_of(now))?
        .ok_or_else(|| Error::NotFound(format!("no API key with id {id}")))?;
    if key.revoked_at.is_some() {
        return Err(Error::Conflict(format!("key {id} is revoked")));
    }
    let webhook_url = webhook_url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(super::pauses::validate_webhook_url)
        .transpose()?;
    if monthly_limit.is_some_and(|l| l < 1) {
        return Err(Error::validation("the monthly limit must be at least 1"));
    }
    db::keys::update(tx, id, webhook_url.as_deref(), monthly_limit)?;
    audit::record(
        tx,
        now,
        actor,
        "key.updated",
        None,
        json!({ "id": id, "name": key.name, "webhookUrl": webhook_url, "monthlyLimit": monthly_limit }),
    )?;
    Ok(ApiKey {
        webhook_url,
        monthly_limit,
        ..key
    })
}

/// A key by its id, or else by the name of an active key (names of active keys are
/// unique; a revoked key is found by its id only).
pub fn find(conn: &rusqlite::Connection, now: Millis, name_or_id: &str) -> Result<ApiKey> {
    let wanted = name_or_id.trim();
    let month = clock::month_of(now);
    if let Some(key) = db::keys::by_id(conn, wanted, &month)? {
        return Ok(key);
    }
    if let Some(id) = db::keys::active_id_by_name(conn, wanted)? {
        if let Some(key) = db::keys::by_id(conn, &id, &month)? {
            return Ok(key);
        }
    }
    Err(Error::NotFound(format!(
        "no API key with id or name {wanted:?} (hitl key list shows them; a revoked key goes by its id)"
    )))
}

/// Revokes a key, named by its id or the name of an active key.
pub fn revoke(tx: &mut Tx, now: Millis, actor: &Actor, name_or_id: &str) -> Result<ApiKey> {
    let key = find(tx, now, name_or_id)?;
    let id = key.id.as_str();
    if key.revoked_at.is_some() {
        return Err(Error::Conflict(format!("key {id} is already revoked")));
    }
    db::keys::revoke(tx, id, now)?;
    audit::record(
        tx,
        now,
        actor,
        "key.revoked",
        None,
        json!({ "id": id, "name": key.name }),
    )?;
    Ok(ApiKey {
        revoked_at: Some(now),
        ..key
    })
}

fn new_webhook_secret() -> String {
    format!(
        "{SECRET_PREFIX}{}",
        secret::b64(&secret::bytes(SECRET_BYTES))
    )
}

/// A new webhook signing secret for an active agent key (named by id or name); the
/// old one signs nothing from now on, retries of earlier webhooks included.
pub fn rotate_secret(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    name_or_id: &str,
) -> Result<(ApiKey, String)> {
    let key = find(tx, now, name_or_id)?;
    if key.revoked_at.is_some() {
        return Err(Error::Conflict(format!("key {} is revoked", key.id)));
    }
    if key.kind == Kind::Reviewer {
        return Err(Error::validation(format!(
            "{} is a reviewer key: it creates no pauses, so it has no webhook secret",
            key.name
        )));
    }
    let secret = new_webhook_secret();
    db::keys::set_webhook_secret(tx, &key.id, &secret)?;
    audit::record(
        tx,
        now,
        actor,
        "key.secret_rotated",
        None,
        json!({ "id": key.id, "name": key.name }),
    )?;
    Ok((key, secret))
}
