//! Audio uploads: a `multipart/form-data` body read with explicit limits — the declared type
//! checked, only the expected parts accepted and each at most once, the audio part capped at
//! the voice upload limit and every text part at 1 KiB — so a hostile body costs little.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use delegate_core::Error;
use multer::{Constraints, Multipart, SizeLimit};
use std::collections::HashMap;

/// The most bytes one text part (a session id, a voice, a language) may hold.
const MAX_TEXT_PART: u64 = 1024;
/// What a multipart body may add around its parts (boundaries and part headers).
pub(crate) const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The parts of an audio upload.
#[derive(Debug)]
pub(crate) struct Upload {
    /// The `audio` part's bytes.
    pub(crate) audio: Bytes,
    /// The text parts given, by name.
    pub(crate) fields: HashMap<&'static str, String>,
}

impl Upload {
    /// The text part `name`, if given and not blank.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Reads an upload of an `audio` part (at most `max_audio` bytes) and the text parts named
/// in `texts`. Answers 415 when the body is not multipart, 413 when a part or the whole is
/// too large, 422 for an unknown, repeated, non-UTF-8 or missing part, 400 when the body is
/// malformed.
pub(crate) async fn read(
    headers: &HeaderMap,
    body: Body,
    max_audio: u64,
    texts: &'static [&'static str],
) -> Result<Upload, ApiError> {
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| {
            ApiError::from(Error::UnsupportedMedia(
                "the body must be multipart/form-data with an `audio` part".to_owned(),
            ))
        })?;
    let mut allowed = vec!["audio"];
    allowed.extend_from_slice(texts);
    let mut limits = SizeLimit::new()
        .whole_stream(max_audio + MULTIPART_OVERHEAD)
        .per_field(MAX_TEXT_PART)
        .for_field("audio", max_audio);
    for name in texts {
        limits = limits.for_field(*name, MAX_TEXT_PART);
    }
    let constraints = Constraints::new()
        .allowed_fields(allowed)
        .size_limit(limits);
    let mut multipart = Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut audio = None;
    let mut fields = HashMap::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| rejection(e, max_audio))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| rejection(e, max_audio))?;
        if name == "audio" {
            if audio.replace(bytes).is_some() {
                return Err(repeated("audio"));
            }
            continue;
        }
        let Some(&known) = texts.iter().find(|t| **t == name) else {
            return Err(unknown(&name));
        };
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::from(Error::invalid(known, "must be UTF-8 text")))?;
        if fields.insert(known, text).is_some() {
            return Err(repeated(known));
        }
    }
    let audio = audio.ok_or_else(|| ApiError::from(Error::invalid("audio", "is required")))?;
    Ok(Upload { audio, fields })
}

fn repeated(name: &'static str) -> ApiError {
    Error::invalid(name, "was sent more than once").into()
}

fn unknown(name: &str) -> ApiError {
    let name: String = name.chars().take(64).collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        format!("unexpected part `{name}`"),
    )
    .with_field(name)
}

/// What a multipart error means for the client.
fn rejection(error: multer::Error, max_audio: u64) -> ApiError {
    match error {
        multer::Error::UnknownField { field_name } => unknown(field_name.as_deref().unwrap_or("")),
        multer::Error::FieldSizeExceeded { field_name, .. }
            if field_name.as_deref() == Some("audio") =>
        {
            ApiError::payload_too_large(usize::try_from(max_audio).unwrap_or(usize::MAX))
        }
        multer::Error::FieldSizeExceeded { field_name, .. } => {
            let name = field_name.unwrap_or_default();
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("part `{name}` is longer than {MAX_TEXT_PART} bytes"),
            )
            .with_field(name)
        }
        multer::Error::StreamSizeExceeded { .. } => {
            ApiError::payload_too_large(usize::try_from(max_audio).unwrap_or(usize::MAX))
        }
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_multipart",
            "the multipart body could not be read",
        ),
    }
}
