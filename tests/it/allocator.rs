//! The server runs on jemalloc with the settings compiled in from .cargo/config.toml:
//! among them a background thread that gives pages left unused back to the kernel.

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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut names = thread_names(server.pid());
    while !names.iter().any(|n| n == "jemalloc_bg_thd") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        names = thread_names(server.pid());
    }
    assert!(
        names.iter().any(|n| n == "jemalloc_bg_thd"),
        "no jemalloc background thread among {names:?}"
    );
}
