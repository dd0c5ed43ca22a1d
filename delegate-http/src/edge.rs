//! The HTTP edge around every route: request ids, the request's span and observation,
//! security headers, the declared-size check, request timeouts and load shedding, CORS and the
//! body limit. Each answer it makes is the JSON error envelope.

use crate::error::ApiError;
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use delegate_core::config::ServerConfig;
use socketioxide::layer::SocketIoLayer;
use std::time::Duration;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// The request id header: the client's, or a fresh UUID.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// API answers are data, never documents: nothing may load or frame them.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Swagger UI loads its own scripts, styles and images from this server only.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' \
                        'unsafe-inline'; script-src 'self' 'unsafe-inline'; \
                        frame-ancestors 'none'";

/// Where audio uploads go: bodies there may be as large as the voice upload limit.
const VOICE_PATH: &str = "/api/v1/voice/";

/// Wraps `router` in the edge layers configured by `server` (outermost first): the request
/// id, the request's span and observation, the security headers, load shedding and timeouts,
/// the declared-size check (bodies under `/api/v1/voice/` may be `voice_limit` bytes), CORS,
/// Socket.IO and the body limit.
pub(crate) fn wrap(
    router: Router,
    server: &ServerConfig,
    voice_limit: u64,
    socketio: SocketIoLayer,
) -> Router {
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
    let hsts = (server.hsts_max_age_secs > 0).then(|| {
        HeaderValue::from_str(&format!(
            "max-age={}; includeSubDomains",
            server.hsts_max_age_secs
        ))
        .expect("a number is a valid header value")
    });
    // One layer call for all of them: axum wraps every route once per call, and each wrap is
    // cloned again for each request by every wrap around it.
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
                }),
            )
            .layer(axum::middleware::from_fn(crate::observe::observe))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetResponseHeaderLayer::if_not_present(
                STRICT_TRANSPORT_SECURITY,
                move |_: &Response| hsts.clone(),
            ))
            .layer(static_header(CACHE_CONTROL, "no-store"))
            .layer(static_header(X_FRAME_OPTIONS, "DENY"))
            .layer(static_header(REFERRER_POLICY, "no-referrer"))
            .layer(static_header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(axum::middleware::from_fn(content_headers))
            .layer(shedding)
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
            .layer(crate::cors::layer(&server.cors_origin))
            .layer(socketio)
            .layer(DefaultBodyLimit::max(limit)),
    )
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
