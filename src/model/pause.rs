//! A pause: one request for a human decision, and how lists of them are asked for.

use super::{Kind, OnTimeout, Risk, Status};
use crate::clock::Millis;

/// One request for a human decision.
#[derive(Debug, Clone)]
pub struct Pause {
    pub id: i64,
    pub watch_id: String,
    pub key_id: String,
    pub key_name: String,
    pub kind: Kind,
    pub status: Status,
    /// What to do, or for a question the question.
    pub action: String,
    /// A question's choices, or a decision's reasons to reject, if it offers any.
    pub options: Option<Vec<String>>,
    /// The context as JSON text, if any was given.
    pub context: Option<String>,
    pub tags: Vec<String>,
    /// The agent's own rating of the action's risk, if it gave one.
    pub risk: Option<Risk>,
    /// What will happen if approved, in the agent's words (plain text), if given.
    pub summary: Option<String>,
    pub webhook_url: Option<String>,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    /// What the timeout does when it passes.
    pub on_timeout: OnTimeout,
    pub resolved_at: Option<Millis>,
    pub resolved_by: Option<String>,
    pub comment: Option<String>,
    /// A question's answer once answered; for a decision rejected with one of its
    /// options, that option.
    pub answer: Option<String>,
    /// How many distinct approvals approve it (1 to 10).
    pub required_approvals: u32,
    /// The approvals given so far, oldest first (kept once it is approved).
    pub approvals: Vec<Approval>,
    /// Where a routing policy sent it; `None`: any approver decides.
    pub routing: Option<Routing>,
    /// The context as a reviewer edited and approved it (JSON text); `None`: not
    /// edited, the agent's `context` is what was approved.
    pub approved_context: Option<String>,
    /// The JSON Schema (text) a reviewer's response must meet: a form, if any.
    pub response_schema: Option<String>,
    /// The reviewer's response to the form (JSON text), once given.
    pub response: Option<String>,
    /// When retention removed its content (context, approved context, summary,
    /// answer, response).
    pub purged_at: Option<Millis>,
    /// JSON: the digests its receipt signs, kept from before the purge.
    pub purged_digests: Option<String>,
}

/// What the routing policy that matched a pause decided, copied when the pause was
/// created: a later change of the policy never changes a pause under review.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// The policy's name.
    pub policy: String,
    /// The groups whose members (or their delegates) may decide; escalation adds one.
    pub reviewers: Vec<String>,
    /// How often reviewers who have not voted are reminded, and when next.
    pub remind_every: Option<Millis>,
    pub remind_at: Option<Millis>,
    /// When `escalate_to` joins the reviewers (cleared once it has).
    pub escalate_at: Option<Millis>,
    pub escalate_to: Option<String>,
}

/// One reviewer's approval of a pause that needs more than one. Read from the
/// database with `at` in milliseconds; written (API, webhook) with `at` in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Approval {
    /// The approving reviewer's email.
    pub by: String,
    #[serde(serialize_with = "super::ser_time")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Millis,
    pub comment: Option<String>,
}

/// Who resolves a pause when its timeout passes.
pub const SYSTEM: &str = "system";

impl Pause {
    /// The timeout ended it: expired, or approved or rejected by `system` (a user's
    /// email has an `@`; a cancel is by a key's name but is never one of these).
    pub fn timed_out(&self) -> bool {
        match self.status {
            Status::Expired => true,
            Status::Approved | Status::Rejected => self.resolved_by.as_deref() == Some(SYSTEM),
            _ => false,
        }
    }

    /// The earliest time a timer acts on it while pending: its deadline, its next
    /// reminder or its escalation.
    pub fn next_timer(&self) -> Option<Millis> {
        let routing = self.routing.as_ref();
        [
            self.expires_at,
            routing.and_then(|r| r.remind_at),
            routing.and_then(|r| r.escalate_at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The context that was approved: the reviewer's edit, if they made one, else the
    /// agent's (JSON text; `None` when there is none).
    pub fn effective_context(&self) -> Option<&str> {
        match self.edited() {
            true => self.approved_context.as_deref(),
            false => self.context.as_deref(),
        }
    }

    /// A reviewer changed the context before approving, and the pause is pending (the
    /// change waits for the rest of a quorum) or approved. A pause that ended another
    /// way was not approved with the change: it is the agent's context that counts.
    pub fn edited(&self) -> bool {
        self.approved_context.is_some() && matches!(self.status, Status::Pending | Status::Approved)
    }

    /// The edited context, when [`Pause::edited`].
    pub fn approved_context(&self) -> Option<&str> {
        self.approved_context.as_deref().filter(|_| self.edited())
    }

    /// A question's answer (the `answer` column of a question).
    pub fn question_answer(&self) -> Option<&str> {
        self.answer
            .as_deref()
            .filter(|_| self.kind == Kind::Question)
    }

    /// The reason a rejected decision picked (the `answer` column of a decision).
    pub fn reject_option(&self) -> Option<&str> {
        self.answer
            .as_deref()
            .filter(|_| self.kind == Kind::Decision)
    }
}

#[cfg(test)]
impl Pause {
    /// A pending pause for unit tests.
    pub fn example(watch_id: &str, action: &str) -> Pause {
        Pause {
            id: 1,
            watch_id: watch_id.into(),
            key_id: "key_x".into(),
            key_name: "deploy-bot".into(),
            kind: Kind::Decision,
            status: Status::Pending,
            action: action.into(),
            options: None,
            context: None,
            tags: vec![],
            risk: None,
            summary: None,
            webhook_url: None,
            created_at: 0,
            expires_at: None,
            on_timeout: OnTimeout::Expire,
            resolved_at: None,
            resolved_by: None,
            comment: None,
            answer: None,
            required_approvals: 1,
            approvals: vec![],
            routing: None,
            approved_context: None,
            response_schema: None,
            response: None,
            purged_at: None,
            purged_digests: None,
        }
    }
}

/// Filters of `GET /api/pause` and of the history page. All given filters apply.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Any of these statuses (none: all).
    pub statuses: Vec<Status>,
    pub tag: Option<String>,
    pub key_id: Option<String>,
    /// Created at or after this time.
    pub created_from: Option<Millis>,
    /// Created before this time.
    pub created_before: Option<Millis>,
    /// Text the action contains (case-insensitive for ASCII).
    pub text: Option<String>,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

/// Where a page starts: just older, or just newer, than a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Before(i64),
    After(i64),
}
