//! hitl: a self-hosted human approval gate for AI agents and automation.
//! Wiring only: parse the command line and hand over to a command.

#![forbid(unsafe_code)]

mod assets;
mod claude_code;
mod cli;
mod clock;
mod commands;
mod config;
mod db;
mod domain;
mod expiry;
mod http;
mod memory;
mod metrics;
mod model;
mod notify;
mod oidc;
mod receipt;
mod secret;
mod text;
mod urls;
mod views;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return commands::ask::usage_error(e, cli::Cli::command()),
    };
    commands::init_logging(&cli.log, cli.log_format);
    commands::run(cli)
}
