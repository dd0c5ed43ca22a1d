//! Hit and miss counters per cache layer and per namespace (the key's text before its
//! first `:`), exported as metrics too, and the optional `CacheInspect` capability behind
//! the admin cache stats.

use crate::error::Result;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

/// A cache level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// In-process.
    L1,
    /// Shared (Redis).
    L2,
}

impl Layer {
    /// The layer's name in reports and metric labels: `in_process` or `redis`.
    pub fn name(&self) -> &'static str {
        match self {
            Layer::L1 => "in_process",
            Layer::L2 => "redis",
        }
    }
}

/// One namespace of one layer, as the admin stats show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceReport {
    /// The namespace (`user`, `chat_sessions`, …).
    pub namespace: String,
    /// Entries (keys) held now, when the layer can count them.
    pub entries: Option<u64>,
    /// Bytes held now, when the layer can measure them (Redis `MEMORY USAGE`).
    pub bytes: Option<u64>,
    /// Reads that found an entry, since this process started.
    pub hits: u64,
    /// Reads that found none, since this process started.
    pub misses: u64,
}

/// One cache layer, as the admin stats show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerReport {
    /// Which layer.
    pub layer: Layer,
    /// Per namespace, by name.
    pub namespaces: Vec<NamespaceReport>,
    /// True when the sizes come from a bounded scan that stopped early.
    pub truncated: bool,
}

/// Optional: what a cache holds and how it has been used, per layer and namespace.
#[async_trait]
pub trait CacheInspect: Send + Sync + 'static {
    /// A report per layer, outermost (in-process) first.
    async fn inspect(&self) -> Result<Vec<LayerReport>>;
}

/// Sizes of one layer's namespaces: entries and, when known, bytes.
pub type Sizes = BTreeMap<String, (u64, Option<u64>)>;

/// Optional: measuring what a shared cache level holds (keys and bytes per namespace).
#[async_trait]
pub trait CacheSizes: Send + Sync + 'static {
    /// Sizes per namespace, and whether the measurement stopped early (a bounded scan).
    async fn sizes(&self) -> Result<(Sizes, bool)>;
}

/// Merges `sizes` and this process's counters for `layer` into one report.
pub(crate) fn layer_report(
    layer: Layer,
    sizes: Sizes,
    stats: &CacheStats,
    truncated: bool,
) -> LayerReport {
    let mut namespaces: BTreeMap<String, NamespaceReport> = BTreeMap::new();
    for (namespace, (entries, bytes)) in sizes {
        namespaces.insert(
            namespace.clone(),
            NamespaceReport {
                namespace,
                entries: Some(entries),
                bytes,
                ..NamespaceReport::default()
            },
        );
    }
    for (namespace, counts) in stats.snapshot() {
        let (hits, misses) = match layer {
            Layer::L1 => (counts.l1_hits, counts.l1_misses),
            Layer::L2 => (counts.l2_hits, counts.l2_misses),
        };
        if hits + misses == 0 {
            continue;
        }
        let entry = namespaces
            .entry(namespace.clone())
            .or_insert_with(|| NamespaceReport {
                namespace,
                entries: Some(0),
                ..NamespaceReport::default()
            });
        entry.hits = hits;
        entry.misses = misses;
    }
    LayerReport {
        layer,
        namespaces: namespaces.into_values().collect(),
        truncated,
    }
}

/// The (layer, result) pairs a namespace counts, in the order of [`Counters`]' arrays.
const SLOTS: [(Layer, bool); 4] = [
    (Layer::L1, true),
    (Layer::L1, false),
    (Layer::L2, true),
    (Layer::L2, false),
];

/// The index of (`layer`, `hit`) in [`SLOTS`].
fn slot(layer: Layer, hit: bool) -> usize {
    usize::from(layer == Layer::L2) * 2 + usize::from(!hit)
}

struct Counters {
    /// The namespace, as a metric label: made once (namespaces are a bounded set, kept for
    /// the life of the process here and in the metrics registry alike).
    label: &'static str,
    /// Counts by [`SLOTS`].
    counts: [AtomicU64; 4],
    /// The namespace's `delegate_cache_requests_total` handles by [`SLOTS`], made on its
    /// first count (not looked up in the recorder on every count; a recorder installed after
    /// that does not see them, and Delegate's server installs its own before serving).
    metrics: OnceLock<[metrics::Counter; 4]>,
}

impl Counters {
    fn new(namespace: &str) -> Self {
        Self {
            label: Box::leak(namespace.into()),
            counts: Default::default(),
            metrics: OnceLock::new(),
        }
    }

    fn count(&self, layer: Layer, hit: bool) {
        let at = slot(layer, hit);
        self.counts[at].fetch_add(1, Ordering::Relaxed);
        let handles = self.metrics.get_or_init(|| {
            // Namespaces come from the key builders (a fixed set), so labels stay bounded.
            SLOTS.map(|(layer, hit)| {
                metrics::counter!(
                    "delegate_cache_requests_total",
                    "layer" => layer.name(),
                    "namespace" => self.label,
                    "result" => if hit { "hit" } else { "miss" },
                )
            })
        });
        handles[at].increment(1);
    }

    fn load(&self, layer: Layer, hit: bool) -> u64 {
        self.counts[slot(layer, hit)].load(Ordering::Relaxed)
    }
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
            write
                .entry(namespace.to_owned())
                .or_insert_with(|| std::sync::Arc::new(Counters::new(namespace)))
                .clone()
        });
        counters.count(layer, hit);
    }

    /// A snapshot per namespace.
    pub fn snapshot(&self) -> Vec<(String, NamespaceStats)> {
        let read = self.namespaces.read().expect("stats lock");
        read.iter()
            .map(|(ns, c)| {
                (
                    ns.clone(),
                    NamespaceStats {
                        l1_hits: c.load(Layer::L1, true),
                        l1_misses: c.load(Layer::L1, false),
                        l2_hits: c.load(Layer::L2, true),
                        l2_misses: c.load(Layer::L2, false),
                    },
                )
            })
            .collect()
    }
}
