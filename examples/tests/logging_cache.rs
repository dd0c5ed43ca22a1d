//! The custom cache of the examples passes the cache conformance suite, like every built-in
//! cache does.

use delegate_core::ManualClock;
use delegate_core::cache::Cache;
use delegate_examples::logging_cache::LoggingCache;
use std::sync::Arc;

/// A fresh cache and the manual clock its expiry reads.
async fn logging_cache() -> (Arc<dyn Cache>, ManualClock) {
    let clock = ManualClock::default();
    (Arc::new(LoggingCache::new(Arc::new(clock.clone()))), clock)
}

mod cache {
    use super::*;

    delegate_core::cache_conformance!(logging_cache, logging_cache());
}
