//! `hitl backup FILE`, `hitl restore FILE`, `hitl purge` and `hitl audit verify`:
//! keeping the record.

use std::path::Path;

use crate::db::audit::Verified;
use crate::db::backup::{self, Summary};
use crate::db::Store;
use crate::domain::{retention, Actor};

fn describe(s: &Summary) -> String {
    format!(
        "{} pauses, {} audit entries, schema version {}, {} bytes",
        s.pauses, s.audit_entries, s.schema_version, s.bytes
    )
}

pub fn backup(dir: &Path, file: &Path) -> Result<(), String> {
    let store = Store::existing(dir).map_err(|e| e.to_string())?;
    let summary = backup::backup(&store, file).map_err(|e| e.to_string())?;
    say!(
        "backed up {} to {}: {} (integrity check ok)",
        store.db_path.display(),
        file.display(),
        describe(&summary)
    );
    Ok(())
}

pub fn restore(dir: &Path, file: &Path) -> Result<(), String> {
    let summary = backup::restore(dir, file).map_err(|e| e.to_string())?;
    say!(
        "restored {} into {}: {}; start it with hitl serve --data-dir {}",
        file.display(),
        dir.display(),
        describe(&summary),
        dir.display()
    );
    Ok(())
}

/// `hitl audit verify`: 0 intact, 1 broken, 2 cannot check.
pub fn verify_audit(dir: &Path) -> std::process::ExitCode {
    let checked = Store::existing(dir)
        .map_err(|e| e.to_string())
        .and_then(|store| {
            let conn = rusqlite::Connection::open_with_flags(
                &store.db_path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(|e| format!("cannot open {}: {e}", store.db_path.display()))?;
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .map_err(|e| e.to_string())?;
            crate::db::audit::verify(&conn).map_err(|e| e.to_string())
        });
    match checked {
        Ok(Verified::Intact { entries, head }) => {
            say!(
                "audit log intact: {entries} entries; head {}",
                head.as_deref().map_or("(empty)".into(), crate::secret::hex)
            );
            std::process::ExitCode::SUCCESS
        }
        Ok(Verified::Broken {
            id,
            at,
            event,
            checked,
        }) => {
            eprintln!(
                "error: audit entry {id} ({event} at {}) does not match the chain: it, or an entry before it, was edited, inserted or removed; the {checked} entries before it are intact",
                crate::clock::rfc3339(at)
            );
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: cannot check the audit log: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// `hitl purge --before DATE [--vacuum]`: the retention policy, once.
pub fn purge(dir: &Path, before: &str, vacuum: bool) -> Result<(), String> {
    let now = crate::clock::now();
    let text = before.trim();
    let before = crate::clock::parse_rfc3339(text)
        .or_else(|| crate::clock::parse_date(text))
        .ok_or_else(|| {
            format!("--before {text:?} is not a date: write YYYY-MM-DD (midnight UTC) or an RFC 3339 time")
        })?;
    if before > now {
        return Err(format!(
            "--before {text:?} is in the future: only pauses decided before a past time can be purged"
        ));
    }
    // Stop a running server first when the file is to be rewritten.
    let lock = if vacuum {
        Some(Store::lock_for_serving(dir).map_err(|e| format!("{e}; stop it before --vacuum"))?)
    } else {
        None
    };
    let mut conn = super::admin::open(dir)?;
    let mut total = 0;
    loop {
        let n = super::admin::change(&mut conn, dir, |tx| {
            retention::purge_batch(
                tx,
                crate::clock::now(),
                &Actor::Cli,
                before,
                retention::BATCH,
            )
        })?;
        total += n;
        if n < retention::BATCH as usize {
            break;
        }
    }
    say!(
        "purged the content of {total} pauses decided before {}",
        crate::clock::rfc3339(before)
    );
    // The file's size, once what the WAL holds is back in it.
    let size = |conn: &rusqlite::Connection| {
        let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        std::fs::metadata(dir.join("hitl.db"))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let was = size(&conn);
    if vacuum {
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
            .map_err(|e| format!("cannot vacuum the database: {e}"))?;
        drop(lock);
        say!(
            "rewrote the database: {was} bytes before, {} after",
            size(&conn)
        );
    } else {
        let given = crate::db::give_back_space(&conn)
            .map_err(|e| format!("cannot give free space back: {e}"))?;
        if given {
            say!(
                "gave free space back: {was} bytes before, {} after",
                size(&conn)
            );
        } else {
            say!("this database predates incremental vacuum: its free pages are reused, not given back; run once with --vacuum (server stopped) to change that");
        }
    }
    Ok(())
}
