//! The auth epoch: a counter that moves on whenever keys or users may have changed.
//! Moved by the writer's generation checks (`Memory::after_commit`, `writer_idle`), by
//! announcements that other processes write to `auth.changed` (watched with inotify,
//! taken in by `current`), and whenever the watch is unavailable. See `crate::memory`.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use inotify::{EventMask, Inotify, WatchMask};

/// The file in the data directory that commands rewrite after changing keys or users.
pub const FILE: &str = "auth.changed";

/// Tells a server running on `dir` that keys or users changed. Call after the commit.
pub fn announce(dir: &Path) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(FILE))?;
    // New content every time, so the write is a change whatever came before.
    let nonce: [u8; 16] = rand::random();
    file.write_all_at(&nonce, 0)
}

/// The auth epoch of a server.
pub struct Epoch {
    epoch: AtomicU64,
    /// `None` when inotify is unavailable: then nothing in memory is trusted.
    watched: Option<Mutex<Watched>>,
}

struct Watched {
    inotify: Inotify,
    path: PathBuf,
    /// The watch was lost and could not be set again: nothing in memory is trusted.
    lost: bool,
    buffer: [u8; 1024],
}

const MASK: WatchMask = WatchMask::MODIFY
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF);

impl Epoch {
    /// Watches `auth.changed` in `dir` (creating it). Without inotify the server still
    /// works, reading the database for every authentication.
    pub fn new(dir: &Path) -> Epoch {
        let path = dir.join(FILE);
        let watched = announce(dir)
            .and_then(|()| Inotify::init())
            .and_then(|inotify| {
                inotify.watches().add(&path, MASK)?;
                Ok(inotify)
            });
        let watched = match watched {
            Ok(inotify) => Some(Mutex::new(Watched {
                inotify,
                path,
                lost: false,
                buffer: [0; 1024],
            })),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch {}; every request will read the keys from the database", path.display());
                None
            }
        };
        Epoch {
            epoch: AtomicU64::new(0),
            watched,
        }
    }

    /// Moves the epoch on: nothing cached before is trusted.
    pub fn bump(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The epoch now, after taking in any announcement already written. Nothing
    /// cached under an older epoch may be trusted. One non-blocking read.
    pub fn current(&self) -> u64 {
        let Some(watched) = &self.watched else {
            return self.bump();
        };
        // Held while reading and bumping, so that a caller who finds the queue empty
        // because another just emptied it also sees that caller's bump.
        let mut guard = watched.lock().unwrap_or_else(|e| e.into_inner());
        let Watched {
            inotify,
            path,
            lost,
            buffer,
        } = &mut *guard;
        if *lost {
            return self.bump();
        }
        let mut changed = false;
        let mut rewatch = false;
        loop {
            match inotify.read_events(buffer) {
                Ok(events) => {
                    for event in events {
                        changed = true;
                        rewatch |= event.mask.intersects(
                            EventMask::IGNORED
                                | EventMask::DELETE_SELF
                                | EventMask::MOVE_SELF
                                | EventMask::Q_OVERFLOW,
                        );
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the watch of {}", path.display());
                    changed = true;
                    rewatch = true;
                    break;
                }
            }
        }
        if rewatch {
            // The file went away (or events were lost): watch it again, re-created.
            let again = path
                .parent()
                .map_or(Ok(()), announce)
                .and_then(|()| inotify.watches().add(&*path, MASK).map(|_| ()));
            if let Err(e) = again {
                tracing::warn!(error = %e, "cannot watch {} again; every request will read the keys from the database", path.display());
                *lost = true;
            }
        }
        if changed {
            self.bump()
        } else {
            self.epoch.load(Ordering::Acquire)
        }
    }
}

/// The database's auth generation as the writer last saw it. Triggers bump the
/// generation on every change to a key or a user, made by any process.
#[derive(Default)]
pub struct SeenGeneration(Mutex<Option<i64>>);

impl SeenGeneration {
    /// Takes in the generation read now; true when it moved since last time.
    /// Unreadable (`None`) counts as moved: nothing kept is trusted until it reads again.
    pub fn moved(&self, now: Option<i64>) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let moved = now.is_none() || now != *seen;
        *seen = now;
        moved
    }

    /// The generation read last.
    pub fn get(&self) -> Option<i64> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes in the generation without calling it a move (the writer starting).
    pub fn start(&self, now: Option<i64>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_moves_the_epoch_once() {
        let dir = tempfile::tempdir().unwrap();
        let watch = Epoch::new(dir.path());
        let first = watch.current();
        assert_eq!(watch.current(), first, "nothing happened");
        announce(dir.path()).unwrap();
        let second = watch.current();
        assert_ne!(second, first);
        assert_eq!(watch.current(), second);
    }

    #[test]
    fn a_removed_file_is_watched_again() {
        let dir = tempfile::tempdir().unwrap();
        let watch = Epoch::new(dir.path());
        let first = watch.current();
        std::fs::remove_file(dir.path().join(FILE)).unwrap();
        let second = watch.current();
        assert_ne!(second, first);
        let third = watch.current();
        announce(dir.path()).unwrap();
        assert_ne!(watch.current(), third, "the new file is watched");
    }
}
