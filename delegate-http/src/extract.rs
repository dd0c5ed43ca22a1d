//! Extractors: [`ApiJson`] (JSON with enveloped rejections), [`AuthUser`] (a verified
//! caller, usable on a host app's own routes) and [`ClientMeta`] (user agent and IP).

use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use delegate_core::{AuthContext, Delegate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

/// A JSON body (request or response) whose rejections use the error envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The verified caller: a valid access token (`Authorization: Bearer …`) for a live login
/// session. Works in any router whose state gives a [`Delegate`] through `FromRef`.
#[derive(Debug, Clone)]
pub struct AuthUser(pub AuthContext);

impl<S> FromRequestParts<S> for AuthUser
where
    Delegate: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "an Authorization: Bearer <accessToken> header is required",
            )
        })?;
        let delegate = Delegate::from_ref(state);
        Ok(Self(delegate.auth().authenticate(token).await?))
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What the server knows about the client: its User-Agent and IP.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    /// The User-Agent header.
    pub user_agent: Option<String>,
    /// The peer address of the connection.
    pub ip: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            user_agent: parts
                .headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string()),
        })
    }
}
