//! The in-process `Cache`: a mutex-guarded map with expiry read from the injected clock.

use crate::cache::stats::{CacheInspect, CacheStats, Layer, LayerReport, Sizes, layer_report};
use crate::cache::{Cache, glob_match, namespace};
use crate::clock::Clock;
use crate::error::Result;
use crate::hashing::FastHash;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A cached value and when it expires.
type Entry = (Vec<u8>, DateTime<Utc>);

/// A cache in process memory. Expired entries are dropped when read or when the map grows.
pub struct MemoryCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, Entry, FastHash>>,
    max_entries: usize,
    stats: CacheStats,
}

impl MemoryCache {
    /// A cache holding at most `max_entries` entries (expired ones are evicted first; then
    /// a write beyond the bound evicts arbitrary entries).
    pub fn new(clock: Arc<dyn Clock>, max_entries: usize) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::default()),
            max_entries: max_entries.max(1),
            stats: CacheStats::default(),
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let now = self.clock.now();
        let mut entries = self.entries.lock().expect("cache lock");
        let found = match entries.get(key) {
            Some((value, expires)) if *expires > now => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        };
        self.stats.record(key, Layer::L1, found.is_some());
        Ok(found)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()> {
        let now = self.clock.now();
        let expires = now + crate::clock::delta(ttl)?;
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= self.max_entries && !entries.contains_key(key) {
            entries.retain(|_, (_, exp)| *exp > now);
            while entries.len() >= self.max_entries {
                let Some(victim) = entries.keys().next().cloned() else {
                    break;
                };
                entries.remove(&victim);
            }
        }
        entries.insert(key.to_owned(), (value, expires));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let now = self.clock.now();
        let removed = self.entries.lock().expect("cache lock").remove(key);
        Ok(removed.is_some_and(|(_, exp)| exp > now))
    }

    async fn clear(&self, pattern: &str) -> Result<u64> {
        let now = self.clock.now();
        let mut entries = self.entries.lock().expect("cache lock");
        let mut removed = 0;
        entries.retain(|key, (_, exp)| {
            let hit = glob_match(pattern, key);
            removed += u64::from(hit && *exp > now);
            !hit
        });
        Ok(removed)
    }
}

#[async_trait]
impl CacheInspect for MemoryCache {
    async fn inspect(&self) -> Result<Vec<LayerReport>> {
        let now = self.clock.now();
        let mut sizes = Sizes::new();
        for (key, (value, expires)) in self.entries.lock().expect("cache lock").iter() {
            if *expires > now {
                let (entries, bytes) = sizes.entry(namespace(key).to_owned()).or_default();
                *entries += 1;
                *bytes = Some(bytes.unwrap_or(0) + (key.len() + value.len()) as u64);
            }
        }
        Ok(vec![layer_report(Layer::L1, sizes, &self.stats, false)])
    }
}
