//! hitl: a self-hosted human approval gate for AI agents and automation.
//! Wiring only: the library (src/lib.rs) parses the command line and runs the command.

#![forbid(unsafe_code)]

use std::process::ExitCode;

/// jemalloc serves every allocation, SQLite's too (it replaces `malloc` itself). glibc's
/// malloc gives memory back to the kernel only from the top of a heap, so under steady
/// load what the server held crept up although its live data did not grow; jemalloc
/// returns any page left unused for a second, from a background thread of its own
/// (README, Performance). Its settings are compiled in from .cargo/config.toml.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    hitl::run_cli()
}
