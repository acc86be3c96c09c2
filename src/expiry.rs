//! The expiry timer: one thread that sleeps until the earliest pending pause's
//! `expiresAt`, then marks every due pause `expired` through the writer (which wakes
//! its waiters). It runs at start-up too, so pauses that expired while the server was
//! down are expired at once. Once an hour it also forgets old Idempotency-Keys and
//! sessions that can no longer be used.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use crate::clock::{self, Millis};
use crate::db::{Pool, Writer};
use crate::domain::outbox::Channels;
use crate::domain::{self, pauses, sessions};

const BATCH: u32 = 500;
const IDLE_CHECK: Duration = Duration::from_secs(60);
const HOUSEKEEPING_EVERY_MS: Millis = 3_600_000;

enum Msg {
    /// A pause now expires at this time.
    Deadline(Millis),
    Stop,
}

#[derive(Clone)]
pub struct Expiry {
    tx: mpsc::Sender<Msg>,
}

impl Expiry {
    pub fn start(
        reads: Pool,
        writer: Writer,
        channels: Channels,
    ) -> std::io::Result<(Expiry, thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel();
        let handle = thread::Builder::new()
            .name("hitl-expiry".into())
            .spawn(move || run(&reads, &writer, &rx, channels))?;
        Ok((Expiry { tx }, handle))
    }

    pub fn deadline(&self, at: Millis) {
        let _ = self.tx.send(Msg::Deadline(at));
    }

    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

fn next_from_db(reads: &Pool) -> domain::Result<Option<Millis>> {
    let conn = reads.get()?;
    pauses::next_expiry(&conn)
}

fn run(reads: &Pool, writer: &Writer, rx: &mpsc::Receiver<Msg>, channels: Channels) {
    // `None` means "ask the database".
    let mut next: Option<Option<Millis>> = None;
    let mut last_housekeeping = 0;
    let mut failures: u32 = 0;
    loop {
        let now = clock::now();
        if now - last_housekeeping >= HOUSEKEEPING_EVERY_MS {
            last_housekeeping = now;
            let cutoff = now - pauses::IDEMPOTENCY_WINDOW_MS;
            let pruned = writer.run_blocking(move |tx| {
                pauses::forget_idempotency_before(tx, cutoff)?;
                sessions::prune(tx, now)
            });
            if let Err(e) = pruned {
                tracing::warn!(error = %e, "could not forget old idempotency keys and sessions");
            }
        }
        let due = match next {
            Some(due) => due,
            None => match next_from_db(reads) {
                Ok(due) => {
                    next = Some(due);
                    due
                }
                Err(e) => {
                    tracing::error!(error = %e, "expiry timer could not read the next deadline");
                    Some(now + 1_000)
                }
            },
        };
        if due.is_some_and(|at| at <= now) {
            match writer
                .run_blocking(move |tx| pauses::expire_due(tx, clock::now(), BATCH, &channels))
            {
                Ok(n) => {
                    failures = 0;
                    if n > 0 {
                        tracing::debug!(count = n, "expired pauses");
                    }
                }
                Err(e) => {
                    // Back off (up to a minute) rather than retry a failing write at once.
                    failures += 1;
                    tracing::error!(error = %e, "expiring pauses failed");
                    let pause = Duration::from_secs(1 << failures.min(6)).min(IDLE_CHECK);
                    if let Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) =
                        rx.recv_timeout(pause)
                    {
                        return;
                    }
                }
            }
            next = None;
            continue;
        }
        let wait = due.map_or(IDLE_CHECK, |at| {
            Duration::from_millis((at - now).max(1) as u64).min(IDLE_CHECK)
        });
        match rx.recv_timeout(wait) {
            Ok(Msg::Deadline(at)) => {
                if let Some(known) = next {
                    next = Some(Some(known.map_or(at, |k| k.min(at))));
                }
            }
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            // Re-read now and then, in case the database changed under us.
            Err(RecvTimeoutError::Timeout) if wait == IDLE_CHECK => next = None,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}
