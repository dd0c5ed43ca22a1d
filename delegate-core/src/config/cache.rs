//! Cache TTLs by namespace class and the in-process level's bounds.

use serde::{Deserialize, Serialize};

/// Cache TTLs by namespace class and the in-process level's bounds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct CacheConfig {
    /// Short TTL in seconds (`CACHE_TTL_SHORT`): volatile lists.
    pub ttl_short_secs: u64,
    /// Medium TTL in seconds (`CACHE_TTL_MEDIUM`): profiles.
    pub ttl_medium_secs: u64,
    /// Long TTL in seconds (`CACHE_TTL_LONG`): rarely changing data.
    pub ttl_long_secs: u64,
    /// Most entries in the in-process level (`DELEGATE_CACHE__L1_CAPACITY`).
    pub l1_capacity: u64,
    /// Longest an entry stays in the in-process level, in seconds; bounds staleness if an
    /// invalidation is lost (`DELEGATE_CACHE__L1_MAX_TTL_SECS`).
    pub l1_max_ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl_short_secs: 300,
            ttl_medium_secs: 1800,
            ttl_long_secs: 3600,
            l1_capacity: 100_000,
            l1_max_ttl_secs: 60,
        }
    }
}
