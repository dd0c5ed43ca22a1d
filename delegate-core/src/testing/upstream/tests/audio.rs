//! End-to-end tests of the test upstream's audio endpoints over real sockets: transcriptions in
//! each response format, speech as silent audio in each encoding and in chunks, the recorded
//! multipart form, and how audio responses are counted (completed, cut, abandoned).

use super::{post, read_bytes, read_to_close};
use crate::testing::upstream::{
    Behaviour, Heard, Speech, Spoken, Transcription, Upstream, silent_mp3, silent_wav,
};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUNDARY: &str = "delegate-test-boundary";
const SPEECH: &str = "/v1/audio/speech";
const TRANSCRIPTIONS: &str = "/v1/audio/transcriptions";
const MP3_HEADER: [u8; 4] = [0xFF, 0xFB, 0x14, 0xC0];

/// Posts `body` as `content_type` to `path`, asking the server to close after answering.
async fn post_to(upstream: &Upstream, path: &str, content_type: &str, body: &[u8]) -> TcpStream {
    let mut socket = TcpStream::connect(upstream.addr()).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k-2\r\ncontent-type: {content_type}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(body).await.unwrap();
    socket
}

/// A multipart form of the text `fields` and the file `file`, with CRLF line breaks.
fn form(fields: &[(&str, &str)], file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        let part = format!(
            "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        );
        body.extend_from_slice(part.as_bytes());
    }
    let file_head = format!(
        "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"question.wav\"\r\ncontent-type: audio/wav\r\n\r\n"
    );
    body.extend_from_slice(file_head.as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn form_content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

fn question() -> Vec<u8> {
    silent_wav(Duration::from_millis(100))
}

/// Sends a transcription request of a short WAV with `fields` to `path`: the response's head
/// and body.
async fn transcribe(upstream: &Upstream, path: &str, fields: &[(&str, &str)]) -> (String, String) {
    let body = form(fields, &question());
    let mut socket = post_to(upstream, path, &form_content_type(), &body).await;
    let text = read_to_close(&mut socket).await;
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    (head.to_owned(), body.to_owned())
}

/// Sends a speech request of `body` to `path`: the response's head and raw body.
async fn speak(upstream: &Upstream, path: &str, body: &Value) -> (String, Vec<u8>) {
    let body = body.to_string();
    let mut socket = post_to(upstream, path, "application/json", body.as_bytes()).await;
    let response = read_bytes(&mut socket).await;
    let at = find(&response, b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&response[..at]).into_owned();
    (head, response[at + 4..].to_vec())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The chunks of a chunked body, and whether it ended with the last (empty) chunk.
fn dechunk(mut body: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let mut chunks = Vec::new();
    while let Some(at) = find(body, b"\r\n") {
        let size = std::str::from_utf8(&body[..at])
            .ok()
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .expect("a chunk size");
        body = &body[at + 2..];
        if size == 0 {
            return (chunks, body == b"\r\n");
        }
        if body.len() < size + 2 {
            break; // a chunk cut short
        }
        chunks.push(body[..size].to_vec());
        body = &body[size + 2..];
    }
    (chunks, false)
}

/// Reads from `socket` until `needle` arrived.
async fn read_until(socket: &mut TcpStream, needle: &[u8]) {
    let mut seen = Vec::new();
    while find(&seen, needle).is_none() {
        let mut buf = [0; 1024];
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn transcriptions_answer_in_the_format_asked() {
    let upstream = Upstream::start().await;
    let (head, body) = transcribe(&upstream, TRANSCRIPTIONS, &[("model", "whisper-1")]).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("content-type: application/json\r\n"),
        "{head}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, json!({"text": "What is the weather like today?"}));

    upstream.script_transcription(Transcription::new("Bonjour").language("fr"));
    let fields = [("model", "m"), ("response_format", "json")];
    let (_, body) = transcribe(&upstream, "/audio/transcriptions", &fields).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, json!({"text": "Bonjour", "language": "fr"}));

    upstream.script_transcription(Transcription::new("Hello there").language("en"));
    let fields = [("model", "m"), ("response_format", "verbose_json")];
    let (_, body) = transcribe(&upstream, TRANSCRIPTIONS, &fields).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    let verbose = json!({
        "task": "transcribe", "language": "en", "duration": 0.0, "text": "Hello there",
        "segments": [],
    });
    assert_eq!(body, verbose);

    upstream.set_transcription_default(Transcription::new("plain words"));
    let fields = [("model", "m"), ("response_format", "text")];
    let (head, body) = transcribe(&upstream, TRANSCRIPTIONS, &fields).await;
    assert!(head.contains("content-type: text/plain"), "{head}");
    assert_eq!(body, "plain words");

    let fields = [("model", "m"), ("response_format", "srt")];
    let (head, body) = transcribe(&upstream, TRANSCRIPTIONS, &fields).await;
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
    assert!(body.contains("does not produce"), "{body}");

    assert!(upstream.wait_for_no_connections().await);
    let stats = upstream.stats();
    let counts = (stats.requests, stats.completed, stats.disconnects);
    assert_eq!(counts, (5, 5, 0), "{stats:?}");
}

#[tokio::test]
async fn a_recorded_transcription_request_reads_as_a_form() {
    let upstream = Upstream::start().await;
    let fields = [("model", "whisper-1"), ("language", "en")];
    transcribe(&upstream, TRANSCRIPTIONS, &fields).await;
    let recorded = upstream.last_request().unwrap();
    assert!(recorded.is_transcription() && !recorded.is_speech());
    assert_eq!(recorded.form_field("model").as_deref(), Some("whisper-1"));
    assert_eq!(recorded.form_field("language").as_deref(), Some("en"));
    assert_eq!(recorded.form_field("response_format"), None);
    assert_eq!(recorded.form_field("file"), None, "a file is no text field");
    assert_eq!(recorded.form_file("file"), Some(question()));
    assert_eq!(recorded.body, Value::Null);
    assert_eq!(recorded.body_bytes, form(&fields, &question()));
    assert_eq!(recorded.bearer_token(), Some("k-2"));
}

#[tokio::test]
async fn audio_failures_are_scripted_per_endpoint() {
    let upstream = Upstream::start().await;
    upstream.script_transcription(Behaviour::fail(401));
    upstream.script_speech(Behaviour::fail(429).retry_after(3));
    upstream.script_speech(Spoken::Raw {
        status: 200,
        content_type: "text/html".into(),
        body: "<html>".into(),
    });

    let (head, body) = transcribe(&upstream, TRANSCRIPTIONS, &[("model", "m")]).await;
    assert!(head.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{head}");
    assert!(body.contains("k-2"), "a 401 echoes the token: {body}");

    let request = json!({"model": "tts-1", "input": "hi", "voice": "alloy"});
    let (head, body) = speak(&upstream, SPEECH, &request).await;
    assert!(
        head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{head}"
    );
    assert!(head.contains("retry-after: 3\r\n"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("rate_limit_exceeded"));
    let (head, body) = speak(&upstream, SPEECH, &request).await;
    assert!(head.contains("content-type: text/html\r\n"), "{head}");
    assert_eq!(body, b"<html>");

    // Chat has a queue of its own, and the audio queues ran out: the defaults answer.
    let mut socket = post(&upstream, r#"{"model":"m","messages":[]}"#, true).await;
    let text = read_to_close(&mut socket).await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    let (head, _) = transcribe(&upstream, TRANSCRIPTIONS, &[("model", "m")]).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let (head, _) = speak(&upstream, SPEECH, &request).await;
    assert!(head.contains("content-type: audio/mpeg\r\n"), "{head}");
    assert_eq!(upstream.request_count(), 6);
}

#[tokio::test]
async fn speech_is_silent_mp3_by_default_in_chunks() {
    let upstream = Upstream::start().await;
    let request = json!({"model": "tts-1", "input": "ten chars!", "voice": "alloy"});
    let (head, body) = speak(&upstream, SPEECH, &request).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("content-type: audio/mpeg\r\n"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let (chunks, complete) = dechunk(&body);
    assert!(complete);
    // 10 characters × 60 ms = 600 ms = 25 frames of 96 bytes, in chunks of 960 bytes.
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(sizes, [960, 960, 480]);
    let mp3 = chunks.concat();
    for frame in mp3.chunks(96) {
        assert_eq!(frame[..4], MP3_HEADER);
    }
    assert_eq!(mp3, silent_mp3(Duration::from_millis(600)));
    assert!(upstream.last_request().unwrap().is_speech());

    upstream.set_speech_default(Speech::new().ms_per_char(24).chunk_bytes(100));
    let request = json!({"input": "abc", "voice": "alloy", "response_format": "mp3"});
    let (_, body) = speak(&upstream, "/audio/speech", &request).await;
    let (chunks, complete) = dechunk(&body);
    assert!(complete);
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 88]); // 3 × 24 ms = 3 frames

    assert!(upstream.wait_for_no_connections().await);
    let stats = upstream.stats();
    assert_eq!((stats.completed, stats.disconnects), (2, 0), "{stats:?}");
}

#[tokio::test]
async fn speech_comes_as_wav_or_pcm_and_other_formats_are_refused() {
    let upstream = Upstream::start().await;
    let request = json!({
        "model": "tts-1", "input": "ten chars!", "voice": "alloy", "response_format": "wav",
    });
    let (head, body) = speak(&upstream, SPEECH, &request).await;
    assert!(head.contains("content-type: audio/wav\r\n"), "{head}");
    let (chunks, complete) = dechunk(&body);
    assert!(complete);
    let wav = chunks.concat();
    assert_eq!(wav.len(), 44 + 600 * 48);
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(wav[4..8], (36 + 600 * 48u32).to_le_bytes());
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!(&wav[36..40], b"data");
    assert_eq!(wav[40..44], (600 * 48u32).to_le_bytes());
    assert_eq!(wav, silent_wav(Duration::from_millis(600)));

    upstream.script_speech(Speech::new().ms_per_char(10));
    let request = json!({
        "input": "ten chars!", "voice": "alloy", "response_format": "pcm", "speed": 1.0,
    });
    let (head, body) = speak(&upstream, SPEECH, &request).await;
    assert!(head.contains("content-type: audio/pcm\r\n"), "{head}");
    let pcm = dechunk(&body).0.concat();
    assert_eq!(pcm.len(), 100 * 48);
    assert!(pcm.iter().all(|b| *b == 0));

    for format in ["opus", "aac", "flac"] {
        let request = json!({"input": "hi", "voice": "alloy", "response_format": format});
        let (head, body) = speak(&upstream, SPEECH, &request).await;
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("does not produce"), "{body}");
        assert!(message.contains(format), "{body}");
    }
    assert!(upstream.wait_for_no_connections().await);
    let stats = upstream.stats();
    assert_eq!((stats.requests, stats.completed), (5, 5), "{stats:?}");
}

#[tokio::test]
async fn a_client_leaving_during_audio_is_counted() {
    let upstream = Upstream::start().await;
    let long = Duration::from_secs(30);
    upstream.script_speech(Speech::new().delay_first(long));
    upstream.script_speech(Speech::new().chunk_bytes(96).delay_between(long));
    upstream.script_speech(Spoken::Hang);
    upstream.script_transcription(Transcription::new("late").delay(long));
    upstream.script_transcription(Heard::Hang);
    let speech = json!({"input": "ten chars!", "voice": "alloy"}).to_string();

    // After the head, before the first byte of audio.
    let mut socket = post_to(&upstream, SPEECH, "application/json", speech.as_bytes()).await;
    read_until(&mut socket, b"\r\n\r\n").await;
    drop(socket);
    assert!(upstream.wait_for_disconnects(1).await, "{upstream:?}");

    // Mid-body: the first frame arrived.
    let mut socket = post_to(&upstream, SPEECH, "application/json", speech.as_bytes()).await;
    read_until(&mut socket, &MP3_HEADER).await;
    drop(socket);
    assert!(upstream.wait_for_disconnects(2).await, "{upstream:?}");

    // Before any head: a hanging speech, a delayed transcription, a hanging one.
    let socket = post_to(&upstream, SPEECH, "application/json", speech.as_bytes()).await;
    assert!(upstream.wait_for_requests(3).await);
    drop(socket);
    assert!(upstream.wait_for_disconnects(3).await, "{upstream:?}");
    let upload = form(&[("model", "m")], &question());
    for n in 4..=5 {
        let socket = post_to(&upstream, TRANSCRIPTIONS, &form_content_type(), &upload).await;
        assert!(upstream.wait_for_requests(n).await);
        drop(socket);
        assert!(upstream.wait_for_disconnects(n).await, "{upstream:?}");
    }
    assert!(upstream.wait_for_no_connections().await);
    assert_eq!(upstream.stats().completed, 0);
}

#[tokio::test]
async fn cut_speech_ends_without_the_last_chunk_and_is_no_disconnect() {
    let upstream = Upstream::start().await;
    upstream.script_speech(Speech::new().chunk_bytes(96).cut_after(2));
    upstream.script_speech_times(Speech::new().cut_after(0), 2);
    let request = json!({"input": "ten chars!", "voice": "alloy"});
    let (head, body) = speak(&upstream, SPEECH, &request).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let (chunks, complete) = dechunk(&body);
    assert!(!complete && !body.ends_with(b"0\r\n\r\n"));
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        chunks.concat(),
        silent_mp3(Duration::from_millis(600))[..192]
    );

    // Cut before the first chunk: the head, then nothing.
    for _ in 0..2 {
        let (head, body) = speak(&upstream, SPEECH, &request).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(body.is_empty(), "{body:?}");
    }

    assert!(upstream.wait_for_no_connections().await);
    let stats = upstream.stats();
    let counts = (stats.requests, stats.completed, stats.disconnects);
    assert_eq!(counts, (3, 0, 0), "{stats:?}");
}
