//! The single writer: one thread owns the only writing connection and commits every
//! write that is waiting at that moment in one transaction (group commit), so one
//! fsync acknowledges many writes. Each write runs inside its own savepoint: a write
//! that fails is rolled back alone and its neighbours still commit. Callers hear back
//! only after the commit is on disk. Around each commit it tells its [`CommitListener`]
//! (in `hitl serve`, `crate::memory`, which keeps what the server trusts without
//! reading the database and wakes what waits on a change); `db` itself depends on
//! nothing above it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

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

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    alive: Arc<AtomicBool>,
}

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
        let (jobs, rx) = mpsc::channel::<Job>();
        let alive = Arc::new(AtomicBool::new(true));
        let guard = AliveGuard(Arc::clone(&alive));
        let handle = thread::Builder::new()
            .name("hitl-writer".into())
            .spawn(move || {
                let _guard = guard;
                run(conn, rx, memory.as_ref());
            })?;
        Ok((Writer { jobs, alive }, handle))
    }

    /// False once the writer thread has ended: nothing can be written any more.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    fn submit<R, F>(&self, f: F) -> oneshot::Receiver<Result<R>>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Job = Box::new(move |tx: Option<&mut Tx>| {
            let result = match tx {
                Some(tx) => catch_unwind(AssertUnwindSafe(|| f(tx)))
                    .unwrap_or_else(|_| Err(Error::internal("a write panicked"))),
                None => Err(Error::internal("the database could not start a write")),
            };
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit: Result<()>| {
                let _ = reply_tx.send(commit.and(result));
            });
            (ok, reply)
        });
        // If the thread is gone, the job (and its sender) is dropped and the receiver
        // reports it below.
        let _ = self.jobs.send(job);
        reply_rx
    }

    /// Runs `f` in the next group commit and returns its result once committed.
    pub async fn run<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        self.submit(f)
            .await
            .unwrap_or_else(|_| Err(Error::internal("the database writer has stopped")))
    }

    /// As `run`, for threads that are not async workers.
    pub fn run_blocking<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx) -> Result<R> + Send + 'static,
    {
        self.submit(f)
            .blocking_recv()
            .unwrap_or_else(|_| Err(Error::internal("the database writer has stopped")))
    }

    /// Queues `f` without waiting for it (bookkeeping such as "last used").
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(&mut Tx) -> Result<()> + Send + 'static,
    {
        drop(self.submit(f));
    }
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
    /// The group commit is on disk.
    fn after_commit(&self, generation: Option<i64>, events: &[Event]);
    /// The group commit failed: none of its events happened.
    fn commit_failed(&self, events: &[Event]);
    /// A group commit of `writes` writes is on disk; it took `took` from its `BEGIN`
    /// to the end of its `COMMIT` (for `/metrics`).
    fn batch_committed(&self, _writes: usize, _took: std::time::Duration) {}
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>, memory: &dyn CommitListener) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    memory.writer_started(auth_generation(&conn));
    loop {
        // Block for the first write, then take every write already waiting.
        match rx.recv_timeout(GENERATION_CHECK_EVERY) {
            Ok(first) => batch.push(first),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Key and user changes made by other processes.
                memory.writer_idle(auth_generation(&conn));
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch, memory);
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

fn commit_batch(conn: &Connection, batch: &mut Vec<Job>, memory: &dyn CommitListener) {
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

    // Replies wait for the commit; `Err` ones were already decided by a failed savepoint.
    let mut replies: Vec<(Reply, Option<Error>)> = Vec::with_capacity(batch.len());
    let mut events: Vec<Event> = Vec::new();
    for job in batch.drain(..) {
        if let Err(e) = exec(conn, "SAVEPOINT job") {
            let (_, reply) = job(None);
            replies.push((reply, Some(Error::internal(format!("savepoint: {e}")))));
            continue;
        }
        let mut tx = Tx::new(conn);
        let (ok, reply) = job(Some(&mut tx));
        let job_events = tx.into_events();
        let settled = if ok {
            exec(conn, "RELEASE job")
        } else {
            exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"))
        };
        match settled {
            Ok(()) => {
                if ok {
                    events.extend(job_events);
                }
                replies.push((reply, None));
            }
            Err(e) => replies.push((reply, Some(Error::internal(format!("savepoint: {e}"))))),
        }
    }

    memory.before_commit(&events);
    match exec(conn, "COMMIT") {
        Ok(()) => {
            memory.batch_committed(writes, started.elapsed());
            // Before anyone hears back: a revoked key fails from the next request on.
            memory.after_commit(auth_generation(conn), &events);
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
