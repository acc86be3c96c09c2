//! WAL checkpoints off the writer thread. SQLite would otherwise checkpoint inside
//! whichever commit crosses 1,000 WAL pages, and every write waiting behind that
//! commit would wait for the copy and its fsync too. Here a thread of its own copies
//! the WAL into the database now and then; the writer only appends.
//!
//! Not after every few writes, though: once the WAL is all copied, the next commit
//! starts it over, and writing a new WAL header costs that commit a second fsync. A
//! decision after a quiet spell would pay it every time. So the thread waits for
//! [`AFTER_WRITES`] writes, or [`AT_LEAST_EVERY`]. It looks every [`EVERY_BUSY`] while
//! writes come in, so that under load each copy, and the fsync of the database that
//! ends it, is small: the commits' own fsyncs wait behind it.
//!
//! Under steady writes, more is committed while it copies, and the WAL would never
//! be found all copied, so never start over: it grew by about 60 MB a second under
//! creates, each append to new ground costing the file system a zeroed page. So once
//! it is long ([`LONG_WAL`]) and a copy completes with writes committed during it, the
//! thread copies again what they added, until that is little, and then copies the
//! rest with the writer's bulk lane (creates) held ([`WalProgress::hold_bulk`]), so
//! that the next commit can start the WAL over. Decisions and the other writes still
//! commit during that last copy; if one did, the writer copies what it added itself
//! between two group commits ([`WalProgress::catch_up`]).

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::writer::WalProgress;

/// How often the thread looks at how much was written when nothing was since its last
/// look...
const EVERY: Duration = Duration::from_millis(500);
/// ... and while writes come in. Each copy ends with an fsync of the database, and the
/// WAL's own fsyncs (every commit's) queue behind it on the disk: under saturating
/// creates a copy every 500 ms wrote about 30 MB at once, and a decision committed
/// meanwhile waited up to 30 ms or more. By hand (300 decisions while creates flow):
/// a p99 of 10–24 ms with a look every 500 ms, 6–9 ms every 20 ms, 5–6 ms every 10.
const EVERY_BUSY: Duration = Duration::from_millis(10);
/// Checkpoint once this many writes have committed since the last checkpoint...
const AFTER_WRITES: u64 = 100;
/// ... or when any has and the last checkpoint is this old.
const AT_LEAST_EVERY: Duration = Duration::from_secs(60);
/// Under steady writes, once the WAL holds this many frames (48 MiB of 4 KiB pages,
/// under `journal_size_limit`), it is made to start over. Not sooner: the writer's
/// share of that holds up the writes queued behind it for a few milliseconds.
const LONG_WAL: i64 = if cfg!(test) { 64 } else { 12_288 };
/// Then a copy is followed by copies of what was added meanwhile until one copies no
/// more than this many frames (1 MiB), or this many copies were made.
const FEW_FRAMES: i64 = 256;
const MAX_PASSES: u32 = 8;

pub struct Checkpointer {
    stop: mpsc::Sender<()>,
    handle: thread::JoinHandle<()>,
}

impl Checkpointer {
    /// `wal`: what the writer shares ([`super::Writer::wal`]).
    pub fn start(conn: Connection, wal: Arc<WalProgress>) -> std::io::Result<Checkpointer> {
        let (stop, rx) = mpsc::channel();
        let handle = thread::Builder::new()
            .name("hitl-checkpoint".into())
            .spawn(move || run(&conn, &rx, &wal))?;
        Ok(Checkpointer { stop, handle })
    }

    /// Runs a last checkpoint and waits for the thread to end.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.handle.join();
    }
}

/// Copies what it can of the WAL into the database: `(frames in the WAL, frames
/// copied)`. PASSIVE never blocks readers or the writer; what a reader still needed is
/// left for a later copy.
pub(super) fn passive(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")?
        .query_row([], |r| Ok((r.get(1)?, r.get(2)?)))
}

fn run(conn: &Connection, stop: &mpsc::Receiver<()>, wal: &WalProgress) {
    // The writer's count at the last complete copy, and when that was.
    let (mut copied_writes, mut copied_at) = (0, Instant::now());
    let (mut seen, mut wait) = (0, EVERY);
    loop {
        let stopping = match stop.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        let writes = wal.committed.load(Ordering::Relaxed);
        (seen, wait) = (writes, next_look(writes - seen));
        let pending = writes - copied_writes;
        let due = pending >= AFTER_WRITES || (pending > 0 && copied_at.elapsed() >= AT_LEAST_EVERY);
        if !(due || stopping) {
            continue;
        }
        // Copy; while writes go on, copy again what they added meanwhile, until that
        // is little; then copy the last of it with the creates held (`last_copy`).
        let mut writes = writes;
        let mut frames_before = 0;
        for pass in 1..=MAX_PASSES {
            match passive(conn) {
                Ok((in_wal, copied_now)) if copied_now >= in_wal => {
                    (copied_writes, copied_at) = (writes, Instant::now());
                    let now = wal.committed.load(Ordering::Relaxed);
                    // Nothing committed during the copy (the next commit starts the
                    // WAL over), the WAL already started over, or it is not long yet.
                    if now == writes || in_wal < frames_before || in_wal < LONG_WAL {
                        break;
                    }
                    let added = in_wal - frames_before;
                    if added <= FEW_FRAMES || pass == MAX_PASSES {
                        last_copy(conn, wal);
                        break;
                    }
                    (writes, frames_before) = (now, in_wal);
                }
                // A reader still needed part of it: copied at the next look.
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                    break;
                }
            }
        }
        if stopping {
            return;
        }
    }
}

/// When to look again, given how many writes committed since the last look.
fn next_look(written: u64) -> Duration {
    if written > 0 {
        EVERY_BUSY
    } else {
        EVERY
    }
}

/// How long the last copy waits for the writer to hold its bulk lane (it does so
/// once its current group commit is done) before leaving the copy to the writer.
const HOLD_WAIT: Duration = Duration::from_secs(1);

/// Copies the last of a long WAL with the writer's bulk lane held, so that the next
/// commit finds it all copied and starts it over. A write committed during the copy
/// (any other lane's) leaves what it added, which the writer then copies itself.
fn last_copy(conn: &Connection, wal: &WalProgress) {
    let Some(held) = wal.hold_bulk(HOLD_WAIT) else {
        wal.catch_up.store(true, Ordering::Relaxed);
        return;
    };
    let before = wal.committed.load(Ordering::Relaxed);
    let copied = passive(conn);
    let during = wal.committed.load(Ordering::Relaxed) != before;
    drop(held);
    match copied {
        Ok((in_wal, copied)) if copied >= in_wal && !during => {}
        Ok(_) => wal.catch_up.store(true, Ordering::Relaxed),
        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::writer::tests::Batches;
    use crate::db::{Store, Writer};

    fn writes(writer: &Writer, count: usize) {
        for _ in 0..count {
            write(writer, false);
        }
    }

    /// One 2 KB row, in the bulk lane (as creates) or the other.
    fn write(writer: &Writer, bulk: bool) {
        let insert = |tx: &mut crate::db::Tx| {
            tx.execute("INSERT INTO t (body) VALUES (zeroblob(2000))", [])?;
            Ok(())
        };
        if bulk {
            writer.run_blocking_bulk(insert)
        } else {
            writer.run_blocking(insert)
        }
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// A store with a table `t`, its WAL empty, and a writer and checkpointer on it.
    fn started(dir: &std::path::Path) -> (Store, Writer, thread::JoinHandle<()>, Checkpointer) {
        let store = Store::open(dir).unwrap_or_else(|e| panic!("{e}"));
        let conn = store.connect_writer().unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
            .unwrap_or_else(|e| panic!("{e}"));
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap_or_else(|e| panic!("{e}"));
        let (writer, thread) =
            Writer::start(conn, Arc::new(Batches::default())).unwrap_or_else(|e| panic!("{e}"));
        let checkpointer = store
            .start_checkpointer(&writer)
            .unwrap_or_else(|e| panic!("{e}"));
        (store, writer, thread, checkpointer)
    }

    fn stop(writer: Writer, thread: thread::JoinHandle<()>, checkpointer: Checkpointer) {
        checkpointer.stop();
        drop(writer);
        thread
            .join()
            .unwrap_or_else(|_| panic!("the writer panicked"));
    }

    #[test]
    fn the_wal_is_copied_back_after_a_hundred_writes_not_after_each() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (store, writer, thread, checkpointer) = started(dir.path());
        let size = || {
            std::fs::metadata(&store.db_path)
                .unwrap_or_else(|e| panic!("{e}"))
                .len()
        };
        let before = size();

        // A few writes stay in the WAL across several looks.
        writes(&writer, 20);
        thread::sleep(EVERY * 3);
        assert_eq!(size(), before, "checkpointed after 20 writes");

        // The hundredth is copied into the database with the rest at the next look.
        // (Not more than a hundred: a look while they commit copies the first
        // hundred, and leaves what follows for the next hundred.)
        writes(&writer, 80);
        // 100 rows of 2,000 bytes: 50 pages (the copy may be seen half done).
        let copied = before + 50 * 4096;
        let deadline = Instant::now() + EVERY * 10;
        while size() < copied && Instant::now() < deadline {
            thread::sleep(EVERY / 5);
        }
        assert!(size() >= copied, "not checkpointed: {} bytes", size());
        stop(writer, thread, checkpointer);
    }

    #[test]
    fn it_looks_often_while_writes_come_in_and_seldom_when_none_do() {
        assert_eq!(next_look(0), EVERY);
        assert_eq!(next_look(1), EVERY_BUSY);
        assert_eq!(next_look(5_000), EVERY_BUSY);
        assert!(EVERY_BUSY * 10 <= EVERY);
    }

    /// How many times the WAL started over while two threads wrote without a pause
    /// (in the bulk lane, as creates do, or the other), for the time of eight idle
    /// looks of the checkpointer.
    fn restarts_under_steady_writes(bulk: bool) -> u32 {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (store, writer, thread, checkpointer) = started(dir.path());
        // The WAL header's checkpoint sequence number (bytes 12..16, big-endian)
        // counts the times the WAL started over.
        let wal = store.db_path.with_extension("db-wal");
        let restarts = || {
            let header = std::fs::read(&wal).unwrap_or_else(|e| panic!("{e}"));
            let number: [u8; 4] = header
                .get(12..16)
                .and_then(|b| b.try_into().ok())
                .unwrap_or_else(|| panic!("no WAL header"));
            u32::from_be_bytes(number)
        };
        writes(&writer, 1);
        let before = restarts();

        // Two threads write without a pause, so the writer always has one queued
        // and the checkpointer never finds the WAL all copied by itself.
        let until = Instant::now() + EVERY * 8;
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while Instant::now() < until {
                        write(&writer, bulk);
                    }
                });
            }
        });
        let after = restarts();
        stop(writer, thread, checkpointer);
        after - before
    }

    /// Creates: the checkpointer copies the last of the WAL with them held.
    #[test]
    fn under_creates_that_never_pause_the_wal_still_starts_over() {
        let restarts = restarts_under_steady_writes(true);
        assert!(
            restarts >= 2,
            "the WAL started over {restarts} times in 4 s"
        );
    }

    /// Other writes commit during that last copy; the writer copies what they added.
    #[test]
    fn under_other_writes_that_never_pause_the_wal_still_starts_over() {
        let restarts = restarts_under_steady_writes(false);
        assert!(
            restarts >= 2,
            "the WAL started over {restarts} times in 4 s"
        );
    }
}
