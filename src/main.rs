//! hitl: a self-hosted human approval gate for AI agents and automation.
//! Wiring only: the library (src/lib.rs) parses the command line and runs the command.

// The library forbids unsafe code; this file has the two calls to the allocator, below.
#![deny(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    limit_malloc_arenas();
    start_trimming_malloc();
    hitl::run_cli()
}

/// glibc's malloc gives threads that allocate at once arenas of their own, up to eight
/// per core, and seldom returns what is freed in them: under an hour of steady load
/// (bench/soak.py) the server's memory crept up by over a quarter as request threads
/// came and went. With two it grows less, though not flat: see `start_trimming_malloc`.
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets a parameter of the allocator. It runs first in main,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// How often free memory inside malloc's heaps goes back to the kernel.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// glibc's malloc gives memory back to the kernel only from the top of a heap. The
/// server frees memory in the middle of its heaps all the time (SQLite's page caches,
/// the cache of pauses), and what is freed there stays in its RSS until reused: under
/// bench/soak.py, calling malloc_trim by hand at 280 s took RSS from 58.4 to 41.8 MiB.
/// So a thread of its own trims every 10 s, for the whole life of the process (a
/// command that ends sooner never trims). Each took 0.4–1.8 ms under the soak, an
/// arena's lock held while it walks that arena. Trimming every 30 s let RSS rise by
/// about 4.5 MiB (9%) between two trims.
fn start_trimming_malloc() {
    let spawned = std::thread::Builder::new()
        .name("hitl-trim".into())
        .spawn(|| loop {
            std::thread::sleep(TRIM_EVERY);
            let started = std::time::Instant::now();
            let released = trim_malloc();
            tracing::debug!(released, took = ?started.elapsed(), "malloc_trim");
        });
    // Without it the server runs as before, only with more memory held.
    drop(spawned);
}

#[allow(unsafe_code)]
fn trim_malloc() -> bool {
    // SAFETY: malloc_trim takes no pointer; it locks each arena while it walks it, so
    // it may run beside any other thread's allocations.
    unsafe { libc::malloc_trim(0) == 1 }
}
