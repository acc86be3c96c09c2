//! A person who signs in to the web page.

use serde::Serialize;

use super::reach::Channel;
use super::{Reviewer, Role};
use crate::clock::Millis;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub notify_email: bool,
    #[serde(serialize_with = "super::ser_time")]
    pub created_at: Millis,
    /// Invited, and has not set a password yet (cannot sign in).
    pub invite_pending: bool,
    /// Away until then (while it is in the future), with pauses routed to them going to
    /// their delegate.
    #[serde(serialize_with = "super::ser_opt_time")]
    pub away_until: Option<Millis>,
    /// The delegate's email.
    pub delegate: Option<String>,
    /// The Telegram chat pauses are sent to, once linked.
    pub telegram_chat: Option<String>,
    /// The ntfy topic URL pauses are published to.
    pub ntfy_url: Option<String>,
    /// The channels they keep on (set up or not; mail is `notify_email`).
    pub notify: Vec<Channel>,
    /// How many browsers have Web Push on.
    pub push_devices: i64,
}

impl User {
    /// Whether they keep `channel` on (set up or not).
    pub fn wants(&self, channel: Channel) -> bool {
        self.notify.contains(&channel)
    }

    /// Away now, with someone standing in.
    pub fn away_at(&self, now: Millis) -> Option<(Millis, &str)> {
        match (self.away_until, &self.delegate) {
            (Some(until), Some(delegate)) if until > now => Some((until, delegate)),
            _ => None,
        }
    }

    pub fn reviewer(&self) -> Reviewer {
        Reviewer {
            user_id: self.id,
            email: self.email.clone(),
            role: self.role,
        }
    }
}
