//! The rate-limit middleware: counts each API request against the caller (the user when a
//! valid token is presented, else the client IP) and writes the `RateLimit-*` headers.

use crate::error::ApiError;
use crate::extract::client_ip;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use delegate_core::Delegate;
use delegate_core::ratelimit::{RateClient, RateDecision, RouteClass};
use std::time::Duration;

/// Routes that are counted against the stricter auth limit and fail closed.
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
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let route = format!("{} {path}", req.method());
    let class = if AUTH_ROUTES.contains(&path.as_str()) {
        RouteClass::Auth
    } else if req.method() == axum::http::Method::POST && path == AI_ROUTE {
        RouteClass::Ai
    } else {
        RouteClass::Standard
    };
    let bearer = crate::extract::bearer_token(req.headers()).map(str::to_owned);
    let trusted = &delegate.config().server.trusted_proxies;
    let ip = client_ip(req.headers(), req.extensions(), trusted).unwrap_or_default();
    let caller = match bearer {
        Some(token) => delegate.auth().authenticate(&token).await.ok(),
        None => None,
    };
    let client = match &caller {
        Some(caller) => RateClient::User(caller.user_id, caller.tier),
        None => RateClient::Ip(ip),
    };
    // `AuthUser` takes the verified caller from here instead of verifying again.
    let mut req = req;
    if let Some(caller) = caller {
        req.extensions_mut().insert(caller);
    }
    let decision = match delegate.limits().check(&client, &route, class).await {
        Ok(decision) => decision,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut response = if decision.allowed {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests; retry in {}s",
                whole_secs(decision.retry_after)
            ),
        )
        .with_retry_after(decision.retry_after)
        .into_response()
    };
    write_headers(response.headers_mut(), &decision);
    response
}

fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn write_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert(
        "ratelimit-reset",
        HeaderValue::from(whole_secs(decision.reset_after)),
    );
}
