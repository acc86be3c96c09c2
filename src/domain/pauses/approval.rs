//! What an approval may carry besides yes: an edited context, the form filled in, and a
//! standing approval of the same for a while (`Verdict`), and how the first two are
//! checked and kept.

use serde_json::json;

use super::decide::Decision;
use super::Pause;
use crate::clock::Millis;
use crate::db::{self, Tx};
use crate::domain::forms;
use crate::domain::rules::Remember;
use crate::domain::{audit, Actor, Error, Result};
use crate::model::events::Event;

/// What a reviewer decides: approve or reject, with an optional comment and, for a
/// rejection, one of the pause's reasons to reject; for an approval, perhaps an edited
/// context, the form filled in, and a standing approval of the same for a while.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub decision: Decision,
    pub comment: Option<String>,
    pub option: Option<String>,
    /// An approval with changes: the context as the reviewer edited it (checked with
    /// [`super::edited_context`]).
    pub context: Option<String>,
    /// The reviewer's response to the pause's form (`responseSchema`): checked
    /// against it on approval; `None` is an empty form. A rejection carries none.
    pub response: Option<serde_json::Value>,
    /// Allow the same again for a while: a rule made with the approval.
    pub remember: Option<Remember>,
    /// The `contextSha256` (as in a receipt: RFC 8785) of the context the reviewer
    /// read; if it changed since (another reviewer's edit), the decision is refused.
    pub seen: Option<String>,
}

impl Verdict {
    pub fn new(decision: Decision, comment: Option<String>, option: Option<String>) -> Verdict {
        Verdict {
            decision,
            comment,
            option,
            context: None,
            response: None,
            remember: None,
            seen: None,
        }
    }

    /// The same verdict, making a standing approval as it approves.
    pub fn remembering(self, remember: Option<Remember>) -> Verdict {
        Verdict { remember, ..self }
    }
}

/// The response an approval stores: checked against the pause's form, if it has one.
/// A rejection, or a pause without a form, carries no response.
pub(super) fn check_response(
    pause: &Pause,
    decision: Decision,
    response: Option<&serde_json::Value>,
) -> Result<Option<String>> {
    match (&pause.response_schema, decision, response) {
        (_, Decision::Rejected, Some(_)) => Err(Error::validation(
            "a response goes with an approval: a rejection carries none",
        )),
        (_, Decision::Rejected, None) => Ok(None),
        (None, _, Some(_)) => Err(Error::validation(
            "this pause has no form (no responseSchema): send no response",
        )),
        (None, _, None) => Ok(None),
        (Some(schema), Decision::Approved, response) => {
            forms::check_response(schema, response, "response").map(Some)
        }
    }
}

/// An approval with changes: the edited context is kept beside the agent's (which
/// never changes), the change is audited as an RFC 6902 JSON Patch, and under a quorum
/// the approvals given so far are dropped: approvals are for content. The same content
/// as now is no edit.
pub(super) fn apply_edit(
    tx: &mut Tx,
    now: Millis,
    mut pause: Pause,
    edited: String,
    by: &str,
    actor: &Actor,
) -> Result<Pause> {
    let current = pause.effective_context().map(str::to_string);
    if current.as_deref() == Some(edited.as_str()) {
        return Ok(pause);
    }
    let parse = |text: Option<&str>| -> serde_json::Value {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let patch = json_patch::diff(&parse(current.as_deref()), &parse(Some(&edited)));
    // Back to exactly what the agent sent: no longer an edit.
    let stored = (pause.context.as_deref() != Some(edited.as_str())).then_some(edited);
    db::pauses::set_approved_context(tx, pause.id, stored.as_deref())?;
    let dropped = if pause.approvals.is_empty() {
        0
    } else {
        db::pauses::clear_votes(tx, pause.id)?
    };
    audit::record(
        tx,
        now,
        actor,
        "pause.edited",
        Some(&pause.watch_id),
        json!({ "by": by, "patch": patch, "approvalsRestarted": dropped }),
    )?;
    pause.approved_context = stored;
    pause.approvals.clear();
    tx.emit(Event::PauseUpdated {
        watch_id: pause.watch_id.clone(),
    });
    Ok(pause)
}

/// Adds a response (checked JSON text) to an audit entry's details.
pub(super) fn with_response(details: &mut serde_json::Value, response: Option<&str>) {
    let parsed = response.and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok());
    if let (Some(map), Some(parsed)) = (details.as_object_mut(), parsed) {
        map.insert("response".into(), parsed);
    }
}

/// The review page sends the Edit box's text with every button: an approval that is not
/// "with these changes" must not leave a changed text behind unnoticed (the reviewer
/// would approve what they meant to change). The same JSON as the context to approve,
/// however laid out, is no change.
pub fn check_edit_not_left(conn: &rusqlite::Connection, watch_id: &str, typed: &str) -> Result<()> {
    let Some(pause) = db::pauses::by_watch_id(conn, watch_id)? else {
        return Ok(());
    };
    let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
    let current = pause.effective_context().and_then(parse);
    if current.is_some() && parse(typed) == current {
        return Ok(());
    }
    Err(Error::validation(
        "you changed the context in the Edit box: approve with \"Approve with these changes\", or undo the change",
    ))
}

/// The decision is for the content the reviewer read: when they say which (`seen`),
/// a context changed since by another reviewer's edit refuses it (409), so that nobody
/// approves what they have not seen.
pub(super) fn check_seen(pause: &Pause, seen: Option<&str>) -> Result<()> {
    let Some(seen) = seen else {
        return Ok(());
    };
    let now = crate::receipt::context_sha256(pause.effective_context()).ok();
    if now.as_deref() == Some(seen.trim()) {
        return Ok(());
    }
    Err(Error::Conflict(
        "the context changed since you read it (a reviewer edited it): read it again before deciding"
            .into(),
    ))
}
