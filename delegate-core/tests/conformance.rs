//! Runs every backend conformance suite against the memory and SQLite backends.

use delegate_core::backend::memory::{MemoryBus, MemoryCache, MemoryRateLimiter, MemoryStore};
use delegate_core::backend::sqlite::SqliteStore;
use delegate_core::bus::EventBus;
use delegate_core::cache::Cache;
use delegate_core::ratelimit::RateLimiter;
use delegate_core::testing::{CacheFixture, LimiterFixture, StoreFixture};
use delegate_core::{ManualClock, Stores};
use std::sync::Arc;

/// A fresh in-memory relational store.
async fn memory_stores() -> Stores {
    Stores::from_backend(Arc::new(MemoryStore::new()))
}

/// A fresh SQLite database in its own temporary directory, removed when the test ends.
async fn sqlite_stores() -> StoreFixture {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("conformance.db").display());
    let store = SqliteStore::connect(&url)
        .await
        .expect("open and migrate SQLite");
    StoreFixture::new(Stores::from_backend(Arc::new(store))).with_guard(dir)
}

/// A fresh in-memory cache on its own manual clock.
async fn memory_cache() -> CacheFixture {
    let clock = ManualClock::default();
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(Arc::new(clock.clone()), 1_000));
    CacheFixture::new(cache, clock)
}

/// A fresh in-memory rate limiter on its own manual clock.
async fn memory_limiter() -> LimiterFixture {
    let clock = ManualClock::default();
    let limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(Arc::new(clock.clone())));
    LimiterFixture::new(limiter, clock)
}

/// A fresh in-process bus.
async fn memory_bus() -> Arc<dyn EventBus> {
    Arc::new(MemoryBus::default())
}

mod stores {
    use super::*;

    delegate_core::store_conformance!(memory, memory_stores());
    delegate_core::store_conformance!(sqlite, sqlite_stores());
}

mod cache {
    use super::*;

    delegate_core::cache_conformance!(memory, memory_cache());
}

mod ratelimit {
    use super::*;

    delegate_core::limiter_conformance!(memory, memory_limiter());
}

mod bus {
    use super::*;

    delegate_core::bus_conformance!(memory, memory_bus());
}
