//! What one user can make the operator spend (models by tier, the output cap, replies at
//! once, quotas under concurrency), and a streamed reply that starts before the provider
//! answers.

use crate::chat::{chat_app, parse_sse};
use crate::helpers::{Backing, TestApp, assert_error, spawn_on, within};
use delegate_core::testing::upstream::{Behaviour, Reply, Upstream};
use delegate_core::{Delegate, Secret, Tier, UserId};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// An app on `upstream` with the config adjusted.
async fn app_on(upstream: &Upstream, adjust: impl FnOnce(&mut delegate_core::Config)) -> TestApp {
    let base = upstream.base_url();
    spawn_on(
        &Backing::new().await,
        move |c| {
            c.ai.base_url = Some(base);
            c.ai.api_key = Some(Secret::new("sk-test-key"));
            c.ai.model = "test-model".into();
            c.ai.max_retries = 0;
            c.rate_limit.max_requests = 10_000;
            adjust(c);
        },
        None,
    )
    .await
}

/// Sets the caller's tier from another process on the same store (as an operator's CLI
/// would), and waits until the app serves it.
async fn set_tier(app: &TestApp, access: &str, tier: Tier) {
    let me = async || -> Value {
        app.get_auth("/api/v1/auth/me", access)
            .await
            .json()
            .await
            .unwrap()
    };
    let id = UserId::parse(me().await["user"]["id"].as_str().unwrap()).unwrap();
    let operator = Delegate::connect(app.backing.config()).await.unwrap();
    operator.users().set_tier(id, tier).await.unwrap();
    let seen = within(async || me().await["user"]["tier"] == tier.as_str()).await;
    assert!(seen.is_some(), "the app serves the new tier");
}

/// Reads SSE frames from `body` until one named `event` arrives; returns what was read.
async fn read_until<B: AsRef<[u8]>>(
    body: &mut (impl futures::Stream<Item = reqwest::Result<B>> + Unpin),
    event: &str,
) -> String {
    let mut seen = String::new();
    while !seen.contains(&format!("event: {event}")) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .unwrap_or_else(|_| panic!("no `{event}` within 10 s; read: {seen}"))
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
    seen
}

#[tokio::test]
async fn models_are_an_allow_list_per_tier_and_every_request_caps_the_output() {
    let upstream = Upstream::start().await;
    upstream.set_default(Reply::new("fine"));
    let app = app_on(&upstream, |c| {
        c.ai.tiers.free.max_output_tokens = 123;
        c.ai.tiers.pro.models = vec!["test-model".into(), "big-model".into()];
        c.ai.tiers.pro.max_output_tokens = 456;
        c.rate_limit.auth_max_requests = 100;
    })
    .await;
    let free = app.register("tiers@example.com").await;
    let res = app
        .client
        .post(app.url("/api/v1/sessions"))
        .bearer_auth(&free.access)
        .json(&json!({"model": "big-model"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "model");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("test-model"),
        "names the allowed models: {body}"
    );
    let chat = app.new_chat(&free.access, json!({})).await;
    let res = app
        .send(
            &free.access,
            chat["id"].as_str().unwrap(),
            json!({"content": "hi"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let sent = upstream.last_request().unwrap();
    assert_eq!(sent.model(), Some("test-model"));
    assert_eq!(sent.body["max_completion_tokens"], 123);

    // A pro user may use the bigger model, with the pro cap: at once, with the same token.
    set_tier(&app, &free.access, Tier::Pro).await;
    let pro = &free;
    let big = app
        .new_chat(&pro.access, json!({"model": "big-model"}))
        .await;
    let big_id = big["id"].as_str().unwrap();
    let res = app
        .send(&pro.access, big_id, json!({"content": "hi"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let sent = upstream.last_request().unwrap();
    assert_eq!(sent.model(), Some("big-model"));
    assert_eq!(sent.body["max_completion_tokens"], 456);

    // Back on free, that chat's model is refused before any provider call.
    set_tier(&app, &free.access, Tier::Free).await;
    let downgraded = &free;
    let calls = upstream.request_count();
    let res = app
        .send(&downgraded.access, big_id, json!({"content": "hi"}))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(upstream.request_count(), calls);
}

#[tokio::test]
async fn parallel_sends_with_one_message_left_give_one_reply() {
    let upstream = Upstream::start().await;
    upstream.set_default(Reply::new("only one").delay_first(Duration::from_millis(200)));
    let app = app_on(&upstream, |c| {
        c.quota.free.messages_per_day = 3;
        c.ai.tiers.free.max_concurrent_replies = 20;
    })
    .await;
    let a = app.register("last@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    for _ in 0..2 {
        let res = app.send(&a.access, id, json!({"content": "one"})).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let sends = (0..8).map(|_| app.send(&a.access, id, json!({"content": "race"})));
    let answers = futures::future::join_all(sends).await;
    let mut created = 0;
    for res in answers {
        match res.status() {
            StatusCode::CREATED => created += 1,
            _ => {
                assert_error(res, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
            }
        }
    }
    assert_eq!(created, 1, "one message was left");
    assert_eq!(
        upstream.request_count(),
        3,
        "the provider was called once more"
    );
}

#[tokio::test]
async fn replies_streaming_at_once_are_capped_per_user() {
    let upstream = Upstream::start().await;
    upstream.set_default(Behaviour::HangAfterHeaders);
    let app = app_on(&upstream, |c| c.ai.tiers.free.max_concurrent_replies = 2).await;
    let a = app.register("busy@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let mut open = Vec::new();
    for _ in 0..2 {
        let res = app
            .send(&a.access, id, json!({"content": "wait", "stream": true}))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let mut body = res.bytes_stream();
        read_until(&mut body, "message").await;
        open.push(body);
    }
    let res = app.send(&a.access, id, json!({"content": "third"})).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // One client goes away: its reply is settled and the place frees up.
    drop(open.pop());
    let freed = within(async || {
        let res = app
            .send(&a.access, id, json!({"content": "again", "stream": true}))
            .await;
        res.status() == StatusCode::OK
    })
    .await;
    assert!(freed.is_some(), "a place freed once a reply ended");
}

#[tokio::test]
async fn a_stream_starts_before_the_provider_answers_and_a_client_gone_first_cancels_it() {
    let upstream = Upstream::start().await;
    upstream.set_default(Behaviour::Hang);
    let app = chat_app(&upstream, 60).await;
    let a = app.register("early@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let res = app
        .send(
            &a.access,
            id,
            json!({"content": "anyone there?", "stream": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.bytes_stream();
    // The stored user message arrives though the provider has not said a word.
    let seen = read_until(&mut body, "message").await;
    let events = parse_sse(&seen);
    assert_eq!(events[0].0, "message");
    assert_eq!(events[0].1["content"], "anyone there?");
    assert!(upstream.wait_for_requests(1).await);
    // Gone before the first token: the reply is cancelled, the upstream request closed.
    drop(body);
    assert!(upstream.wait_for_disconnects(1).await, "upstream closed");
    let cancelled = within(async || {
        let messages = app.messages(&a.access, id).await;
        messages.get(1).is_some_and(|m| m["status"] == "cancelled")
    })
    .await;
    assert!(cancelled.is_some(), "the reply is stored as cancelled");
}

#[tokio::test]
async fn a_provider_failure_before_the_first_token_is_an_error_event_by_the_deadline() {
    let upstream = Upstream::start().await;
    let app = app_on(&upstream, |c| c.ai.timeout_secs = 1).await;
    let a = app.register("fails@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    for behaviour in [Behaviour::from(Behaviour::fail(500)), Behaviour::Hang] {
        upstream.script(behaviour);
        let started = std::time::Instant::now();
        let res = app
            .send(&a.access, id, json!({"content": "hello", "stream": true}))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let events = parse_sse(&res.text().await.unwrap());
        let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(names, ["message", "error"], "{events:?}");
        assert_eq!(events[1].1["error"]["code"], "upstream_error");
        assert_eq!(events[1].1["assistantMessage"]["status"], "failed");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the error came by the 1 s deadline, not long after"
        );
    }
    // The JSON variant keeps its 502.
    upstream.script(Behaviour::fail(500));
    let res = app
        .send(&a.access, id, json!({"content": "json please"}))
        .await;
    assert_error(res, StatusCode::BAD_GATEWAY, "upstream_error").await;
}
