//! `rustchain-tools`: list, describe and call tools from the command line.

use std::{
    io::{Read, Write},
    process::ExitCode,
    time::Duration,
};

use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand};
use rustchain_tools::{
    Catalog, Language, Principal, Runtime, RuntimeBuilderExt, StackConfig, ToolCall, ToolError,
    ToolMetadata, ToolResult, VersionReq, WORKSPACE_ROLE,
    audit::{
        AuditLayer, AuditLog, ConsistencyProof, Durability, InclusionProof, VerifierKey, log_files,
        open_keyed, prove_consistency, prove_inclusion, read_records, verify,
        verify_consistency_proof, verify_inclusion_proof,
    },
    builtins::{SANDBOXED_TOOLS, SandboxConfig},
    policy::{PolicyConfig, PolicyEngine, check_policy_dir, run_policy_tests},
    schema::{
        diff::diff,
        export::{Dialect, ExportOptions, Format, ToolDefinition, export},
    },
    workspace_policy,
};
use serde_json::{Value, json};

mod browse;
mod discovery;
mod findings;
mod market;
mod mcp;
mod plugin;
mod publish;
mod settings;
mod usage;
use discovery::{RegistryCommand, SearchArgs};
use settings::Settings;

/// Exit codes, as documented in the README.
mod exit {
    pub const SUCCESS: u8 = 0;
    pub const TOOL_FAILED: u8 = 1;
    pub const INVALID_ARGUMENTS: u8 = 2;
    pub const DENIED: u8 = 3;
    pub const LIMIT: u8 = 4;
    pub const USAGE: u8 = 64;
}

const EXAMPLES: &str = "\
Examples:
  rustchain-tools tools list
  rustchain-tools tools list --category json --json
  rustchain-tools tools describe text.word_count
  rustchain-tools tools describe text.word_count --format openai-strict
  rustchain-tools schema export tool.json --format gemini
  rustchain-tools schema diff old.json new.json
  rustchain-tools schema codegen tool.json --name WeatherArgs
  rustchain-tools call text.sha256 --args '{\"text\": \"a\"}' --profile sox --role analyst
  rustchain-tools policy eval --input input.json --profile read-only
  rustchain-tools policy test
  rustchain-tools publish check docs/plugins/echo
  rustchain-tools call text.word_count --args '{\"text\": \"to be or not to be\"}'
  rustchain-tools call json.format --args @request.json
  echo '{\"text\": \"abc\"}' | rustchain-tools call text.sha256 --args -

Exit codes:
  0 success, 1 tool failed, 2 invalid arguments, 3 denied,
  4 limit exceeded, timed out or cancelled, 64 usage error (including an unknown tool)";

/// Typed, validated tools for AI agents, from the command line.
#[derive(Debug, Parser)]
#[command(name = "rustchain-tools", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List and describe the tools.
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// Work with JSON Schemas: export to the formats agents speak.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Call a tool through the full pipeline; prints the result as JSON.
    #[command(after_help = EXAMPLES)]
    Call {
        /// The tool's name, e.g. text.word_count.
        name: String,
        /// The arguments: JSON text, @FILE to read them from a file, or - for stdin.
        #[arg(long, default_value = "{}")]
        args: String,
        /// Which versions may serve the call, e.g. ^1 (default: the newest).
        #[arg(long)]
        version: Option<VersionReq>,
        /// Stop the call after this many seconds (default: 60).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
        /// The language of error messages: en, de or fr.
        #[arg(long, default_value = "en")]
        lang: Language,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Who is calling (default: local).
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
        /// A role of the caller (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Record the call in this tamper-evident audit log (JSON Lines)
        /// instead of the default one (audit.jsonl in the data directory, or
        /// the configuration file's). Its signing key is FILE.key (made on
        /// first use, with FILE.pub beside it).
        #[arg(long, value_name = "FILE")]
        audit: Option<String>,
        /// Record nothing (unless --audit names a log).
        #[arg(long)]
        no_audit: bool,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Verify, read and prove audit logs.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Evaluate, test and check Rego policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Import, remove, count and evaluate the tools of a registry.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Add, list and remove WASM plugins.
    Plugin(plugin::PluginArgs),
    /// Check, sign and verify a plugin package, submit it to the
    /// marketplace and follow its review.
    Publish(publish::PublishArgs),
    /// Run the marketplace (serve) and work in it: accounts, keys, the
    /// review queue, reviews, the published packages.
    Market(market::MarketArgs),
    /// Serve the tools to an MCP client (an agent) over stdio, or over
    /// streamable HTTP with --http ADDR; configured by ./rustchain.toml.
    #[command(after_help = MCP_EXAMPLES)]
    Mcp(Box<mcp::McpArgs>),
}

const MCP_EXAMPLES: &str = "\
Examples:
  rustchain-tools mcp                                  # stdio, ./rustchain.toml or the safe defaults
  rustchain-tools mcp --root ~/notes --role editor --no-profile
  rustchain-tools mcp --http 127.0.0.1:8700 --token-env MCP_TOKEN
  rustchain-tools mcp --mode search                    # find_tools and call_tool only

With no configuration: the current directory as root, the read-only profile,
every call recorded in audit.jsonl in the data directory.";

/// What the sandboxed tools (`fs_*`, `cmd_run`, `http_fetch`) may touch.
#[derive(Debug, Clone, clap::Args)]
struct SandboxArgs {
    /// The directory the file tools work in and programs run in. The caller
    /// gets the role `workspace`, which grants reading and writing below it
    /// (tools that change things still need a role such as editor).
    #[arg(long, value_name = "DIR")]
    root: Option<String>,
    /// A program cmd_run may start, by name or absolute path (repeatable);
    /// the policy must allow each call too.
    #[arg(long = "allow-program", value_name = "PROGRAM")]
    programs: Vec<String>,
    /// Let http_fetch reach loopback addresses (127.0.0.0/8, ::1) on any port.
    #[arg(long)]
    allow_loopback: bool,
    /// Limits of the pipeline (slots, wait, timeouts, memory cap): a JSON
    /// file with the fields of `LimitsConfig`.
    #[arg(long, value_name = "FILE")]
    limits: Option<String>,
}

impl SandboxArgs {
    /// The sandbox configuration, when a root was given.
    fn config(&self) -> Result<Option<SandboxConfig>> {
        let Some(root) = &self.root else {
            return Ok(None);
        };
        let mut config = SandboxConfig::new(root);
        for program in &self.programs {
            config.programs = config
                .programs
                .allow(program)
                .map_err(|e| anyhow!("--allow-program {program}: {e}"))?;
        }
        if self.allow_loopback {
            config.net.allow_loopback = true;
            config.net.allow_any_port = true;
        }
        Ok(Some(config))
    }

    fn stack(&self, policy: PolicyConfig, settings: &Settings) -> Result<StackConfig> {
        let limits = match &self.limits {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --limits {path}"))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("--limits {path} is not a limits configuration"))?
            }
            None => settings.config.limits.clone().unwrap_or_default(),
        };
        // The `workspace` role: reading and writing below the root, nothing else.
        let policy = match &self.root {
            Some(root) => {
                let root = std::fs::canonicalize(root)
                    .with_context(|| format!("--root {root} cannot be opened"))?;
                workspace_policy(policy, &root)
            }
            None => policy,
        };
        Ok(StackConfig::default().policy(policy).limits(limits))
    }
}

/// Which policies apply; the shipped default policy unless told otherwise.
#[derive(Debug, Clone, clap::Args)]
struct PolicyArgs {
    /// A directory of Rego policies (and data documents) added to the default policy.
    #[arg(long, value_name = "DIR")]
    policy: Option<String>,
    /// A compliance profile to enforce: sox, read-only, or one of DIR (repeatable).
    #[arg(long = "profile", value_name = "NAME")]
    profiles: Vec<String>,
}

impl PolicyArgs {
    fn config(&self) -> PolicyConfig {
        let mut config = PolicyConfig::new();
        if let Some(dir) = &self.policy {
            config = config.policy_dir(dir);
        }
        self.profiles
            .iter()
            .fold(config, |config, profile| config.profile(profile))
    }
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain and the signed checkpoints of a log (and the
    /// files rotated out of it); prints `ok` and the record count, or the
    /// first record that fails and why, exiting 1.
    Verify {
        /// The log (its rotated files are found beside it), or several files.
        #[arg(required = true)]
        files: Vec<String>,
        /// The public key (default: the first file's .pub).
        #[arg(long, value_name = "FILE")]
        key: Option<String>,
    },
    /// Print the records of a log, filtered.
    Show {
        /// The log.
        file: String,
        /// Only records about this tool.
        #[arg(long)]
        tool: Option<String>,
        /// Only records of this call id.
        #[arg(long)]
        call: Option<String>,
        /// Only records at or after this time (RFC 3339, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Print JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a proof, as JSON: that record N is in the log (--record), or
    /// that the checkpoint of size SIZE is a prefix of the latest (--from).
    Prove {
        /// The log.
        file: String,
        /// The record to prove.
        #[arg(long, value_name = "N", conflicts_with = "from")]
        record: Option<u64>,
        /// The size of the older checkpoint.
        #[arg(long, value_name = "SIZE", required_unless_present = "record")]
        from: Option<u64>,
        /// The public key (default: FILE.pub).
        #[arg(long, value_name = "FILE")]
        key: Option<String>,
    },
    /// Check a proof made by `audit prove` with only the public key.
    VerifyProof {
        /// The proof, JSON.
        proof: String,
        /// The public key.
        #[arg(long, value_name = "FILE")]
        key: String,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Decide about an input document (as docs/policy.md describes it) and
    /// print the decision; exit 3 when denied.
    Eval {
        /// The input document, JSON.
        #[arg(long, value_name = "FILE")]
        input: String,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Run the Rego unit tests (test_ rules) of a directory with the default
    /// policy, or the shipped tests when no directory is given.
    Test {
        /// A directory of policies and their tests.
        dir: Option<String>,
    },
    /// Check the policies of a directory: syntax, package, and input fields
    /// the documented input never has.
    Check {
        /// A directory of policies.
        dir: String,
    },
}

/// Export flags shared by `schema export` and `tools describe`.
#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// Print the definition in this format: mcp, openai, openai-strict, anthropic, gemini.
    #[arg(long)]
    format: Option<Format>,
    /// MCP: emit JSON Schema draft-07 instead of 2020-12.
    #[arg(long)]
    draft_07: bool,
    /// MCP, OpenAI, Anthropic: inline $ref and drop $defs (Gemini always does).
    #[arg(long)]
    inline_refs: bool,
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Print Rust types (serde, schemars) generated from a JSON Schema.
    Codegen {
        /// A JSON file: a bare schema, or a tool definition (its arguments' schema is used).
        file: String,
        /// The name of the root type when the schema has no title (default: from the file name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Compare two input schemas: exit 0 when NEW accepts every input OLD
    /// accepted, 1 when not; lists each breaking and compatible change.
    Diff {
        /// The old schema (a bare schema, or a tool definition).
        old: String,
        /// The new schema.
        new: String,
        /// Print the changes as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export a tool definition (or a bare JSON Schema of its arguments) to a
    /// provider's format; changes of meaning are listed on stderr.
    Export {
        /// A JSON file: a tool definition with `name` and `parameters`,
        /// `inputSchema` or `input_schema`, or a bare schema of the arguments.
        file: String,
        #[command(flatten)]
        export: ExportArgs,
        /// The tool's name when FILE is a bare schema (default: the file's stem).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ToolsCommand {
    /// List the tools, newest version of each first.
    List {
        /// Only tools of this category.
        #[arg(long)]
        category: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a tool's description, schemas, permissions and hints.
    Describe {
        /// The tool's name.
        name: String,
        /// Which version (default: the newest).
        #[arg(long)]
        version: Option<VersionReq>,
        /// Print the metadata as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        export: ExportArgs,
    },
    /// Find tools in a registry by what they do, in plain words: ranked by
    /// words (BM25F) and, with an embedding model, by meaning; each result
    /// says why it matched.
    Search(SearchArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::from(exit::SUCCESS);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(exit::USAGE);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Policy(command) => policy(&command),
        Command::Audit(command) => audit(command),
        Command::Schema(SchemaCommand::Export { file, export, name }) => {
            export_file(&file, &export, name.as_deref())
        }
        Command::Schema(SchemaCommand::Diff { old, new, json }) => diff_files(&old, &new, json),
        Command::Schema(SchemaCommand::Codegen { file, name }) => {
            codegen_file(&file, name.as_deref())
        }
        Command::Call {
            name,
            args,
            version,
            timeout,
            lang,
            policy,
            principal,
            mut roles,
            audit,
            no_audit,
            sandbox,
        } => {
            let settings = Settings::load()?;
            let sandbox_config = sandbox.config()?;
            if sandbox_config.is_none() && SANDBOXED_TOOLS.contains(&name.as_str()) {
                eprintln!(
                    "error: `{name}` works in a directory: give it with --root DIR \
                     (see `rustchain-tools call --help`)"
                );
                return Ok(exit::USAGE);
            }
            let mut stack = sandbox.stack(policy.config(), &settings)?;
            let audit = settings.audit_log(audit.as_deref(), no_audit);
            let log = match audit.as_deref().map(open_audit_log).transpose() {
                Ok(log) => log,
                Err(e) => {
                    eprintln!("error: the audit log cannot be opened, so nothing runs: {e:#}");
                    return Ok(exit::TOOL_FAILED);
                }
            };
            if let (Some((log, _)), Some(path)) = (&log, &audit)
                && let Err(e) = settings.record_configuration(log, path)
            {
                eprintln!("error: nothing runs unrecorded: {e:#}");
                return Ok(exit::TOOL_FAILED);
            }
            let plugin_root = sandbox.root.clone().unwrap_or_else(|| ".".into());
            let mut builder = Runtime::builder().builtins();
            if let Some(config) = sandbox_config {
                builder = builder.sandboxed(config);
                roles.push(WORKSPACE_ROLE.into());
            }
            let builder = plugin::with_installed(builder, std::path::Path::new(&plugin_root))?;
            // Outermost, so that every outcome is recorded, refusals of an
            // unknown tool or version included.
            stack = match &log {
                Some((log, key)) => stack.audit_layer(AuditLayer::new(log.clone(), key.as_bytes())),
                None => stack.insecure_no_audit(),
            };
            let runtime = match builder.layers(stack).build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("error: the tool runtime could not start: {e}");
                    return Ok(exit::TOOL_FAILED);
                }
            };
            let principal = Principal {
                id: principal.unwrap_or_else(|| Principal::local().id),
                roles,
            };
            // With a registry, the call goes through the catalog: a tool
            // known there by its definition only is refused as such, and a
            // tool whose definition changed under its version is refused.
            let registry_dir = settings.registry_dir(None);
            let target = if registry_dir
                .join(rustchain_tools::registry::INDEX_FILE)
                .exists()
            {
                let registry = rustchain_tools::registry::Registry::open(&registry_dir)
                    .with_context(|| {
                        format!(
                            "the registry in {} cannot be opened",
                            registry_dir.display()
                        )
                    })?;
                Callee::Catalog(Catalog::open(runtime, std::sync::Arc::new(registry))?)
            } else {
                Callee::Runtime(runtime)
            };
            let code = call(target, name, &args, version, timeout, lang, principal)?;
            if let Some((log, _)) = log {
                // Closing writes the signed checkpoint that covers this call.
                if let Err(e) = log.close() {
                    eprintln!("error: the audit log was not closed cleanly: {e}");
                    return Ok(exit::TOOL_FAILED);
                }
            }
            Ok(code)
        }
        Command::Registry(command) => discovery::registry(&command, &Settings::load()?),
        Command::Tools(command) => tools(command),
        Command::Mcp(args) => mcp::serve(&args),
        Command::Plugin(command) => plugin::run(&command, &Settings::load()?),
        Command::Publish(command) => publish::run(&command),
        Command::Market(command) => market::run(&command, &Settings::load()?),
    }
}

fn tools(command: ToolsCommand) -> Result<u8> {
    // The sandboxed tools are described as they would work in the current
    // directory; `call --root DIR` sets their real root.
    // Only read, never called: no layers.
    let builder = plugin::with_installed(
        Runtime::builder()
            .builtins()
            .sandboxed(SandboxConfig::new(".")),
        std::path::Path::new("."),
    )?;
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: the tool runtime could not start: {e}");
            return Ok(exit::TOOL_FAILED);
        }
    };
    match command {
        ToolsCommand::List { category, json } => list(&runtime, category.as_deref(), json),
        ToolsCommand::Describe {
            name,
            version,
            json,
            export,
        } => describe(&runtime, &name, version.as_ref(), json, &export),
        ToolsCommand::Search(args) => discovery::search(&args, &Settings::load()?, runtime),
    }
}

fn list(runtime: &Runtime, category: Option<&str>, as_json: bool) -> Result<u8> {
    let tools: Vec<&ToolMetadata> = runtime
        .tools()
        .iter()
        .map(|t| t.metadata())
        .filter(|m| category.is_none_or(|c| m.category() == c))
        .collect();
    let mut out = std::io::stdout().lock();
    if as_json {
        let rows: Vec<Value> = tools
            .iter()
            .map(|m| {
                json!({
                    "name": m.name(),
                    "version": m.version().to_string(),
                    "category": m.category(),
                    "description": m.description(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
    } else {
        let width = tools
            .iter()
            .map(|m| m.name().as_str().len())
            .max()
            .unwrap_or(4);
        writeln!(
            out,
            "{:width$}  {:8}  {:8}  DESCRIPTION",
            "NAME", "VERSION", "CATEGORY"
        )?;
        for m in tools {
            writeln!(
                out,
                "{:width$}  {:8}  {:8}  {}",
                m.name().as_str(),
                m.version().to_string(),
                m.category(),
                m.description()
            )?;
        }
    }
    Ok(exit::SUCCESS)
}

fn describe(
    runtime: &Runtime,
    name: &str,
    version: Option<&VersionReq>,
    as_json: bool,
    export_args: &ExportArgs,
) -> Result<u8> {
    let tool = match runtime.tools().resolve(name, version) {
        Ok(tool) => tool,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
    let m = tool.metadata();
    if export_args.format.is_some() {
        return print_export(&m.definition(), export_args);
    }
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(m)?)?;
        return Ok(exit::SUCCESS);
    }
    let hints = m.hints();
    writeln!(out, "{} {}", m.name(), m.version())?;
    if let Some(title) = m.title() {
        writeln!(out, "title:       {title}")?;
    }
    writeln!(out, "description: {}", m.description())?;
    writeln!(out, "category:    {}", m.category())?;
    writeln!(out, "tags:        {}", m.tags().join(", "))?;
    writeln!(
        out,
        "hints:       read-only={} destructive={} idempotent={} open-world={}",
        hints.read_only, hints.destructive, hints.idempotent, hints.open_world
    )?;
    let p = m.permissions();
    if p.is_empty() {
        writeln!(out, "permissions: none")?;
    } else {
        writeln!(out, "permissions: {}", serde_json::to_string(p)?)?;
    }
    writeln!(
        out,
        "input schema:\n{}",
        serde_json::to_string_pretty(m.input_schema())?
    )?;
    if let Some(schema) = m.output_schema() {
        writeln!(
            out,
            "output schema:\n{}",
            serde_json::to_string_pretty(schema)?
        )?;
    }
    Ok(exit::SUCCESS)
}

/// Exports `definition` as the flags ask: the document on stdout, each change
/// of meaning on stderr; a definition the format cannot hold exits 1.
fn print_export(definition: &ToolDefinition, args: &ExportArgs) -> Result<u8> {
    let mut options = ExportOptions::new(args.format.unwrap_or(Format::Mcp));
    options.inline_refs = args.inline_refs;
    if args.draft_07 {
        options.dialect = Dialect::Draft07;
    }
    match export(definition, options) {
        Ok(exported) => {
            writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::to_string_pretty(&exported.document)?
            )?;
            for change in &exported.changes {
                let at = if change.pointer.is_empty() {
                    "/"
                } else {
                    &change.pointer
                };
                eprintln!("note: {at}: {}", change.what);
            }
            Ok(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit::TOOL_FAILED)
        }
    }
}

/// Reads a JSON file; `Err(code)` after saying why it is unusable.
fn read_json(file: &str) -> Result<std::result::Result<Value, u8>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("could not read {file}"))?;
    Ok(serde_json::from_str(&text).map_err(|e| {
        eprintln!("error: {file} is not valid JSON: {e}");
        exit::INVALID_ARGUMENTS
    }))
}

/// The argument schema in a file holding a tool definition or a bare schema.
fn input_schema_of(value: &Value) -> &Value {
    ["parameters", "inputSchema", "input_schema"]
        .into_iter()
        .find_map(|k| value.get(k))
        .unwrap_or(value)
}

/// Opens (or starts) the audit log at `path` with its key at `path.key`,
/// making the key (and `path.pub`) on first use. Returns the log and the
/// secret the layer keys its digests of sensitive values with.
fn open_audit_log(log_path: &std::path::Path) -> Result<(AuditLog, String)> {
    let keyed = open_keyed(log_path, Durability::Group)
        .with_context(|| format!("could not open the audit log {}", log_path.display()))?;
    // A log that starts afresh records the configuration it starts with.
    if keyed.fresh {
        settings::forget_configuration(log_path)?;
    }
    let secret = keyed.redaction_secret();
    Ok((keyed.log, secret))
}

fn read_verifier(path: &str) -> Result<VerifierKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("could not read the key {path}"))?;
    VerifierKey::parse(text.trim()).with_context(|| format!("{path} is not a public audit key"))
}

/// The files of a log: one path expands to its rotated files and itself.
fn audit_files(files: &[String]) -> Result<Vec<std::path::PathBuf>> {
    match files {
        [one] => log_files(std::path::Path::new(one))
            .with_context(|| format!("could not list the files of {one}")),
        many => Ok(many.iter().map(std::path::PathBuf::from).collect()),
    }
}

/// `audit verify`, `audit show`, `audit prove`, `audit verify-proof`.
fn audit(command: AuditCommand) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    match command {
        AuditCommand::Verify { files, key } => {
            let key = read_verifier(&key.unwrap_or_else(|| format!("{}.pub", files[0])))?;
            match verify(&audit_files(&files)?, &key) {
                Ok(count) => {
                    writeln!(out, "ok: {count} records")?;
                    Ok(exit::SUCCESS)
                }
                Err(e) => {
                    eprintln!("FAILED: {e}");
                    Ok(exit::TOOL_FAILED)
                }
            }
        }
        AuditCommand::Show {
            file,
            tool,
            call,
            since,
            json,
        } => {
            let records = read_records(&audit_files(std::slice::from_ref(&file))?)?;
            let field = |r: &rustchain_tools::audit::Record, k: &str| {
                r.payload.get(k).and_then(Value::as_str).map(str::to_owned)
            };
            for record in records.iter().filter(|r| {
                tool.as_ref()
                    .is_none_or(|t| field(r, "tool").as_ref() == Some(t))
                    && call
                        .as_ref()
                        .is_none_or(|c| field(r, "callId").as_ref() == Some(c))
                    && since.as_ref().is_none_or(|s| r.time.as_str() >= s.as_str())
            }) {
                if json {
                    writeln!(out, "{}", serde_json::to_string(record)?)?;
                } else {
                    writeln!(
                        out,
                        "{:>6}  {}  {:<18}  {}",
                        record.seq,
                        record.time,
                        record.kind.as_str(),
                        field(record, "tool").unwrap_or_default()
                    )?;
                }
            }
            Ok(exit::SUCCESS)
        }
        AuditCommand::Prove {
            file,
            record,
            from,
            key,
        } => {
            let key = read_verifier(&key.unwrap_or_else(|| format!("{file}.pub")))?;
            let files = audit_files(std::slice::from_ref(&file))?;
            let proof = match (record, from) {
                (Some(n), _) => prove_inclusion(&files, &key, n).map(serde_json::to_value),
                (None, Some(size)) => {
                    prove_consistency(&files, &key, size).map(serde_json::to_value)
                }
                (None, None) => {
                    eprintln!("error: give --record N or --from SIZE");
                    return Ok(exit::USAGE);
                }
            };
            match proof {
                Ok(proof) => {
                    writeln!(out, "{}", serde_json::to_string_pretty(&proof?)?)?;
                    Ok(exit::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(exit::TOOL_FAILED)
                }
            }
        }
        AuditCommand::VerifyProof { proof, key } => {
            let key = read_verifier(&key)?;
            let proof = match read_json(&proof)? {
                Ok(value) => value,
                Err(code) => return Ok(code),
            };
            let verdict = if let Ok(p) = serde_json::from_value::<InclusionProof>(proof.clone()) {
                verify_inclusion_proof(&p, &key)
                    .map(|r| format!("ok: record {} is in the log of the checkpoint", r.seq))
            } else if let Ok(p) = serde_json::from_value::<ConsistencyProof>(proof) {
                verify_consistency_proof(&p, &key).map(|(old, new)| {
                    format!(
                        "ok: the log of size {} is a prefix of the log of size {}",
                        old.size, new.size
                    )
                })
            } else {
                eprintln!("error: the file holds neither an inclusion nor a consistency proof");
                return Ok(exit::USAGE);
            };
            match verdict {
                Ok(text) => {
                    writeln!(out, "{text}")?;
                    Ok(exit::SUCCESS)
                }
                Err(e) => {
                    eprintln!("FAILED: {e}");
                    Ok(exit::TOOL_FAILED)
                }
            }
        }
    }
}

/// `policy eval`, `policy test`, `policy check`.
fn policy(command: &PolicyCommand) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    match command {
        PolicyCommand::Eval { input, policy } => {
            let input = match read_json(input)? {
                Ok(value) => value,
                Err(code) => return Ok(code),
            };
            let engine = match PolicyEngine::load(&policy.config()) {
                Ok(engine) => engine,
                Err(e) => {
                    eprintln!("error: the policies do not load: {e}");
                    return Ok(exit::DENIED);
                }
            };
            let decision = engine.decide_input(&input);
            writeln!(out, "{}", serde_json::to_string_pretty(&decision)?)?;
            if decision.allowed {
                return Ok(exit::SUCCESS);
            }
            eprintln!("denied:");
            for reason in decision.reasons() {
                eprintln!("  - {reason}");
            }
            Ok(exit::DENIED)
        }
        PolicyCommand::Test { dir } => {
            let config = match dir {
                Some(dir) => PolicyConfig::new().policy_dir(dir),
                None => PolicyConfig::new().with_shipped_tests(),
            };
            let report = match run_policy_tests(&config) {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(exit::TOOL_FAILED);
                }
            };
            for outcome in &report.outcomes {
                let verdict = if outcome.passed { "ok  " } else { "FAIL" };
                writeln!(out, "{verdict} {}", outcome.rule)?;
                if let Some(message) = &outcome.message {
                    writeln!(out, "     {message}")?;
                }
            }
            let failed = report.failures().count();
            writeln!(
                out,
                "{} passed, {failed} failed",
                report.outcomes.len() - failed
            )?;
            Ok(if report.passed() {
                exit::SUCCESS
            } else {
                exit::TOOL_FAILED
            })
        }
        PolicyCommand::Check { dir } => {
            let report = match check_policy_dir(std::path::Path::new(dir)) {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(exit::TOOL_FAILED);
                }
            };
            for problem in &report.problems {
                eprintln!("  - {problem}");
            }
            if report.problems.is_empty() {
                writeln!(out, "ok: {} file(s) checked", report.files.len())?;
                Ok(exit::SUCCESS)
            } else {
                eprintln!("{} problem(s) in {dir}", report.problems.len());
                Ok(exit::TOOL_FAILED)
            }
        }
    }
}

/// `schema codegen FILE`.
fn codegen_file(file: &str, name: Option<&str>) -> Result<u8> {
    let value = match read_json(file)? {
        Ok(value) => value,
        Err(code) => return Ok(code),
    };
    let root_name = name.map_or_else(
        || {
            let stem = std::path::Path::new(file)
                .file_stem()
                .map_or_else(|| "Root".to_owned(), |s| s.to_string_lossy().into_owned());
            upper_camel(&stem)
        },
        str::to_owned,
    );
    let mut schema = input_schema_of(&value).clone();
    if let (Some(name), Value::Object(map)) = (name, &mut schema) {
        map.insert("title".into(), Value::String(name.to_owned()));
    }
    match rustchain_tools_schema::codegen::rust_types(&schema, &root_name) {
        Ok(code) => {
            write!(std::io::stdout().lock(), "{code}")?;
            Ok(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit::TOOL_FAILED)
        }
    }
}

/// `tool-manifest` → `ToolManifest`.
fn upper_camel(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `schema diff OLD NEW`.
fn diff_files(old: &str, new: &str, as_json: bool) -> Result<u8> {
    let (old_value, new_value) = match (read_json(old)?, read_json(new)?) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(code), _) | (_, Err(code)) => return Ok(code),
    };
    let d = match diff(input_schema_of(&old_value), input_schema_of(&new_value)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&d)?)?;
    } else {
        for change in &d.breaking {
            writeln!(
                out,
                "breaking    {}: {}",
                place(&change.pointer),
                change.what
            )?;
        }
        for change in &d.compatible {
            writeln!(
                out,
                "compatible  {}: {}",
                place(&change.pointer),
                change.what
            )?;
        }
        if d.is_compatible() {
            writeln!(out, "compatible: {new} accepts every input {old} accepted")?;
        } else {
            writeln!(
                out,
                "breaking: {} change(s) refuse inputs {old} accepted",
                d.breaking.len()
            )?;
        }
    }
    Ok(if d.is_compatible() {
        exit::SUCCESS
    } else {
        exit::TOOL_FAILED
    })
}

fn place(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// `schema export FILE`: reads a tool definition in any of the common shapes.
fn export_file(file: &str, args: &ExportArgs, name: Option<&str>) -> Result<u8> {
    let value = match read_json(file)? {
        Ok(value) => value,
        Err(code) => return Ok(code),
    };
    let schema_field = ["parameters", "inputSchema", "input_schema"]
        .into_iter()
        .find(|k| value.get(*k).is_some());
    let stem = || {
        std::path::Path::new(file)
            .file_stem()
            .map_or_else(|| "tool".to_owned(), |s| s.to_string_lossy().into_owned())
    };
    let text_of = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let definition = match schema_field {
        Some(field) => ToolDefinition {
            name: name
                .map(str::to_owned)
                .or_else(|| text_of("name"))
                .unwrap_or_else(stem),
            title: text_of("title"),
            description: text_of("description").unwrap_or_default(),
            input_schema: value[field].clone(),
            output_schema: value.get("outputSchema").cloned(),
            annotations: value.get("annotations").cloned(),
        },
        None => ToolDefinition {
            name: name.map_or_else(stem, str::to_owned),
            title: None,
            description: value
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            input_schema: value,
            output_schema: None,
            annotations: None,
        },
    };
    print_export(&definition, args)
}

/// Reads `--args`: JSON text, `@FILE`, or `-` for stdin.
fn read_args(args: &str) -> Result<String> {
    if args == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("could not read the arguments from stdin")?;
        Ok(text)
    } else if let Some(path) = args.strip_prefix('@') {
        std::fs::read_to_string(path)
            .with_context(|| format!("could not read the arguments file {path}"))
    } else {
        Ok(args.to_owned())
    }
}

/// What `call` calls: the runtime, or the runtime with the registry.
enum Callee {
    Runtime(Runtime),
    Catalog(Catalog),
}

impl Callee {
    fn runtime(&self) -> &Runtime {
        match self {
            Callee::Runtime(runtime) => runtime,
            Callee::Catalog(catalog) => catalog.runtime(),
        }
    }

    async fn call(&self, call: ToolCall) -> Result<ToolResult, ToolError> {
        match self {
            Callee::Runtime(runtime) => runtime.call(call).await,
            Callee::Catalog(catalog) => catalog.call(call).await,
        }
    }
}

fn call(
    target: Callee,
    name: String,
    args: &str,
    version: Option<VersionReq>,
    timeout: Option<f64>,
    lang: Language,
    principal: Principal,
) -> Result<u8> {
    let text = read_args(args)?;
    // Size and depth are checked on the text, before parsing, with the
    // tool's own limits when the tool exists (an unknown tool is reported
    // by the call itself).
    let limits = target
        .runtime()
        .tools()
        .resolve(&name, version.as_ref())
        .map(|tool| tool.metadata().argument_limits())
        .unwrap_or_default();
    if let Err(violation) = limits.check_text(&text, lang) {
        eprintln!(
            "error: invalid arguments for `{name}`:\n  - {} (keyword: {})",
            violation.message, violation.keyword
        );
        return Ok(exit::INVALID_ARGUMENTS);
    }
    let arguments: Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(e) => {
            eprintln!("error: the arguments are not valid JSON: {e}");
            return Ok(exit::INVALID_ARGUMENTS);
        }
    };
    let mut call = ToolCall::new(name, arguments)
        .with_lang(lang)
        .with_principal(principal);
    if let Some(version) = version {
        call = call.with_version(version);
    }
    if let Some(seconds) = timeout {
        let timeout = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| {
                anyhow!("--timeout must be a positive number of seconds, not {seconds}")
            })?;
        call = call.with_timeout(timeout);
    }
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    match tokio.block_on(target.call(call)) {
        Ok(result) => {
            writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::to_string_pretty(&result)?
            )?;
            Ok(if result.is_error {
                exit::TOOL_FAILED
            } else {
                exit::SUCCESS
            })
        }
        Err(error) => {
            report(&error);
            Ok(exit_code(&error))
        }
    }
}

fn report(error: &ToolError) {
    match error {
        ToolError::InvalidArguments { tool, violations } => {
            eprintln!(
                "error: invalid arguments for `{tool}` ({} violation{}):",
                violations.len(),
                if violations.len() == 1 { "" } else { "s" }
            );
            for v in violations {
                eprintln!("  - {} (keyword: {})", v.message, v.keyword);
            }
        }
        ToolError::Denied { tool, reasons } => {
            eprintln!("error: call to `{tool}` denied:");
            for reason in reasons {
                eprintln!("  - {reason}");
            }
        }
        other => eprintln!("error: {other}"),
    }
}

fn exit_code(error: &ToolError) -> u8 {
    match error {
        ToolError::InvalidArguments { .. } => exit::INVALID_ARGUMENTS,
        ToolError::Denied { .. } => exit::DENIED,
        ToolError::LimitExceeded { .. }
        | ToolError::Busy { .. }
        | ToolError::TimedOut { .. }
        | ToolError::Cancelled { .. } => exit::LIMIT,
        ToolError::UnknownTool { .. }
        | ToolError::NoMatchingVersion { .. }
        | ToolError::NoImplementation { .. }
        | ToolError::InvalidDefinition { .. } => exit::USAGE,
        _ => exit::TOOL_FAILED,
    }
}
