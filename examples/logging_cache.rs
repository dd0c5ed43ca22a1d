//! A custom backend: a [`Cache`] of our own — a `HashMap` that logs every operation —
//! written against the public trait only, proven by the conformance suite
//! (`tests/logging_cache.rs`) and plugged into a running Delegate in place of the built-in
//! cache (`custom_backend.rs`).

use chrono::{DateTime, Utc};
use delegate_core::Clock;
use delegate_core::async_trait;
use delegate_core::cache::{Cache, glob_match};
use delegate_core::error::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Each key's value and when it expires.
type Entries = HashMap<String, (Vec<u8>, DateTime<Utc>)>;

/// A cache held in a `HashMap`, logging each call at `debug` (and what it found). Expiry reads
/// the injected [`Clock`], so the conformance suite can move time without sleeping.
pub struct LoggingCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<Entries>,
}

impl LoggingCache {
    /// An empty cache whose entries expire by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How many entries are held now, expired ones included until they are next touched.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves the map usable: the data is plain bytes.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Cache for LoggingCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let now = self.clock.now();
        let mut entries = self.lock();
        let found = match entries.get(key) {
            Some((value, expires)) if *expires > now => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        };
        tracing::debug!(key, hit = found.is_some(), "cache get");
        Ok(found)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()> {
        // A TTL too long for a timestamp is kept for as long as a timestamp can say.
        let expires = chrono::TimeDelta::from_std(ttl)
            .ok()
            .and_then(|ttl| self.clock.now().checked_add_signed(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        tracing::debug!(key, bytes = value.len(), ?ttl, "cache set");
        self.lock().insert(key.to_owned(), (value, expires));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let now = self.clock.now();
        let removed = self.lock().remove(key);
        let present = removed.is_some_and(|(_, expires)| expires > now);
        tracing::debug!(key, present, "cache delete");
        Ok(present)
    }

    async fn clear(&self, pattern: &str) -> Result<u64> {
        let now = self.clock.now();
        let mut removed = 0;
        self.lock().retain(|key, (_, expires)| {
            let hit = glob_match(pattern, key);
            removed += u64::from(hit && *expires > now);
            !hit
        });
        tracing::debug!(pattern, removed, "cache clear");
        Ok(removed)
    }
}
