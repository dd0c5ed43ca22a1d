//! The two-level cache: an in-process L1 (quick_cache) in front of a shared L2 (Redis), itself a
//! [`Cache`]. Writes go to both and tell every other instance, over the event bus, to drop
//! its L1 copy. `get_or_load` runs one loader per key, however many callers miss at once.
//! L2 values carry their expiry time (8 bytes, Unix ms by the injected clock, before the
//! value), so an entry copied into another instance's L1 expires there when it does in L2.
//! L1 entries carry their end by the same clock, checked when read.

use super::stats::{CacheInspect, CacheSizes, CacheStats, Layer, LayerReport, Sizes, layer_report};
use super::{Cache, glob_match};
use crate::bus::{Delivery, EventBus};
use crate::clock::Clock;
use crate::error::Result;
use crate::hashing::{BoundedMap, bounded_map};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The bus topic of L1 invalidations.
pub const CACHE_TOPIC: &str = "cache";

#[derive(Clone)]
struct Entry {
    /// Shared, so that a hit hands out the same buffer without copying it.
    value: Bytes,
    /// When it ends in L1 (Unix ms by the injected clock); a read at or past it is a miss.
    until_ms: u64,
}

impl Entry {
    /// Whether the entry has not ended at `now_ms`.
    fn is_live(&self, now_ms: u64) -> bool {
        now_ms < self.until_ms
    }

    /// The value, unless the entry has ended at `now_ms`.
    fn live(self, now_ms: u64) -> Option<Bytes> {
        self.is_live(now_ms).then_some(self.value)
    }
}

/// What another instance must drop from its L1.
#[derive(Debug, Serialize, Deserialize)]
struct Invalidation {
    /// The instance that wrote (it has already applied the change).
    origin: String,
    /// Keys to drop.
    #[serde(default)]
    keys: Vec<String>,
    /// A glob of keys to drop.
    #[serde(default)]
    pattern: Option<String>,
}

/// L1 + L2, kept coherent across instances over the bus.
pub struct TwoLevelCache {
    /// Bounded by entries (S3-FIFO eviction); a lookup takes a shard's read lock only.
    l1: BoundedMap<String, Entry>,
    l2: Arc<dyn Cache>,
    bus: Arc<dyn EventBus>,
    origin: String,
    l1_max_ttl: Duration,
    clock: Arc<dyn Clock>,
    stats: CacheStats,
    l2_sizes: std::sync::OnceLock<Arc<dyn CacheSizes>>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for TwoLevelCache {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl TwoLevelCache {
    /// An L1 of at most `l1_capacity` entries, each kept at most `l1_max_ttl` (which bounds
    /// how stale an instance can be if an invalidation is lost), in front of `l2`. Starts
    /// listening for other instances' invalidations; needs a Tokio runtime. L2 expiry
    /// stamps read `clock`.
    pub async fn new(
        l2: Arc<dyn Cache>,
        bus: Arc<dyn EventBus>,
        l1_capacity: u64,
        l1_max_ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>> {
        let events = bus.subscribe(CACHE_TOPIC).await?;
        Ok(Arc::new_cyclic(|weak: &Weak<Self>| Self {
            l1: bounded_map(usize::try_from(l1_capacity).unwrap_or(usize::MAX)),
            l2,
            bus,
            origin: uuid::Uuid::now_v7().to_string(),
            l1_max_ttl,
            clock,
            stats: CacheStats::default(),
            l2_sizes: std::sync::OnceLock::new(),
            listener: tokio::spawn(listen(weak.clone(), events)),
        }))
    }

    /// Hit, miss and size counters per layer and namespace.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Entries and bytes in L1 now, per namespace.
    pub fn l1_sizes(&self) -> Sizes {
        let mut sizes = Sizes::new();
        let now_ms = self.now_ms();
        for (key, entry) in self.l1.iter() {
            if !entry.is_live(now_ms) {
                continue;
            }
            let (entries, bytes) = sizes.entry(super::namespace(&key).to_owned()).or_default();
            *entries += 1;
            *bytes = Some(bytes.unwrap_or(0) + (key.len() + entry.value.len()) as u64);
        }
        sizes
    }

    /// Measures L2's keys and bytes with `sizes` in [`CacheInspect::inspect`] (set once;
    /// without it, L2 reports only this process's hits and misses).
    pub fn measure_l2_with(&self, sizes: Arc<dyn CacheSizes>) {
        let _ = self.l2_sizes.set(sizes);
    }

    /// The value under `key`, or what `load` produces (stored in both levels for `ttl`).
    /// Concurrent misses on one key run `load` once; the others wait for its result (and
    /// when it fails, the next of them loads).
    async fn load_once(
        &self,
        key: &str,
        ttl: Duration,
        load: impl Future<Output = Result<Vec<u8>>>,
    ) -> Result<Bytes> {
        if let Some(value) = self.l1_get(key) {
            self.stats.record(key, Layer::L1, true);
            return Ok(value);
        }
        self.stats.record(key, Layer::L1, false);
        let guard = match self.l1.get_value_or_guard_async(key).await {
            Ok(entry) => match entry.live(self.now_ms()) {
                Some(value) => return Ok(value),
                // Ended while this caller waited: load it again, uncached.
                None => None,
            },
            Err(guard) => Some(guard),
        };
        let entry = match self.l2_get(key).await {
            Some(entry) => entry,
            None => {
                let value = load.await?;
                if let Err(e) = self.l2_write(key, &value, ttl).await {
                    tracing::warn!(error = %e.report(), "L2 cache write failed; serving from L1 only");
                }
                self.entry(value, ttl)
            }
        };
        let value = entry.value.clone();
        if let Some(guard) = guard {
            // Refused when L1 dropped the key meanwhile (an invalidation): it stays out.
            let _ = guard.insert(entry);
        }
        Ok(value)
    }

    /// L1's live value under `key`; an ended entry is dropped.
    fn l1_get(&self, key: &str) -> Option<Bytes> {
        let entry = self.l1.get(key)?;
        let live = entry.live(self.now_ms());
        if live.is_none() {
            self.l1.remove(key);
        }
        live
    }

    fn entry(&self, value: Vec<u8>, ttl: Duration) -> Entry {
        let ttl = ttl.min(self.l1_max_ttl).as_millis();
        Entry {
            value: Bytes::from(value),
            until_ms: self
                .now_ms()
                .saturating_add(u64::try_from(ttl).unwrap_or(u64::MAX)),
        }
    }

    /// Reads L2: a hit becomes an L1 entry for what remains of its TTL.
    async fn l2_lookup(&self, key: &str) -> Result<Option<Entry>> {
        let found = self
            .l2
            .get(key)
            .await
            .map(|v| v.and_then(|v| unwrap_expiry(&v, self.now_ms())));
        self.stats
            .record(key, Layer::L2, matches!(found, Ok(Some(_))));
        Ok(found?.map(|(value, ttl)| self.entry(value, ttl)))
    }

    /// Reads L2 and copies a hit into L1.
    async fn read_through(&self, key: &str) -> Result<Option<Entry>> {
        let found = self.l2_lookup(key).await?;
        if let Some(entry) = &found {
            self.l1.insert(key.to_owned(), entry.clone());
        }
        Ok(found)
    }

    /// L2 read for a loader; an L2 outage degrades to a miss (the caller loads from the
    /// source of truth).
    async fn l2_get(&self, key: &str) -> Option<Entry> {
        self.l2_lookup(key).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e.report(), "L2 cache read failed; treating as a miss");
            None
        })
    }

    async fn l2_write(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        self.l2
            .set(key, wrap_expiry(value, ttl, self.now_ms()), ttl)
            .await
    }

    async fn announce(&self, keys: Vec<String>, pattern: Option<String>) {
        let message = Invalidation {
            origin: self.origin.clone(),
            keys,
            pattern,
        };
        let payload = serde_json::to_vec(&message).expect("invalidations serialise");
        if let Err(e) = self.bus.publish(CACHE_TOPIC, payload).await {
            tracing::warn!(error = %e.report(), "could not announce a cache invalidation");
        }
    }

    fn apply(&self, message: Invalidation) {
        if message.origin == self.origin {
            return;
        }
        for key in &message.keys {
            self.l1.remove(key.as_str());
        }
        if let Some(pattern) = message.pattern {
            self.drop_l1_matching(&pattern);
        }
    }

    /// Drops L1's keys matching `pattern`; returns how many of them had not ended.
    fn drop_l1_matching(&self, pattern: &str) -> u64 {
        let now_ms = self.now_ms();
        // Collected first: the iterator may miss entries removed while it runs.
        let matching: Vec<(String, bool)> = self
            .l1
            .iter()
            .filter(|(key, _)| glob_match(pattern, key))
            .map(|(key, entry)| (key, entry.is_live(now_ms)))
            .collect();
        for (key, _) in &matching {
            self.l1.remove(key.as_str());
        }
        matching.iter().filter(|(_, live)| *live).count() as u64
    }
}

#[async_trait]
impl CacheInspect for TwoLevelCache {
    async fn inspect(&self) -> Result<Vec<LayerReport>> {
        let l1 = layer_report(Layer::L1, self.l1_sizes(), &self.stats, false);
        let (sizes, truncated) = match self.l2_sizes.get() {
            Some(measure) => measure.sizes().await?,
            None => (Sizes::new(), false),
        };
        let l2 = layer_report(Layer::L2, sizes, &self.stats, truncated);
        Ok(vec![l1, l2])
    }
}

#[async_trait]
impl Cache for TwoLevelCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        if let Some(value) = self.l1_get(key) {
            self.stats.record(key, Layer::L1, true);
            return Ok(Some(value.to_vec()));
        }
        self.stats.record(key, Layer::L1, false);
        Ok(self.read_through(key).await?.map(|e| e.value.to_vec()))
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()> {
        self.l2_write(key, &value, ttl).await?;
        self.l1.insert(key.to_owned(), self.entry(value, ttl));
        self.announce(vec![key.to_owned()], None).await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.l1.remove(key);
        let existed = self.l2.delete(key).await?;
        self.announce(vec![key.to_owned()], None).await;
        Ok(existed)
    }

    async fn clear(&self, pattern: &str) -> Result<u64> {
        let in_l1 = self.drop_l1_matching(pattern);
        let in_l2 = self.l2.clear(pattern).await?;
        self.announce(Vec::new(), Some(pattern.to_owned())).await;
        Ok(in_l2.max(in_l1))
    }

    async fn get_or_load(
        &self,
        key: &str,
        ttl: Duration,
        load: BoxFuture<'_, Result<Vec<u8>>>,
    ) -> Result<Bytes> {
        self.load_once(key, ttl, load).await
    }
}

impl TwoLevelCache {
    /// The clock's time in Unix ms (0 before 1970).
    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.now().timestamp_millis()).unwrap_or(0)
    }
}

/// `value` prefixed with its expiry time (Unix ms, big-endian), `ttl` after `now_ms`.
fn wrap_expiry(value: &[u8], ttl: Duration, now_ms: u64) -> Vec<u8> {
    let expires = now_ms.saturating_add(ttl.as_millis() as u64);
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The value and its remaining TTL at `now_ms`; `None` when expired or not written by this
/// cache.
fn unwrap_expiry(stored: &[u8], now_ms: u64) -> Option<(Vec<u8>, Duration)> {
    let (head, value) = stored.split_first_chunk::<8>()?;
    let remaining = u64::from_be_bytes(*head).checked_sub(now_ms)?;
    (remaining > 0).then(|| (value.to_vec(), Duration::from_millis(remaining)))
}

/// Applies other instances' invalidations until the bus or the cache goes away; after a gap
/// (missed invalidations) the whole L1 is dropped.
async fn listen(cache: Weak<TwoLevelCache>, mut events: crate::bus::Subscription) {
    while let Some(delivery) = events.next().await {
        let Some(cache) = cache.upgrade() else { return };
        match delivery {
            Delivery::Message(payload) => match serde_json::from_slice::<Invalidation>(&payload) {
                Ok(message) => cache.apply(message),
                Err(e) => tracing::warn!(error = %e, "ignored a malformed cache invalidation"),
            },
            Delivery::Gap => cache.l1.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::memory::{MemoryBus, MemoryCache};
    use crate::clock::ManualClock;
    use crate::error::Error;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const TTL: Duration = Duration::from_secs(60);

    async fn pair() -> (Arc<TwoLevelCache>, Arc<TwoLevelCache>) {
        pair_on(ManualClock::default()).await
    }

    /// Two instances sharing an L2 and a bus, all reading `clock`.
    async fn pair_on(clock: ManualClock) -> (Arc<TwoLevelCache>, Arc<TwoLevelCache>) {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        let l2: Arc<dyn Cache> = Arc::new(MemoryCache::new(clock.clone(), 100));
        let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::default());
        let make = || TwoLevelCache::new(l2.clone(), bus.clone(), 100, TTL, clock.clone());
        (make().await.unwrap(), make().await.unwrap())
    }

    async fn eventually(check: impl AsyncFn() -> bool) -> bool {
        for _ in 0..200 {
            if check().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_write_on_one_instance_invalidates_the_others_l1() {
        let (a, b) = pair().await;
        a.set("user:1", b"v1".to_vec(), TTL).await.unwrap();
        assert_eq!(b.get("user:1").await.unwrap(), Some(b"v1".to_vec()));
        // Now in B's L1: a second read is an L1 hit.
        b.get("user:1").await.unwrap();
        let stats = b.stats().snapshot();
        assert_eq!(stats[0].0, "user");
        assert_eq!(stats[0].1.l1_hits, 1);
        a.set("user:1", b"v2".to_vec(), TTL).await.unwrap();
        assert!(
            eventually(async || b.get("user:1").await.unwrap() == Some(b"v2".to_vec())).await,
            "B reads the new value"
        );
        a.delete("user:1").await.unwrap();
        assert!(eventually(async || b.get("user:1").await.unwrap().is_none()).await);
        a.set("user:2", b"x".to_vec(), TTL).await.unwrap();
        b.get("user:2").await.unwrap();
        a.clear("user:*").await.unwrap();
        assert!(eventually(async || b.get("user:2").await.unwrap().is_none()).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stampede_runs_one_loader_per_key() {
        let (cache, _) = pair().await;
        let calls = Arc::new(AtomicUsize::new(0));
        let loads = (0..50).map(|_| {
            let (cache, calls) = (cache.clone(), calls.clone());
            tokio::spawn(async move {
                cache
                    .get_or_load(
                        "profile:7",
                        TTL,
                        Box::pin(async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(b"loaded".to_vec())
                        }),
                    )
                    .await
            })
        });
        for result in futures::future::join_all(loads).await {
            assert_eq!(&result.unwrap().unwrap()[..], b"loaded");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // And it was written through to L2 (with its expiry in front).
        let stored = cache.l2.get("profile:7").await.unwrap().unwrap();
        assert_eq!(unwrap_expiry(&stored, cache.now_ms()).unwrap().0, b"loaded");
    }

    #[tokio::test]
    async fn a_failed_load_is_reported_and_not_cached() {
        let (cache, _) = pair().await;
        let err = cache
            .get_or_load(
                "k:1",
                TTL,
                Box::pin(async { Err(Error::NotFound("thing")) }),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NotFound);
        let value = cache
            .get_or_load("k:1", TTL, Box::pin(async { Ok(b"now".to_vec()) }))
            .await
            .unwrap();
        assert_eq!(&value[..], b"now");
        // An L1 hit hands out the same buffer, not a copy.
        let again = cache
            .get_or_load("k:1", TTL, Box::pin(async { Ok(b"other".to_vec()) }))
            .await
            .unwrap();
        assert_eq!(again.as_ptr(), value.as_ptr());
    }

    #[tokio::test]
    async fn an_l2_entry_expires_by_the_injected_clock_on_every_instance() {
        // The L2 here never expires anything itself (its clock stays put): only the stamp
        // the two-level cache wrote, read against the clock, ends the entry.
        let clock = ManualClock::default();
        let l2: Arc<dyn Cache> = Arc::new(MemoryCache::new(Arc::new(ManualClock::default()), 10));
        let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::default());
        let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
        let make = || TwoLevelCache::new(l2.clone(), bus.clone(), 10, TTL, shared_clock.clone());
        let (writer, reader) = (make().await.unwrap(), make().await.unwrap());
        writer
            .set("user:9", b"v".to_vec(), Duration::from_secs(30))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(29));
        // Copied into the reader's L1 with the one second it has left.
        assert_eq!(reader.get("user:9").await.unwrap(), Some(b"v".to_vec()));
        clock.advance(Duration::from_secs(1));
        // A third instance, with a cold L1, finds the L2 copy expired by the clock.
        let cold = make().await.unwrap();
        assert_eq!(cold.get("user:9").await.unwrap(), None);
        let stored = l2
            .get("user:9")
            .await
            .unwrap()
            .expect("still in the L2 store");
        assert_eq!(unwrap_expiry(&stored, cold.now_ms()), None);
    }
}
