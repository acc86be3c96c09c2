//! The rules of hitl: pauses, decisions, keys, users and the audit trail. Every path
//! that changes state (API, web page, CLI, mail links) calls these functions; the rules
//! are never re-checked elsewhere. No actix, no maud and no SQL text lives here.

pub mod audit;
pub mod context;
pub mod keys;
pub mod links;
pub mod outbox;
pub mod password;
pub mod pauses;
pub mod sessions;
pub mod setup;
pub mod throttle;
pub mod users;

#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;

/// Everything that can go wrong in a rule. The HTTP layer maps each variant to one
/// status and one stable error code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The request body did not arrive in time.
    #[error("{0}")]
    BodyTimeout(String),
    #[error("missing, unknown or revoked API key")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("this pause is already {0}")]
    AlreadyResolved(Status),
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyConflict,
    #[error("{0}")]
    Conflict(String),
    #[error("this key's monthly limit of {limit} pauses is reached")]
    QuotaExceeded { limit: i64, retry_after_secs: u64 },
    #[error("too many requests with this key (the limit is {per_minute} a minute); try again in {retry_after_secs}s")]
    RateLimited {
        per_minute: u32,
        retry_after_secs: u64,
    },
    #[error("internal error")]
    Internal(String),
}

impl Error {
    pub fn internal(detail: impl fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Error::Validation(message.into())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Internal(format!("database: {e}"))
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::Internal(format!("database pool: {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The life of a pause: `pending`, then exactly one terminal status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Expired,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Approved,
        Status::Rejected,
        Status::Expired,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        self != Status::Pending
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's role in the web page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Approver,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
        }
    }
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "approver" => Some(Role::Approver),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person who may decide: a signed-in user, or the user behind a reviewer key.
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
}

/// The identifying part of an API key, as the rules need it.
#[derive(Debug, Clone)]
pub struct KeyRef {
    pub id: String,
    pub name: String,
}

/// Who is calling: an agent key, a reviewer key (on behalf of its user), or a user
/// signed in to the web page.
#[derive(Debug, Clone)]
pub enum Principal {
    Agent(KeyRef),
    ReviewerKey(KeyRef, Reviewer),
    User(Reviewer),
}

impl Principal {
    /// The reviewer this principal decides as, if it may decide at all.
    pub fn reviewer(&self) -> Option<&Reviewer> {
        match self {
            Principal::Agent(_) => None,
            Principal::ReviewerKey(_, r) | Principal::User(r) => Some(r),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.reviewer().is_some_and(|r| r.role == Role::Admin)
    }

    /// The agent key whose pauses this principal is limited to; `None` sees all.
    pub fn scope(&self) -> Option<&str> {
        match self {
            Principal::Agent(k) => Some(&k.id),
            _ => None,
        }
    }

    /// The API key behind this principal, if it is one.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Principal::Agent(k) | Principal::ReviewerKey(k, _) => Some(&k.id),
            Principal::User(_) => None,
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Principal::Agent(k) | Principal::ReviewerKey(k, _) => Actor::Key(k.clone()),
            Principal::User(r) => Actor::User(r.email.clone()),
        }
    }
}

/// Who did something, as the audit log records it.
#[derive(Debug, Clone)]
pub enum Actor {
    Key(KeyRef),
    User(String),
    Cli,
    System,
    /// Someone not signed in (a failed sign-in).
    Anonymous,
}

impl Actor {
    /// The stable text stored in the audit log's `actor` column.
    pub fn label(&self) -> String {
        match self {
            Actor::Key(k) => format!("key:{}", k.id),
            Actor::User(email) => format!("user:{email}"),
            Actor::Cli => "cli".to_string(),
            Actor::System => "system".to_string(),
            Actor::Anonymous => "anonymous".to_string(),
        }
    }
}
