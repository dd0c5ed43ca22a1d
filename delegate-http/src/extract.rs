//! Extractors: [`ApiJson`] (JSON with enveloped rejections), [`AuthUser`] (a verified
//! caller, usable on a host app's own routes) and [`ClientMeta`] (user agent and IP).

use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use delegate_core::{AuthContext, Delegate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};

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
        // Already verified by the rate-limit middleware on Delegate's own routes.
        if let Some(caller) = parts.extensions.get::<AuthContext>() {
            return Ok(Self(caller.clone()));
        }
        let token = bearer_token(&parts.headers).ok_or_else(|| {
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

/// The token of an `Authorization: Bearer …` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
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

impl<S> FromRequestParts<S> for ClientMeta
where
    Delegate: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let delegate = Delegate::from_ref(state);
        let trusted = &delegate.config().server.trusted_proxies;
        Ok(Self {
            user_agent: parts
                .headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ip: client_ip(&parts.headers, &parts.extensions, trusted),
        })
    }
}

/// The client's IP: the connection's peer, unless the peer is one of the `trusted`
/// proxies (comma-separated IPs), in which case the right-most `X-Forwarded-For` address
/// that is not itself a trusted proxy.
pub(crate) fn client_ip(
    headers: &HeaderMap,
    extensions: &Extensions,
    trusted: &str,
) -> Option<String> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    let trusted: Vec<IpAddr> = trusted
        .split(',')
        .filter_map(|ip| ip.trim().parse().ok())
        .collect();
    if !trusted.contains(&peer) {
        return Some(peer.to_string());
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    let client = forwarded.into_iter().rev().find(|ip| !trusted.contains(ip));
    Some(client.unwrap_or(peer).to_string())
}
