//! WebAssembly plugins on wasmtime: modules checked and compiled once,
//! each call in a fresh instance under CPU, memory and output limits, with
//! no host access but the host functions the module was granted.
//!
//! The ABI (documented for plugin authors in `docs/plugins.md`):
//!
//! - the module exports its `memory`, `alloc(len: i32) -> i32` (a buffer of
//!   `len` bytes, 0 when it cannot) and `call(ptr: i32, len: i32) -> i64`;
//! - the host writes the arguments as JSON into a buffer from `alloc` and
//!   calls `call`, which returns the address of its reply in the high 32
//!   bits and its length in the low 32 bits;
//! - the reply is JSON, `{"ok": RESULT}` or `{"error": "MESSAGE"}`;
//! - the module may import only host functions of module `rustchain`
//!   ([`HostFunction`]) that it was granted when loaded.
//!
//! ```
//! use rustchain_tools_sandbox::wasm::{CallLimits, Grants, PluginReply, WasmConfig, WasmEngine};
//!
//! let engine = WasmEngine::new(WasmConfig::default())?;
//! let wat = r#"(module
//!   (memory (export "memory") 1)
//!   (global $next (mut i32) (i32.const 1024))
//!   (func (export "alloc") (param $len i32) (result i32)
//!     (local $at i32)
//!     (local.set $at (global.get $next))
//!     (global.set $next (i32.add (global.get $next) (local.get $len)))
//!     (local.get $at))
//!   (data (i32.const 0) "{\"ok\":42}")
//!   (func (export "call") (param i32 i32) (result i64) (i64.const 9)))"#;
//! let module = engine.load("answer", wat.as_bytes(), &[])?;
//! let reply = module.call_json(&serde_json::json!({}), &Grants::none("answer"), &CallLimits::default())?;
//! assert_eq!(reply.reply, PluginReply::Ok(serde_json::json!(42)));
//! # Ok::<(), rustchain_tools_sandbox::SandboxError>(())
//! ```

mod cache;
mod host;

use std::{
    path::PathBuf,
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;
use wasmtime::{
    Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store, Trap, UpdateDeadline, ValType,
};

use crate::SandboxError;
pub use host::{FetchGrant, Grants, HostFunction, LogLine, MAX_HOST_ERRORS, MAX_LOG_LINES};
use host::{HostState, MemoryCap};

/// How often the engine's epoch advances while calls run: the granularity
/// of deadlines and cancellation.
const TICK: Duration = Duration::from_millis(2);

/// The most memory an instance may be given: 2 GiB, so that every address
/// fits the 31 bits a host function's packed reply leaves it.
pub const MAX_MEMORY_BYTES: usize = 2 << 30;

/// The limits of an engine and of the modules it loads.
#[derive(Debug, Clone)]
pub struct WasmConfig {
    /// The largest module accepted, in bytes (binary or WAT text).
    pub max_module_bytes: usize,
    /// The most linear memory one instance may have, in bytes, at most
    /// [`MAX_MEMORY_BYTES`]; growth past it fails inside the plugin
    /// (`memory.grow` returns -1).
    pub max_memory_bytes: usize,
    /// The largest reply accepted, in bytes.
    pub max_output_bytes: usize,
    /// How many instances may exist at once (the pooling allocator's
    /// slots); a call beyond them is refused as busy.
    pub max_instances: u32,
    /// Where compiled modules are kept between runs; `None` keeps them in
    /// memory only. Its files are native code that is loaded without
    /// recompiling, so it must be as trusted as the program itself: it is
    /// created readable by its owner only, and an artifact that is not the
    /// user's own or that others can write is compiled afresh instead.
    pub cache_dir: Option<PathBuf>,
}

impl Default for WasmConfig {
    fn default() -> Self {
        WasmConfig {
            max_module_bytes: 16 << 20,
            max_memory_bytes: 64 << 20,
            max_output_bytes: 4 << 20,
            max_instances: 128,
            cache_dir: None,
        }
    }
}

/// The limits of one call.
#[derive(Debug, Clone, Default)]
pub struct CallLimits {
    /// When the call must stop; `None` means no time limit (the engine's
    /// epoch still lets [`cancel`](Self::cancel) stop it).
    pub deadline: Option<Instant>,
    /// Setting this stops the call at the next tick.
    pub cancel: Arc<AtomicBool>,
    /// The memory cap of this call, below the engine's; `None` takes the
    /// engine's.
    pub max_memory_bytes: Option<usize>,
}

impl CallLimits {
    /// Limits that stop the call `timeout` from now.
    pub fn timeout(timeout: Duration) -> Self {
        CallLimits {
            deadline: Instant::now().checked_add(timeout),
            ..CallLimits::default()
        }
    }
}

/// What a plugin replied.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginReply {
    /// `{"ok": RESULT}`: the result.
    Ok(Value),
    /// `{"error": "MESSAGE"}`: the plugin reports a failure.
    Error(String),
}

/// A reply and what the host saw while the plugin ran.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// What the plugin replied.
    pub reply: PluginReply,
    /// The host functions that refused or failed during the call, with why
    /// (a read outside the granted directory, say): the plugin sees only an
    /// error code, its caller sees these. At most
    /// [`MAX_HOST_ERRORS`] are kept, each cut at 1 KiB.
    pub host_errors: Vec<String>,
    /// The lines the plugin logged (at most [`MAX_LOG_LINES`]).
    pub logs: Vec<LogLine>,
    /// The most linear memory the instance held during the call, in bytes.
    pub peak_memory_bytes: u64,
}

/// A wasmtime engine set up for plugins: epoch interruption, the pooling
/// allocator, no WASI. Cheap to clone.
#[derive(Clone)]
pub struct WasmEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    engine: Engine,
    linker: Linker<HostState>,
    config: WasmConfig,
    ticker: Arc<Ticker>,
    cache: cache::ModuleCache,
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        self.ticker.stop();
    }
}

impl std::fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl WasmEngine {
    /// An engine with `config`'s limits.
    pub fn new(config: WasmConfig) -> Result<WasmEngine, SandboxError> {
        let setup = |reason: String| SandboxError::WasmSetup { reason };
        if config.max_memory_bytes > MAX_MEMORY_BYTES {
            return Err(setup(format!(
                "max_memory_bytes {} is over the 2 GiB ({MAX_MEMORY_BYTES}) an instance may have",
                config.max_memory_bytes
            )));
        }
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(config.max_instances)
            .total_memories(config.max_instances)
            .total_tables(config.max_instances)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .max_memory_size(config.max_memory_bytes);
        let mut wasm = wasmtime::Config::new();
        wasm.epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // The pool reserves address space for every slot up front; where that
        // is refused (a `ulimit -v`, valgrind), instances are allocated on
        // demand instead: slower to start, as safe.
        let engine = match Engine::new(&wasm) {
            Ok(engine) => engine,
            Err(e) => {
                tracing::warn!(
                    "WASM instance pool not available ({e:#}); allocating instances on demand"
                );
                wasm.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&wasm).map_err(|e| setup(format!("{e:#}")))?
            }
        };
        let linker = host::linker(&engine).map_err(|e| setup(format!("{e:#}")))?;
        let cache = cache::ModuleCache::new(&engine, config.cache_dir.clone());
        let ticker = Ticker::start(engine.clone())?;
        Ok(WasmEngine {
            inner: Arc::new(EngineInner {
                engine,
                linker,
                config,
                ticker,
                cache,
            }),
        })
    }

    /// The engine's limits.
    pub fn config(&self) -> &WasmConfig {
        &self.inner.config
    }

    /// Checks and compiles the module `bytes` (binary or WAT) of the plugin
    /// `name`, which may import only the host functions in `granted`.
    ///
    /// Refused with [`SandboxError::WasmRejected`] when it is too large, does
    /// not parse or validate, imports anything else (or a host function
    /// with the wrong signature), or does not export the ABI. Compiled code
    /// is kept in memory and, with a cache directory, on disk, so loading
    /// the same module again does not compile it again.
    pub fn load(
        &self,
        name: &str,
        bytes: &[u8],
        granted: &[HostFunction],
    ) -> Result<WasmModule, SandboxError> {
        let reject = |reason: String| SandboxError::WasmRejected {
            module: name.to_owned(),
            reason,
        };
        let config = &self.inner.config;
        if bytes.len() > config.max_module_bytes {
            return Err(reject(format!(
                "it is {} bytes, over the limit of {} bytes",
                bytes.len(),
                config.max_module_bytes
            )));
        }
        let module = self
            .inner
            .cache
            .get_or_compile(&self.inner.engine, bytes)
            .map_err(|e| reject(e.to_string()))?;
        let imports = check_imports(&module, granted).map_err(reject)?;
        check_exports(&module).map_err(reject)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&module)
            .map_err(|e| reject(format!("{e:#}")))?;
        Ok(WasmModule {
            name: Arc::from(name),
            engine: self.clone(),
            pre,
            imports,
        })
    }

    /// How many modules were compiled, and how many came from the disk
    /// cache, since the engine started.
    pub fn compile_stats(&self) -> (usize, usize) {
        self.inner.cache.stats()
    }
}

/// The host functions a module imports, checked against those granted.
fn check_imports(module: &Module, granted: &[HostFunction]) -> Result<Vec<HostFunction>, String> {
    let mut imports = Vec::new();
    for import in module.imports() {
        let what = format!("`{}.{}`", import.module(), import.name());
        let function = (import.module() == host::MODULE)
            .then(|| HostFunction::from_name(import.name()))
            .flatten()
            .ok_or_else(|| {
                format!(
                    "it imports {what}, which the host does not offer (plugins get no WASI; \
                     the host functions are {})",
                    HostFunction::ALL
                        .iter()
                        .map(|f| format!("`{}.{}`", host::MODULE, f.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        if !granted.contains(&function) {
            return Err(format!(
                "it imports {what}, but its manifest does not request the `{}` capability",
                function.capability()
            ));
        }
        let ExternType::Func(ty) = import.ty() else {
            return Err(format!(
                "it imports {what} as something other than a function"
            ));
        };
        let (params, results) = function.signature();
        if !same_types(ty.params(), params) || !same_types(ty.results(), results) {
            return Err(format!(
                "it imports {what} with the signature {ty}, but the host function is {}",
                function.signature_text()
            ));
        }
        if !imports.contains(&function) {
            imports.push(function);
        }
    }
    Ok(imports)
}

fn same_types(found: impl ExactSizeIterator<Item = ValType>, expected: &[ValType]) -> bool {
    found.len() == expected.len() && found.zip(expected).all(|(a, b)| ValType::eq(&a, b))
}

/// The exports the ABI needs, with their types. (A memory that starts
/// over the cap does not compile: the pooling allocator refuses it.)
fn check_exports(module: &Module) -> Result<(), String> {
    let export = |name: &str| {
        module
            .get_export(name)
            .ok_or_else(|| format!("it does not export `{name}`, which the plugin ABI requires"))
    };
    let ExternType::Memory(memory) = export("memory")? else {
        return Err("its export `memory` is not a memory".into());
    };
    if memory.is_64() || memory.is_shared() {
        return Err("its memory must be a 32-bit, unshared memory".into());
    }
    for (name, params, results) in [
        ("alloc", &[ValType::I32][..], &[ValType::I32][..]),
        (
            "call",
            &[ValType::I32, ValType::I32][..],
            &[ValType::I64][..],
        ),
    ] {
        let ExternType::Func(ty) = export(name)? else {
            return Err(format!("its export `{name}` is not a function"));
        };
        if !same_types(ty.params(), params) || !same_types(ty.results(), results) {
            return Err(format!(
                "its export `{name}` has the signature {ty}, but the ABI needs {}",
                if name == "alloc" {
                    "(func (param i32) (result i32))"
                } else {
                    "(func (param i32 i32) (result i64))"
                }
            ));
        }
    }
    Ok(())
}

/// A checked, compiled module, ready to be instantiated; cheap to clone.
#[derive(Clone)]
pub struct WasmModule {
    name: Arc<str>,
    engine: WasmEngine,
    pre: InstancePre<HostState>,
    imports: Vec<HostFunction>,
}

impl std::fmt::Debug for WasmModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmModule")
            .field("name", &self.name)
            .field("imports", &self.imports)
            .finish_non_exhaustive()
    }
}

impl WasmModule {
    /// The host functions the module imports.
    pub fn imports(&self) -> &[HostFunction] {
        &self.imports
    }

    /// Calls the plugin with `arguments` (serialized as JSON) and parses its
    /// reply; see [`call`](Self::call).
    pub fn call_json(
        &self,
        arguments: &Value,
        grants: &Grants,
        limits: &CallLimits,
    ) -> Result<CallOutcome, SandboxError> {
        let input = serde_json::to_vec(arguments).map_err(|e| SandboxError::WasmBadOutput {
            module: self.name.to_string(),
            reason: format!("the arguments could not be serialized: {e}"),
        })?;
        self.call(&input, grants, limits)
    }

    /// Runs one call in a fresh instance: `input` (JSON) is copied in, the
    /// plugin's `call` runs under `limits`, and its reply is copied out and
    /// parsed. The instance is dropped afterwards, so nothing carries over
    /// to the next call. Blocks the thread while the plugin runs: run it on
    /// a blocking thread.
    ///
    /// A trap, a memory cap hit, the deadline, a cancellation and a reply
    /// that breaks the ABI are errors; a reply of `{"error": ...}` is a
    /// [`PluginReply::Error`].
    pub fn call(
        &self,
        input: &[u8],
        grants: &Grants,
        limits: &CallLimits,
    ) -> Result<CallOutcome, SandboxError> {
        let config = &self.engine.inner.config;
        let max_memory = limits
            .max_memory_bytes
            .map_or(config.max_memory_bytes, |m| m.min(config.max_memory_bytes));
        let state = HostState::new(grants, MemoryCap::new(max_memory), limits.deadline);
        let mut store = Store::new(&self.engine.inner.engine, state);
        store.limiter(|state| &mut state.memory);
        let deadline = limits.deadline;
        let cancel = limits.cancel.clone();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if cancel.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        let _running = self.engine.inner.ticker.running();
        let started = Instant::now();
        let result = self.run(&mut store, input);
        let state = store.into_data();
        let (host_errors, logs) = (state.host_errors, state.logs);
        let peak_memory_bytes = state.memory.peak_bytes() as u64;
        let output = result.map_err(|failure| match failure {
            Failure::Abi(reason) => SandboxError::WasmBadOutput {
                module: self.name.to_string(),
                reason,
            },
            Failure::Wasm(error) => self.stopped(
                &error,
                state.memory.refused(),
                max_memory,
                limits,
                started.elapsed(),
                &host_errors,
            ),
        })?;
        let reply = parse_reply(&output).map_err(|reason| SandboxError::WasmBadOutput {
            module: self.name.to_string(),
            reason,
        })?;
        Ok(CallOutcome {
            reply,
            host_errors,
            logs,
            peak_memory_bytes,
        })
    }

    fn run(&self, store: &mut Store<HostState>, input: &[u8]) -> Result<Vec<u8>, Failure> {
        let max_output = self.engine.inner.config.max_output_bytes;
        let instance = self.pre.instantiate(&mut *store).map_err(Failure::Wasm)?;
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or_else(|| Failure::Abi("the instance has no `memory`".into()))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut *store, "alloc")
            .map_err(Failure::Wasm)?;
        let call = instance
            .get_typed_func::<(i32, i32), i64>(&mut *store, "call")
            .map_err(Failure::Wasm)?;
        let len = i32::try_from(input.len()).map_err(|_| {
            Failure::Abi(format!(
                "the arguments ({} bytes) are too large",
                input.len()
            ))
        })?;
        let at = alloc.call(&mut *store, len).map_err(Failure::Wasm)?;
        if at == 0 && len > 0 {
            return Err(Failure::Abi(format!(
                "`alloc({len})` returned 0: the plugin could not make room for its arguments"
            )));
        }
        memory.write(&mut *store, at as u32 as usize, input).map_err(|_| {
            Failure::Abi(format!(
                "`alloc({len})` returned {at}, which is not {len} bytes inside the plugin's memory"
            ))
        })?;
        let packed = call.call(&mut *store, (at, len)).map_err(Failure::Wasm)?;
        let (ptr, out_len) = (
            (packed as u64 >> 32) as usize,
            (packed as u64 & 0xffff_ffff) as usize,
        );
        if out_len > max_output {
            return Err(Failure::Abi(format!(
                "its reply is {out_len} bytes, over the limit of {max_output} bytes"
            )));
        }
        let mut output = vec![0; out_len];
        memory.read(&*store, ptr, &mut output).map_err(|_| {
            Failure::Abi(format!(
                "`call` returned a reply at {ptr} of {out_len} bytes, which is outside the \
                 plugin's memory ({} bytes)",
                memory.data_size(&*store)
            ))
        })?;
        Ok(output)
    }

    /// The error for a call that wasmtime stopped.
    fn stopped(
        &self,
        error: &wasmtime::Error,
        memory_refused: bool,
        max_memory: usize,
        limits: &CallLimits,
        elapsed: Duration,
        host_errors: &[String],
    ) -> SandboxError {
        let module = self.name.to_string();
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return if limits.cancel.load(Ordering::Relaxed) {
                SandboxError::WasmCancelled { module }
            } else {
                SandboxError::WasmTimedOut {
                    module,
                    after_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                }
            };
        }
        let message = format!("{error:#}");
        if message.contains("maximum concurrent") || message.contains("pooling allocator") {
            return SandboxError::WasmBusy {
                module,
                reason: message,
            };
        }
        if memory_refused {
            return SandboxError::WasmMemoryExceeded {
                module,
                limit_bytes: max_memory,
                trap: message,
            };
        }
        let mut reason = message;
        for host_error in host_errors {
            reason.push_str("; host: ");
            reason.push_str(host_error);
        }
        SandboxError::WasmTrap { module, reason }
    }
}

enum Failure {
    /// wasmtime stopped the plugin (a trap, an interrupt, instantiation).
    Wasm(wasmtime::Error),
    /// The plugin broke the ABI.
    Abi(String),
}

/// `{"ok": RESULT}` or `{"error": "MESSAGE"}`, nothing else.
fn parse_reply(output: &[u8]) -> Result<PluginReply, String> {
    let value: Value = serde_json::from_slice(output).map_err(|e| {
        let shown = String::from_utf8_lossy(&output[..output.len().min(80)]).into_owned();
        format!("its reply is not JSON ({e}); it begins {shown:?}")
    })?;
    let Value::Object(mut object) = value else {
        return Err(format!(
            "its reply is {}, not an object {{\"ok\": ...}} or {{\"error\": \"...\"}}",
            kind_of(&value)
        ));
    };
    if object.len() != 1 {
        return Err(format!(
            "its reply has the keys {:?}; it must have exactly one, `ok` or `error`",
            object.keys().collect::<Vec<_>>()
        ));
    }
    if let Some(result) = object.remove("ok") {
        return Ok(PluginReply::Ok(result));
    }
    match object.remove("error") {
        Some(Value::String(message)) => Ok(PluginReply::Error(message)),
        Some(other) => Err(format!(
            "its reply's `error` is {}, not a string",
            kind_of(&other)
        )),
        None => Err(format!(
            "its reply's key is {:?}; it must be `ok` or `error`",
            object.keys().next().map(String::as_str).unwrap_or_default()
        )),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Advances the engine's epoch every [`TICK`] while any call runs, and
/// sleeps otherwise.
struct Ticker {
    running: AtomicUsize,
    wake: Mutex<bool>,
    wakeup: Condvar,
}

struct Running<'a>(&'a Ticker);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Ticker {
    fn start(engine: Engine) -> Result<Arc<Ticker>, SandboxError> {
        let ticker = Arc::new(Ticker {
            running: AtomicUsize::new(0),
            wake: Mutex::new(false),
            wakeup: Condvar::new(),
        });
        let weak = Arc::downgrade(&ticker);
        thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(ticker) = weak.upgrade() {
                    if ticker.running.load(Ordering::Acquire) > 0 {
                        drop(ticker);
                        thread::sleep(TICK);
                        engine.increment_epoch();
                        continue;
                    }
                    let Ok(mut stop) = ticker.wake.lock() else {
                        return;
                    };
                    while !*stop && ticker.running.load(Ordering::Acquire) == 0 {
                        stop = match ticker.wakeup.wait(stop) {
                            Ok(stop) => stop,
                            Err(_) => return,
                        };
                    }
                    if *stop {
                        return;
                    }
                }
            })
            .map_err(|e| SandboxError::WasmSetup {
                reason: format!("the epoch thread could not start: {e}"),
            })?;
        Ok(ticker)
    }

    fn running(&self) -> Running<'_> {
        if self.running.fetch_add(1, Ordering::AcqRel) == 0 {
            // Taken so that the ticker cannot miss the wakeup between its
            // check and its wait.
            let _guard = self.wake.lock();
            self.wakeup.notify_one();
        }
        Running(self)
    }

    fn stop(&self) {
        if let Ok(mut stop) = self.wake.lock() {
            *stop = true;
        }
        self.wakeup.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_must_follow_the_envelope() {
        assert_eq!(
            parse_reply(br#"{"ok":[1]}"#),
            Ok(PluginReply::Ok(json!([1])))
        );
        assert_eq!(
            parse_reply(br#"{"error":"no"}"#),
            Ok(PluginReply::Error("no".into()))
        );
        for bad in [
            &b"[1]"[..],
            b"{}",
            br#"{"ok":1,"error":"x"}"#,
            br#"{"error":1}"#,
            b"{",
            br#"{"result":1}"#,
        ] {
            assert!(
                parse_reply(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
