//! Register, login, me, refresh, logout and logout-all through HTTP.

use crate::helpers::{PASSWORD, assert_error, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn register_login_me_refresh_logout_walkthrough() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "  Ada@Example.com ", "password": PASSWORD, "name": "Ada",
                   "device": {"name": "Ada's laptop", "platform": "web", "fingerprint": "fp-1"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["name"], "Ada");
    assert_eq!(body["user"]["tier"], "free");
    assert_eq!(body["user"]["role"], "user");
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 900);
    assert_eq!(body["session"]["device"]["name"], "Ada's laptop");
    assert_eq!(body["session"]["device"]["ip"], "127.0.0.1");
    assert_eq!(body["session"]["current"], true);
    assert!(body["user"].get("passwordHash").is_none());

    let res = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD, "device": {"name": "phone"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let login: Value = res.json().await.unwrap();
    let access = login["accessToken"].as_str().unwrap();

    let res = app.get_auth("/api/v1/auth/me", access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["user"]["id"], body["user"]["id"]);
    assert_eq!(me["session"]["id"], login["session"]["id"]);
    assert_eq!(me["session"]["device"]["name"], "phone");

    let res = app.refresh(&login["refreshToken"]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh: Value = res.json().await.unwrap();
    assert_ne!(fresh["refreshToken"], login["refreshToken"]);
    assert_eq!(fresh["tokenType"], "Bearer");
    let fresh_access = fresh["accessToken"].as_str().unwrap();
    assert_eq!(
        app.get_auth("/api/v1/auth/me", fresh_access).await.status(),
        StatusCode::OK
    );

    let res = app.post_auth("/api/v1/auth/logout", fresh_access).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Dead at once, on the same instance, with no wait: both tokens of that session.
    for token in [fresh_access, access] {
        let res = app.get_auth("/api/v1/auth/me", token).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    }
    let res = app.refresh(&fresh["refreshToken"]).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;

    // The first device's session is untouched.
    let first = body["accessToken"].as_str().unwrap();
    assert_eq!(
        app.get_auth("/api/v1/auth/me", first).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_all_kills_every_device() {
    let app = spawn_app().await;
    let a = app.register("bob@example.com").await;
    let b = app.login("bob@example.com", "phone").await;
    let c = app.login("bob@example.com", "tablet").await;
    let res = app.post_auth("/api/v1/auth/logout-all", &b.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["revoked"], 3);
    for account in [&a, &b, &c] {
        let res = app.get_auth("/api/v1/auth/me", &account.access).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
        let res = app.refresh(&account.refresh).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Signing in again works.
    let d = app.login("bob@example.com", "laptop").await;
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &d.access).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_errors_do_not_reveal_whether_the_email_exists() {
    let app = spawn_app().await;
    app.register("carol@example.com").await;
    let wrong_password = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "carol@example.com", "password": "not the password"}),
        )
        .await;
    let unknown_email = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "nobody@example.com", "password": "not the password"}),
        )
        .await;
    let malformed_email = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "not-an-email", "password": "not the password"}),
        )
        .await;
    let mut seen = Vec::new();
    for res in [wrong_password, unknown_email, malformed_email] {
        let status = res.status();
        let www = res.headers().get("www-authenticate").cloned();
        let body: Value = res.json().await.unwrap();
        seen.push((status, www, body));
    }
    assert_eq!(seen[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(seen[0].2["error"]["code"], "invalid_credentials");
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], seen[2]);
}

#[tokio::test]
async fn registration_rules_are_enforced_with_422_and_409() {
    let app = spawn_app().await;
    app.register("dave@example.com").await;
    let res = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "DAVE@example.com", "password": PASSWORD}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "email_taken").await;
    for (body, field) in [
        (json!({"email": "nope", "password": PASSWORD}), "email"),
        (
            json!({"email": "e@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "e@example.com", "password": "Password1"}),
            "password",
        ),
        (
            json!({"email": "e@example.com", "password": "x".repeat(129)}),
            "password",
        ),
        (
            json!({"email": "e@example.com", "password": PASSWORD, "name": "n".repeat(101)}),
            "name",
        ),
        (
            json!({"email": "e@example.com", "password": PASSWORD, "device": {"name": "d".repeat(201)}}),
            "device.name",
        ),
    ] {
        let res = app.post("/api/v1/auth/register", body.clone()).await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{body}");
    }
    // A 128-character password is accepted whole (no truncation): a 127-character prefix
    // does not log in.
    let long = "y".repeat(127) + "z";
    let res = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "long@example.com", "password": long}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "long@example.com", "password": &long[..127]}),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}
