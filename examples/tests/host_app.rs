//! The host-app example over HTTP: its own route accepts Delegate's tokens and refuses others.

use delegate_core::{Config, Delegate};
use serde_json::{Value, json};
use std::net::SocketAddr;

#[tokio::test]
async fn host_route_is_protected_by_auth_user() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        database_url: format!("sqlite://{}", dir.path().join("host.db").display()),
        ..Config::default()
    };
    let delegate = Delegate::connect(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = delegate_examples::host_router(delegate);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let client = reqwest::Client::new();
    let url = |p: &str| format!("http://{addr}{p}");

    let res = client.get(url("/api/hello")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "missing_token");

    let res = client
        .post(url("/api/v1/auth/register"))
        .json(&json!({"email": "host@example.com", "password": "a long passphrase", "name": "Hostie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let signed_in: Value = res.json().await.unwrap();
    let token = signed_in["accessToken"].as_str().unwrap();

    let res = client
        .get(url("/api/hello"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "hello, Hostie");
    assert_eq!(body["userId"], signed_in["user"]["id"]);

    let res = client
        .post(url("/api/v1/auth/logout"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = client
        .get(url("/api/hello"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
