//! The one error type of the sandbox crate.

use thiserror::Error;

/// Everything the sandbox refuses or fails at, one variant for each thing the
/// caller can act on. Messages name what was wrong and where.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// A file path was refused by the path rules before the disk was touched.
    #[error("path {path:?} refused: {rule}")]
    PathRefused {
        /// The path as given.
        path: String,
        /// The rule it broke.
        rule: crate::fs::PathRule,
    },
    /// A file path led outside the sandbox root (through a symlink or a moved directory).
    #[error(
        "path {path:?} leads outside the sandbox root (through a symlink or a moved directory); it was not followed"
    )]
    PathEscapes {
        /// The path as given.
        path: String,
    },
    /// Nothing exists at a path inside the sandbox root.
    #[error("path {path:?} does not exist in the sandbox root")]
    PathNotFound {
        /// The path as given.
        path: String,
    },
    /// Something already exists where a write without overwrite was asked for.
    #[error("path {path:?} already exists; ask for overwrite to replace it")]
    PathExists {
        /// The path as given.
        path: String,
    },
    /// The operation needs a regular file and found something else.
    #[error("path {path:?} is a {kind}, not a regular file")]
    NotRegularFile {
        /// The path as given.
        path: String,
        /// What was found there.
        kind: crate::fs::EntryKind,
    },
    /// The operation needs a directory and found something else.
    #[error("path {path:?} is not a directory")]
    NotDirectory {
        /// The path as given.
        path: String,
    },
    /// A non-recursive delete met a directory that still has entries.
    #[error(
        "directory {path:?} is not empty; ask for a recursive delete to remove it with its contents"
    )]
    DirectoryNotEmpty {
        /// The path as given.
        path: String,
    },
    /// A delete named the sandbox root itself.
    #[error("path {path:?} is the sandbox root, which is never deleted")]
    RootDelete {
        /// The path as given.
        path: String,
    },
    /// A file is larger than a configured limit.
    #[error("{path:?} is {size} bytes, over the {limit} cap of {cap} bytes")]
    FileTooLarge {
        /// The path as given.
        path: String,
        /// The size found (for a stream, the bytes seen when the cap was passed).
        size: u64,
        /// The name of the limit in `FsLimits`.
        limit: &'static str,
        /// The limit's value.
        cap: u64,
    },
    /// A search query is not usable as given.
    #[error("invalid search: {reason}")]
    InvalidSearch {
        /// What is wrong with it.
        reason: String,
    },
    /// The sandbox root could not be opened.
    #[error("cannot open sandbox root {root:?}: {source}")]
    RootOpen {
        /// The root directory as configured.
        root: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A command names a program that the allowlist does not allow (or that does not exist).
    #[error("program {program:?} refused: {reason}; allowed programs: {allowed}")]
    ProgramNotAllowed {
        /// The program as given in the command.
        program: String,
        /// Why it was refused (not found, resolves to another file, not on the list).
        reason: String,
        /// The allowed programs (canonical paths), comma-separated.
        allowed: String,
    },
    /// A command was malformed (NUL bytes, bad environment names, an environment name not on the allowlist).
    #[error("command {program:?} refused: {reason}")]
    CommandRefused {
        /// The program as given in the command.
        program: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A command's working directory is not a directory inside the sandbox root.
    #[error("working directory {cwd:?} refused: {reason}")]
    CwdRefused {
        /// The working directory as given.
        cwd: String,
        /// Why it was refused.
        reason: String,
    },
    /// Preparing the sandbox for commands failed (root, cgroup, Landlock).
    #[error("command sandbox setup failed at {what}: {source}")]
    ProcessSetup {
        /// What was being prepared, with its path.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Starting or waiting for a program failed.
    #[error("running {program:?} failed: {source}")]
    Spawn {
        /// The program as given in the command.
        program: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The command was cancelled; its whole process group was killed and reaped.
    #[error("command {program:?} was cancelled; its processes were killed")]
    Cancelled {
        /// The program as given in the command.
        program: String,
    },
    /// A file operation inside the root failed for another reason.
    #[error("{op} {path:?} failed: {source}")]
    FsIo {
        /// The operation (`read`, `write`, `list`, `search`, `delete`).
        op: &'static str,
        /// The path as given.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A URL the network policy refuses before any connection (scheme, host, port or syntax).
    #[error("refused URL `{url}`: {reason}")]
    UrlRefused {
        /// The URL as given (or as redirected to).
        url: String,
        /// What the policy refused and which setting would allow it.
        reason: String,
    },
    /// A host is, or resolved to, an address the network policy refuses; nothing was connected.
    #[error("refused `{url}`: host `{host}` is {address}, a {class} address; {allow_with}")]
    AddressRefused {
        /// The URL being fetched (or redirected to).
        url: String,
        /// The host of that URL.
        host: String,
        /// The refused address.
        address: std::net::IpAddr,
        /// Its class.
        class: crate::net::AddressClass,
        /// Which policy setting would allow it.
        allow_with: String,
    },
    /// A host name could not be resolved.
    #[error("could not resolve host `{host}` of `{url}`: {reason}")]
    Resolve {
        /// The URL being fetched.
        url: String,
        /// The host name.
        host: String,
        /// The resolver's error.
        reason: String,
    },
    /// A fetch was redirected more often than allowed.
    #[error(
        "too many redirects: `{url}` redirected more than {max} times (next hop `{next}` was not fetched)"
    )]
    TooManyRedirects {
        /// The URL first asked for.
        url: String,
        /// The configured maximum.
        max: usize,
        /// The redirect that would have gone over it.
        next: String,
    },
    /// A fetch (all its redirects and its body included) took longer than its timeout.
    #[error("fetch of `{url}` timed out after {timeout_ms} ms")]
    FetchTimedOut {
        /// The URL first asked for.
        url: String,
        /// The configured timeout.
        timeout_ms: u64,
    },
    /// A fetch request is malformed or over a limit before anything is sent.
    #[error("invalid fetch request for `{url}`: {reason}")]
    InvalidFetch {
        /// The URL as given.
        url: String,
        /// What is wrong with the request.
        reason: String,
    },
    /// The HTTP exchange failed (connection, TLS, protocol).
    #[error("HTTP request to `{url}` failed: {reason}")]
    Http {
        /// The URL being fetched.
        url: String,
        /// The error and its causes.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {reason}")]
    HttpClient {
        /// The error.
        reason: String,
    },
    /// A WASM module was refused when loaded (size, parse, imports, exports); it is not registered.
    #[error("WASM module `{module}` refused: {reason}")]
    WasmRejected {
        /// The plugin the module belongs to.
        module: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A WASM plugin trapped (an `unreachable`, an out-of-bounds access, a stack overflow, ...).
    #[error("WASM plugin `{module}` trapped: {reason}")]
    WasmTrap {
        /// The plugin.
        module: String,
        /// The trap, and what host functions refused before it.
        reason: String,
    },
    /// A WASM plugin asked for more memory than its cap, and trapped.
    #[error(
        "WASM plugin `{module}` hit its memory limit of {limit_bytes} bytes and trapped: {trap}"
    )]
    WasmMemoryExceeded {
        /// The plugin.
        module: String,
        /// The cap.
        limit_bytes: usize,
        /// The trap that followed the refused growth.
        trap: String,
    },
    /// A WASM plugin ran past its deadline and was stopped.
    #[error("WASM plugin `{module}` was stopped after {after_ms} ms: it ran past its time limit")]
    WasmTimedOut {
        /// The plugin.
        module: String,
        /// How long it ran.
        after_ms: u64,
    },
    /// A WASM plugin's call was cancelled and stopped.
    #[error("WASM plugin `{module}` was cancelled and stopped")]
    WasmCancelled {
        /// The plugin.
        module: String,
    },
    /// Every instance slot is taken; nothing ran. Retry later.
    #[error("WASM plugin `{module}` could not start: {reason}")]
    WasmBusy {
        /// The plugin.
        module: String,
        /// What was full.
        reason: String,
    },
    /// A WASM plugin broke the ABI: its reply is not `{"ok": ...}` or `{"error": "..."}`, or lies outside its memory.
    #[error("WASM plugin `{module}` gave a malformed reply: {reason}")]
    WasmBadOutput {
        /// The plugin.
        module: String,
        /// What is wrong with the reply.
        reason: String,
    },
    /// The WASM engine could not be set up.
    #[error("the WASM engine could not be set up: {reason}")]
    WasmSetup {
        /// What failed.
        reason: String,
    },
}
