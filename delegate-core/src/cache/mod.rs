//! Caching: the `Cache` backend trait, the glob patterns used to clear it, namespaces, the
//! key builders, invalidation, and the two-level cache.

mod json;
pub mod keys;
pub mod stats;
mod two_level;

pub use json::{DecodedMemo, cached_json, cached_json_memo, store_json};
pub use two_level::{CACHE_TOPIC, TwoLevelCache};

use crate::error::Result;
use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use std::time::Duration;

/// A key-value cache with per-entry TTL. Values are opaque bytes.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()>;
    /// Removes `key`; true if it was present.
    async fn delete(&self, key: &str) -> Result<bool>;
    /// Removes every key matching `pattern` (`*` matches any run of characters); returns how
    /// many were removed.
    async fn clear(&self, pattern: &str) -> Result<u64>;

    /// The value under `key`, or what `load` produces, stored for `ttl`. A failed load is
    /// returned and not cached. Implementations may guarantee one load per key under
    /// concurrent misses ([`TwoLevelCache`] does), and may hand out the same shared buffer
    /// while a value is unchanged ([`TwoLevelCache`] does, from its L1).
    async fn get_or_load(
        &self,
        key: &str,
        ttl: Duration,
        load: BoxFuture<'_, Result<Vec<u8>>>,
    ) -> Result<Bytes> {
        if let Some(value) = self.get(key).await? {
            return Ok(value.into());
        }
        let value = load.await?;
        self.set(key, value.clone(), ttl).await?;
        Ok(value.into())
    }
}

/// Drops `keys` (from every instance's L1, for a two-level cache), all at once. A cache
/// error is logged, not returned: after a change the store is right, and an entry that
/// could not be dropped ends with its TTL.
pub async fn forget(cache: &dyn Cache, keys: &[String]) {
    let results = futures::future::join_all(keys.iter().map(|key| cache.delete(key))).await;
    for (key, result) in keys.iter().zip(results) {
        if let Err(e) = result {
            tracing::warn!(error = %e.report(), key, "could not drop a cached entry");
        }
    }
}

/// The namespace of a key: its text before the first `:` (`user` for `user:42`).
pub fn namespace(key: &str) -> &str {
    key.split_once(':').map_or(key, |(ns, _)| ns)
}

/// Whether `key` matches the glob `pattern`, where `*` matches any run of characters.
pub fn glob_match(pattern: &str, key: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = key.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_prefixes_suffixes_and_middles() {
        assert!(glob_match("user:*", "user:42"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*c*e", "abcde"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(!glob_match("user:*", "session:1"));
        assert!(!glob_match("a*b*b", "ab"));
        assert!(glob_match("*:1", "session:1"));
    }
}
