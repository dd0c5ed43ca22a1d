//! Scale-out benches (PostgreSQL + Redis on loopback): Redis round trips per authenticated,
//! cached request counted with `INFO commandstats`; the two-level cache's L1 hit against a
//! Redis read and the in-process cache; the Redis rate-limit check against the in-process one.
//!
//! Needs `DELEGATE_TEST_DATABASE_URL` and `DELEGATE_TEST_REDIS_URL` (as `./scripts/test` sets
//! them; defaults: the local PostgreSQL database `test` and Redis on 6379). Run with
//! `cargo bench -p delegate-benches --bench scaleout`.

use axum::body::Body;
use axum::http::Request;
use criterion::Criterion;
use delegate_benches::{PASSWORD, bench_config};
use delegate_core::backend::memory::{MemoryCache, MemoryRateLimiter};
use delegate_core::backend::postgres::TestSchema;
use delegate_core::backend::redis::RedisBackend;
use delegate_core::cache::{Cache, TwoLevelCache};
use delegate_core::ratelimit::RateLimiter;
use delegate_core::{Delegate, Registration, SystemClock};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let _context = rt.enter();
    let database = env_or(
        "DELEGATE_TEST_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let redis = env_or("DELEGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379");
    let prefix = format!("bench:{}:", uuid_now());
    rt.block_on(round_trips(&database, &redis, &prefix));
    let mut c = Criterion::default().configure_from_args();
    cache_levels(&mut c, &rt, &redis, &prefix);
    rate_limit(&mut c, &rt, &redis, &prefix);
    c.final_summary();
}

fn uuid_now() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Calls per command Redis has executed (`INFO commandstats`), INFO itself left out.
async fn commands_so_far(redis: &str) -> std::collections::BTreeMap<String, u64> {
    let client = ::redis::Client::open(redis).expect("redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let info: String = ::redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter(|line| !line.starts_with("info:"))
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// The commands the rate-limit script runs inside Redis: commandstats counts them too, but
/// they travel in the script's one round trip (Delegate never sends them itself).
const SCRIPT_INTERNAL: &[&str] = &["zremrangebyscore", "zcard", "zadd", "zrange", "pexpire"];

/// Serves `requests` authenticated `GET /api/v1/users/profile` (a cached read) through the
/// real router on a scale-out Delegate and prints the Redis commands per request.
async fn round_trips(database: &str, redis: &str, prefix: &str) {
    let (_, schema) = TestSchema::create(database, "bench").await.expect("schema");
    let mut config = bench_config();
    config.database_url = format!(
        "{database}{}options=-c%20search_path%3D{}",
        if database.contains('?') { '&' } else { '?' },
        schema.name()
    );
    config.redis_url = redis.to_owned();
    config.redis_prefix = prefix.to_owned();
    config.rate_limit.max_requests = 1_000_000;
    let delegate = Delegate::connect(config).await.expect("Delegate builds");
    let signed_in = delegate
        .auth()
        .register(Registration::new("round-trips@example.com", PASSWORD))
        .await
        .expect("registration");
    let router = delegate_http::router(delegate.clone());
    let request = || {
        Request::get("/api/v1/users/profile")
            .header(
                "authorization",
                format!("Bearer {}", signed_in.tokens.access_token),
            )
            .body(Body::empty())
            .expect("request")
    };
    // Warm: the session in the guard, the profile in L1.
    let warm = router.clone().oneshot(request()).await.expect("served");
    assert_eq!(warm.status(), 200);
    let requests = 500u64;
    let before = commands_so_far(redis).await;
    for _ in 0..requests {
        let res = router.clone().oneshot(request()).await.expect("served");
        assert_eq!(res.status(), 200);
    }
    let after = commands_so_far(redis).await;
    let mut round_trips = 0;
    for (name, calls) in &after {
        let delta = calls - before.get(name).copied().unwrap_or(0);
        if delta == 0 {
            continue;
        }
        let inside = SCRIPT_INTERNAL.contains(&name.as_str());
        if !inside {
            round_trips += delta;
        }
        println!(
            "  {name}: {:.3} per request{}",
            delta as f64 / requests as f64,
            if inside { " (inside the script)" } else { "" }
        );
    }
    println!(
        "redis round trips per authenticated cached request: {:.3} ({round_trips} over {requests} requests)",
        round_trips as f64 / requests as f64
    );
}

/// `cache/l1_hit` (two-level cache, key in L1) against `cache/redis_get` (the L2 read alone)
/// and `cache/memory_get` (the embedded cache).
fn cache_levels(c: &mut Criterion, rt: &tokio::runtime::Runtime, redis: &str, prefix: &str) {
    let backend = rt
        .block_on(RedisBackend::connect(redis, prefix, Arc::new(SystemClock)))
        .expect("redis");
    let l2: Arc<dyn Cache> = Arc::new(backend.cache());
    let two_level = rt
        .block_on(TwoLevelCache::new(
            l2.clone(),
            Arc::new(backend.bus()),
            10_000,
            Duration::from_secs(60),
            Arc::new(SystemClock),
        ))
        .expect("two-level cache");
    let memory = MemoryCache::new(Arc::new(SystemClock), 10_000);
    let hour = Duration::from_secs(3600);
    let value = vec![7u8; 512];
    rt.block_on(async {
        two_level
            .set("user:bench", value.clone(), hour)
            .await
            .unwrap();
        l2.set("user:raw", value.clone(), hour).await.unwrap();
        memory.set("user:bench", value.clone(), hour).await.unwrap();
    });
    let mut group = c.benchmark_group("cache");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("l1_hit", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(two_level.get("user:bench").await.unwrap()) })
    });
    group.bench_function("memory_get", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(memory.get("user:bench").await.unwrap()) })
    });
    group.bench_function("redis_get", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(l2.get("user:raw").await.unwrap()) })
    });
    group.finish();
    rt.block_on(async {
        let _ = l2.clear("*").await;
    });
}

/// `rate_limit/redis_check` (one Lua round trip) against `rate_limit/memory_check`.
fn rate_limit(c: &mut Criterion, rt: &tokio::runtime::Runtime, redis: &str, prefix: &str) {
    let backend = rt
        .block_on(RedisBackend::connect(redis, prefix, Arc::new(SystemClock)))
        .expect("redis");
    let redis_limiter = backend.limiter();
    let memory = MemoryRateLimiter::new(Arc::new(SystemClock));
    let window = Duration::from_secs(1);
    let mut group = c.benchmark_group("rate_limit");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("memory_check", |b| {
        b.to_async(rt).iter(|| async {
            black_box(memory.check("user:bench", 1_000_000, window).await.unwrap())
        })
    });
    group.bench_function("redis_check", |b| {
        b.to_async(rt).iter(|| async {
            black_box(
                redis_limiter
                    .check("user:bench", 1_000_000, window)
                    .await
                    .unwrap(),
            )
        })
    });
    group.finish();
    rt.block_on(async {
        let _ = redis_limiter.reset("user:bench").await;
    });
}
