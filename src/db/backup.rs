//! Consistent copies of the database while `hitl serve` runs (SQLite's online backup
//! in one step: one read transaction, so the copy is one moment's database, and the
//! server keeps writing to its WAL meanwhile), and restoring one into an empty data
//! directory.

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{configure, describe_sqlite_error, Store, DB_FILE, SCHEMA_VERSION};

/// What a backup or restore found in the copy.
#[derive(Debug, Clone)]
pub struct Summary {
    pub schema_version: i64,
    pub pauses: i64,
    pub audit_entries: i64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{0} exists already: hitl does not overwrite a file; choose another name or remove it"
    )]
    Exists(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot read the database {path}: {detail}")]
    Source { path: PathBuf, detail: String },
    #[error("cannot write the copy {path}: {detail}")]
    Copy { path: PathBuf, detail: String },
    #[error("the copy {path} failed its integrity check: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path} is not a hitl backup: {detail}")]
    NotABackup { path: PathBuf, detail: String },
    #[error("the data directory {0} is not empty (it has a database): restore only into an empty one, so that nothing is overwritten")]
    NotEmpty(PathBuf),
    #[error(transparent)]
    Store(#[from] super::OpenError),
}

/// Copies the database of `store` to `to` (a new file, mode 0600), then checks the copy.
pub fn backup(store: &Store, to: &Path) -> Result<Summary, BackupError> {
    let source_err = |e: rusqlite::Error| BackupError::Source {
        path: store.db_path.clone(),
        detail: describe_sqlite_error(&e),
    };
    let src = Connection::open_with_flags(
        &store.db_path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(source_err)?;
    configure(&src, true).map_err(source_err)?;
    if super::stored_litestream(&src) {
        super::leave_checkpoints(&src).map_err(source_err)?;
    }
    copy_into_new(&src, to)
}

/// Restores the backup `from` into the empty data directory `dir`: refused while a
/// server runs there or when it has a database. The copy is checked first, written
/// under a temporary name, renamed into place, then opened as `serve` would (an older
/// backup is upgraded to this hitl's schema).
pub fn restore(dir: &Path, from: &Path) -> Result<Summary, BackupError> {
    let _lock = Store::lock_for_serving(dir)?;
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.join(format!("{DB_FILE}{suffix}"));
        if path.exists() {
            return Err(BackupError::NotEmpty(dir.to_path_buf()));
        }
    }
    let not_backup = |detail: String| BackupError::NotABackup {
        path: from.to_path_buf(),
        detail,
    };
    let src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not_backup(describe_sqlite_error(&e)))?;
    let version = check(&src).map_err(|e| not_backup(e.to_string()))?;
    if !(1..=SCHEMA_VERSION).contains(&version) {
        return Err(not_backup(format!(
            "its schema version is {version}; this hitl knows versions 1 to {SCHEMA_VERSION}"
        )));
    }
    let partial = dir.join(format!("{DB_FILE}.restoring"));
    let _ = fs::remove_file(&partial);
    let copied = copy_into_new(&src, &partial).and_then(|_| {
        let conn = Connection::open(&partial).map_err(|e| BackupError::Copy {
            path: partial.clone(),
            detail: e.to_string(),
        })?;
        // Another machine's replication bookkeeping does not belong here.
        forget_litestream(&conn).map_err(|e| BackupError::Copy {
            path: partial.clone(),
            detail: e.to_string(),
        })
    });
    if let Err(e) = copied {
        let _ = fs::remove_file(&partial);
        return Err(e);
    }
    fs::rename(&partial, dir.join(DB_FILE)).map_err(|source| BackupError::Create {
        path: dir.join(DB_FILE),
        source,
    })?;
    let store = Store::open(dir)?;
    let conn = Connection::open(&store.db_path).map_err(|e| BackupError::Copy {
        path: store.db_path.clone(),
        detail: e.to_string(),
    })?;
    summarize(&conn, &store.db_path)
}

/// The tables Litestream keeps in a database it replicates (`_litestream_seq`, …).
pub fn litestream_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '\\_litestream\\_%' ESCAPE '\\'")?
        .query_map([], |r| r.get(0))?
        .collect()
}

/// Drops the tables Litestream keeps in the database it replicates.
fn forget_litestream(conn: &Connection) -> rusqlite::Result<()> {
    for table in litestream_tables(conn)? {
        conn.execute_batch(&format!("DROP TABLE \"{}\"", table.replace('"', "\"\"")))?;
    }
    Ok(())
}

/// `integrity_check` and the schema version of a hitl database.
fn check(conn: &Connection) -> Result<i64, String> {
    let verdict: String = conn
        .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))
        .map_err(|e| describe_sqlite_error(&e))?;
    if verdict != "ok" {
        return Err(verdict);
    }
    let has_pauses: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'pauses')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| describe_sqlite_error(&e))?;
    if !has_pauses {
        return Err("it has no pauses table".into());
    }
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| describe_sqlite_error(&e))
}

/// Copies `src` into the new file `to`, checks and syncs it. On failure, nothing
/// half-written is left behind under that name (a file that was there is untouched).
fn copy_into_new(src: &Connection, to: &Path) -> Result<Summary, BackupError> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => BackupError::Exists(to.to_path_buf()),
            _ => BackupError::Create {
                path: to.to_path_buf(),
                source,
            },
        })?;
    drop(file);
    let result = copy(src, to);
    if result.is_err() {
        let _ = fs::remove_file(to);
    }
    result
}

fn copy(src: &Connection, to: &Path) -> Result<Summary, BackupError> {
    let copy_err = |e: rusqlite::Error| BackupError::Copy {
        path: to.to_path_buf(),
        detail: describe_sqlite_error(&e),
    };
    let mut dst = Connection::open(to).map_err(copy_err)?;
    {
        let backup = rusqlite::backup::Backup::new(src, &mut dst).map_err(copy_err)?;
        // Every page in one step: one read transaction, one moment's database.
        backup.step(-1).map_err(copy_err)?;
    }
    // A single self-contained file, not WAL mode.
    let _: String = dst
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
        .map_err(copy_err)?;
    check(&dst).map_err(|detail| BackupError::Corrupt {
        path: to.to_path_buf(),
        detail,
    })?;
    let summary = summarize(&dst, to)?;
    drop(dst);
    fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(|source| BackupError::Create {
            path: to.to_path_buf(),
            source,
        })?;
    Ok(summary)
}

fn summarize(conn: &Connection, path: &Path) -> Result<Summary, BackupError> {
    let err = |e: rusqlite::Error| BackupError::Copy {
        path: path.to_path_buf(),
        detail: describe_sqlite_error(&e),
    };
    let count = |table: &str| -> Result<i64, BackupError> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(err)
    };
    Ok(Summary {
        schema_version: conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?,
        pauses: count("pauses")?,
        audit_entries: count("audit")?,
        bytes: fs::metadata(path).map(|m| m.len()).unwrap_or(0),
    })
}
