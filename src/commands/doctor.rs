//! `hitl doctor`: checks a data directory and the settings and says what to fix. It
//! reads only (a running server is fine) and prints one line per check: `ok`, `note`
//! (worth knowing), or `FIX` with what to do. Exit 0 when nothing needs fixing, 1
//! otherwise.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::cli::SmtpArgs;
use crate::clock;
use crate::db::{self, Store};

#[derive(Default)]
struct Report {
    fixes: usize,
}

impl Report {
    fn ok(&mut self, what: &str) {
        say!("ok    {what}");
    }
    fn note(&mut self, what: &str) {
        say!("note  {what}");
    }
    fn fix(&mut self, what: &str) {
        self.fixes += 1;
        say!("FIX   {what}");
    }
}

pub fn run(dir: &Path, smtp: &SmtpArgs) -> ExitCode {
    let mut r = Report::default();
    check(dir, smtp, &mut r);
    if r.fixes == 0 {
        say!("nothing to fix");
        ExitCode::SUCCESS
    } else {
        say!("{} thing(s) to fix", r.fixes);
        ExitCode::FAILURE
    }
}

fn check(dir: &Path, smtp: &SmtpArgs, r: &mut Report) {
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => m,
        Ok(_) => return r.fix(&format!("{shown} is not a directory: point --data-dir at hitl's data directory")),
        Err(e) => return r.fix(&format!("cannot read the data directory {shown}: {e}; check --data-dir, or run hitl serve once to create it")),
    };
    private(r, dir, &meta, 0o700, "the data directory");
    let user = current_uid();
    if meta.uid() != user {
        r.fix(&format!(
            "{shown} belongs to user {} but hitl runs as {user}: run hitl as its owner, or chown -R it",
            meta.uid()
        ));
    }
    let store = match Store::existing(dir) {
        Ok(s) => s,
        Err(e) => return r.fix(&format!("{e}")),
    };
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.join(format!("hitl.db{suffix}"));
        if let Ok(m) = std::fs::metadata(&path) {
            private(r, &path, &m, 0o600, "the database file");
        }
    }
    match Store::lock_for_serving(dir) {
        Ok(_lock) => r.note("no hitl serve runs on this directory now"),
        Err(db::OpenError::Busy(_)) => r.ok("a hitl serve runs on this directory"),
        Err(e) => r.fix(&format!("{e}")),
    }
    let conn = match Connection::open_with_flags(&store.db_path, OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(c) => c,
        Err(e) => return r.fix(&format!("cannot open {}: {e}", store.db_path.display())),
    };
    let _ = conn.busy_timeout(Duration::from_secs(10));
    database(r, &conn);
    clock_and_outbox(r, &conn);
    public_url(r, &conn);
    mail(r, smtp);
}

/// Owner-only permissions: the database holds webhook secrets and signing keys.
fn private(r: &mut Report, path: &Path, meta: &std::fs::Metadata, mode: u32, what: &str) {
    let has = meta.permissions().mode() & 0o777;
    if has & 0o077 != 0 {
        r.fix(&format!(
            "{what} {} is readable by others (mode {has:o}): chmod {mode:o} {}",
            path.display(),
            path.display()
        ));
    } else if mode == 0o700 {
        r.ok(&format!(
            "{what} {} is private (mode {has:o})",
            path.display()
        ));
    }
}

/// This process's user: the owner of its own `/proc/self`.
fn current_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

fn database(r: &mut Report, conn: &Connection) {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap_or(-1);
    match version {
        v if v == db::SCHEMA_VERSION => r.ok(&format!("schema version {v}, this hitl's")),
        v if (1..db::SCHEMA_VERSION).contains(&v) => r.note(&format!(
            "schema version {v}: the next hitl serve upgrades it to {} (take a hitl backup first)",
            db::SCHEMA_VERSION
        )),
        v if v > db::SCHEMA_VERSION => r.fix(&format!(
            "schema version {v} is newer than this hitl knows ({}): run the newer hitl that wrote it",
            db::SCHEMA_VERSION
        )),
        v => r.fix(&format!("schema version {v}: this is not a hitl database")),
    }
    match conn.query_row("PRAGMA integrity_check(5)", [], |row| {
        row.get::<_, String>(0)
    }) {
        Ok(v) if v == "ok" => r.ok("integrity check"),
        Ok(v) => r.fix(&format!(
            "the integrity check found damage ({v}): restore the last good backup (hitl restore)"
        )),
        Err(e) => r.fix(&format!("cannot run the integrity check: {e}")),
    }
    if version >= 12 {
        match db::audit::verify(conn) {
            Ok(db::audit::Verified::Intact { entries, .. }) => {
                r.ok(&format!("audit chain intact ({entries} entries)"))
            }
            Ok(db::audit::Verified::Broken { id, .. }) => r.fix(&format!(
                "the audit chain breaks at entry {id}: the log was edited outside hitl; see hitl audit verify, and keep the database as evidence"
            )),
            Err(e) => r.fix(&format!("cannot check the audit chain: {e}")),
        }
    }
    if db::backup::litestream_tables(conn).is_ok_and(|t| !t.is_empty()) {
        r.note("Litestream replicates this database (its _litestream_ tables are there): run hitl serve with --litestream");
    }
    let mode: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
        .unwrap_or(0);
    if mode != 2 {
        r.note("space freed by retention is reused but not given back to the disk: run hitl purge --before DATE --vacuum once, with the server stopped");
    }
}

fn clock_and_outbox(r: &mut Report, conn: &Connection) {
    let newest: Option<i64> = conn
        .query_row(
            "SELECT max(at) FROM (SELECT max(at) AS at FROM audit UNION ALL SELECT max(created_at) FROM pauses)",
            [],
            |row| row.get(0),
        )
        .optional()
        .ok()
        .flatten()
        .flatten();
    let now = clock::now();
    match newest {
        Some(at) if at > now + 60_000 => r.fix(&format!(
            "the clock ({}) is behind the newest record ({}): timeouts and expiry would be wrong; fix the time (NTP) before serving",
            clock::rfc3339(now),
            clock::rfc3339(at)
        )),
        _ => r.ok(&format!("the clock ({}) is not behind the data", clock::rfc3339(now))),
    }
    let failed: i64 = conn
        .query_row(
            "SELECT count(*) FROM outbox WHERE state = 'failed'",
            [],
            |row| row.get(0),
        )
        .unwrap_or(0);
    if failed > 0 {
        r.note(&format!(
            "{failed} deliveries failed for good: their review pages say why, and send them again by hand"
        ));
    }
    let overdue: i64 = conn
        .query_row(
            "SELECT count(*) FROM outbox WHERE state = 'pending' AND next_attempt_at < ?1",
            [now - 600_000],
            |row| row.get(0),
        )
        .unwrap_or(0);
    if overdue > 0 {
        r.note(&format!(
            "{overdue} deliveries are more than 10 minutes overdue: is hitl serve running?"
        ));
    }
}

fn public_url(r: &mut Report, conn: &Connection) {
    let url = match crate::domain::settings::public_url(conn) {
        Ok(Some(url)) => url,
        Ok(None) => {
            return r.note("no public URL recorded yet: hitl serve records it when it starts")
        }
        Err(e) => return r.fix(&format!("cannot read the settings: {e}")),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    match agent.get(&format!("{url}/healthz")).call() {
        Ok(resp) if resp.status().is_success() => {
            r.ok(&format!("the public URL {url} answers its health check"))
        }
        Ok(resp) => r.fix(&format!(
            "the public URL {url} answers /healthz with HTTP {}: a proxy in front may send it elsewhere; links in mail and chat point there",
            resp.status().as_u16()
        )),
        Err(e) => r.fix(&format!(
            "the public URL {url} does not answer ({e}): start hitl serve, or set --public-url to the address people and chat platforms reach"
        )),
    }
}

fn mail(r: &mut Report, smtp: &SmtpArgs) {
    let smtp = match crate::config::smtp_settings(smtp) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return r
                .note("mail not checked: give the --smtp-url hitl serve uses (or HITL_SMTP_URL)")
        }
        Err(e) => return r.fix(&e),
    };
    let dns = match crate::notify::dns::Dns::new() {
        Ok(d) => d,
        Err(e) => return r.fix(&e),
    };
    match smtp.check(&dns) {
        Ok(()) => r.ok(&format!(
            "the mail server accepts hitl ({})",
            smtp.describe()
        )),
        Err(e) => r.fix(&format!("mail: {e}")),
    }
}
