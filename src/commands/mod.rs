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
mod ask;
mod client;
mod serve;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

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
    let data_dir = cli.data_dir;
    let data_dir = || crate::config::data_dir(data_dir.clone());
    match cli.command {
        Command::Serve(args) => match data_dir() {
            Ok(dir) => serve::run(&args, dir),
            Err(e) => fail(e),
        },
        Command::Key(cmd) => match data_dir() {
            Ok(dir) => admin::key(cmd, &dir),
            Err(e) => fail(e),
        },
        Command::User(cmd) => match data_dir() {
            Ok(dir) => admin::user(cmd, &dir),
            Err(e) => fail(e),
        },
        Command::Ask(args) => ask::run(args),
        Command::Healthcheck(args) => client::healthcheck(&args),
    }
}
