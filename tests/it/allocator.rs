//! The server runs on jemalloc with the settings compiled in from .cargo/config.toml:
//! among them a background thread that gives pages left unused back to the kernel.

use std::time::Duration;

use crate::harness::*;

fn thread_names(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads");
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_string())
        .collect()
}

#[test]
fn the_server_returns_memory_from_jemallocs_background_thread() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    // jemalloc starts its background threads with the first allocations of each arena.
    eventually(
        Duration::from_secs(10),
        "a jemalloc background thread (jemalloc_bg_thd) among the server's threads",
        || {
            thread_names(server.pid())
                .iter()
                .any(|n| n == "jemalloc_bg_thd")
                .then_some(())
        },
    );
}
