//! WAL checkpoints off the writer thread. SQLite would otherwise checkpoint inside
//! whichever commit crosses 1,000 WAL pages, and every write waiting behind that
//! commit would wait for the copy and its fsync too. Here a thread of its own copies
//! the WAL into the database now and then; the writer only appends.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

const EVERY: Duration = Duration::from_millis(500);

pub struct Checkpointer {
    stop: mpsc::Sender<()>,
    handle: thread::JoinHandle<()>,
}

impl Checkpointer {
    pub fn start(conn: Connection) -> std::io::Result<Checkpointer> {
        let (stop, rx) = mpsc::channel();
        let handle = thread::Builder::new()
            .name("hitl-checkpoint".into())
            .spawn(move || run(&conn, &rx))?;
        Ok(Checkpointer { stop, handle })
    }

    /// Runs a last checkpoint and waits for the thread to end.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.handle.join();
    }
}

fn run(conn: &Connection, stop: &mpsc::Receiver<()>) {
    loop {
        let stopping = match stop.recv_timeout(EVERY) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        // PASSIVE never blocks readers or the writer; it copies what it can.
        let result: rusqlite::Result<(i64, i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            });
        if let Err(e) = result {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
        if stopping {
            return;
        }
    }
}
