//! The caller's profile and preferences through HTTP.

use crate::helpers::{assert_error, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

impl crate::helpers::TestApp {
    pub async fn patch_auth(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }
}

#[tokio::test]
async fn profile_updates_are_read_back_fresh() {
    let app = spawn_app().await;
    let a = app.register("pat@example.com").await;
    let res = app.get_auth("/api/v1/users/profile", &a.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let before: Value = res.json().await.unwrap();
    assert_eq!(before["name"], "Test");

    let res = app
        .patch_auth(
            "/api/v1/users/profile",
            &a.access,
            json!({"name": "  Pat  ", "avatarUrl": "https://cdn.example.com/p.png"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let after: Value = app
        .get_auth("/api/v1/users/profile", &a.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["name"], "Pat");
    assert_eq!(after["avatarUrl"], "https://cdn.example.com/p.png");
    let me: Value = app
        .get_auth("/api/v1/auth/me", &a.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["name"], "Pat");

    // Absent leaves the avatar; null removes it.
    let res = app
        .patch_auth("/api/v1/users/profile", &a.access, json!({"name": "Pat2"}))
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["avatarUrl"], "https://cdn.example.com/p.png");
    let res = app
        .patch_auth(
            "/api/v1/users/profile",
            &a.access,
            json!({"avatarUrl": null}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["avatarUrl"], Value::Null);
    assert_eq!(body["name"], "Pat2");

    for (body, field) in [
        (json!({"name": "   "}), "name"),
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"avatarUrl": "javascript:alert(1)"}), "avatarUrl"),
    ] {
        let res = app
            .patch_auth("/api/v1/users/profile", &a.access, body)
            .await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(err["error"]["field"], field);
    }
    // Tier and role are not settable by users: the fields are ignored.
    let res = app
        .patch_auth(
            "/api/v1/users/profile",
            &a.access,
            json!({"tier": "enterprise", "role": "admin"}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["tier"].as_str(), body["role"].as_str()),
        (Some("free"), Some("user"))
    );
}

#[tokio::test]
async fn preferences_merge_and_are_size_limited() {
    let app = spawn_app().await;
    let a = app.register("prefs@example.com").await;
    let b = app.register("other@example.com").await;
    let res = app
        .patch_auth(
            "/api/v1/users/preferences",
            &a.access,
            json!({"theme": "dark", "lang": "en"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .patch_auth(
            "/api/v1/users/preferences",
            &a.access,
            json!({"lang": null, "voice": "alloy"}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["preferences"],
        json!({"theme": "dark", "voice": "alloy"})
    );
    let other: Value = app
        .get_auth("/api/v1/users/profile", &b.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        other["preferences"],
        json!({}),
        "only the caller's preferences change"
    );

    let res = app
        .patch_auth("/api/v1/users/preferences", &a.access, json!([1, 2]))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let big = json!({"blob": "x".repeat(17 * 1024)});
    let res = app
        .patch_auth("/api/v1/users/preferences", &a.access, big)
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let res = app
        .client
        .get(app.url("/api/v1/users/profile"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
}
