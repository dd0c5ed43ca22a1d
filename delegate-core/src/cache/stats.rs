//! Hit and miss counters per cache layer and per namespace (the key's text before its
//! first `:`), for the admin stats.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A cache level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// In-process.
    L1,
    /// Shared (Redis).
    L2,
}

#[derive(Default)]
struct Counters {
    l1_hits: AtomicU64,
    l1_misses: AtomicU64,
    l2_hits: AtomicU64,
    l2_misses: AtomicU64,
}

/// Counts of one namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NamespaceStats {
    /// L1 hits.
    pub l1_hits: u64,
    /// L1 misses.
    pub l1_misses: u64,
    /// L2 hits.
    pub l2_hits: u64,
    /// L2 misses.
    pub l2_misses: u64,
}

/// Lock-light counters: a read lock to find the namespace, then atomics.
#[derive(Default)]
pub struct CacheStats {
    namespaces: RwLock<BTreeMap<String, std::sync::Arc<Counters>>>,
}

impl CacheStats {
    /// Counts a hit or miss of `key` at `layer`.
    pub fn record(&self, key: &str, layer: Layer, hit: bool) {
        let namespace = super::namespace(key);
        let counters = {
            let read = self.namespaces.read().expect("stats lock");
            read.get(namespace).cloned()
        };
        let counters = counters.unwrap_or_else(|| {
            let mut write = self.namespaces.write().expect("stats lock");
            write.entry(namespace.to_owned()).or_default().clone()
        });
        let counter = match (layer, hit) {
            (Layer::L1, true) => &counters.l1_hits,
            (Layer::L1, false) => &counters.l1_misses,
            (Layer::L2, true) => &counters.l2_hits,
            (Layer::L2, false) => &counters.l2_misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot per namespace.
    pub fn snapshot(&self) -> Vec<(String, NamespaceStats)> {
        let read = self.namespaces.read().expect("stats lock");
        read.iter()
            .map(|(ns, c)| {
                let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
                (
                    ns.clone(),
                    NamespaceStats {
                        l1_hits: load(&c.l1_hits),
                        l1_misses: load(&c.l1_misses),
                        l2_hits: load(&c.l2_hits),
                        l2_misses: load(&c.l2_misses),
                    },
                )
            })
            .collect()
    }
}
