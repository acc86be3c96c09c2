//! Users: the people who sign in to the web page and decide.

use serde::Serialize;
use serde_json::json;

use super::{audit, password, Actor, Error, Result, Role};
use crate::clock::Millis;
use crate::db::{self, Tx};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub notify_email: bool,
    #[serde(serialize_with = "crate::domain::pauses::ser_time")]
    pub created_at: Millis,
}

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
    pw: &str,
) -> Result<User> {
    let email = normalize_email(email)?;
    password::check_policy(pw).map_err(Error::Validation)?;
    if db::users::by_email(tx, &email)?.is_some() {
        return Err(Error::Conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let hash = password::hash(pw);
    let id = db::users::insert(tx, &email, role, &hash, now)?;
    audit(
        tx,
        now,
        actor,
        "user.added",
        None,
        json!({ "email": email, "role": role }),
    )?;
    Ok(User {
        id,
        email,
        role,
        notify_email: true,
        created_at: now,
    })
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
    if user.role == Role::Admin && db::users::count_admins(tx)? <= 1 {
        return Err(Error::Conflict(format!(
            "{email} is the last admin; add another admin before removing this one"
        )));
    }
    let revoked = db::keys::revoke_for_user(tx, user.id, now)?;
    db::users::delete(tx, user.id)?;
    audit(
        tx,
        now,
        actor,
        "user.removed",
        None,
        json!({ "email": email, "revokedKeys": revoked }),
    )?;
    Ok(user)
}
