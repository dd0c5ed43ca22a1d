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
            return Err(Error::Unavailable {
                what: "redis",
                retry_after: Duration::from_secs(1),
            });
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
