//! The host functions a plugin may import, what a call is granted, and the
//! state of one call's store.

use std::{sync::Arc, time::Instant};

use serde_json::{Map, Value, json};
use wasmtime::{Caller, Engine, Extern, Linker, ResourceLimiter, ValType};

use crate::{
    SandboxError,
    fs::FsRoot,
    net::{FetchRequest, HttpFetcher, Method},
};

/// The import module of every host function.
pub(super) const MODULE: &str = "rustchain";

/// The most lines one call may log; later lines are dropped.
pub const MAX_LOG_LINES: usize = 100;
/// The longest logged line kept, in bytes; the rest is cut.
const MAX_LOG_BYTES: usize = 4096;
/// The most refused host calls one call remembers; later ones are counted
/// in the tracing log only, so a loop of refusals cannot grow host memory.
pub const MAX_HOST_ERRORS: usize = 100;
/// The longest refusal message kept, in bytes.
const MAX_HOST_ERROR_BYTES: usize = 1024;

/// Host function error codes, returned (negative) instead of a reply.
mod code {
    /// Not granted: outside the granted directory or hosts, or not granted at all.
    pub const DENIED: i64 = -1;
    /// No such file.
    pub const NOT_FOUND: i64 = -2;
    /// Over a size limit.
    pub const TOO_LARGE: i64 = -3;
    /// The request is malformed (not UTF-8, not the expected JSON, a bad path).
    pub const INVALID: i64 = -4;
    /// The operation failed (I/O, network, timeout).
    pub const FAILED: i64 = -5;
    /// The plugin's `alloc` could not make room for the answer.
    pub const NO_MEMORY: i64 = -6;
}

/// A function the host offers plugins, imported from module `rustchain`
/// when the plugin's manifest requests its capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostFunction {
    /// `log(level: i32, ptr: i32, len: i32)`: logs a UTF-8 line at level
    /// 0 (error) to 4 (trace). Capability `log`.
    Log,
    /// `read_file(ptr: i32, len: i32) -> i64`: reads the file at the
    /// relative path given as UTF-8, below the granted directory.
    /// Capability `readFiles`.
    ReadFile,
    /// `fetch(ptr: i32, len: i32) -> i64`: an HTTP request given as JSON,
    /// to a granted host, through the SSRF-checked client. Capability
    /// `fetch`.
    Fetch,
}

impl HostFunction {
    /// Every host function.
    pub const ALL: [HostFunction; 3] = [
        HostFunction::Log,
        HostFunction::ReadFile,
        HostFunction::Fetch,
    ];

    /// Its import name.
    pub fn name(self) -> &'static str {
        match self {
            HostFunction::Log => "log",
            HostFunction::ReadFile => "read_file",
            HostFunction::Fetch => "fetch",
        }
    }

    /// The capability a manifest requests to get it.
    pub fn capability(self) -> &'static str {
        match self {
            HostFunction::Log => "log",
            HostFunction::ReadFile => "readFiles",
            HostFunction::Fetch => "fetch",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<HostFunction> {
        HostFunction::ALL.into_iter().find(|f| f.name() == name)
    }

    pub(super) fn signature(self) -> (&'static [ValType], &'static [ValType]) {
        match self {
            HostFunction::Log => (&[ValType::I32, ValType::I32, ValType::I32], &[]),
            HostFunction::ReadFile | HostFunction::Fetch => {
                (&[ValType::I32, ValType::I32], &[ValType::I64])
            }
        }
    }

    pub(super) fn signature_text(self) -> &'static str {
        match self {
            HostFunction::Log => "(func (param i32 i32 i32))",
            HostFunction::ReadFile | HostFunction::Fetch => "(func (param i32 i32) (result i64))",
        }
    }
}

/// Fetching from some hosts: a fetcher that refuses every URL, the first
/// and each redirect, whose host is not granted.
#[derive(Debug, Clone)]
pub struct FetchGrant {
    fetcher: HttpFetcher,
}

impl FetchGrant {
    /// Fetching through `fetcher` (with its own address checks: no
    /// loopback, private or metadata addresses unless configured), to
    /// `hosts` only: `host`, `*.domain` or `*`, each optionally with
    /// `:port` (without one, every port).
    pub fn new(fetcher: &HttpFetcher, hosts: Vec<String>) -> FetchGrant {
        FetchGrant {
            fetcher: fetcher.only_hosts(hosts),
        }
    }
}

/// What a plugin's calls may use; cheap to clone. A host function whose
/// grant is missing answers "denied" even if the module imports it.
#[derive(Debug, Clone)]
pub struct Grants {
    plugin: Arc<str>,
    log: bool,
    files: Option<Arc<FsRoot>>,
    fetch: Option<Arc<FetchGrant>>,
}

impl Grants {
    /// Nothing granted, for the plugin `plugin` (named in its log lines).
    pub fn none(plugin: &str) -> Grants {
        Grants {
            plugin: Arc::from(plugin),
            log: false,
            files: None,
            fetch: None,
        }
    }

    /// Grants `log`.
    pub fn with_log(mut self) -> Grants {
        self.log = true;
        self
    }

    /// Grants reading files below `root`.
    pub fn with_files(mut self, root: FsRoot) -> Grants {
        self.files = Some(Arc::new(root));
        self
    }

    /// Grants fetching.
    pub fn with_fetch(mut self, grant: FetchGrant) -> Grants {
        self.fetch = Some(Arc::new(grant));
        self
    }

    /// The host functions granted.
    pub fn functions(&self) -> Vec<HostFunction> {
        let mut functions = Vec::new();
        if self.log {
            functions.push(HostFunction::Log);
        }
        if self.files.is_some() {
            functions.push(HostFunction::ReadFile);
        }
        if self.fetch.is_some() {
            functions.push(HostFunction::Fetch);
        }
        functions
    }
}

/// A line a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// 0 (error) to 4 (trace).
    pub level: u8,
    /// The text, cut at 4 KiB.
    pub message: String,
}

/// Caps one instance's memory; remembers a refusal so that a trap after it
/// is reported as the memory limit, and the most it allowed.
pub(super) struct MemoryCap {
    max_bytes: usize,
    refused: bool,
    peak_bytes: usize,
}

impl MemoryCap {
    pub(super) fn new(max_bytes: usize) -> MemoryCap {
        MemoryCap {
            max_bytes,
            refused: false,
            peak_bytes: 0,
        }
    }

    pub(super) fn refused(&self) -> bool {
        self.refused
    }

    /// The largest linear memory allowed so far: the instance's initial
    /// memory, then each growth (memories never shrink).
    pub(super) fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max_bytes;
        self.refused |= !allowed;
        if allowed {
            self.peak_bytes = self.peak_bytes.max(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

/// What one call's store holds.
pub(super) struct HostState {
    grants: Grants,
    pub(super) memory: MemoryCap,
    pub(super) host_errors: Vec<String>,
    pub(super) logs: Vec<LogLine>,
    deadline: Option<Instant>,
}

impl HostState {
    pub(super) fn new(grants: &Grants, memory: MemoryCap, deadline: Option<Instant>) -> HostState {
        HostState {
            grants: grants.clone(),
            memory,
            host_errors: Vec::new(),
            logs: Vec::new(),
            deadline,
        }
    }
}

/// The linker with every host function; a module's imports are checked
/// against its grants before it is linked.
pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(MODULE, "log", log)?;
    linker.func_wrap(MODULE, "read_file", read_file)?;
    linker.func_wrap(MODULE, "fetch", fetch)?;
    Ok(linker)
}

fn log(mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32) {
    if !caller.data().grants.log || caller.data().logs.len() >= MAX_LOG_LINES {
        return;
    }
    let Ok(mut bytes) = read_bytes(&mut caller, ptr, len.min(MAX_LOG_BYTES as i32)) else {
        return;
    };
    bytes.truncate(MAX_LOG_BYTES);
    let message = String::from_utf8_lossy(&bytes).into_owned();
    let level = level.clamp(0, 4) as u8;
    let plugin = caller.data().grants.plugin.clone();
    match level {
        0 => tracing::error!(target: "rustchain_tools::plugin", plugin = &*plugin, "{message}"),
        1 => tracing::warn!(target: "rustchain_tools::plugin", plugin = &*plugin, "{message}"),
        2 => tracing::info!(target: "rustchain_tools::plugin", plugin = &*plugin, "{message}"),
        3 => tracing::debug!(target: "rustchain_tools::plugin", plugin = &*plugin, "{message}"),
        _ => tracing::trace!(target: "rustchain_tools::plugin", plugin = &*plugin, "{message}"),
    }
    caller.data_mut().logs.push(LogLine { level, message });
}

fn read_file(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    let path = match read_text(&mut caller, ptr, len, "read_file") {
        Ok(path) => path,
        Err(code) => return Ok(code),
    };
    let Some(root) = caller.data().grants.files.clone() else {
        return Ok(refuse(
            &mut caller,
            code::DENIED,
            format!("read_file({path:?}): reading files is not granted"),
        ));
    };
    match root.read(&path) {
        Ok(bytes) => write_reply(&mut caller, &bytes, "read_file"),
        Err(error) => {
            let code = match &error {
                SandboxError::PathRefused { .. } | SandboxError::PathEscapes { .. } => code::DENIED,
                SandboxError::PathNotFound { .. } => code::NOT_FOUND,
                SandboxError::FileTooLarge { .. } => code::TOO_LARGE,
                SandboxError::NotRegularFile { .. } => code::INVALID,
                _ => code::FAILED,
            };
            Ok(refuse(
                &mut caller,
                code,
                format!("read_file({path:?}): {error}"),
            ))
        }
    }
}

fn fetch(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    let text = match read_text(&mut caller, ptr, len, "fetch") {
        Ok(text) => text,
        Err(code) => return Ok(code),
    };
    let Some(grant) = caller.data().grants.fetch.clone() else {
        return Ok(refuse(
            &mut caller,
            code::DENIED,
            "fetch: fetching is not granted".into(),
        ));
    };
    let request = match parse_fetch(&text) {
        Ok(request) => request,
        Err(reason) => {
            return Ok(refuse(
                &mut caller,
                code::INVALID,
                format!("fetch: {reason}"),
            ));
        }
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Ok(refuse(
            &mut caller,
            code::FAILED,
            "fetch: no async runtime to fetch on".into(),
        ));
    };
    let url = request.url.clone();
    let remaining = caller
        .data()
        .deadline
        .map(|d| d.saturating_duration_since(Instant::now()));
    let fetched = runtime.block_on(async {
        match remaining {
            Some(remaining) => tokio::time::timeout(remaining, grant.fetcher.fetch(request))
                .await
                .unwrap_or_else(|_| {
                    Err(SandboxError::FetchTimedOut {
                        url: url.clone(),
                        timeout_ms: u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
                    })
                }),
            None => grant.fetcher.fetch(request).await,
        }
    });
    match fetched {
        Ok(response) => {
            let headers: Map<String, Value> = response
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let reply = json!({
                "status": response.status,
                "headers": headers,
                "body": response.text(),
                "truncated": response.truncated,
            });
            write_reply(&mut caller, reply.to_string().as_bytes(), "fetch")
        }
        Err(error) => {
            let code = match &error {
                SandboxError::UrlRefused { .. } | SandboxError::AddressRefused { .. } => {
                    code::DENIED
                }
                SandboxError::InvalidFetch { .. } => code::INVALID,
                _ => code::FAILED,
            };
            Ok(refuse(&mut caller, code, format!("fetch {url:?}: {error}")))
        }
    }
}

/// `{"url": ..., "method"?: "GET"|"POST", "headers"?: {...}, "body"?: "..."}`.
fn parse_fetch(text: &str) -> Result<FetchRequest, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the request is not JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or("the request is not a JSON object")?;
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "url" | "method" | "headers" | "body"))
    {
        return Err(format!("the request has the unknown key `{key}`"));
    }
    let url = object
        .get("url")
        .and_then(Value::as_str)
        .ok_or("the request has no string `url`")?;
    let method = match object.get("method").map(|m| m.as_str()) {
        None | Some(Some("GET")) => Method::Get,
        Some(Some("POST")) => Method::Post,
        Some(other) => return Err(format!("the method {other:?} is not GET or POST")),
    };
    let mut headers = Vec::new();
    if let Some(given) = object.get("headers") {
        let given = given.as_object().ok_or("`headers` is not an object")?;
        for (name, value) in given {
            let value = value
                .as_str()
                .ok_or_else(|| format!("header `{name}` is not a string"))?;
            headers.push((name.clone(), value.to_owned()));
        }
    }
    let body = match object.get("body") {
        None => None,
        Some(Value::String(body)) => Some(body.clone().into_bytes()),
        Some(_) => return Err("`body` is not a string".into()),
    };
    Ok(FetchRequest {
        method,
        url: url.to_owned(),
        headers,
        body,
    })
}

fn refuse(caller: &mut Caller<'_, HostState>, code: i64, message: String) -> i64 {
    tracing::debug!(target: "rustchain_tools::plugin", plugin = &*caller.data().grants.plugin, "{message}");
    let errors = &mut caller.data_mut().host_errors;
    if errors.len() < MAX_HOST_ERRORS {
        errors.push(cut(message, MAX_HOST_ERROR_BYTES));
    }
    code
}

/// `text` cut to about `max` bytes: its start and its end (where the
/// reason is) around a `…`, on character boundaries.
fn cut(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut head = max / 2;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - max / 2;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}…{}", &text[..head], &text[tail..])
}

fn memory_of(caller: &mut Caller<'_, HostState>) -> Option<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Some(memory),
        _ => None,
    }
}

fn read_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>, i64> {
    let memory = memory_of(caller).ok_or(code::INVALID)?;
    let len = usize::try_from(len).map_err(|_| code::INVALID)?;
    let mut bytes = vec![0; len];
    memory
        .read(&*caller, ptr as u32 as usize, &mut bytes)
        .map_err(|_| code::INVALID)?;
    Ok(bytes)
}

fn read_text(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
    function: &str,
) -> Result<String, i64> {
    if len > 1 << 20 {
        return Err(refuse(
            caller,
            code::TOO_LARGE,
            format!("{function}: the request is over 1 MiB"),
        ));
    }
    let bytes = match read_bytes(caller, ptr, len) {
        Ok(bytes) => bytes,
        Err(code) => {
            return Err(refuse(
                caller,
                code,
                format!("{function}: ({ptr}, {len}) is not a range inside the plugin's memory"),
            ));
        }
    };
    String::from_utf8(bytes).map_err(|_| {
        refuse(
            caller,
            code::INVALID,
            format!("{function}: the request is not UTF-8"),
        )
    })
}

/// Copies `bytes` into a buffer from the plugin's `alloc`; the packed
/// address and length, or an error code. A trap inside `alloc` is the
/// call's trap, not an error code.
fn write_reply(
    caller: &mut Caller<'_, HostState>,
    bytes: &[u8],
    function: &str,
) -> wasmtime::Result<i64> {
    let Ok(len) = i32::try_from(bytes.len()) else {
        return Ok(refuse(
            caller,
            code::TOO_LARGE,
            format!("{function}: the answer is over 2 GiB"),
        ));
    };
    let alloc = match caller.get_export("alloc") {
        Some(Extern::Func(f)) => f.typed::<i32, i32>(&*caller).ok(),
        _ => None,
    };
    let Some(alloc) = alloc else {
        return Ok(refuse(
            caller,
            code::NO_MEMORY,
            format!("{function}: the plugin has no usable `alloc`"),
        ));
    };
    let at = match alloc.call(&mut *caller, len)? {
        at if at != 0 || len == 0 => at,
        _ => {
            return Ok(refuse(
                caller,
                code::NO_MEMORY,
                format!("{function}: the plugin could not allocate {len} bytes for the answer"),
            ));
        }
    };
    let Some(memory) = memory_of(caller) else {
        return Ok(code::NO_MEMORY);
    };
    if memory
        .write(&mut *caller, at as u32 as usize, bytes)
        .is_err()
    {
        return Ok(refuse(
            caller,
            code::NO_MEMORY,
            format!("{function}: `alloc({len})` returned {at}, outside the plugin's memory"),
        ));
    }
    Ok((i64::from(at as u32) << 32) | i64::from(len as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short".into(), 10), "short");
        assert_eq!(cut("éééé".into(), 5), "é…é");
        let long = format!("{}: the reason", "x".repeat(5000));
        let shown = cut(long, 1024);
        assert_eq!(shown.len(), 1024 + '…'.len_utf8());
        assert!(shown.ends_with("the reason"));
    }

    #[test]
    fn fetch_requests_are_checked() {
        assert!(parse_fetch(r#"{"url":"https://a.b/"}"#).is_ok());
        assert!(parse_fetch(r#"{"url":"https://a.b/","method":"DELETE"}"#).is_err());
        assert!(parse_fetch(r#"{"url":"https://a.b/","extra":1}"#).is_err());
        assert!(parse_fetch(r#"{"url":1}"#).is_err());
        assert!(parse_fetch("nope").is_err());
    }
}
