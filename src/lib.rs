//! hitl: a self-hosted human approval gate for AI agents and automation.
//! The library holds every module so that the binary (src/main.rs) stays wiring only
//! and the fuzz targets (fuzz/) can call the pure parsers and validators directly.

#![forbid(unsafe_code)]

pub mod assets;
pub mod claude_code;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod expiry;
pub mod http;
pub mod indexer;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod oidc;
pub mod receipt;
pub mod secret;
pub mod text;
pub mod urls;
pub mod views;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Parse the command line and run the command it names.
pub fn run_cli() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return commands::ask::usage_error(e, cli::Cli::command()),
    };
    commands::init_logging(&cli.log, cli.log_format);
    commands::run(cli)
}
