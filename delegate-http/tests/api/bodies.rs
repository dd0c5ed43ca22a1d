//! Malformed, oversized and wrongly typed requests get 4xx JSON errors, never a 5xx.

use crate::helpers::{assert_error, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn malformed_oversized_and_wrongly_typed_bodies_get_json_4xx() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/auth/register");
    let send = |body: Vec<u8>, content_type: Option<&'static str>| {
        let mut req = app.client.post(&url).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let json_ct = Some("application/json");
    let cases = [
        (
            send(b"{not json".to_vec(), json_ct).await,
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            send(Vec::new(), json_ct).await,
            StatusCode::BAD_REQUEST,
            "missing_body",
        ),
        (
            send(b"{}".to_vec(), Some("text/plain")).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            send(b"{}".to_vec(), None).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            send(b"{\"email\": 5, \"password\": true}".to_vec(), json_ct).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            send(b"{\"password\": \"x\"}".to_vec(), json_ct).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            send(b"[1,2,3]".to_vec(), json_ct).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            send(
                serde_json::to_vec(&json!({"email": "a@b.io", "password": "x".repeat(200_000)}))
                    .unwrap(),
                json_ct,
            )
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (res, status, code) in cases {
        let res = res.expect("request");
        assert_error(res, status, code).await;
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .client
        .get(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("x-request-id").is_some());
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn cors_lets_configured_browser_origins_call_the_api() {
    let preflight = |app: &crate::helpers::TestApp, origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let open = spawn_app().await;
    let res = preflight(&open, "https://anywhere.example").await.unwrap();
    assert!(res.status().is_success());
    assert_eq!(res.headers()["access-control-allow-origin"], "*");

    let strict =
        crate::helpers::spawn_with(|c| c.server.cors_origin = "https://app.example.com".into())
            .await;
    let res = preflight(&strict, "https://app.example.com").await.unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let res = preflight(&strict, "https://evil.example").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}
