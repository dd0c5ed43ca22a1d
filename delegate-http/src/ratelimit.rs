//! The rate limit's parts for the HTTP gate ([`crate::gate`]): which class of limit a route
//! counts against, the route's key for per-route limits, and the `RateLimit-*` headers.

use crate::error::{ApiError, whole_secs};
use axum::extract::MatchedPath;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use delegate_core::Error;
use delegate_core::ratelimit::{RateDecision, RouteClass};
use std::sync::Once;

/// Routes that are counted against the stricter auth limit, per IP, and fail closed.
const AUTH_ROUTES: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/register",
    "/api/v1/auth/refresh",
];

/// The route that calls the AI provider (fails closed too).
const AI_ROUTE: &str = "/api/v1/sessions/{id}/messages";

/// The class of limit a request counts against: the auth routes' stricter per-IP one, the AI
/// route's, or the standard one.
pub(crate) fn route_class(parts: &Parts) -> RouteClass {
    let path = matched_path(parts);
    if AUTH_ROUTES.contains(&path) {
        RouteClass::Auth
    } else if parts.method == Method::POST && path == AI_ROUTE {
        RouteClass::Ai
    } else {
        RouteClass::Standard
    }
}

/// The route template the request matched, or its path when it matched none.
fn matched_path(parts: &Parts) -> &str {
    parts
        .extensions
        .get::<MatchedPath>()
        .map_or(parts.uri.path(), MatchedPath::as_str)
}

/// The route's name for per-route limits: `METHOD /route/template`.
pub(crate) fn route_key(parts: &Parts) -> String {
    format!("{} {}", parts.method, matched_path(parts))
}

/// Without the peer address every anonymous client would share one bucket; refuse instead,
/// and say loudly (once) how to fix the host app.
pub(crate) fn no_connect_info() -> ApiError {
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

/// Writes the decision's `RateLimit-Limit`, `-Remaining` and `-Reset` headers.
pub(crate) fn write_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    headers.insert(LIMIT, HeaderValue::from(decision.limit));
    headers.insert(REMAINING, HeaderValue::from(decision.remaining));
    headers.insert(RESET, HeaderValue::from(whole_secs(decision.reset_after)));
}
