//! Giving a pending pause more time: its deadline moves, and the expiry timer hears of
//! the new one.

use serde_json::json;

use super::decide::{pending_for_change, refuse_unrouted};
use super::{Pause, MAX_TIMEOUT_SECS};
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
use crate::domain::{audit, Error, Principal, Result, Status};
use crate::model::events::Event;

/// Adds `seconds` (1 to 30 days) to a pending pause's deadline, or sets one that far
/// from now if it had none. A reviewer (key or signed-in user) only, one it is routed to
/// if a policy routed it; 409 once decided.
pub fn extend(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    watch_id: &str,
    seconds: i64,
) -> Result<Pause> {
    let Some(reviewer) = principal.reviewer() else {
        return Err(Error::Forbidden(
            "agent keys cannot extend pauses; use a reviewer key or the web page".into(),
        ));
    };
    if !(1..=MAX_TIMEOUT_SECS).contains(&seconds) {
        return Err(Error::validation(format!(
            "seconds must be from 1 to {MAX_TIMEOUT_SECS} (30 days)"
        )));
    }
    let pause = pending_for_change(tx, now, watch_id, |_| true)?;
    refuse_unrouted(tx, now, &pause, reviewer)?;
    let from = pause.expires_at;
    let to = from.unwrap_or(now) + seconds * 1000;
    if !db::pauses::set_expiry(tx, pause.id, to)? {
        let current = db::pauses::by_id(tx, pause.id)?.map_or(Status::Expired, |p| p.status);
        return Err(Error::AlreadyResolved(current));
    }
    audit::record(
        tx,
        now,
        &principal.actor(),
        "pause.extended",
        Some(&pause.watch_id),
        json!({
            "by": reviewer.email,
            "from": from.map(clock::rfc3339),
            "to": clock::rfc3339(to),
        }),
    )?;
    tx.emit(Event::PauseExtended {
        watch_id: pause.watch_id.clone(),
        expires_at: to,
    });
    Ok(Pause {
        expires_at: Some(to),
        ..pause
    })
}
