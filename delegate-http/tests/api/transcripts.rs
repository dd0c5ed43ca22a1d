//! /api/v1/transcripts: saved from a chat or by hand, listed with excerpts, read, changed,
//! deleted, exported in each format, searched with each query form — always the caller's own,
//! and no query, however hostile, answers a 5xx or another user's data.

use crate::helpers::{Account, TestApp, assert_error, spawn_with};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

async fn app() -> TestApp {
    spawn_with(|c| c.ai.provider = delegate_core::config::AiProviderKind::Echo).await
}

async fn post(app: &TestApp, who: &Account, path: &str, body: Value) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(&who.access)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn manual(app: &TestApp, who: &Account, title: &str, content: &str, tags: &[&str]) -> Value {
    let res = post(
        app,
        who,
        "/api/v1/transcripts",
        json!({"title": title, "content": content, "tags": tags}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn search(app: &TestApp, who: &Account, q: &str) -> Response {
    app.client
        .get(app.url("/api/v1/transcripts/search"))
        .query(&[("q", q)])
        .bearer_auth(&who.access)
        .send()
        .await
        .unwrap()
}

async fn titles(res: Response) -> Vec<String> {
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["transcript"]["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_transcript_is_built_from_a_chat_with_speakers_and_times() {
    let app = app().await;
    let ada = app.register("ada@example.com").await;
    let res = post(
        &app,
        &ada,
        "/api/v1/sessions",
        json!({"title": "Trip ideas"}),
    )
    .await;
    let chat: Value = res.json().await.unwrap();
    let chat_id = chat["id"].as_str().unwrap();
    let res = post(
        &app,
        &ada,
        &format!("/api/v1/sessions/{chat_id}/messages"),
        json!({"content": "Where should I go in Lisbon?"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = post(
        &app,
        &ada,
        "/api/v1/transcripts",
        json!({"sessionId": chat_id, "tags": ["Travel"]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["title"], "Trip ideas");
    assert_eq!(t["source"], "chat");
    assert_eq!(t["sessionId"], chat_id);
    assert_eq!(t["tags"], json!(["travel"]));
    let content = t["content"].as_str().unwrap();
    assert!(
        content.contains("User: Where should I go in Lisbon?"),
        "{content}"
    );
    assert!(content.contains("Assistant: "), "{content}");
    assert!(content.contains(" UTC] "), "timestamps kept: {content}");
    assert!(t["wordCount"].as_u64().unwrap() > 5);
    // Another user's chat, an unknown one and an empty one.
    let bob = app.register("bob@example.com").await;
    let res = post(
        &app,
        &bob,
        "/api/v1/transcripts",
        json!({"sessionId": chat_id}),
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = post(
        &app,
        &ada,
        "/api/v1/transcripts",
        json!({"sessionId": "not-a-uuid"}),
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = post(&app, &ada, "/api/v1/sessions", json!({"title": "empty"})).await;
    let empty: Value = res.json().await.unwrap();
    let res = post(
        &app,
        &ada,
        "/api/v1/transcripts",
        json!({"sessionId": empty["id"]}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
}

#[tokio::test]
async fn manual_transcripts_are_listed_read_changed_exported_and_deleted_by_their_owner_only() {
    let app = app().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let long = "word ".repeat(100);
    let t = manual(
        &app,
        &ada,
        "Design notes",
        &long,
        &["Work", "work", "ideas"],
    )
    .await;
    assert_eq!(t["tags"], json!(["work", "ideas"]), "lowercased, distinct");
    let id = t["id"].as_str().unwrap().to_owned();
    manual(&app, &ada, "Shopping", "milk eggs", &["home"]).await;

    let list: Value = app
        .get_auth("/api/v1/transcripts", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["title"], "Shopping", "newest first");
    assert!(
        items[1].get("content").is_none(),
        "an excerpt, not the content"
    );
    assert!(items[1]["excerpt"].as_str().unwrap().ends_with('…'));
    let work: Value = app
        .get_auth("/api/v1/transcripts?tag=work", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(work["items"].as_array().unwrap().len(), 1);
    let none: Value = app
        .get_auth(
            "/api/v1/transcripts?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z",
            &ada.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(none["items"].as_array().unwrap().is_empty());
    let bobs: Value = app
        .get_auth("/api/v1/transcripts", &bob.access)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        bobs["items"].as_array().unwrap().is_empty(),
        "B sees none of A's"
    );

    let path = format!("/api/v1/transcripts/{id}");
    let got: Value = app.get_auth(&path, &ada.access).await.json().await.unwrap();
    assert_eq!(got["content"], long);
    assert_error(
        app.get_auth(&path, &bob.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&ada.access)
        .json(&json!({"title": "Design notes v2", "content": "short now"}))
        .send()
        .await
        .unwrap();
    let patched: Value = res.json().await.unwrap();
    assert_eq!(
        (patched["title"].as_str(), patched["wordCount"].as_u64()),
        (Some("Design notes v2"), Some(2))
    );
    assert_eq!(patched["tags"], json!(["work", "ideas"]));
    // The cached list follows the change.
    let list: Value = app
        .get_auth("/api/v1/transcripts", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][1]["title"], "Design notes v2");
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&bob.access)
        .json(&json!({"title": "mine now"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    for (format, content_type, needle) in [
        ("markdown", "text/markdown", "# Design notes v2"),
        ("text", "text/plain", "Design notes v2\n==="),
        ("json", "application/json", "\"wordCount\": 2"),
    ] {
        let res = app
            .get_auth(&format!("{path}/export?format={format}"), &ada.access)
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{format}");
        let headers = res.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type)
        );
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\"design-notes-v2."),
            "{disposition}"
        );
        assert!(res.text().await.unwrap().contains(needle), "{format}");
    }
    let res = app
        .get_auth(&format!("{path}/export?format=pdf"), &ada.access)
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.get_auth(&format!("{path}/export"), &bob.access).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    assert_error(
        app.delete_auth(&path, &bob.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.delete_auth(&path, &ada.access).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get_auth(&path, &ada.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Size limits and bad input are 422s naming the field.
    for (body, field) in [
        (json!({"title": "", "content": "x"}), "title"),
        (json!({"title": "x".repeat(201), "content": "x"}), "title"),
        (json!({"title": "t", "content": "  "}), "content"),
        (
            json!({"title": "t", "content": "x".repeat(200_001)}),
            "content",
        ),
        (
            json!({"title": "t", "content": "x", "tags": ["x".repeat(51)]}),
            "tags",
        ),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/transcripts"))
            .bearer_auth(&ada.access)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{field}: {}", res.status());
        if res.status() == StatusCode::UNPROCESSABLE_ENTITY {
            let err: Value = res.json().await.unwrap();
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}

#[tokio::test]
async fn search_ranks_the_callers_transcripts_with_snippets_and_highlights() {
    let app = app().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    manual(
        &app,
        &ada,
        "Kubernetes upgrade",
        "We move the cluster to the new version.",
        &["ops"],
    )
    .await;
    manual(
        &app,
        &ada,
        "Weekly sync",
        "Budgets, hiring, and the kubernetes migration plan.",
        &[],
    )
    .await;
    manual(
        &app,
        &ada,
        "Garden",
        "Tomatoes and basil; the delegate plan for spring.",
        &[],
    )
    .await;
    manual(
        &app,
        &bob,
        "Bob kubernetes",
        "kubernetes kubernetes kubernetes",
        &[],
    )
    .await;

    assert_eq!(
        titles(search(&app, &ada, "kubernetes ").await).await,
        ["Kubernetes upgrade", "Weekly sync"]
    );
    assert_eq!(
        titles(search(&app, &bob, "kubernetes").await).await,
        ["Bob kubernetes"]
    );
    assert_eq!(
        titles(search(&app, &ada, "\"migration plan\"").await).await,
        ["Weekly sync"]
    );
    assert_eq!(
        titles(search(&app, &ada, "plan -kubernetes").await).await,
        ["Garden"]
    );
    assert_eq!(titles(search(&app, &ada, "deleg*").await).await, ["Garden"]);
    assert_eq!(
        titles(search(&app, &ada, "basil OR cluster ").await)
            .await
            .len(),
        2
    );
    assert_eq!(
        titles(search(&app, &ada, "tomat").await).await,
        ["Garden"],
        "the last word while typing"
    );
    let res = app
        .client
        .get(app.url("/api/v1/transcripts/search"))
        .query(&[("q", "kubernetes"), ("tag", "ops")])
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(titles(res).await, ["Kubernetes upgrade"]);

    let body: Value = search(&app, &ada, "migration").await.json().await.unwrap();
    let hit = &body["items"][0];
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    let snippet = hit["snippet"].as_str().unwrap();
    let chars: Vec<char> = snippet.chars().collect();
    let [start, end] = [
        hit["highlights"][0][0].as_u64().unwrap() as usize,
        hit["highlights"][0][1].as_u64().unwrap() as usize,
    ];
    assert_eq!(chars[start..end].iter().collect::<String>(), "migration");
    assert!(hit["transcript"].get("content").is_none());

    // Paging: one at a time, the cursor continues the ranking.
    let res = app
        .client
        .get(app.url("/api/v1/transcripts/search"))
        .query(&[("q", "kubernetes "), ("limit", "1")])
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    let first: Value = res.json().await.unwrap();
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let res = app
        .client
        .get(app.url("/api/v1/transcripts/search"))
        .query(&[
            ("q", "kubernetes "),
            ("limit", "1"),
            ("cursor", cursor.as_str()),
        ])
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(titles(res).await, ["Weekly sync"]);
}

/// The highlighted words of the first hit of `q`, as they are written in its snippet.
async fn highlighted(app: &TestApp, who: &Account, q: &str) -> Vec<String> {
    let body: Value = search(app, who, q).await.json().await.unwrap();
    let hit = &body["items"][0];
    let chars: Vec<char> = hit["snippet"].as_str().unwrap().chars().collect();
    hit["highlights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|range| {
            let start = range[0].as_u64().unwrap() as usize;
            let end = range[1].as_u64().unwrap() as usize;
            chars[start..end].iter().collect()
        })
        .collect()
}

#[tokio::test]
async fn search_folds_accents_and_stems_and_highlights_what_it_matched() {
    let app = app().await;
    let ada = app.register("ada@example.com").await;
    manual(
        &app,
        &ada,
        "Café opening",
        "We were planning the café opening; the plans changed twice.",
        &[],
    )
    .await;
    manual(&app, &ada, "Garden", "Tomatoes and basil.", &[]).await;
    for q in ["cafe ", "CAFÉ ", "plan ", "planned "] {
        assert_eq!(
            titles(search(&app, &ada, q).await).await,
            ["Café opening"],
            "{q:?}"
        );
    }
    assert_eq!(highlighted(&app, &ada, "cafe ").await, ["café"]);
    assert_eq!(
        highlighted(&app, &ada, "plan ").await,
        ["planning", "plans"]
    );
}

#[tokio::test]
async fn hostile_queries_never_error_or_leak() {
    let app = app().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    manual(&app, &bob, "secret", "bob's private plan NEAR nothing", &[]).await;
    manual(&app, &ada, "mine", "a plain note about plans", &[]).await;
    let long = "a".repeat(10_000);
    let hostile = [
        "\"",
        "\"\"",
        "(",
        ")",
        "((plan",
        "plan)",
        "NEAR(plan secret)",
        "plan NEAR secret",
        "*",
        "**",
        ":",
        "title:secret",
        "content:plan",
        "' OR 1=1 --",
        "plan'; DROP TABLE transcripts; --",
        "\\",
        "^plan",
        "plan AND NOT secret",
        "-",
        "- -",
        "OR",
        "plan OR",
        "OR plan",
        "\u{0}",
        "日本語 テスト",
        "émoji 🎉 plan",
        "{{plan}}",
        "plan:*",
        "!plan",
        "plan & secret | x",
        "<->",
        "plan <-> secret",
        "$1",
        "%",
        "_",
        "[plan]",
    ];
    for q in hostile.iter().copied().chain([long.as_str()]) {
        let res = search(&app, &ada, q).await;
        let status = res.status();
        assert!(
            status == StatusCode::OK
                || status == StatusCode::UNPROCESSABLE_ENTITY
                || status == StatusCode::BAD_REQUEST,
            "{q:?}: {status}"
        );
        let text = res.text().await.unwrap();
        assert!(
            !text.contains("secret") && !text.contains("bob"),
            "{q:?} leaked: {text}"
        );
        assert!(
            !text.to_lowercase().contains("syntax") && !text.contains("SQL"),
            "{q:?}: {text}"
        );
    }
    let res = search(&app, &ada, "").await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let res = search(&app, &ada, &"x".repeat(257)).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let res = search(&app, &ada, "plan ").await;
    assert_eq!(titles(res).await, ["mine"]);
    let res = app
        .client
        .get(app.url("/api/v1/transcripts/search"))
        .query(&[("q", "plan"), ("limit", "101")])
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
