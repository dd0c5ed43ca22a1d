//! Benches of the hardening work (#5): the in-process rate limiter's check at 10^3 keys
//! against 10^6 keys, beside a plain map's lookup at both sizes (criterion), and, through the real HTTP server on loopback (embedded
//! SQLite), login p50 and a cached GET's p99 idle against the same during a 20-way
//! concurrent login flood, measured in the same run.
//!
//! Run with `cargo bench -p delegate-benches --bench hardening`.

use criterion::Criterion;
use delegate_benches::{JWT_SECRET, PASSWORD, REFRESH_SECRET, TempSqlite};
use delegate_core::backend::memory::MemoryRateLimiter;
use delegate_core::ratelimit::RateLimiter;
use delegate_core::{Config, Delegate, Secret, SystemClock};
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let _context = rt.enter();
    let mut c = Criterion::default().configure_from_args();
    limiter_keys(&mut c, &rt);
    c.final_summary();
    rt.block_on(login_flood());
}

/// `limiter/check_1e3_keys` against `limiter/check_1e6_keys`: one check on a key among that
/// many live ones (each key has its own window and a few requests in it).
fn limiter_keys(c: &mut Criterion, rt: &Runtime) {
    let window = Duration::from_secs(3600);
    let mut group = c.benchmark_group("limiter");
    for (name, keys) in [
        ("check_1e3_keys", 1_000usize),
        ("check_1e6_keys", 1_000_000),
    ] {
        let limiter = MemoryRateLimiter::new(Arc::new(SystemClock));
        let names: Vec<String> = (0..keys).map(|i| format!("ip:10.{i}")).collect();
        rt.block_on(async {
            for key in &names {
                limiter.check(key, 1_000_000, window).await.expect("check");
            }
        });
        // The floor: the same stride through a plain map of as many keys, so the ratio the
        // memory hierarchy alone gives at this size can be told from the limiter's own.
        let plain: std::collections::HashMap<&str, u64> =
            names.iter().map(|k| (k.as_str(), 0)).collect();
        let mut j = 0usize;
        group.bench_function(format!("hashmap_floor_{}", &name[6..]), |b| {
            b.iter(|| {
                j = (j + 7919) % keys;
                black_box(plain.get(names[j].as_str()))
            });
        });
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.to_async(rt).iter(|| {
                // A stride through the keys, so the map's working set is all of it.
                i = (i + 7919) % keys;
                let key = &names[i];
                let limiter = &limiter;
                async move {
                    black_box(limiter.check(key, 1_000_000, window).await.expect("check"));
                }
            });
        });
    }
    group.finish();
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

/// A server on loopback over a fresh SQLite file, with limits that never refuse.
async fn server() -> (String, TempSqlite) {
    let db = TempSqlite::create().await.expect("SQLite");
    let mut config = Config {
        database_url: format!("sqlite://{}", db.path().display()),
        ..Config::default()
    };
    config.auth.jwt_secret = Some(Secret::new(JWT_SECRET));
    config.auth.jwt_refresh_secret = Some(Secret::new(REFRESH_SECRET));
    config.rate_limit.max_requests = u32::MAX / 64;
    config.rate_limit.auth_max_requests = u32::MAX / 64;
    config.auth.login_backoff.max_attempts_per_account = u32::MAX / 64;
    config.auth.max_sessions_per_user = 100_000;
    config.auth.password.max_wait_ms = 60_000;
    let delegate = Delegate::connect(config).await.expect("Delegate starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(delegate_http::serve(
        delegate,
        listener,
        std::future::pending(),
    ));
    (base, db)
}

async fn login(client: &reqwest::Client, base: &str, email: &str) -> Duration {
    let started = Instant::now();
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login request");
    assert_eq!(res.status(), 200, "login");
    let _ = res.bytes().await;
    started.elapsed()
}

async fn cached_get(client: &reqwest::Client, base: &str, token: &str) -> Duration {
    let started = Instant::now();
    let res = client
        .get(format!("{base}/api/v1/users/profile"))
        .bearer_auth(token)
        .send()
        .await
        .expect("profile request");
    assert_eq!(res.status(), 200, "profile");
    let _ = res.bytes().await;
    started.elapsed()
}

/// Login p50 and cached-GET p99, idle and during a 20-way login flood.
async fn login_flood() {
    let (base, _db) = server().await;
    let client = reqwest::Client::new();
    for i in 0..21 {
        let res = client
            .post(format!("{base}/api/v1/auth/register"))
            .json(&json!({"email": format!("flood{i}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 201);
    }
    let token = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "flood0@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json::<serde_json::Value>()
        .await
        .expect("json")["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();

    let measure = async |label: &str| {
        let mut logins = Vec::new();
        for _ in 0..30 {
            logins.push(login(&client, &base, "flood0@example.com").await);
        }
        let mut gets = Vec::new();
        for _ in 0..500 {
            gets.push(cached_get(&client, &base, &token).await);
        }
        let (login_p50, get_p99) = (percentile(&mut logins, 0.5), percentile(&mut gets, 0.99));
        println!("{label}: login p50 {login_p50:?}, cached GET p99 {get_p99:?}");
        (login_p50, get_p99)
    };
    let idle = measure("idle").await;

    let flooding = Arc::new(AtomicBool::new(true));
    let mut flood = Vec::new();
    for i in 1..=20 {
        let (client, base, flooding) = (client.clone(), base.clone(), flooding.clone());
        flood.push(tokio::spawn(async move {
            let email = format!("flood{i}@example.com");
            let mut n = 0u32;
            while flooding.load(Ordering::Relaxed) {
                login(&client, &base, &email).await;
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flooded = measure("during a 20-way login flood").await;
    flooding.store(false, Ordering::Relaxed);
    let mut flood_logins = 0;
    for task in flood {
        flood_logins += task.await.expect("flood task");
    }
    println!(
        "flood: {flood_logins} logins by 20 clients; ratios flood/idle: login p50 {:.2}, \
         cached GET p99 {:.2}",
        flooded.0.as_secs_f64() / idle.0.as_secs_f64(),
        flooded.1.as_secs_f64() / idle.1.as_secs_f64()
    );
}
