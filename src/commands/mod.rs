//! The subcommands. Each prints one clear line on failure and returns a non-zero code.

/// Prints a line on standard output. A closed pipe is not an error: in
/// `hitl key create | head -1` the reader already has what it wanted.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod admin;
pub mod ask;
mod backup;
mod client;
mod doctor;
mod groups;
mod hook;
mod mail;
mod policies;
mod receipt;
mod serve;
mod users;

use std::process::ExitCode;

use std::path::PathBuf;

use crate::cli::{Cli, Command};

/// Logs go to standard error; the actix server's own start-up chatter is kept to
/// warnings unless the filter names it.
pub fn init_logging(filter: &str, format: crate::cli::LogFormat) {
    let filter = if filter.contains("actix") {
        filter.to_string()
    } else {
        format!("{filter},actix_server=warn")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| {
        eprintln!("warning: --log {filter:?} is not a valid filter; using info");
        tracing_subscriber::EnvFilter::new("info,actix_server=warn")
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        crate::cli::LogFormat::Text => logs
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One JSON object per line (tracing-subscriber's JSON formatter).
        crate::cli::LogFormat::Json => logs.json().with_ansi(false).init(),
    }
}

/// Prints `error: ...` and returns exit code 1.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// The data directory of a management command (`key`, `user`): it must exist, so
/// that a typo in `--data-dir` is an error instead of a new, empty database. Only
/// `serve` creates it.
fn existing_data_dir(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    let dir = crate::config::data_dir(flag)?;
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok(dir),
        Ok(_) => Err(format!("data directory {} is not a directory", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "data directory {} does not exist; check --data-dir (or HITL_DATA_DIR), or run hitl serve once to create it",
            dir.display()
        )),
        Err(e) => Err(format!("cannot read data directory {}: {e}", dir.display())),
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let top = cli.data.data_dir;
    let result = match cli.command {
        Command::Serve(args) => {
            return match crate::config::data_dir(args.data.data_dir.clone().or(top)) {
                Ok(dir) => serve::run(&args, dir),
                Err(e) => fail(e),
            }
        }
        Command::Key(args) => existing_data_dir(args.data.data_dir.or(top))
            .and_then(|dir| admin::key(args.command, &dir)),
        Command::User(args) => existing_data_dir(args.data.data_dir.or(top))
            .and_then(|dir| users::user(args.command, &dir)),
        Command::Group(args) => existing_data_dir(args.data.data_dir.or(top))
            .and_then(|dir| groups::group(args.command, &dir)),
        Command::Policy(args) => existing_data_dir(args.data.data_dir.or(top))
            .and_then(|dir| policies::policy(args.command, &dir)),
        Command::Ask(args) => return ask::run(args),
        Command::Healthcheck(args) => return client::healthcheck(&args),
        Command::Receipt(crate::cli::ReceiptCommand::Verify(args)) => {
            return receipt::verify(&args)
        }
        Command::Hook(crate::cli::HookCommand::ClaudeCode(args)) => {
            return hook::claude_code(&args)
        }
        Command::Audit(crate::cli::AuditCommand::Verify { data }) => {
            return match existing_data_dir(data.data_dir.or(top)) {
                Ok(dir) => backup::verify_audit(&dir),
                Err(e) => fail(e),
            }
        }
        Command::Doctor { data, smtp } => {
            return match crate::config::data_dir(data.data_dir.or(top)) {
                Ok(dir) => doctor::run(&dir, &smtp),
                Err(e) => fail(e),
            }
        }
        Command::Purge {
            before,
            vacuum,
            data,
        } => existing_data_dir(data.data_dir.or(top))
            .and_then(|dir| backup::purge(&dir, &before, vacuum)),
        Command::Backup { file, data } => {
            existing_data_dir(data.data_dir.or(top)).and_then(|dir| backup::backup(&dir, &file))
        }
        Command::Restore { file, data } => crate::config::data_dir(data.data_dir.or(top))
            .and_then(|dir| backup::restore(&dir, &file)),
        Command::SendTestEmail { address, smtp } => return mail::send_test(&address, &smtp),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
