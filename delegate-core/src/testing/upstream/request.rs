//! One request as the test upstream recorded it, with readers for what tests check: headers,
//! the fields of a chat body, and the fields and files of a multipart form.

use super::form;
use serde_json::Value;

/// One request the upstream received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: String,
    /// The path (with any query string).
    pub path: String,
    /// The headers in arrival order (repeats of a name grouped where it first came), names
    /// lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body_text: String,
    /// The body parsed as JSON (`Value::Null` when it is not JSON, e.g. a multipart form).
    pub body: Value,
    /// The body as it arrived, byte for byte.
    pub body_bytes: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The token of an `Authorization: Bearer …` header.
    pub fn bearer_token(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }

    /// The `model` field of the body.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model")?.as_str()
    }

    /// Whether the body asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.body.get("stream").and_then(Value::as_bool) == Some(true)
    }

    /// Whether the body asked for usage on the last chunk (`stream_options.include_usage`).
    pub fn wants_stream_usage(&self) -> bool {
        self.body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// The `messages` of the body as `(role, text)` pairs; content given as an array of parts
    /// is joined from its text parts.
    pub fn messages(&self) -> Vec<(String, String)> {
        let Some(messages) = self.body.get("messages").and_then(Value::as_array) else {
            return Vec::new();
        };
        messages
            .iter()
            .map(|m| {
                let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                (role.to_owned(), content_text(m.get("content")))
            })
            .collect()
    }

    /// The value of the text field `name` of a `multipart/form-data` body (not a file part),
    /// if it has one.
    pub fn form_field(&self, name: &str) -> Option<String> {
        self.form_parts()
            .into_iter()
            .find(|part| part.name == name && !part.is_file)
            .map(|part| String::from_utf8_lossy(part.data).into_owned())
    }

    /// The bytes of the part `name` (a file, or any part of that name) of a
    /// `multipart/form-data` body, if it has one.
    pub fn form_file(&self, name: &str) -> Option<Vec<u8>> {
        self.form_parts()
            .into_iter()
            .find(|part| part.name == name)
            .map(|part| part.data.to_vec())
    }

    fn form_parts(&self) -> Vec<form::Part<'_>> {
        let content_type = self.header("content-type").unwrap_or_default();
        form::parts(content_type, &self.body_bytes)
    }

    /// Whether this is a chat request: `POST /v1/chat/completions` (or without `/v1`).
    pub(super) fn is_chat(&self) -> bool {
        self.is_post_to("chat/completions")
    }

    /// Whether this is a transcription request: `POST /v1/audio/transcriptions` (or without
    /// `/v1`).
    pub fn is_transcription(&self) -> bool {
        self.is_post_to("audio/transcriptions")
    }

    /// Whether this is a speech request: `POST /v1/audio/speech` (or without `/v1`).
    pub fn is_speech(&self) -> bool {
        self.is_post_to("audio/speech")
    }

    /// Whether this is a `POST` to `/v1/{route}` or `/{route}` (any query string aside).
    fn is_post_to(&self, route: &str) -> bool {
        let path = self.path.split('?').next().unwrap_or_default();
        let path = path.strip_prefix("/v1").unwrap_or(path);
        self.method == "POST" && path.strip_prefix('/') == Some(route)
    }
}

fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}
