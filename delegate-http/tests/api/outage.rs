//! The database going away and coming back: requests that need it answer 503 quickly, the
//! pool recovers by itself, and acknowledged writes survive.

use crate::helpers::{PASSWORD, assert_error, spawn_with};
use crate::postgres_server::PostgresServer;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_requests_get_503_at_once_and_recover_with_their_writes() {
    let pg = PostgresServer::start().await;
    let url = pg.url();
    let app = spawn_with(move |c| c.database_url = url).await;
    let ada = app.register("outage@example.com").await;
    let login = || {
        app.post(
            "/api/v1/auth/login",
            json!({"email": "outage@example.com", "password": PASSWORD}),
        )
    };
    assert_eq!(login().await.status(), StatusCode::OK);

    pg.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let res = login().await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "answered in about 2 s at most, not at the client's timeout: {:?}",
            started.elapsed()
        );
        assert!(res.headers().contains_key("retry-after"));
        assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
        let started = Instant::now();
        let res = app.get_auth("/api/v1/sessions", &ada.access).await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?} {}",
            started.elapsed(),
            res.status()
        );
        assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    }

    pg.resume().await;
    let mut recovered = false;
    for _ in 0..100 {
        if login().await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the pool reconnected by itself");
    // What was acknowledged before the outage is still there.
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &ada.access).await.status(),
        StatusCode::OK
    );
    let res = app.get_auth("/api/v1/sessions", &ada.access).await;
    assert_eq!(res.status(), StatusCode::OK);
}
