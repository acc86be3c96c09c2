//! Groups: named sets of users, managed by admins (`hitl group ...`). Stored and
//! listed only; routing pauses to groups comes later.

use serde::Serialize;
use serde_json::json;

use super::{audit, users, Actor, Error, Result};
use crate::clock::Millis;
use crate::db::{self, Tx};

/// A group as `hitl group list --json` prints it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub name: String,
    #[serde(serialize_with = "crate::model::ser_time")]
    pub created_at: Millis,
    /// The members' emails, in order.
    pub members: Vec<String>,
}

/// A group name: 1 to 64 characters of letters, digits, `-`, `_` and `.`.
pub fn validate_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > 64
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::validation(
            "a group name is 1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    Ok(name.to_string())
}

fn existing(tx: &Tx, name: &str) -> Result<(String, i64)> {
    let name = validate_name(name)?;
    let id = db::groups::id_by_name(tx, &name)?
        .ok_or_else(|| Error::NotFound(format!("no group named {name:?}")))?;
    Ok((name, id))
}

pub fn create(tx: &mut Tx, now: Millis, actor: &Actor, name: &str) -> Result<String> {
    let name = validate_name(name)?;
    db::groups::insert(tx, &name, now)?;
    audit::record(
        tx,
        now,
        actor,
        "group.created",
        None,
        json!({ "name": name }),
    )?;
    Ok(name)
}

/// Adds users (by email) to a group: all of them, or none if one is unknown. Returns
/// the emails that were not members before.
pub fn add(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    name: &str,
    emails: &[String],
) -> Result<Vec<String>> {
    if emails.is_empty() {
        return Err(Error::validation("name at least one user to add"));
    }
    let (name, id) = existing(tx, name)?;
    let mut added = Vec::new();
    for email in emails {
        let user = users::by_email(tx, email)?;
        if db::groups::add_member(tx, id, user.id)? {
            added.push(user.email);
        }
    }
    audit::record(
        tx,
        now,
        actor,
        "group.members_added",
        None,
        json!({ "name": name, "added": added }),
    )?;
    Ok(added)
}

/// Removes one user from a group; not a member is a 404, nothing changed.
pub fn remove(tx: &mut Tx, now: Millis, actor: &Actor, name: &str, email: &str) -> Result<()> {
    let (name, id) = existing(tx, name)?;
    let user = users::by_email(tx, email)?;
    if !db::groups::remove_member(tx, id, user.id)? {
        return Err(Error::NotFound(format!(
            "{} is not in the group {name:?}",
            user.email
        )));
    }
    audit::record(
        tx,
        now,
        actor,
        "group.member_removed",
        None,
        json!({ "name": name, "removed": user.email }),
    )?;
    Ok(())
}

pub fn list(conn: &rusqlite::Connection) -> Result<Vec<Group>> {
    Ok(db::groups::list(conn)?
        .into_iter()
        .map(|(name, created_at, members)| Group {
            name,
            created_at,
            members,
        })
        .collect())
}

/// What [`set_memberships`] changed: the names of the groups the user joined and left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Makes a user a member of exactly the existing groups that `names` names (the groups
/// claim of an OpenID Connect sign-in): added to each named group, removed from every
/// other group. Names that are not groups are ignored; no group is ever created. Each
/// change is audited like `add` and `remove` do, with `"via": "oidc"`; a user already
/// in the right groups changes nothing and writes no audit entry.
pub fn set_memberships(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    user_id: i64,
    names: &[String],
) -> Result<MembershipChanges> {
    let user = db::users::by_id(tx, user_id)?
        .ok_or_else(|| Error::NotFound(format!("no user with id {user_id}")))?;
    let wanted: std::collections::HashSet<&str> = names.iter().map(|n| n.trim()).collect();
    let mut changes = MembershipChanges::default();
    for (name, _, _) in db::groups::list(tx)? {
        let Some(id) = db::groups::id_by_name(tx, &name)? else {
            continue;
        };
        if wanted.contains(name.as_str()) {
            if db::groups::add_member(tx, id, user.id)? {
                let details = json!({ "name": name, "added": [user.email], "via": "oidc" });
                audit::record(tx, now, actor, "group.members_added", None, details)?;
                changes.added.push(name);
            }
        } else if db::groups::remove_member(tx, id, user.id)? {
            let details = json!({ "name": name, "removed": user.email, "via": "oidc" });
            audit::record(tx, now, actor, "group.member_removed", None, details)?;
            changes.removed.push(name);
        }
    }
    Ok(changes)
}
