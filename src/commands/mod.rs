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
mod client;
mod hook;
mod mail;
mod serve;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::notify::policy::Policy;

/// Logs go to standard error; the actix server's own start-up chatter is kept to
/// warnings unless the filter names it.
pub fn init_logging(filter: &str) {
    let filter = if filter.contains("actix") {
        filter.to_string()
    } else {
        format!("{filter},actix_server=warn")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| {
        eprintln!("warning: --log {filter:?} is not a valid filter; using info");
        tracing_subscriber::EnvFilter::new("info,actix_server=warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// Prints `error: ...` and returns exit code 1.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

pub fn run(cli: Cli) -> ExitCode {
    let policy = match Policy::new(cli.webhook_deny_private, &cli.webhook_allow) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let dir = match &cli.command {
        Command::Serve(_) | Command::Key(_) | Command::User(_) => {
            match crate::config::data_dir(cli.data_dir) {
                Ok(dir) => dir,
                Err(e) => return fail(e),
            }
        }
        _ => std::path::PathBuf::new(),
    };
    match cli.command {
        Command::Serve(args) => serve::run(&args, dir, policy),
        Command::Key(cmd) => admin::key(cmd, &dir, &policy),
        Command::User(cmd) => admin::user(cmd, &dir),
        Command::Ask(args) => ask::run(args),
        Command::Healthcheck(args) => client::healthcheck(&args),
        Command::Hook(crate::cli::HookCommand::ClaudeCode(args)) => hook::claude_code(&args),
        Command::SendTestEmail { address, smtp } => mail::send_test(&address, &smtp),
    }
}
