//! /api/v1/users: the caller's profile (cached) and preferences.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, AuthUser};
use crate::wire::{ProfileUpdateRequest, UsageBody, UserBody};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch};
use delegate_core::Delegate;

pub(crate) fn routes() -> Router<Delegate> {
    Router::new()
        .route("/api/v1/users/profile", get(profile).patch(update_profile))
        .route("/api/v1/users/preferences", patch(update_preferences))
        .route("/api/v1/users/usage", get(usage))
        .route(
            "/api/v1/users/sessions",
            get(super::chat::list_chat_sessions),
        )
}

/// The caller's usage this period against the tier's quota.
#[utoipa::path(get, path = "/api/v1/users/usage", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "Messages today, tokens and voice seconds this month vs the quota", body = UsageBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub(crate) async fn usage(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
) -> Result<ApiJson<UsageBody>, ApiError> {
    let report = delegate.usage().report(&caller).await?;
    Ok(ApiJson(report.into()))
}

/// The caller's profile (served from the cache).
#[utoipa::path(get, path = "/api/v1/users/profile", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's profile", body = UserBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub(crate) async fn profile(AuthUser(caller): AuthUser) -> Result<ApiJson<UserBody>, ApiError> {
    // Read from the profile cache when the caller was verified, for this request.
    Ok(ApiJson(
        std::sync::Arc::unwrap_or_clone(caller.profile).into(),
    ))
}

/// Change the caller's name and/or avatar URL (`avatarUrl: null` removes it).
#[utoipa::path(patch, path = "/api/v1/users/profile", tag = "users", security(("bearer" = [])),
    request_body = ProfileUpdateRequest,
    responses(
        (status = 200, description = "The updated profile", body = UserBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "Invalid name or avatar URL", body = ErrorBody),
    ))]
pub(crate) async fn update_profile(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<ProfileUpdateRequest>,
) -> Result<ApiJson<UserBody>, ApiError> {
    let user = delegate
        .users()
        .update_profile(caller.user_id, body.name, body.avatar_url)
        .await?;
    Ok(ApiJson(user.into()))
}

/// Merge a JSON object into the caller's preferences (`null` removes a key; 16 KiB at most).
#[utoipa::path(patch, path = "/api/v1/users/preferences", tag = "users", security(("bearer" = [])),
    request_body(content = Object, description = "Keys to set; null removes a key"),
    responses(
        (status = 200, description = "The updated profile", body = UserBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "Not an object, or too large once merged", body = ErrorBody),
    ))]
pub(crate) async fn update_preferences(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> Result<ApiJson<UserBody>, ApiError> {
    let user = delegate
        .users()
        .merge_preferences(caller.user_id, patch)
        .await?;
    Ok(ApiJson(user.into()))
}
