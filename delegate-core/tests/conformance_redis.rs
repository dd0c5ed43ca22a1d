//! Runs the cache, rate-limiter and bus conformance suites against Redis and a Redis Cluster,
//! plus what only a shared server shows: instances sharing state, every master cleared, and
//! surviving a Redis that hangs, dies and comes back.
//!
//! Needs `DELEGATE_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`) and
//! `DELEGATE_TEST_REDIS_CLUSTER_URL` (e.g.
//! `redis+cluster://127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003`, started by
//! `scripts/redis-cluster start`); a test fails when its variable is unset. The restart tests
//! run a private `redis-server` on a Unix socket. Every test works under its own random key
//! prefix and removes its keys when it ends.
#![cfg(feature = "redis")]

use delegate_core::backend::redis::RedisBackend;
use delegate_core::bus::{Delivery, EventBus, Subscription};
use delegate_core::cache::Cache;
use delegate_core::config::CacheConfig;
use delegate_core::ratelimit::RateLimiter;
use delegate_core::testing::{BusFixture, CacheFixture, LimiterFixture};
use delegate_core::{Clock, ErrorKind, ManualClock, Shared, SystemClock};
use futures::StreamExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The variable naming the single Redis server.
const SINGLE: &str = "DELEGATE_TEST_REDIS_URL";
/// The variable naming the Redis Cluster.
const CLUSTER: &str = "DELEGATE_TEST_REDIS_CLUSTER_URL";

/// The URL in `var`; panics (fails the test) when it is unset.
fn url(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{var} is not set. The Redis conformance tests need a single Redis \
             ({SINGLE}=redis://127.0.0.1:6379) and a 3-master cluster \
             ({CLUSTER}=redis+cluster://127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003, \
             started by `scripts/redis-cluster start`)."
        ),
    }
}

/// A key prefix no other test uses.
fn fresh_prefix() -> String {
    format!("delegate-test:{}:", uuid::Uuid::new_v4().simple())
}

/// Removes every key under `prefix` when dropped (the test passed or panicked).
struct Cleanup {
    url: String,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        // A runtime of its own: this may run while a test's runtime is unwinding.
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let backend = RedisBackend::connect(&url, &prefix, Arc::new(SystemClock))
                    .await
                    .map_err(|e| e.to_string())?;
                backend.cache().clear("*").await.map_err(|e| e.to_string())
            })
        })
        .join();
        if !matches!(outcome, Ok(Ok(_))) {
            eprintln!(
                "warning: could not remove the test keys under {}: {outcome:?}",
                self.prefix
            );
        }
    }
}

/// The services at the URL in `var` under a fresh prefix, timed by `clock`.
async fn shared(var: &str, clock: Arc<dyn Clock>) -> (Shared, Cleanup) {
    let url = url(var);
    let prefix = fresh_prefix();
    let shared = Shared::connect(&url, &prefix, &CacheConfig::default(), clock)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {var}={url}: {e}"));
    (shared, Cleanup { url, prefix })
}

/// A second, independent connection (another instance) to the same services and prefix.
async fn instance(cleanup: &Cleanup, clock: Arc<dyn Clock>) -> RedisBackend {
    RedisBackend::connect(&cleanup.url, &cleanup.prefix, clock)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", cleanup.url))
}

/// The cache as deployed: the two-level cache (in-process L1) over Redis. On the system
/// clock: Redis ends keys by its own clock, and L1 entries end by the cache's.
async fn redis_cache(var: &str) -> CacheFixture {
    let (shared, cleanup) = shared(var, Arc::new(SystemClock)).await;
    CacheFixture::real_time(shared.cache).with_guard(cleanup)
}

/// The Redis cache alone (the L2 level).
async fn redis_l2_cache(var: &str) -> CacheFixture {
    let (_, cleanup) = shared(var, Arc::new(ManualClock::default())).await;
    let l2: Arc<dyn Cache> = Arc::new(instance(&cleanup, Arc::new(SystemClock)).await.cache());
    CacheFixture::real_time(l2).with_guard(cleanup)
}

async fn redis_limiter(var: &str) -> LimiterFixture {
    let clock = ManualClock::default();
    let (shared, cleanup) = shared(var, Arc::new(clock.clone())).await;
    LimiterFixture::new(shared.limiter, clock).with_guard(cleanup)
}

async fn redis_bus(var: &str) -> BusFixture {
    let (shared, cleanup) = shared(var, Arc::new(ManualClock::default())).await;
    BusFixture::new(shared.bus).with_guard(cleanup)
}

mod cache {
    use super::*;

    delegate_core::cache_conformance!(redis, redis_cache(SINGLE));
    delegate_core::cache_conformance!(redis_cluster, redis_cache(CLUSTER));
    delegate_core::cache_conformance!(redis_l2, redis_l2_cache(SINGLE));
    delegate_core::cache_conformance!(redis_cluster_l2, redis_l2_cache(CLUSTER));
}

mod ratelimit {
    use super::*;

    delegate_core::limiter_conformance!(redis, redis_limiter(SINGLE));
    delegate_core::limiter_conformance!(redis_cluster, redis_limiter(CLUSTER));
}

mod bus {
    use super::*;

    delegate_core::bus_conformance!(redis, redis_bus(SINGLE));
    delegate_core::bus_conformance!(redis_cluster, redis_bus(CLUSTER));
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

async fn next_within(sub: &mut Subscription, wait: Duration) -> Option<Delivery> {
    tokio::time::timeout(wait, sub.next()).await.ok().flatten()
}

fn message(payload: &[u8]) -> Option<Delivery> {
    Some(Delivery::Message(payload.to_vec()))
}

/// Two instances (separate connections) over one Redis count one window: of 30 concurrent
/// checks spread over both, exactly the limit is admitted.
async fn limiters_share_one_window(var: &str) {
    let clock = ManualClock::default();
    let (shared, cleanup) = shared(var, Arc::new(clock.clone())).await;
    let other: Arc<dyn RateLimiter> =
        Arc::new(instance(&cleanup, Arc::new(clock.clone())).await.limiter());
    let limiters = [shared.limiter.clone(), other.clone()];
    let checks = (0..30).map(|i| {
        let limiter = limiters[i % 2].clone();
        tokio::spawn(async move { limiter.check("user:shared", 7, MINUTE).await })
    });
    let admitted = futures::future::join_all(checks)
        .await
        .into_iter()
        .map(|joined| joined.expect("check task").expect("check"))
        .filter(|decision| decision.allowed)
        .count();
    assert_eq!(admitted, 7);
    for limiter in &limiters {
        let refused = limiter.check("user:shared", 7, MINUTE).await.unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, MINUTE);
    }
    clock.advance(MINUTE);
    assert!(other.check("user:shared", 7, MINUTE).await.unwrap().allowed);
    assert_eq!(
        shared
            .limiter
            .check("user:shared", 7, MINUTE)
            .await
            .unwrap()
            .remaining,
        5
    );
}

/// Three instances leasing permits from one Redis window keep its bound under concurrent
/// bursts (the shared suite case, with a limit high enough for batches).
async fn leasing_instances_keep_one_bound(var: &str) {
    let clock = ManualClock::default();
    let (shared, cleanup) = shared(var, Arc::new(clock.clone())).await;
    let mut instances = vec![shared.limiter.clone()];
    for _ in 0..2 {
        let other = instance(&cleanup, Arc::new(clock.clone())).await;
        instances.push(Arc::new(other.limiter()));
    }
    delegate_core::testing::ratelimit::instances_keep_one_bound_under_bursts(instances, clock)
        .await;
}

/// What one instance caches, another reads; what one clears is gone for both (the other's
/// in-process level learns it over the bus).
async fn caches_share_entries(var: &str) {
    let (shared, cleanup) = shared(var, Arc::new(ManualClock::default())).await;
    let other = Shared::connect(
        &cleanup.url,
        &cleanup.prefix,
        &CacheConfig::default(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap()
    .cache;
    shared
        .cache
        .set("user:1", b"profile".to_vec(), HOUR)
        .await
        .unwrap();
    assert_eq!(
        other.get("user:1").await.unwrap(),
        Some(b"profile".to_vec())
    );
    assert_eq!(other.clear("user:*").await.unwrap(), 1);
    let mut gone = false;
    for _ in 0..200 {
        if shared.cache.get("user:1").await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the clear reached the first instance's L1");
}

/// A payload published by one instance reaches subscribers on another, on every topic (in a
/// cluster, whichever node owns the topic's slot and whichever node each side talks to).
async fn bus_crosses_instances(var: &str, reordered_url: Option<String>) {
    let (shared, mut cleanup) = shared(var, Arc::new(ManualClock::default())).await;
    if let Some(url) = reordered_url {
        cleanup.url = url;
    }
    let other = instance(&cleanup, Arc::new(SystemClock)).await.bus();
    let topics: Vec<String> = (0..8)
        .map(|i| format!("cross:{i}:{}", uuid::Uuid::new_v4()))
        .collect();
    let mut here = Vec::new();
    let mut there = Vec::new();
    for topic in &topics {
        here.push(shared.bus.subscribe(topic).await.unwrap());
        there.push(other.subscribe(topic).await.unwrap());
    }
    for (i, topic) in topics.iter().enumerate() {
        other.publish(topic, vec![i as u8; 3]).await.unwrap();
        shared.bus.publish(topic, vec![i as u8; 5]).await.unwrap();
    }
    for (i, (a, b)) in here.iter_mut().zip(there.iter_mut()).enumerate() {
        for sub in [a, b] {
            let wait = Duration::from_secs(5);
            assert_eq!(next_within(sub, wait).await, message(&[i as u8; 3]));
            assert_eq!(next_within(sub, wait).await, message(&[i as u8; 5]));
        }
    }
}

mod shared_state {
    use super::*;

    mod redis {
        use super::*;

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn limiters_share_one_window() {
            super::limiters_share_one_window(SINGLE).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn leasing_instances_keep_one_bound() {
            super::leasing_instances_keep_one_bound(SINGLE).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn caches_share_entries() {
            super::caches_share_entries(SINGLE).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn bus_crosses_instances() {
            super::bus_crosses_instances(SINGLE, None).await;
        }
    }

    mod redis_cluster {
        use super::*;

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn limiters_share_one_window() {
            super::limiters_share_one_window(CLUSTER).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn leasing_instances_keep_one_bound() {
            super::leasing_instances_keep_one_bound(CLUSTER).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn caches_share_entries() {
            super::caches_share_entries(CLUSTER).await;
        }

        /// The second instance lists the seed nodes in reverse, so its pub/sub connection
        /// lands on another node than the first instance's.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn bus_crosses_instances() {
            let url = url(CLUSTER);
            let nodes: Vec<&str> = url
                .strip_prefix("redis+cluster://")
                .expect("a redis+cluster:// URL")
                .split(',')
                .rev()
                .collect();
            let reversed = format!("redis+cluster://{}", nodes.join(","));
            super::bus_crosses_instances(CLUSTER, Some(reversed)).await;
        }

        /// `clear` reaches the keys on every master, not just one node's.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn clear_reaches_every_master() {
            let (shared, cleanup) = shared(CLUSTER, Arc::new(ManualClock::default())).await;
            for i in 0..300 {
                shared
                    .cache
                    .set(&format!("spread:{i}"), b"x".to_vec(), HOUR)
                    .await
                    .unwrap();
            }
            shared.cache.set("kept", b"x".to_vec(), HOUR).await.unwrap();
            let before = keys_per_node(&cleanup).await;
            assert_eq!(before.len(), 3, "{before:?}");
            assert!(before.iter().all(|&n| n > 0), "{before:?}");
            assert_eq!(before.iter().sum::<usize>(), 301);

            assert_eq!(shared.cache.clear("spread:*").await.unwrap(), 300);
            assert_eq!(keys_per_node(&cleanup).await.iter().sum::<usize>(), 1);
            assert!(shared.cache.get("kept").await.unwrap().is_some());
        }

        /// How many keys under the test's prefix each seed node holds.
        async fn keys_per_node(cleanup: &Cleanup) -> Vec<usize> {
            let nodes = cleanup
                .url
                .strip_prefix("redis+cluster://")
                .expect("a redis+cluster:// URL")
                .split(',');
            let mut counts = Vec::new();
            for node in nodes {
                let client = ::redis::Client::open(format!("redis://{node}")).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                let mut cursor = 0u64;
                let mut count = 0;
                loop {
                    let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(format!("{}*", cleanup.prefix))
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    count += keys.len();
                    cursor = next;
                    if cursor == 0 {
                        break;
                    }
                }
                counts.push(count);
            }
            counts
        }
    }
}

/// A `redis-server` of this test's own, on a Unix socket in a temporary directory, that the
/// test can freeze, kill and restart without touching any shared server.
struct PrivateRedis {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start() -> Self {
        let mut redis = Self {
            dir: tempfile::tempdir().expect("temporary directory"),
            child: None,
        };
        redis.restart();
        redis
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Starts the server (again) and waits until it answers.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", "0", "--unixsocket"])
            .arg(self.socket())
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be on PATH for the restart tests");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = ::redis::Client::open(self.url()).unwrap();
        while client
            .get_connection_with_timeout(Duration::from_millis(200))
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "private redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to this test's server process.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("server running").id();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Kills the server abruptly (a crash).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal("CONT");
        }
        self.kill();
    }
}

/// Asserts that `result` is the fast "Redis is unavailable" error.
fn assert_unavailable<T: std::fmt::Debug>(
    result: delegate_core::Result<T>,
    started: Instant,
    what: &str,
) {
    match result {
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::Unavailable, "{what}: {err:?}");
            assert_eq!(err.retry_after(), Some(Duration::from_secs(1)), "{what}");
        }
        Ok(value) => panic!("{what} succeeded against a stopped Redis: {value:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(2_500),
        "{what} took {waited:?} to fail"
    );
}

/// Polls `attempt` until it succeeds or `within` has passed.
async fn eventually<T, F, Fut>(within: Duration, what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = delegate_core::Result<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("{what} did not recover within {within:?}: {err:?}"),
        }
    }
}

/// A Redis that hangs or dies makes every operation fail fast with `Unavailable`; when it
/// comes back, the same backend recovers by itself and existing subscriptions receive again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_redis_hangs_and_restarts() {
    let mut server = PrivateRedis::start();
    let clock = ManualClock::default();
    let backend = RedisBackend::connect(&server.url(), "restart:", Arc::new(clock.clone()))
        .await
        .expect("connect to the private server");
    let (cache, limiter, bus) = (backend.cache(), backend.limiter(), backend.bus());
    backend.ping().await.unwrap();
    let mut sub = bus.subscribe("events").await.unwrap();
    bus.publish("events", b"before".to_vec()).await.unwrap();
    let wait = Duration::from_secs(5);
    assert_eq!(next_within(&mut sub, wait).await, message(b"before"));
    cache.set("k", b"v".to_vec(), HOUR).await.unwrap();

    // Hung: the process is stopped, its socket still accepts.
    server.signal("STOP");
    let started = Instant::now();
    assert_unavailable(cache.get("k").await, started, "get on a hung Redis");
    let started = Instant::now();
    assert_unavailable(
        limiter.check("ip", 5, MINUTE).await,
        started,
        "check on a hung Redis",
    );
    server.signal("CONT");
    eventually(wait, "get after the hang", || cache.get("k")).await;

    // Dead: every operation fails fast.
    server.kill();
    for _ in 0..3 {
        let started = Instant::now();
        assert_unavailable(cache.get("k").await, started, "get on a dead Redis");
        let started = Instant::now();
        assert_unavailable(cache.clear("*").await, started, "clear on a dead Redis");
        let started = Instant::now();
        assert_unavailable(
            limiter.check("ip", 5, MINUTE).await,
            started,
            "check on a dead Redis",
        );
        let started = Instant::now();
        assert_unavailable(
            bus.publish("events", b"lost".to_vec()).await,
            started,
            "publish on a dead Redis",
        );
        let started = Instant::now();
        assert_unavailable(backend.ping().await, started, "ping on a dead Redis");
    }
    let started = Instant::now();
    assert_unavailable(
        bus.subscribe("other").await.map(drop),
        started,
        "subscribe on a dead Redis",
    );

    // Back (empty: nothing was persisted): the same handles work again.
    server.restart();
    let within = Duration::from_secs(15);
    eventually(within, "set after the restart", || {
        cache.set("k", b"again".to_vec(), HOUR)
    })
    .await;
    assert_eq!(cache.get("k").await.unwrap(), Some(b"again".to_vec()));
    let decision = eventually(within, "check after the restart", || {
        limiter.check("ip", 5, MINUTE)
    })
    .await;
    assert!(decision.allowed);
    // The old subscription was renewed by the bus's task, which reported the gap (what was
    // published meanwhile is lost): publish until it hears.
    let deadline = Instant::now() + within;
    let mut told_of_gap = false;
    loop {
        let _ = bus.publish("events", b"after".to_vec()).await;
        match next_within(&mut sub, Duration::from_millis(200)).await {
            Some(Delivery::Gap) => told_of_gap = true,
            Some(Delivery::Message(payload)) => {
                assert_eq!(payload, b"after".to_vec());
                break;
            }
            None => {}
        }
        assert!(
            Instant::now() < deadline,
            "the subscription did not resume after the restart"
        );
    }
    assert!(
        told_of_gap,
        "the subscriber was told it may have missed payloads"
    );
    let mut fresh = bus.subscribe("events").await.unwrap();
    bus.publish("events", b"both".to_vec()).await.unwrap();
    assert_eq!(next_within(&mut fresh, wait).await, message(b"both"));
    loop {
        // The old subscription may still hold extra "after" payloads from the polling above.
        let delivery = next_within(&mut sub, wait).await.expect("old subscription");
        if delivery == Delivery::Message(b"both".to_vec()) {
            break;
        }
        assert_eq!(delivery, Delivery::Message(b"after".to_vec()));
    }
}

/// The `EventLog` suite on Redis and on the Redis Cluster (a log's two keys share a slot).
mod event_log {
    use super::*;
    use delegate_core::testing::event_log as suite;

    macro_rules! cases {
        ($backend:ident, $var:expr) => {
            mod $backend {
                use super::*;

                #[tokio::test(flavor = "multi_thread")]
                async fn appends_are_numbered_and_read_back_in_order() {
                    let (shared, _cleanup) = shared($var, Arc::new(ManualClock::default())).await;
                    suite::appends_are_numbered_and_read_back_in_order(shared.events).await;
                }

                #[tokio::test(flavor = "multi_thread")]
                async fn old_entries_are_trimmed_and_reported_missing() {
                    let (shared, _cleanup) = shared($var, Arc::new(ManualClock::default())).await;
                    suite::old_entries_are_trimmed_and_reported_missing(shared.events).await;
                }

                #[tokio::test(flavor = "multi_thread")]
                async fn unknown_logs_and_future_numbers() {
                    let (shared, _cleanup) = shared($var, Arc::new(ManualClock::default())).await;
                    suite::unknown_logs_and_future_numbers(shared.events).await;
                }
            }
        };
    }

    cases!(redis, SINGLE);
    cases!(redis_cluster, CLUSTER);
}
