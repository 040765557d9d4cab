//! Commands without a shell, under operating-system limits.
//!
//! [`CommandRunner::run`] executes one allowlisted program with an argument
//! array (never through a shell, so `;`, `$(..)`, backticks, globs and
//! newlines reach the program as plain text), a cleared environment, a
//! working directory inside the root, and these limits:
//!
//! | limit | mechanism | how a hit is recognised |
//! |---|---|---|
//! | CPU time | `RLIMIT_CPU` (per process; hard limit one second later) | the program died of `SIGXCPU`, or a shell reported it (exit 152) |
//! | memory | `RLIMIT_AS` (per process) | heuristic: the program failed and its stderr names an allocation failure (`MemoryError`, `Cannot allocate memory`, `memory allocation of`, `out of memory`, `bad_alloc`) |
//! | file size | `RLIMIT_FSIZE` | `SIGXFSZ`, a shell's exit 153, or a failure with `File too large` on stderr (programs that ignore `SIGXFSZ`, such as Python) |
//! | processes | a `pids` cgroup per run when one can be made (binds root too); otherwise `RLIMIT_NPROC` for non-root, which counts all the user's processes | `pids.events` counts refused forks: the runner kills the group at the first one; without a cgroup, heuristic: fork failures on stderr (`Cannot fork`, `Resource temporarily unavailable`), even when the clock or output cap then ended it |
//! | wall clock | the runner's timer | the runner killed it |
//! | output | the runner's capped readers | the runner killed it |
//!
//! The child starts in a new process group, gets `PR_SET_PDEATHSIG`
//! (`SIGKILL`) so it dies with the thread that spawned it, and, where the
//! kernel offers Landlock, may only read and execute the system directories
//! ([`DEFAULT_SYSTEM_PATHS`]) and the allowed programs, read and write the
//! root and a few devices, and not signal processes outside its sandbox.
//! When the runner runs as root it can drop the child to another user
//! ([`CommandRunner::run_as`]); the child then needs access to the root
//! directory through ordinary permissions.
//!
//! After the program ends for any reason the runner kills its process group
//! and every member of its cgroup, so backgrounded grandchildren do not
//! linger. If the runner itself dies, `PR_SET_PDEATHSIG` kills only the
//! direct child; what it started stays in the dead runner's cgroup until the
//! next runner created on the machine sweeps it. A limit that cannot be
//! enforced is reported once with `tracing::warn!` and in
//! [`CommandRunner::enforcement`].
//!
//! The program is executed by its canonical path, which is also its
//! `argv[0]`, so a multi-call binary cannot be steered by the name it was
//! called by.

mod allowlist;
mod cgroup;
mod child;
mod confine;

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use allowlist::{DEFAULT_SEARCH_PATH, ProgramAllowlist};
pub use confine::DEFAULT_SYSTEM_PATHS;

use crate::SandboxError;
use cgroup::{PidsCgroupBase, RunCgroup};
use child::{ChildPlan, Rlimit};

/// How often the runner looks at the cgroup's refused-fork counter.
const CGROUP_POLL: Duration = Duration::from_millis(20);
/// How long the runner waits for the pipes to close after the kill.
const DRAIN_BUDGET: Duration = Duration::from_secs(1);
/// How long the runner keeps killing cgroup members before it gives up.
const KILL_BUDGET: Duration = Duration::from_secs(2);

/// One command: a program and its arguments, never interpreted by a shell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandSpec {
    /// A program name (looked up on the allowlist's search path) or an absolute path.
    pub program: String,
    /// The arguments, passed to the program as they are.
    pub args: Vec<String>,
    /// The working directory, relative to the root; the root when `None`.
    pub cwd: Option<String>,
    /// Environment variables to set; each name must be on the runner's environment allowlist.
    pub env: BTreeMap<String, String>,
    /// Bytes written to the program's standard input (closed after); `/dev/null` when `None`.
    pub stdin: Option<Vec<u8>>,
}

impl CommandSpec {
    /// A command running `program` with no arguments.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            ..Self::default()
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the working directory, relative to the root.
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// Sets one environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Sets the bytes given on standard input.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }
}

/// The limits every command runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessLimits {
    /// CPU seconds per process (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Address space per process in bytes (`RLIMIT_AS`).
    pub address_space_bytes: u64,
    /// Largest file a process may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Processes (and threads) the command may have at once.
    pub max_processes: u64,
    /// Time from start until the whole group is killed.
    pub wall_timeout: Duration,
    /// Standard output kept; past it the group is killed.
    pub stdout_cap_bytes: usize,
    /// Standard error kept; past it the group is killed.
    pub stderr_cap_bytes: usize,
}

impl Default for ProcessLimits {
    fn default() -> Self {
        Self {
            cpu_seconds: 10,
            address_space_bytes: 1 << 30,
            file_size_bytes: 64 << 20,
            max_processes: 64,
            wall_timeout: Duration::from_secs(30),
            stdout_cap_bytes: 1 << 20,
            stderr_cap_bytes: 256 << 10,
        }
    }
}

/// The limit that ended a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitHit {
    /// The CPU-time limit.
    CpuTime,
    /// The address-space (memory) limit.
    Memory,
    /// The file-size limit.
    FileSize,
    /// The process-count limit.
    Processes,
    /// The wall-clock timeout.
    WallClock,
    /// The stdout or stderr cap.
    Output,
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CpuTime => "CPU time limit",
            Self::Memory => "memory (address space) limit",
            Self::FileSize => "file size limit",
            Self::Processes => "process count limit",
            Self::WallClock => "wall-clock timeout",
            Self::Output => "output cap",
        })
    }
}

/// How a command ended and what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The exit code, when the program exited.
    pub exit_code: Option<i32>,
    /// The signal that ended the program, when one did.
    pub signal: Option<i32>,
    /// Standard output (lossy UTF-8), at most the cap.
    pub stdout: String,
    /// Standard error (lossy UTF-8), at most the cap.
    pub stderr: String,
    /// Whether stdout was cut at the cap.
    pub stdout_truncated: bool,
    /// Whether stderr was cut at the cap.
    pub stderr_truncated: bool,
    /// The limit that ended the command, if one did (see the module docs for how each is recognised).
    pub limit: Option<LimitHit>,
    /// Time from start until the program was reaped.
    pub duration: Duration,
}

impl CommandOutcome {
    /// Whether the program exited with code 0 and no limit was hit.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && self.limit.is_none()
    }
}

/// How the process-count limit is enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessCountMechanism {
    /// A `pids` cgroup per run, created in this directory.
    Cgroup(PathBuf),
    /// `RLIMIT_NPROC`, which counts every process of the child's user.
    Rlimit,
    /// Not enforced: running as root without a usable cgroup.
    Unenforced,
}

/// What the runner can enforce on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforcement {
    /// How the process-count limit is enforced.
    pub processes: ProcessCountMechanism,
    /// Whether file access is confined with Landlock.
    pub landlock: bool,
    /// The uid and gid commands run as, when the runner drops privileges.
    pub run_as: Option<(u32, u32)>,
}

static WARNED_NO_LANDLOCK: AtomicBool = AtomicBool::new(false);
static WARNED_NO_PROCESS_LIMIT: AtomicBool = AtomicBool::new(false);
static WARNED_ROOT_CHILD: AtomicBool = AtomicBool::new(false);

fn warn_once(flag: &AtomicBool, message: &str) {
    if !flag.swap(true, Ordering::Relaxed) {
        tracing::warn!("{message}");
    }
}

/// Runs allowlisted programs inside a root directory under [`ProcessLimits`].
///
/// ```no_run
/// use rustchain_tools_sandbox::process::{
///     CommandRunner, CommandSpec, ProcessLimits, ProgramAllowlist,
/// };
/// use tokio_util::sync::CancellationToken;
///
/// # async fn demo() -> Result<(), rustchain_tools_sandbox::SandboxError> {
/// let allowlist = ProgramAllowlist::new().allow("echo")?;
/// let runner = CommandRunner::new(
///     "/srv/work".into(),
///     allowlist,
///     vec!["PATH".into(), "LANG".into()],
///     ProcessLimits::default(),
/// )?;
/// let spec = CommandSpec::new("echo").arg("hi; rm -rf /");
/// let outcome = runner.run(spec, CancellationToken::new()).await?;
/// assert_eq!(outcome.stdout, "hi; rm -rf /\n");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CommandRunner {
    root: PathBuf,
    allowlist: ProgramAllowlist,
    env_allowlist: Vec<String>,
    limits: ProcessLimits,
    cgroup: Option<PidsCgroupBase>,
    landlock: Option<Arc<OwnedFd>>,
    run_as: Option<(u32, u32)>,
}

impl CommandRunner {
    /// A runner for commands inside `root` (an existing directory).
    ///
    /// `env_allowlist` names the environment variables a command may set or
    /// inherit from this process. Finds a `pids` cgroup and builds the
    /// Landlock ruleset once; what cannot be enforced is warned about once
    /// and shown by [`CommandRunner::enforcement`].
    pub fn new(
        root: PathBuf,
        allowlist: ProgramAllowlist,
        env_allowlist: Vec<String>,
        limits: ProcessLimits,
    ) -> Result<Self, SandboxError> {
        let root = root
            .canonicalize()
            .and_then(|canonical| {
                if canonical.is_dir() {
                    Ok(canonical)
                } else {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::NotADirectory,
                        "not a directory",
                    ))
                }
            })
            .map_err(|source| SandboxError::ProcessSetup {
                what: format!("sandbox root {}", root.display()),
                source,
            })?;
        if let Some(bad) = env_allowlist.iter().find(|name| !valid_env_name(name)) {
            return Err(SandboxError::ProcessSetup {
                what: format!("environment allowlist entry {bad:?}"),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a name must be non-empty and contain neither '=' nor NUL",
                ),
            });
        }
        let cgroup = match PidsCgroupBase::discover() {
            Ok(base) => Some(base),
            Err(reason) => {
                tracing::debug!(%reason, "no pids cgroup for commands");
                None
            }
        };
        let system: Vec<PathBuf> = DEFAULT_SYSTEM_PATHS.iter().map(PathBuf::from).collect();
        let landlock = landlock_ruleset(&root, &system, &allowlist)?;
        if landlock.is_none() {
            warn_once(
                &WARNED_NO_LANDLOCK,
                "the kernel offers no Landlock: commands are not confined to the root and system directories",
            );
        }
        Ok(Self {
            root,
            allowlist,
            env_allowlist,
            limits,
            cgroup,
            landlock,
            run_as: None,
        })
    }

    /// Lets commands also read and execute `paths` (for programs whose
    /// libraries live outside [`DEFAULT_SYSTEM_PATHS`], such as `/opt/x`).
    pub fn read_only_paths(mut self, paths: &[PathBuf]) -> Result<Self, SandboxError> {
        let mut system: Vec<PathBuf> = DEFAULT_SYSTEM_PATHS.iter().map(PathBuf::from).collect();
        system.extend_from_slice(paths);
        self.landlock = landlock_ruleset(&self.root, &system, &self.allowlist)?;
        Ok(self)
    }

    /// Stops using a `pids` cgroup (for hosts where the runner must not
    /// write the cgroup tree). The process-count limit then rests on
    /// `RLIMIT_NPROC`, which binds only a non-root child (see
    /// [`CommandRunner::run_as`]), and processes that leave the process
    /// group are no longer found.
    pub fn without_pids_cgroup(mut self) -> Self {
        self.cgroup = None;
        self
    }

    /// Runs commands as `uid`/`gid` with no supplementary groups (for a
    /// runner running as root). The user needs access to the root directory
    /// through ordinary permissions; commands fail to start otherwise.
    pub fn run_as(mut self, uid: u32, gid: u32) -> Self {
        self.run_as = Some((uid, gid));
        self
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The limits commands run under.
    pub fn limits(&self) -> &ProcessLimits {
        &self.limits
    }

    /// What this runner can enforce here.
    pub fn enforcement(&self) -> Enforcement {
        let processes = match &self.cgroup {
            Some(base) => ProcessCountMechanism::Cgroup(base.dir().to_path_buf()),
            None if self.child_uid() != 0 => ProcessCountMechanism::Rlimit,
            None => ProcessCountMechanism::Unenforced,
        };
        Enforcement {
            processes,
            landlock: self.landlock.is_some(),
            run_as: self.run_as,
        }
    }

    fn child_uid(&self) -> u32 {
        // SAFETY: geteuid has no preconditions.
        self.run_as
            .map_or_else(|| unsafe { libc::geteuid() }, |(uid, _)| uid)
    }

    /// Runs one command to its end, a limit, or cancellation.
    ///
    /// Refuses (before anything starts) programs not on the allowlist,
    /// arguments or environment values with NUL bytes, environment names
    /// not on the environment allowlist, and working directories outside the
    /// root. A limit hit is not an error: it is reported in
    /// [`CommandOutcome::limit`]. Cancellation kills and reaps the group and
    /// returns [`SandboxError::Cancelled`].
    pub async fn run(
        &self,
        spec: CommandSpec,
        cancellation: CancellationToken,
    ) -> Result<CommandOutcome, SandboxError> {
        let program = self.allowlist.resolve(&spec.program)?;
        let refuse = |reason: String| SandboxError::CommandRefused {
            program: spec.program.clone(),
            reason,
        };
        if let Some(index) = spec.args.iter().position(|a| a.contains('\0')) {
            return Err(refuse(format!("argument {index} contains a NUL byte")));
        }
        let cwd = self.resolve_cwd(spec.cwd.as_deref())?;
        let env = self.build_env(&spec).map_err(refuse)?;
        let enforcement = self.enforcement();
        if enforcement.processes == ProcessCountMechanism::Unenforced {
            warn_once(
                &WARNED_NO_PROCESS_LIMIT,
                "running as root without a writable pids cgroup: the process-count limit is NOT enforced (RLIMIT_NPROC does not bind root); use run_as or give the runner a pids cgroup",
            );
        }
        if self.child_uid() == 0 {
            warn_once(
                &WARNED_ROOT_CHILD,
                "commands run as root (confined by Landlock and limits, but with root's capabilities); use run_as to drop privileges",
            );
        }

        let cgroup = match &self.cgroup {
            Some(base) => Some(base.create(self.limits.max_processes).map_err(|source| {
                SandboxError::ProcessSetup {
                    what: format!("a pids cgroup in {}", base.dir().display()),
                    source,
                }
            })?),
            None => None,
        };
        let plan = self.plan(cgroup.as_ref(), &enforcement);

        let mut command = tokio::process::Command::new(&program);
        command
            .args(&spec.args)
            .current_dir(&cwd)
            .env_clear()
            .envs(&env)
            .stdin(if spec.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: `ChildPlan::apply` only makes async-signal-safe system
        // calls on data prepared before the fork; the descriptors it uses
        // (cgroup, Landlock) outlive the spawn.
        unsafe {
            command.pre_exec(move || plan.apply());
        }
        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| SandboxError::Spawn {
            program: spec.program.clone(),
            source,
        })?;
        let Some(pid) = child.id().and_then(|id| libc::pid_t::try_from(id).ok()) else {
            return Err(SandboxError::Spawn {
                program: spec.program.clone(),
                source: std::io::Error::other("the child has no pid"),
            });
        };
        let group = GroupGuard(pid);

        let stdin_task = match (child.stdin.take(), spec.stdin) {
            (Some(mut pipe), Some(bytes)) => Some(tokio::spawn(async move {
                // The program may exit without reading; a broken pipe is fine.
                let _ = pipe.write_all(&bytes).await;
            })),
            _ => None,
        };
        let overflow = Arc::new(Notify::new());
        let stdout = Arc::new(Mutex::new(Captured::default()));
        let stderr = Arc::new(Mutex::new(Captured::default()));
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(tokio::spawn(capture(
                pipe,
                self.limits.stdout_cap_bytes,
                Arc::clone(&stdout),
                Arc::clone(&overflow),
            )));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(tokio::spawn(capture(
                pipe,
                self.limits.stderr_cap_bytes,
                Arc::clone(&stderr),
                Arc::clone(&overflow),
            )));
        }

        let deadline = tokio::time::Instant::now() + self.limits.wall_timeout;
        let mut poll = tokio::time::interval(CGROUP_POLL);
        let mut stopped: Option<Stop> = None;
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                () = tokio::time::sleep_until(deadline), if stopped.is_none() => {
                    stopped = Some(Stop::Limit(LimitHit::WallClock));
                    group.kill(pid);
                }
                () = cancellation.cancelled(), if stopped.is_none() => {
                    stopped = Some(Stop::Cancelled);
                    group.kill(pid);
                }
                () = overflow.notified(), if stopped.is_none() => {
                    stopped = Some(Stop::Limit(LimitHit::Output));
                    group.kill(pid);
                }
                _ = poll.tick(), if stopped.is_none() && cgroup.is_some() => {
                    if cgroup.as_ref().is_some_and(RunCgroup::limit_hit) {
                        stopped = Some(Stop::Limit(LimitHit::Processes));
                        group.kill(pid);
                    }
                }
            }
        };
        let duration = started.elapsed();
        // Whatever ended the program, nothing it started may outlive it.
        group.kill_group();
        let mut processes_hit = false;
        if let Some(cgroup) = &cgroup {
            if !cgroup.kill_all(KILL_BUDGET).await {
                tracing::warn!(program = %spec.program, "processes of a command survived {KILL_BUDGET:?} of SIGKILL");
            }
            processes_hit = cgroup.limit_hit();
        }
        let drain = async {
            for reader in &mut readers {
                let _ = reader.await;
            }
        };
        let _ = tokio::time::timeout(DRAIN_BUDGET, drain).await;
        for reader in &readers {
            reader.abort();
        }
        if let Some(task) = stdin_task {
            task.abort();
        }
        if let Some(cgroup) = cgroup {
            cgroup.remove(KILL_BUDGET).await;
        }
        let status = status.map_err(|source| SandboxError::Spawn {
            program: spec.program.clone(),
            source,
        })?;
        if stopped == Some(Stop::Cancelled) {
            return Err(SandboxError::Cancelled {
                program: spec.program,
            });
        }

        let (stdout, stdout_truncated) = take(&stdout);
        let (stderr, stderr_truncated) = take(&stderr);
        let killed = match stopped {
            Some(Stop::Limit(limit)) => Some(limit),
            // A reader that hit its cap closed its pipe, and the program can
            // die of SIGPIPE before the overflow is seen above: the cut
            // output is what stopped it.
            _ if stdout_truncated || stderr_truncated => Some(LimitHit::Output),
            _ => None,
        };
        let limit = classify(Evidence {
            killed,
            signal: status.signal(),
            exit_code: status.code(),
            processes_hit,
            has_cgroup: self.cgroup.is_some(),
            stderr: &stderr,
        });
        Ok(CommandOutcome {
            exit_code: status.code(),
            signal: status.signal(),
            stdout,
            stderr,
            stdout_truncated,
            stderr_truncated,
            limit,
            duration,
        })
    }

    fn plan(&self, cgroup: Option<&RunCgroup>, enforcement: &Enforcement) -> ChildPlan {
        let limits = &self.limits;
        let rlimit = |resource, value: u64, hard: u64| {
            Some(Rlimit {
                resource,
                soft: value,
                hard,
            })
        };
        // Only without a cgroup, and only for non-root (it does not bind
        // root): it counts every process of the user, not just this command's.
        let nproc = (enforcement.processes == ProcessCountMechanism::Rlimit).then_some(Rlimit {
            resource: libc::RLIMIT_NPROC,
            soft: limits.max_processes,
            hard: limits.max_processes,
        });
        ChildPlan {
            // SAFETY: getpid has no preconditions.
            parent: unsafe { libc::getpid() },
            cgroup_procs: cgroup.and_then(RunCgroup::procs_fd),
            rlimits: [
                // SIGXCPU at the soft limit, SIGKILL a second later for
                // programs that catch it.
                rlimit(
                    libc::RLIMIT_CPU,
                    limits.cpu_seconds,
                    limits.cpu_seconds.saturating_add(1),
                ),
                rlimit(
                    libc::RLIMIT_AS,
                    limits.address_space_bytes,
                    limits.address_space_bytes,
                ),
                rlimit(
                    libc::RLIMIT_FSIZE,
                    limits.file_size_bytes,
                    limits.file_size_bytes,
                ),
                rlimit(libc::RLIMIT_CORE, 0, 0),
                nproc,
                None,
            ],
            user: self.run_as,
            landlock: self.landlock.as_deref().map(AsRawFd::as_raw_fd),
        }
    }

    fn resolve_cwd(&self, cwd: Option<&str>) -> Result<PathBuf, SandboxError> {
        let Some(cwd) = cwd else {
            return Ok(self.root.clone());
        };
        let refuse = |reason: String| SandboxError::CwdRefused {
            cwd: cwd.to_string(),
            reason,
        };
        if cwd.contains('\0') {
            return Err(refuse("it contains a NUL byte".into()));
        }
        for component in Path::new(cwd).components() {
            match component {
                Component::Normal(_) | Component::CurDir => {}
                Component::ParentDir => return Err(refuse("`..` is not allowed".into())),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(refuse(
                        "absolute paths are not allowed; give a path relative to the root".into(),
                    ));
                }
            }
        }
        let canonical = self
            .root
            .join(cwd)
            .canonicalize()
            .map_err(|e| refuse(format!("cannot resolve it inside the root: {e}")))?;
        if !canonical.starts_with(&self.root) {
            return Err(refuse(format!(
                "it leads outside the root {} (through a symlink)",
                self.root.display()
            )));
        }
        if !canonical.is_dir() {
            return Err(refuse("it is not a directory".into()));
        }
        Ok(canonical)
    }

    fn build_env(
        &self,
        spec: &CommandSpec,
    ) -> Result<BTreeMap<String, std::ffi::OsString>, String> {
        let mut env = BTreeMap::new();
        for (name, value) in &spec.env {
            if !self.env_allowlist.contains(name) {
                return Err(format!(
                    "environment variable {name:?} is not on the allowlist ({})",
                    self.env_allowlist.join(", ")
                ));
            }
            if value.contains('\0') {
                return Err(format!("environment variable {name:?} contains a NUL byte"));
            }
            env.insert(name.clone(), value.into());
        }
        for name in &self.env_allowlist {
            if !env.contains_key(name)
                && let Some(value) = std::env::var_os(name)
            {
                env.insert(name.clone(), value);
            }
        }
        Ok(env)
    }
}

fn landlock_ruleset(
    root: &Path,
    system: &[PathBuf],
    allowlist: &ProgramAllowlist,
) -> Result<Option<Arc<OwnedFd>>, SandboxError> {
    let programs: Vec<PathBuf> = allowlist.allowed().map(Path::to_path_buf).collect();
    Ok(confine::build_ruleset(root, system, &programs)
        .map_err(|e| SandboxError::ProcessSetup {
            what: "the Landlock ruleset".into(),
            source: std::io::Error::other(e),
        })?
        .map(Arc::new))
}

fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0'])
}

/// Why the runner stopped a program itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Limit(LimitHit),
    Cancelled,
}

/// Kills the command's process group when the run ends, however it ends
/// (including when the `run` future is dropped).
struct GroupGuard(libc::pid_t);

impl GroupGuard {
    fn kill(&self, pid: libc::pid_t) {
        self.kill_group();
        // SAFETY: kill has no memory-safety preconditions; `pid` is our
        // unreaped child, so it cannot have been reused.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }

    fn kill_group(&self) {
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe { libc::killpg(self.0, libc::SIGKILL) };
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill_group();
    }
}

#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
}

async fn capture<R: AsyncRead + Unpin>(
    mut reader: R,
    cap: usize,
    sink: Arc<Mutex<Captured>>,
    overflow: Arc<Notify>,
) {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut sink = sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let room = cap.saturating_sub(sink.bytes.len());
        if n > room {
            sink.bytes.extend_from_slice(&chunk[..room]);
            sink.truncated = true;
            overflow.notify_one();
            return;
        }
        sink.bytes.extend_from_slice(&chunk[..n]);
    }
}

fn take(captured: &Mutex<Captured>) -> (String, bool) {
    let captured = captured
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    (
        String::from_utf8_lossy(&captured.bytes).into_owned(),
        captured.truncated,
    )
}

/// What is known when a program has ended.
struct Evidence<'a> {
    killed: Option<LimitHit>,
    signal: Option<i32>,
    exit_code: Option<i32>,
    processes_hit: bool,
    has_cgroup: bool,
    stderr: &'a str,
}

/// Shells report a child killed by signal N as exit code 128 + N.
const SHELL_SIGNAL_BASE: i32 = 128;

const MEMORY_MARKERS: &[&str] = &[
    "MemoryError",
    "Cannot allocate memory",
    "memory allocation of",
    "out of memory",
    "Out of memory",
    "bad_alloc",
];
const FORK_MARKERS: &[&str] = &[
    "Resource temporarily unavailable",
    "Cannot fork",
    "can't fork",
];

/// Names the limit that ended a program, from the strongest evidence first:
/// the runner's own kill, a limit signal, the cgroup's counter, then
/// (only for a failed program) what it printed.
fn classify(e: Evidence<'_>) -> Option<LimitHit> {
    let says = |markers: &[&str]| markers.iter().any(|m| e.stderr.contains(m));
    // Without a cgroup a contained fork bomb keeps failing to fork until the
    // clock or the output cap ends it; its fork failures say which limit bit.
    if !e.has_cgroup
        && matches!(e.killed, Some(LimitHit::WallClock | LimitHit::Output))
        && says(FORK_MARKERS)
    {
        return Some(LimitHit::Processes);
    }
    if e.killed.is_some() {
        return e.killed;
    }
    let signal_or_shell =
        |sig: i32| e.signal == Some(sig) || e.exit_code == Some(SHELL_SIGNAL_BASE + sig);
    if signal_or_shell(libc::SIGXCPU) {
        return Some(LimitHit::CpuTime);
    }
    if signal_or_shell(libc::SIGXFSZ) {
        return Some(LimitHit::FileSize);
    }
    if e.processes_hit {
        return Some(LimitHit::Processes);
    }
    let failed = e.signal.is_some() || e.exit_code != Some(0);
    if !failed {
        return None;
    }
    if e.stderr.contains("File too large") {
        Some(LimitHit::FileSize)
    } else if says(MEMORY_MARKERS) {
        Some(LimitHit::Memory)
    } else if !e.has_cgroup && says(FORK_MARKERS) {
        Some(LimitHit::Processes)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(signal: Option<i32>, exit_code: Option<i32>, stderr: &str) -> Evidence<'_> {
        Evidence {
            killed: None,
            signal,
            exit_code,
            processes_hit: false,
            has_cgroup: true,
            stderr,
        }
    }

    #[test]
    fn the_runners_own_kill_wins() {
        let mut e = evidence(Some(libc::SIGKILL), None, "MemoryError");
        e.killed = Some(LimitHit::WallClock);
        assert_eq!(classify(e), Some(LimitHit::WallClock));
    }

    #[test]
    fn limit_signals_and_shell_codes_are_recognised() {
        assert_eq!(
            classify(evidence(Some(libc::SIGXCPU), None, "")),
            Some(LimitHit::CpuTime)
        );
        assert_eq!(
            classify(evidence(None, Some(152), "")),
            Some(LimitHit::CpuTime)
        );
        assert_eq!(
            classify(evidence(Some(libc::SIGXFSZ), None, "")),
            Some(LimitHit::FileSize)
        );
        assert_eq!(
            classify(evidence(None, Some(153), "")),
            Some(LimitHit::FileSize)
        );
    }

    #[test]
    fn stderr_is_only_evidence_for_a_failed_program() {
        assert_eq!(classify(evidence(None, Some(0), "MemoryError")), None);
        assert_eq!(
            classify(evidence(None, Some(1), "MemoryError")),
            Some(LimitHit::Memory)
        );
        assert_eq!(
            classify(evidence(
                None,
                Some(1),
                "OSError: [Errno 27] File too large"
            )),
            Some(LimitHit::FileSize)
        );
        assert_eq!(classify(evidence(None, Some(1), "no such file")), None);
    }

    #[test]
    fn fork_failures_count_from_the_cgroup_or_else_from_stderr() {
        let mut e = evidence(None, Some(0), "");
        e.processes_hit = true;
        assert_eq!(classify(e), Some(LimitHit::Processes));
        let mut e = evidence(None, Some(2), "sh: 1: Cannot fork");
        e.has_cgroup = false;
        assert_eq!(classify(e), Some(LimitHit::Processes));
        assert_eq!(
            classify(evidence(None, Some(2), "sh: 1: Cannot fork")),
            None
        );
        let mut e = evidence(Some(libc::SIGKILL), None, "sh: 1: Cannot fork");
        e.has_cgroup = false;
        e.killed = Some(LimitHit::WallClock);
        assert_eq!(classify(e), Some(LimitHit::Processes));
    }

    #[test]
    fn limit_hits_display_their_names() {
        assert_eq!(LimitHit::WallClock.to_string(), "wall-clock timeout");
        assert_eq!(LimitHit::Output.to_string(), "output cap");
    }

    #[test]
    fn env_names_are_checked() {
        assert!(valid_env_name("PATH"));
        assert!(!valid_env_name(""));
        assert!(!valid_env_name("A=B"));
        assert!(!valid_env_name("A\0"));
    }
}
