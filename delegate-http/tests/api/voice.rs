//! Voice through HTTP: transcription, streamed synthesis and the voice-to-voice turn, against
//! the local OpenAI-compatible upstream's audio endpoints (the real async-openai client), with
//! real audio files and hostile uploads.

use crate::chat::parse_sse;
use crate::helpers::{TestApp, assert_error, spawn_on, spawn_with, within};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use delegate_core::testing::upstream::{
    Behaviour, Reply, Speech, Transcription, Upstream, silent_mp3,
};
use delegate_core::{Config, Secret};
use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A committed fixture: "Hello Delegate, this is a test." spoken by espeak-ng (2.04 s).
fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../delegate-core/tests/fixtures/audio/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An app whose chat and speech provider is `upstream`, with `adjust` applied last.
async fn voice_app(upstream: &Upstream, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let base = upstream.base_url();
    spawn_on(
        &crate::helpers::Backing::new().await,
        move |c| {
            c.ai.base_url = Some(base);
            c.ai.api_key = Some(Secret::new("sk-test-key"));
            c.ai.model = "test-model".into();
            c.voice.stt_model = "stt-test".into();
            c.voice.tts_model = "tts-test".into();
            adjust(c);
        },
        None,
    )
    .await
}

/// A multipart form with `audio` (as `file_name`, labelled `mime`) and text parts.
fn form(audio: Vec<u8>, file_name: &str, mime: &str, texts: &[(&str, &str)]) -> Form {
    let part = Part::bytes(audio)
        .file_name(file_name.to_owned())
        .mime_str(mime)
        .unwrap();
    texts
        .iter()
        .fold(Form::new().part("audio", part), |form, (name, value)| {
            form.text(name.to_string(), value.to_string())
        })
}

impl TestApp {
    async fn voice_post(&self, path: &str, token: &str, form: Form) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/voice/{path}")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    async fn speak(&self, token: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/voice/synthesize"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn voice_usage(&self, token: &str) -> Value {
        let res = self.get_auth("/api/v1/voice/usage", token).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }
}

fn close_to(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 0.1)
}

#[tokio::test]
async fn transcription_judges_the_bytes_measures_the_audio_and_meters_its_seconds() {
    let upstream = Upstream::start().await;
    upstream.script_transcription(Transcription::new("Hello Delegate, this is a test."));
    let app = voice_app(&upstream, |_| {}).await;
    let a = app.register("hear@example.com").await;

    // A WAV file labelled as a PNG image: the bytes decide.
    let wav = fixture("hello.wav");
    let res = app
        .voice_post(
            "transcribe",
            &a.access,
            form(wav.clone(), "photo.png", "image/png", &[("language", "EN")]),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let heard: Value = res.json().await.unwrap();
    assert_eq!(heard["text"], "Hello Delegate, this is a test.");
    assert_eq!(heard["language"], "en");
    assert!(close_to(&heard["durationSeconds"], 2.04), "{heard}");

    let request = upstream.last_request().unwrap();
    assert!(request.is_transcription());
    assert_eq!(request.form_field("model").as_deref(), Some("stt-test"));
    assert_eq!(request.form_field("language").as_deref(), Some("en"));
    assert_eq!(request.form_file("file").as_deref(), Some(&wav[..]));
    assert_eq!(request.bearer_token(), Some("sk-test-key"));

    // Every format Delegate reads.
    for name in [
        "hello.mp3",
        "hello.ogg",
        "hello.webm",
        "hello.flac",
        "hello.m4a",
    ] {
        let res = app
            .voice_post(
                "transcribe",
                &a.access,
                form(fixture(name), name, "application/octet-stream", &[]),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        let heard: Value = res.json().await.unwrap();
        let seconds = heard["durationSeconds"].as_f64().unwrap();
        assert!((2.0..2.2).contains(&seconds), "{name}: {seconds}");
    }

    let usage = app.voice_usage(&a.access).await;
    let seconds_in = usage["secondsIn"].as_f64().unwrap();
    assert!((12.2..13.0).contains(&seconds_in), "{usage}");
    assert_eq!(usage["secondsOut"], 0.0);
    assert_eq!(usage["quotaSeconds"], 1800);
    assert!(
        usage["periodEnd"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00.000Z")
    );
    let all: Value = app
        .get_auth("/api/v1/users/usage", &a.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["voice"]["secondsIn"], usage["secondsIn"]);
}

#[tokio::test]
async fn hostile_uploads_get_a_4xx_and_never_reach_the_provider() {
    let upstream = Upstream::start().await;
    let app = voice_app(&upstream, |c| c.voice.max_upload_bytes = 200_000).await;
    let a = app.register("hostile@example.com").await;
    let token = a.access.as_str();
    let transcribe = |form: Form| app.voice_post("transcribe", token, form);

    // Text labelled as audio: not audio, whatever the label says.
    let res = transcribe(form(
        b"just some text, honestly".to_vec(),
        "speech.wav",
        "audio/wav",
        &[],
    ))
    .await;
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // A PNG labelled as audio.
    let png = [
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H',
    ];
    let res = transcribe(form(png.to_vec(), "a.mp3", "audio/mpeg", &[])).await;
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // Empty audio.
    let res = transcribe(form(Vec::new(), "a.wav", "audio/wav", &[])).await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "audio");
    // A truncated MP3 and a truncated WAV: damaged audio.
    let mp3 = fixture("hello-no-tag.mp3");
    for (bytes, name) in [
        (mp3[..40].to_vec(), "cut.mp3"),
        (fixture("hello.wav")[..48].to_vec(), "cut.wav"),
    ] {
        let res = transcribe(form(bytes, name, "audio/mpeg", &[])).await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
    // No audio part, an unknown part, a repeated part, a long text part, a bad language.
    let res = app
        .client
        .post(app.url("/api/v1/voice/transcribe"))
        .bearer_auth(token)
        .multipart(Form::new().text("language", "en"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let res = transcribe(form(mp3.clone(), "a.mp3", "audio/mpeg", &[("prompt", "x")])).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let twice =
        form(mp3.clone(), "a.mp3", "audio/mpeg", &[]).part("audio", Part::bytes(mp3.clone()));
    assert_error(
        transcribe(twice).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let long = "e".repeat(2000);
    let res = transcribe(form(
        mp3.clone(),
        "a.mp3",
        "audio/mpeg",
        &[("language", &long)],
    ))
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let res = transcribe(form(
        mp3.clone(),
        "a.mp3",
        "audio/mpeg",
        &[("language", "english!")],
    ))
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    // Thousands of parts: refused at the first unexpected one.
    let many = (0..2000).fold(Form::new(), |f, i| f.text(format!("p{i}"), "x"));
    assert_error(
        transcribe(many).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    // JSON instead of multipart.
    let res = app
        .client
        .post(app.url("/api/v1/voice/transcribe"))
        .bearer_auth(token)
        .json(&json!({"audio": "AAAA"}))
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // Audio over the upload limit (200 kB here): declared, and streamed with no length (the
    // multipart reader's own limit).
    let big = vec![0u8; 300_000];
    let res = transcribe(form(big.clone(), "big.wav", "audio/wav", &[])).await;
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(10_000).map(|c| Ok(c.to_vec())).collect();
    let streamed = Part::stream(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .file_name("big.wav")
        .mime_str("audio/wav")
        .unwrap();
    let res = transcribe(Form::new().part("audio", streamed)).await;
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // A huge declared size: refused before the body is read.
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/voice/transcribe HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: multipart/form-data; boundary=b\r\ncontent-length: 50000000000\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut answer))
        .await
        .expect("an answer without sending the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    assert_eq!(upstream.request_count(), 0, "nothing reached the provider");
    let usage = app.voice_usage(token).await;
    assert_eq!(usage["secondsIn"], 0.0);
}

#[tokio::test]
async fn synthesis_streams_audio_as_it_is_produced_and_meters_what_was_produced() {
    let upstream = Upstream::start().await;
    let app = voice_app(&upstream, |_| {}).await;
    let a = app.register("speak@example.com").await;

    let res = app
        .speak(&a.access, json!({"text": "Hello there", "voice": "nova"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    let audio = res.bytes().await.unwrap();
    // 11 characters at the upstream's 60 ms each: 660 ms, 28 frames of 24 ms.
    assert_eq!(&audio[..], &silent_mp3(Duration::from_millis(660))[..]);
    let request = upstream.last_request().unwrap();
    assert!(request.is_speech());
    assert_eq!(request.body["model"], "tts-test");
    assert_eq!(request.body["voice"], "nova");
    assert_eq!(request.body["input"], "Hello there");
    assert_eq!(request.body["response_format"], "mp3");
    let metered =
        within(async || close_to(&app.voice_usage(&a.access).await["secondsOut"], 0.672)).await;
    assert!(metered.is_some(), "the produced seconds were metered");

    let res = app
        .speak(
            &a.access,
            json!({"text": "wave", "format": "wav", "speed": 1.5}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "audio/wav");
    assert_eq!(&res.bytes().await.unwrap()[..4], b"RIFF");
    assert_eq!(upstream.last_request().unwrap().body["speed"], 1.5);

    // The first bytes arrive before the provider has finished.
    upstream.script_speech(
        Speech::new()
            .chunk_bytes(96)
            .delay_between(Duration::from_millis(100)),
    );
    let res = app
        .speak(
            &a.access,
            json!({"text": "a longer sentence to speak slowly"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(&first[..4], &[0xff, 0xfb, 0x14, 0xc0]);
    assert_eq!(
        upstream.stats().completed,
        2,
        "still streaming when the first bytes came"
    );
    drop(body);
    assert!(
        upstream.wait_for_disconnects(1).await,
        "leaving closed the upstream"
    );

    // Bad requests: 422 before any provider call.
    let calls = upstream.request_count();
    for (body, field) in [
        (json!({"text": ""}), "text"),
        (json!({"text": "   "}), "text"),
        (json!({"text": "x".repeat(4097)}), "text"),
        (json!({"text": "hi", "voice": "darth"}), "voice"),
        (json!({"text": "hi", "speed": 10}), "speed"),
    ] {
        let res = app.speak(&a.access, body.clone()).await;
        let error = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    for body in [json!({"text": 5}), json!({"text": "hi", "format": "ogg"})] {
        let res = app.speak(&a.access, body).await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    }
    assert_eq!(upstream.request_count(), calls);

    // A provider failing before any audio: 502 after the retries.
    upstream.script_speech_times(Behaviour::fail(500), 3);
    let before = upstream.request_count();
    let res = app.speak(&a.access, json!({"text": "fail please"})).await;
    assert_error(res, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert_eq!(
        upstream.request_count(),
        before + 3,
        "two retries, then the error"
    );

    let voices: Value = app
        .get_auth("/api/v1/voice/voices", &a.access)
        .await
        .json()
        .await
        .unwrap();
    let items = voices["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|v| v["id"] == "nova" && v["name"] == "Nova")
    );
}

#[tokio::test]
async fn a_voice_turn_streams_the_transcript_the_reply_and_each_sentence_in_order() {
    let upstream = Upstream::start().await;
    let app = voice_app(&upstream, |_| {}).await;
    let a = app.register("turn@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();

    upstream.script_transcription(Transcription::new("What is the weather like today?"));
    upstream.script(Reply::new("It is sunny. Dr. Smith says 21.5 degrees! Enjoy it?").in_chunks(9));
    let res = app
        .client
        .post(app.url("/api/v1/voice/process"))
        .bearer_auth(&a.access)
        .header("accept", "text/event-stream")
        .multipart(form(
            fixture("hello.mp3"),
            "q.mp3",
            "audio/mpeg",
            &[("sessionId", id), ("voice", "echo")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let events = parse_sse(&res.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"transcript"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    let transcript = &events[0].1;
    assert_eq!(transcript["text"], "What is the weather like today?");
    assert_eq!(transcript["userMessage"]["source"], "voice");
    let text: String = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "It is sunny. Dr. Smith says 21.5 degrees! Enjoy it?");
    let audio: Vec<&Value> = events
        .iter()
        .filter(|(e, _)| e == "audio")
        .map(|(_, d)| d)
        .collect();
    let sentences: Vec<&str> = audio.iter().map(|d| d["text"].as_str().unwrap()).collect();
    assert_eq!(
        sentences,
        ["It is sunny.", "Dr. Smith says 21.5 degrees!", "Enjoy it?"]
    );
    for (seq, event) in audio.iter().enumerate() {
        assert_eq!(event["seq"], seq);
        assert_eq!(event["format"], "mp3");
        let bytes = STANDARD.decode(event["base64"].as_str().unwrap()).unwrap();
        let chars = sentences[seq].chars().count() as u64;
        assert_eq!(bytes, silent_mp3(Duration::from_millis(chars * 60)));
    }
    let done = &events.last().unwrap().1;
    assert_eq!(done["assistantMessage"]["status"], "complete");
    assert!(done["secondsOut"].as_f64().unwrap() > 2.0, "{done}");
    let spoken: Vec<String> = upstream
        .requests()
        .iter()
        .filter(|r| r.is_speech())
        .map(|r| {
            assert_eq!(r.body["voice"], "echo");
            r.body["input"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(spoken.len(), 3);

    let messages = app.messages(&a.access, id).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["source"], "voice");
    assert_eq!(messages[0]["content"], "What is the weather like today?");
    assert_eq!(messages[1]["source"], "text");
    assert_eq!(messages[1]["status"], "complete");

    // The JSON variant: the same turn, the sentences' audio joined.
    upstream.script_transcription(Transcription::new("And tomorrow?"));
    upstream.script(Reply::new("Rain. Then sun."));
    let res = app
        .voice_post(
            "process",
            &a.access,
            form(
                fixture("hello.ogg"),
                "q.ogg",
                "audio/ogg",
                &[("sessionId", id)],
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["transcript"], "And tomorrow?");
    assert_eq!(body["reply"], "Rain. Then sun.");
    assert_eq!(body["audio"]["format"], "mp3");
    let joined = STANDARD
        .decode(body["audio"]["base64"].as_str().unwrap())
        .unwrap();
    let mut expected = silent_mp3(Duration::from_millis(5 * 60));
    expected.extend(silent_mp3(Duration::from_millis(9 * 60)));
    assert_eq!(joined, expected);
    assert_eq!(body["userMessage"]["source"], "voice");
    assert_eq!(body["assistantMessage"]["status"], "complete");

    // The conversation saved as a transcript: source voice, the spoken lines marked.
    let res = app
        .client
        .post(app.url("/api/v1/transcripts"))
        .bearer_auth(&a.access)
        .json(&json!({"sessionId": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["source"], "voice");
    let content = saved["content"].as_str().unwrap();
    assert!(
        content.contains("User (voice): What is the weather like today?"),
        "{content}"
    );
    assert!(content.contains("Assistant: Rain. Then sun."), "{content}");

    let usage = app.voice_usage(&a.access).await;
    assert!(usage["secondsIn"].as_f64().unwrap() > 4.0, "{usage}");
    assert!(usage["secondsOut"].as_f64().unwrap() > 2.8, "{usage}");
}

#[tokio::test]
async fn many_sentences_at_once_lose_none_and_keep_their_order() {
    let upstream = Upstream::start().await;
    let app = voice_app(&upstream, |_| {}).await;
    let a = app.register("burst@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let reply: String = (1..=20).map(|i| format!("Sentence number {i}. ")).collect();
    // The whole reply in one chunk; each sentence's speech takes a different time.
    upstream.script(Reply::from_chunks([reply.trim_end().to_owned()]));
    for i in 0..20u64 {
        upstream.script_speech(Speech::new().delay_first(Duration::from_millis((20 - i) * 5)));
    }
    let res = app
        .client
        .post(app.url("/api/v1/voice/process"))
        .bearer_auth(&a.access)
        .header("accept", "text/event-stream")
        .multipart(form(
            fixture("hello.flac"),
            "q.flac",
            "audio/flac",
            &[("sessionId", id)],
        ))
        .send()
        .await
        .unwrap();
    let events = parse_sse(&res.text().await.unwrap());
    let audio: Vec<(u64, String)> = events
        .iter()
        .filter(|(e, _)| e == "audio")
        .map(|(_, d)| {
            (
                d["seq"].as_u64().unwrap(),
                d["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = (1..=20)
        .map(|i| (i - 1, format!("Sentence number {i}.")))
        .collect();
    assert_eq!(audio, expected);
    assert_eq!(events.last().unwrap().0, "done");
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_reply_and_the_speech_under_way() {
    let upstream = Upstream::start().await;
    let app = voice_app(&upstream, |_| {}).await;
    let a = app.register("leave@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    upstream.script(
        Reply::new("First one. Second one is slow to come and slower to end.")
            .delay_between(Duration::from_millis(300)),
    );
    upstream.set_speech_default(Speech::new().delay_first(Duration::from_secs(20)));
    let res = app
        .client
        .post(app.url("/api/v1/voice/process"))
        .bearer_auth(&a.access)
        .header("accept", "text/event-stream")
        .multipart(form(
            fixture("hello.wav"),
            "q.wav",
            "audio/wav",
            &[("sessionId", id)],
        ))
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    // Wait until the first sentence is complete and its synthesis has started.
    while upstream.requests().iter().all(|r| !r.is_speech()) {
        let chunk = tokio::time::timeout(Duration::from_secs(20), body.next())
            .await
            .expect("events within 20 s")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: transcript"), "{seen}");
    drop(body);
    assert!(
        upstream.wait_for_disconnects(2).await,
        "the reply and the synthesis were both closed upstream: {:?}",
        upstream.stats()
    );
    let cancelled = within(async || {
        let messages = app.messages(&a.access, id).await;
        messages.len() == 2 && messages[1]["status"] == "cancelled"
    })
    .await;
    assert!(cancelled.is_some(), "the reply was stored as cancelled");
}

#[tokio::test]
async fn quotas_refuse_before_any_provider_call() {
    let upstream = Upstream::start().await;
    let app = voice_app(&upstream, |c| {
        c.voice.tiers.free.seconds_per_month = 3;
        c.voice.tiers.free.max_file_seconds = 60;
        c.quota.free.messages_per_day = 1;
    })
    .await;
    let a = app.register("quota@example.com").await;
    let mp3 = fixture("hello.mp3");
    let res = app
        .voice_post(
            "transcribe",
            &a.access,
            form(mp3.clone(), "a.mp3", "audio/mpeg", &[]),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // 2.04 s used of 3: another 2.04 s file does not fit.
    let res = app
        .voice_post(
            "transcribe",
            &a.access,
            form(mp3.clone(), "a.mp3", "audio/mpeg", &[]),
        )
        .await;
    assert!(res.headers().get("retry-after").is_some());
    let body = assert_error(res, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("voice seconds")
    );
    assert_eq!(upstream.request_count(), 1);

    // The day's one message used by a typed send: a voice turn is refused before it is heard.
    let b = app.register("quota2@example.com").await;
    let chat = app.new_chat(&b.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    assert_eq!(
        app.send(&b.access, id, json!({"content": "hi"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let before = upstream.request_count();
    let res = app
        .voice_post(
            "process",
            &b.access,
            form(mp3.clone(), "a.mp3", "audio/mpeg", &[("sessionId", id)]),
        )
        .await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    assert_eq!(
        upstream.request_count(),
        before,
        "no transcription over quota"
    );

    // Speech of a text likely longer than what is left (60 characters, about 4 s, with
    // under a second left): refused before any provider call.
    let res = app.speak(&a.access, json!({"text": "x".repeat(60)})).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    assert!(upstream.requests().iter().all(|r| !r.is_speech()));

    // A file longer than the tier accepts.
    let short = voice_app(&upstream, |c| c.voice.tiers.free.max_file_seconds = 1).await;
    let c2 = short.register("quota3@example.com").await;
    let res = short
        .voice_post(
            "transcribe",
            &c2.access,
            form(mp3, "a.mp3", "audio/mpeg", &[]),
        )
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("up to 1 s"),
        "{body}"
    );
    assert_eq!(upstream.request_count(), before);
}

#[tokio::test]
async fn voice_turns_reach_only_the_callers_sessions_and_say_what_is_wrong() {
    let upstream = Upstream::start().await;
    let app = voice_app(&upstream, |_| {}).await;
    let a = app.register("owner@example.com").await;
    let b = app.register("other@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let wav = fixture("hello.wav");
    let turn = |texts: &[(&str, &str)]| form(wav.clone(), "a.wav", "audio/wav", texts);
    let res = app
        .voice_post("process", &b.access, turn(&[("sessionId", id)]))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .voice_post("process", &a.access, turn(&[("sessionId", "not-a-uuid")]))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.voice_post("process", &a.access, turn(&[])).await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "sessionId");
    let res = app
        .voice_post(
            "process",
            &a.access,
            turn(&[("sessionId", id), ("voice", "nobody")]),
        )
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "voice");
    assert_eq!(upstream.request_count(), 0);

    // Silence transcribed to nothing: 422, nothing stored.
    upstream.script_transcription(Transcription::new("  "));
    let res = app
        .voice_post("process", &a.access, turn(&[("sessionId", id)]))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(app.messages(&a.access, id).await.is_empty());

    // A transcription provider failing: 502 after the retries, nothing stored or metered.
    upstream.script_transcription(Behaviour::fail(500));
    upstream.script_transcription(Behaviour::fail(500));
    upstream.script_transcription(Behaviour::fail(500));
    let res = app
        .voice_post("process", &a.access, turn(&[("sessionId", id)]))
        .await;
    assert_error(res, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert!(app.messages(&a.access, id).await.is_empty());

    // Speech failing mid-turn: the reply is stored whole and the stream says what failed.
    upstream.script(Reply::new("One. Two."));
    upstream.script_speech_times(Behaviour::fail(400), 2);
    let res = app
        .client
        .post(app.url("/api/v1/voice/process"))
        .bearer_auth(&a.access)
        .header("accept", "text/event-stream")
        .multipart(form(
            wav.clone(),
            "a.wav",
            "audio/wav",
            &[("sessionId", id)],
        ))
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    let events = parse_sse(&text);
    let (last, data) = events.last().expect(&text);
    assert_eq!(last, "error", "{events:?}");
    assert_eq!(data["error"]["code"], "upstream_error");
    assert_eq!(data["assistantMessage"]["status"], "complete");
    assert_eq!(data["assistantMessage"]["content"], "One. Two.");
    let usage = app.voice_usage(&a.access).await;
    assert!(close_to(&usage["secondsIn"], 2.04 * 2.0), "{usage}");
}

#[tokio::test]
async fn without_a_speech_provider_voice_answers_503_saying_what_to_set() {
    let app = spawn_with(|_| {}).await;
    let a = app.register("novoice@example.com").await;
    let res = app.get_auth("/api/v1/voice/voices", &a.access).await;
    let body = assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "voice_not_configured").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("OPENAI_VOICE_BASE_URL"),
        "{body}"
    );
    let res = app
        .voice_post(
            "transcribe",
            &a.access,
            form(fixture("hello.wav"), "a.wav", "audio/wav", &[]),
        )
        .await;
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "voice_not_configured").await;
    let res = app.speak(&a.access, json!({"text": "hi"})).await;
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "voice_not_configured").await;
    assert_eq!(app.voice_usage(&a.access).await["secondsIn"], 0.0);
    let res = app
        .client
        .get(app.url("/api/v1/voice/voices"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_token").await;
}

#[tokio::test]
async fn a_separate_speech_server_serves_voice_beside_the_chat_provider() {
    let chat = Upstream::start().await;
    let speech = Upstream::start().await;
    let speech_base = speech.base_url();
    let app = voice_app(&chat, move |c| {
        c.voice.base_url = Some(speech_base);
        c.voice.api_key = Some(Secret::new("speech-key"));
    })
    .await;
    let a = app.register("split@example.com").await;
    let res = app.speak(&a.access, json!({"text": "hello"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(chat.request_count(), 0);
    assert_eq!(
        speech.last_request().unwrap().bearer_token(),
        Some("speech-key")
    );

    // Without a key of its own, a separate speech server is sent none: the chat key stays
    // with the chat provider.
    let speech_base = speech.base_url();
    let app = voice_app(&chat, move |c| c.voice.base_url = Some(speech_base)).await;
    let c = app.register("keyless@example.com").await;
    assert_eq!(
        app.speak(&c.access, json!({"text": "hi"})).await.status(),
        StatusCode::OK
    );
    assert_eq!(speech.last_request().unwrap().header("authorization"), None);

    // Azure's api-key header, for chat and voice alike.
    let azure = Upstream::start().await;
    let base = azure.base_url();
    let app = voice_app(&azure, move |c| {
        c.ai.base_url = Some(base);
        c.ai.key_header = delegate_core::config::KeyHeader::ApiKey;
    })
    .await;
    let b = app.register("azure@example.com").await;
    assert_eq!(
        app.speak(&b.access, json!({"text": "hi"})).await.status(),
        StatusCode::OK
    );
    let request = azure.last_request().unwrap();
    assert_eq!(request.header("api-key"), Some("sk-test-key"));
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn the_echo_providers_give_voice_without_any_server() {
    let app = spawn_with(|c| c.ai.provider = delegate_core::config::AiProviderKind::Echo).await;
    let a = app.register("offline@example.com").await;
    let chat = app.new_chat(&a.access, json!({})).await;
    let id = chat["id"].as_str().unwrap();
    let res = app
        .voice_post(
            "process",
            &a.access,
            form(
                fixture("hello.wav"),
                "a.wav",
                "audio/wav",
                &[("sessionId", id)],
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let turn: Value = res.json().await.unwrap();
    let heard = turn["transcript"].as_str().unwrap();
    assert!(
        heard.starts_with(delegate_core::voice::ECHO_SPEECH_LABEL),
        "{heard}"
    );
    assert!(heard.ends_with("of wav audio"), "{heard}");
    let reply = turn["reply"].as_str().unwrap();
    assert!(reply.starts_with(delegate_core::ai::ECHO_LABEL), "{reply}");
    let audio = STANDARD
        .decode(turn["audio"]["base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(&audio[..4], &[0xff, 0xfb, 0x14, 0xc0], "silent MP3 frames");
    let res = app
        .speak(&a.access, json!({"text": "four", "format": "pcm"}))
        .await;
    assert_eq!(res.headers()["content-type"], "audio/pcm");
    assert_eq!(
        res.bytes().await.unwrap().len(),
        240 * 48,
        "60 ms a character"
    );
    let res = app
        .speak(&a.access, json!({"text": "four", "format": "opus"}))
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["error"]["field"], "format");
}

#[tokio::test]
async fn uploads_read_at_once_are_bounded() {
    let upstream = Upstream::start().await;
    let app = voice_app(&upstream, |c| {
        c.voice.max_concurrent_uploads = 1;
        // The checks below poll; the request limit is not what they test.
        c.rate_limit.max_requests = 100_000;
    })
    .await;
    let a = app.register("slots@example.com").await;
    // One upload that never finishes arriving holds the only slot.
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/voice/transcribe HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: multipart/form-data; boundary=b\r\ncontent-length: 100000\r\n\r\n\
         --b\r\ncontent-disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\n\r\nRIFF",
        a.access
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.flush().await.unwrap();
    // Nothing else uploads until the slow one has had time to take the slot (an upload
    // polled meanwhile could hold it when the slow one arrives, refusing that one instead).
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Polled for up to 20 s (a loaded machine may take a while to read the slow head); a
    // small upload, so a refusal does not wait on a large body.
    let small = silent_mp3(Duration::from_millis(500));
    let mut refused = false;
    for _ in 0..200 {
        let res = app
            .voice_post(
                "transcribe",
                &a.access,
                form(small.clone(), "a.mp3", "audio/mpeg", &[]),
            )
            .await;
        if res.status() == StatusCode::SERVICE_UNAVAILABLE
            && res.headers().contains_key("retry-after")
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused,
        "a second upload is refused while the slot is taken"
    );
    drop(slow);
    let served = within(async || {
        app.voice_post(
            "transcribe",
            &a.access,
            form(fixture("hello.wav"), "a.wav", "audio/wav", &[]),
        )
        .await
        .status()
            == StatusCode::OK
    })
    .await;
    assert!(
        served.is_some(),
        "the slot is free once the slow client left"
    );
}
