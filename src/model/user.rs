//! A person who signs in to the web page.

use serde::Serialize;

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
}

impl User {
    pub fn reviewer(&self) -> Reviewer {
        Reviewer {
            user_id: self.id,
            email: self.email.clone(),
            role: self.role,
        }
    }
}
