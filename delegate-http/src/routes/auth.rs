//! /api/v1/auth: register, login, refresh, logout, logout-all, me, and login sessions.

use super::DEFAULT_LIMIT;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, ClientMeta};
use crate::wire::{
    AuthResultBody, ChangePasswordRequest, ListQuery, LoginRequest, LoginSessionBody,
    LoginSessionPage, MeBody, RefreshRequest, RegisterRequest, RevokedBody, TokenBody,
};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use delegate_core::{Credentials, Delegate, LoginSessionId, Registration};

pub(crate) fn routes() -> Router<Delegate> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/logout-all", post(logout_all))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/sessions", get(list_login_sessions))
        .route("/api/v1/auth/sessions/{id}", delete(revoke_login_session))
        .route("/api/v1/auth/password", post(change_password))
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created and signed in", body = AuthResultBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "Email taken (`email_taken`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid email, password, name or device", body = ErrorBody),
    ))]
pub(crate) async fn register(
    State(delegate): State<Delegate>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, ApiJson<AuthResultBody>), ApiError> {
    let mut registration = Registration::new(body.email, body.password)
        .with_device(body.device.unwrap_or_default().into_core(meta));
    if let Some(name) = body.name {
        registration = registration.with_name(name);
    }
    let signed_in = delegate.auth().register(registration).await?;
    Ok((StatusCode::CREATED, ApiJson(signed_in.into())))
}

/// Sign in with email and password. Every failure answers the same 401.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = AuthResultBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Wrong email or password (`invalid_credentials`)", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid device fields", body = ErrorBody),
    ))]
pub(crate) async fn login(
    State(delegate): State<Delegate>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<ApiJson<AuthResultBody>, ApiError> {
    let credentials = Credentials::new(body.email, body.password)
        .with_device(body.device.unwrap_or_default().into_core(meta));
    Ok(ApiJson(delegate.auth().login(credentials).await?.into()))
}

/// Exchange a refresh token for a new pair (the old one is spent).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenBody),
        (status = 401, description = "Invalid, expired or reused token (a reuse revokes the session)", body = ErrorBody),
        (status = 409, description = "Rotated moments ago by a concurrent request (`refresh_conflict`)", body = ErrorBody),
    ))]
pub(crate) async fn refresh(
    State(delegate): State<Delegate>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<ApiJson<TokenBody>, ApiError> {
    let tokens = delegate.auth().refresh(&body.refresh_token).await?;
    Ok(ApiJson(tokens.into()))
}

/// End this login session: its tokens die at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub(crate) async fn logout(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
) -> Result<StatusCode, ApiError> {
    delegate.auth().logout(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every login session of the caller.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions revoked", body = RevokedBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub(crate) async fn logout_all(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
) -> Result<ApiJson<RevokedBody>, ApiError> {
    let revoked = delegate.auth().logout_all(&caller).await?;
    Ok(ApiJson(RevokedBody { revoked }))
}

/// The caller's account and current login session.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = MeBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub(crate) async fn me(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
) -> Result<ApiJson<MeBody>, ApiError> {
    let (user, session) = delegate.auth().me(&caller).await?;
    Ok(ApiJson(MeBody {
        user: std::sync::Arc::unwrap_or_clone(user).into(),
        session: LoginSessionBody::new(session, caller.session_id),
    }))
}

/// The caller's signed-in devices, the current one flagged, a page at a time.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    operation_id = "list_login_sessions",
    params(ListQuery),
    responses(
        (status = 200, description = "Alive login sessions, newest first", body = LoginSessionPage),
        (status = 400, description = "A query parameter of the wrong type", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "Bad limit or cursor", body = ErrorBody),
    ))]
pub(crate) async fn list_login_sessions(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<LoginSessionPage>, ApiError> {
    let page = delegate
        .login_sessions()
        .list_page(
            caller.user_id,
            query.cursor.as_deref(),
            query.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    Ok(ApiJson(LoginSessionPage {
        items: page
            .items
            .into_iter()
            .map(|s| LoginSessionBody::new(s, caller.session_id))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revoke one of the caller's login sessions. Anyone else's id answers 404, like an unknown one.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "Login session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
    ))]
pub(crate) async fn revoke_login_session(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = LoginSessionId::parse(&id)
        .map_err(|_| ApiError::from(delegate_core::Error::NotFound("session")))?;
    delegate.login_sessions().revoke(caller.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the caller's password. Every other login session of the user is revoked at once;
/// this one stays signed in.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; the other login sessions are revoked"),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Wrong current password, or a new one the policy refuses", body = ErrorBody),
    ))]
pub(crate) async fn change_password(
    State(delegate): State<Delegate>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    delegate
        .auth()
        .change_password(&caller, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
