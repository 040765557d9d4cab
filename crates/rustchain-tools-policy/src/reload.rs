//! Policies that can be reloaded while calls run: a reload that fails keeps
//! the old policies and says why; calls already decided are unaffected. A
//! watcher reloads when the policy files change.

use std::{
    cell::RefCell,
    sync::{
        Arc, Mutex, PoisonError, RwLock, Weak,
        atomic::{AtomicU64, Ordering},
        mpsc::{self, RecvTimeoutError},
    },
    thread::JoinHandle,
    time::Duration,
};

use crate::{PolicyConfig, PolicyEngine, PolicyError, sources};

/// The shortest poll interval [`ReloadablePolicy::watch`] uses: each poll
/// reads every policy file.
pub const MIN_WATCH_INTERVAL: Duration = Duration::from_millis(10);

/// A [`PolicyEngine`] that [`reload`](Self::reload) replaces. Cheap to clone;
/// every clone sees reloads. A decision reads one atomic counter and, only
/// after a reload, takes a lock once per thread to fetch the new engine.
#[derive(Clone)]
pub struct ReloadablePolicy {
    shared: Arc<Shared>,
}

struct Shared {
    config: PolicyConfig,
    generation: AtomicU64,
    current: RwLock<PolicyEngine>,
    /// Held across a whole reload (read, check, swap), so that two reloads
    /// at once cannot leave the one that read older files in force.
    reloading: Mutex<Loaded>,
}

/// What the last reload read, and how it went.
struct Loaded {
    /// The digest of the policy files taken before they were read: an edit
    /// made while they were read differs from it and is loaded next.
    fingerprint: [u8; 32],
    /// Why the last reload failed; `None` once one succeeds.
    error: Option<PolicyError>,
}

impl std::fmt::Debug for ReloadablePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadablePolicy")
            .field(
                "generation",
                &self.shared.generation.load(Ordering::Acquire),
            )
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The engine each thread last fetched, by policy and generation, so the
    /// hot path takes no lock.
    static CURRENT: RefCell<Vec<(Weak<Shared>, u64, PolicyEngine)>> = const { RefCell::new(Vec::new()) };
}

impl ReloadablePolicy {
    /// Loads `config` now; [`reload`](Self::reload) loads it again (its
    /// directories are read anew).
    pub fn load(config: PolicyConfig) -> Result<Self, PolicyError> {
        let fingerprint = sources::fingerprint(config.dirs());
        let engine = PolicyEngine::load(&config)?;
        Ok(ReloadablePolicy {
            shared: Arc::new(Shared {
                config,
                generation: AtomicU64::new(0),
                current: RwLock::new(engine),
                reloading: Mutex::new(Loaded {
                    fingerprint,
                    error: None,
                }),
            }),
        })
    }

    /// Reads and checks the policies again. On success, calls decided from
    /// now on use them; on failure the old policies stay and the error says
    /// why.
    pub fn reload(&self) -> Result<(), PolicyError> {
        let mut state = self.loaded();
        state.fingerprint = sources::fingerprint(self.shared.config.dirs());
        let loaded = PolicyEngine::load(&self.shared.config);
        state.error = loaded.as_ref().err().cloned();
        let engine = loaded?;
        let mut current = self
            .shared
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *current = engine;
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    fn loaded(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.shared
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the last reload failed (the old policies are still in force);
    /// `None` when it succeeded or none was tried.
    pub fn last_reload_error(&self) -> Option<PolicyError> {
        self.loaded().error.clone()
    }

    /// Reloads whenever the files below the configured policy directories
    /// change: a background thread reads them every `interval` (at least
    /// [`MIN_WATCH_INTERVAL`]) and compares a digest of their paths and
    /// contents with that of the files last read. A change is loaded once
    /// two polls in a row see the same files, so that a file being written
    /// (or a change across several files) is not loaded half done; replace
    /// files by renaming a finished copy into place to be sure of it. Each
    /// reload emits a tracing event
    /// (`info` on success, `warn` with the reason on failure, when the old
    /// policies stay and [`last_reload_error`](Self::last_reload_error)
    /// says why). Watching stops when the returned guard is dropped.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use rustchain_tools_policy::{PolicyConfig, PolicyLayer, ReloadablePolicy};
    ///
    /// let policy = ReloadablePolicy::load(PolicyConfig::new().policy_dir("/etc/rustchain/policy"))?;
    /// let _watch = policy.watch(Duration::from_secs(2))?; // keep it while serving
    /// let layer = PolicyLayer::reloadable(policy);
    /// # Ok::<(), rustchain_tools_policy::PolicyError>(())
    /// ```
    pub fn watch(&self, interval: Duration) -> Result<PolicyWatch, PolicyError> {
        let interval = interval.max(MIN_WATCH_INTERVAL);
        let dirs = self.shared.config.dirs().to_vec();
        let policy = self.clone();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("policy-watch".into())
            .spawn(move || {
                // Files seen changed on the last poll, waiting to settle.
                let mut settling = None;
                // A message or the guard's sender dropped: stop.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let now = sources::fingerprint(&dirs);
                    // Files a reload already read are not read again, even
                    // when they failed to load, until they change.
                    if now == policy.loaded().fingerprint {
                        settling = None;
                        continue;
                    }
                    if settling != Some(now) {
                        settling = Some(now);
                        continue;
                    }
                    settling = None;
                    match policy.reload() {
                        Ok(()) => tracing::info!(
                            generation = policy.generation(),
                            revision = policy.engine().revision(),
                            "policy files changed; policies reloaded"
                        ),
                        Err(error) => tracing::warn!(
                            %error,
                            "policy files changed but do not load; the previous policies stay in force"
                        ),
                    }
                }
            })
            .map_err(|e| PolicyError::Watch {
                message: e.to_string(),
            })?;
        Ok(PolicyWatch {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// How many reloads succeeded.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// The engine in force.
    pub fn engine(&self) -> PolicyEngine {
        let generation = self.generation();
        let cached = CURRENT.with(|cell| {
            cell.try_borrow().ok().and_then(|entries| {
                entries
                    .iter()
                    .find(|(weak, g, _)| {
                        *g == generation && std::ptr::eq(weak.as_ptr(), Arc::as_ptr(&self.shared))
                    })
                    .map(|(_, _, engine)| engine.clone())
            })
        });
        if let Some(engine) = cached {
            return engine;
        }
        let engine = self
            .shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // The generation read before the lock may be older than the engine
        // read under it; the next call then fetches again, which is harmless.
        CURRENT.with(|cell| {
            if let Ok(mut entries) = cell.try_borrow_mut() {
                entries.retain(|(weak, _, _)| {
                    weak.strong_count() > 0
                        && !std::ptr::eq(weak.as_ptr(), Arc::as_ptr(&self.shared))
                });
                entries.push((Arc::downgrade(&self.shared), generation, engine.clone()));
            }
        });
        engine
    }
}

/// Watches policy files for [`ReloadablePolicy::watch`]; dropping it stops
/// the watcher (waiting for a reload under way to finish).
#[derive(Debug)]
pub struct PolicyWatch {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for PolicyWatch {
    fn drop(&mut self) {
        // Dropping the sender wakes the watcher at once.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            // A panic in the watcher has nothing left to clean up here.
            let _ = thread.join();
        }
    }
}
