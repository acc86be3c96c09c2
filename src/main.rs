//! hitl: a self-hosted human approval gate for AI agents and automation.
//! Wiring only: the library (src/lib.rs) parses the command line and runs the command.

// The library forbids unsafe code; this file has one call, below.
#![deny(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    limit_malloc_arenas();
    hitl::run_cli()
}

/// glibc's malloc gives threads that allocate at once arenas of their own, up to eight
/// per core, and seldom returns what is freed in them: under an hour of steady load
/// (bench/soak.py) the server's memory crept up by over a quarter as request threads
/// came and went. With two it grows less, though it is still not flat (README,
/// Performance). Returning free pages every few seconds with malloc_trim instead still
/// let it swing by a fifth, and held the allocator's locks for about 3 ms each time.
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets a parameter of the allocator. It runs first in main,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
