//! Extractors: [`ApiJson`], [`ApiQuery`] and [`ApiPath`] (input with enveloped rejections),
//! [`AuthUser`] (a verified caller, usable on a host app's own routes) and [`ClientMeta`]
//! (user agent and IP).

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use delegate_core::{AuthContext, Delegate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};

/// A JSON body (request or response) whose rejections use the error envelope: 415 when the
/// body is not declared JSON, 400 when it does not parse, 422 naming the field whose value
/// does not fit. An empty body reads as JSON `null`, so `ApiJson<Option<T>>` accepts a POST
/// with no body at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let declared_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(is_json_media_type);
        let body = Bytes::from_request(req, state).await?;
        if body.is_empty() {
            return serde_json::from_slice::<T>(b"null")
                .map(Self)
                .map_err(|_| ApiError::missing_body());
        }
        if declared_json != Some(true) {
            return Err(ApiError::not_json());
        }
        // Every body here is an object (or `null` where the body is optional): serde would
        // also read a struct from an array.
        let start = body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        if body[start] != b'{' && !body[start..].starts_with(b"null") {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
                    Ok(_) => ApiError::body_not_object(),
                    Err(_) => ApiError::malformed_json(),
                },
            );
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&body);
        let value = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(ApiError::from_json_error)?;
        deserializer.end().map_err(|_| ApiError::malformed_json())?;
        Ok(Self(value))
    }
}

/// `application/json`, or any `+json` type, with or without parameters.
fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json"))
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A query string whose rejections use the error envelope (400 `invalid_query`, naming the
/// parameter).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Self)
            .map_err(|e| ApiError::invalid_query(e.path().to_string()))
    }
}

/// A path parameter whose rejections use the error envelope (404, as for an unknown id).
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::route_not_found())?;
        Ok(Self(value))
    }
}

/// An optional RFC 3339 time from a query string, or a 422 naming `field`.
pub(crate) fn query_time(
    field: &'static str,
    text: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    text.map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| delegate_core::Error::invalid(field, "must be an RFC 3339 time").into())
    })
    .transpose()
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
        let token = bearer_token(parts)?.ok_or_else(ApiError::missing_token)?;
        let delegate = Delegate::from_ref(state);
        let caller = delegate.auth().authenticate(token).await?;
        crate::observe::CallerSlot::note(&parts.extensions, &caller);
        Ok(Self(caller))
    }
}

/// The token of an `Authorization: Bearer …` header. Credentials given twice (two
/// Authorization headers, or a header and a token in the query string) are refused, so
/// that no layer can pick a different one than another.
pub(crate) fn bearer_token(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let mut headers = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = headers.next() else {
        return Ok(None);
    };
    let in_query = parts.uri.query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes())
            .any(|(name, _)| matches!(name.as_ref(), "token" | "access_token" | "accessToken"))
    });
    if headers.next().is_some() || in_query {
        return Err(ApiError::ambiguous_credentials());
    }
    let Some((scheme, token)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Ok(None);
    };
    let token = token.trim();
    Ok((scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token))
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
        Ok(Self {
            user_agent: parts
                .headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ip: client_ip(&parts.headers, &parts.extensions, &delegate).map(|ip| ip.to_string()),
        })
    }
}

/// The client's IP: the connection's peer, unless the peer is a trusted proxy (see
/// `delegate_core::ratelimit::TrustedProxies::client`). `None` when the server was not
/// started with connect info.
pub(crate) fn client_ip(
    headers: &HeaderMap,
    extensions: &Extensions,
    delegate: &Delegate,
) -> Option<IpAddr> {
    let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    Some(delegate.limits().client_ip(peer.ip(), forwarded))
}
