//! The HTTP edge around every route: security headers, the declared-size check, request
//! timeouts and load shedding. Each answer it makes is the JSON error envelope.

use crate::error::ApiError;
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use delegate_core::config::ServerConfig;
use std::time::Duration;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// API answers are data, never documents: nothing may load or frame them.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Swagger UI loads its own scripts, styles and images from this server only.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' \
                        'unsafe-inline'; script-src 'self' 'unsafe-inline'; \
                        frame-ancestors 'none'";

/// Where audio uploads go: bodies there may be as large as the voice upload limit.
const VOICE_PATH: &str = "/api/v1/voice/";

/// Wraps `router` in the edge layers configured by `server`; bodies under `/api/v1/voice/`
/// may be `voice_limit` bytes (audio uploads).
pub(crate) fn wrap(router: Router, server: &ServerConfig, voice_limit: u64) -> Router {
    let limit = server.body_limit_bytes;
    let timeout = Duration::from_secs(server.request_timeout_secs.max(1));
    let shedding = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|err: tower::BoxError| async move {
            if err.is::<tower::timeout::error::Elapsed>() {
                ApiError::timed_out()
            } else {
                ApiError::overloaded()
            }
        }))
        .load_shed()
        // One semaphore for the whole router (axum layers each route separately).
        .layer(GlobalConcurrencyLimitLayer::new(
            server.max_concurrent_requests.max(1),
        ))
        .timeout(timeout);
    let router = router
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let limit = if req.uri().path().starts_with(VOICE_PATH) {
                    usize::try_from(voice_limit).unwrap_or(usize::MAX)
                } else {
                    limit
                };
                refuse_declared_oversize(limit, req, next)
            },
        ))
        .layer(shedding)
        .layer(axum::middleware::from_fn(content_headers))
        .layer(static_header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(static_header(REFERRER_POLICY, "no-referrer"))
        .layer(static_header(X_FRAME_OPTIONS, "DENY"))
        .layer(static_header(CACHE_CONTROL, "no-store"));
    match server.hsts_max_age_secs {
        0 => router,
        secs => router.layer(SetResponseHeaderLayer::if_not_present(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_str(&format!("max-age={secs}; includeSubDomains"))
                .expect("a number is a valid header value"),
        )),
    }
}

fn static_header(
    name: axum::http::HeaderName,
    value: &'static str,
) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// A body declared larger than the limit is refused before any of it is read, and the
/// connection closed after the answer.
async fn refuse_declared_oversize(limit: usize, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return ApiError::payload_too_large(limit).into_response();
    }
    next.run(req).await
}

/// The content security policy for the path (the docs need their own scripts), and an
/// explicit charset on JSON.
async fn content_headers(req: Request, next: Next) -> Response {
    let docs = req.uri().path().starts_with("/docs");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let csp = if docs { DOCS_CSP } else { API_CSP };
    headers
        .entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(csp));
    if headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"application/json"))
    {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    response
}
