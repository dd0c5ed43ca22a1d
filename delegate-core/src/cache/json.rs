//! Typed reads through a [`Cache`]: values kept as JSON, loaded from their source on a miss,
//! read straight from the source while the cache is down, and (with a [`DecodedMemo`]) not
//! parsed again while their bytes stay the same.

use super::Cache;
use crate::error::{Error, ErrorKind, Result};
use crate::hashing::{BoundedMap, bounded_map};
use bytes::Bytes;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// The value cached under `key`, or what `fetch` loads (then cached for `ttl`; a failed
/// load is returned and not cached). When the cache is unavailable the value comes straight
/// from `fetch`, so an outage costs speed, not answers.
pub async fn cached_json<T>(
    cache: &dyn Cache,
    key: &str,
    ttl: Duration,
    fetch: impl Fn() -> BoxFuture<'static, Result<T>>,
) -> Result<T>
where
    T: Serialize + DeserializeOwned + Send + 'static,
{
    match cached_bytes(cache, key, ttl, &fetch).await? {
        Cached::Bytes(bytes) => serde_json::from_slice(&bytes).map_err(json_error),
        Cached::Fetched(value) => Ok(value),
    }
}

/// Like [`cached_json`], but decoded values are kept in `memo` beside the bytes they came
/// from: while the cached bytes stay the same, a read returns the value decoded before. A
/// change, an invalidation or an expiry gives other bytes, which are decoded afresh, so the
/// memo is never staler than the cache.
pub async fn cached_json_memo<T>(
    cache: &dyn Cache,
    memo: &DecodedMemo<T>,
    key: &str,
    ttl: Duration,
    fetch: impl Fn() -> BoxFuture<'static, Result<T>>,
) -> Result<Arc<T>>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let bytes = match cached_bytes(cache, key, ttl, &fetch).await? {
        Cached::Bytes(bytes) => bytes,
        Cached::Fetched(value) => return Ok(Arc::new(value)),
    };
    // The same buffer (the memo's clone keeps it from being freed and reused) is the same
    // value, without comparing it; other bytes are compared.
    if let Some((seen, value)) = memo.entries.get(key)
        && ((seen.as_ptr() == bytes.as_ptr() && seen.len() == bytes.len()) || seen == bytes)
    {
        return Ok(value);
    }
    let value = Arc::new(serde_json::from_slice::<T>(&bytes).map_err(json_error)?);
    memo.entries.insert(key.to_owned(), (bytes, value.clone()));
    Ok(value)
}

/// Values decoded from cached JSON, by key, each beside the bytes it was decoded from (see
/// [`cached_json_memo`]). Bounded; shared by clones of the service that owns it.
pub struct DecodedMemo<T> {
    entries: BoundedMap<String, (Bytes, Arc<T>)>,
}

impl<T: Send + Sync + 'static> DecodedMemo<T> {
    /// A memo of at most `capacity` values.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: bounded_map(capacity),
        }
    }
}

/// What a cached read found: the cached bytes, or (the cache being down) the value itself.
enum Cached<T> {
    Bytes(Bytes),
    Fetched(T),
}

/// The bytes under `key`, loaded with `fetch` on a miss; the fetched value itself when the
/// cache is unavailable.
async fn cached_bytes<T>(
    cache: &dyn Cache,
    key: &str,
    ttl: Duration,
    fetch: &impl Fn() -> BoxFuture<'static, Result<T>>,
) -> Result<Cached<T>>
where
    T: Serialize + Send + 'static,
{
    let value = fetch();
    let load: BoxFuture<'static, Result<Vec<u8>>> =
        Box::pin(async move { serde_json::to_vec(&value.await?).map_err(json_error) });
    match cache.get_or_load(key, ttl, load).await {
        Err(e) if e.kind() == ErrorKind::Unavailable => {
            tracing::warn!(error = %e.report(), key, "cache unavailable; reading the source");
            Ok(Cached::Fetched(fetch().await?))
        }
        other => Ok(Cached::Bytes(other?)),
    }
}

/// Stores `value` under `key` for `ttl` (a write-through after a change); a cache error is
/// logged, not returned: the next read loads the value again.
pub async fn store_json<T: Serialize>(cache: &dyn Cache, key: &str, value: &T, ttl: Duration) {
    let result = match serde_json::to_vec(value) {
        Ok(bytes) => cache.set(key, bytes, ttl).await,
        Err(e) => Err(json_error(e)),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e.report(), key, "could not cache a value");
    }
}

/// A value that does not convert to or from its cached JSON form.
fn json_error(e: serde_json::Error) -> Error {
    Error::internal("a cached value's JSON").with_source(e)
}
