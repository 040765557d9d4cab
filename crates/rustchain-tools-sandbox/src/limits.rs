//! The limits layer: how many calls run at once, how long one may wait for a
//! slot, how long one may run, and refusing new work when memory is short.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use dashmap::DashMap;
use rustchain_tools_core::{BoxToolFuture, ToolError, ToolRequest, ToolResult};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tower::{Layer, Service};

/// Limits for every call, from configuration (JSON or TOML with these field
/// names). A policy obligation can lower a call's timeout further; nothing
/// raises it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct LimitsConfig {
    /// Calls of all tools running at once.
    pub max_concurrent: usize,
    /// Calls of any one tool running at once, unless `tools` says otherwise;
    /// `None` leaves a tool bounded by `max_concurrent` only.
    pub max_concurrent_per_tool: Option<usize>,
    /// How long a call waits for a free slot before it is refused as busy.
    pub max_wait_ms: u64,
    /// How long a call may run, unless `tools` says otherwise or the call has
    /// an earlier deadline.
    pub timeout_ms: Option<u64>,
    /// Resident memory of the process, in bytes, above which new calls are
    /// refused as busy (calls in flight go on).
    pub memory_soft_cap_bytes: Option<u64>,
    /// Limits of single tools, by name.
    pub tools: HashMap<String, ToolLimits>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_concurrent: 64,
            max_concurrent_per_tool: None,
            max_wait_ms: 1_000,
            timeout_ms: None,
            memory_soft_cap_bytes: None,
            tools: HashMap::new(),
        }
    }
}

/// The limits of one tool; each overrides the default of [`LimitsConfig`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct ToolLimits {
    /// Calls of this tool running at once.
    pub max_concurrent: Option<usize>,
    /// How long a call of this tool may run.
    pub timeout_ms: Option<u64>,
}

/// Counts of what the limits layer did, for stats and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitsStats {
    /// Calls that got their slots and were passed on.
    pub admitted: u64,
    /// Calls refused because no slot freed within the wait.
    pub refused_busy: u64,
    /// Calls refused because memory was over the soft cap.
    pub refused_memory: u64,
    /// Calls that hold a slot right now.
    pub in_flight: usize,
}

/// Bounds the work in hand: a global and a per-tool number of slots, a
/// bounded wait for one, a default timeout, and a memory soft cap.
///
/// A call that finds no free slot waits at most
/// [`max_wait_ms`](LimitsConfig::max_wait_ms) (or until its deadline, if
/// sooner), then fails with [`ToolError::Busy`]; nothing queues without bound.
/// Place it after validation and policy, so that refused calls never take a
/// slot, and before the deadline layer, which enforces the timeout set here.
///
/// ```
/// use rustchain_tools_core::{DeadlineLayer, Runtime, ValidationLayer};
/// use rustchain_tools_sandbox::{LimitsConfig, LimitsLayer};
///
/// let limits = LimitsLayer::new(LimitsConfig {
///     max_concurrent: 8,
///     max_wait_ms: 250,
///     ..LimitsConfig::default()
/// })
/// .unwrap();
/// let runtime = Runtime::builder()
///     .layer(ValidationLayer::new())
///     .layer(limits.clone())
///     .layer(DeadlineLayer::new())
///     .build()
///     .unwrap();
/// assert_eq!(limits.stats().admitted, 0);
/// # drop(runtime);
/// ```
#[derive(Debug, Clone)]
pub struct LimitsLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: LimitsConfig,
    global: Arc<Semaphore>,
    /// Created on a tool's first call, so that tools need not be known when
    /// the layer is made; a sharded map, so calls of different tools do not
    /// contend on one lock.
    per_tool: DashMap<String, Arc<Semaphore>>,
    memory: MemoryGauge,
    admitted: AtomicU64,
    refused_busy: AtomicU64,
    refused_memory: AtomicU64,
}

impl LimitsLayer {
    /// The layer with `config`, or an error naming the setting that makes no
    /// sense (a limit of zero slots would refuse every call).
    pub fn new(config: LimitsConfig) -> Result<Self, ToolError> {
        let invalid = |reason: String| ToolError::InvalidDefinition {
            tool: "limits".into(),
            reason,
        };
        if config.max_concurrent == 0 {
            return Err(invalid("max_concurrent is 0: no call could run".into()));
        }
        if config.max_concurrent_per_tool == Some(0) {
            return Err(invalid(
                "max_concurrent_per_tool is 0: no call could run".into(),
            ));
        }
        if let Some((name, _)) = config
            .tools
            .iter()
            .find(|(_, limits)| limits.max_concurrent == Some(0))
        {
            return Err(invalid(format!(
                "tools.{name}.max_concurrent is 0: no call of it could run"
            )));
        }
        Ok(LimitsLayer {
            shared: Arc::new(Shared {
                global: Arc::new(Semaphore::new(config.max_concurrent)),
                per_tool: DashMap::new(),
                memory: MemoryGauge::new(config.memory_soft_cap_bytes),
                admitted: AtomicU64::new(0),
                refused_busy: AtomicU64::new(0),
                refused_memory: AtomicU64::new(0),
                config,
            }),
        })
    }

    /// What the layer has done so far.
    pub fn stats(&self) -> LimitsStats {
        let s = &self.shared;
        LimitsStats {
            admitted: s.admitted.load(Ordering::Relaxed),
            refused_busy: s.refused_busy.load(Ordering::Relaxed),
            refused_memory: s.refused_memory.load(Ordering::Relaxed),
            in_flight: s.config.max_concurrent - s.global.available_permits(),
        }
    }
}

impl<S> Layer<S> for LimitsLayer {
    type Service = Limits<S>;

    fn layer(&self, inner: S) -> Limits<S> {
        Limits {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service of [`LimitsLayer`].
#[derive(Debug, Clone)]
pub struct Limits<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<ToolRequest> for Limits<S>
where
    S: Service<ToolRequest, Response = ToolResult, Error = ToolError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = ToolResult;
    type Error = ToolError;
    type Future = BoxToolFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ToolError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: ToolRequest) -> Self::Future {
        let shared = self.shared.clone();
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let tool = request.tool_name().to_owned();
            if let Some(error) = shared.memory_refusal(&tool) {
                return Err(error);
            }
            let deadline = request.call.deadline;
            let global = shared
                .acquire(&shared.global, deadline, || {
                    format!(
                        "all {} slots for calls are in use",
                        shared.config.max_concurrent
                    )
                })
                .await
                .map_err(|reason| ToolError::Busy {
                    tool: tool.clone(),
                    reason,
                })?;
            let _tool_slot = match shared.tool_semaphore(&tool) {
                Some((semaphore, slots)) => Some(
                    shared
                        .acquire(&semaphore, deadline, || {
                            format!("all {slots} slots for `{tool}` are in use")
                        })
                        .await
                        .map_err(|reason| ToolError::Busy {
                            tool: tool.clone(),
                            reason,
                        })?,
                ),
                None => None,
            };
            shared.admitted.fetch_add(1, Ordering::Relaxed);
            // tokio's clock, as the deadline layer uses, so that tests with
            // paused time see the same deadline.
            if let Some(timeout) = shared.timeout(&tool)
                && let Some(limit) = tokio::time::Instant::now().checked_add(timeout)
            {
                let limit = limit.into_std();
                let deadline = request.call.deadline.map_or(limit, |d| d.min(limit));
                request.call.deadline = Some(deadline);
            }
            let result = inner.call(request).await;
            drop(global);
            result
        })
    }
}

impl Shared {
    fn memory_refusal(&self, tool: &str) -> Option<ToolError> {
        let (resident, cap) = self.memory.over_cap()?;
        self.refused_memory.fetch_add(1, Ordering::Relaxed);
        Some(ToolError::Busy {
            tool: tool.to_owned(),
            reason: format!(
                "resident memory is {resident} bytes, over the soft cap of {cap}; \
                 new calls are refused until it falls"
            ),
        })
    }

    /// The bounded wait ends at `max_wait` or at the call's deadline,
    /// whichever is sooner: a slot that comes after the deadline is no use.
    fn wait_until(
        &self,
        now: tokio::time::Instant,
        deadline: Option<Instant>,
    ) -> tokio::time::Instant {
        let by_wait = now + Duration::from_millis(self.config.max_wait_ms);
        match deadline {
            Some(d) => by_wait.min(tokio::time::Instant::from_std(d)),
            None => by_wait,
        }
    }

    /// A free slot at once, else one that frees before the bounded wait
    /// ends; the clock is read only when there is a wait.
    async fn acquire(
        &self,
        semaphore: &Arc<Semaphore>,
        deadline: Option<Instant>,
        what: impl FnOnce() -> String,
    ) -> Result<OwnedSemaphorePermit, String> {
        let started = match semaphore.clone().try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(TryAcquireError::Closed) => None,
            Err(TryAcquireError::NoPermits) => Some(tokio::time::Instant::now()),
        };
        let waited = match started {
            Some(started) => tokio::time::timeout_at(
                self.wait_until(started, deadline),
                semaphore.clone().acquire_owned(),
            )
            .await
            .ok(),
            None => None,
        };
        match waited {
            Some(Ok(permit)) => Ok(permit),
            _ => {
                self.refused_busy.fetch_add(1, Ordering::Relaxed);
                Err(format!(
                    "{} and none freed within {} ms; retry later",
                    what(),
                    started.map_or(0, |s| s.elapsed().as_millis())
                ))
            }
        }
    }

    fn tool_semaphore(&self, tool: &str) -> Option<(Arc<Semaphore>, usize)> {
        let slots = self
            .config
            .tools
            .get(tool)
            .and_then(|t| t.max_concurrent)
            .or(self.config.max_concurrent_per_tool)?;
        if let Some(semaphore) = self.per_tool.get(tool) {
            return Some((semaphore.clone(), slots));
        }
        let semaphore = self
            .per_tool
            .entry(tool.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(slots)))
            .clone();
        Some((semaphore, slots))
    }

    fn timeout(&self, tool: &str) -> Option<Duration> {
        self.config
            .tools
            .get(tool)
            .and_then(|t| t.timeout_ms)
            .or(self.config.timeout_ms)
            .map(Duration::from_millis)
    }
}

/// The process's resident memory, sampled at most every
/// [`MemoryGauge::SAMPLE_EVERY`] so that the check costs an atomic load on
/// almost every call, not a read of `/proc`.
#[derive(Debug)]
struct MemoryGauge {
    cap: Option<u64>,
    epoch: Instant,
    sampled_at_ms: AtomicU64,
    resident: AtomicU64,
}

impl MemoryGauge {
    const SAMPLE_EVERY: Duration = Duration::from_millis(50);

    fn new(cap: Option<u64>) -> Self {
        let gauge = MemoryGauge {
            cap,
            epoch: Instant::now(),
            sampled_at_ms: AtomicU64::new(0),
            resident: AtomicU64::new(0),
        };
        if cap.is_some() {
            gauge.resident.store(resident_bytes(), Ordering::Relaxed);
        }
        gauge
    }

    /// `(resident, cap)` when memory is over the cap.
    fn over_cap(&self) -> Option<(u64, u64)> {
        let cap = self.cap?;
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.sampled_at_ms.load(Ordering::Relaxed);
        let every = Self::SAMPLE_EVERY.as_millis() as u64;
        // One caller refreshes; the others use the last sample.
        if now.saturating_sub(last) >= every
            && self
                .sampled_at_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.resident.store(resident_bytes(), Ordering::Relaxed);
        }
        let resident = self.resident.load(Ordering::Relaxed);
        (resident > cap).then_some((resident, cap))
    }
}

/// The resident memory of this process, in bytes, from `/proc/self/statm`;
/// `None` where it cannot be read.
pub fn resident_memory() -> Option<u64> {
    const PAGE: u64 = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages.saturating_mul(PAGE))
}

/// Resident memory for the soft cap. Where it cannot be read the answer is
/// `u64::MAX`, so a configured cap refuses work (fails closed) rather than
/// being silently ignored.
fn resident_bytes() -> u64 {
    resident_memory().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_slots_are_refused_with_the_setting_named() {
        let err = LimitsLayer::new(LimitsConfig {
            max_concurrent: 0,
            ..LimitsConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("max_concurrent is 0"), "{err}");
        let mut tools = HashMap::new();
        tools.insert(
            "slow".to_string(),
            ToolLimits {
                max_concurrent: Some(0),
                timeout_ms: None,
            },
        );
        let err = LimitsLayer::new(LimitsConfig {
            tools,
            ..LimitsConfig::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("tools.slow.max_concurrent"),
            "{err}"
        );
    }

    #[test]
    fn config_reads_from_json_and_refuses_unknown_fields() {
        let config: LimitsConfig = serde_json::from_str(
            r#"{"max_concurrent": 4, "tools": {"cmd_run": {"max_concurrent": 1, "timeout_ms": 500}}}"#,
        )
        .unwrap();
        assert_eq!(config.max_concurrent, 4);
        assert_eq!(config.max_wait_ms, 1_000);
        assert_eq!(config.tools["cmd_run"].timeout_ms, Some(500));
        let err = serde_json::from_str::<LimitsConfig>(r#"{"max_concurent": 4}"#).unwrap_err();
        assert!(err.to_string().contains("max_concurent"), "{err}");
    }

    #[test]
    fn the_memory_gauge_reads_this_process() {
        let resident = resident_bytes();
        assert!(resident > 0 && resident < u64::MAX, "{resident}");
        assert_eq!(MemoryGauge::new(None).over_cap(), None);
        assert!(MemoryGauge::new(Some(1)).over_cap().is_some());
        assert_eq!(MemoryGauge::new(Some(u64::MAX)).over_cap(), None);
    }
}
