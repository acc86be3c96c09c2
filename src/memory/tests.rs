//! The protocol of `crate::memory`, at its API: the three guarantees of its module doc.

use std::time::Duration;

use rusqlite::Connection;
use tempfile::TempDir;

use super::{announce, Memory};
use crate::db::writer::CommitListener as _;
use crate::db::{self, Store};
use crate::domain::keys::{self, NewKey};
use crate::domain::pauses::{Decision, Pause};
use crate::domain::tests::{t0, World};
use crate::domain::{Actor, Error, Status};
use crate::model::events::Event;
use crate::notify::Waker;

/// A data directory with one agent key, and memory for a server on it.
struct Server {
    dir: TempDir,
    conn: Connection,
    memory: Memory,
    token: String,
    key_id: String,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut conn = store.connect().unwrap();
    let new = NewKey {
        name: "agent".into(),
        ..NewKey::default()
    };
    let created = db::with_tx(&mut conn, |tx| keys::create(tx, 0, &Actor::Cli, new)).unwrap();
    let (live, _) = tokio::sync::broadcast::channel(16);
    let memory = Memory::new(dir.path(), live, Waker::default());
    memory.writer_started(generation(&conn));
    Server {
        dir,
        conn,
        memory,
        token: created.key,
        key_id: created.id,
    }
}

fn generation(conn: &Connection) -> Option<i64> {
    db::keys::auth_generation(conn).ok()
}

impl Server {
    /// Authenticates from the database (committed data), keeping the key.
    fn authenticate(&self) -> crate::domain::Result<keys::Authenticated> {
        self.memory.authenticate(&self.conn, &self.token, 0, true)
    }

    /// Whether the key is accepted from memory alone, without a database read.
    fn accepted_from_memory(&self) -> bool {
        self.memory.cached_key(&self.token, 0).0.is_some()
    }

    /// Revokes the key in the database, as any process could.
    fn revoke(&mut self) {
        let id = self.key_id.clone();
        db::with_tx(&mut self.conn, |tx| {
            keys::revoke(tx, 0, &Actor::Cli, &id).map(|_| ())
        })
        .unwrap();
    }
}

// 1. Revocation takes effect.

#[test]
fn a_kept_key_is_refused_once_the_writer_commits_a_key_change() {
    let mut s = server();
    s.authenticate().unwrap();
    assert!(s.accepted_from_memory(), "kept after one authentication");
    // The writer's commit revokes the key; it reads the generation after the commit.
    s.revoke();
    s.memory.after_commit(&s.conn, generation(&s.conn), &[]);
    assert!(!s.accepted_from_memory(), "the epoch moved: not trusted");
    assert!(matches!(s.authenticate(), Err(Error::Unauthorized)));
    assert!(!s.accepted_from_memory());
}

/// A write's key is hashed (and the epoch taken) before it queues for the writer; a
/// revocation committed while it waits still refuses it, and what the writer then
/// keeps is not trusted from memory.
#[test]
fn a_key_presented_before_its_revocation_is_refused_in_the_writer() {
    let mut s = server();
    s.authenticate().unwrap();
    let presented = s.memory.present(&s.token).unwrap();
    s.revoke();
    s.memory.after_commit(&s.conn, generation(&s.conn), &[]);
    let late = s
        .memory
        .authenticate_presented(&s.conn, &s.token, presented, 0, false);
    assert!(matches!(late, Err(Error::Unauthorized)));
    assert!(!s.accepted_from_memory());
}

#[test]
fn a_commit_that_changes_no_key_keeps_keys() {
    let s = server();
    s.authenticate().unwrap();
    s.memory.after_commit(&s.conn, generation(&s.conn), &[]);
    s.memory.writer_idle(generation(&s.conn));
    assert!(s.accepted_from_memory());
}

#[test]
fn a_kept_key_is_refused_once_a_command_announces_a_change() {
    let mut s = server();
    s.authenticate().unwrap();
    // `hitl key revoke` commits in its own process, then announces.
    s.revoke();
    assert!(s.accepted_from_memory(), "nobody told the server yet");
    announce(s.dir.path()).unwrap();
    assert!(!s.accepted_from_memory(), "the very next request");
    assert!(matches!(s.authenticate(), Err(Error::Unauthorized)));
}

#[test]
fn a_kept_key_is_refused_once_the_periodic_check_sees_the_generation_move() {
    let mut s = server();
    s.authenticate().unwrap();
    // Changed behind the server's back: no announcement.
    s.revoke();
    assert!(s.accepted_from_memory());
    s.memory.writer_idle(generation(&s.conn));
    assert!(!s.accepted_from_memory());
    assert!(matches!(s.authenticate(), Err(Error::Unauthorized)));
    // An unreadable generation counts as moved too.
    let t = server();
    t.authenticate().unwrap();
    t.memory.writer_idle(None);
    assert!(!t.accepted_from_memory());
}

#[test]
fn a_failed_commit_forgets_the_keys_it_looked_up() {
    let s = server();
    s.authenticate().unwrap();
    s.memory.commit_failed(&[]);
    assert!(!s.accepted_from_memory());
}

#[test]
fn keys_found_in_the_writers_transaction_are_kept_only_while_it_holds_no_key_change() {
    // At the last committed generation: the transaction holds no key change.
    let s = server();
    s.memory.authenticate(&s.conn, &s.token, 0, false).unwrap();
    assert!(s.accepted_from_memory());

    // An earlier write of the same group commit changed a key: that change may never
    // commit, so nothing read in this transaction is kept.
    let t = server();
    t.conn
        .execute_batch("BEGIN; UPDATE api_keys SET name = 'renamed';")
        .unwrap();
    t.memory.authenticate(&t.conn, &t.token, 0, false).unwrap();
    assert!(!t.accepted_from_memory());
    t.conn.execute_batch("ROLLBACK").unwrap();

    // The writer has not read the generation: nothing is kept either.
    let u = server();
    u.memory.writer_started(None);
    u.memory.authenticate(&u.conn, &u.token, 0, false).unwrap();
    assert!(!u.accepted_from_memory());
}

// 2. A changing pause is never served stale.

fn resolved(watch_id: &str, status: Status) -> Event {
    Event::PauseResolved {
        watch_id: watch_id.into(),
        status,
        pending_ms: 1000,
    }
}

fn pause(watch_id: &str, status: Status) -> Pause {
    Pause {
        status,
        ..Pause::example(watch_id, "deploy")
    }
}

#[test]
fn a_changing_pause_is_neither_served_nor_kept() {
    let s = server();
    let (_, epoch) = s.memory.cached_key(&s.token, 0);
    let v = s.memory.pause_version();
    s.memory.keep_pause(&pause("w1", Status::Pending), epoch, v);
    assert!(s.memory.cached_pause("w1", epoch).is_some());
    s.memory.before_commit(&[resolved("w1", Status::Approved)]);
    assert!(s.memory.cached_pause("w1", epoch).is_none(), "not served");
    // A read that began while the commit was under way.
    let during = s.memory.pause_version();
    s.memory
        .keep_pause(&pause("w1", Status::Pending), epoch, during);
    assert!(s.memory.cached_pause("w1", epoch).is_none(), "not kept");
}

#[test]
fn a_read_that_began_before_a_change_is_not_kept_after_it() {
    let s = server();
    let (_, epoch) = s.memory.cached_key(&s.token, 0);
    let before = s.memory.pause_version();
    let events = [resolved("w1", Status::Approved)];
    s.memory.before_commit(&events);
    s.memory.after_commit(&s.conn, generation(&s.conn), &events);
    // The read saw the pause pending, before the decision.
    s.memory
        .keep_pause(&pause("w1", Status::Pending), epoch, before);
    assert!(s.memory.cached_pause("w1", epoch).is_none());
}

#[test]
fn once_changed_the_next_read_is_fresh_and_kept() {
    let s = server();
    let (_, epoch) = s.memory.cached_key(&s.token, 0);
    let v = s.memory.pause_version();
    s.memory.keep_pause(&pause("w1", Status::Pending), epoch, v);
    let events = [resolved("w1", Status::Approved)];
    s.memory.before_commit(&events);
    s.memory.after_commit(&s.conn, generation(&s.conn), &events);
    assert!(
        s.memory.cached_pause("w1", epoch).is_none(),
        "the old pause is gone: the next read goes to the database"
    );
    let after = s.memory.pause_version();
    s.memory
        .keep_pause(&pause("w1", Status::Approved), epoch, after);
    let served = s.memory.cached_pause("w1", epoch).map(|p| p.status);
    assert_eq!(served, Some(Status::Approved));
}

#[test]
fn a_failed_commit_releases_a_changing_pause() {
    let s = server();
    let (_, epoch) = s.memory.cached_key(&s.token, 0);
    let events = [resolved("w1", Status::Approved)];
    s.memory.before_commit(&events);
    s.memory.commit_failed(&events);
    let v = s.memory.pause_version();
    s.memory.keep_pause(&pause("w1", Status::Pending), epoch, v);
    assert!(s.memory.cached_pause("w1", epoch).is_some());
}

#[test]
fn pauses_kept_under_an_older_epoch_are_not_served() {
    let s = server();
    let (_, epoch) = s.memory.cached_key(&s.token, 0);
    let v = s.memory.pause_version();
    s.memory.keep_pause(&pause("w1", Status::Pending), epoch, v);
    // A key was renamed (the pause shows its key's name) by a command.
    announce(s.dir.path()).unwrap();
    let (_, now) = s.memory.cached_key(&s.token, 0);
    assert_ne!(now, epoch);
    assert!(s.memory.cached_pause("w1", now).is_none());
}

/// A decided pause that requests wait on is read by the writer's connection straight
/// after the commit and kept: the woken waiters answer from memory, with the pause as
/// the database now holds it. One nobody waits on is not read.
#[tokio::test(flavor = "current_thread")]
async fn a_decided_pause_someone_waits_on_is_kept_as_committed() {
    let mut w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let (live, _) = tokio::sync::broadcast::channel(16);
    let memory = Memory::new(dir.path(), live, Waker::default());
    memory.writer_started(generation(w.db.conn()));
    let waited = w.db.pending(t0(), &w.agent, None).watch_id;
    let alone = w.db.pending(t0(), &w.agent, None).watch_id;
    let registration = memory.register(&waited);
    let changed = registration.changed();
    let (_, epoch) = memory.cached_key("not a key", 0);
    let mut events = Vec::new();
    for id in [&waited, &alone] {
        let (_, ev) =
            w.db.decide_ev(
                t0() + 5,
                &w.approver,
                id,
                Decision::Approved,
                Some("ship it"),
            )
            .unwrap();
        events.extend(ev);
    }
    memory.before_commit(&events);
    memory.after_commit(w.db.conn(), generation(w.db.conn()), &events);
    tokio::time::timeout(SOON, changed)
        .await
        .unwrap_or_else(|_| panic!("the waiter did not wake"));
    let kept = memory
        .cached_pause(&waited, epoch)
        .expect("the decided pause is kept for its waiter");
    assert_eq!(kept.status, Status::Approved);
    assert_eq!(kept.comment.as_deref(), Some("ship it"));
    assert_eq!(format!("{kept:?}"), format!("{:?}", w.db.stored(&waited)));
    assert!(
        memory.cached_pause(&alone, epoch).is_none(),
        "nobody waits on it: not read"
    );
}

// 3. Every waiter wakes.

const SOON: Duration = Duration::from_secs(1);
const NOT_YET: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "current_thread")]
async fn every_waiter_on_a_pause_wakes_on_one_change_and_no_other() {
    let s = server();
    let ours: Vec<_> = (0..20).map(|_| s.memory.register("w1")).collect();
    let others: Vec<_> = (0..5).map(|_| s.memory.register("w2")).collect();
    let ours_changed: Vec<_> = ours.iter().map(|r| r.changed()).collect();
    let others_changed: Vec<_> = others.iter().map(|r| r.changed()).collect();
    let events = [resolved("w1", Status::Approved)];
    s.memory.before_commit(&events);
    s.memory.after_commit(&s.conn, generation(&s.conn), &events);
    for changed in ours_changed {
        tokio::time::timeout(SOON, changed)
            .await
            .unwrap_or_else(|_| panic!("a waiter on w1 did not wake"));
    }
    for changed in others_changed {
        assert!(tokio::time::timeout(NOT_YET, changed).await.is_err());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn nothing_wakes_before_the_commit_or_when_it_fails() {
    let s = server();
    let reg = s.memory.register("w1");
    let changed = reg.changed();
    tokio::pin!(changed);
    let events = [resolved("w1", Status::Approved)];
    s.memory.before_commit(&events);
    s.memory.commit_failed(&events);
    assert!(tokio::time::timeout(NOT_YET, &mut changed).await.is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn stopping_wakes_every_waiter() {
    let s = server();
    let regs: Vec<_> = ["w1", "w1", "w2", "w3"]
        .iter()
        .map(|id| s.memory.register(id))
        .collect();
    let changed: Vec<_> = regs.iter().map(|r| r.changed()).collect();
    s.memory.wake_all();
    for c in changed {
        tokio::time::timeout(SOON, c)
            .await
            .unwrap_or_else(|_| panic!("a waiter did not wake at shutdown"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_waiter_registered_after_stopping_does_not_wait() {
    let s = server();
    let before = s.memory.register("w1");
    let waiting = before.changed();
    s.memory.wake_all();
    // A request that arrives while the server stops (a kept-alive connection).
    let after = s.memory.register("w1");
    let registered_late = after.changed();
    let elsewhere = s.memory.register("w9");
    let on_another_pause = elsewhere.changed();
    tokio::time::timeout(SOON, waiting)
        .await
        .unwrap_or_else(|_| panic!("a waiter registered before the stop kept waiting"));
    tokio::time::timeout(SOON, registered_late)
        .await
        .unwrap_or_else(|_| panic!("a waiter registered after the stop kept waiting"));
    tokio::time::timeout(SOON, on_another_pause)
        .await
        .unwrap_or_else(|_| panic!("a waiter on a pause nobody watched kept waiting"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_change_between_register_and_wait_is_not_missed() {
    let s = server();
    // Register, then read the status (pending), then wait: the decision commits
    // while the status is being read, before anyone awaits.
    let reg = s.memory.register("w1");
    let changed = reg.changed();
    let events = [resolved("w1", Status::Rejected)];
    s.memory.before_commit(&events);
    s.memory.after_commit(&s.conn, generation(&s.conn), &events);
    tokio::time::timeout(SOON, changed)
        .await
        .unwrap_or_else(|_| panic!("the change was missed"));
}

#[tokio::test(flavor = "current_thread")]
async fn open_pages_hear_of_committed_pauses_only() {
    let dir = tempfile::tempdir().unwrap();
    let (live, mut rx) = tokio::sync::broadcast::channel(16);
    let memory = Memory::new(dir.path(), live, Waker::default());
    let created = Event::PauseCreated {
        watch_id: "w1".into(),
        wake_at: None,
        key_name: "agent".into(),
    };
    let events = [created, resolved("w1", Status::Approved)];
    memory.before_commit(&events);
    memory.commit_failed(&events);
    assert!(rx.try_recv().is_err(), "a failed commit tells nobody");
    memory.before_commit(&events);
    let conn = db::in_memory().unwrap();
    memory.after_commit(&conn, Some(0), &events);
    let first = rx.recv().await.unwrap();
    let second = rx.recv().await.unwrap();
    assert_eq!((first.kind, first.status), ("created", Status::Pending));
    assert_eq!((second.kind, second.status), ("resolved", Status::Approved));
}
