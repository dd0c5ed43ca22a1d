//! Scale-out mode: two instances over one PostgreSQL and one Redis share state, and losing
//! Redis neither logs anybody out nor revives anything revoked.

use crate::helpers::{Backing, PASSWORD, TestApp, assert_error, spawn_on, within};
use crate::redis_server::RedisServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn pair(backing: &Backing, adjust: fn(&mut delegate_core::Config)) -> (TestApp, TestApp) {
    (
        spawn_on(backing, adjust, None).await,
        spawn_on(backing, adjust, None).await,
    )
}

#[tokio::test]
async fn a_logout_on_one_instance_is_refused_on_the_other_at_once() {
    let backing = Backing::scaleout_default().await;
    let (a, b) = pair(&backing, |_| {}).await;
    let account = a.register("two@example.com").await;
    assert_eq!(
        b.get_auth("/api/v1/auth/me", &account.access)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        a.post_auth("/api/v1/auth/logout", &account.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let took = within(async || {
        b.get_auth("/api/v1/auth/me", &account.access)
            .await
            .status()
            == StatusCode::UNAUTHORIZED
    })
    .await
    .expect("B refuses the token");
    eprintln!("logout on A refused on B after {took:?}");
    let res = b.get_auth("/api/v1/auth/me", &account.access).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
}

#[tokio::test]
async fn rate_limits_hold_across_instances() {
    let backing = Backing::scaleout_default().await;
    let (a, b) = pair(&backing, |c| c.rate_limit.max_requests = 10).await;
    let account = a.register("limits@example.com").await;
    let requests = (0..40).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.get_auth("/api/v1/auth/me", &account.access)
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let admitted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((admitted, refused), (10, 30), "{statuses:?}");
}

#[tokio::test]
async fn a_profile_updated_on_one_instance_is_read_fresh_on_the_other() {
    let backing = Backing::scaleout_default().await;
    let (a, b) = pair(&backing, |_| {}).await;
    let account = a.register("fresh@example.com").await;
    let name = async |app: &TestApp| -> Value {
        let res = app.get_auth("/api/v1/users/profile", &account.access).await;
        res.json::<Value>().await.unwrap()["name"].clone()
    };
    assert_eq!(name(&b).await, "Test", "now cached in B");
    let res = a
        .patch_auth(
            "/api/v1/users/profile",
            &account.access,
            json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let took = within(async || name(&b).await == "Renamed")
        .await
        .expect("B reads the new name");
    eprintln!("profile change on A read on B after {took:?}");
}

#[tokio::test]
async fn losing_redis_logs_nobody_out_and_revives_nothing() {
    let mut redis = RedisServer::start().await;
    let backing = Backing::scaleout(&redis.url()).await;
    let (a, b) = pair(&backing, |_| {}).await;
    let kept = a.register("keep@example.com").await;
    let dropped = a.login("keep@example.com", "phone").await;
    assert_eq!(
        a.post_auth("/api/v1/auth/logout", &dropped.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    assert_eq!(redis.command("FLUSHALL").as_deref(), Some("+OK"));
    // And a restart, which also drops every connection and subscription.
    redis.restart().await;
    let fresh = spawn_on(&backing, |_| {}, None).await;
    for app in [&a, &b, &fresh] {
        assert_eq!(
            app.get_auth("/api/v1/auth/me", &kept.access).await.status(),
            StatusCode::OK,
            "nobody is logged out"
        );
        let res = app.get_auth("/api/v1/auth/me", &dropped.access).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
        let res = app.refresh(&dropped.refresh).await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "no revoked family comes back"
        );
    }
    assert_eq!(fresh.refresh(&kept.refresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_redis_stopped_auth_fails_closed_reads_keep_working_and_it_recovers() {
    let mut redis = RedisServer::start().await;
    let backing = Backing::scaleout(&redis.url()).await;
    // The profile route has a limit of its own, small enough to exhaust here.
    let (a, b) = pair(&backing, |c| {
        c.rate_limit.routes.insert(
            "GET /api/v1/users/profile".to_owned(),
            delegate_core::config::RouteLimit {
                max_requests: 32,
                window_ms: 60_000,
            },
        );
    })
    .await;
    let account = a.register("outage@example.com").await;
    // A busy client: A holds a lease of several permits when Redis goes.
    for _ in 0..12 {
        let res = a.get_auth("/api/v1/users/profile", &account.access).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    redis.stop();

    let login = || {
        a.post(
            "/api/v1/auth/login",
            json!({"email": "outage@example.com", "password": PASSWORD}),
        )
    };
    let res = login().await;
    assert!(res.headers().get("retry-after").is_some());
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    // A valid token for a live session keeps working from durable state and the in-process
    // guard; limits fall back to in-process.
    for app in [&a, &b] {
        let res = app.get_auth("/api/v1/auth/me", &account.access).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.get_auth("/api/v1/users/profile", &account.access).await;
        assert_eq!(res.status(), StatusCode::OK, "profile read from the store");
    }
    // Never unlimited: A's leased permits, then its in-process fallback's 32, and no more.
    let mut admitted = 0;
    for _ in 0..40 {
        let res = a.get_auth("/api/v1/users/profile", &account.access).await;
        match res.status() {
            StatusCode::OK => admitted += 1,
            status => assert_eq!(status, StatusCode::TOO_MANY_REQUESTS),
        }
    }
    assert!((30..=34).contains(&admitted), "{admitted} admitted");

    redis.restart().await;
    // Each instance takes the limiter as down for the second its outage asked callers to
    // wait, by its clock (moved here as time would).
    within(async || {
        a.clock.advance(std::time::Duration::from_millis(100));
        login().await.status() == StatusCode::OK
    })
    .await
    .expect("login works again once Redis is back");
    // The bus has resubscribed: a logout on A reaches B again.
    let session = a.login("outage@example.com", "again").await;
    assert_eq!(
        b.get_auth("/api/v1/auth/me", &session.access)
            .await
            .status(),
        StatusCode::OK
    );
    let took = within(async || {
        let _ = a.post_auth("/api/v1/auth/logout", &session.access).await;
        b.get_auth("/api/v1/auth/me", &session.access)
            .await
            .status()
            == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(took.is_some(), "revocations propagate after recovery");
}

#[tokio::test]
async fn an_admins_tier_change_disable_and_logout_all_on_one_instance_apply_on_the_other() {
    let backing = Backing::scaleout_default().await;
    let (a, b) = pair(&backing, |_| {}).await;
    let admin = a.register_admin("root@example.com").await;
    let ada = a.register("ada@example.com").await;
    let me: Value = b
        .get_auth("/api/v1/auth/me", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    let id = me["user"]["id"].as_str().unwrap().to_owned();
    let patch = |body: Value| {
        a.client
            .patch(a.url(&format!("/api/v1/admin/users/{id}")))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    // B has Ada's profile cached; a tier change on A reaches it at once.
    let usage: Value = b
        .get_auth("/api/v1/users/usage", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage["tier"], "free");
    assert_eq!(
        patch(json!({"tier": "pro"})).await.unwrap().status(),
        StatusCode::OK
    );
    within(async || {
        let usage: Value = b
            .get_auth("/api/v1/users/usage", &ada.access)
            .await
            .json()
            .await
            .unwrap();
        usage["tier"] == "pro"
    })
    .await
    .expect("B sees the new tier");

    // Logout-all on A: both of Ada's devices are refused on B.
    let phone = b.login("ada@example.com", "phone").await;
    let res = a
        .client
        .post(a.url(&format!("/api/v1/admin/users/{id}/logout-all")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    for token in [&ada.access, &phone.access] {
        within(async || {
            b.get_auth("/api/v1/auth/me", token).await.status() == StatusCode::UNAUTHORIZED
        })
        .await
        .expect("B refuses the signed-out tokens");
    }

    // Disabled on A: a fresh session from B dies on B, and B refuses her login.
    let fresh = b.login("ada@example.com", "tablet").await;
    assert_eq!(
        patch(json!({"disabled": true})).await.unwrap().status(),
        StatusCode::OK
    );
    within(async || {
        b.get_auth("/api/v1/auth/me", &fresh.access).await.status() == StatusCode::UNAUTHORIZED
    })
    .await
    .expect("B refuses the disabled user's token");
    let res = b
        .post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "account_disabled").await;

    // B's audit view has A's actions (one trail in the shared store).
    let page: Value = b
        .get_auth(&format!("/api/v1/admin/audit?userId={id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["user.tier_changed", "sessions.revoked", "user.disabled"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // Cache stats over Redis name both layers, Redis with keys and bytes.
    let stats: Value = b
        .get_auth("/api/v1/admin/cache/stats", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["layers"][1]["layer"], "redis", "{stats}");
    let redis_ns = stats["layers"][1]["namespaces"].as_array().unwrap();
    assert!(
        redis_ns
            .iter()
            .any(|n| n["namespace"] == "user" && n["bytes"].as_u64() > Some(0)),
        "{stats}"
    );
}
