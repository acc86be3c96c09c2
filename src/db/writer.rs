//! The single writer: one thread owns the only writing connection and commits every
//! write that is waiting at that moment in one transaction (group commit), so one
//! fsync acknowledges many writes. Each write runs inside its own savepoint: a write
//! that fails is rolled back alone and its neighbours still commit. Callers hear back
//! only after the commit is on disk. Around each commit it tells its [`CommitListener`]
//! (in `hitl serve`, `crate::memory`, which keeps what the server trusts without
//! reading the database and wakes what waits on a change); `db` itself depends on
//! nothing above it.
//!
//! Creates come in bulk and their callers want throughput; every other write (a
//! decision, a cancel) has someone, or an agent's long-poll, waiting on it. So creates
//! queue in a lane of their own: when both kinds are waiting, the others commit first,
//! in a group of their own, and a decision never waits for the creates queued with it.
//! The search indexer's batches queue with the creates: they share the creates' commits
//! (and their fsync) instead of adding commits of their own, each in a savepoint of its
//! own (`run_blocking_bulk`) so that a failed batch never fails the creates beside it.
//! The checkpointer may hold
//! this lane for the few milliseconds it takes to copy the last of a long WAL (see
//! [`WalProgress`]); the other lane commits meanwhile.
//!
//! Creates also run without a savepoint each. A savepoint makes SQLite copy every page a
//! write is about to change, in case it must be put back: for a create, a dozen pages,
//! about a tenth of the writer's time. So a bulk write checks its rules before it
//! changes anything, and if it fails after all (a database error), its whole group
//! commit is rolled back and every write in it told so: nothing in it was saved. The
//! same holds in either lane when SQLite rolls the transaction back itself (a full
//! disk, an I/O error, memory running out).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::Tx;
use crate::model::events::Event;
use crate::model::{Error, Result};

/// The most writes committed together.
const MAX_BATCH: usize = 512;

type Reply = Box<dyn FnOnce(Result<()>) + Send>;
/// A queued write. Called with the transaction to run in, or with `None` when it must
/// fail without running (the database could not start a transaction).
type Job = Box<dyn FnOnce(Option<&mut Tx>) -> (bool, Reply) + Send>;

/// Which lane a write queues in (see the module's comment); the lanes commit in this
/// order.
#[derive(Clone, Copy)]
enum Lane {
    Prompt = 0,
    Bulk = 1,
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<(Lane, Job)>,
    alive: Arc<AtomicBool>,
    wal: Arc<WalProgress>,
}

/// What the writer and the checkpointer know of each other's work on the WAL.
///
/// The WAL starts over only at a commit that finds it all copied back, which under
/// steady writes never happens by itself: the WAL, and the cost of each append to it,
/// would grow for as long as the writes go on. So once the WAL is long and the
/// checkpointer has copied nearly all of it, it asks the writer to hold the bulk lane
/// (creates) while it copies the rest ([`WalProgress::hold_bulk`]); other writes
/// still commit meanwhile, so a decision never waits for that copy. If one did commit
/// during it, what it added is left, and the writer copies that itself between two
/// group commits (`catch_up`).
#[derive(Default)]
pub struct WalProgress {
    /// Writes committed since the writer started: how much the WAL has grown.
    pub committed: AtomicU64,
    /// Set by the checkpointer when writes committed during its last copy of a long
    /// WAL: the writer copies what they added itself, between two group commits.
    pub catch_up: AtomicBool,
    hold: Mutex<Hold>,
    held: Condvar,
}

/// Whether the writer holds its bulk lane for the checkpointer.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Hold {
    #[default]
    Off,
    Asked,
    Held,
}

impl WalProgress {
    fn hold(&self) -> MutexGuard<'_, Hold> {
        // A panic while holding this lock cannot leave a bad state: any value is valid.
        self.hold.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the writer to hold its bulk lane once its current group commit is done;
    /// `Some` once it does, `None` if it did not within `wait` (the ask is withdrawn).
    /// Until the [`BulkHeld`] is dropped, nothing in the bulk lane commits.
    pub fn hold_bulk(&self, wait: Duration) -> Option<BulkHeld<'_>> {
        let mut hold = self.hold();
        *hold = Hold::Asked;
        let (mut hold, _) = self
            .held
            .wait_timeout_while(hold, wait, |h| *h == Hold::Asked)
            .unwrap_or_else(|e| e.into_inner());
        if *hold == Hold::Held {
            Some(BulkHeld(self))
        } else {
            *hold = Hold::Off;
            None
        }
    }

    /// The writer's side: whether to hold the bulk lane now, answering an ask.
    fn holding_bulk(&self) -> bool {
        let mut hold = self.hold();
        if *hold == Hold::Asked {
            *hold = Hold::Held;
            self.held.notify_all();
        }
        *hold == Hold::Held
    }
}

/// The writer's bulk lane, held until this is dropped (however the holder ends): the
/// writer then notices within `HOLD_POLL`.
pub struct BulkHeld<'a>(&'a WalProgress);

impl Drop for BulkHeld<'_> {
    fn drop(&mut self) {
        *self.0.hold() = Hold::Off;
    }
}

/// How often a writer holding its bulk lane looks whether it may go on.
const HOLD_POLL: Duration = Duration::from_millis(1);

/// Marks the writer dead when its thread ends, however it ends.
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Writer {
    /// Starts the writer thread on `conn`. The events of each group commit go to
    /// `memory` (`before_commit`, then `after_commit` or `commit_failed`).
    /// The thread ends when every `Writer` handle is dropped; join the returned handle
    /// to wait for the last commit.
    pub fn start(
        conn: Connection,
        memory: Arc<dyn CommitListener>,
    ) -> std::io::Result<(Writer, thread::JoinHandle<()>)> {
        let (jobs, rx) = mpsc::channel();
        let alive = Arc::new(AtomicBool::new(true));
        let wal = Arc::new(WalProgress::default());
        let guard = AliveGuard(Arc::clone(&alive));
        let progress = Arc::clone(&wal);
        let handle = thread::Builder::new()
            .name("hitl-writer".into())
            .spawn(move || {
                let _guard = guard;
                run(conn, rx, memory.as_ref(), &progress);
            })?;
        let writer = Writer { jobs, alive, wal };
        Ok((writer, handle))
    }

    /// What the checkpointer shares with the writer.
    pub fn wal(&self) -> Arc<WalProgress> {
        Arc::clone(&self.wal)
    }

    /// False once the writer thread has ended: nothing can be written any more.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    fn submit<R, F>(&self, lane: Lane, f: F) -> oneshot::Receiver<Result<R>>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        self.submit_as(lane, false, f)
    }

    /// `alone`: the write runs in a savepoint of its own even in the bulk lane (the
    /// other lane gives every write one), so that a failure after it wrote is rolled
    /// back alone instead of taking its group commit down.
    fn submit_as<R, F>(&self, lane: Lane, alone: bool, f: F) -> oneshot::Receiver<Result<R>>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Job = Box::new(move |tx: Option<&mut Tx>| {
            let (result, ok) = match tx {
                Some(tx) if alone => in_own_savepoint(tx, f),
                Some(tx) => {
                    let result = guarded(tx, f);
                    let ok = result.is_ok();
                    (result, ok)
                }
                None => (
                    Err(Error::internal("the database could not start a write")),
                    false,
                ),
            };
            let reply: Reply = Box::new(move |commit: Result<()>| {
                let _ = reply_tx.send(commit.and(result));
            });
            (ok, reply)
        });
        // If the thread is gone, the job (and its sender) is dropped and the receiver
        // reports it below.
        let _ = self.jobs.send((lane, job));
        reply_rx
    }

    /// Runs `f` in the next group commit and returns its result once committed.
    pub async fn run<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        self.run_in(Lane::Prompt, f).await
    }

    /// As `run`, in the bulk lane: for creates, which commit after the other writes
    /// waiting with them. `f` must not fail once it has changed the database, other
    /// than by a database error: without a savepoint of its own, such a failure rolls
    /// back every write committed with it (see the module's comment).
    pub async fn run_bulk<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        self.run_in(Lane::Bulk, f).await
    }

    async fn run_in<R, F>(&self, lane: Lane, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        self.submit(lane, f).await.unwrap_or_else(stopped)
    }

    /// As `run`, for threads that are not async workers.
    pub fn run_blocking<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        self.run_blocking_in(Lane::Prompt, false, f)
    }

    /// As `run_bulk`, for threads that are not async workers (the search indexer), and
    /// in a savepoint of its own: `f` may fail after it has written, and only its own
    /// changes are rolled back. A savepoint's cost is paid per write, so creates do
    /// without one; a background thread's few writes can afford it.
    pub fn run_blocking_bulk<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        self.run_blocking_in(Lane::Bulk, true, f)
    }

    fn run_blocking_in<R, F>(&self, lane: Lane, alone: bool, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        self.submit_as(lane, alone, f)
            .blocking_recv()
            .unwrap_or_else(stopped)
    }

    /// Queues `f` without waiting for it (bookkeeping such as "last used").
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(&mut Tx) -> Result<()> + Send + 'static,
    {
        drop(self.submit(Lane::Prompt, f));
    }
}

/// The answer to a write whose reply never came: the writer thread is gone.
fn stopped<R>(_: oneshot::error::RecvError) -> Result<R> {
    Err(Error::internal("the database writer has stopped"))
}

/// How often an idle writer reads the auth generation again, so that keys or users
/// changed by another process are noticed.
pub const GENERATION_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Who hears of the writer's commits (in `hitl serve`: `crate::memory::Memory`). The
/// auth generation is the database's counter of key and user changes (`None`: it
/// could not be read).
pub trait CommitListener: Send + Sync {
    /// The writer started and read the generation.
    fn writer_started(&self, generation: Option<i64>);
    /// Nothing to write for [`GENERATION_CHECK_EVERY`]; the generation read again.
    fn writer_idle(&self, generation: Option<i64>);
    /// The events of a group commit, just before it commits.
    fn before_commit(&self, events: &[Event]);
    /// The group commit is on disk. `conn` is the writer's connection, outside any
    /// transaction: what it reads is what the group committed.
    fn after_commit(&self, conn: &Connection, generation: Option<i64>, events: &[Event]);
    /// The group commit failed: none of its events happened.
    fn commit_failed(&self, events: &[Event]);
    /// A group commit of `writes` writes is on disk; it took `took` from its `BEGIN`
    /// to the end of its `COMMIT` (for `/metrics`).
    fn batch_committed(&self, _writes: usize, _took: std::time::Duration) {}
}

fn run(
    conn: Connection,
    rx: mpsc::Receiver<(Lane, Job)>,
    memory: &dyn CommitListener,
    wal: &WalProgress,
) {
    let mut lanes: [Vec<Job>; 2] = [Vec::with_capacity(MAX_BATCH), Vec::new()];
    memory.writer_started(auth_generation(&conn));
    loop {
        let mut holding = wal.holding_bulk();
        // Writes held back from the last round (the bulk lane, while held).
        let waiting = lanes.iter().any(|lane| !lane.is_empty());
        // Block for the first write, then take every write already waiting.
        let first = if holding {
            HOLD_POLL
        } else if waiting {
            Duration::ZERO
        } else {
            GENERATION_CHECK_EVERY
        };
        match rx.recv_timeout(first) {
            Ok((lane, job)) => lanes[lane as usize].push(job),
            Err(mpsc::RecvTimeoutError::Timeout) if waiting || holding => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Key and user changes made by other processes.
                memory.writer_idle(auth_generation(&conn));
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) if waiting => holding = false,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        for _ in 1..MAX_BATCH {
            match rx.try_recv() {
                Ok((lane, job)) => lanes[lane as usize].push(job),
                Err(_) => break,
            }
        }
        // The writes taken together were all sent before any of them was answered, so
        // committing the prompt ones first reorders nothing a caller could have seen;
        // nor does holding the bulk ones back.
        for (lane, batch) in [Lane::Prompt, Lane::Bulk].into_iter().zip(&mut lanes) {
            let held = holding && matches!(lane, Lane::Bulk);
            if !batch.is_empty() && !held {
                commit_batch(&conn, lane, batch, memory, &wal.committed);
            }
        }
        if wal.catch_up.swap(false, Ordering::Relaxed) {
            // Whoever queued meanwhile waits for this copy of what the writes committed
            // during the checkpointer's last copy added; a full copy lets the next
            // commit start the WAL over.
            if let Err(e) = super::checkpoint::passive(&conn) {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    }
}

/// The database's auth generation (bumped by triggers on every change to a key or a
/// user, made by any process); `None` when it cannot be read.
fn auth_generation(conn: &Connection) -> Option<i64> {
    super::keys::auth_generation(conn).ok()
}

/// Runs one statement without parameters, prepared once per connection.
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn commit_batch(
    conn: &Connection,
    lane: Lane,
    batch: &mut Vec<Job>,
    memory: &dyn CommitListener,
    committed: &AtomicU64,
) {
    let started = std::time::Instant::now();
    let writes = batch.len();
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "could not start a write transaction");
        for job in batch.drain(..) {
            let (_, reply) = job(None);
            reply(Err(Error::internal(format!("begin: {e}"))));
        }
        return;
    }

    // Replies wait for the commit; `Err` ones were already decided by a failed write.
    let mut replies: Vec<(Reply, Option<Error>)> = Vec::with_capacity(batch.len());
    let mut events: Vec<Event> = Vec::new();
    // The write after which nothing of the group can commit, whether it failed itself,
    // and why.
    let mut spoiler: Option<(Reply, bool, &str)> = None;
    let mut jobs = batch.drain(..);
    for job in jobs.by_ref() {
        let before = conn.total_changes();
        let (ok, reply, job_events, failure) = match lane {
            Lane::Prompt => in_savepoint(conn, job),
            Lane::Bulk => {
                let (ok, reply, job_events) = run_job(conn, job);
                (ok, reply, job_events, None)
            }
        };
        // A bulk write that failed after it changed the database has no savepoint to
        // roll back to. And SQLite rolls the whole transaction back itself, savepoints
        // and all, on a full disk, an I/O error or memory running out: the writes
        // before it are gone, and the ones after it would each commit on their own,
        // outside any transaction, while told that their group failed.
        let why = if conn.is_autocommit() {
            Some("the database rolled back a group commit itself")
        } else if matches!(lane, Lane::Bulk) && !ok && conn.total_changes() != before {
            Some("a create failed after it changed the database")
        } else {
            None
        };
        if let Some(why) = why {
            spoiler = Some((reply, !ok, why));
            break;
        }
        if ok && failure.is_none() {
            events.extend(job_events);
        }
        replies.push((reply, failure));
    }
    if let Some((spoiler, failed, why)) = spoiler {
        tracing::error!("{why}; nothing in that group commit is saved");
        // Fails harmlessly when SQLite rolled back already.
        let _ = exec(conn, "ROLLBACK");
        let nothing_saved = || {
            Error::internal(
                "the database could not take this write with the others; nothing was saved",
            )
        };
        let others = replies.into_iter().map(|(reply, _)| reply);
        for reply in others.chain(jobs.map(|job| job(None).1)) {
            reply(Err(nothing_saved()));
        }
        // The write that failed hears its own error (`Ok` lets it through); one that
        // went through as far as it knows, that nothing was saved.
        spoiler(if failed { Ok(()) } else { Err(nothing_saved()) });
        return;
    }

    memory.before_commit(&events);
    match exec(conn, "COMMIT") {
        Ok(()) => {
            memory.batch_committed(writes, started.elapsed());
            committed.fetch_add(writes as u64, Ordering::Relaxed);
            // Before anyone hears back: a revoked key fails from the next request on.
            memory.after_commit(conn, auth_generation(conn), &events);
            for (reply, failure) in replies {
                reply(failure.map_or(Ok(()), Err));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            let _ = exec(conn, "ROLLBACK");
            memory.commit_failed(&events);
            for (reply, _) in replies {
                reply(Err(Error::internal(format!("commit: {e}"))));
            }
        }
    }
}

/// Runs a write's `f`, a panic turned into an error.
fn guarded<R>(tx: &mut Tx, f: impl FnOnce(&mut Tx) -> Result<R>) -> Result<R> {
    catch_unwind(AssertUnwindSafe(|| f(tx)))
        .unwrap_or_else(|_| Err(Error::internal("a write panicked")))
}

/// Runs `f` in a savepoint of its own, its events kept only if it succeeds. The flag
/// is false when a failure of `f` could not be rolled back (its group must not commit).
fn in_own_savepoint<R>(tx: &mut Tx, f: impl FnOnce(&mut Tx) -> Result<R>) -> (Result<R>, bool) {
    if let Err(e) = begin_savepoint(tx) {
        return (Err(savepoint_failed(e)), true);
    }
    let mut inner = Tx::new(tx);
    let result = guarded(&mut inner, f);
    let events = inner.into_events();
    match end_savepoint(tx, result.is_ok()) {
        Ok(()) => {
            if result.is_ok() {
                events.into_iter().for_each(|event| tx.emit(event));
            }
            (result, true)
        }
        Err(e) => (result.and(Err(savepoint_failed(e))), false),
    }
}

/// A job that ran: whether it succeeded, its reply, its events.
type Ran = (bool, Reply, Vec<Event>);

/// Runs `job` in the open transaction.
fn run_job(conn: &Connection, job: Job) -> Ran {
    let mut tx = Tx::new(conn);
    let (ok, reply) = job(Some(&mut tx));
    (ok, reply, tx.into_events())
}

/// Runs `job` in a savepoint of its own, rolled back if the job fails; with the error
/// if the savepoint could not be opened or ended.
fn in_savepoint(conn: &Connection, job: Job) -> (bool, Reply, Vec<Event>, Option<Error>) {
    if let Err(e) = begin_savepoint(conn) {
        let (_, reply) = job(None);
        return (false, reply, Vec::new(), Some(savepoint_failed(e)));
    }
    let (ok, reply, events) = run_job(conn, job);
    let failure = end_savepoint(conn, ok).err().map(savepoint_failed);
    (ok, reply, events, failure)
}

/// Opens the savepoint `job`, which `end_savepoint` ends.
fn begin_savepoint(conn: &Connection) -> rusqlite::Result<()> {
    exec(conn, "SAVEPOINT job")
}

fn savepoint_failed(e: rusqlite::Error) -> Error {
    Error::internal(format!("savepoint: {e}"))
}

/// Ends the savepoint `job`: kept if its write succeeded, else rolled back.
fn end_savepoint(conn: &Connection, ok: bool) -> rusqlite::Result<()> {
    if ok {
        exec(conn, "RELEASE job")
    } else {
        exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Hears the size of each group commit (and nothing else).
    #[derive(Default)]
    pub(crate) struct Batches(Mutex<Vec<usize>>);

    impl CommitListener for Batches {
        fn writer_started(&self, _: Option<i64>) {}
        fn writer_idle(&self, _: Option<i64>) {}
        fn before_commit(&self, _: &[Event]) {}
        fn after_commit(&self, _: &Connection, _: Option<i64>, _: &[Event]) {}
        fn commit_failed(&self, _: &[Event]) {}
        fn batch_committed(&self, writes: usize, _: std::time::Duration) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(writes);
        }
    }

    /// While the checkpointer holds the bulk lane (to copy the last of a long WAL),
    /// other writes still commit; the bulk ones wait for the release.
    #[test]
    fn while_the_bulk_lane_is_held_other_writes_still_commit() {
        let (writer, thread, _) = on_table_t();
        let wal = writer.wal();
        // An idle writer answers within GENERATION_CHECK_EVERY.
        let held = wal.hold_bulk(GENERATION_CHECK_EVERY * 3);
        assert!(held.is_some());

        let mut bulk = writer.submit(Lane::Bulk, insert("create"));
        let decision = writer.submit(Lane::Prompt, insert("decision"));
        decision
            .blocking_recv()
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        thread::sleep(HOLD_POLL * 50);
        assert!(
            matches!(bulk.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            "a create committed while the bulk lane was held"
        );

        drop(held);
        bulk.blocking_recv()
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = writer
            .run_blocking(|tx| {
                let mut stmt = tx.prepare("SELECT name FROM t ORDER BY id")?;
                let names = stmt.query_map([], |r| r.get(0))?;
                Ok(names.collect::<rusqlite::Result<_>>()?)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names, ["decision", "create"]);
        drop(writer);
        thread
            .join()
            .unwrap_or_else(|_| panic!("the writer panicked"));
    }

    /// A hold ends with its holder, however that ends: a checkpointer that panicked
    /// mid-copy does not leave the creates held for ever.
    #[test]
    fn a_hold_ends_with_its_holder_even_one_that_panics() {
        let (writer, thread, _) = on_table_t();
        let wal = writer.wal();
        let holder = thread::spawn(move || {
            let _held = wal.hold_bulk(GENERATION_CHECK_EVERY * 3);
            panic!("the holder failed mid-copy");
        });
        assert!(holder.join().is_err());

        let (done, committed) = mpsc::channel();
        let bulk = writer.clone();
        thread::spawn(move || {
            let _ = done.send(bulk.run_blocking_bulk(insert("create")));
        });
        let result = committed
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("the bulk lane is still held"));
        result.unwrap_or_else(|e| panic!("{e}"));
        drop(writer);
        thread
            .join()
            .unwrap_or_else(|_| panic!("the writer panicked"));
    }

    /// A writer on a fresh in-memory table `t`, and the sizes of its group commits.
    fn on_table_t() -> (Writer, thread::JoinHandle<()>, Arc<Batches>) {
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .unwrap_or_else(|e| panic!("{e}"));
        let batches = Arc::new(Batches::default());
        let (writer, thread) = Writer::start(conn, Arc::clone(&batches) as Arc<dyn CommitListener>)
            .unwrap_or_else(|e| panic!("{e}"));
        (writer, thread, batches)
    }

    fn insert(name: &'static str) -> impl FnOnce(&mut Tx) -> Result<()> + Send {
        move |tx| {
            tx.execute("INSERT INTO t (name) VALUES (?1)", [name])?;
            Ok(())
        }
    }

    /// A writer on a fresh in-memory table `t`, held inside a first write (which
    /// inserts "first") so that what is submitted meanwhile queues behind it.
    struct Held {
        writer: Writer,
        thread: thread::JoinHandle<()>,
        batches: Arc<Batches>,
        release: mpsc::Sender<()>,
        first: Option<oneshot::Receiver<Result<()>>>,
    }

    impl Held {
        fn start() -> Held {
            let (writer, thread, batches) = on_table_t();
            let (started, wait_started) = mpsc::channel();
            let (release, held) = mpsc::channel::<()>();
            let first = writer.submit(Lane::Prompt, move |tx| {
                let _ = started.send(());
                let _ = held.recv();
                insert("first")(tx)
            });
            wait_started.recv().unwrap_or_else(|e| panic!("{e}"));
            Held {
                writer,
                thread,
                batches,
                release,
                first: Some(first),
            }
        }

        /// Lets the first write commit, then the writes queued behind it.
        fn release(&mut self) {
            let _ = self.release.send(());
            if let Some(first) = self.first.take() {
                assert!(outcome(first).is_ok());
            }
        }

        fn names(&self) -> Vec<String> {
            let read = self.writer.run_blocking(|tx| {
                let mut names = tx.prepare("SELECT name FROM t ORDER BY id")?;
                let names = names.query_map([], |r| r.get::<_, String>(0))?;
                Ok(names.collect::<rusqlite::Result<Vec<_>>>()?)
            });
            read.unwrap_or_else(|e| panic!("{e}"))
        }

        fn stop(self) {
            drop(self.writer);
            self.thread
                .join()
                .unwrap_or_else(|_| panic!("the writer panicked"));
        }
    }

    fn outcome(reply: oneshot::Receiver<Result<()>>) -> Result<()> {
        reply.blocking_recv().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The answer of a write that was in a group commit lost as a whole.
    fn nothing_saved(outcome: &Result<()>) -> bool {
        matches!(outcome, Err(Error::Internal(m)) if m.contains("nothing was saved"))
    }

    #[test]
    fn a_prompt_write_commits_ahead_of_the_creates_queued_with_it() {
        let mut held = Held::start();
        let queued = [
            held.writer.submit(Lane::Bulk, insert("create 1")),
            held.writer.submit(Lane::Bulk, insert("create 2")),
            held.writer.submit(Lane::Prompt, insert("decision")),
            held.writer.submit(Lane::Bulk, insert("create 3")),
        ];
        held.release();
        for reply in queued {
            outcome(reply).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(
            held.names(),
            ["first", "decision", "create 1", "create 2", "create 3"]
        );
        // The decision in a commit of its own, then the creates in one.
        let sizes = held
            .batches
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        assert_eq!(sizes[..3], [1, 1, 3], "group commits: {sizes:?}");
        assert_eq!(held.writer.wal().committed.load(Ordering::Relaxed), 6);
        held.stop();
    }

    #[test]
    fn a_create_refused_before_it_writes_leaves_its_group_to_commit() {
        let mut held = Held::start();
        let replies = [
            held.writer.submit(Lane::Bulk, insert("create 1")),
            held.writer
                .submit(Lane::Bulk, |_| Err(Error::validation("refused"))),
            held.writer.submit(Lane::Bulk, insert("create 2")),
        ];
        held.release();
        let [one, refused, two] = replies.map(outcome);
        assert!(one.is_ok() && two.is_ok(), "{one:?} {two:?}");
        assert!(matches!(refused, Err(Error::Validation(_))), "{refused:?}");
        assert_eq!(held.names(), ["first", "create 1", "create 2"]);
        held.stop();
    }

    /// A bulk write in a savepoint of its own (the indexer's) that fails after it
    /// wrote is rolled back alone: the creates committed with it are kept.
    #[test]
    fn a_bulk_write_in_its_own_savepoint_fails_alone() {
        let mut held = Held::start();
        let replies = [
            held.writer.submit(Lane::Bulk, insert("create 1")),
            held.writer.submit_as(Lane::Bulk, true, |tx| {
                insert("half done")(tx)?;
                Err(Error::internal("failed after writing"))
            }),
            held.writer.submit(Lane::Bulk, insert("create 2")),
        ];
        held.release();
        let [one, half, two] = replies.map(outcome);
        assert!(one.is_ok() && two.is_ok(), "{one:?} {two:?}");
        assert!(
            matches!(&half, Err(Error::Internal(m)) if m == "failed after writing"),
            "{half:?}"
        );
        assert_eq!(held.names(), ["first", "create 1", "create 2"]);
        held.stop();
    }

    #[test]
    fn a_create_that_fails_after_writing_takes_its_whole_group_down() {
        let mut held = Held::start();
        let replies = [
            held.writer.submit(Lane::Bulk, insert("create 1")),
            held.writer.submit(Lane::Bulk, |tx| {
                insert("half done")(tx)?;
                Err(Error::internal("failed after writing"))
            }),
            held.writer.submit(Lane::Bulk, insert("create 2")),
            held.writer.submit(Lane::Prompt, insert("decision")),
        ];
        held.release();
        let [one, half, two, decision] = replies.map(outcome);
        // The prompt lane commits on its own; of the creates, nothing is saved and
        // every one is told so.
        assert!(decision.is_ok(), "{decision:?}");
        assert!(
            matches!(&half, Err(Error::Internal(m)) if m == "failed after writing"),
            "{half:?}"
        );
        for failed in [one, two] {
            assert!(nothing_saved(&failed), "{failed:?}");
        }
        assert_eq!(held.names(), ["first", "decision"]);
        // The next group commits as usual.
        let after = held.writer.submit(Lane::Bulk, insert("create 3"));
        assert!(outcome(after).is_ok());
        assert_eq!(held.names(), ["first", "decision", "create 3"]);
        held.stop();
    }

    /// A full disk (here a page limit), an I/O error or memory running out can make
    /// SQLite roll the whole transaction back itself, savepoints and all. The writes
    /// that ran before it in the group are then lost, and the ones after it must not
    /// run outside a transaction, each committing on its own while told it failed.
    #[test]
    fn a_group_that_sqlite_rolls_back_itself_is_reported_lost_as_a_whole() {
        let mut held = Held::start();
        let replies = [
            held.writer.submit(Lane::Prompt, insert("before")),
            held.writer.submit(Lane::Prompt, |tx| {
                let pages: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                set_max_page_count(tx, pages)?;
                tx.execute("INSERT INTO t (name) VALUES (zeroblob(1000000))", [])?;
                Ok(())
            }),
            held.writer.submit(Lane::Prompt, insert("after")),
        ];
        held.release();
        let [before, full, after] = replies.map(outcome);
        assert!(
            matches!(&full, Err(Error::Internal(m)) if m.contains("full")),
            "{full:?}"
        );
        for lost in [before, after] {
            assert!(nothing_saved(&lost), "{lost:?}");
        }
        assert_eq!(held.names(), ["first"]);
        // The next group commits as usual.
        let unlimited = held
            .writer
            .run_blocking(|tx| set_max_page_count(tx, i64::from(u32::MAX - 1)));
        unlimited.unwrap_or_else(|e| panic!("{e}"));
        let next = held.writer.submit(Lane::Prompt, insert("next"));
        assert!(outcome(next).is_ok());
        assert_eq!(held.names(), ["first", "next"]);
        held.stop();
    }

    fn set_max_page_count(tx: &mut Tx, pages: i64) -> Result<()> {
        tx.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }
}
