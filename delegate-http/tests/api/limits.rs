//! Rate limits through HTTP: stricter auth limits, per-user limits, headers, trusted
//! proxies, and failing closed when the shared limiter is down.

use crate::helpers::{Backing, PASSWORD, assert_error, spawn_on, spawn_with};
use async_trait::async_trait;
use delegate_core::ratelimit::{RateDecision, RateLimiter};
use delegate_core::{Error, ManualClock, Shared};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn auth_routes_have_a_stricter_per_ip_limit_with_headers() {
    let app = spawn_with(|c| c.rate_limit.auth_max_requests = 3).await;
    let attempt = || {
        app.post(
            "/api/v1/auth/login",
            json!({"email": "x@example.com", "password": "wrong password"}),
        )
    };
    for remaining in ["2", "1", "0"] {
        let res = attempt().await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&res, "ratelimit-limit"), "3");
        assert_eq!(header(&res, "ratelimit-remaining"), remaining);
    }
    let res = attempt().await;
    let retry_after: u64 = header(&res, "retry-after").parse().expect("Retry-After");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&res, "ratelimit-remaining"), "0");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Register shares the auth scope; health is not limited.
    let res = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "y@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The window slides.
    app.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(attempt().await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn each_user_has_their_own_window() {
    let app = spawn_with(|c| c.rate_limit.max_requests = 4).await;
    let a = app.register("ua@example.com").await;
    let b = app.register("ub@example.com").await;
    for _ in 0..4 {
        assert_eq!(
            app.get_auth("/api/v1/auth/me", &a.access).await.status(),
            StatusCode::OK
        );
    }
    let res = app.get_auth("/api/v1/auth/me", &a.access).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let res = app.get_auth("/api/v1/auth/me", &b.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "ratelimit-remaining"), "3");
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let login_from = |app: &crate::helpers::TestApp, ip: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": "x@example.com", "password": "wrong password"}))
            .send()
    };
    let direct = spawn_with(|c| c.rate_limit.auth_max_requests = 1).await;
    assert_eq!(
        login_from(&direct, "1.1.1.1").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let res = login_from(&direct, "2.2.2.2").await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "spoofed header ignored"
    );

    let proxied = spawn_with(|c| {
        c.rate_limit.auth_max_requests = 1;
        c.server.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    assert_eq!(
        login_from(&proxied, "1.1.1.1").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_from(&proxied, "2.2.2.2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let res = login_from(&proxied, "1.1.1.1").await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // The session records the forwarded client address.
    let res = proxied
        .client
        .post(proxied.url("/api/v1/auth/register"))
        .header("x-forwarded-for", "203.0.113.7, 127.0.0.1")
        .json(&json!({"email": "p@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["session"]["device"]["ip"], "203.0.113.7");
}

/// A limiter that can be switched off, like a Redis that goes away and comes back.
struct Flaky {
    inner: Arc<dyn RateLimiter>,
    down: Arc<AtomicBool>,
}

#[async_trait]
impl RateLimiter for Flaky {
    async fn check(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> delegate_core::Result<RateDecision> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::unavailable("redis", Duration::from_secs(1)));
        }
        self.inner.check(key, limit, window).await
    }

    async fn reset(&self, key: &str) -> delegate_core::Result<()> {
        self.inner.reset(key).await
    }
}

#[tokio::test]
async fn with_the_limiter_down_auth_fails_closed_and_reads_fall_back() {
    let clock = ManualClock::default();
    let mut shared = Shared::memory(Arc::new(clock));
    let down = Arc::new(AtomicBool::new(false));
    shared.limiter = Arc::new(Flaky {
        inner: shared.limiter.clone(),
        down: down.clone(),
    });
    let app = spawn_on(
        &Backing::new().await,
        |c| c.rate_limit.max_requests = 5,
        Some(shared),
    )
    .await;
    let account = app.register("down@example.com").await;
    down.store(true, Ordering::SeqCst);

    let res = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "down@example.com", "password": PASSWORD}),
        )
        .await;
    assert!(!header(&res, "retry-after").is_empty());
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            app.get_auth("/api/v1/auth/me", &account.access)
                .await
                .status(),
        );
    }
    assert_eq!(
        statuses[..5],
        [StatusCode::OK; 5],
        "reads served by the fallback"
    );
    assert!(
        statuses[5..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "never unlimited"
    );

    down.store(false, Ordering::SeqCst);
    // The limiter is taken as down for the second its outage asked callers to wait.
    app.clock.advance(Duration::from_secs(1));
    let res = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "down@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "recovers when the limiter returns"
    );
}

#[tokio::test]
async fn failed_logins_back_off_per_account_with_a_bounded_delay() {
    let app = spawn_with(|c| {
        c.auth.login_backoff.free_failures = 2;
        c.auth.login_backoff.base_delay_ms = 1000;
        c.auth.login_backoff.max_delay_secs = 4;
        c.rate_limit.auth_max_requests = 1000;
    })
    .await;
    app.register("victim@example.com").await;
    let login = |password: &'static str| {
        app.post(
            "/api/v1/auth/login",
            json!({"email": "Victim@example.com", "password": password}),
        )
    };
    for _ in 0..3 {
        assert_eq!(
            login("wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked for 1 s, even with the right password.
    let res = login(PASSWORD).await;
    assert_eq!(header(&res, "retry-after"), "1");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The delay doubles, and stops at the bound.
    let mut delays = Vec::new();
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(5));
        assert_eq!(
            login("wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
        delays.push(header(&login(PASSWORD).await, "retry-after"));
    }
    assert_eq!(delays, ["2", "4", "4", "4"]);
    // Once the lock passes, the right password works and clears the count.
    app.clock.advance(Duration::from_secs(4));
    assert_eq!(login(PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        login("wrong password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(PASSWORD).await.status(), StatusCode::OK);
    // Unknown emails back off the same way: a lock says nothing about existence.
    let ghost = || {
        app.post(
            "/api/v1/auth/login",
            json!({"email": "ghost@example.com", "password": "wrong password"}),
        )
    };
    for _ in 0..3 {
        assert_eq!(ghost().await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(ghost().await.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A login from `ip` (through the trusted proxy on loopback).
async fn login_via(
    app: &crate::helpers::TestApp,
    ip: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_valid_token_never_moves_auth_routes_off_the_ip_bucket() {
    let app = spawn_with(|c| c.rate_limit.auth_max_requests = 3).await;
    let ada = app.register("tok@example.com").await; // 1 of 3
    for _ in 0..2 {
        let res = app
            .post(
                "/api/v1/auth/login",
                json!({"email": "tok@example.com", "password": "wrong password"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    for path in ["/api/v1/auth/login", "/api/v1/auth/refresh"] {
        let res = app
            .client
            .post(app.url(path))
            .bearer_auth(&ada.access)
            .json(&json!({"email": "tok@example.com", "password": PASSWORD,
                          "refreshToken": ada.refresh}))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
}

#[tokio::test]
async fn one_email_is_bounded_across_rotating_ips_but_its_known_client_gets_through() {
    let app = spawn_with(|c| {
        c.server.trusted_proxies = "127.0.0.1".into();
        c.auth.login_backoff.max_attempts_per_account = 5;
        c.auth.login_backoff.free_failures = 100;
    })
    .await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("x-forwarded-for", "198.51.100.7")
        .json(&json!({"email": "spray@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    for i in 0..5 {
        let ip = format!("203.0.113.{i}");
        let res = login_via(&app, &ip, "spray@example.com", "wrong password").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // A sixth address is refused before any guess is checked, even a right one.
    let res = login_via(&app, "203.0.113.99", "spray@example.com", PASSWORD).await;
    assert!(header(&res, "retry-after").parse::<u64>().is_ok());
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The owner, from where they are signed in, still gets in.
    let res = login_via(&app, "198.51.100.7", "spray@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Other accounts are not affected.
    let res = login_via(&app, "203.0.113.99", "other@example.com", "wrong password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_attackers_failures_lock_only_the_attackers_client() {
    let app = spawn_with(|c| {
        c.server.trusted_proxies = "127.0.0.1".into();
        c.auth.login_backoff.free_failures = 2;
        c.rate_limit.auth_max_requests = 1000;
    })
    .await;
    app.register("owner@example.com").await;
    for _ in 0..3 {
        let res = login_via(&app, "192.0.2.66", "owner@example.com", "wrong password").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_via(&app, "192.0.2.66", "owner@example.com", PASSWORD).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The owner, from a new place, is not locked out.
    let res = login_via(&app, "198.51.100.20", "owner@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_ips_take_cidrs_ports_and_ipv6_networks() {
    let app = spawn_with(|c| {
        c.server.trusted_proxies = "127.0.0.0/8, 10.0.0.0/8".into();
        c.rate_limit.auth_max_requests = 1;
    })
    .await;
    let wrong = |app: &crate::helpers::TestApp, xff: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", xff)
            .json(&json!({"email": "ip@example.com", "password": "wrong password"}))
            .send()
    };
    let status = |res: reqwest::Response| res.status();
    // A port does not make a new client; trusted hops (CIDR) are skipped.
    assert_eq!(
        status(wrong(&app, "192.0.2.1:5678, 10.1.2.3").await.unwrap()),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(wrong(&app, "192.0.2.1").await.unwrap()),
        StatusCode::TOO_MANY_REQUESTS
    );
    // IPv6 clients share one bucket per /64.
    assert_eq!(
        status(wrong(&app, "[2001:db8:1:1::1]:443").await.unwrap()),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(wrong(&app, "2001:db8:1:1:ffff::2").await.unwrap()),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status(wrong(&app, "2001:db8:1:2::1").await.unwrap()),
        StatusCode::UNAUTHORIZED
    );
    // Anything unparsable falls back to the peer.
    assert_eq!(
        status(wrong(&app, "not-an-ip").await.unwrap()),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(wrong(&app, "::1::garbage").await.unwrap()),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_bad_trusted_proxy_entry_refuses_the_start() {
    let mut config = delegate_core::Config {
        database_url: "sqlite::memory:".into(),
        ..Default::default()
    };
    config.server.trusted_proxies = "10.0.0.0/40".into();
    let err = delegate_core::Delegate::connect(config)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("10.0.0.0/40"), "{err}");
}

#[tokio::test]
async fn a_router_served_without_connect_info_never_pools_clients() {
    let config = delegate_core::Config {
        database_url: "sqlite::memory:".into(),
        ..Default::default()
    };
    let delegate = delegate_core::Delegate::connect(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            delegate_http::router(delegate).into_make_service(),
        )
        .await
    });
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&json!({"email": "a@example.com", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::INTERNAL_SERVER_ERROR, "internal_error").await;
}

/// Two instances leasing permits in batches (a limit of 320 leases up to 20 at a time)
/// admit at most the limit under a concurrent burst, and refuse early by at most what the
/// other instance may hold unspent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_never_admit_more_than_the_limit_under_a_burst() {
    const LIMIT: usize = 320;
    let backing = Backing::scaleout_default().await;
    let adjust = |c: &mut delegate_core::Config| c.rate_limit.max_requests = LIMIT as u32;
    let a = spawn_on(&backing, adjust, None).await;
    let b = spawn_on(&backing, adjust, None).await;
    let ada = a.register("burst@example.com").await;
    let started = std::time::Instant::now();
    let requests = (0..1_000).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.get_auth("/api/v1/auth/me", &ada.access)
    });
    let answers = futures::future::join_all(requests).await;
    let elapsed = started.elapsed();
    let admitted = answers
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    println!(
        "1,000-request burst over two instances: {admitted} admitted, {refused} refused in {elapsed:?}"
    );
    let batch = delegate_core::ratelimit::lease::max_batch(LIMIT as u32) as usize;
    assert!(admitted <= LIMIT, "{admitted} admitted");
    assert!(admitted >= LIMIT - batch, "{admitted} admitted");
    assert_eq!(admitted + refused, 1_000);
    let fallbacks = a.delegate.limits().fallback_count() + b.delegate.limits().fallback_count();
    assert_eq!(fallbacks, 0, "no check fell back to the in-process limiter");
}
