//! Login sessions (devices) through HTTP: list, revoke one, isolation between users.

use crate::helpers::{Backing, TestApp, assert_error, spawn_app, spawn_on, within};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn sessions_list_flags_current_and_revoke_kills_that_device() {
    let app = spawn_app().await;
    let laptop = app.register("ivy@example.com").await;
    let phone = app.login("ivy@example.com", "phone").await;
    let res = app.get_auth("/api/v1/auth/sessions", &phone.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], phone.session_id.as_str(), "newest first");
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[1]["current"], false);
    assert_eq!(items[0]["device"]["name"], "phone");
    for item in items {
        for field in ["createdAt", "lastSeenAt", "expiresAt"] {
            let t = item[field].as_str().unwrap();
            assert!(t.ends_with('Z'), "{field}: {t}");
        }
        let text = item.to_string();
        assert!(
            !text.contains(&laptop.refresh) && !text.contains("jti"),
            "{text}"
        );
    }

    let res = app
        .delete_auth(
            &format!("/api/v1/auth/sessions/{}", laptop.session_id),
            &phone.access,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get_auth("/api/v1/auth/me", &laptop.access).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let res = app.get_auth("/api/v1/auth/sessions", &phone.access).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    // Revoking it again is like revoking an unknown id.
    let res = app
        .delete_auth(
            &format!("/api/v1/auth/sessions/{}", laptop.session_id),
            &phone.access,
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_user_can_neither_see_nor_revoke_another_users_sessions() {
    let app = spawn_app().await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    let res = app.get_auth("/api/v1/auth/sessions", &a.access).await;
    let body: Value = res.json().await.unwrap();
    let ids: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.session_id.as_str()]);

    let foreign = app
        .delete_auth(
            &format!("/api/v1/auth/sessions/{}", b.session_id),
            &a.access,
        )
        .await;
    let unknown = app
        .delete_auth(
            "/api/v1/auth/sessions/01890a5d-ac96-774b-bcce-b302099a8057",
            &a.access,
        )
        .await;
    let (fs, us) = (foreign.status(), unknown.status());
    let (fb, ub): (Value, Value) = (foreign.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(fs, StatusCode::NOT_FOUND);
    assert_eq!(
        (fs, &fb),
        (us, &ub),
        "foreign id answers exactly like an unknown id"
    );
    let malformed = app
        .delete_auth("/api/v1/auth/sessions/not-a-uuid", &a.access)
        .await;
    assert_error(malformed, StatusCode::NOT_FOUND, "not_found").await;
    // B's session is intact.
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &b.access).await.status(),
        StatusCode::OK
    );
    // And A's logout-all does not touch B.
    let res = app.post_auth("/api/v1/auth/logout-all", &a.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &b.access).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn last_seen_is_updated_but_throttled() {
    let app = spawn_app().await;
    let account = app.register("jay@example.com").await;
    let last_seen = |body: &Value| body["session"]["lastSeenAt"].as_str().unwrap().to_owned();
    let first: Value = app
        .get_auth("/api/v1/auth/me", &account.access)
        .await
        .json()
        .await
        .unwrap();
    app.clock.advance(std::time::Duration::from_secs(30));
    let within: Value = app
        .get_auth("/api/v1/auth/me", &account.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        last_seen(&first),
        last_seen(&within),
        "no write within a minute"
    );
    app.clock.advance(std::time::Duration::from_secs(31));
    app.get_auth("/api/v1/auth/me", &account.access).await;
    // The touch is written in the background; poll a bounded number of times.
    let mut updated = false;
    for _ in 0..50 {
        let now: Value = app
            .get_auth("/api/v1/auth/me", &account.access)
            .await
            .json()
            .await
            .unwrap();
        if last_seen(&now) != last_seen(&first) {
            updated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(updated, "lastSeenAt advanced after the interval");
}

#[tokio::test]
async fn revocations_and_sessions_survive_a_restart() {
    let app = crate::helpers::spawn_app().await;
    let kept = app.register("kim@example.com").await;
    let dropped = app.login("kim@example.com", "phone").await;
    let res = app.post_auth("/api/v1/auth/logout", &dropped.access).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let crate::helpers::TestApp {
        backing, shutdown, ..
    } = app;
    let _ = shutdown.send(());

    let restarted = crate::helpers::spawn_on(&backing, |_| {}, None).await;
    assert_eq!(
        restarted
            .get_auth("/api/v1/auth/me", &kept.access)
            .await
            .status(),
        StatusCode::OK,
        "nobody is logged out by a restart"
    );
    let res = restarted.get_auth("/api/v1/auth/me", &dropped.access).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let res = restarted.refresh(&dropped.refresh).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let res = restarted.refresh(&kept.refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revocation_behind_the_guards_back_is_seen_once_its_ttl_passes_touches_notwithstanding() {
    let app = crate::helpers::spawn_with(|c| {
        c.auth.session_cache_ttl_secs = 60;
        c.auth.session_touch_interval_secs = 10;
    })
    .await;
    let ada = app.register("guard@example.com").await;
    let me = || app.get_auth("/api/v1/auth/me", &ada.access);
    assert_eq!(me().await.status(), StatusCode::OK);
    // Revoked in the store only (no event reaches this instance).
    let stores = delegate_core::Stores::connect(&app.backing.config().database_url, false)
        .await
        .unwrap();
    let id = delegate_core::LoginSessionId::parse(&ada.session_id).unwrap();
    assert!(
        stores
            .sessions
            .revoke(id, chrono::Utc::now())
            .await
            .unwrap()
    );
    // Trusted for the TTL; each request past the touch interval writes lastSeenAt, which
    // must not extend that trust.
    for step in [30, 25] {
        app.clock.advance(std::time::Duration::from_secs(step));
        assert_eq!(me().await.status(), StatusCode::OK, "within the TTL");
    }
    app.clock.advance(std::time::Duration::from_secs(6));
    let res = me().await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
}

#[tokio::test]
async fn live_sessions_per_user_are_capped_and_listed_a_page_at_a_time() {
    let app = crate::helpers::spawn_with(|c| {
        c.auth.max_sessions_per_user = 3;
        c.rate_limit.auth_max_requests = 100;
    })
    .await;
    let first = app.register("cap@example.com").await;
    let mut latest = Vec::new();
    for device in ["b", "c", "d"] {
        latest.push(app.login("cap@example.com", device).await);
    }
    // The fourth sign-in pushed the oldest out.
    let res = app.get_auth("/api/v1/auth/me", &first.access).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let current = latest.last().unwrap();
    let page: Value = app
        .get_auth("/api/v1/auth/sessions?limit=2", &current.access)
        .await
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["id"], current.session_id.as_str(), "newest first");
    let cursor = page["nextCursor"].as_str().expect("a next page");
    let next: Value = app
        .get_auth(
            &format!("/api/v1/auth/sessions?limit=2&cursor={cursor}"),
            &current.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["items"].as_array().unwrap().len(), 1, "{next}");
    assert_eq!(next["items"][0]["id"], latest[0].session_id.as_str());
    assert!(next["nextCursor"].is_null());
    for bad in ["limit=0", "limit=101", "cursor=nope"] {
        let res = app
            .get_auth(&format!("/api/v1/auth/sessions?{bad}"), &current.access)
            .await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
}

#[tokio::test]
async fn me_reads_the_login_session_from_the_cache_and_sees_a_touch_on_every_instance() {
    let backing = Backing::new().await;
    // B is polled until it shows the change: its limit is not what is tested.
    let roomy = |c: &mut delegate_core::Config| c.rate_limit.max_requests = 100_000;
    let a = spawn_on(&backing, roomy, None).await;
    let b = spawn_on(&backing, roomy, None).await;
    let admin = b.register_admin("root@example.com").await;
    let account = a.register("cached@example.com").await;
    let me = async |app: &TestApp| -> Value {
        let res = app.get_auth("/api/v1/auth/me", &account.access).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    };
    let first = me(&b).await;
    for _ in 0..3 {
        assert_eq!(me(&b).await, first);
    }
    let stats: Value = b
        .get_auth("/api/v1/admin/cache/stats", &admin)
        .await
        .json()
        .await
        .unwrap();
    let cached = stats["layers"][0]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["namespace"] == "login_session")
        .cloned()
        .unwrap_or(Value::Null);
    assert!(cached["hits"].as_u64().unwrap_or(0) >= 3, "{stats}");

    // A touch written by A (its clock past the interval) drops B's cached copy.
    a.clock.advance(std::time::Duration::from_secs(61));
    me(&a).await;
    let last_seen = |body: &Value| body["session"]["lastSeenAt"].clone();
    let took = within(async || last_seen(&me(&b).await) != last_seen(&first))
        .await
        .expect("B shows the new lastSeenAt");
    eprintln!("a touch on A read on B after {took:?}");
}
