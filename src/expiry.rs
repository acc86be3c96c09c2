//! The expiry timer: one thread that sleeps until the earliest pending pause's
//! `expiresAt` (or reminder, or escalation), then ends every due pause as its
//! `onTimeout` says through the writer (which wakes its waiters), and sends the due
//! reminders and escalations. It runs at start-up too, so pauses that expired while the server was
//! down are expired at once. Once an hour it also forgets old Idempotency-Keys and
//! sessions that can no longer be used, and with `--retention` purges the content of
//! pauses decided longer ago than that.

use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::thread;
use std::time::Duration;

use crate::clock::{self, Millis};
use crate::db::{Pool, Writer};
use crate::domain::outbox::Channels;
use crate::domain::{self, pauses, retention, sessions};

const BATCH: u32 = 500;
const IDLE_CHECK: Duration = Duration::from_secs(60);
const HOUSEKEEPING_EVERY_MS: Millis = 3_600_000;

enum Msg {
    /// A timer now acts on a pause at this time (its deadline, reminder or escalation).
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
        retention_ms: Option<Millis>,
    ) -> std::io::Result<(Expiry, thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel();
        let handle = thread::Builder::new()
            .name("hitl-expiry".into())
            .spawn(move || run(&reads, &writer, &rx, channels, retention_ms))?;
        Ok((Expiry { tx }, handle))
    }

    pub fn deadline(&self, at: Millis) {
        let _ = self.tx.send(Msg::Deadline(at));
    }

    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

/// The timer thread's state between wake-ups.
struct Timer<'a> {
    reads: &'a Pool,
    writer: &'a Writer,
    rx: &'a mpsc::Receiver<Msg>,
    channels: Channels,
    retention_ms: Option<Millis>,
    /// The earliest deadline known; `None`: ask the database.
    next: Option<Option<Millis>>,
    last_housekeeping: Millis,
    /// Failed expiry writes in a row (for the back-off).
    failures: u32,
}

/// The thread should stop.
struct Stop;

fn run(
    reads: &Pool,
    writer: &Writer,
    rx: &mpsc::Receiver<Msg>,
    channels: Channels,
    retention_ms: Option<Millis>,
) {
    let mut timer = Timer {
        reads,
        writer,
        rx,
        channels,
        retention_ms,
        next: None,
        last_housekeeping: 0,
        failures: 0,
    };
    loop {
        let now = clock::now();
        timer.housekeeping(now);
        let due = timer.next_due(now);
        let step = if due.is_some_and(|at| at <= now) {
            timer.expire_due()
        } else {
            timer.sleep_until(due, now)
        };
        if let Err(Stop) = step {
            return;
        }
    }
}

impl Timer<'_> {
    /// Once an hour: forget old Idempotency-Keys and sessions that can no longer be used.
    fn housekeeping(&mut self, now: Millis) {
        if now - self.last_housekeeping < HOUSEKEEPING_EVERY_MS {
            return;
        }
        self.last_housekeeping = now;
        let cutoff = now - pauses::IDEMPOTENCY_WINDOW_MS;
        let pruned = self.writer.run_blocking(move |tx| {
            pauses::forget_idempotency_before(tx, cutoff)?;
            sessions::prune(tx, now)
        });
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "could not forget old idempotency keys and sessions");
        }
        if let Some(keep) = self.retention_ms {
            match retention::purge_before(self.writer, now - keep) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    purged = n,
                    "retention: removed the content of decided pauses"
                ),
                Err(e) => tracing::warn!(error = %e, "retention: could not purge"),
            }
        }
    }

    /// The earliest deadline, from memory or else from the database.
    fn next_due(&mut self, now: Millis) -> Option<Millis> {
        if let Some(due) = self.next {
            return due;
        }
        let read = self
            .reads
            .get()
            .map_err(domain::Error::from)
            .and_then(|conn| pauses::next_timer(&conn));
        match read {
            Ok(due) => {
                self.next = Some(due);
                due
            }
            Err(e) => {
                tracing::error!(error = %e, "expiry timer could not read the next deadline");
                Some(now + 1_000)
            }
        }
    }

    /// Expires what is due (a batch at a time), then asks the database again.
    fn expire_due(&mut self) -> Result<(), Stop> {
        let channels = self.channels;
        let expired = self.writer.run_blocking(move |tx| {
            let now = clock::now();
            // Expired first: an ended pause is neither reminded nor escalated.
            Ok(pauses::expire_due(tx, now, BATCH, &channels)?
                + pauses::nudge_due(tx, now, BATCH, &channels)?)
        });
        self.next = None;
        match expired {
            Ok(n) => {
                self.failures = 0;
                if n > 0 {
                    tracing::debug!(count = n, "expired, reminded or escalated pauses");
                }
                // A backlog (a server started after a long stop) is many batches: a
                // stop asked for meanwhile is heeded between two of them.
                if self.stop_requested() {
                    return Err(Stop);
                }
                Ok(())
            }
            Err(e) => {
                // Back off (up to a minute) rather than retry a failing write at once.
                self.failures += 1;
                tracing::error!(error = %e, "expiring pauses failed");
                let pause = Duration::from_secs(1 << self.failures.min(6)).min(IDLE_CHECK);
                match self.rx.recv_timeout(pause) {
                    Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => Err(Stop),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Whether a stop is waiting among the messages (deadlines need no keeping: the
    /// next one is read from the database again).
    fn stop_requested(&self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(Msg::Deadline(_)) => {}
                Ok(Msg::Stop) | Err(TryRecvError::Disconnected) => return true,
                Err(TryRecvError::Empty) => return false,
            }
        }
    }

    /// Sleeps until `due` (at most a minute), or until told of an earlier deadline.
    fn sleep_until(&mut self, due: Option<Millis>, now: Millis) -> Result<(), Stop> {
        let wait = due.map_or(IDLE_CHECK, |at| {
            Duration::from_millis((at - now).max(1) as u64).min(IDLE_CHECK)
        });
        match self.rx.recv_timeout(wait) {
            Ok(Msg::Deadline(at)) => {
                if let Some(known) = self.next {
                    self.next = Some(Some(known.map_or(at, |k| k.min(at))));
                }
            }
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return Err(Stop),
            // Re-read now and then, in case the database changed under us.
            Err(RecvTimeoutError::Timeout) if wait == IDLE_CHECK => self.next = None,
            Err(RecvTimeoutError::Timeout) => {}
        }
        Ok(())
    }
}
