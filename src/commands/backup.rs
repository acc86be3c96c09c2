//! `hitl backup FILE` and `hitl restore FILE`.

use std::path::Path;

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
