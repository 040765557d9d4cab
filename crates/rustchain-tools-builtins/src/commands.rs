//! `cmd_run` (feature `sandbox`): runs a program with an argument array,
//! never through a shell, under the operating system's limits.

use std::{collections::BTreeMap, sync::Arc};

use rustchain_tools_core::{
    BehaviorHints, Permissions, Tool, ToolContext, ToolError, ToolInfo, ToolSource, async_trait,
};
use rustchain_tools_sandbox::process::{CommandRunner, CommandSpec, LimitHit};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::sandboxed::sandbox_error;

/// `cmd_run`: runs one program in the sandbox root.
pub struct CmdRun {
    runner: Arc<CommandRunner>,
}

impl CmdRun {
    pub(crate) fn new(runner: Arc<CommandRunner>) -> Self {
        CmdRun { runner }
    }
}

/// Arguments of [`CmdRun`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CmdRunParams {
    /// The program: a name looked up on the search path, or an absolute path.
    /// It must be allowed by the policy and by the runner's allowlist.
    #[schemars(length(min = 1))]
    pub program: String,
    /// The arguments, each passed to the program as it is: no shell sees them.
    #[serde(default)]
    pub args: Vec<String>,
    /// The working directory, relative to the root (default: the root).
    pub cwd: Option<String>,
    /// Environment variables to set; only names on the runner's allowlist.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Text given to the program on its standard input.
    pub stdin: Option<String>,
}

/// Result of [`CmdRun`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct CmdRunOutput {
    /// The exit code, when the program exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// Standard output (invalid UTF-8 replaced), at most the cap.
    pub stdout: String,
    /// Standard error, at most the cap.
    pub stderr: String,
    /// Whether standard output was cut at its cap.
    pub stdout_truncated: bool,
    /// Whether standard error was cut at its cap.
    pub stderr_truncated: bool,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
}

#[async_trait]
impl Tool for CmdRun {
    type Params = CmdRunParams;
    type Output = CmdRunOutput;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("cmd_run", "1.0.0")
            .source(ToolSource::Builtin)
            .title("Run a program")
            .description(
                "Runs a program with an argument array (never a shell) in the sandbox root, \
                 with a cleared environment and limits on CPU time, memory, file size, \
                 processes, wall-clock time and output.",
            )
            .category("process")
            .tags(["process", "command", "sandbox"])
            .permissions(Permissions {
                // `*`: the policy judges the program each call names.
                commands: vec!["*".into()],
                file_write: vec![self.runner.root().display().to_string()],
                ..Permissions::default()
            })
            .hints(BehaviorHints {
                read_only: false,
                destructive: true,
                idempotent: false,
                open_world: true,
            })
    }

    async fn run(&self, p: CmdRunParams, ctx: &ToolContext) -> Result<CmdRunOutput, ToolError> {
        let mut spec = CommandSpec::new(p.program.clone()).args(p.args);
        if let Some(cwd) = p.cwd {
            spec = spec.cwd(cwd);
        }
        for (name, value) in p.env {
            spec = spec.env(name, value);
        }
        if let Some(stdin) = p.stdin {
            spec = spec.stdin(stdin.into_bytes());
        }
        let outcome = self
            .runner
            .run(spec, ctx.cancellation.clone())
            .await
            .map_err(|e| sandbox_error("cmd_run", e))?;
        if let Some(limit) = outcome.limit {
            return Err(ToolError::LimitExceeded {
                tool: "cmd_run".into(),
                limit: limit_name(limit).into(),
                message: format!(
                    "`{}` was stopped by the {limit} limit after {} ms; its process group was killed",
                    p.program,
                    outcome.duration.as_millis()
                ),
            });
        }
        Ok(CmdRunOutput {
            exit_code: outcome.exit_code,
            signal: outcome.signal,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
            stdout_truncated: outcome.stdout_truncated,
            stderr_truncated: outcome.stderr_truncated,
            duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

fn limit_name(limit: LimitHit) -> &'static str {
    match limit {
        LimitHit::CpuTime => "cpu_time",
        LimitHit::Memory => "memory",
        LimitHit::FileSize => "file_size",
        LimitHit::Processes => "processes",
        LimitHit::WallClock => "wall_clock",
        LimitHit::Output => "output",
    }
}
