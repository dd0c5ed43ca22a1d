//! Passwords: the common-password list, changing a password, and bounded waits for hashing.

use crate::helpers::{PASSWORD, assert_error, spawn_with};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_ten_thousand_most_common_passwords_are_refused_in_any_case() {
    let app = crate::helpers::spawn_app().await;
    for (i, common) in ["qwerty123", "BigDaddy", "Qazwsxedc", "liverpoo"]
        .iter()
        .enumerate()
    {
        let res = app
            .post(
                "/api/v1/auth/register",
                json!({"email": format!("c{i}@example.com"), "password": common}),
            )
            .await;
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(body["error"]["field"], "password", "{common}");
    }
}

#[tokio::test]
async fn changing_the_password_revokes_every_other_session_and_keeps_this_one() {
    let app = spawn_with(|c| c.rate_limit.auth_max_requests = 100).await;
    let here = app.register("change@example.com").await;
    let other = app.login("change@example.com", "phone").await;
    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/api/v1/auth/password"))
            .bearer_auth(&here.access)
            .json(&json!({"currentPassword": current, "newPassword": new}))
            .send()
    };
    let res = change("not my password", "a brand new passphrase")
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "currentPassword");
    let res = change(PASSWORD, "password123").await.unwrap();
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "newPassword");
    // Nothing changed yet: the other device still works.
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &other.access)
            .await
            .status(),
        StatusCode::OK
    );

    let res = change(PASSWORD, "a brand new passphrase").await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &here.access).await.status(),
        StatusCode::OK
    );
    let res = app.get_auth("/api/v1/auth/me", &other.access).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    assert_eq!(
        app.refresh(&other.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.refresh(&here.refresh).await.status(), StatusCode::OK);
    let login = |password: &'static str| {
        app.post(
            "/api/v1/auth/login",
            json!({"email": "change@example.com", "password": password}),
        )
    };
    assert_eq!(login(PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        login("a brand new passphrase").await.status(),
        StatusCode::OK
    );
    // Without a token there is nothing to change.
    let res = app
        .post(
            "/api/v1/auth/password",
            json!({"currentPassword": PASSWORD, "newPassword": "x y z w v u"}),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
}

#[tokio::test]
async fn waiting_for_a_hashing_slot_is_bounded_and_answers_503() {
    let app = spawn_with(|c| {
        c.auth.password.max_concurrent = 1;
        c.auth.password.max_wait_ms = 1;
        c.rate_limit.auth_max_requests = 1000;
    })
    .await;
    let attempts = (0..12).map(|i| {
        app.post(
            "/api/v1/auth/register",
            json!({"email": format!("storm{i}@example.com"), "password": PASSWORD}),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let mut shed = 0;
    for res in answers {
        match res.status() {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(res.headers().contains_key("retry-after"));
                assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
                shed += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(shed > 0, "a storm of 12 over one slot sheds some");
}
