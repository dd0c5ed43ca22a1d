//! The Redis `Cache`: GET, SET PX and DEL on `prefix` + key, `clear` by SCAN + UNLINK on
//! every master, and sizes per namespace by SCAN + MEMORY USAGE (bounded).

use super::{Connection, unavailable};
use crate::cache::stats::{CacheSizes, Sizes};
use crate::cache::{Cache, namespace};
use crate::error::Result;
use async_trait::async_trait;
use futures::StreamExt;
use futures::future::try_join_all;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Pipeline, RedisResult, Value};
use std::sync::Arc;
use std::time::Duration;

/// How many keys one SCAN step asks for (a hint to Redis, not a bound).
const SCAN_COUNT: usize = 500;
/// The longest TTL passed to Redis (about 100 years); longer ones are clamped.
const MAX_TTL_MS: u128 = 100 * 365 * 24 * 3600 * 1000;

/// A cache in Redis (or Redis Cluster), shared by every instance. Expiry is Redis's own
/// (server time, millisecond precision); values are opaque bytes.
#[derive(Clone)]
pub struct RedisCache {
    conn: Connection,
    prefix: Arc<str>,
}

impl RedisCache {
    pub(crate) fn new(conn: Connection, prefix: Arc<str>) -> Self {
        Self { conn, prefix }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<()> {
        // Rounded up, so a sub-millisecond TTL still stores; a zero TTL stores nothing, and
        // (like any set) drops the previous value.
        let millis = ttl.as_nanos().div_ceil(1_000_000).min(MAX_TTL_MS);
        let mut cmd = if millis == 0 {
            redis::cmd("DEL")
        } else {
            redis::cmd("SET")
        };
        cmd.arg(self.key(key));
        if millis > 0 {
            cmd.arg(value).arg("PX").arg(millis as u64);
        }
        cmd.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<u64>(&mut self.conn.clone())
            .await
            .map(|removed| removed > 0)
            .map_err(unavailable)
    }

    async fn clear(&self, pattern: &str) -> Result<u64> {
        let glob = scan_pattern(&self.prefix, pattern);
        match &self.conn {
            Connection::Single(_) => clear_single(self.conn.clone(), &glob).await,
            Connection::Cluster(conn) => clear_cluster(conn.clone(), &glob).await,
        }
        .map_err(unavailable)
    }
}

/// The SCAN MATCH pattern for `prefix` + `pattern`: `*` in `pattern` stays a wildcard, every
/// other Redis glob special (`?`, `[`, `]`, `\`, and `*` in the prefix) is escaped.
fn scan_pattern(prefix: &str, pattern: &str) -> String {
    fn literal(text: &str, out: &mut String) {
        for c in text.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    let mut out = String::with_capacity(prefix.len() + pattern.len() + 8);
    literal(prefix, &mut out);
    for (i, part) in pattern.split('*').enumerate() {
        if i > 0 {
            out.push('*');
        }
        literal(part, &mut out);
    }
    out
}

fn scan(cursor: u64, glob: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(glob)
        .arg("COUNT")
        .arg(SCAN_COUNT);
    cmd
}

/// One round trip of a clear: unlink the keys found by the last SCAN and, unless the scan is
/// complete (`cursor` 0), fetch the next batch. With `per_key`, every key gets its own UNLINK
/// (in a cluster, the keys of one node may live in different slots).
fn clear_step(keys: &[Vec<u8>], cursor: u64, glob: &str, per_key: bool) -> Pipeline {
    let mut pipe = redis::pipe();
    if per_key {
        for key in keys {
            pipe.cmd("UNLINK").arg(key);
        }
    } else if !keys.is_empty() {
        pipe.cmd("UNLINK").arg(keys);
    }
    if cursor != 0 {
        pipe.add_command(scan(cursor, glob));
    }
    pipe
}

/// The replies of a [`clear_step`]: how many keys were removed, and the next SCAN batch (if
/// one was asked for).
type StepReply = (u64, Option<(u64, Vec<Vec<u8>>)>);

fn parse_step(replies: Vec<Value>, scanned: bool) -> RedisResult<StepReply> {
    let mut replies = replies
        .into_iter()
        .map(Value::extract_error)
        .collect::<RedisResult<Vec<_>>>()?;
    let next = if scanned {
        let reply = replies.pop().unwrap_or(Value::Nil);
        Some(redis::from_redis_value(reply)?)
    } else {
        None
    };
    let mut removed = 0;
    for reply in replies {
        removed += redis::from_redis_value::<u64>(reply)?;
    }
    Ok((removed, next))
}

/// Clears on one server: SCAN, then UNLINK each batch pipelined with the next SCAN.
async fn clear_single(mut conn: Connection, glob: &str) -> RedisResult<u64> {
    let (mut cursor, mut keys): (u64, Vec<Vec<u8>>) = scan(0, glob).query_async(&mut conn).await?;
    let mut removed = 0;
    while cursor != 0 || !keys.is_empty() {
        let pipe = clear_step(&keys, cursor, glob, false);
        let replies: Vec<Value> = pipe.query_async(&mut conn).await?;
        let (count, next) = parse_step(replies, cursor != 0)?;
        removed += count;
        (cursor, keys) = next.unwrap_or_default();
    }
    Ok(removed)
}

/// Clears on every master of a cluster: the first SCAN goes to all masters at once (the
/// cluster client answers with a map from node address to reply); each node's scan then
/// continues on that node by address, its batches unlinked there.
async fn clear_cluster(mut conn: ClusterConnection, glob: &str) -> RedisResult<u64> {
    let first = conn
        .route_command(
            scan(0, glob),
            RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
        )
        .await?;
    let Value::Map(per_node) = first else {
        return Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "unexpected reply to SCAN on all masters",
        )));
    };
    let nodes = per_node.into_iter().map(|(address, reply)| {
        let mut conn = conn.clone();
        async move {
            let route = node_route(address)?;
            let (mut cursor, mut keys): (u64, Vec<Vec<u8>>) =
                redis::from_redis_value(reply.extract_error()?)?;
            let mut removed = 0;
            while cursor != 0 || !keys.is_empty() {
                let pipe = clear_step(&keys, cursor, glob, true);
                let count = pipe.len();
                let replies = conn.route_pipeline(pipe, 0, count, route.clone()).await?;
                let (unlinked, next) = parse_step(replies, cursor != 0)?;
                removed += unlinked;
                (cursor, keys) = next.unwrap_or_default();
            }
            Ok::<u64, redis::RedisError>(removed)
        }
    });
    Ok(try_join_all(nodes).await?.into_iter().sum())
}

/// The route to the node a multi-node reply named (`host:port`).
fn node_route(address: Value) -> RedisResult<SingleNodeRoutingInfo> {
    let address: String = redis::from_redis_value(address)?;
    let (host, port) = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
        .ok_or_else(|| {
            redis::RedisError::from((
                redis::ErrorKind::Client,
                "unexpected node address",
                address.clone(),
            ))
        })?;
    Ok(SingleNodeRoutingInfo::ByAddress { host, port })
}

/// Most keys measured by one stats call: past it the report says it was truncated.
const MAX_MEASURED_KEYS: usize = 20_000;

#[async_trait]
impl CacheSizes for RedisCache {
    async fn sizes(&self) -> Result<(Sizes, bool)> {
        let glob = scan_pattern(&self.prefix, "*");
        let (keys, truncated) = match &self.conn {
            Connection::Single(_) => scan_single(self.conn.clone(), &glob).await,
            Connection::Cluster(conn) => scan_cluster(conn.clone(), &glob).await,
        }
        .map_err(unavailable)?;
        let measured = futures::stream::iter(keys)
            .map(|key| {
                let mut conn = self.conn.clone();
                async move {
                    let bytes: Option<u64> = redis::cmd("MEMORY")
                        .arg("USAGE")
                        .arg(&key)
                        .query_async(&mut conn)
                        .await?;
                    Ok::<_, redis::RedisError>((key, bytes))
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await;
        let mut sizes = Sizes::new();
        for result in measured {
            let (key, bytes) = result.map_err(unavailable)?;
            // A key that expired between SCAN and MEMORY USAGE answers nil: not counted.
            let Some(bytes) = bytes else { continue };
            let key = String::from_utf8_lossy(&key);
            let key = key.strip_prefix(&*self.prefix).unwrap_or(&key);
            let (entries, total) = sizes.entry(namespace(key).to_owned()).or_default();
            *entries += 1;
            *total = Some(total.unwrap_or(0) + bytes);
        }
        Ok((sizes, truncated))
    }
}

/// Up to [`MAX_MEASURED_KEYS`] keys matching `glob` on one server, and whether it stopped early.
async fn scan_single(mut conn: Connection, glob: &str) -> RedisResult<(Vec<Vec<u8>>, bool)> {
    let mut found = Vec::new();
    let mut cursor = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = scan(cursor, glob).query_async(&mut conn).await?;
        found.extend(keys);
        if found.len() >= MAX_MEASURED_KEYS {
            found.truncate(MAX_MEASURED_KEYS);
            return Ok((found, next != 0));
        }
        if next == 0 {
            return Ok((found, false));
        }
        cursor = next;
    }
}

/// Up to [`MAX_MEASURED_KEYS`] keys matching `glob` on every master of a cluster.
async fn scan_cluster(
    mut conn: ClusterConnection,
    glob: &str,
) -> RedisResult<(Vec<Vec<u8>>, bool)> {
    let first = conn
        .route_command(
            scan(0, glob),
            RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
        )
        .await?;
    let Value::Map(per_node) = first else {
        return Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "unexpected reply to SCAN on all masters",
        )));
    };
    let mut found = Vec::new();
    for (address, reply) in per_node {
        let route = RoutingInfo::SingleNode(node_route(address)?);
        let (mut cursor, keys): (u64, Vec<Vec<u8>>) =
            redis::from_redis_value(reply.extract_error()?)?;
        found.extend(keys);
        while cursor != 0 && found.len() < MAX_MEASURED_KEYS {
            let reply = conn
                .route_command(scan(cursor, glob), route.clone())
                .await?;
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::from_redis_value(reply)?;
            found.extend(keys);
            cursor = next;
        }
        if found.len() >= MAX_MEASURED_KEYS {
            found.truncate(MAX_MEASURED_KEYS);
            return Ok((found, true));
        }
    }
    Ok((found, false))
}

#[cfg(test)]
mod tests {
    use super::scan_pattern;

    #[test]
    fn only_the_callers_stars_stay_wildcards() {
        assert_eq!(scan_pattern("app:", "user:*"), "app:user:*");
        assert_eq!(scan_pattern("a*b?", "*x"), "a\\*b\\?*x");
        assert_eq!(
            scan_pattern("", "[a-z]?\\*end"),
            "\\[a-z\\]\\?\\\\*end".to_owned()
        );
        assert_eq!(scan_pattern("p:", "exact"), "p:exact");
    }
}
