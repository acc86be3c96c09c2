//! A standing approval: while it is active, a new pause of its key whose action
//! matches it is approved at creation, without asking anyone.

use serde::Serialize;

use super::Risk;
use crate::clock::Millis;

/// One standing approval, as stored and as `GET /api/rules` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: i64,
    /// The agent key whose pauses it approves.
    #[serde(skip)]
    pub key_id: String,
    #[schema(example = "deploy-bot")]
    pub key_name: String,
    /// The exact action text, or with `isGlob` a pattern (`*` any text, `?` one
    /// character, `[abc]` one of them).
    #[schema(example = "Deploy v2.4.1 to staging")]
    pub action: String,
    pub is_glob: bool,
    /// The email of the reviewer whose approval made it.
    pub created_by: String,
    #[serde(serialize_with = "super::ser_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    /// The pause whose approval made it.
    pub watch_id: Option<String>,
    /// When it stops applying; null: until revoked.
    #[serde(serialize_with = "super::ser_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Millis>,
    /// How many pauses it may approve; null: no limit.
    #[schema(minimum = 1)]
    pub max_uses: Option<i64>,
    /// How many pauses it has approved.
    pub uses: i64,
    #[serde(serialize_with = "super::ser_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Millis>,
    #[serde(serialize_with = "super::ser_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Millis>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// An exact rule allows the action only with the context it was approved with:
    /// the SHA-256 (hex) of that context as stored, or of `null`. `None` for a pattern.
    #[serde(skip)]
    pub context_sha256: Option<String>,
    /// The highest risk it allows: the rating of the pause it was made on (null: only
    /// pauses the agent did not rate).
    #[schema(value_type = Option<String>, example = "low")]
    pub risk: Option<Risk>,
    /// Not revoked, not expired, uses left: it applies to the next matching pause.
    pub active: bool,
}

impl Rule {
    /// Whether it still applies at `now`.
    pub fn active_at(&self, now: Millis) -> bool {
        self.revoked_at.is_none()
            && self.expires_at.is_none_or(|at| at > now)
            && self.max_uses.is_none_or(|max| self.uses < max)
    }

    /// Whether it approves a pause with this action, context digest (see
    /// `context_sha256`) and risk: the action is the same (or matches the pattern), an
    /// exact rule's context is the same, and the risk is no higher than the one it was
    /// made for.
    pub fn matches(&self, action: &str, context_sha256: &str, risk: Option<Risk>) -> bool {
        let action_matches = if self.is_glob {
            glob::Pattern::new(&self.action).is_ok_and(|p| p.matches(action))
        } else {
            self.action == action
        };
        let context_matches = self
            .context_sha256
            .as_deref()
            .is_none_or(|pinned| pinned == context_sha256);
        action_matches && context_matches && risk <= self.risk
    }

    /// What `resolvedBy` says of a pause it approved.
    pub fn resolver(&self) -> String {
        format!("rule:{}", self.id)
    }
}
