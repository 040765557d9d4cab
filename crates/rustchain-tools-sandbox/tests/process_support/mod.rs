//! Helpers shared by the `process_*` integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustchain_tools_sandbox::process::{CommandRunner, ProcessLimits, ProgramAllowlist};

/// A runner over a fresh temporary root allowing `programs`.
pub fn runner(programs: &[&str], limits: ProcessLimits) -> (tempfile::TempDir, CommandRunner) {
    let root = tempfile::tempdir().expect("temp root");
    let mut list = ProgramAllowlist::new();
    for program in programs {
        list = list.allow(program).expect("program exists");
    }
    let runner = CommandRunner::new(
        root.path().to_path_buf(),
        list,
        vec!["PATH".into(), "LANG".into()],
        limits,
    )
    .expect("runner");
    (root, runner)
}

/// Limits small enough for tests, with a wall timeout that bounds every test.
pub fn test_limits() -> ProcessLimits {
    ProcessLimits {
        cpu_seconds: 5,
        address_space_bytes: 1 << 30,
        file_size_bytes: 16 << 20,
        max_processes: 32,
        wall_timeout: Duration::from_secs(8),
        stdout_cap_bytes: 64 << 10,
        stderr_cap_bytes: 64 << 10,
    }
}

/// A unique marker that is also a valid `sleep` duration in seconds, so
/// every process of a scenario can carry it on its command line.
pub fn marker() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}.{}{:03}",
        7000 + NEXT.fetch_add(1, Ordering::Relaxed),
        std::process::id(),
        NEXT.load(Ordering::Relaxed)
    )
}

/// Pids of live processes whose command line contains `marker`, waiting up
/// to two seconds for killed ones to disappear.
pub fn survivors(marker: &str) -> Vec<u32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let found = scan(marker);
        if found.is_empty() || std::time::Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn scan(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline);
            text.contains(marker).then_some(pid)
        })
        .collect()
}

/// Names of the entries directly in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
