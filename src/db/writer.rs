//! The single writer: one thread owns the only writing connection and commits every
//! write that is waiting at that moment in one transaction (group commit), so one
//! fsync acknowledges many writes. Each write runs inside its own savepoint: a write
//! that fails is rolled back alone and its neighbours still commit. Callers hear back
//! only after the commit is on disk.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::Tx;
use crate::model::events::{Event, Sink, Stage};
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
    /// Starts the writer thread on `conn`. Events of committed writes go to `sink`.
    /// The thread ends when every `Writer` handle is dropped; join the returned handle
    /// to wait for the last commit.
    pub fn start(
        conn: Connection,
        sink: Sink,
    ) -> std::io::Result<(Writer, thread::JoinHandle<()>)> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let alive = Arc::new(AtomicBool::new(true));
        let guard = AliveGuard(Arc::clone(&alive));
        let handle = thread::Builder::new()
            .name("hitl-writer".into())
            .spawn(move || {
                let _guard = guard;
                run(conn, rx, sink);
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

/// How often an idle writer looks for key and user changes made by other processes.
const AUTH_CHECK_EVERY: Duration = Duration::from_secs(1);

fn run(conn: Connection, rx: mpsc::Receiver<Job>, sink: Sink) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut auth = AuthGeneration::read(&conn);
    loop {
        // Block for the first write, then take every write already waiting.
        match rx.recv_timeout(AUTH_CHECK_EVERY) {
            Ok(first) => batch.push(first),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                auth.check(&conn, &sink);
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
        commit_batch(&conn, &mut batch, &sink, &mut auth);
    }
}

/// The database's auth generation as last seen: when it moves (a key or a user
/// changed, here or in another process), `Event::AuthChanged` is published.
struct AuthGeneration(Option<i64>);

impl AuthGeneration {
    fn read(conn: &Connection) -> AuthGeneration {
        AuthGeneration(super::keys::auth_generation(conn).ok())
    }

    fn check(&mut self, conn: &Connection, sink: &Sink) {
        let now = super::keys::auth_generation(conn).ok();
        // Unreadable counts as changed: nothing cached is trusted until it reads again.
        if now.is_none() || now != self.0 {
            self.0 = now;
            sink(Stage::Committed, &Event::AuthChanged);
        }
    }
}

/// Runs one statement without parameters, prepared once per connection.
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Job>, sink: &Sink, auth: &mut AuthGeneration) {
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

    for event in &events {
        sink(Stage::Committing, event);
    }
    match exec(conn, "COMMIT") {
        Ok(()) => {
            // Before anyone hears back: a revoked key fails from the next request on.
            auth.check(conn, sink);
            for event in &events {
                sink(Stage::Committed, event);
            }
            for (reply, failure) in replies {
                reply(failure.map_or(Ok(()), Err));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            let _ = exec(conn, "ROLLBACK");
            for event in &events {
                sink(Stage::Failed, event);
            }
            // Keys were looked up inside this transaction: forget what it showed.
            sink(Stage::Failed, &Event::AuthChanged);
            for (reply, _) in replies {
                reply(Err(Error::internal(format!("commit: {e}"))));
            }
        }
    }
}
