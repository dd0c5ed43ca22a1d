//! /api/v1/transcripts: saved transcripts (from a chat or by hand), listed, read, changed,
//! deleted, searched with ranked full text, and exported — all scoped to the caller.

use super::DEFAULT_LIMIT;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, query_time};
use crate::wire::{
    CreateTranscriptRequest, ExportQuery, SearchPage, TagName, TranscriptBody, TranscriptListQuery,
    TranscriptPage, TranscriptSearchQuery, UpdateTranscriptRequest,
};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use delegate_core::transcript::{ExportFormat, TranscriptChange, TranscriptFilter};
use delegate_core::{ChatSessionId, Delegate, Error, TranscriptId};

pub(crate) fn routes() -> Router<Delegate> {
    Router::new()
        .route(
            "/api/v1/transcripts",
            get(list_transcripts).post(create_transcript),
        )
        .route("/api/v1/transcripts/search", get(search_transcripts))
        .route(
            "/api/v1/transcripts/{id}",
            get(get_transcript)
                .patch(update_transcript)
                .delete(delete_transcript),
        )
        .route("/api/v1/transcripts/{id}/export", get(export_transcript))
}

fn transcript_id(id: &str) -> Result<TranscriptId, ApiError> {
    TranscriptId::parse(id).map_err(|_| Error::NotFound("transcript").into())
}

fn tags(tags: Option<Vec<TagName>>) -> Vec<String> {
    tags.unwrap_or_default().into_iter().map(|t| t.0).collect()
}

/// The caller's transcripts, newest first, with an excerpt each (the first page is cached).
#[utoipa::path(get, path = "/api/v1/transcripts", tag = "transcripts", security(("bearer" = [])),
    params(TranscriptListQuery),
    responses(
        (status = 200, description = "A page of transcripts", body = TranscriptPage),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "Bad tag, time, limit or cursor", body = ErrorBody),
    ))]
pub(crate) async fn list_transcripts(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiQuery(query): ApiQuery<TranscriptListQuery>,
) -> Result<ApiJson<TranscriptPage>, ApiError> {
    let filter = TranscriptFilter {
        tag: query.tag,
        from: query_time("from", query.from.as_deref())?,
        to: query_time("to", query.to.as_deref())?,
        before: None,
    };
    let page = delegate
        .transcripts()
        .list(
            &caller,
            filter,
            query.cursor.as_deref(),
            query.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    Ok(ApiJson(TranscriptPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Save a transcript: `{sessionId,title?,tags?}` from the caller's chat (speaker-labelled,
/// timestamps kept), or `{title,content,tags?}` by hand.
#[utoipa::path(post, path = "/api/v1/transcripts", tag = "transcripts", security(("bearer" = [])),
    request_body = CreateTranscriptRequest,
    responses(
        (status = 201, description = "Created", body = TranscriptBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such chat session of the caller", body = ErrorBody),
        (status = 422, description = "Empty or too long title or content, bad tags, or a chat with no messages", body = ErrorBody),
    ))]
pub(crate) async fn create_transcript(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<CreateTranscriptRequest>,
) -> Result<(StatusCode, ApiJson<TranscriptBody>), ApiError> {
    let service = delegate.transcripts();
    let transcript = match body {
        CreateTranscriptRequest::FromChat {
            session_id,
            title,
            tags: given,
        } => {
            let session = ChatSessionId::parse(&session_id)
                .map_err(|_| ApiError::from(Error::NotFound("session")))?;
            service
                .create_from_chat(&caller, session, title, tags(given))
                .await?
        }
        CreateTranscriptRequest::Manual {
            title,
            content,
            tags: given,
        } => {
            service
                .create_manual(&caller, &title, &content, tags(given))
                .await?
        }
    };
    Ok((StatusCode::CREATED, ApiJson(transcript.into())))
}

/// Ranked full-text search over the caller's transcripts: words (all must match), "phrases",
/// `-excluded`, `OR`, `prefix*`; title matches rank above content matches, ties newest first.
#[utoipa::path(get, path = "/api/v1/transcripts/search", tag = "transcripts",
    security(("bearer" = [])),
    params(TranscriptSearchQuery),
    responses(
        (status = 200, description = "Hits, best first, with a snippet and highlight ranges", body = SearchPage),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "An empty or over-long query, or one with no word to find", body = ErrorBody),
    ))]
pub(crate) async fn search_transcripts(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiQuery(query): ApiQuery<TranscriptSearchQuery>,
) -> Result<ApiJson<SearchPage>, ApiError> {
    let page = delegate
        .transcripts()
        .search(
            caller.user_id,
            &query.q,
            query.tag.as_deref(),
            query.cursor.as_deref(),
            query.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    Ok(ApiJson(SearchPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One of the caller's transcripts.
#[utoipa::path(get, path = "/api/v1/transcripts/{id}", tag = "transcripts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Transcript id (UUID)")),
    responses(
        (status = 200, description = "The transcript", body = TranscriptBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such transcript of the caller", body = ErrorBody),
    ))]
pub(crate) async fn get_transcript(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<TranscriptBody>, ApiError> {
    let transcript = delegate
        .transcripts()
        .get(caller.user_id, transcript_id(&id)?)
        .await?;
    Ok(ApiJson(transcript.into()))
}

/// Change a transcript's title, content or tags.
#[utoipa::path(patch, path = "/api/v1/transcripts/{id}", tag = "transcripts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Transcript id (UUID)")),
    request_body = UpdateTranscriptRequest,
    responses(
        (status = 200, description = "The transcript after the change", body = TranscriptBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such transcript of the caller", body = ErrorBody),
        (status = 422, description = "Empty or too long title or content, or bad tags", body = ErrorBody),
    ))]
pub(crate) async fn update_transcript(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateTranscriptRequest>,
) -> Result<ApiJson<TranscriptBody>, ApiError> {
    let change = TranscriptChange {
        title: body.title,
        content: body.content,
        tags: body.tags.map(|t| tags(Some(t))),
    };
    let transcript = delegate
        .transcripts()
        .update(caller.user_id, transcript_id(&id)?, change)
        .await?;
    Ok(ApiJson(transcript.into()))
}

/// Delete a transcript.
#[utoipa::path(delete, path = "/api/v1/transcripts/{id}", tag = "transcripts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Transcript id (UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such transcript of the caller", body = ErrorBody),
    ))]
pub(crate) async fn delete_transcript(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    delegate
        .transcripts()
        .delete(caller.user_id, transcript_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Download a transcript as Markdown (default), plain text or JSON.
#[utoipa::path(get, path = "/api/v1/transcripts/{id}/export", tag = "transcripts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Transcript id (UUID)"), ExportQuery),
    responses(
        (status = 200, description = "The file (Content-Disposition: attachment), in the format asked for",
            content((String = "text/markdown"), (String = "text/plain"), (Object = "application/json"))),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such transcript of the caller", body = ErrorBody),
        (status = 422, description = "An unknown format", body = ErrorBody),
    ))]
pub(crate) async fn export_transcript(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let format: ExportFormat = query.format.as_deref().unwrap_or("markdown").parse()?;
    let (body, file_name, content_type) = delegate
        .transcripts()
        .export(caller.user_id, transcript_id(&id)?, format)
        .await?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .map_err(|_| ApiError::from(Error::internal("an export file name is not a header")))?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    Ok(response)
}
