//! hitl: a self-hosted human approval gate for AI agents and automation.
//! Wiring only: the library (src/lib.rs) parses the command line and runs the command.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    hitl::run_cli()
}
