//! /api/v1/admin users, audit and cache: search, inspect, tier/role/disabled changes that
//! apply at once, sign-out everywhere, deletion of everything an account owns, the last-admin
//! guard, and the audit trail of admin actions and security events.

use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_app, spawn_with};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn json_ok(res: Response) -> Value {
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn user_id(app: &TestApp, token: &str) -> String {
    let me = json_ok(app.get_auth("/api/v1/auth/me", token).await).await;
    me["user"]["id"].as_str().unwrap().to_owned()
}

async fn audit(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let page = json_ok(
        app.get_auth(&format!("/api/v1/admin/audit?{query}"), admin)
            .await,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn admins_search_and_page_accounts_by_prefix_tier_role_and_disabled() {
    let app = spawn_app().await;
    let admin = app.register_admin("root@example.com").await;
    for email in ["ada@example.com", "adam@example.com", "bob@example.com"] {
        app.register(email).await;
    }
    let emails = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    let page = json_ok(app.get_auth("/api/v1/admin/users?q=ADA", &admin).await).await;
    assert_eq!(emails(&page), ["ada@example.com", "adam@example.com"]);
    assert_eq!(page["items"][0]["disabled"], false);
    assert!(page["items"][0]["updatedAt"].is_string());
    let page = json_ok(app.get_auth("/api/v1/admin/users?role=admin", &admin).await).await;
    assert_eq!(emails(&page), ["root@example.com"]);
    // Paging: two at a time, in creation order, until nextCursor is null.
    let mut seen = Vec::new();
    let mut url = "/api/v1/admin/users?limit=2".to_owned();
    loop {
        let page = json_ok(app.get_auth(&url, &admin).await).await;
        seen.extend(emails(&page));
        match page["nextCursor"].as_str() {
            Some(cursor) => url = format!("/api/v1/admin/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "root@example.com",
            "ada@example.com",
            "adam@example.com",
            "bob@example.com"
        ]
    );
    // A query that does not parse is a 400; a value out of range, a 422.
    for bad in ["tier=gold", "role=root", "disabled=maybe"] {
        let res = app
            .get_auth(&format!("/api/v1/admin/users?{bad}"), &admin)
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    for bad in ["limit=0", "limit=101", "cursor=x"] {
        let res = app
            .get_auth(&format!("/api/v1/admin/users?{bad}"), &admin)
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn an_admin_sees_an_account_with_its_usage_and_live_sessions() {
    let app = spawn_app().await;
    let admin = app.register_admin("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    app.login("ada@example.com", "phone").await;
    let id = user_id(&app, &ada.access).await;
    let detail = json_ok(
        app.get_auth(&format!("/api/v1/admin/users/{id}"), &admin)
            .await,
    )
    .await;
    assert_eq!(detail["email"], "ada@example.com");
    assert_eq!(detail["liveSessions"], 2);
    assert_eq!(detail["usage"]["tier"], "free");
    assert_eq!(detail["usage"]["messages"]["used"], 0);
    for missing in [uuid_like(), "not-a-uuid".to_owned()] {
        let res = app
            .get_auth(&format!("/api/v1/admin/users/{missing}"), &admin)
            .await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}

fn uuid_like() -> String {
    "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee".to_owned()
}

#[tokio::test]
async fn tier_and_role_changes_apply_to_the_next_request_and_are_audited() {
    let app = spawn_app().await;
    let admin = app.register_admin("root@example.com").await;
    let admin_id = user_id(&app, &admin).await;
    let ada = app.register("ada@example.com").await;
    let id = user_id(&app, &ada.access).await;
    let path = format!("/api/v1/admin/users/{id}");
    let res = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"tier": "pro"})),
    )
    .await;
    let body = json_ok(res).await;
    assert_eq!(body["tier"], "pro");
    let usage = json_ok(app.get_auth("/api/v1/users/usage", &ada.access).await).await;
    assert_eq!(
        usage["tier"], "pro",
        "the caller's own token sees it at once"
    );
    // Promoted, Ada reaches the admin routes with the token she already has.
    let res = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(json_ok(res).await["role"], "admin");
    let res = app.get_auth("/api/v1/admin/users", &ada.access).await;
    assert_eq!(res.status(), StatusCode::OK);

    let events = audit(&app, &admin, &format!("userId={id}")).await;
    assert_eq!(
        kinds(&events)[..2],
        ["user.role_changed", "user.tier_changed"]
    );
    assert_eq!(
        events[1]["detail"],
        json!({"before": "free", "after": "pro"})
    );
    assert_eq!(
        events[1]["actor"],
        json!({"type": "user", "userId": admin_id})
    );
    assert_eq!(events[1]["targetUserId"], id);
    // Wrong values are 422s naming the field; unknown fields and ids are refused.
    for (body, field) in [
        (json!({"tier": "gold"}), "tier"),
        (json!({"role": "root"}), "role"),
        (json!({"disabled": "yes"}), "disabled"),
    ] {
        let res = call(&app, Method::PATCH, &path, &admin, Some(body)).await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
        assert!(err.to_string().contains(field), "{err}");
    }
    let res = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"email": "x@y.z"})),
    )
    .await;
    assert!(res.status().is_client_error());
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/users/{}", uuid_like()),
        &admin,
        Some(json!({"tier": "pro"})),
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_refresh_or_use_live_tokens_until_enabled() {
    let app = spawn_app().await;
    let admin = app.register_admin("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let id = user_id(&app, &ada.access).await;
    let path = format!("/api/v1/admin/users/{id}");
    let res = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(json_ok(res).await["disabled"], true);

    let res = app.get_auth("/api/v1/auth/me", &ada.access).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "live token dead at once"
    );
    let res = app.refresh(&ada.refresh).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    let res = app.post("/api/v1/auth/login", login.clone()).await;
    assert_error(res, StatusCode::FORBIDDEN, "account_disabled").await;
    // A wrong password still says only "invalid credentials".
    let wrong = json!({"email": "ada@example.com", "password": "not the password at all"});
    let res = app.post("/api/v1/auth/login", wrong).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let page = json_ok(
        app.get_auth("/api/v1/admin/users?disabled=true", &admin)
            .await,
    )
    .await;
    assert_eq!(page["items"][0]["id"], id);

    let res = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(json_ok(res).await["disabled"], false);
    let res = app.post("/api/v1/auth/login", login).await;
    assert_eq!(res.status(), StatusCode::OK);
    let events = audit(&app, &admin, &format!("userId={id}")).await;
    let kinds = kinds(&events);
    for kind in ["user.disabled", "user.enabled", "login.failed"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let disabled = events
        .iter()
        .find(|e| e["kind"] == "user.disabled")
        .unwrap();
    assert_eq!(disabled["detail"]["revokedSessions"], 1);
}

#[tokio::test]
async fn admins_cannot_lock_themselves_out_and_another_admin_can_demote_them() {
    let app = spawn_app().await;
    let admin = app.register_admin("root@example.com").await;
    let id = user_id(&app, &admin).await;
    let path = format!("/api/v1/admin/users/{id}");
    // Over HTTP the acting admin is always an enabled admin, so the last admin is always
    // the caller: refused as their own account (the store's last-admin guard is the backstop,
    // and what the CLI meets).
    for body in [json!({"role": "user"}), json!({"disabled": true})] {
        let res = call(&app, Method::PATCH, &path, &admin, Some(body)).await;
        assert_error(res, StatusCode::CONFLICT, "own_account").await;
    }
    let res = call(&app, Method::DELETE, &path, &admin, None).await;
    assert_error(res, StatusCode::CONFLICT, "own_account").await;
    let res = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"tier": "pro"})),
    )
    .await;
    assert_eq!(json_ok(res).await["tier"], "pro", "their own tier is fine");
    let res = call(&app, Method::PATCH, &path, &admin, None).await;
    assert!(res.status().is_client_error(), "a PATCH needs a body");
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &admin).await.status(),
        StatusCode::OK
    );
    // A second admin may demote the first.
    let second = app.register_admin("second@example.com").await;
    let res = call(
        &app,
        Method::PATCH,
        &path,
        &second,
        Some(json!({"role": "user"})),
    )
    .await;
    assert_eq!(json_ok(res).await["role"], "user");
    let res = app.get_auth("/api/v1/admin/users", &admin).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn logout_all_by_an_admin_ends_every_session_of_the_user() {
    let app = spawn_app().await;
    let admin = app.register_admin("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let phone = app.login("ada@example.com", "phone").await;
    let id = user_id(&app, &ada.access).await;
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/users/{id}/logout-all"),
        &admin,
        None,
    )
    .await;
    assert_eq!(json_ok(res).await, json!({"revoked": 2}));
    for token in [&ada.access, &phone.access] {
        let res = app.get_auth("/api/v1/auth/me", token).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    }
    assert_eq!(
        app.refresh(&phone.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // She can sign in again.
    app.login("ada@example.com", "laptop").await;
    let events = audit(&app, &admin, "kind=sessions.revoked").await;
    assert_eq!(events[0]["detail"]["count"], 2);
    assert_eq!(events[0]["targetUserId"], id);
}

#[tokio::test]
async fn deleting_a_user_erases_the_account_and_everything_it_owns() {
    let app = spawn_with(|c| c.ai.provider = delegate_core::config::AiProviderKind::Echo).await;
    let admin = app.register_admin("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let id = user_id(&app, &ada.access).await;
    let res = app
        .client
        .post(app.url("/api/v1/sessions"))
        .bearer_auth(&ada.access)
        .json(&json!({"title": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let chat: Value = res.json().await.unwrap();
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/sessions/{chat_id}/messages")))
        .bearer_auth(&ada.access)
        .json(&json!({"content": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let res = app
        .client
        .post(app.url("/api/v1/transcripts"))
        .bearer_auth(&ada.access)
        .json(&json!({"title": "kept?", "content": "no: erased with the account"}))
        .send()
        .await
        .unwrap();
    let transcript: Value = res.json().await.unwrap();
    let transcript =
        delegate_core::TranscriptId::parse(transcript["id"].as_str().unwrap()).unwrap();

    let path = format!("/api/v1/admin/users/{id}");
    let res = call(&app, Method::DELETE, &path, &admin, None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get_auth("/api/v1/auth/me", &ada.access).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh(&ada.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = app.get_auth(&path, &admin).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let user = delegate_core::UserId::parse(&id).unwrap();
    let chat = delegate_core::ChatSessionId::parse(&chat_id).unwrap();
    assert!(
        app.delegate
            .chat()
            .get_chat_session(user, chat)
            .await
            .is_err()
    );
    assert!(
        app.delegate
            .transcripts()
            .get(user, transcript)
            .await
            .is_err(),
        "transcripts go with the account"
    );
    let res = call(&app, Method::DELETE, &path, &admin, None).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // The email is free again; the trail keeps the id, not the address.
    app.register("ada@example.com").await;
    let events = audit(&app, &admin, "kind=user.deleted").await;
    assert_eq!(events[0]["targetUserId"], id);
    assert!(!events[0].to_string().contains("ada@example.com"));
}

#[tokio::test]
async fn security_events_are_in_the_audit_trail() {
    let app = spawn_with(|c| {
        c.auth.login_backoff.free_failures = 1;
        c.auth.refresh_grace_secs = 0;
    })
    .await;
    let admin = app.register_admin("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let id = user_id(&app, &ada.access).await;
    // Refresh reuse: rotate once, then present the spent token again.
    let phone = app.login("ada@example.com", "phone").await;
    assert_eq!(app.refresh(&phone.refresh).await.status(), StatusCode::OK);
    app.clock.advance(std::time::Duration::from_secs(5));
    let res = app.refresh(&phone.refresh).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    // Two wrong passwords: a failure each, and past the free one a lock.
    let wrong = json!({"email": "ada@example.com", "password": "not the password at all"});
    for _ in 0..2 {
        app.post("/api/v1/auth/login", wrong.clone()).await;
    }
    let res = app
        .client
        .post(app.url("/api/v1/auth/password"))
        .bearer_auth(&ada.access)
        .json(&json!({"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.post_auth("/api/v1/auth/logout-all", &ada.access).await;
    assert_eq!(res.status(), StatusCode::OK);

    let events = audit(&app, &admin, &format!("userId={id}&limit=100")).await;
    let kinds = kinds(&events);
    for kind in [
        "login.failed",
        "login.locked",
        "refresh.reused",
        "password.changed",
        "sessions.revoked",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let failed = events.iter().find(|e| e["kind"] == "login.failed").unwrap();
    assert_eq!(failed["actor"]["type"], "anonymous");
    assert!(failed["ip"].is_string(), "{failed}");
    let text = serde_json::to_string(&events).unwrap();
    for secret in [
        PASSWORD,
        "not the password",
        &phone.refresh,
        "ada@example.com",
    ] {
        assert!(!text.contains(secret), "the trail never holds {secret}");
    }
    // Filters: kind, and a time window that holds nothing.
    let locked = audit(&app, &admin, "kind=login.locked").await;
    assert!(locked.iter().all(|e| e["kind"] == "login.locked") && !locked.is_empty());
    let none = audit(
        &app,
        &admin,
        "from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z",
    )
    .await;
    assert!(none.is_empty());
    for bad in [
        "kind=nope",
        "userId=x",
        "from=yesterday",
        "limit=0",
        "cursor=x",
    ] {
        let res = app
            .get_auth(&format!("/api/v1/admin/audit?{bad}"), &admin)
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn cache_stats_count_hits_and_misses_and_a_clear_empties_a_namespace() {
    let app = spawn_app().await;
    let admin = app.register_admin("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    for _ in 0..3 {
        let res = app.get_auth("/api/v1/users/profile", &ada.access).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let stats = json_ok(app.get_auth("/api/v1/admin/cache/stats", &admin).await).await;
    let layers = stats["layers"].as_array().unwrap();
    assert_eq!(layers[0]["layer"], "in_process");
    let user_ns = |stats: &Value| -> Value {
        stats["layers"][0]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["namespace"] == "user")
            .cloned()
            .unwrap_or(Value::Null)
    };
    let users = user_ns(&stats);
    let misses = users["misses"].as_u64().unwrap();
    assert!(users["hits"].as_u64().unwrap() >= 2, "{stats}");
    assert!(users["entries"].as_u64().unwrap() >= 1, "{stats}");
    let rate = users["hitRate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&rate));

    let res = call(
        &app,
        Method::POST,
        "/api/v1/admin/cache/clear",
        &admin,
        Some(json!({"pattern": "user:*"})),
    )
    .await;
    assert!(json_ok(res).await["removed"].as_u64().unwrap() >= 1);
    // Ada's profile is gone: her next request misses (and reloads it).
    let res = app.get_auth("/api/v1/users/profile", &ada.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let stats = json_ok(app.get_auth("/api/v1/admin/cache/stats", &admin).await).await;
    assert!(
        user_ns(&stats)["misses"].as_u64().unwrap() > misses,
        "{stats}"
    );
    for bad in [
        json!({"pattern": ""}),
        json!({"pattern": "user:[a]"}),
        json!({}),
    ] {
        let res = call(
            &app,
            Method::POST,
            "/api/v1/admin/cache/clear",
            &admin,
            Some(bad),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let events = audit(&app, &admin, "kind=cache.cleared").await;
    assert_eq!(events[0]["detail"]["pattern"], "user:*");
}
