//! The Redis backend (feature `redis`): cache, sliding-window rate limiter and event bus over
//! one self-healing connection to a single server or to a Redis Cluster.
//!
//! * `redis://…` / `rediss://…` use a [`ConnectionManager`]: one multiplexed connection that
//!   reconnects by itself after a drop (a Redis restart).
//! * `redis+cluster://host:port,host:port,…` uses the async cluster client built from the
//!   comma-separated seed nodes; it follows MOVED/ASK and refreshes the slot map by itself.
//!
//! Connections time out quickly (connect 500 ms, response 1 s), so a stopped Redis fails fast
//! with [`Error::Unavailable`] (`what: "redis"`, retry after 1 s) instead of hanging; every
//! Redis error maps to it. Keys and channels are the configured prefix followed by the names in
//! API.md (`rate_limit:{identifier}`, `bus:{topic}`, and the cache keys the callers choose).

mod bus;
mod cache;
mod event_log;
mod ratelimit;

pub use bus::RedisBus;
pub use cache::RedisCache;
pub use event_log::RedisEventLog;
pub use ratelimit::{RedisRateLimiter, RedisWindow};

use crate::clock::Clock;
use crate::error::{Error, Result};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, RedisError, RedisFuture, Value};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long one attempt to open a connection may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_millis(500);
/// How long one command may wait for its reply.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// The retry hint carried by [`Error::Unavailable`] when Redis fails.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The command connection shared by the cache, the limiter and the bus's publisher: cheap to
/// clone (every clone multiplexes over the same sockets) and self-healing.
#[derive(Clone)]
pub(crate) enum Connection {
    /// One server, behind a reconnecting manager.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(conn) => conn.get_db(),
            Connection::Cluster(conn) => conn.get_db(),
        }
    }
}

/// A connected Redis (or Redis Cluster) that hands out the cache, the rate limiter and the
/// event bus, all sharing one command connection and one key prefix.
pub struct RedisBackend {
    conn: Connection,
    prefix: Arc<str>,
    clock: Arc<dyn Clock>,
    /// The nodes a pub/sub connection may use, tried in turn (one for a single server).
    pubsub_nodes: Arc<[redis::Client]>,
    bus: OnceLock<RedisBus>,
}

impl RedisBackend {
    /// Connects to `url` (`redis://…`, `rediss://…`, or `redis+cluster://h1:p1,h2:p2,…`, where
    /// credentials given before the first host apply to every node). Every key and channel
    /// starts with `prefix`; the limiter's windows are timed by `clock`.
    ///
    /// Fails with [`Error::Invalid`] for a malformed URL and [`Error::Unavailable`] when Redis
    /// does not answer.
    pub async fn connect(url: &str, prefix: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let (conn, pubsub_nodes) = match url.strip_prefix("redis+cluster://") {
            Some(rest) => {
                let nodes = cluster_node_urls(rest)?;
                let clients = nodes
                    .iter()
                    .map(|node| redis::Client::open(node.as_str()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(invalid_url)?;
                let client = ClusterClientBuilder::new(nodes)
                    .connection_timeout(CONNECTION_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(3)
                    .min_retry_wait(10)
                    .max_retry_wait(200)
                    .build()
                    .map_err(invalid_url)?;
                let conn = client.get_async_connection().await.map_err(unavailable)?;
                (Connection::Cluster(conn), clients)
            }
            None => {
                let client = redis::Client::open(url).map_err(invalid_url)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECTION_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                let conn = ConnectionManager::new_with_config(client.clone(), config)
                    .await
                    .map_err(unavailable)?;
                (Connection::Single(conn), vec![client])
            }
        };
        Ok(Self {
            conn,
            prefix: prefix.into(),
            clock,
            pubsub_nodes: pubsub_nodes.into(),
            bus: OnceLock::new(),
        })
    }

    /// The cache: keys are `prefix` + the caller's key.
    pub fn cache(&self) -> RedisCache {
        RedisCache::new(self.conn.clone(), self.prefix.clone())
    }

    /// The sliding-window rate limiter: one sorted set `prefix` + `rate_limit:{identifier}`
    /// per identifier, leased in batches (each call makes a limiter with its own leases).
    pub fn limiter(&self) -> RedisRateLimiter {
        RedisWindow::limiter(self.conn.clone(), self.prefix.clone(), self.clock.clone())
    }

    /// The realtime event logs: a counter and a sorted set per log, under `prefix`.
    pub fn event_log(&self) -> RedisEventLog {
        RedisEventLog::new(self.conn.clone(), self.prefix.clone())
    }

    /// The event bus on channels `prefix` + `bus:{topic}`. Every call returns a handle on the
    /// same bus (one pub/sub connection per backend, opened on the first subscription).
    pub fn bus(&self) -> RedisBus {
        self.bus
            .get_or_init(|| {
                RedisBus::new(
                    self.conn.clone(),
                    self.pubsub_nodes.clone(),
                    self.prefix.clone(),
                )
            })
            .clone()
    }

    /// Checks that Redis answers (every master, in cluster mode).
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(unavailable)
    }
}

/// The node URLs of `redis+cluster://[user:pass@]h1:p1,h2:p2[/…][?…]` (given without its
/// scheme): `redis://[user:pass@]hN:pN` each.
fn cluster_node_urls(rest: &str) -> Result<Vec<String>> {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
        None => (String::new(), authority),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| format!("redis://{userinfo}{host}"))
        .collect();
    if nodes.is_empty() {
        return Err(Error::invalid(
            "redis_url",
            "redis+cluster:// needs at least one host:port",
        ));
    }
    Ok(nodes)
}

/// The error for a Redis failure at run time: Redis is unavailable, retry in a second.
pub(crate) fn unavailable(err: RedisError) -> Error {
    tracing::warn!(error = %err, "redis request failed");
    Error::unavailable("redis", RETRY_AFTER)
}

#[async_trait::async_trait]
impl crate::health::Probe for RedisBackend {
    fn kind(&self) -> &'static str {
        match self.conn {
            Connection::Single(_) => "redis",
            Connection::Cluster(_) => "redis-cluster",
        }
    }

    async fn ping(&self) -> Result<()> {
        RedisBackend::ping(self).await
    }
}

fn invalid_url(err: RedisError) -> Error {
    Error::invalid("redis_url", format!("invalid Redis URL: {err}"))
}

#[cfg(test)]
mod tests {
    use super::cluster_node_urls;

    #[test]
    fn cluster_urls_split_into_node_urls_sharing_credentials() {
        assert_eq!(
            cluster_node_urls("127.0.0.1:7001, 127.0.0.1:7002,127.0.0.1:7003").unwrap(),
            [
                "redis://127.0.0.1:7001",
                "redis://127.0.0.1:7002",
                "redis://127.0.0.1:7003"
            ]
        );
        assert_eq!(
            cluster_node_urls("user:secret@a:1,b:2/0?x=y").unwrap(),
            ["redis://user:secret@a:1", "redis://user:secret@b:2"]
        );
        assert!(cluster_node_urls("").is_err());
        assert!(cluster_node_urls(",/").is_err());
    }
}
