//! hitl's integration tests: every test starts the real binary with its own data
//! directory on a free port and talks to it over HTTP on 127.0.0.1.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod channels;
mod harness;

mod agent_text;
mod allocator;
mod api_errors;
mod api_flow;
mod api_limits;
mod ask;
mod audit;
mod backup;
mod claude_code;
mod cli;
mod doctor;
mod durability;
mod edit;
mod exact_context;
mod examples;
mod expiry;
mod forms;
mod groups;
mod groups_page;
mod humanlayer;
mod idempotency;
mod key_names;
mod keys_users;
mod listing;
mod litestream;
mod long_poll;
pub mod mcp;
mod mcp_modern;
mod metrics;
mod migration;
mod notifications;
mod oidc;
mod on_timeout;
mod openapi;
mod peers;
mod people;
mod policies_page;
mod push;
mod push_fake;
mod questions;
pub mod quorum;
mod race;
pub mod receipts;
mod reject_options;
mod request_ids;
mod retention;
mod risk_summary;
mod routing;
mod rules;
mod slack_app;
mod slack_fake;
mod slow_bodies;
mod stale_session;
mod telegram;
mod telegram_fake;
mod web_admin;
mod web_flows;
mod web_http;
pub mod web_pages;
mod web_review;
mod web_tables;
mod webhooks;
