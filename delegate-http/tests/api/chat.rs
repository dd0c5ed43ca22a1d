//! Chat sessions and streamed AI replies through HTTP, against a local OpenAI-compatible
//! upstream driven by the real async-openai client.

use crate::helpers::{TestApp, assert_error, spawn_with, within};
use delegate_core::Secret;
use delegate_core::testing::upstream::{Behaviour, Reply, Upstream};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// An app whose AI provider is `upstream`, with a reply deadline of `timeout_secs`.
pub(crate) async fn chat_app(upstream: &Upstream, timeout_secs: u64) -> TestApp {
    let base = upstream.base_url();
    crate::helpers::spawn_on(
        &crate::helpers::Backing::new().await,
        move |c| {
            c.ai.base_url = Some(base);
            c.ai.api_key = Some(Secret::new("sk-test-key"));
            c.ai.timeout_secs = timeout_secs;
            c.ai.model = "test-model".into();
        },
        None,
    )
    .await
}

impl TestApp {
    pub(crate) async fn new_chat(&self, token: &str, body: Value) -> Value {
        let res = self
            .client
            .post(self.url("/api/v1/sessions"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    pub(crate) async fn send(&self, token: &str, session: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/sessions/{session}/messages")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn messages(&self, token: &str, session: &str) -> Vec<Value> {
        let res = self
            .get_auth(&format!("/api/v1/sessions/{session}/messages"), token)
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        body["items"].as_array().unwrap().clone()
    }
}

/// Reads a whole SSE body into `(event, data)` pairs.
pub(crate) async fn sse_events(res: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let text = res.text().await.unwrap();
    parse_sse(&text)
}

pub(crate) fn parse_sse(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            Some((event?, serde_json::from_str(&data).ok()?))
        })
        .collect()
}

#[tokio::test]
async fn sessions_and_messages_round_trip_as_json_and_sse() {
    let upstream = Upstream::start().await;
    let app = chat_app(&upstream, 10).await;
    let a = app.register("chat@example.com").await;
    let chat = app
        .new_chat(
            &a.access,
            json!({"title": "Plans", "systemPrompt": "Be brief."}),
        )
        .await;
    let id = chat["id"].as_str().unwrap();
    assert_eq!(chat["title"], "Plans");

    upstream.script(Reply::new("Hello there, Ada").in_chunks(3).usage(12, 4));
    let res = app.send(&a.access, id, json!({"content": "Hi!"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(sent["userMessage"]["content"], "Hi!");
    assert_eq!(sent["userMessage"]["role"], "user");
    assert_eq!(sent["assistantMessage"]["content"], "Hello there, Ada");
    assert_eq!(sent["assistantMessage"]["status"], "complete");
    assert_eq!(sent["usage"]["promptTokens"], 12);
    assert_eq!(sent["usage"]["totalTokens"], 16);
    let request = upstream.last_request().unwrap();
    assert_eq!(request.model(), Some("test-model"));
    let turns = request.messages();
    assert_eq!(
        turns.first().unwrap(),
        &("system".to_owned(), "Be brief.".to_owned())
    );
    assert_eq!(
        turns.last().unwrap(),
        &("user".to_owned(), "Hi!".to_owned())
    );

    upstream.script(Reply::new("Streaming works fine").in_chunks(3).usage(20, 5));
    let res = app
        .send(
            &a.access,
            id,
            json!({"content": "And streamed?", "stream": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let events = sse_events(res).await;
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"message"));
    assert_eq!(names.last(), Some(&"done"));
    let deltas: String = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "Streaming works fine");
    assert!(
        names.iter().filter(|n| **n == "delta").count() >= 2,
        "{names:?}"
    );
    let done = &events.last().unwrap().1;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["usage"]["completionTokens"], 5);
    // The second request carried the first exchange as context.
    let roles: Vec<String> = upstream
        .last_request()
        .unwrap()
        .messages()
        .into_iter()
        .map(|(role, _)| role)
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);

    let messages = app.messages(&a.access, id).await;
    let contents: Vec<&str> = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        [
            "Hi!",
            "Hello there, Ada",
            "And streamed?",
            "Streaming works fine"
        ]
    );

    let res = app
        .patch_auth(
            &format!("/api/v1/sessions/{id}"),
            &a.access,
            json!({"title": "Renamed"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let listed: Value = app
        .get_auth("/api/v1/sessions", &a.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["title"], "Renamed");
    let also: Value = app
        .get_auth("/api/v1/users/sessions", &a.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(also["items"], listed["items"]);

    let res = app
        .delete_auth(&format!("/api/v1/sessions/{id}"), &a.access)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .get_auth(&format!("/api/v1/sessions/{id}"), &a.access)
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let listed: Value = app
        .get_auth("/api/v1/sessions", &a.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn lists_page_with_cursors() {
    let upstream = Upstream::start().await;
    let app = chat_app(&upstream, 10).await;
    let a = app.register("pages@example.com").await;
    for i in 0..5 {
        app.new_chat(&a.access, json!({"title": format!("chat {i}")}))
            .await;
    }
    let first: Value = app
        .get_auth("/api/v1/sessions?limit=2", &a.access)
        .await
        .json()
        .await
        .unwrap();
    let titles = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(titles(&first), ["chat 4", "chat 3"]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second: Value = app
        .get_auth(
            &format!("/api/v1/sessions?limit=2&cursor={cursor}"),
            &a.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(titles(&second), ["chat 2", "chat 1"]);
    for bad in ["limit=0", "limit=101", "cursor=nope", "limit=abc"] {
        let res = app
            .get_auth(&format!("/api/v1/sessions?{bad}"), &a.access)
            .await;
        assert!(res.status().is_client_error(), "{bad}: {}", res.status());
    }
}

#[tokio::test]
async fn another_users_sessions_and_messages_are_unreachable() {
    let upstream = Upstream::start().await;
    let app = chat_app(&upstream, 10).await;
    let owner = app.register("owner@example.com").await;
    let other = app.register("other@example.com").await;
    let chat = app.new_chat(&owner.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let unknown = "01890a5d-ac96-774b-bcce-b302099a8057";
    for target in [id, unknown] {
        let path = format!("/api/v1/sessions/{target}");
        let res = app.get_auth(&path, &other.access).await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
        let res = app
            .get_auth(&format!("{path}/messages"), &other.access)
            .await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
        let res = app
            .patch_auth(&path, &other.access, json!({"title": "mine"}))
            .await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
        let res = app
            .send(&other.access, target, json!({"content": "hi"}))
            .await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
        let res = app.delete_auth(&path, &other.access).await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(upstream.request_count(), 0, "the provider was never called");
    let res = app
        .get_auth(&format!("/api/v1/sessions/{id}"), &owner.access)
        .await;
    assert_eq!(res.status(), StatusCode::OK, "untouched for its owner");
    let listed: Value = app
        .get_auth("/api/v1/sessions", &other.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn a_quota_is_enforced_before_the_provider_is_called() {
    let upstream = Upstream::start().await;
    upstream.set_default(Reply::new("ok").usage(3, 1));
    let base = upstream.base_url();
    let app = spawn_with(move |c| {
        c.ai.base_url = Some(base);
        c.quota.free.messages_per_day = 2;
    })
    .await;
    let a = app.register("quota@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    for _ in 0..2 {
        assert_eq!(
            app.send(&a.access, id, json!({"content": "hi"}))
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let res = app
        .send(&a.access, id, json!({"content": "one more"}))
        .await;
    assert!(res.headers().get("retry-after").is_some());
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    assert_eq!(upstream.request_count(), 2, "no provider call over quota");
    let usage: Value = app
        .get_auth("/api/v1/users/usage", &a.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage["tier"], "free");
    assert_eq!(usage["messages"]["used"], 2);
    assert_eq!(usage["messages"]["limit"], 2);
    assert_eq!(usage["tokens"]["used"], 8);
    assert_eq!(usage["promptTokens"], 6);
    assert_eq!(
        app.messages(&a.access, id).await.len(),
        4,
        "the refused message was not stored"
    );
}

#[tokio::test]
async fn a_500_before_the_first_token_gives_502_and_keeps_the_user_message() {
    let upstream = Upstream::start().await;
    upstream.set_default(Behaviour::fail(500));
    let app = chat_app(&upstream, 10).await;
    let a = app.register("fail@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let res = app
        .send(&a.access, id, json!({"content": "are you there?"}))
        .await;
    let body = assert_error(res, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert!(!body.to_string().contains("sk-test-key"));
    assert_eq!(
        upstream.request_count(),
        3,
        "retried twice before giving up"
    );
    let messages = app.messages(&a.access, id).await;
    assert_eq!(messages[0]["content"], "are you there?");
    assert_eq!(messages[0]["status"], "complete");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["status"], "failed");
}

#[tokio::test]
async fn a_stream_cut_midway_stores_a_partial_reply() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::from_chunks(["The ", "answer ", "is ", "forty-two."]).cut_after(2));
    let app = chat_app(&upstream, 10).await;
    let a = app.register("cut@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let res = app
        .send(
            &a.access,
            id,
            json!({"content": "question", "stream": true}),
        )
        .await;
    let events = sse_events(res).await;
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "error");
    assert_eq!(data["error"]["code"], "upstream_error");
    assert_eq!(data["assistantMessage"]["status"], "partial");
    assert_eq!(data["assistantMessage"]["content"], "The answer ");
    let messages = app.messages(&a.access, id).await;
    assert_eq!(messages[1]["status"], "partial");
    assert_eq!(messages[1]["content"], "The answer ");
}

#[tokio::test]
async fn a_timeout_marks_the_reply_failed_within_the_deadline() {
    let upstream = Upstream::start().await;
    upstream.set_default(Behaviour::HangAfterHeaders);
    let app = chat_app(&upstream, 1).await;
    let a = app.register("slow@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    let res = app.send(&a.access, id, json!({"content": "hello?"})).await;
    assert_error(res, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up near the 1 s deadline, not later"
    );
    let messages = app.messages(&a.access, id).await;
    assert_eq!(messages[1]["status"], "failed");
    assert!(
        upstream.wait_for_no_connections().await,
        "upstream request closed"
    );
}

#[tokio::test]
async fn a_client_disconnect_marks_the_reply_cancelled_and_closes_the_upstream() {
    let upstream = Upstream::start().await;
    upstream.script(
        Reply::new("one two three four five six seven eight")
            .delay_between(Duration::from_millis(300)),
    );
    let app = chat_app(&upstream, 30).await;
    let a = app.register("gone@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let res = app
        .send(
            &a.access,
            id,
            json!({"content": "talk slowly", "stream": true}),
        )
        .await;
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("event: delta") {
        let next = tokio::time::timeout(Duration::from_secs(20), body.next()).await;
        let chunk = next
            .expect("a delta within 20 s")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(body);
    assert!(
        upstream.wait_for_disconnects(1).await,
        "upstream connection closed"
    );
    let mut status = Value::Null;
    for _ in 0..200 {
        let messages = app.messages(&a.access, id).await;
        status = messages[1]["status"].clone();
        if status == "cancelled" {
            assert!(messages[1]["content"].as_str().unwrap().starts_with("one"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "cancelled");
}

#[tokio::test]
async fn without_a_provider_chat_answers_503_saying_what_to_set() {
    let app = spawn_with(|_| {}).await;
    let a = app.register("noai@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let res = app
        .send(
            &a.access,
            chat["id"].as_str().unwrap(),
            json!({"content": "hi"}),
        )
        .await;
    assert!(res.headers().get("retry-after").is_some());
    let body = assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "ai_not_configured").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("OPENAI_API_KEY") && message.contains("DELEGATE_AI_PROVIDER=echo"));
}

#[tokio::test]
async fn the_echo_provider_is_labelled_as_not_an_ai() {
    let app = spawn_with(|c| c.ai.provider = delegate_core::config::AiProviderKind::Echo).await;
    let a = app.register("echo@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let res = app
        .send(
            &a.access,
            chat["id"].as_str().unwrap(),
            json!({"content": "ping"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let sent: Value = res.json().await.unwrap();
    let reply = sent["assistantMessage"]["content"].as_str().unwrap();
    assert!(
        reply.contains("not an AI") && reply.ends_with("ping"),
        "{reply}"
    );
}

#[tokio::test]
async fn bad_message_bodies_get_422() {
    let upstream = Upstream::start().await;
    let app = chat_app(&upstream, 10).await;
    let a = app.register("bad@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    for content in [json!(""), json!("   "), json!("x".repeat(32_001))] {
        let res = app.send(&a.access, id, json!({"content": content})).await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
    let res = app
        .send(&a.access, id, json!({"text": "wrong field"}))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    assert_eq!(upstream.request_count(), 0);
}

#[tokio::test]
async fn deterministic_replies_are_cached_only_when_asked() {
    let upstream = Upstream::start().await;
    upstream.set_default(Reply::new("Paris is the capital of France").usage(9, 7));
    let ask = async |app: &TestApp, token: &str| -> Value {
        let chat = app
            .new_chat(token, json!({"systemPrompt": "Answer briefly."}))
            .await;
        let id = chat["id"].as_str().unwrap();
        let res = app
            .send(token, id, json!({"content": "Capital of France?"}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    };
    let base = upstream.base_url();
    let cached = spawn_with(move |c| {
        c.ai.base_url = Some(base);
        c.ai.temperature = Some(0.0);
        c.ai.response_cache = true;
    })
    .await;
    let a = cached.register("cache@example.com").await;
    let first = ask(&cached, &a.access).await;
    let second = ask(&cached, &a.access).await;
    assert_eq!(
        upstream.request_count(),
        1,
        "the second answer came from the cache"
    );
    assert_eq!(
        second["assistantMessage"]["content"],
        first["assistantMessage"]["content"]
    );
    assert_eq!(first["usage"]["totalTokens"], 16);
    assert_eq!(
        second["usage"]["totalTokens"], 0,
        "a cached reply costs no tokens"
    );
    assert_eq!(upstream.last_request().unwrap().body["temperature"], 0.0);

    // Off by default, even at temperature 0.
    let base = upstream.base_url();
    let plain = spawn_with(move |c| {
        c.ai.base_url = Some(base);
        c.ai.temperature = Some(0.0);
    })
    .await;
    let b = plain.register("nocache@example.com").await;
    ask(&plain, &b.access).await;
    ask(&plain, &b.access).await;
    assert_eq!(upstream.request_count(), 3);
}

/// Scale-out: the cached quota totals and session ownership are shared state. Usage metered
/// on one instance is counted by the other's quota check, and a chat deleted on one instance
/// is gone on the other, though both had it cached.
#[tokio::test]
async fn quotas_and_deleted_chats_hold_across_instances() {
    let upstream = Upstream::start().await;
    upstream.set_default(Reply::new("ok").usage(3, 1));
    let backing = crate::helpers::Backing::scaleout_default().await;
    let instance = async || {
        let base = upstream.base_url();
        crate::helpers::spawn_on(
            &backing,
            move |c| {
                c.ai.base_url = Some(base);
                c.ai.api_key = Some(Secret::new("sk-test-key"));
                c.quota.free.messages_per_day = 2;
            },
            None,
        )
        .await
    };
    let (a, b) = (instance().await, instance().await);
    let user = a.register("two-instances@example.com").await;
    let chat = a.new_chat(&user.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let used = async |app: &TestApp| -> Value {
        let res = app.get_auth("/api/v1/users/usage", &user.access).await;
        res.json::<Value>().await.unwrap()["messages"]["used"].clone()
    };
    // B caches the (empty) totals and the chat's owner before A does anything.
    assert_eq!(used(&b).await, 0);
    assert!(b.messages(&user.access, id).await.is_empty());

    for _ in 0..2 {
        let res = a.send(&user.access, id, json!({"content": "hi"})).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    within(async || used(&b).await == 2)
        .await
        .expect("B counts what A metered");
    let res = b
        .send(&user.access, id, json!({"content": "one more"}))
        .await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    assert_eq!(upstream.request_count(), 2, "no provider call over quota");

    let res = a
        .delete_auth(&format!("/api/v1/sessions/{id}"), &user.access)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let path = format!("/api/v1/sessions/{id}/messages");
    within(async || b.get_auth(&path, &user.access).await.status() == StatusCode::NOT_FOUND)
        .await
        .expect("B forgets the deleted chat");
}
