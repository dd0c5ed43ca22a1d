//! Health: readiness, and the detailed view (a summary for anyone, details for admins) with
//! the database down (down, 503) and Redis down (degraded, 200).

use crate::helpers::{Backing, TestApp, assert_error, spawn_app, spawn_on, spawn_with};
use crate::postgres_server::PostgresServer;
use crate::redis_server::RedisServer;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

async fn detailed(app: &TestApp, token: Option<&str>) -> (StatusCode, Value) {
    let res = match token {
        Some(token) => app.get_auth("/api/v1/health/detailed", token).await,
        None => app
            .client
            .get(app.url("/api/v1/health/detailed"))
            .send()
            .await
            .unwrap(),
    };
    (res.status(), res.json().await.unwrap())
}

async fn ready(app: &TestApp) -> reqwest::Response {
    app.client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap()
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} check in {body}"))
}

#[tokio::test]
async fn readiness_and_a_summary_for_anyone_with_details_for_admins_only() {
    let app = spawn_app().await;
    let res = ready(&app).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ready");

    let user = app.register("plain@example.com").await;
    for token in [None, Some(user.access.as_str())] {
        let (status, body) = detailed(&app, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            matches!(body["status"].as_str(), Some("ok" | "degraded")),
            "{body}"
        );
        assert!(
            body["version"].is_string() && body["uptimeSeconds"].is_u64(),
            "{body}"
        );
        assert_eq!(check(&body, "database")["status"], "ok", "{body}");
        for name in ["database", "redis", "ai", "voice"] {
            let check = check(&body, name).as_object().unwrap();
            let keys: Vec<&str> = check.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                ["name", "status"],
                "no kind, latency or detail: {body}"
            );
        }
    }

    let token = app.register_admin("admin@example.com").await;
    let (status, body) = detailed(&app, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let database = check(&body, "database");
    assert!(
        matches!(database["kind"].as_str(), Some("sqlite" | "postgres")),
        "{body}"
    );
    assert!(
        database["latencyMs"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{body}"
    );
    assert!(check(&body, "redis")["kind"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_the_detailed_view_is_down_and_readiness_fails_then_recovers() {
    let pg = PostgresServer::start().await;
    let url = pg.url();
    let app = spawn_with(move |c| c.database_url = url).await;
    let (status, body) = detailed(&app, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    pg.stop();
    let (status, body) = detailed(&app, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "down");
    assert_eq!(check(&body, "database")["status"], "down");
    let res = ready(&app).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;

    pg.resume().await;
    let mut recovered = false;
    for _ in 0..100 {
        let res = ready(&app).await;
        if res.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "ready again once the database is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_detailed_view_is_degraded_and_names_it_to_admins() {
    let mut redis = RedisServer::start().await;
    let backing = Backing::scaleout(&redis.url()).await;
    let app = spawn_on(&backing, |_| {}, None).await;
    let token = app.register_admin("ops@example.com").await;
    let (_, body) = detailed(&app, Some(&token)).await;
    assert_eq!(check(&body, "redis")["status"], "ok", "{body}");
    assert_eq!(check(&body, "redis")["kind"], "redis", "{body}");

    redis.stop();
    let (status, body) = detailed(&app, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "still serving: {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(check(&body, "redis")["status"], "degraded", "{body}");
    assert!(check(&body, "redis")["detail"].is_string(), "{body}");
    assert_eq!(check(&body, "database")["status"], "ok", "{body}");
}

#[tokio::test]
async fn the_ai_provider_is_probed_reachable_or_degraded() {
    let upstream = delegate_core::testing::upstream::Upstream::start().await;
    let base = upstream.base_url();
    let app = spawn_with(move |c| {
        c.ai.base_url = Some(base);
        c.ai.api_key = Some(delegate_core::Secret::new("sk-test-key"));
    })
    .await;
    let token = app.register_admin("ai-ops@example.com").await;
    let (_, body) = detailed(&app, Some(&token)).await;
    let ai = check(&body, "ai");
    assert_eq!(ai["status"], "ok", "{body}");
    assert_eq!(ai["kind"], "openai", "{body}");
    // Voice uses the same provider unless told otherwise, and is probed too.
    let voice = check(&body, "voice");
    assert_eq!(voice["status"], "ok", "{body}");
    assert_eq!(voice["kind"], "openai", "{body}");
    assert!(
        ai["latencyMs"].as_f64().is_some_and(|ms| ms > 0.0),
        "asked: {body}"
    );

    // A provider nobody answers for: serving, but degraded, and the admin is told why.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_with(move |c| {
        c.ai.base_url = Some(format!("http://127.0.0.1:{port}/v1"));
        c.ai.api_key = Some(delegate_core::Secret::new("sk-test-key"));
    })
    .await;
    let token = app.register_admin("ai-ops2@example.com").await;
    let (status, body) = detailed(&app, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(check(&body, "ai")["status"], "degraded", "{body}");
    let detail = check(&body, "ai")["detail"].as_str().unwrap_or_default();
    assert!(!detail.contains("sk-test-key"), "{detail}");
    assert_eq!(check(&body, "voice")["status"], "degraded", "{body}");
}
