//! Access-token validation and refresh-token rotation, replay and races, through HTTP.

use crate::helpers::{JWT_SECRET, assert_error, spawn_app};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
}

fn sign(alg: Algorithm, claims: &Value, key: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("sign")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn tokens_breaking_any_rule_are_refused() {
    let app = spawn_app().await;
    let account = app.register("eve@example.com").await;
    let claims = payload(&account.access);
    assert_eq!(claims["typ"], "access");
    assert_eq!(claims["sid"], account.session_id.as_str());
    for field in [
        "sub", "sid", "jti", "iat", "nbf", "exp", "iss", "aud", "tier", "role",
    ] {
        assert!(claims.get(field).is_some(), "claim {field} missing");
    }
    // Re-signing the genuine claims with the genuine key works: the cases below differ in
    // exactly one respect.
    let resigned = sign(Algorithm::HS256, &claims, JWT_SECRET);
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &resigned).await.status(),
        StatusCode::OK
    );

    let with = |field: &str, value: Value| {
        let mut c = claims.clone();
        c[field] = value;
        sign(Algorithm::HS256, &c, JWT_SECRET)
    };
    let without = |field: &str| {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(field);
        sign(Algorithm::HS256, &c, JWT_SECRET)
    };
    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = account.access.split('.').nth(1).unwrap();
    let mut forged = claims.clone();
    forged["role"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        account.access.split('.').next().unwrap(),
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        account.access.split('.').nth(2).unwrap()
    );
    let cases = [
        ("alg none", format!("{header_none}.{body}.")),
        ("HS384", sign(Algorithm::HS384, &claims, JWT_SECRET)),
        ("HS512", sign(Algorithm::HS512, &claims, JWT_SECRET)),
        (
            "other key",
            sign(
                Algorithm::HS256,
                &claims,
                "another-secret-another-secret-0123456789",
            ),
        ),
        ("tampered payload", tampered),
        ("expired", with("exp", json!(now() - 60))),
        ("not yet valid", with("nbf", json!(now() + 600))),
        ("wrong iss", with("iss", json!("someone-else"))),
        ("wrong aud", with("aud", json!("another-api"))),
        ("refresh type", with("typ", json!("refresh"))),
        ("missing jti", without("jti")),
        ("missing sid", without("sid")),
        ("missing exp", without("exp")),
        ("unknown session", with("sid", json!(uuid_v4()))),
        ("refresh token as bearer", account.refresh.clone()),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (name, token) in cases {
        let res = app.get_auth("/api/v1/auth/me", &token).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}");
        let body: Value = res.json().await.unwrap();
        let code = body["error"]["code"].as_str().unwrap_or_default();
        assert!(
            ["invalid_token", "token_expired", "token_revoked"].contains(&code),
            "{name}: {body}"
        );
    }
    let res = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
}

fn uuid_v4() -> String {
    let bytes: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[tokio::test]
async fn a_replayed_refresh_token_kills_its_family_and_session() {
    let app = spawn_app().await;
    let account = app.register("frank@example.com").await;
    let other_device = app.login("frank@example.com", "phone").await;
    let res = app.refresh(&account.refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    let child: Value = res.json().await.unwrap();

    // A replay within the grace window (10 s) is taken for a concurrent duplicate: it gets
    // no tokens, and the family lives on.
    let res = app.refresh(&account.refresh).await;
    assert_error(res, StatusCode::CONFLICT, "refresh_conflict").await;
    let child_access = child["accessToken"].as_str().unwrap();
    assert_eq!(
        app.get_auth("/api/v1/auth/me", child_access).await.status(),
        StatusCode::OK
    );

    // Past the window, a replay is theft: the family and its login session die.
    app.clock.advance(std::time::Duration::from_secs(11));
    let res = app.refresh(&account.refresh).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    let res = app.refresh(&child["refreshToken"]).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    for token in [account.access.as_str(), child_access] {
        let res = app.get_auth("/api/v1/auth/me", token).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    }
    // Only that login session died: the user's other device is fine.
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &other_device.access)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_replay_after_the_family_moved_on_is_reuse_even_inside_the_grace_window() {
    let app = spawn_app().await;
    let account = app.register("moved@example.com").await;
    let first: Value = app.refresh(&account.refresh).await.json().await.unwrap();
    let second: Value = app
        .refresh(&first["refreshToken"])
        .await
        .json()
        .await
        .unwrap();
    let latest_access = second["accessToken"].as_str().unwrap();
    // No time has passed, but the first token's child has itself been rotated: the family
    // has moved on, so this cannot be a duplicate of the latest rotation.
    let res = app.refresh(&account.refresh).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    let res = app.get_auth("/api/v1/auth/me", latest_access).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let res = app.refresh(&second["refreshToken"]).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;

    // Whereas a duplicate of the latest rotation, inside the window, is only a conflict.
    let other = app.login("moved@example.com", "phone").await;
    let child: Value = app.refresh(&other.refresh).await.json().await.unwrap();
    let res = app.refresh(&other.refresh).await;
    assert_error(res, StatusCode::CONFLICT, "refresh_conflict").await;
    let res = app
        .get_auth("/api/v1/auth/me", child["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn access_tokens_expire_and_sessions_end_absolutely() {
    let app = spawn_app().await;
    let account = app.register("hank@example.com").await;
    app.clock
        .advance(std::time::Duration::from_secs(15 * 60 + 6));
    let res = app.get_auth("/api/v1/auth/me", &account.access).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_expired").await;
    // The refresh token still works within the family's 30 days…
    let res = app.refresh(&account.refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    let child: Value = res.json().await.unwrap();
    // …but not after them.
    app.clock
        .advance(std::time::Duration::from_secs(30 * 24 * 3600));
    let res = app.refresh(&child["refreshToken"]).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_leave_exactly_one_live_child() {
    let app = spawn_app().await;
    let account = app.register("gina@example.com").await;
    let attempts = futures::future::join_all((0..12).map(|_| {
        app.post(
            "/api/v1/auth/refresh",
            json!({"refreshToken": account.refresh}),
        )
    }))
    .await;
    let mut children = Vec::new();
    for res in attempts {
        match res.status() {
            StatusCode::OK => children.push(res.json::<Value>().await.unwrap()),
            StatusCode::CONFLICT => {
                assert_error(res, StatusCode::CONFLICT, "refresh_conflict").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(children.len(), 1, "exactly one winner");
    let child = &children[0];
    // The one child is live and rotates on.
    let res = app.refresh(&child["refreshToken"]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get_auth("/api/v1/auth/me", child["accessToken"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_and_malformed_refresh_tokens_are_401() {
    let app = spawn_app().await;
    for token in ["", "nope", &"x".repeat(5000)] {
        let res = app.refresh(&token).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
}
