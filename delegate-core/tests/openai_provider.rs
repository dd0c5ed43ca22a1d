//! The OpenAI-compatible provider (the real async-openai client) against the loopback test
//! upstream: streaming, usage, retries, cuts, deadlines, cancellation, secrets; and the echo
//! provider through `ai::from_config`.
#![cfg(feature = "openai")]

use delegate_core::ai::{self, ECHO_LABEL, OpenAiModel};
use delegate_core::chat::TokenUsage;
use delegate_core::chat::{ChatChunk, ChatModel, ChatRequest, ChatStream, ChatTurn, MessageRole};
use delegate_core::config::{AiConfig, AiProviderKind};
use delegate_core::testing::upstream::{Behaviour, Reply, Upstream};
use delegate_core::{Error, ErrorKind, Secret};
use futures::{StreamExt, TryStreamExt};
use std::future::Future;
use std::time::Duration;

const KEY: &str = "sk-test-9f8e7d6c5b4a-secret";

/// Fails the test instead of hanging when `future` takes unreasonably long.
async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("the operation finished within 30 s")
}

fn config_for(upstream: &Upstream) -> AiConfig {
    AiConfig {
        base_url: Some(upstream.base_url()),
        api_key: Some(Secret::new(KEY)),
        model: "test-default-model".into(),
        timeout_secs: 20,
        max_retries: 2,
        ..AiConfig::default()
    }
}

/// A provider pointed at `upstream`, with a short retry backoff to keep tests quick.
fn provider(upstream: &Upstream) -> OpenAiModel {
    provider_with(upstream, |_| {})
}

fn provider_with(upstream: &Upstream, edit: impl FnOnce(&mut AiConfig)) -> OpenAiModel {
    let mut config = config_for(upstream);
    edit(&mut config);
    OpenAiModel::new(&config)
        .expect("a valid configuration")
        .with_retry_base(Duration::from_millis(20))
}

fn turn(role: Option<MessageRole>, content: &str) -> ChatTurn {
    ChatTurn {
        role,
        content: content.into(),
    }
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        model: "gpt-test".into(),
        turns: vec![
            turn(None, "You are a test."),
            turn(Some(MessageRole::User), text),
        ],
        temperature: None,
        max_tokens: None,
    }
}

/// Every item of a stream, errors included.
async fn drain(stream: ChatStream) -> Vec<Result<ChatChunk, Error>> {
    bounded(stream.collect::<Vec<_>>()).await
}

fn deltas(items: &[Result<ChatChunk, Error>]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| match item {
            Ok(ChatChunk::Delta(text)) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn streamed_deltas_arrive_in_order_then_usage() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::from_chunks(["Hel", "lo, ", "wor", "ld!"]).usage(17, 4));
    let model = provider(&upstream);

    let stream = bounded(model.stream(ask("hi"))).await.unwrap();
    let chunks: Vec<ChatChunk> = bounded(stream.try_collect()).await.unwrap();
    assert_eq!(
        chunks,
        [
            ChatChunk::Delta("Hel".into()),
            ChatChunk::Delta("lo, ".into()),
            ChatChunk::Delta("wor".into()),
            ChatChunk::Delta("ld!".into()),
            ChatChunk::Usage(TokenUsage {
                prompt_tokens: 17,
                completion_tokens: 4
            }),
        ]
    );
    let request = upstream.last_request().unwrap();
    assert_eq!(request.path, "/v1/chat/completions");
    assert!(request.is_stream(), "{}", request.body_text);
    assert!(request.wants_stream_usage(), "{}", request.body_text);
    assert_eq!(model.name(), "openai");
}

#[tokio::test]
async fn the_context_model_and_parameters_arrive_in_the_body() {
    let upstream = Upstream::start().await;
    let model = provider_with(&upstream, |c| c.organization = Some("org-test".into()));
    let request = ChatRequest {
        model: "gpt-special".into(),
        turns: vec![
            turn(None, "Answer in French."),
            turn(Some(MessageRole::User), "Hello"),
            turn(Some(MessageRole::Assistant), "Bonjour"),
            turn(Some(MessageRole::User), "How are you?"),
        ],
        temperature: Some(0.0),
        max_tokens: Some(64),
    };
    drain(bounded(model.stream(request)).await.unwrap()).await;

    let recorded = upstream.last_request().unwrap();
    assert_eq!(recorded.model(), Some("gpt-special"));
    let messages: Vec<(&str, &str)> = vec![
        ("system", "Answer in French."),
        ("user", "Hello"),
        ("assistant", "Bonjour"),
        ("user", "How are you?"),
    ];
    let got = recorded.messages();
    let got: Vec<(&str, &str)> = got.iter().map(|(r, c)| (r.as_str(), c.as_str())).collect();
    assert_eq!(got, messages);
    assert_eq!(recorded.body["temperature"], 0.0);
    assert_eq!(recorded.body["max_completion_tokens"], 64);
    assert_eq!(recorded.header("openai-organization"), Some("org-test"));

    // No model in the request: the configured default.
    drain(
        bounded(model.stream(ChatRequest {
            model: String::new(),
            ..ask("x")
        }))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        upstream.last_request().unwrap().model(),
        Some("test-default-model")
    );
}

#[tokio::test]
async fn the_api_key_is_a_bearer_header_and_never_in_an_error() {
    let upstream = Upstream::start().await;
    let model = provider(&upstream);
    // The harness's 401 echoes the key it received, as a careless server might.
    upstream.script(Behaviour::fail(401));
    let err = bounded(model.stream(ask("hi"))).await.err().unwrap();
    assert_eq!(upstream.last_request().unwrap().bearer_token(), Some(KEY));
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(err.to_string().contains("401"), "{err}");
    for shown in [err.to_string(), format!("{err:?}"), err.public_message()] {
        assert!(!shown.contains(KEY), "the key leaked: {shown}");
    }
    assert_eq!(upstream.request_count(), 1, "a 401 is not retried");

    // A server error that quotes the key: masked.
    let model = provider_with(&upstream, |c| c.max_retries = 0);
    upstream.script(Behaviour::fail(500).message(format!("bad key {KEY} here")));
    let err = bounded(model.stream(ask("hi"))).await.err().unwrap();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "the key leaked: {shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!format!("{model:?}").contains(KEY));
}

#[tokio::test]
async fn a_500_then_success_is_retried_and_succeeds() {
    let upstream = Upstream::start().await;
    upstream.script(Behaviour::fail(500));
    upstream.script(Reply::new("second time lucky"));
    let items = drain(
        bounded(provider(&upstream).stream(ask("hi")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deltas(&items).concat(), "second time lucky");
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(upstream.request_count(), 2);
}

#[tokio::test]
async fn a_500_every_time_is_an_upstream_error_after_max_retries_plus_one_attempts() {
    let upstream = Upstream::start().await;
    upstream.set_default(Behaviour::fail(500));
    let err = bounded(provider(&upstream).stream(ask("hi")))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert!(err.to_string().contains("500"), "{err}");
    assert_eq!(upstream.request_count(), 3, "1 attempt + 2 retries");

    let upstream = Upstream::start().await;
    upstream.set_default(Behaviour::fail(503));
    let model = provider_with(&upstream, |c| c.max_retries = 0);
    assert!(bounded(model.stream(ask("hi"))).await.is_err());
    assert_eq!(upstream.request_count(), 1, "max_retries = 0: one attempt");
}

#[tokio::test]
async fn a_429_is_retried_but_not_when_the_quota_is_gone() {
    let upstream = Upstream::start().await;
    upstream.script(Behaviour::fail(429));
    upstream.script(Behaviour::fail(429).retry_after(0));
    upstream.script(Reply::new("ok now"));
    let items = drain(
        bounded(provider(&upstream).stream(ask("hi")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deltas(&items).concat(), "ok now");
    assert_eq!(upstream.request_count(), 3);

    let upstream = Upstream::start().await;
    upstream.set_default(Behaviour::fail(429).error_type("insufficient_quota"));
    let err = bounded(provider(&upstream).stream(ask("hi")))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(err.to_string().contains("quota"), "{err}");
    assert_eq!(upstream.request_count(), 1);

    // A retry-after longer than the provider waits: no retry, the 429 is reported.
    let upstream = Upstream::start().await;
    upstream.set_default(Behaviour::fail(429).retry_after(120));
    let err = bounded(provider(&upstream).stream(ask("hi")))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("429"), "{err}");
    assert_eq!(upstream.request_count(), 1);
}

#[tokio::test]
async fn client_errors_and_garbage_are_upstream_errors_without_retries() {
    let upstream = Upstream::start().await;
    let model = provider(&upstream);

    upstream.script(Behaviour::fail(400).message("model not found"));
    let err = bounded(model.stream(ask("hi"))).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(err.to_string().contains("400") && err.to_string().contains("model not found"));
    assert_eq!(upstream.request_count(), 1);

    upstream.script(Behaviour::raw(
        200,
        "text/event-stream",
        "data: {not json\n\n",
    ));
    let err = bounded(model.stream(ask("hi"))).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert_eq!(upstream.request_count(), 2);

    upstream.script(Behaviour::raw(200, "application/json", "{\"what\": 1}"));
    let err = bounded(model.stream(ask("hi"))).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert_eq!(upstream.request_count(), 3);

    // A 5xx that is not JSON is retried, then reported with its text.
    upstream.set_default(Behaviour::raw(502, "text/html", "<html>bad gateway</html>"));
    let err = bounded(model.stream(ask("hi"))).await.err().unwrap();
    assert!(err.to_string().contains("502"), "{err}");
    assert_eq!(upstream.request_count(), 6);
}

#[tokio::test]
async fn a_cut_stream_yields_the_deltas_then_an_error_and_is_not_retried() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::new("one two three four").cut_after(2));
    let items = drain(
        bounded(provider(&upstream).stream(ask("hi")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deltas(&items), ["one ", "two "]);
    assert_eq!(items.len(), 3, "{items:?}");
    let err = items
        .last()
        .unwrap()
        .as_ref()
        .expect_err("an error ends it");
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert_eq!(
        upstream.request_count(),
        1,
        "no retry after the first chunk"
    );
}

#[tokio::test]
async fn a_stream_cut_before_its_first_chunk_is_retried() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::new("lost").cut_after(0));
    upstream.script(Reply::new("found"));
    let items = drain(
        bounded(provider(&upstream).stream(ask("hi")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deltas(&items), ["found"]);
    assert_eq!(upstream.request_count(), 2);
}

#[tokio::test]
async fn a_hang_before_the_first_chunk_hits_the_deadline_and_closes_the_connection() {
    for hang in [Behaviour::HangAfterHeaders, Behaviour::Hang] {
        let upstream = Upstream::start().await;
        upstream.set_default(hang.clone());
        let model = provider(&upstream).with_timeout(Duration::from_secs(1));
        let err = bounded(model.stream(ask("hi"))).await.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Upstream, "{hang:?}: {err:?}");
        assert!(err.to_string().contains("within"), "{err}");
        assert_eq!(upstream.request_count(), 1, "a timeout is not retried");
        assert!(
            upstream.wait_for_disconnects(1).await,
            "{hang:?}: connection left open"
        );
    }
}

#[tokio::test]
async fn a_stall_mid_reply_hits_the_deadline_and_ends_the_stream_with_an_error() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::new("quick then stuck").delay_between(Duration::from_secs(60)));
    let model = provider(&upstream).with_timeout(Duration::from_secs(1));
    let items = drain(bounded(model.stream(ask("hi"))).await.unwrap()).await;
    assert_eq!(deltas(&items), ["quick "]);
    let err = items
        .last()
        .unwrap()
        .as_ref()
        .expect_err("an error ends it");
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(upstream.wait_for_disconnects(1).await);
}

#[tokio::test]
async fn dropping_the_stream_mid_reply_closes_the_upstream_connection() {
    let upstream = Upstream::start().await;
    let words: Vec<String> = (0..200).map(|i| format!("w{i} ")).collect();
    upstream.script(Reply::from_chunks(words).delay_between(Duration::from_millis(20)));
    let mut stream = bounded(provider(&upstream).stream(ask("hi")))
        .await
        .unwrap();
    let first = bounded(stream.next()).await.unwrap().unwrap();
    let second = bounded(stream.next()).await.unwrap().unwrap();
    assert_eq!(
        [first, second],
        [
            ChatChunk::Delta("w0 ".into()),
            ChatChunk::Delta("w1 ".into())
        ]
    );
    assert_eq!(upstream.disconnects(), 0);
    drop(stream);
    assert!(upstream.wait_for_disconnects(1).await, "{upstream:?}");
    assert!(upstream.wait_for_no_connections().await, "{upstream:?}");
    assert_eq!(upstream.stats().completed, 0);
}

#[tokio::test]
async fn dropping_the_request_before_the_first_chunk_closes_the_upstream_connection() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::new("too late").delay_first(Duration::from_secs(60)));
    let model = provider(&upstream);
    let pending = tokio::spawn(async move { model.stream(ask("hi")).await.map(|_| ()) });
    assert!(upstream.wait_for_requests(1).await);
    pending.abort();
    assert!(upstream.wait_for_disconnects(1).await, "{upstream:?}");
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable() {
    // A port that was free a moment ago: nothing listens there now.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = AiConfig {
        base_url: Some(format!("http://127.0.0.1:{port}/v1")),
        api_key: Some(Secret::new(KEY)),
        max_retries: 1,
        ..AiConfig::default()
    };
    let model = OpenAiModel::new(&config)
        .unwrap()
        .with_retry_base(Duration::from_millis(10));
    let err = bounded(model.stream(ask("hi"))).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(!format!("{err:?}").contains(KEY));
}

#[tokio::test]
async fn from_config_builds_the_openai_provider_for_a_base_url_without_a_key() {
    let upstream = Upstream::start().await;
    let config = AiConfig {
        api_key: None,
        ..config_for(&upstream)
    };
    let model = ai::from_config(&config).unwrap().expect("a provider");
    assert_eq!(model.name(), "openai");
    let items = drain(bounded(model.stream(ask("hi"))).await.unwrap()).await;
    assert_eq!(deltas(&items).concat(), "Hello from the test upstream.");
    assert_eq!(
        upstream.last_request().unwrap().header("authorization"),
        None
    );
}

#[tokio::test]
async fn the_echo_provider_repeats_the_user_and_says_it_is_not_an_ai() {
    let config = AiConfig {
        provider: AiProviderKind::Echo,
        ..AiConfig::default()
    };
    let model = ai::from_config(&config)
        .unwrap()
        .expect("the echo provider");
    assert_eq!(model.name(), "echo");
    let items = drain(model.stream(ask("is anyone there?")).await.unwrap()).await;
    let text = deltas(&items).concat();
    assert_eq!(text, format!("{ECHO_LABEL} is anyone there?"));
    assert!(text.contains("not an AI"));
    assert!(deltas(&items).len() >= 5, "word by word");
    match items.last() {
        Some(Ok(ChatChunk::Usage(usage))) => {
            assert_eq!(usage.completion_tokens, ai::estimate_tokens(&text));
            assert!(usage.prompt_tokens > 0);
        }
        other => panic!("usage last, got {other:?}"),
    }
}

#[tokio::test]
async fn without_a_key_or_base_url_no_provider_is_configured() {
    assert!(ai::from_config(&AiConfig::default()).unwrap().is_none());
    let hint = delegate_core::Error::AiNotConfigured.to_string();
    assert!(hint.contains("OPENAI_API_KEY"));
    assert!(hint.contains("DELEGATE_AI_PROVIDER=echo"));
}
