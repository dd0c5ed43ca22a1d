//! /api/v1/sessions: chat sessions and messages, with replies as JSON or server-sent events.

use super::DEFAULT_LIMIT;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::wire::{
    ChatSessionBody, ChatSessionPage, CreateChatSessionRequest, ListQuery, MessageBody,
    MessagePage, RenameChatSessionRequest, SendMessageRequest, SentBody,
};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use delegate_core::chat::{NewChatSession, ReplyEvent};
use delegate_core::realtime::Resumed;
use delegate_core::{ChatSessionId, Delegate, Error};
use futures::StreamExt;
use std::convert::Infallible;

pub(crate) fn routes() -> Router<Delegate> {
    Router::new()
        .route(
            "/api/v1/sessions",
            get(list_chat_sessions).post(create_chat_session),
        )
        .route(
            "/api/v1/sessions/{id}",
            get(get_chat_session)
                .patch(rename_chat_session)
                .delete(delete_chat_session),
        )
        .route(
            "/api/v1/sessions/{id}/messages",
            get(list_messages).post(send_message),
        )
        .route(
            "/api/v1/sessions/{id}/messages/{message_id}/stream",
            get(resume_reply),
        )
}

fn session_id(id: &str) -> Result<ChatSessionId, ApiError> {
    ChatSessionId::parse(id).map_err(|_| Error::NotFound("session").into())
}

/// The caller's chat sessions, newest first (the first page is cached).
#[utoipa::path(get, path = "/api/v1/sessions", tag = "chat", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of sessions", body = ChatSessionPage),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "Bad limit or cursor", body = ErrorBody),
    ))]
pub(crate) async fn list_chat_sessions(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<ChatSessionPage>, ApiError> {
    let page = delegate
        .chat()
        .list_chat_sessions(
            caller.user_id,
            query.cursor.as_deref(),
            query.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    Ok(ApiJson(ChatSessionPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Create a chat session.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "chat", security(("bearer" = [])),
    request_body = Option<CreateChatSessionRequest>,
    responses(
        (status = 201, description = "Created", body = ChatSessionBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "Invalid title or system prompt, or a model the caller's tier may not use (the message names the allowed ones)", body = ErrorBody),
    ))]
pub(crate) async fn create_chat_session(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<Option<CreateChatSessionRequest>>,
) -> Result<(StatusCode, ApiJson<ChatSessionBody>), ApiError> {
    let body = body.unwrap_or_default();
    let session = delegate
        .chat()
        .create_chat_session(
            &caller,
            NewChatSession {
                title: body.title,
                model: body.model,
                system_prompt: body.system_prompt,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, ApiJson(session.into())))
}

/// One of the caller's chat sessions (anyone else's id answers 404).
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "Chat session id")),
    responses(
        (status = 200, description = "The session", body = ChatSessionBody),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
    ))]
pub(crate) async fn get_chat_session(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<ChatSessionBody>, ApiError> {
    let session = delegate
        .chat()
        .get_chat_session(caller.user_id, session_id(&id)?)
        .await?;
    Ok(ApiJson(session.into()))
}

/// Rename a chat session.
#[utoipa::path(patch, path = "/api/v1/sessions/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "Chat session id")),
    request_body = RenameChatSessionRequest,
    responses(
        (status = 200, description = "The renamed session", body = ChatSessionBody),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
        (status = 422, description = "Invalid title", body = ErrorBody),
    ))]
pub(crate) async fn rename_chat_session(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RenameChatSessionRequest>,
) -> Result<ApiJson<ChatSessionBody>, ApiError> {
    let id = session_id(&id)?;
    let chat = delegate.chat();
    let session = match body.title {
        Some(title) => chat.rename_chat_session(caller.user_id, id, &title).await?,
        None => chat.get_chat_session(caller.user_id, id).await?,
    };
    Ok(ApiJson(session.into()))
}

/// Delete a chat session and its messages.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "Chat session id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
    ))]
pub(crate) async fn delete_chat_session(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    delegate
        .chat()
        .delete_chat_session(caller.user_id, session_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The session's messages, oldest first (the first page is cached).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "Chat session id"), ListQuery),
    responses(
        (status = 200, description = "A page of messages", body = MessagePage),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
    ))]
pub(crate) async fn list_messages(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<MessagePage>, ApiError> {
    let page = delegate
        .chat()
        .list_messages(
            caller.user_id,
            session_id(&id)?,
            query.cursor.as_deref(),
            query.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    Ok(ApiJson(MessagePage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Send a message and get the AI's reply: JSON (201), or with `stream: true` /
/// `Accept: text/event-stream` server-sent events `message` (the stored user message),
/// `delta` (`{text}`), then `done` (the stored reply with usage) or `error`
/// (`{error, assistantMessage}`). Quotas are checked before the provider is called.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "Chat session id")),
    request_body = SendMessageRequest,
    responses(
        (status = 201, description = "The stored messages, once the reply has ended (JSON)", body = SentBody),
        (status = 200, description = "With `stream: true` or `Accept: text/event-stream`: server-sent events `message` (the stored user message), `delta` (`{text}`), then `done` (the stored reply) or `error` (`{error, assistantMessage}`)", content_type = "text/event-stream", body = Object),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
        (status = 422, description = "Empty or too long content, or a session model the caller's tier may no longer use", body = ErrorBody),
        (status = 429, description = "Quota (`quota_exceeded`), too many replies at once, or rate limit", body = ErrorBody),
        (status = 502, description = "The AI provider failed; the user message is kept", body = ErrorBody),
        (status = 503, description = "No AI provider configured (`ai_not_configured`)", body = ErrorBody),
    ))]
pub(crate) async fn send_message(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<Response, ApiError> {
    let sent = delegate
        .chat()
        .send_message(&caller, session_id(&id)?, &body.content)
        .await?;
    let wants_sse = body.stream
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_sse {
        return match sent.reply.collect().await {
            Ok(reply) => {
                let usage = reply.usage.map(Into::into);
                let body = SentBody {
                    user_message: sent.user_message.into(),
                    assistant_message: reply.into(),
                    usage,
                };
                Ok((StatusCode::CREATED, ApiJson(body)).into_response())
            }
            Err((_, error)) => Err(error.into()),
        };
    }
    let first = json_event("message", &MessageBody::from(sent.user_message));
    let events = sent.reply.map(|event| match event {
        ReplyEvent::Delta(text) => json_event("delta", &serde_json::json!({ "text": text })),
        ReplyEvent::Done(message) => json_event("done", &MessageBody::from(message)),
        ReplyEvent::Failed(message, error) => failed_event(message, error),
    });
    Ok(sse(futures::stream::once(async { first }).chain(events)))
}

/// The `error` event of a reply that failed: `{error, assistantMessage}` (the stored reply).
pub(crate) fn failed_event(reply: delegate_core::chat::Message, error: Error) -> Event {
    let error = ApiError::from(error);
    json_event(
        "error",
        &serde_json::json!({
            "error": ErrorDetail::from(&error),
            "assistantMessage": MessageBody::from(reply),
        }),
    )
}

/// An SSE response of `events` with keep-alive comments, counted in the
/// `delegate_sse_streams` gauge while the client reads it.
pub(crate) fn sse(events: impl futures::Stream<Item = Event> + Send + 'static) -> Response {
    let live = LiveStream::start();
    let stream = events.map(move |event| {
        let _live = &live;
        Ok::<_, Infallible>(event)
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Follow a reply (resume it after a lost connection, or watch it from another device):
/// server-sent events `delta` (`{text,seq}`, with `id: <seq>`) after `Last-Event-ID` (or
/// `?after=`), live ones as they come, then `done` with the stored reply (its `status` says
/// how it ended). A reply that ended answers `done` at once.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/messages/{messageId}/stream", tag = "chat", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Chat session id"),
        ("messageId" = String, Path, description = "The reply's message id"),
        ("after" = Option<u64>, Query, description = "Resume after this delta (as `Last-Event-ID`)"),
        ("Last-Event-ID" = Option<u64>, Header, description = "The last delta received (its `id`)"),
    ),
    responses(
        (status = 200, description = "Server-sent events `delta` then `done`", content_type = "text/event-stream", body = Object),
        (status = 400, description = "A malformed `after` or `Last-Event-ID`", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such reply in a session of the caller", body = ErrorBody),
    ))]
pub(crate) async fn resume_reply(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath((id, message_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    let message = delegate_core::MessageId::parse(&message_id)
        .map_err(|_| ApiError::from(Error::NotFound("message")))?;
    // Each checked when given (`null` counts as not given); the header wins.
    let number = |value: &str| -> Result<Option<u64>, ApiError> {
        match value.trim() {
            "null" => Ok(None),
            value => value.parse::<u64>().map(Some).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "`Last-Event-ID` and `after` must be a delta number",
                )
            }),
        }
    };
    let from_query = match form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "after")
    {
        Some((_, value)) => number(&value)?,
        None => None,
    };
    let from_header = match headers.get("last-event-id") {
        Some(value) => number(value.to_str().unwrap_or("x"))?,
        None => None,
    };
    let after = from_header.or(from_query).unwrap_or(0);
    let steps = delegate
        .chat()
        .resume_reply(&caller, session_id(&id)?, message, after)
        .await?;
    let events = steps.map(|step| match step {
        Resumed::Delta(delta) => json_event(
            "delta",
            &serde_json::json!({ "text": delta.text, "seq": delta.seq }),
        )
        .id(delta.seq.to_string()),
        Resumed::End { message, .. } => json_event("done", &message),
    });
    Ok(sse(events))
}

/// Counts a live SSE stream in the `delegate_sse_streams` gauge until it is dropped (ended
/// or the client went away).
struct LiveStream;

impl LiveStream {
    fn start() -> Self {
        metrics::gauge!("delegate_sse_streams").increment(1.0);
        LiveStream
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        metrics::gauge!("delegate_sse_streams").decrement(1.0);
    }
}

pub(crate) fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}
