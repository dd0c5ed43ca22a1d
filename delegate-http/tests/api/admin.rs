//! /api/v1/admin: 401 without a token and 403 for non-admins on every admin path and method,
//! however it is spelt; an admin's login-session cleanup.

use crate::helpers::{TestApp, assert_error, spawn_app, spawn_with};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

const PATHS: &[&str] = &[
    "/api/v1/admin/sessions/cleanup",
    "/api/v1/admin/users",
    "/api/v1/admin/users/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee",
    "/api/v1/admin/users/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee/logout-all",
    "/api/v1/admin/audit",
    "/api/v1/admin/cache/stats",
    "/api/v1/admin/cache/clear",
    "/Api/V1/Admin/Users/",
    "/api/v1/admin/sessions/cleanup/",
    "/API/V1/ADMIN/Sessions/Cleanup",
    "/api/v1/admin/no-such-route",
    "/api/v1/admin",
];

async fn call(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_admin_path_and_method_is_401_without_a_token_and_403_for_a_user() {
    let app = spawn_app().await;
    let user = app.register("user@example.com").await;
    for path in PATHS {
        for method in [Method::GET, Method::POST, Method::DELETE, Method::PATCH] {
            let res = call(&app, method.clone(), path, None).await;
            assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
            let res = call(&app, method.clone(), path, Some("not-a-token")).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            let res = call(&app, method.clone(), path, Some(&user.access)).await;
            assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    // An admin gets through the guard; unknown routes are then plain 404s.
    let token = app.register_admin("root@example.com").await;
    let res = call(
        &app,
        Method::GET,
        "/api/v1/admin/no-such-route",
        Some(&token),
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = call(&app, Method::DELETE, PATHS[0], Some(&token)).await;
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn an_admin_cleans_up_ended_login_sessions_by_get_or_post() {
    // The timer is off here, so only these calls clean up (it is tested in core).
    let app = spawn_with(|c| c.auth.cleanup_interval_secs = 0).await;
    let token = app.register_admin("ops@example.com").await;
    // A login session that ends: logged out (revoked), its refresh token with it.
    let gone = app.login("ops@example.com", "old-laptop").await;
    let res = app.post_auth("/api/v1/auth/logout", &gone.access).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let res = call(
        &app,
        Method::POST,
        "/api/v1/admin/sessions/cleanup",
        Some(&token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert!(body["sessions"].as_u64() >= Some(1), "{body}");
    let parts = ["sessions", "refreshTokens", "denials"].map(|k| body[k].as_u64().unwrap());
    assert_eq!(body["removed"].as_u64(), Some(parts.iter().sum()), "{body}");

    // Nothing has ended since: a second run (by GET) removes nothing, and the admin's own
    // session is untouched.
    let res = call(
        &app,
        Method::GET,
        "/api/v1/admin/sessions/cleanup",
        Some(&token),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["removed"], 0, "{body}");
    // Both runs are in the audit trail, by this admin.
    let res = call(
        &app,
        Method::GET,
        "/api/v1/admin/audit?kind=sessions.cleanup",
        Some(&token),
    )
    .await;
    let audit: Value = res.json().await.unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "{audit}");
    assert_eq!(audit["items"][0]["actor"]["type"], "user");
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &token).await.status(),
        StatusCode::OK
    );

    // Past the refresh lifetime every login session has ended, the admin's included.
    app.clock.advance(Duration::from_secs(31 * 24 * 3600));
    let removed = app
        .delegate
        .admin()
        .cleanup_login_sessions(&delegate_core::admin::Actor::Operator)
        .await
        .unwrap();
    assert!(removed.sessions >= 1, "{removed:?}");
}
