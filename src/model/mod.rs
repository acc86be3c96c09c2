//! The plain types of hitl, at the bottom of the house: pauses, statuses, keys, users,
//! audit entries, deliveries, sessions, events, and the one error type. No I/O and no
//! rules live here; `db` maps rows to these types and `domain` applies the rules to
//! them. Neither `db` nor `domain` is imported from here.

pub mod audit;
pub mod delivery;
pub mod events;
pub mod key;
pub mod pause;
pub mod reach;
pub mod rule;
pub mod session;
pub mod user;

use std::fmt;

use serde::{Serialize, Serializer};

use crate::clock::{self, Millis};

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
    /// Separation of duties: the owner of a pause's key may not decide it.
    #[error("{0}")]
    SelfApproval(String),
    /// The pause is routed to groups the person is not in (nor a delegate for).
    #[error("{0}")]
    NotAReviewer(String),
    #[error("you have already approved this pause; it needs approvals from other reviewers")]
    AlreadyVoted,
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

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The life of a pause: `pending`, then exactly one terminal status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    /// A question's answer was given.
    Answered,
    Expired,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Approved,
        Status::Rejected,
        Status::Answered,
        Status::Expired,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Answered => "answered",
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

/// What a pause asks of its reviewer: a decision (approve or reject) or an answer to a
/// question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Decision,
    Question,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Decision => "decision",
            Kind::Question => "question",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::Decision, Kind::Question]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// What becomes of a pending pause when its timeout passes: `expire` (the default),
/// or decided by the timeout, `reject` or `approve`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    #[default]
    Expire,
    Reject,
    Approve,
}

impl OnTimeout {
    pub const ALL: [OnTimeout; 3] = [OnTimeout::Expire, OnTimeout::Reject, OnTimeout::Approve];

    pub fn as_str(self) -> &'static str {
        match self {
            OnTimeout::Expire => "expire",
            OnTimeout::Reject => "reject",
            OnTimeout::Approve => "approve",
        }
    }

    pub fn parse(text: &str) -> Option<OnTimeout> {
        OnTimeout::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// The status a pause takes when its timeout passes.
    pub fn status(self) -> Status {
        match self {
            OnTimeout::Expire => Status::Expired,
            OnTimeout::Reject => Status::Rejected,
            OnTimeout::Approve => Status::Approved,
        }
    }
}

/// How much harm the agent says its action could do if it goes wrong, as it rates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub const ALL: [Risk; 4] = [Risk::Low, Risk::Medium, Risk::High, Risk::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Risk> {
        Risk::ALL.into_iter().find(|r| r.as_str() == text)
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

/// Serialises a time as RFC 3339 with milliseconds.
pub fn ser_time<S: Serializer>(ms: &Millis, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&clock::rfc3339(*ms))
}

pub fn ser_opt_time<S: Serializer>(
    ms: &Option<Millis>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&clock::rfc3339(*ms)),
        None => s.serialize_none(),
    }
}
