//! Every limit stops its runaway, is reported as itself, and leaves no
//! process behind.

mod process_support;

use std::time::Duration;

use process_support::{marker, runner, survivors, test_limits};
use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::process::{CommandSpec, LimitHit, ProcessLimits};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_by_the_cpu_limit() {
    let limits = ProcessLimits {
        cpu_seconds: 1,
        ..test_limits()
    };
    let (_root, runner) = runner(&["sh"], limits);
    let mark = marker();
    let spec = CommandSpec::new("sh").args(["-c", "while :; do :; done", &mark]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.limit, Some(LimitHit::CpuTime), "{outcome:?}");
    assert_eq!(outcome.signal, Some(libc::SIGXCPU));
    assert!(outcome.duration < Duration::from_secs(8));
    assert!(survivors(&mark).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_is_stopped_by_the_address_space_limit() {
    let limits = ProcessLimits {
        address_space_bytes: 512 << 20,
        ..test_limits()
    };
    let (_root, runner) = runner(&["python3"], limits);
    let mark = marker();
    let spec = CommandSpec::new("python3").args([
        "-c",
        "import sys\nchunks = []\nwhile True: chunks.append(bytearray(64 << 20))",
        &mark,
    ]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.limit, Some(LimitHit::Memory), "{outcome:?}");
    assert!(outcome.stderr.contains("MemoryError"), "{}", outcome.stderr);
    assert!(survivors(&mark).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_is_stopped_by_the_process_limit() {
    let limits = ProcessLimits {
        max_processes: 16,
        ..test_limits()
    };
    let (_root, runner) = runner(&["sh"], limits);
    let mark = marker();
    let spec = CommandSpec::new("sh").args(["-c", "b() { while :; do b & done; }; b", &mark]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.limit, Some(LimitHit::Processes), "{outcome:?}");
    assert!(survivors(&mark).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_flood_is_cut_at_the_cap() {
    let (_root, runner) = runner(&["yes"], test_limits());
    let mark = marker();
    let outcome = runner
        .run(CommandSpec::new("yes").arg(&mark), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.limit, Some(LimitHit::Output), "{outcome:?}");
    assert!(outcome.stdout_truncated);
    assert_eq!(outcome.stdout.len(), 64 << 10);
    assert!(outcome.stdout.starts_with(&format!("{mark}\n")));
    assert!(survivors(&mark).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_size_hog_is_stopped_by_the_file_size_limit() {
    let limits = ProcessLimits {
        file_size_bytes: 1 << 20,
        ..test_limits()
    };
    let (root, runner) = runner(&["sh"], limits);
    let mark = marker();
    let spec = CommandSpec::new("sh").args(["-c", "exec head -c 10000000 /dev/zero > big", &mark]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.limit, Some(LimitHit::FileSize), "{outcome:?}");
    assert_eq!(outcome.signal, Some(libc::SIGXFSZ));
    let size = std::fs::metadata(root.path().join("big")).unwrap().len();
    assert!(size <= 1 << 20, "{size}");
    assert!(survivors(&mark).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_size_hog_that_ignores_the_signal_is_recognised() {
    let limits = ProcessLimits {
        file_size_bytes: 1 << 20,
        ..test_limits()
    };
    let (_root, runner) = runner(&["python3"], limits);
    let spec = CommandSpec::new("python3").args(["-c", "open('big', 'wb').write(bytes(4 << 20))"]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.limit, Some(LimitHit::FileSize), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleep_past_the_wall_timeout_is_killed_with_its_background_jobs() {
    let limits = ProcessLimits {
        wall_timeout: Duration::from_millis(500),
        ..test_limits()
    };
    let (_root, runner) = runner(&["sh"], limits);
    let mark = marker();
    let script = "sleep \"$0\" & (sleep \"$0\") & sleep \"$0\"";
    let spec = CommandSpec::new("sh").args(["-c", script, &mark]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.limit, Some(LimitHit::WallClock), "{outcome:?}");
    assert_eq!(outcome.signal, Some(libc::SIGKILL));
    assert!(outcome.duration < Duration::from_secs(5));
    assert!(survivors(&mark).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_jobs_do_not_outlive_a_normal_exit() {
    let (_root, runner) = runner(&["sh"], test_limits());
    let mark = marker();
    let spec = CommandSpec::new("sh").args(["-c", "sleep \"$0\" & echo started", &mark]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert!(outcome.success(), "{outcome:?}");
    assert_eq!(outcome.stdout, "started\n");
    assert!(survivors(&mark).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_leaves_the_group_is_still_killed() {
    let (_root, runner) = runner(&["sh", "setsid"], test_limits());
    let mark = marker();
    let spec = CommandSpec::new("sh").args(["-c", "setsid sleep \"$0\" & echo started", &mark]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert!(outcome.success(), "{outcome:?}");
    if matches!(
        runner.enforcement().processes,
        rustchain_tools_sandbox::process::ProcessCountMechanism::Cgroup(_)
    ) {
        assert!(survivors(&mark).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_kills_the_group() {
    let (_root, runner) = runner(&["sh"], test_limits());
    let mark = marker();
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let spec = CommandSpec::new("sh").args(["-c", "sleep \"$0\" & sleep \"$0\"", &mark]);
    let started = std::time::Instant::now();
    let err = runner.run(spec, token).await.unwrap_err();
    assert!(matches!(err, SandboxError::Cancelled { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(survivors(&mark).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_command_reports_no_limit() {
    let (_root, runner) = runner(&["sh"], test_limits());
    let spec = CommandSpec::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.exit_code, Some(3));
    assert_eq!(outcome.signal, None);
    assert_eq!(outcome.limit, None);
    assert_eq!(outcome.stdout, "out\n");
    assert_eq!(outcome.stderr, "err\n");
    assert!(!outcome.stdout_truncated && !outcome.stderr_truncated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cgroup_a_fork_bomb_of_a_dropped_user_is_held_by_rlimit_nproc() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let limits = ProcessLimits {
        max_processes: 16,
        wall_timeout: Duration::from_secs(2),
        ..test_limits()
    };
    let (root, runner) = runner(&["sh"], limits);
    std::os::unix::fs::chown(root.path(), Some(65534), Some(65534)).unwrap();
    let runner = runner.without_pids_cgroup().run_as(65534, 65534);
    assert_eq!(
        runner.enforcement().processes,
        rustchain_tools_sandbox::process::ProcessCountMechanism::Rlimit
    );
    let mark = marker();
    let spec = CommandSpec::new("sh").args(["-c", "b() { while :; do b & done; }; b", &mark]);
    let outcome = runner.run(spec, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.limit, Some(LimitHit::Processes), "{outcome:?}");
    assert!(survivors(&mark).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_run_kills_the_group() {
    let (_root, runner) = runner(&["sh"], test_limits());
    let mark = marker();
    let spec = CommandSpec::new("sh").args(["-c", "sleep \"$0\" & sleep \"$0\"", &mark]);
    let run = runner.run(spec, CancellationToken::new());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), run)
            .await
            .is_err()
    );
    assert!(survivors(&mark).is_empty());
}
