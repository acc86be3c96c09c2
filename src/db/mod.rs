//! SQLite storage: connection setup, migrations, the read pool, the single writer and
//! the queries. Functions here take a connection and return domain types.

pub mod account_links;
pub mod audit;
pub mod backup;
pub mod chat;
mod checkpoint;
pub mod groups;
pub mod keys;
pub mod outbox;
pub mod pauses;
pub mod policies;
pub mod push;
pub mod routing;
pub mod rules;
pub mod search;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod stats;
pub mod telegram;
pub mod users;
pub mod writer;

use std::fs;
use std::io;
use std::ops::Deref;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use crate::model::events::Event;

pub use checkpoint::Checkpointer;
pub use writer::Writer;

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

impl From<rusqlite::Error> for crate::model::Error {
    fn from(e: rusqlite::Error) -> Self {
        crate::model::Error::Internal(format!("database: {e}"))
    }
}

impl From<r2d2::Error> for crate::model::Error {
    fn from(e: r2d2::Error) -> Self {
        crate::model::Error::Internal(format!("database pool: {e}"))
    }
}

/// The whole current schema, for a fresh database.
const SCHEMA: &str = include_str!("../../schema.sql");

/// Upgrade steps. `MIGRATIONS[i]` takes a database from version `i + 1` to `i + 2`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0002-web-page.sql"),
    include_str!("migrations/0003-notifier.sql"),
    include_str!("migrations/0004-questions.sql"),
    include_str!("migrations/0005-risk-summary.sql"),
    include_str!("migrations/0006-people-and-keys.sql"),
    include_str!("migrations/0007-on-timeout.sql"),
    include_str!("migrations/0008-quorum-and-owner.sql"),
    include_str!("migrations/0009-routing.sql"),
    include_str!("migrations/0010-decided-content.sql"),
    include_str!("migrations/0011-channels.sql"),
    include_str!("migrations/0012-audit-chain.sql"),
    include_str!("migrations/0013-retention.sql"),
    include_str!("migrations/0014-pending-count-and-search.sql"),
    include_str!("migrations/0015-checks-without-in-lists.sql"),
    include_str!("migrations/0016-search-merges-on-request.sql"),
    include_str!("migrations/0017-bounded-reads.sql"),
    include_str!("migrations/0018-audit-actor-and-event.sql"),
    include_str!("migrations/0019-tags-by-status.sql"),
];

/// The schema version this binary writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

const DB_FILE: &str = "hitl.db";
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection. rusqlite keeps 16; the server's writer
/// alone runs more distinct statements than that under mixed load, and a statement
/// evicted is parsed again: at 16, parsing was a third of the writer's time in
/// `bench/soak.py`.
const STATEMENT_CACHE: usize = 256;
/// Each pooled reader's page cache, in KiB (SQLite's default is about 2 MB). While
/// anything is written, a reader finds the database changed at the start of nearly
/// every read and drops its whole cache, so a larger one saves little; but each cache
/// filled by a read that touches many pages stays allocated until that reader's next
/// read, one per pooled connection.
const READ_CACHE_KIB: i64 = 512;
/// The writer's page cache, in KiB: every write of the server goes through it.
const WRITE_CACHE_KIB: i64 = 16_384;

/// A write in progress: the connection inside the writer's transaction (or the CLI's),
/// and the events to publish once it commits.
pub struct Tx<'c> {
    conn: &'c Connection,
    events: Vec<Event>,
}

impl<'c> Tx<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        Tx {
            conn,
            events: Vec::new(),
        }
    }

    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// Why the store could not be opened, worded for one line on a terminal.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data directory {0} exists but is not a directory")]
    NotADirectory(PathBuf),
    #[error("cannot create data directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write to data directory {path}: {source}")]
    NotWritable { path: PathBuf, source: io::Error },
    #[error("cannot open database {path}: {detail}")]
    Open { path: PathBuf, detail: String },
    #[error("database {path} has schema version {found}, but this hitl only knows versions up to {known}: it was written by a newer hitl; run that version or restore a backup")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{path} is not a hitl database (it has tables but no hitl schema version)")]
    Foreign { path: PathBuf },
    #[error("another hitl serve is already using the data directory {0}")]
    Busy(PathBuf),
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: io::Error },
}

/// Held while `hitl serve` runs; the lock ends with the process, however it ends.
pub struct ServeLock {
    _file: fs::File,
}

/// The data directory and its database, migrated to the current schema.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
    pub db_path: PathBuf,
    /// Litestream replicates this database (`hitl serve --litestream`, or the setting
    /// the last server stored): no connection checkpoints the WAL, Litestream does.
    pub litestream: bool,
}

impl Store {
    /// One `hitl serve` per data directory: a second one would not wake the first
    /// one's waiters and would keep pauses in memory that the first one changes.
    /// Taken before the database is opened, so a second server upgrades nothing.
    pub fn lock_for_serving(dir: &Path) -> Result<ServeLock, OpenError> {
        prepare_dir(dir)?;
        let path = dir.join("serve.lock");
        let lock_err = |source| OpenError::Lock {
            path: path.clone(),
            source,
        };
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => Ok(ServeLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(OpenError::Busy(dir.to_path_buf())),
            Err(fs::TryLockError::Error(e)) => Err(lock_err(e)),
        }
    }

    /// Creates the data directory (mode 0700) if needed, then creates or upgrades the
    /// database in it. Checkpoints are left to Litestream when the last `hitl serve`
    /// on it ran with `--litestream` (the command line's way to know).
    pub fn open(dir: &Path) -> Result<Store, OpenError> {
        Store::open_with(dir, None)
    }

    /// As `open`, for `hitl serve`: its own `--litestream` decides, not the stored one.
    pub fn open_for_serving(dir: &Path, litestream: bool) -> Result<Store, OpenError> {
        Store::open_with(dir, Some(litestream))
    }

    fn open_with(dir: &Path, litestream: Option<bool>) -> Result<Store, OpenError> {
        prepare_dir(dir)?;
        let db_path = dir.join(DB_FILE);
        let open_err = |e: rusqlite::Error| OpenError::Open {
            path: db_path.clone(),
            detail: describe_sqlite_error(&e),
        };
        let mut conn = Connection::open(&db_path).map_err(open_err)?;
        // A new file gives pages freed by retention back to the file system; this must
        // come before its first table and before WAL mode (a no-op on an existing one).
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(open_err)?;
        configure(&conn, false).map_err(open_err)?;
        let litestream = litestream.unwrap_or_else(|| stored_litestream(&conn));
        if litestream {
            leave_checkpoints(&conn).map_err(open_err)?;
        }
        migrate(&mut conn, &db_path)?;
        // The database holds webhook secrets and the mail-link key: owner only, for it,
        // its WAL and shared-memory files, and the directory (whoever made it).
        let private = |path: &Path, mode: u32| match fs::set_permissions(
            path,
            fs::Permissions::from_mode(mode),
        ) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(OpenError::NotWritable {
                path: path.to_path_buf(),
                source: e,
            }),
            _ => Ok(()),
        };
        private(dir, 0o700)?;
        for suffix in ["", "-wal", "-shm"] {
            private(&dir.join(format!("{DB_FILE}{suffix}")), 0o600)?;
        }
        Ok(Store {
            dir: dir.to_path_buf(),
            db_path,
            litestream,
        })
    }

    /// The database already in `dir`, as it is: not created, not upgraded (for a
    /// backup of a running server's data).
    pub fn existing(dir: &Path) -> Result<Store, OpenError> {
        let db_path = dir.join(DB_FILE);
        if !db_path.is_file() {
            return Err(OpenError::Open {
                path: db_path,
                detail: "there is no database here; check --data-dir".into(),
            });
        }
        Ok(Store {
            dir: dir.to_path_buf(),
            db_path,
            litestream: false,
        })
    }

    /// A connection for one write (the CLI and the writer thread use these).
    pub fn connect(&self) -> Result<Connection, crate::model::Error> {
        let conn = Connection::open_with_flags(
            &self.db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn, false)?;
        if self.litestream {
            leave_checkpoints(&conn)?;
        }
        Ok(conn)
    }

    /// The writer thread's connection: as `connect`, with a larger page cache, since
    /// every write of the server goes through it.
    pub fn connect_writer(&self) -> Result<Connection, crate::model::Error> {
        let conn = self.connect()?;
        conn.pragma_update(None, "cache_size", -WRITE_CACHE_KIB)?;
        // Each write runs in a savepoint; keep its journal in memory, not a temp file.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // The checkpointer thread copies the WAL back; commits only append to it.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // Once checkpointed, a WAL that grew during a burst is cut back to this size:
        // above the length at which the checkpointer has it start over under steady
        // writes, so that it is not cut and grown again each time.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        Ok(conn)
    }

    /// Starts the thread that checkpoints the WAL for `writer`.
    pub fn start_checkpointer(&self, writer: &Writer) -> Result<Checkpointer, crate::model::Error> {
        Checkpointer::start(self.connect()?, writer.wal()).map_err(crate::model::Error::internal)
    }

    /// The pool of read-only connections used by request handlers.
    pub fn read_pool(&self, size: u32) -> Result<Pool, crate::model::Error> {
        let litestream = self.litestream;
        let manager = SqliteConnectionManager::file(&self.db_path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(move |c| {
                configure(c, true)?;
                c.pragma_update(None, "cache_size", -READ_CACHE_KIB)?;
                if litestream {
                    leave_checkpoints(c)?;
                }
                Ok(())
            });
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            // A local SQLite connection does not go stale: skip the check-out query, and
            // keep each connection for the life of the server. (r2d2 would close one
            // idle for 10 minutes and every one 30 minutes old, and its replacement
            // would parse the schema and prepare its statements again.)
            .test_on_check_out(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connection_timeout(Duration::from_secs(15))
            .build(manager)?;
        Ok(pool)
    }
}

/// How SQLite would run `sql` (EXPLAIN QUERY PLAN): one line per step, as the sqlite3
/// shell shows them, for tests that a query reads through the index meant for it.
#[cfg(test)]
pub fn query_plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    let params = stmt.parameter_count();
    let nulls = vec![rusqlite::types::Null; params];
    stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get(3))
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

/// A fresh private in-memory database with the current schema and the usual
/// connection settings, for unit tests of the rules.
#[cfg(test)]
pub fn in_memory() -> Result<Connection, OpenError> {
    let path = Path::new(":memory:");
    let err = |e: rusqlite::Error| OpenError::Open {
        path: path.to_path_buf(),
        detail: describe_sqlite_error(&e),
    };
    let mut conn = Connection::open_in_memory().map_err(err)?;
    configure(&conn, false).map_err(err)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Per-connection settings. `busy_timeout` first, so the others wait for a lock too.
fn configure(conn: &Connection, read_only: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    // FULL: a commit is on disk (WAL fsynced) before anything is acknowledged.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if read_only {
        conn.pragma_update(None, "query_only", "ON")?;
    }
    Ok(())
}

/// For a database Litestream replicates: this connection never checkpoints the WAL,
/// neither when a commit makes it long nor when it is the last one to close. Litestream
/// checkpoints, once it has shipped the WAL's frames: its documentation asks
/// applications under write load to leave that to it.
fn leave_checkpoints(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    Ok(())
}

/// Whether the last `hitl serve` on this database ran with `--litestream` (false for a
/// new database, which has no settings table yet).
fn stored_litestream(conn: &Connection) -> bool {
    conn.query_row(
        "SELECT value FROM settings WHERE name = 'litestream'",
        [],
        |r| r.get::<_, String>(0),
    )
    .is_ok_and(|v| v == "true")
}

fn prepare_dir(dir: &Path) -> Result<(), OpenError> {
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => return Err(OpenError::NotADirectory(dir.to_path_buf())),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| OpenError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        Err(source) => {
            return Err(OpenError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })
        }
    }
    // Prove the directory takes new files (SQLite needs it for its WAL and journal).
    let probe = dir.join(".hitl-write-check");
    fs::write(&probe, b"")
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|source| OpenError::NotWritable {
            path: dir.to_path_buf(),
            source,
        })
}

fn describe_sqlite_error(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => "the file is not a SQLite database".into(),
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            "the database stayed locked by another process".into()
        }
        _ => e.to_string(),
    }
}

/// Brings the database to `SCHEMA_VERSION`: a fresh file gets `schema.sql`, an older
/// one each numbered step in turn, all in one transaction. A newer one is refused.
///
/// Foreign keys are not enforced while it runs (the setting cannot change inside a
/// transaction, so it is turned off before and on again after, whatever happened): a
/// step that rebuilds a table renames it away, and with enforcement on, SQLite would
/// rewrite the other tables' `REFERENCES` to the old name and check the drop of the
/// old table against them. The upgraded database is checked before it commits.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let err = |e: rusqlite::Error| OpenError::Open {
        path: path.to_path_buf(),
        detail: describe_sqlite_error(&e),
    };
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(err)?;
    let result = migrate_unenforced(conn, path);
    // A step that failed half-way may have left its own settings behind.
    let restored = conn
        .pragma_update(None, "legacy_alter_table", "OFF")
        .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
        .map_err(err);
    result.and(restored)
}

fn migrate_unenforced(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let err = |e: rusqlite::Error| OpenError::Open {
        path: path.to_path_buf(),
        detail: describe_sqlite_error(&e),
    };
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    if version > SCHEMA_VERSION {
        return Err(OpenError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(err)?;
        if tables > 0 {
            return Err(OpenError::Foreign {
                path: path.to_path_buf(),
            });
        }
        tx.execute_batch(SCHEMA).map_err(err)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(err)?;
    } else {
        for (i, step) in MIGRATIONS.iter().enumerate() {
            let to = i as i64 + 2;
            if version < to {
                tx.execute_batch(step).map_err(err)?;
                if to == 12 {
                    audit::chain_all(&tx).map_err(err)?;
                }
                if to == 15 {
                    // The step edited stored definitions: every connection reads them
                    // again once the schema version changes.
                    let cookie: i64 = tx
                        .query_row("PRAGMA schema_version", [], |r| r.get(0))
                        .map_err(err)?;
                    tx.pragma_update(None, "schema_version", cookie + 1)
                        .map_err(err)?;
                }
                tx.pragma_update(None, "user_version", to).map_err(err)?;
                tracing::info!(version = to, "upgraded database schema");
            }
        }
    }
    if (1..SCHEMA_VERSION).contains(&version) {
        let broken: i64 = tx
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        if broken > 0 {
            return Err(OpenError::Open {
                path: path.to_path_buf(),
                detail: format!(
                    "the upgrade would leave {broken} rows pointing at rows that do not exist; nothing was changed"
                ),
            });
        }
    }
    tx.commit().map_err(err)
}

/// Gives free pages back to the file system when the database has incremental
/// vacuum (every database made since retention came; older ones need one `hitl purge
/// --vacuum`). Returns whether it could.
pub fn give_back_space(conn: &Connection) -> rusqlite::Result<bool> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode != 2 {
        return Ok(false);
    }
    conn.execute_batch("PRAGMA incremental_vacuum")?;
    Ok(true)
}

/// The first id of an append-only `table` whose time `column` is at or after `at`.
/// Rows arrive in time order, so the ids are in time order too: a binary search of
/// about log2(rows) primary-key lookups finds it, with no index on the time.
pub fn first_id_at_or_after(
    conn: &Connection,
    table: &'static str,
    column: &'static str,
    at: crate::clock::Millis,
) -> crate::model::Result<Option<i64>> {
    let mut at_or_after = conn.prepare_cached(&format!(
        "SELECT id, {column} FROM {table} WHERE id >= ?1 ORDER BY id LIMIT 1"
    ))?;
    let mut row_from = |id: i64| -> rusqlite::Result<Option<(i64, i64)>> {
        use rusqlite::OptionalExtension;
        at_or_after
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    };
    // Apart: SQLite answers a lone min() or max() from the end of the b-tree, but
    // both in one query scan the whole table.
    let end = |f: &str| -> rusqlite::Result<Option<i64>> {
        conn.prepare_cached(&format!("SELECT {f}(id) FROM {table}"))?
            .query_row([], |r| r.get(0))
    };
    let (lo, hi) = (end("min")?, end("max")?);
    let (Some(mut lo), Some(mut hi)) = (lo, hi) else {
        return Ok(None);
    };
    if row_from(hi)?.is_none_or(|(_, t)| t < at) {
        return Ok(None);
    }
    // The smallest x in [lo, hi] whose first row at or after x is late enough: the
    // rows seen from x only get later as x grows, and hi's is late enough.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match row_from(mid)? {
            Some((_, t)) if t >= at => hi = mid,
            // Every x up to this row's id finds the same, too early, row.
            Some((id, _)) => lo = id + 1,
            None => break,
        }
    }
    Ok(row_from(lo)?.map(|(id, _)| id))
}

/// Runs `f` in one read transaction: one snapshot, and one round of file locking for
/// all its statements instead of one per statement.
pub fn read_tx<R>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> crate::model::Result<R>,
) -> crate::model::Result<R> {
    conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
    let result = f(conn);
    conn.prepare_cached(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })?
        .execute([])?;
    result
}

/// Runs `f` in one immediate transaction on `conn` (the CLI's way to write).
pub fn with_tx<R>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Tx) -> crate::model::Result<R>,
) -> crate::model::Result<R> {
    let txn = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let result = {
        let mut tx = Tx::new(&txn);
        f(&mut tx)?
    };
    txn.commit()?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite checks a CHECK's IN list of more than two values through a temporary
    /// table it builds in every INSERT; the tables each create writes list theirs with
    /// OR (version 15).
    #[test]
    fn inserting_a_pause_or_an_outbox_row_builds_no_temporary_table() {
        let conn = in_memory().unwrap_or_else(|e| panic!("{e}"));
        for table in ["pauses", "outbox", "audit", "pause_tags", "key_usage"] {
            let mut explain = conn
                .prepare(&format!("EXPLAIN INSERT INTO {table} DEFAULT VALUES"))
                .unwrap_or_else(|e| panic!("{e}"));
            let ops: Vec<String> = explain
                .query_map([], |r| r.get(1))
                .and_then(|rows| rows.collect())
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                ops.iter().any(|op| op == "Insert" || op == "IdxInsert"),
                "{table}: {ops:?}"
            );
            assert!(
                !ops.iter().any(|op| op == "OpenEphemeral"),
                "{table}: {ops:?}"
            );
        }
    }

    fn autocheckpoint(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_command_line_leaves_checkpoints_to_litestream_when_serve_did() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!store.litestream, "a new database");
        let conn = store.connect().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(autocheckpoint(&conn), 1000, "SQLite's default");

        // What `hitl serve --litestream` records at its start.
        settings::set(&conn, "litestream", &serde_json::json!(true))
            .unwrap_or_else(|e| panic!("{e}"));
        drop(conn);
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(store.litestream);
        let conn = store.connect().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(autocheckpoint(&conn), 0);
        let pool = store.read_pool(1).unwrap_or_else(|e| panic!("{e}"));
        let read = pool.get().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(autocheckpoint(&read), 0);

        // A server's own flag wins over the stored one.
        let serving = Store::open_for_serving(dir.path(), false).unwrap_or_else(|e| panic!("{e}"));
        assert!(!serving.litestream);
        let conn = serving.connect().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(autocheckpoint(&conn), 1000);
        settings::set(&conn, "litestream", &serde_json::json!(false))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !Store::open(dir.path())
                .unwrap_or_else(|e| panic!("{e}"))
                .litestream
        );
    }

    /// r2d2 closes connections idle 10 minutes or 30 minutes old unless told not to.
    #[test]
    fn the_read_pool_keeps_its_connections_for_the_life_of_the_server() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let pool = store.read_pool(2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pool.idle_timeout(), None);
        assert_eq!(pool.max_lifetime(), None);
    }

    /// Readers keep a small page cache; the writer, which every write goes through,
    /// a large one.
    #[test]
    fn readers_have_a_smaller_page_cache_than_the_writer() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let cache_kib = |conn: &Connection| -> i64 {
            conn.pragma_query_value(None, "cache_size", |r| r.get(0))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let pool = store.read_pool(2).unwrap_or_else(|e| panic!("{e}"));
        let read = pool.get().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cache_kib(&read), -READ_CACHE_KIB);
        let writer = store.connect_writer().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cache_kib(&writer), -WRITE_CACHE_KIB);
    }

    #[test]
    fn binary_search_finds_the_first_row_at_or_after_a_time() {
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            first_id_at_or_after(&conn, "t", "at", 5).ok(),
            Some(None),
            "empty"
        );
        // Ids with gaps; times rising, with repeats.
        for (id, at) in [
            (1, 10),
            (2, 10),
            (5, 20),
            (6, 30),
            (9, 30),
            (10, 40),
            (17, 50),
        ] {
            conn.execute("INSERT INTO t VALUES (?1, ?2)", [id, at])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let find =
            |at| first_id_at_or_after(&conn, "t", "at", at).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(find(0), Some(1));
        assert_eq!(find(10), Some(1));
        assert_eq!(find(11), Some(5));
        assert_eq!(find(30), Some(6));
        assert_eq!(find(31), Some(10));
        assert_eq!(find(50), Some(17));
        assert_eq!(find(51), None);
        for at in 0..60 {
            let linear: Option<i64> = conn
                .query_row("SELECT min(id) FROM t WHERE at >= ?1", [at], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(find(at), linear, "at {at}");
        }
    }
}
