//! Retention: decided pauses older than `--retention` (or `hitl purge --before`) lose
//! their content (the context, the approved context, the summary, an answer, a form's
//! response, and the webhook bodies that carried them) and keep what was asked, what
//! was decided, by whom and when, the digests their receipt signs, and the audit log.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{audit, Actor, Result};
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
use crate::model::events::Event;
use crate::model::pause::Pause;
use crate::receipt;

/// Pauses purged per transaction: the writer is never held long.
pub const BATCH: u32 = 500;

/// What a purged pause keeps in place of its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digests {
    /// SHA-256 of the canonical context that was decided (the approved one if edited);
    /// none if it had no canonical form.
    pub context_sha256: Option<String>,
    pub response_sha256: Option<String>,
}

impl Digests {
    pub fn of(p: &Pause) -> Digests {
        Digests {
            context_sha256: receipt::context_sha256(p.effective_context()).ok(),
            response_sha256: p
                .response
                .as_deref()
                .and_then(|r| receipt::context_sha256(Some(r)).ok()),
        }
    }

    /// The digests kept by a purge, if `p` was purged.
    pub fn kept(p: &Pause) -> Option<Digests> {
        p.purged_at?;
        p.purged_digests
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
    }
}

/// Purges up to `limit` pauses resolved before `before`: how many it purged.
pub fn purge_batch(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    before: Millis,
    limit: u32,
) -> Result<usize> {
    let pauses = db::pauses::unpurged_before(tx, before, limit)?;
    for p in &pauses {
        let digests = serde_json::to_string(&Digests::of(p)).map_err(super::Error::internal)?;
        db::pauses::purge(tx, p.id, now, &digests)?;
        tx.emit(Event::PauseUpdated {
            watch_id: p.watch_id.clone(),
        });
    }
    if !pauses.is_empty() {
        audit::record(
            tx,
            now,
            actor,
            "pauses.purged",
            None,
            json!({ "count": pauses.len(), "resolvedBefore": clock::rfc3339(before) }),
        )?;
    }
    Ok(pauses.len())
}

/// Purges every pause resolved before `before`, a batch per transaction, then gives
/// the freed pages back (incremental vacuum, when the database has it on): how many.
pub fn purge_before(writer: &crate::db::Writer, before: Millis) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = writer
            .run_blocking(move |tx| purge_batch(tx, clock::now(), &Actor::System, before, BATCH))?;
        total += n;
        if n < BATCH as usize {
            break;
        }
    }
    if total > 0 {
        writer.run_blocking(|tx| db::give_back_space(tx).map_err(super::Error::from))?;
    }
    Ok(total)
}
