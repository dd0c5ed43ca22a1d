//! The rate-limit middleware: counts each API request against the caller (the user when a
//! valid token is presented on an ordinary route; the client IP on login, register and
//! refresh, and for anonymous requests) and writes the `RateLimit-*` headers.

use crate::error::{ApiError, whole_secs};
use crate::extract::{ClientIp, bearer_token, client_ip};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use delegate_core::ratelimit::{RateClient, RateDecision, RouteClass};
use delegate_core::{AuthContext, Delegate, Error, ErrorKind};
use std::sync::Once;

/// Routes that are counted against the stricter auth limit, per IP, and fail closed.
const AUTH_ROUTES: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/register",
    "/api/v1/auth/refresh",
];

/// The route that calls the AI provider (fails closed too).
const AI_ROUTE: &str = "/api/v1/sessions/{id}/messages";

/// Applies `delegate.limits()` to the request; a refusal is a 429 with `Retry-After`, an
/// outage on a fail-closed route a 503.
pub(crate) async fn limit(State(delegate): State<Delegate>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let matched = parts.extensions.get::<MatchedPath>().cloned();
    let path = matched
        .as_ref()
        .map_or(parts.uri.path(), MatchedPath::as_str);
    let route = format!("{} {path}", parts.method);
    let class = if AUTH_ROUTES.contains(&path) {
        RouteClass::Auth
    } else if parts.method == Method::POST && path == AI_ROUTE {
        RouteClass::Ai
    } else {
        RouteClass::Standard
    };
    let bearer = match bearer_token(&parts) {
        Ok(bearer) => bearer.map(str::to_owned),
        Err(e) => return e.into_response(),
    };
    let ip = client_ip(&parts.headers, &parts.extensions, &delegate);
    if let Some(ip) = ip {
        parts.extensions.insert(ClientIp(ip));
    }
    // A token never moves the auth routes off the IP's bucket: login, register and refresh
    // do not need a caller, and a valid token must not buy more guesses.
    // A refused token counts against the IP (the handler answers 401 where one is needed);
    // a store outage while verifying answers at once, rather than twice as slowly later.
    // The admin guard (which runs before routing) may have verified the caller already.
    let verified = parts.extensions.get::<AuthContext>().cloned();
    let caller = match (&bearer, class) {
        (Some(_), RouteClass::Ai | RouteClass::Standard) if verified.is_some() => verified,
        (Some(token), RouteClass::Ai | RouteClass::Standard) => {
            match delegate.auth().authenticate(token).await {
                Ok(caller) => Some(caller),
                Err(e) if e.kind() == ErrorKind::Unauthenticated => None,
                Err(e) => return ApiError::from(e).into_response(),
            }
        }
        _ => None,
    };
    let client = match (&caller, ip) {
        (Some(caller), _) => RateClient::User(caller.user_id, caller.tier),
        (None, Some(ip)) => RateClient::Ip(ip),
        (None, None) => return no_connect_info().into_response(),
    };
    // `AuthUser` takes the verified caller from here instead of verifying again.
    if let Some(caller) = caller {
        crate::observe::CallerSlot::note(&parts.extensions, &caller);
        parts.extensions.insert(caller);
    }
    let decision = match delegate.limits().check(&client, &route, class).await {
        Ok(decision) => decision,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut response = if decision.allowed {
        next.run(Request::from_parts(parts, body)).await
    } else {
        ApiError::rate_limited(decision.retry_after).into_response()
    };
    write_headers(response.headers_mut(), &decision);
    response
}

/// Without the peer address every anonymous client would share one bucket; refuse instead,
/// and say loudly (once) how to fix the host app.
fn no_connect_info() -> ApiError {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        tracing::error!(
            "Delegate's router is served without connect info, so clients cannot be told \
             apart for rate limiting; anonymous requests are refused. Serve it with \
             `into_make_service_with_connect_info::<SocketAddr>()` (delegate_http::serve does)"
        );
    });
    Error::internal("router served without connect info").into()
}

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

fn write_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    headers.insert(LIMIT, HeaderValue::from(decision.limit));
    headers.insert(REMAINING, HeaderValue::from(decision.remaining));
    headers.insert(RESET, HeaderValue::from(whole_secs(decision.reset_after)));
}
