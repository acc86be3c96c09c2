//! The rules of hitl: pauses, decisions, keys, users and the audit trail. Every path
//! that changes state (API, web page, CLI, mail links) calls these functions; the rules
//! are never re-checked elsewhere. No actix, no maud and no SQL text lives here.

pub mod accounts;
pub mod audit;
pub mod context;
pub mod forms;
pub mod groups;
pub mod keys;
pub mod links;
pub mod outbox;
pub mod password;
pub mod pauses;
pub mod policies;
pub mod push;
pub mod receipts;
pub mod retention;
pub mod rules;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod telegram;
pub mod throttle;
pub mod users;

#[cfg(test)]
pub(crate) mod tests;

pub use crate::model::{
    Actor, Error, KeyRef, Kind, OnTimeout, Principal, Result, Reviewer, Risk, Role, Status,
};
