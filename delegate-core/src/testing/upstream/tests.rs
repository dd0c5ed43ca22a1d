//! End-to-end tests of the test upstream over real sockets: the bytes on the wire, what is
//! recorded, and how responses are counted (completed, cut, abandoned by the client). The
//! audio endpoints' tests are in `tests/audio.rs`.

mod audio;

use super::server::MAX_REQUEST_BYTES;
use super::{Behaviour, Reply, Upstream};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends a chat request; with `close`, asks the server to close after answering.
async fn post(upstream: &Upstream, body: &str, close: bool) -> TcpStream {
    let mut socket = TcpStream::connect(upstream.addr()).await.unwrap();
    let connection = if close { "connection: close\r\n" } else { "" };
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k-1\r\ncontent-type: application/json\r\n{connection}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    socket
}

async fn read_bytes(socket: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = socket.read_to_end(&mut out).await;
    out
}

async fn read_to_close(socket: &mut TcpStream) -> String {
    String::from_utf8_lossy(&read_bytes(socket).await).into_owned()
}

const STREAM: &str = r#"{"model":"m","stream":true,"messages":[]}"#;

#[tokio::test]
async fn streams_sse_with_usage_and_done_and_records_the_request() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::from_chunks(["Hel", "lo"]).usage(3, 2));
    let body = r#"{"model":"m1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;
    let mut socket = post(&upstream, body, true).await;
    let text = read_to_close(&mut socket).await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("content-type: text/event-stream\r\n"));
    assert!(text.contains("transfer-encoding: chunked\r\n"));
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.len(), 6, "{data:?}"); // role, 2 content, finish, usage, [DONE]
    assert!(data[1].contains(r#""content":"Hel""#));
    assert!(data[3].contains(r#""finish_reason":"stop""#));
    assert!(data[4].contains(r#""prompt_tokens":3"#));
    assert_eq!(data[5], "[DONE]");
    assert!(text.ends_with("0\r\n\r\n"));

    let recorded = upstream.last_request().unwrap();
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/v1/chat/completions");
    assert_eq!(recorded.header("Content-Type"), Some("application/json"));
    assert_eq!(recorded.headers[0], ("host".to_owned(), "x".to_owned()));
    assert_eq!(recorded.model(), Some("m1"));
    assert_eq!(recorded.bearer_token(), Some("k-1"));
    assert_eq!(recorded.messages(), [("user".to_owned(), "hi".to_owned())]);
    assert!(recorded.is_stream() && recorded.wants_stream_usage());
    assert!(upstream.wait_for_no_connections().await);
    assert_eq!(upstream.stats().completed, 1);
    assert_eq!(upstream.disconnects(), 0);
}

#[tokio::test]
async fn a_cut_stream_ends_without_the_last_chunk_and_is_no_disconnect() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::new("a b c d").cut_after(2));
    upstream.script(Reply::new("a b c d").cut_after(0));
    let mut socket = post(&upstream, STREAM, false).await;
    let text = read_to_close(&mut socket).await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert_eq!(text.matches("data: ").count(), 3, "{text}"); // role, "a ", "b "
    assert!(!text.contains("[DONE]") && !text.ends_with("0\r\n\r\n"));

    // Cut before the first chunk: the head, then nothing.
    let mut socket = post(&upstream, STREAM, false).await;
    let text = read_to_close(&mut socket).await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n") && !text.contains("data: "),
        "{text}"
    );

    assert!(upstream.wait_for_no_connections().await);
    let stats = upstream.stats();
    assert_eq!((stats.completed, stats.disconnects), (0, 0), "{stats:?}");
}

#[tokio::test]
async fn a_client_leaving_mid_stream_or_before_the_head_is_counted() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::new("a b c d").delay_between(Duration::from_secs(30)));
    upstream.script(Behaviour::Hang);
    upstream.script(Behaviour::fail(500).after(Duration::from_secs(30)));
    upstream.script(Reply::new("late").delay_first(Duration::from_secs(30)));

    // Mid-stream: the head and the first chunk arrived.
    let mut socket = post(&upstream, STREAM, false).await;
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("\"a \"") {
        let mut buf = [0; 1024];
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    drop(socket);
    assert!(upstream.wait_for_disconnects(1).await, "{upstream:?}");

    // Before any head: a hang, a delayed failure, a delayed whole reply.
    let whole = r#"{"model":"m","messages":[]}"#;
    for n in 2..=4 {
        let socket = post(&upstream, whole, false).await;
        assert!(upstream.wait_for_requests(n).await);
        drop(socket);
        assert!(upstream.wait_for_disconnects(n).await, "{upstream:?}");
    }
    assert!(upstream.wait_for_no_connections().await);
    assert_eq!(upstream.stats().completed, 0);
}

#[tokio::test]
async fn without_stream_a_reply_is_one_completion_object_or_nothing_when_cut() {
    let upstream = Upstream::start().await;
    upstream.script(Reply::new("all at once").usage(5, 3));
    upstream.script(Reply::new("never").cut_after(1));
    let whole = r#"{"model":"m2","messages":[]}"#;
    let mut socket = post(&upstream, whole, true).await;
    let text = read_to_close(&mut socket).await;
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("content-type: application/json"));
    assert!(head.contains(&format!("content-length: {}", body.len())));
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "m2");
    assert_eq!(body["choices"][0]["message"]["content"], "all at once");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["total_tokens"], 8);

    let mut socket = post(&upstream, whole, false).await;
    assert_eq!(read_to_close(&mut socket).await, "");
    assert!(upstream.wait_for_no_connections().await);
    let stats = upstream.stats();
    assert_eq!((stats.completed, stats.disconnects), (1, 0), "{stats:?}");
}

#[tokio::test]
async fn failures_and_other_routes_answer_json_errors() {
    let upstream = Upstream::start().await;
    upstream.script(Behaviour::fail(429).retry_after(1));
    let mut socket = post(&upstream, r#"{"model":"m","messages":[]}"#, true).await;
    let text = read_to_close(&mut socket).await;
    assert!(
        text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{text}"
    );
    assert!(text.contains("retry-after: 1\r\n"));
    assert!(text.contains("rate_limit_exceeded"));

    let mut socket = TcpStream::connect(upstream.addr()).await.unwrap();
    socket
        .write_all(b"GET /v1/models?x=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let text = read_to_close(&mut socket).await;
    assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
    assert!(text.contains("no route GET /v1/models?x=1"), "{text}");
    assert_eq!(upstream.request_count(), 2);
    assert_eq!(upstream.last_request().unwrap().path, "/v1/models?x=1");
}

#[tokio::test]
async fn request_bodies_may_be_chunked_and_are_bounded() {
    let upstream = Upstream::start().await;
    let mut socket = TcpStream::connect(upstream.addr()).await.unwrap();
    socket
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n6\r\n{\"mode\r\n8\r\nl\":\"m3\"}\r\n0\r\n\r\n")
        .await
        .unwrap();
    let text = read_to_close(&mut socket).await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert_eq!(upstream.last_request().unwrap().model(), Some("m3"));

    // Announced too large: closed unanswered, not recorded.
    let mut socket = TcpStream::connect(upstream.addr()).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{{",
        MAX_REQUEST_BYTES + 1
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    assert_eq!(read_to_close(&mut socket).await, "");

    // Chunked past the limit: the same.
    let mut socket = TcpStream::connect(upstream.addr()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut request =
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..=MAX_REQUEST_BYTES / chunk.len() {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    let (mut reader, mut writer) = socket.split();
    let (_, text) = tokio::join!(writer.write_all(&request), async {
        let mut out = Vec::new();
        let _ = reader.read_to_end(&mut out).await;
        out
    });
    assert!(text.is_empty(), "{}", String::from_utf8_lossy(&text));
    assert_eq!(upstream.request_count(), 1);
    assert!(upstream.wait_for_no_connections().await);
    assert_eq!(upstream.disconnects(), 0);
}
