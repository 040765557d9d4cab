//! Capabilities and limits of RustChain Tools: what a tool may touch, and
//! how much of the machine a call may use.
//!
//! - [`fs::FsRoot`]: files confined to one root directory, opened as a
//!   `cap_std` capability; no path, symlink or race leads outside it, and
//!   writes are atomic.
//! - [`process::CommandRunner`]: programs from an allowlist, with an argument
//!   array and never a shell, under CPU, memory, file-size, process-count,
//!   wall-clock and output limits enforced by the kernel (rlimits, a `pids`
//!   cgroup, Landlock where offered), the whole process group killed at the end.
//! - [`net::HttpFetcher`]: HTTP(S) on reqwest and rustls that refuses loopback,
//!   private, link-local, metadata and other special addresses (in every
//!   spelling) unless configured, connects only to the address it checked,
//!   and checks every redirect the same way.
//! - [`LimitsLayer`]: the pipeline layer that bounds the calls running at
//!   once (globally and per tool), refuses calls as busy after a bounded
//!   wait, sets timeouts, and refuses new work when memory is short.
//!
//! - [`wasm::WasmEngine`] (feature `wasm`): WebAssembly plugins on wasmtime,
//!   each call in a fresh instance under CPU, memory and output limits, with
//!   only the host functions it was granted.
//!
//! The built-in tools on top of these (`fs_read`, `cmd_run`, `http_fetch`,
//! ...) live in `rustchain-tools-builtins`.
#![deny(missing_docs)]

mod error;
pub mod fs;
mod limits;
pub mod net;
pub mod process;
#[cfg(feature = "wasm")]
pub mod wasm;

pub use error::SandboxError;
pub use limits::{Limits, LimitsConfig, LimitsLayer, LimitsStats, ToolLimits, resident_memory};
