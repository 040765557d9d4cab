//! Policies that can be reloaded while calls run: a reload that fails keeps
//! the old policies and says why; calls already decided are unaffected.

use std::{
    cell::RefCell,
    sync::{
        Arc, RwLock, Weak,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{PolicyConfig, PolicyEngine, PolicyError};

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
        let engine = PolicyEngine::load(&config)?;
        Ok(ReloadablePolicy {
            shared: Arc::new(Shared {
                config,
                generation: AtomicU64::new(0),
                current: RwLock::new(engine),
            }),
        })
    }

    /// Reads and checks the policies again. On success, calls decided from
    /// now on use them; on failure the old policies stay and the error says
    /// why.
    pub fn reload(&self) -> Result<(), PolicyError> {
        let engine = PolicyEngine::load(&self.shared.config)?;
        let mut current = self
            .shared
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = engine;
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
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
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
