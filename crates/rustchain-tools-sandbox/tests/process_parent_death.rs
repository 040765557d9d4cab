//! A command does not outlive its runner: the direct child dies with it
//! (`PR_SET_PDEATHSIG`), and what the child started is swept by the next
//! runner (from the dead runner's cgroup).

mod process_support;

use std::time::Duration;

use process_support::{marker, runner, survivors, test_limits};
use rustchain_tools_sandbox::process::{
    CommandRunner, CommandSpec, ProcessCountMechanism, ProgramAllowlist,
};
use tokio_util::sync::CancellationToken;

const HELPER_ENV: &str = "RC_PROCESS_PARENT_DEATH_MARKER";
const ROOT_ENV: &str = "RC_PROCESS_PARENT_DEATH_ROOT";

/// Run by `commands_die_with_their_runner` in a child process: starts a
/// command and exits abruptly while it runs. Does nothing otherwise.
#[test]
fn parent_death_helper() {
    let Ok(mark) = std::env::var(HELPER_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let root = std::env::var(ROOT_ENV).unwrap();
        let runner = CommandRunner::new(
            root.into(),
            ProgramAllowlist::new().allow("sh").unwrap(),
            Vec::new(),
            test_limits(),
        )
        .unwrap();
        let spec = CommandSpec::new("sh").args(["-c", "sleep \"$0\" & exec sleep \"$0\"", &mark]);
        tokio::spawn(async move { runner.run(spec, CancellationToken::new()).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // SAFETY: _exit ends the process at once, as a crash would.
        unsafe { libc::_exit(0) };
    });
}

#[test]
fn commands_die_with_their_runner() {
    let mark = marker();
    let root = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "parent_death_helper", "--nocapture"])
        .env(HELPER_ENV, &mark)
        .env(ROOT_ENV, root.path())
        .status()
        .unwrap();
    assert!(status.success());
    let left = survivors(&mark);
    // The direct child (`exec sleep`) died with the runner; its background
    // job is still there until a runner sweeps the dead runner's cgroup.
    assert_eq!(left.len(), 1, "{left:?}");
    let (_root, runner) = runner(&["sh"], test_limits());
    if matches!(
        runner.enforcement().processes,
        ProcessCountMechanism::Cgroup(_)
    ) {
        assert!(survivors(&mark).is_empty());
    }
}
