//! The search indexer: one thread that adds new pauses to the search index
//! (`crate::db::search`) through the writer, in batches, about a second after they are
//! created, so that creating a pause never waits for the index. Its writes queue with
//! the creates (`Writer::run_blocking_bulk`), which they share commits with; they fail
//! only on a database error. After an upgrade it catches up on every older pause, a
//! batch at a time between other writes.

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
