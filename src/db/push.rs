//! Web Push subscriptions: one per browser a reviewer turned notifications on in.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Millis;
use crate::model::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: i64,
    pub user_id: i64,
    pub endpoint: String,
    /// base64url: the browser's P-256 public key and its auth secret.
    pub p256dh: String,
    pub auth: String,
}

/// Adds a subscription, or gives an existing endpoint to `user_id` with new keys (a
/// browser that subscribes again, perhaps for someone else signed in now).
pub fn upsert(
    conn: &Connection,
    user_id: i64,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    now: Millis,
) -> Result<i64> {
    Ok(conn.query_row(
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (endpoint) DO UPDATE SET user_id = ?1, p256dh = ?3, auth = ?4, created_at = ?5
         RETURNING id",
        params![user_id, endpoint, p256dh, auth, now],
        |r| r.get(0),
    )?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Subscription>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, user_id, endpoint, p256dh, auth FROM push_subscriptions WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(Subscription {
                id: r.get(0)?,
                user_id: r.get(1)?,
                endpoint: r.get(2)?,
                p256dh: r.get(3)?,
                auth: r.get(4)?,
            })
        })
        .optional()?)
}

pub fn ids_of_user(conn: &Connection, user_id: i64) -> Result<Vec<i64>> {
    let ids = conn
        .prepare_cached("SELECT id FROM push_subscriptions WHERE user_id = ?1 ORDER BY id")?
        .query_map([user_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Removes a subscription: the person turned it off (only their own), or the push
/// service said it is gone (404 or 410).
pub fn delete(conn: &Connection, id: i64, user_id: Option<i64>) -> Result<bool> {
    let n = conn.execute(
        "DELETE FROM push_subscriptions WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)",
        params![id, user_id],
    )?;
    Ok(n > 0)
}

/// Removes every subscription of a person (they turned push off everywhere).
pub fn delete_for_user(conn: &Connection, user_id: i64) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM push_subscriptions WHERE user_id = ?1",
        [user_id],
    )?)
}
