//! The rules, tested directly: each test opens an in-memory database with the real
//! schema, calls the domain functions inside a transaction with an explicit clock, and
//! reads the rows back. No server, no writer thread, no sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Asserts that a `Result` is an `Err` matching a pattern of `domain::Error`.
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(if $guard:expr)?) => {
        match $result {
            Err(e) => assert!(
                matches!(&e, $pattern $(if $guard)?),
                "expected {}, got {e:?}",
                stringify!($pattern)
            ),
            Ok(_) => panic!("expected {}, got Ok", stringify!($pattern)),
        }
    };
}

mod access;
mod api_keys;
mod create;
mod decide;
mod expiry;
mod forms;
mod groups;
mod limits;
mod oidc_groups;
mod on_timeout;
mod questions;
mod quorum;
mod reject_options;
mod risk_summary;
mod routing;
mod rules;
mod search;
mod tags;

use rusqlite::{Connection, TransactionBehavior};

use crate::clock::{self, Millis};
use crate::db::{self, Tx};
use crate::domain::audit::Entry;
use crate::domain::keys::{self, NewKey};
use crate::domain::outbox::{Channels, Kind};
use crate::domain::pauses::{self, CreateRequest, Created, Decision, Limits, ListQuery, Pause};
use crate::domain::{Actor, KeyRef, Principal, Result, Reviewer, Role};
use crate::model::events::Event;

pub const SECOND: Millis = 1_000;
pub const HOUR: Millis = 3_600 * SECOND;

/// 2026-03-15T10:00:00Z, the instant most tests start at.
pub fn t0() -> Millis {
    clock::parse_date("2026-03-15").unwrap() + 10 * HOUR
}

/// Mail and Slack configured, so that every outbox row a rule may write is written.
pub const CHANNELS: Channels = Channels {
    email: true,
    slack: true,
    slack_app: false,
    slack_channel: false,
    telegram: false,
    ntfy: false,
    push: false,
    teams: false,
    discord: false,
};

/// A small context limit, so that "too large" needs no big test data.
pub const LIMITS: Limits = Limits {
    max_context_bytes: 1_024,
    default_timeout_secs: None,
};

/// The webhook URL of the `agent` key.
pub const AGENT_HOOK: &str = "https://hooks.example.com/deploy";

/// Every table a pause rule writes to.
const TABLES: [&str; 6] = [
    "pauses",
    "pause_tags",
    "idempotency",
    "key_usage",
    "audit",
    "outbox",
];

/// A database with two agent keys, an approver, an admin and the approver's reviewer
/// key. The principals are fields beside `db`, so `w.db.create(t, &w.agent, ..)` borrows
/// both at once.
pub struct World {
    pub db: Db,
    /// The agent key `deploy-bot`, which has a webhook URL.
    pub agent: Principal,
    /// The agent key `other-bot`, without a webhook URL.
    pub other_agent: Principal,
    pub approver: Principal,
    pub admin: Principal,
    /// A reviewer key acting for the approver.
    pub reviewer_key: Principal,
}

impl World {
    pub fn new() -> World {
        World::on(db::in_memory().unwrap())
    }

    /// The same cast on a given connection (a file database, for the race).
    pub fn on(mut conn: Connection) -> World {
        let (approver, admin, agent, other_agent, review_key) = db::with_tx(&mut conn, |tx| {
            let approver = add_user(tx, "ann@example.com", Role::Approver)?;
            let admin = add_user(tx, "root@example.com", Role::Admin)?;
            let agent = add_key(tx, "deploy-bot", None, Some(AGENT_HOOK))?;
            let other_agent = add_key(tx, "other-bot", None, None)?;
            let review_key = add_key(tx, "ann-script", Some(&approver.email), None)?;
            Ok((approver, admin, agent, other_agent, review_key))
        })
        .unwrap();
        World {
            db: Db { conn },
            agent: Principal::Agent(agent),
            other_agent: Principal::Agent(other_agent),
            reviewer_key: Principal::ReviewerKey(review_key, approver.clone()),
            approver: Principal::User(approver),
            admin: Principal::User(admin),
        }
    }
}

/// A user row straight in the table: the rules under test never check passwords, and
/// hashing one costs a fifth of a second.
fn add_user(tx: &Tx, email: &str, role: Role) -> Result<Reviewer> {
    let user_id = db::users::insert(tx, email, role, "pbkdf2-sha256$1$x$x", t0())?;
    Ok(Reviewer {
        user_id,
        email: email.into(),
        role,
    })
}

fn add_key(tx: &mut Tx, name: &str, user: Option<&str>, hook: Option<&str>) -> Result<KeyRef> {
    let new = NewKey {
        name: name.into(),
        user_email: user.map(Into::into),
        webhook_url: hook.map(Into::into),
        monthly_limit: None,
        owner_email: None,
    };
    let created = keys::create(tx, t0(), &Actor::Cli, new)?;
    Ok(KeyRef {
        id: created.id,
        name: created.name,
    })
}

/// The database, and the rules run on it the way the writer runs them.
pub struct Db {
    conn: Connection,
}

impl Db {
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one immediate transaction: committed with its events if it
    /// succeeds, rolled back (and its events dropped) if not.
    pub fn write_ev<R>(&mut self, f: impl FnOnce(&mut Tx) -> Result<R>) -> Result<(R, Vec<Event>)> {
        let txn = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        let mut tx = Tx::new(&txn);
        let result = f(&mut tx);
        let events = tx.into_events();
        let value = result?;
        txn.commit().unwrap();
        Ok((value, events))
    }

    pub fn write<R>(&mut self, f: impl FnOnce(&mut Tx) -> Result<R>) -> Result<R> {
        self.write_ev(f).map(|(value, _)| value)
    }

    /// Parses and validates a request body as the API does, then creates the pause;
    /// with the events of the write.
    pub fn create_ev(
        &mut self,
        now: Millis,
        who: &Principal,
        body: &str,
        idempotency_key: Option<&str>,
        monthly_limit: Option<i64>,
    ) -> Result<(Created, Vec<Event>)> {
        let request: CreateRequest = serde_json::from_str(body).unwrap();
        self.write_ev(|tx| {
            let new = request.validate(LIMITS, idempotency_key)?;
            pauses::create(tx, now, who, monthly_limit, new, &CHANNELS)
        })
    }

    pub fn create_with(
        &mut self,
        now: Millis,
        who: &Principal,
        body: &str,
        idempotency_key: Option<&str>,
        monthly_limit: Option<i64>,
    ) -> Result<Created> {
        self.create_ev(now, who, body, idempotency_key, monthly_limit)
            .map(|(created, _)| created)
    }

    pub fn create(&mut self, now: Millis, who: &Principal, body: &str) -> Result<Created> {
        self.create_with(now, who, body, None, None)
    }

    /// A new pending pause of `who`, expiring after `timeout` seconds if given.
    pub fn pending(&mut self, now: Millis, who: &Principal, timeout: Option<i64>) -> Pause {
        let body = serde_json::json!({ "action": "Deploy v2.4.1", "timeoutSeconds": timeout });
        self.create(now, who, &body.to_string()).unwrap().pause
    }

    pub fn decide(
        &mut self,
        now: Millis,
        who: &Principal,
        watch_id: &str,
        decision: Decision,
        comment: Option<&str>,
    ) -> Result<Pause> {
        self.decide_ev(now, who, watch_id, decision, comment)
            .map(|(pause, _)| pause)
    }

    /// `decide`, with the events of the write.
    pub fn decide_ev(
        &mut self,
        now: Millis,
        who: &Principal,
        watch_id: &str,
        decision: Decision,
        comment: Option<&str>,
    ) -> Result<(Pause, Vec<Event>)> {
        self.write_ev(|tx| {
            let comment = comment.map(Into::into);
            pauses::decide(
                tx,
                now,
                who,
                watch_id,
                pauses::Verdict::new(decision, comment, None),
                &CHANNELS,
            )
        })
    }

    pub fn cancel(&mut self, now: Millis, who: &Principal, watch_id: &str) -> Result<Pause> {
        self.write(|tx| pauses::cancel(tx, now, who, watch_id, None, &CHANNELS))
    }

    pub fn expire(&mut self, now: Millis, batch: u32) -> Result<usize> {
        self.write(|tx| pauses::expire_due(tx, now, batch, &CHANNELS))
    }

    /// A pause as stored, whoever may see it.
    pub fn stored(&self, watch_id: &str) -> Pause {
        db::pauses::by_watch_id(self.conn(), watch_id)
            .unwrap()
            .unwrap()
    }

    pub fn get(&self, who: &Principal, watch_id: &str) -> Result<Pause> {
        pauses::get(self.conn(), who, watch_id)
    }

    /// The watchIds `who` lists, newest first.
    pub fn list(&self, who: &Principal) -> Vec<String> {
        let q = ListQuery {
            limit: pauses::MAX_LIST_LIMIT,
            ..ListQuery::default()
        };
        let page = pauses::list(self.conn(), who, &q).unwrap();
        page.items.into_iter().map(|p| p.watch_id).collect()
    }

    pub fn count(&self, table: &str) -> i64 {
        self.conn()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    /// The row count of every table a pause rule writes, to show nothing changed.
    pub fn footprint(&self) -> Vec<(&'static str, i64)> {
        TABLES.iter().map(|t| (*t, self.count(t))).collect()
    }

    /// The monthly count stored for a key, for the month that contains `now`.
    pub fn usage(&self, who: &Principal, now: Millis) -> i64 {
        self.conn()
            .query_row(
                "SELECT coalesce(sum(count), 0) FROM key_usage WHERE key_id = ?1 AND month = ?2",
                (who.key_id().unwrap(), clock::month_of(now)),
                |r| r.get(0),
            )
            .unwrap()
    }

    pub fn audit(&self, watch_id: &str) -> Vec<Entry> {
        crate::domain::audit::for_pause(self.conn(), watch_id).unwrap()
    }

    /// The outbox rows of a pause: kind, target and payload, oldest first.
    pub fn outbox(&self, watch_id: &str) -> Vec<(Kind, String, String)> {
        db::outbox::for_watch_id(self.conn(), watch_id)
            .unwrap()
            .into_iter()
            .map(|d| (d.stored.kind, d.stored.target, d.stored.payload))
            .collect()
    }
}

/// The base62 characters after `wch_`, if `watch_id` has the documented form.
pub fn watch_id_tail(watch_id: &str) -> Option<&str> {
    watch_id
        .strip_prefix("wch_")
        .filter(|tail| tail.len() >= 22 && tail.bytes().all(|b| b.is_ascii_alphanumeric()))
}
