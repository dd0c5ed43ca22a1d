//! The HTTP edge: security headers on every answer, enveloped rejections of every kind,
//! body and field limits, text every backend can store, credentials given twice, and
//! shedding of slow requests.

use crate::helpers::{PASSWORD, assert_error, spawn_app, spawn_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn assert_security_headers(res: &reqwest::Response, what: &str) {
    assert_eq!(header(res, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(res, "referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header(res, "x-frame-options"), "DENY", "{what}");
    assert_eq!(header(res, "cache-control"), "no-store", "{what}");
    assert!(
        header(res, "content-security-policy").contains("frame-ancestors 'none'"),
        "{what}"
    );
    assert!(res.headers().get("server").is_none(), "{what}: no banner");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_errors_included() {
    let app = spawn_with(|c| {
        c.rate_limit.auth_max_requests = 1;
        c.server.hsts_max_age_secs = 31_536_000;
    })
    .await;
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_security_headers(&health, "200");
    assert_eq!(
        header(&health, "content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(
        header(&health, "strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
    let api_csp = header(&health, "content-security-policy");
    assert!(api_csp.starts_with("default-src 'none'"), "{api_csp}");

    let unauthorized = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_security_headers(&unauthorized, "401");
    let missing = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_security_headers(&missing, "404");
    let login = || {
        app.post(
            "/api/v1/auth/login",
            json!({"email": "a@example.com", "password": "wrong password"}),
        )
    };
    assert_eq!(login().await.status(), StatusCode::UNAUTHORIZED);
    let limited = login().await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_security_headers(&limited, "429");
    assert_eq!(
        header(&limited, "content-type"),
        "application/json; charset=utf-8"
    );

    // The docs get a policy their own scripts and styles fit in.
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let docs_csp = header(&docs, "content-security-policy");
    assert!(docs_csp.contains("script-src 'self'"), "{docs_csp}");
    assert!(docs_csp.contains("frame-ancestors 'none'"), "{docs_csp}");

    // No HSTS unless configured.
    let plain = spawn_app().await;
    let res = plain.client.get(plain.url("/health")).send().await.unwrap();
    assert!(res.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn every_rejection_is_the_envelope_and_names_what_was_wrong() {
    let app = spawn_app().await;
    let ada = app.register("edge@example.com").await;
    // A query string of the wrong type.
    let res = app
        .get_auth("/api/v1/sessions?limit=abc", &ada.access)
        .await;
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_eq!(body["error"]["field"], "limit", "{body}");
    // Path parameters that are not ids, or not even UTF-8.
    for path in ["/api/v1/sessions/not-a-uuid", "/api/v1/sessions/%FF%FE"] {
        let res = app.get_auth(path, &ada.access).await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
    let res = app
        .delete_auth("/api/v1/auth/sessions/%C0", &ada.access)
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // 405 says what is allowed.
    let res = app
        .client
        .put(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "allow"), "POST");
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    // Malformed JSON: a stable message, no parser internals.
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "malformed_json").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("line") && !message.contains("column"),
        "{message}"
    );
    // A field of the wrong type, or missing, is named.
    let res = app
        .post("/api/v1/auth/login", json!({"email": 5, "password": "x"}))
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    assert_eq!(body["error"]["field"], "email", "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().contains("line"));
    let res = app
        .post("/api/v1/auth/login", json!({"email": "a@example.com"}))
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    assert_eq!(body["error"]["field"], "password", "{body}");
    let res = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "b@example.com", "password": PASSWORD, "device": {"name": 7}}),
        )
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    assert_eq!(body["error"]["field"], "device.name", "{body}");
    // A body must be an object: serde would read a struct from an array.
    for body in [json!(["Array Name"]), json!("a string"), json!(7)] {
        let res = app
            .client
            .patch(app.url("/api/v1/users/profile"))
            .bearer_auth(&ada.access)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    }
    let me: Value = app
        .get_auth("/api/v1/users/profile", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "Test", "nothing renamed");
    // A POST whose fields are all optional takes no body at all.
    let res = app
        .client
        .post(app.url("/api/v1/sessions"))
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["title"], "New chat");
}

/// Sends `head` (request line and headers) and then `body` in pieces, and returns what the
/// server answered, tolerating a reset after the answer.
async fn raw_exchange(app: &crate::helpers::TestApp, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let body = body.to_vec();
    let writer = tokio::spawn(async move {
        for chunk in body.chunks(16 * 1024) {
            if write.write_all(chunk).await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    writer.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_declared_oversize_body_is_refused_before_it_is_read() {
    let app = spawn_app().await;
    let size = 8 * 1024 * 1024;
    let head = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {size}\r\n\r\n"
    );
    let answer = raw_exchange(&app, &head, &vec![b' '; size]).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.to_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.contains("\"payload_too_large\""), "{answer}");
    assert!(answer.contains("65536"), "names the limit: {answer}");
}

#[tokio::test]
async fn a_chunked_body_stops_at_the_limit() {
    let app = spawn_app().await;
    let head = "POST /api/v1/auth/register HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                transfer-encoding: chunked\r\n\r\n";
    let mut body = Vec::new();
    for _ in 0..40 {
        body.extend_from_slice(format!("{:x}\r\n", 4096).as_bytes());
        body.extend_from_slice(&[b' '; 4096]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_exchange(&app, head, &body).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"payload_too_large\""), "{answer}");
}

#[tokio::test]
async fn every_text_field_has_a_limit_the_error_names() {
    let app = spawn_app().await;
    let ada = app.register("limits@example.com").await;
    let post = |path: &'static str, body: Value| {
        app.client
            .post(app.url(path))
            .bearer_auth(&ada.access)
            .json(&body)
            .send()
    };
    let patch = |path: &'static str, body: Value| {
        app.client
            .patch(app.url(path))
            .bearer_auth(&ada.access)
            .json(&body)
            .send()
    };
    let cases = [
        (
            post("/api/v1/sessions", json!({"title": "t".repeat(201)})).await,
            "title",
            "200",
        ),
        (
            post(
                "/api/v1/sessions",
                json!({"systemPrompt": "p".repeat(8001)}),
            )
            .await,
            "systemPrompt",
            "8000",
        ),
        (
            patch("/api/v1/users/profile", json!({"name": "n".repeat(101)})).await,
            "name",
            "100",
        ),
        (
            patch(
                "/api/v1/users/preferences",
                json!({"big": "v".repeat(17 * 1024)}),
            )
            .await,
            "preferences",
            "16384",
        ),
        (
            app.client
                .post(app.url("/api/v1/auth/register"))
                .json(&json!({"email": "long@example.com", "password": "p".repeat(129)}))
                .send()
                .await,
            "password",
            "128",
        ),
    ];
    for (res, field, limit) in cases {
        let body = assert_error(
            res.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
        assert_eq!(body["error"]["field"], field, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(limit), "{field}: {message}");
    }
    let session: Value = post("/api/v1/sessions", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/sessions/{}/messages",
        session["id"].as_str().unwrap()
    );
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&ada.access)
        .json(&json!({"content": "c".repeat(32_001)}))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("32000"));
}

#[tokio::test]
async fn text_with_nul_is_refused_alike_on_every_backend() {
    let app = spawn_with(|c| c.ai.provider = delegate_core::config::AiProviderKind::Echo).await;
    let ada = app.register("nul@example.com").await;
    let send = |method: reqwest::Method, path: String, body: Value| {
        app.client
            .request(method, app.url(&path))
            .bearer_auth(&ada.access)
            .json(&body)
            .send()
    };
    let res = send(
        reqwest::Method::POST,
        "/api/v1/sessions".into(),
        json!({"title": "a\u{0}b"}),
    )
    .await
    .unwrap();
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "title");
    for (path, body, field) in [
        ("/api/v1/users/profile", json!({"name": "x\u{0}"}), "name"),
        (
            "/api/v1/users/preferences",
            json!({"theme": {"deep": ["ok", "bad\u{0}"]}}),
            "preferences",
        ),
        (
            "/api/v1/users/preferences",
            json!({"key\u{0}": 1}),
            "preferences",
        ),
    ] {
        let res = send(reqwest::Method::PATCH, path.into(), body)
            .await
            .unwrap();
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let session: Value = send(reqwest::Method::POST, "/api/v1/sessions".into(), json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = format!(
        "/api/v1/sessions/{}/messages",
        session["id"].as_str().unwrap()
    );
    let res = send(
        reqwest::Method::POST,
        messages.clone(),
        json!({"content": "hi\u{0}"}),
    )
    .await
    .unwrap();
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "content");
    let res = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "nul2@example.com", "password": PASSWORD, "device": {"name": "a\u{0}"}}),
        )
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "device.name");
    // A lone surrogate is not JSON text at all.
    let res = app
        .client
        .post(app.url("/api/v1/sessions"))
        .bearer_auth(&ada.access)
        .header("content-type", "application/json")
        .body(r#"{"title": "\ud800"}"#)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "malformed_json").await;
    // Nothing was stored along the way.
    let res = app.get_auth(&messages, &ada.access).await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "{page}");
}

#[tokio::test]
async fn credentials_given_twice_are_refused() {
    let app = spawn_app().await;
    let ada = app.register("twice@example.com").await;
    let bearer = format!("Bearer {}", ada.access);
    let res = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("authorization", &bearer)
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "ambiguous_credentials").await;
    let res = app
        .client
        .get(app.url(&format!("/api/v1/auth/me?token={}", ada.access)))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "ambiguous_credentials").await;
    // One header alone works.
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &ada.access).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn slow_requests_are_shed_and_timed_out_with_503() {
    let app = spawn_with(|c| {
        c.server.max_concurrent_requests = 1;
        c.server.request_timeout_secs = 1;
    })
    .await;
    // A client that declares a body and sends only part of it holds the one slot.
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert!(
        header(&res, "retry-after")
            .parse::<u64>()
            .is_ok_and(|s| s >= 1)
    );
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    // The slow one is stopped at the timeout, with the envelope.
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\"}}\n") || answer.ends_with(b"}}") {
            break;
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    // And the slot is free again.
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_method_the_route_lacks_is_405_before_credentials_are_checked_and_is_not_counted() {
    let app = spawn_app().await;
    let ada = app.register("method-405@example.com").await;
    for (method, path) in [
        (reqwest::Method::TRACE, "/api/v1/ws?token="),
        (
            reqwest::Method::DELETE,
            "/api/v1/users/profile?access_token=x",
        ),
    ] {
        // Credentials given twice would be a 400 on a method the route has.
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&ada.access)
            .send()
            .await
            .unwrap();
        assert!(
            res.headers().get("ratelimit-limit").is_none(),
            "{method} {path}"
        );
        assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
    // On an admin path, the admin gate answers first, whatever the method.
    let res = app
        .client
        .request(reqwest::Method::TRACE, app.url("/api/v1/admin/users"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
}
