//! `hitl backup FILE`, `hitl restore FILE` and `hitl audit verify`: keeping the record.

use std::path::Path;

use crate::db::audit::Verified;
use crate::db::backup::{self, Summary};
use crate::db::Store;

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
