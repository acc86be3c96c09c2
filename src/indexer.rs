//! The search indexer: one thread that adds new pauses to the search index
//! (`crate::db::search`) through the writer, in batches, about a second after they are
//! created, so that creating a pause never waits for the index. Its writes queue with
//! the creates (`Writer::run_blocking_bulk`), which they share commits with, each in a
//! savepoint of its own: a batch that fails is rolled back alone and never fails the
//! creates beside it. After an upgrade it catches up on every older pause, a batch at a
//! time between other writes.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use crate::db::{self, Writer};

/// Pauses indexed in one write: about half a millisecond of the writer's time (and a
/// millisecond or two merging, `db::search`), which every write committed with it waits
/// for (2,000 took 5 ms, and a decision that shared that commit woke its long-polls 5 ms
/// later).
const BATCH: u32 = 250;
/// How often new pauses are looked for.
const EVERY: Duration = Duration::from_secs(1);
/// After a failed write, before trying again.
const AFTER_FAILURE: Duration = Duration::from_secs(30);

pub struct Indexer {
    stop: mpsc::Sender<()>,
}

impl Indexer {
    pub fn start(writer: Writer) -> std::io::Result<(Indexer, thread::JoinHandle<()>)> {
        let (stop, rx) = mpsc::channel();
        let handle = thread::Builder::new()
            .name("hitl-indexer".into())
            .spawn(move || run(&writer, &rx))?;
        Ok((Indexer { stop }, handle))
    }

    pub fn stop(&self) {
        let _ = self.stop.send(());
    }
}

fn run(writer: &Writer, stop: &mpsc::Receiver<()>) {
    loop {
        let wait = match writer.run_blocking_bulk(|tx| db::search::index_next(tx, BATCH)) {
            // A whole batch: there may be more at once (catching up).
            Ok(added) if added == BATCH as usize => Duration::ZERO,
            Ok(_) => EVERY,
            Err(e) => {
                tracing::warn!(error = %e, "could not add pauses to the search index");
                AFTER_FAILURE
            }
        };
        match stop.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch that fails after it wrote leaves nothing behind (it runs in a savepoint
    /// of its own: `Writer::run_blocking_bulk`), and what was written beside it stays.
    #[test]
    fn a_failed_batch_leaves_nothing_behind() {
        let conn = db::in_memory().unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch(
            "INSERT INTO api_keys (id, name, prefix, key_hash, kind, webhook_secret, created_at)
                 VALUES ('key_a', 'a', 'hitl_a', x'00', 'agent', 'whsec_A', 0);
             INSERT INTO pauses (watch_id, key_id, status, action, created_at)
                 VALUES ('wch_a', 'key_a', 'pending', 'deploy', 0);
             CREATE TRIGGER no_progress BEFORE UPDATE ON meta
                 WHEN NEW.name = 'search_indexed'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;
             CREATE TABLE t (name TEXT);",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let batches = std::sync::Arc::new(crate::db::writer::tests::Batches::default());
        let (writer, thread) = Writer::start(conn, batches).unwrap_or_else(|e| panic!("{e}"));

        writer
            .run_blocking(|tx| {
                tx.execute("INSERT INTO t (name) VALUES ('a create')", [])?;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let batch = writer.run_blocking_bulk(|tx| db::search::index_next(tx, BATCH));
        assert!(batch.is_err(), "the trigger refused the batch");
        let (kept, indexed): (i64, i64) = writer
            .run_blocking(|tx| {
                Ok(tx.query_row(
                    "SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM pause_search_idx)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((kept, indexed), (1, 0));
        drop(writer);
        thread
            .join()
            .unwrap_or_else(|_| panic!("the writer panicked"));
    }
}
