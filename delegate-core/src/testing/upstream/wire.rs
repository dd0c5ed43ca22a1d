//! The OpenAI wire format the test upstream writes: `chat.completion` objects,
//! `chat.completion.chunk` SSE events, token usage, transcriptions, and error bodies.

use super::RecordedRequest;
use super::audio_script::Transcription;
use super::script::{Failure, Reply};
use serde_json::{Value, json};

/// The `created` timestamp of every completion and chunk.
const CREATED: u64 = 1_700_000_000;

/// The id of the `index`-th response (1-based, counting every request received).
fn completion_id(index: usize) -> String {
    format!("chatcmpl-test-{index}")
}

/// The token usage of `reply`: its scripted counts, or estimates (prompt: a quarter of the
/// characters of the request's messages, rounded up; completion: the number of chunks).
fn usage(request: &RecordedRequest, reply: &Reply) -> Value {
    let (prompt, completion) = reply.usage.unwrap_or_else(|| {
        let chars: usize = request
            .messages()
            .iter()
            .map(|(_, t)| t.chars().count())
            .sum();
        (
            u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX),
            u32::try_from(reply.chunks.len()).unwrap_or(u32::MAX),
        )
    });
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    })
}

/// The whole reply as one `chat.completion` JSON object.
pub(super) fn completion(request: &RecordedRequest, reply: &Reply, index: usize) -> String {
    json!({
        "id": completion_id(index),
        "object": "chat.completion",
        "created": CREATED,
        "model": request.model().unwrap_or("test-model"),
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.text(), "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": usage(request, reply),
    })
    .to_string()
}

/// Writes the SSE events of one streamed reply, each `data: …` plus a blank line.
pub(super) struct ChunkEvents<'a> {
    request: &'a RecordedRequest,
    id: String,
    model: String,
}

impl<'a> ChunkEvents<'a> {
    /// The events of the `index`-th response, answering `request`.
    pub(super) fn new(request: &'a RecordedRequest, index: usize) -> Self {
        Self {
            request,
            id: completion_id(index),
            model: request.model().unwrap_or("test-model").to_owned(),
        }
    }

    fn chunk(&self, delta: Value, finish: Value) -> String {
        event(
            &json!({
                "id": self.id, "object": "chat.completion.chunk", "created": CREATED,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
                "usage": null,
            })
            .to_string(),
        )
    }

    /// The first event: the assistant role with empty content.
    pub(super) fn role(&self) -> String {
        self.chunk(json!({"role": "assistant", "content": ""}), Value::Null)
    }

    /// One content delta.
    pub(super) fn content(&self, text: &str) -> String {
        self.chunk(json!({"content": text}), Value::Null)
    }

    /// The end of the stream: the `finish_reason: "stop"` chunk, the usage chunk when the
    /// request asked for it, then `[DONE]`.
    pub(super) fn end(&self, reply: &Reply) -> String {
        let mut tail = self.chunk(json!({}), json!("stop"));
        if self.request.wants_stream_usage() {
            let usage = json!({
                "id": self.id, "object": "chat.completion.chunk", "created": CREATED,
                "model": self.model, "choices": [], "usage": usage(self.request, reply),
            });
            tail.push_str(&event(&usage.to_string()));
        }
        tail.push_str(&event("[DONE]"));
        tail
    }
}

/// One SSE event carrying `data`.
fn event(data: &str) -> String {
    format!("data: {data}\n\n")
}

/// A transcription in `format` (a `response_format`), as its content type and body: `json`
/// (`{"text"}`, plus `"language"` when scripted), `verbose_json` (task, language, duration,
/// text, no segments) or `text` (the bare text). `None` for a format the test upstream does
/// not produce.
pub(super) fn transcription(
    transcription: &Transcription,
    format: &str,
) -> Option<(&'static str, String)> {
    let text = &transcription.text;
    let language = transcription.language.as_deref();
    let body = match format {
        "json" => {
            let mut body = json!({"text": text});
            if let Some(language) = language {
                body["language"] = json!(language);
            }
            body
        }
        "verbose_json" => json!({
            "task": "transcribe",
            "language": language.unwrap_or("english"),
            "duration": 0.0,
            "text": text,
            "segments": [],
        }),
        "text" => return Some(("text/plain; charset=utf-8", text.clone())),
        _ => return None,
    };
    Some(("application/json", body.to_string()))
}

/// The OpenAI-style error body (for a 400) of a request for a `response_format` the test
/// upstream does not produce.
pub(super) fn unsupported_format(format: &str) -> String {
    json!({"error": {
        "message": format!("the test upstream does not produce response_format {format:?}"),
        "type": "invalid_request_error", "param": "response_format", "code": "unsupported_format",
    }})
    .to_string()
}

/// The OpenAI-style error body of a scripted failure. Without a scripted message, a 401 echoes
/// the bearer token it received (as a careless server might).
pub(super) fn failure(request: &RecordedRequest, failure: &Failure) -> String {
    let (default_type, default_message) = match failure.status {
        401 => (
            "invalid_request_error",
            format!(
                "Incorrect API key provided: {}.",
                request.bearer_token().unwrap_or("(none)")
            ),
        ),
        429 => (
            "rate_limit_exceeded",
            "Rate limit reached; please retry.".to_owned(),
        ),
        s if s >= 500 => (
            "server_error",
            "The server had an error while processing your request.".to_owned(),
        ),
        _ => (
            "invalid_request_error",
            "The request was rejected.".to_owned(),
        ),
    };
    let error_type = failure.error_type.as_deref().unwrap_or(default_type);
    json!({"error": {
        "message": failure.message.clone().unwrap_or(default_message),
        "type": error_type,
        "param": null,
        "code": error_type,
    }})
    .to_string()
}

/// The OpenAI-style error body of a request to a route the upstream does not serve.
pub(super) fn not_found(request: &RecordedRequest) -> String {
    json!({"error": {
        "message": format!("no route {} {}", request.method, request.path),
        "type": "invalid_request_error", "param": null, "code": "not_found",
    }})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> RecordedRequest {
        let body_text = body.to_string();
        RecordedRequest {
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            headers: vec![("authorization".into(), "Bearer k-9".into())],
            body_bytes: body_text.clone().into_bytes(),
            body_text,
            body,
        }
    }

    fn data(events: &str) -> Vec<Value> {
        events
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap_or(Value::String(d.to_owned())))
            .collect()
    }

    #[test]
    fn usage_is_scripted_or_estimated_from_the_messages_and_the_chunks() {
        let asked = request(json!({"messages": [{"role": "user", "content": "hello"}]}));
        let body: Value = serde_json::from_str(&completion(&asked, &Reply::new("a b"), 7)).unwrap();
        assert_eq!(body["id"], "chatcmpl-test-7");
        assert_eq!(body["model"], "test-model");
        assert_eq!(body["usage"]["prompt_tokens"], 2); // 5 characters / 4, rounded up
        assert_eq!(body["usage"]["completion_tokens"], 2);
        let scripted = Reply::new("x").usage(10, 1);
        let body: Value = serde_json::from_str(&completion(&asked, &scripted, 1)).unwrap();
        assert_eq!(body["usage"]["total_tokens"], 11);
    }

    #[test]
    fn chunk_events_carry_role_content_finish_usage_and_done() {
        let asked = request(json!({"model": "m", "stream_options": {"include_usage": true}}));
        let events = ChunkEvents::new(&asked, 3);
        let reply = Reply::new("hi").usage(1, 1);
        let all = data(&[events.role(), events.content("hi"), events.end(&reply)].concat());
        assert_eq!(all.len(), 5, "{all:?}");
        assert_eq!(all[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(all[1]["choices"][0]["delta"]["content"], "hi");
        assert_eq!(all[1]["object"], "chat.completion.chunk");
        assert_eq!(all[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(all[3]["choices"], json!([]));
        assert_eq!(all[3]["usage"]["total_tokens"], 2);
        assert_eq!(all[4], "[DONE]");

        let without_usage = request(json!({"model": "m"}));
        let end = ChunkEvents::new(&without_usage, 1).end(&reply);
        assert_eq!(data(&end).len(), 2, "finish and [DONE] only");
    }

    #[test]
    fn transcriptions_come_in_the_format_asked_or_not_at_all() {
        let heard = Transcription::new("hi there").language("en");
        let (kind, body) = transcription(&heard, "json").unwrap();
        assert_eq!(kind, "application/json");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, json!({"text": "hi there", "language": "en"}));
        let (_, body) = transcription(&Transcription::new("x"), "json").unwrap();
        assert_eq!(body, r#"{"text":"x"}"#);
        let (_, body) = transcription(&Transcription::new("x"), "verbose_json").unwrap();
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["language"], "english");
        assert_eq!(body["segments"], json!([]));
        assert_eq!(
            transcription(&heard, "text"),
            Some(("text/plain; charset=utf-8", "hi there".to_owned()))
        );
        assert_eq!(transcription(&heard, "srt"), None);
        let body: Value = serde_json::from_str(&unsupported_format("srt")).unwrap();
        assert_eq!(body["error"]["param"], "response_format");
    }

    #[test]
    fn error_bodies_fit_the_status_and_a_401_echoes_the_token() {
        let asked = request(Value::Null);
        let body: Value = serde_json::from_str(&failure(&asked, &Failure::new(401))).unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("k-9"));
        let quota = Failure::new(429).error_type("insufficient_quota");
        let body: Value = serde_json::from_str(&failure(&asked, &quota)).unwrap();
        assert_eq!(body["error"]["type"], "insufficient_quota");
        assert_eq!(body["error"]["code"], "insufficient_quota");
        let body: Value = serde_json::from_str(&failure(&asked, &Failure::new(503))).unwrap();
        assert_eq!(body["error"]["type"], "server_error");
        let body: Value = serde_json::from_str(&not_found(&asked)).unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
}
