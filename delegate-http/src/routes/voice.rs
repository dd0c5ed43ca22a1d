//! /api/v1/voice: speech to text, text to speech (streamed), the voice-to-voice turn (JSON or
//! server-sent events), the voices offered and voice usage.

use super::chat::{failed_event, json_event, sse};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, AuthUser};
use crate::upload::{self, Upload};
use crate::wire::{
    AudioBody, MessageBody, ProcessBody, ProcessForm, SynthesizeRequest, TranscribeForm,
    TranscriptionBody, VoiceBody, VoiceList, VoiceUsageBody,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use delegate_core::voice::{SpeakOptions, VoiceEvent};
use delegate_core::{ChatSessionId, Delegate, Error};
use futures::StreamExt;

pub(crate) fn routes() -> Router<Delegate> {
    Router::new()
        .route("/api/v1/voice/transcribe", post(transcribe))
        .route("/api/v1/voice/synthesize", post(synthesize))
        .route("/api/v1/voice/process", post(process))
        .route("/api/v1/voice/voices", get(voices))
        .route("/api/v1/voice/usage", get(usage))
}

/// Reads the request's upload with the voice limits.
async fn read_upload(
    delegate: &Delegate,
    request: Request,
    texts: &'static [&'static str],
) -> Result<Upload, ApiError> {
    let (parts, body) = request.into_parts();
    upload::read(
        &parts.headers,
        body,
        delegate.voice().max_upload_bytes(),
        texts,
    )
    .await
}

/// Transcribe speech. The audio is judged by its bytes and measured before the provider is
/// called; its seconds count against the voice quota.
#[utoipa::path(post, path = "/api/v1/voice/transcribe", tag = "voice", security(("bearer" = [])),
    request_body(content = TranscribeForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "What was heard", body = TranscriptionBody),
        (status = 400, description = "Malformed multipart body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 413, description = "The upload is larger than the limit (25 MB by default)", body = ErrorBody),
        (status = 415, description = "Not multipart, or the audio is not in a format Delegate reads (judged by its bytes)", body = ErrorBody),
        (status = 422, description = "Missing, empty, damaged or too long audio; an unknown or repeated part; a bad language", body = ErrorBody),
        (status = 429, description = "Voice seconds used up (`quota_exceeded`), or rate limit", body = ErrorBody),
        (status = 502, description = "The speech provider failed", body = ErrorBody),
        (status = 503, description = "No speech provider configured (`voice_not_configured`), or too many uploads at once (`service_unavailable`, with `Retry-After`)", body = ErrorBody),
    ))]
pub(crate) async fn transcribe(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    request: Request,
) -> Result<ApiJson<TranscriptionBody>, ApiError> {
    let voice = delegate.voice();
    voice.voices()?; // 503 before reading a byte when voice is not configured.
    let _permit = voice
        .upload_permit()
        .map_err(|e| ApiError::from(e).closing())?;
    let upload = read_upload(&delegate, request, &["language"]).await?;
    let heard = voice
        .transcribe(&caller, upload.audio.clone(), upload.field("language"))
        .await?;
    Ok(ApiJson(TranscriptionBody::from(&heard)))
}

/// Speak text: the audio streams as the provider produces it, with its Content-Type.
#[utoipa::path(post, path = "/api/v1/voice/synthesize", tag = "voice", security(("bearer" = [])),
    request_body = SynthesizeRequest,
    responses(
        (status = 200, description = "The audio, streamed (chunked) as the provider produces it", content(
            (String = "audio/mpeg"), (String = "audio/ogg"), (String = "audio/wav"),
            (String = "audio/flac"), (String = "audio/pcm"))),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "Empty or too long text, unknown voice or format, speed out of range", body = ErrorBody),
        (status = 429, description = "Voice seconds used up (`quota_exceeded`), or rate limit", body = ErrorBody),
        (status = 502, description = "The speech provider failed before any audio", body = ErrorBody),
        (status = 503, description = "No speech provider configured (`voice_not_configured`)", body = ErrorBody),
    ))]
pub(crate) async fn synthesize(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<SynthesizeRequest>,
) -> Result<Response, ApiError> {
    let speech = delegate
        .voice()
        .synthesize(
            &caller,
            &body.text,
            SpeakOptions {
                voice: body.voice,
                format: body.format.map(Into::into),
                speed: body.speed,
            },
        )
        .await?;
    let audio = speech
        .audio
        .map(|chunk| chunk.map_err(|e| std::io::Error::other(e.to_string())));
    let mut response = Body::from_stream(audio).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(speech.format.content_type()),
    );
    Ok(response)
}

/// A voice turn: the speech is transcribed and stored as the user message (source `voice`),
/// the reply is generated and stored as for a chat send, and spoken. JSON, or with
/// `Accept: text/event-stream` server-sent events: `transcript` (`{text, language,
/// durationSeconds, userMessage}`), `delta` (`{text}`) as the reply streams, `audio`
/// (`{seq, format, base64, text}`) for each sentence as soon as it is spoken, in order, then
/// `done` (`{assistantMessage, secondsOut}`) or `error` (`{error, assistantMessage}`). A client
/// that goes away cancels the reply and every synthesis under way. Quotas (voice seconds,
/// messages, tokens) are checked before any provider call.
#[utoipa::path(post, path = "/api/v1/voice/process", tag = "voice", security(("bearer" = [])),
    request_body(content = ProcessForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "JSON: the whole turn; with `Accept: text/event-stream`: the events `transcript`, `delta`, `audio`, then `done` or `error`", content(
            (ProcessBody = "application/json"), (Object = "text/event-stream"))),
        (status = 400, description = "Malformed multipart body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such session of the caller (or a malformed session id)", body = ErrorBody),
        (status = 413, description = "The upload is larger than the limit", body = ErrorBody),
        (status = 415, description = "Not multipart, or not audio Delegate reads", body = ErrorBody),
        (status = 422, description = "Bad audio, a missing session id, a bad voice or language, a session model the tier may no longer use; no speech recognized", body = ErrorBody),
        (status = 429, description = "Voice seconds, messages or tokens used up (`quota_exceeded`), too many replies at once, or rate limit", body = ErrorBody),
        (status = 502, description = "The speech or AI provider failed", body = ErrorBody),
        (status = 503, description = "No speech (`voice_not_configured`) or AI (`ai_not_configured`) provider, or too many uploads at once (`service_unavailable`, with `Retry-After`)", body = ErrorBody),
    ))]
pub(crate) async fn process(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let voice = delegate.voice();
    voice.voices()?;
    let permit = voice
        .upload_permit()
        .map_err(|e| ApiError::from(e).closing())?;
    let upload = read_upload(&delegate, request, &["sessionId", "voice", "language"]).await?;
    let session = upload
        .field("sessionId")
        .ok_or_else(|| Error::invalid("sessionId", "is required"))?;
    let session = ChatSessionId::parse(session).map_err(|_| Error::NotFound("session"))?;
    let turn = voice
        .converse(
            &caller,
            session,
            upload.audio.clone(),
            upload.field("language"),
            upload.field("voice"),
        )
        .await?;
    // The audio was transcribed: its memory and its upload slot are free for others.
    drop((upload, permit));
    let wants_sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_sse {
        return collect(turn).await.map(IntoResponse::into_response);
    }
    let mut first = serde_json::to_value(TranscriptionBody::from(&turn.heard))
        .unwrap_or(serde_json::Value::Null);
    first["userMessage"] =
        serde_json::to_value(MessageBody::from(turn.user_message)).unwrap_or_default();
    let first = json_event("transcript", &first);
    let events = turn.events.map(|event| match event {
        VoiceEvent::Delta(text) => json_event("delta", &serde_json::json!({ "text": text })),
        VoiceEvent::Audio {
            seq,
            text,
            format,
            audio,
        } => json_event(
            "audio",
            &serde_json::json!({
                "seq": seq,
                "format": format.as_str(),
                "base64": STANDARD.encode(&audio),
                "text": text,
            }),
        ),
        VoiceEvent::Done { reply, seconds_out } => json_event(
            "done",
            &serde_json::json!({
                "assistantMessage": MessageBody::from(reply),
                "secondsOut": seconds_out,
            }),
        ),
        VoiceEvent::Failed { reply, error } => failed_event(reply, error),
    });
    Ok(sse(futures::stream::once(async { first }).chain(events)))
}

/// Drives a voice turn to its end for the JSON answer: the sentences' audio joined (MP3
/// frames concatenate), or the failure.
async fn collect(
    turn: delegate_core::voice::Conversation,
) -> Result<ApiJson<ProcessBody>, ApiError> {
    let transcription = TranscriptionBody::from(&turn.heard);
    let mut audio = Vec::new();
    let mut events = turn.events;
    while let Some(event) = events.next().await {
        match event {
            VoiceEvent::Delta(_) => {}
            VoiceEvent::Audio { audio: bytes, .. } => audio.extend_from_slice(&bytes),
            VoiceEvent::Done { reply, seconds_out } => {
                return Ok(ApiJson(ProcessBody {
                    transcript: transcription.text.clone(),
                    reply: reply.content.clone(),
                    audio: AudioBody {
                        format: delegate_core::voice::REPLY_FORMAT.as_str(),
                        base64: STANDARD.encode(&audio),
                    },
                    transcription,
                    user_message: turn.user_message.into(),
                    assistant_message: reply.into(),
                    seconds_out,
                }));
            }
            VoiceEvent::Failed { error, .. } => return Err(error.into()),
        }
    }
    Err(Error::internal("a voice turn ended without an outcome").into())
}

/// The voices offered.
#[utoipa::path(get, path = "/api/v1/voice/voices", tag = "voice", security(("bearer" = [])),
    responses(
        (status = 200, description = "The voices", body = VoiceList),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 503, description = "No speech provider configured (`voice_not_configured`)", body = ErrorBody),
    ))]
pub(crate) async fn voices(
    State(delegate): State<Delegate>,
    AuthUser(_caller): AuthUser,
) -> Result<ApiJson<VoiceList>, ApiError> {
    let items = delegate
        .voice()
        .voices()?
        .into_iter()
        .map(|v| VoiceBody {
            id: v.id,
            name: v.name,
        })
        .collect();
    Ok(ApiJson(VoiceList { items }))
}

/// The caller's voice seconds this month against the tier's quota.
#[utoipa::path(get, path = "/api/v1/voice/usage", tag = "voice", security(("bearer" = [])),
    responses(
        (status = 200, description = "Voice seconds this month", body = VoiceUsageBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub(crate) async fn usage(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
) -> Result<ApiJson<VoiceUsageBody>, ApiError> {
    Ok(ApiJson(delegate.voice().usage(&caller).await?.into()))
}
