//! Typed reads through a [`Cache`]: values kept as JSON, loaded from their source on a miss,
//! and read straight from the source while the cache is down.

use super::Cache;
use crate::error::{Error, ErrorKind, Result};
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
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
    let load = || -> BoxFuture<'static, Result<Vec<u8>>> {
        let value = fetch();
        Box::pin(async move { serde_json::to_vec(&value.await?).map_err(json_error) })
    };
    let bytes = match cache.get_or_load(key, ttl, load()).await {
        Err(e) if e.kind() == ErrorKind::Unavailable => {
            tracing::warn!(error = %e.report(), key, "cache unavailable; reading the source");
            return fetch().await;
        }
        other => other?,
    };
    serde_json::from_slice(&bytes).map_err(json_error)
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
