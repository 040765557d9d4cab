//! Commands cannot be turned into something else: no shell, a cleared
//! environment, only allowlisted programs, a working directory inside the
//! root, and (where the kernel offers Landlock) no file access outside it.

mod process_support;

use std::os::unix::fs::symlink;

use process_support::{entries, marker, runner, survivors, test_limits};
use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::process::{
    CommandRunner, CommandSpec, ProcessCountMechanism, ProgramAllowlist,
};
use tokio_util::sync::CancellationToken;

fn run_blocking(
    runner: &CommandRunner,
    spec: CommandSpec,
) -> Result<rustchain_tools_sandbox::process::CommandOutcome, SandboxError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
        .block_on(runner.run(spec, CancellationToken::new()))
}

#[test]
fn the_survivor_scan_sees_a_live_marked_process() {
    let mark = marker();
    let mut child = std::process::Command::new("sleep")
        .arg(&mark)
        .spawn()
        .unwrap();
    // The kernel releases the parent before the new command line is set up,
    // so the first looks may see an empty one.
    let mut seen = survivors(&mark);
    for _ in 0..100 {
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        seen = survivors(&mark);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(seen, vec![child.id()]);
}

#[test]
fn shell_metacharacters_reach_the_program_as_plain_text() {
    let (root, runner) = runner(&["printf"], test_limits());
    let nasty = [
        "; rm -rf x",
        "$(touch pwned)",
        "`touch pwned2`",
        "| touch pwned3",
        "&& touch pwned4",
        "*",
        "?",
        "~",
        "a\nb",
        "$HOME",
        "'\"\\",
        "> redirected",
    ];
    std::fs::write(root.path().join("x"), "keep").unwrap();
    let spec = CommandSpec::new("printf").arg("[%s]\n").args(nasty);
    let outcome = run_blocking(&runner, spec).unwrap();
    assert!(outcome.success(), "{outcome:?}");
    let expected: String = nasty.iter().map(|a| format!("[{a}]\n")).collect();
    assert_eq!(outcome.stdout, expected);
    assert_eq!(entries(root.path()), vec!["x".to_string()]);
}

#[test]
fn the_environment_is_cleared_except_the_allowlist() {
    let root = tempfile::tempdir().unwrap();
    let runner = CommandRunner::new(
        root.path().to_path_buf(),
        ProgramAllowlist::new().allow("env").unwrap(),
        vec!["PATH".into(), "RC_TEST_SET".into(), "RC_TEST_UNSET".into()],
        test_limits(),
    )
    .unwrap();
    let spec = CommandSpec::new("env").env("RC_TEST_SET", "value; $(x)");
    let outcome = run_blocking(&runner, spec).unwrap();
    let names: Vec<&str> = outcome
        .stdout
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, _)| n))
        .collect();
    for name in &names {
        assert!(
            ["PATH", "RC_TEST_SET"].contains(name),
            "{name} leaked: {}",
            outcome.stdout
        );
    }
    assert!(outcome.stdout.contains("RC_TEST_SET=value; $(x)\n"));
    assert_eq!(
        names.contains(&"PATH"),
        std::env::var_os("PATH").is_some(),
        "PATH is inherited from the parent"
    );

    let refused = run_blocking(&runner, CommandSpec::new("env").env("HOME", "/root")).unwrap_err();
    assert!(
        matches!(refused, SandboxError::CommandRefused { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("HOME"));
}

#[test]
fn programs_not_on_the_allowlist_are_refused_before_running() {
    let (root, runner) = runner(&["echo"], test_limits());
    std::fs::write(root.path().join("victim"), "x").unwrap();
    let err = run_blocking(&runner, CommandSpec::new("rm").arg("victim")).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, SandboxError::ProgramNotAllowed { .. }),
        "{text}"
    );
    assert!(text.contains("\"rm\"") && text.contains("echo"), "{text}");
    assert!(root.path().join("victim").exists());
}

#[test]
fn a_symlink_named_like_an_allowed_program_is_refused() {
    let links = tempfile::tempdir().unwrap();
    symlink("/usr/bin/rm", links.path().join("echo")).unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("victim"), "x").unwrap();
    let list = ProgramAllowlist::with_search_path(links.path().to_str().unwrap())
        .allow("/usr/bin/echo")
        .unwrap();
    let runner =
        CommandRunner::new(root.path().to_path_buf(), list, Vec::new(), test_limits()).unwrap();
    for program in [
        "echo".to_string(),
        links.path().join("echo").display().to_string(),
    ] {
        let err = run_blocking(&runner, CommandSpec::new(program).arg("victim")).unwrap_err();
        assert!(
            matches!(err, SandboxError::ProgramNotAllowed { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("/usr/bin/rm"), "{err}");
    }
    assert!(root.path().join("victim").exists());
}

#[test]
fn working_directories_outside_the_root_are_refused() {
    let (root, runner) = runner(&["pwd"], test_limits());
    std::fs::create_dir(root.path().join("sub")).unwrap();
    symlink("/tmp", root.path().join("out")).unwrap();
    std::fs::write(root.path().join("file"), "").unwrap();
    for cwd in [
        "..",
        "../",
        "sub/../..",
        "/etc",
        "/",
        "out",
        "out/",
        "missing",
        "file",
    ] {
        let err = run_blocking(&runner, CommandSpec::new("pwd").cwd(cwd)).unwrap_err();
        assert!(
            matches!(err, SandboxError::CwdRefused { .. }),
            "{cwd}: {err}"
        );
    }
    let outcome = run_blocking(&runner, CommandSpec::new("pwd").cwd("sub")).unwrap();
    let expected = root.path().canonicalize().unwrap().join("sub");
    assert_eq!(outcome.stdout.trim_end(), expected.to_str().unwrap());
}

#[test]
fn nul_bytes_are_refused() {
    let (_root, runner) = runner(&["echo"], test_limits());
    let err = run_blocking(&runner, CommandSpec::new("echo").arg("a\0b")).unwrap_err();
    assert!(matches!(err, SandboxError::CommandRefused { .. }), "{err}");
}

#[test]
fn stdin_is_passed_and_closed() {
    let (_root, runner) = runner(&["cat"], test_limits());
    let outcome = run_blocking(
        &runner,
        CommandSpec::new("cat").stdin(b"line one\nline two\n".to_vec()),
    )
    .unwrap();
    assert_eq!(outcome.stdout, "line one\nline two\n");
    let outcome = run_blocking(&runner, CommandSpec::new("cat")).unwrap();
    assert_eq!(outcome.stdout, "");
    assert!(outcome.success());
}

#[test]
fn file_access_is_confined_to_the_root_where_landlock_is_offered() {
    let (root, runner) = runner(&["sh", "cat"], test_limits());
    if !runner.enforcement().landlock {
        eprintln!("Landlock is not offered here; confinement is not tested");
        return;
    }
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "secret").unwrap();
    let secret = outside.path().join("secret").display().to_string();
    let outcome = run_blocking(&runner, CommandSpec::new("cat").arg(&secret)).unwrap();
    assert_ne!(outcome.exit_code, Some(0), "{outcome:?}");
    assert!(!outcome.stdout.contains("secret"));
    assert!(
        outcome.stderr.contains("Permission denied"),
        "{}",
        outcome.stderr
    );

    let target = outside.path().join("written").display().to_string();
    let spec = CommandSpec::new("sh").args(["-c", "echo x > \"$0\"; echo y > inside", &target]);
    let outcome = run_blocking(&runner, spec).unwrap();
    assert!(!outside.path().join("written").exists(), "{outcome:?}");
    assert_eq!(
        std::fs::read_to_string(root.path().join("inside")).unwrap(),
        "y\n"
    );
}

#[test]
fn commands_cannot_signal_processes_outside_the_sandbox() {
    let (_root, runner) = runner(&["kill"], test_limits());
    if !runner.enforcement().landlock {
        return;
    }
    let mark = marker();
    let mut victim = std::process::Command::new("sleep")
        .arg(&mark)
        .spawn()
        .unwrap();
    let spec = CommandSpec::new("kill").args(["-9", &victim.id().to_string()]);
    let outcome = run_blocking(&runner, spec).unwrap();
    let alive = victim.try_wait().unwrap().is_none();
    victim.kill().ok();
    victim.wait().unwrap();
    // Landlock's signal scope needs ABI 6 (Linux 6.12); older kernels let it through.
    // SAFETY: with a null attribute and the VERSION flag (1) the call only
    // returns the kernel's Landlock ABI version.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0,
            1,
        )
    };
    if abi >= 6 {
        assert!(alive, "{outcome:?}");
        assert!(
            outcome.stderr.contains("Operation not permitted"),
            "{outcome:?}"
        );
    }
}

#[test]
fn the_runner_says_how_it_limits_processes() {
    let (_root, runner) = runner(&["sh"], test_limits());
    let enforcement = runner.enforcement();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        assert_ne!(enforcement.processes, ProcessCountMechanism::Rlimit);
    }
    if let ProcessCountMechanism::Cgroup(dir) = enforcement.processes {
        assert!(dir.is_dir());
    }
}

#[test]
fn run_as_drops_root_to_the_given_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let (root, runner) = runner(&["id", "sh"], test_limits());
    let runner = runner.run_as(65534, 65534);
    std::os::unix::fs::chown(root.path(), Some(65534), Some(65534)).unwrap();
    let outcome = run_blocking(&runner, CommandSpec::new("id")).unwrap();
    assert_eq!(
        outcome.stdout.trim_end(),
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    );
    let spec = CommandSpec::new("sh").args(["-c", "echo ok > f && cat f"]);
    let outcome = run_blocking(&runner, spec).unwrap();
    assert_eq!(outcome.stdout, "ok\n", "{outcome:?}");
}
