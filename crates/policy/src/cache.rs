//! Per-connection memory of decisions, so a produce loop to one topic costs one Cedar
//! evaluation per policy generation.
//!
//! A connection owns one cache. Keys are (action, resource, API name) within one generation:
//! the rest of the context (listener, address, TLS, certificate) is fixed for a connection, and
//! a set whose policies read the request time is never cached. A new generation, or another
//! principal (re-authentication), empties the cache.

use crate::decision::Decision;
use crate::request::{Action, DecisionRequest, Resource, Subject};
use crate::snapshot::PolicySnapshot;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    action: Action,
    resource: Resource,
    api_name: Cow<'static, str>,
}

/// Counters for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Decisions answered from the cache.
    pub hits: u64,
    /// Decisions that asked the snapshot.
    pub evaluations: u64,
}

#[derive(Debug)]
pub struct DecisionCache {
    /// The generation every entry was decided by.
    generation: u64,
    /// The subject every entry was decided for.
    subject: Option<Subject>,
    entries: HashMap<Key, Arc<Decision>>,
    /// Most entries kept; a full cache is emptied, so a connection cannot grow it without bound.
    capacity: usize,
    stats: CacheStats,
}

impl Default for DecisionCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl DecisionCache {
    pub const DEFAULT_CAPACITY: usize = 1024;

    pub fn new(capacity: usize) -> Self {
        Self {
            generation: 0,
            subject: None,
            entries: HashMap::new(),
            capacity: capacity.max(1),
            stats: CacheStats::default(),
        }
    }

    /// The decision of `snapshot` for `req`, from the cache when this generation already made
    /// it for this connection.
    pub fn decide(&mut self, snapshot: &PolicySnapshot, req: &DecisionRequest) -> Arc<Decision> {
        if !snapshot.cacheable() {
            self.stats.evaluations += 1;
            return Arc::new(snapshot.decide(req));
        }
        if self.generation != snapshot.generation() || self.subject.as_ref() != Some(req.subject) {
            self.entries.clear();
            self.generation = snapshot.generation();
            self.subject = Some(req.subject.clone());
        }
        let key = Key {
            action: req.action,
            resource: req.resource.clone(),
            api_name: req.context.api_name.clone(),
        };
        if let Some(decision) = self.entries.get(&key) {
            self.stats.hits += 1;
            return Arc::clone(decision);
        }
        self.stats.evaluations += 1;
        let decision = Arc::new(snapshot.decide(req));
        if self.entries.len() >= self.capacity {
            self.entries.clear();
        }
        self.entries.insert(key, Arc::clone(&decision));
        decision
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.subject = None;
    }
}
