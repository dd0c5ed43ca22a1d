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
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
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
/// id and span, the security headers, the request's observation with the declared-size check
/// (bodies under `/api/v1/voice/` may be `voice_limit` bytes), load shedding and timeouts,
/// CORS, Socket.IO and the body limit.
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
            .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds::new()))
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                // Only the id: the request's own log line (`delegate::request`) has its
                // method, route and status, and each field here is formatted per request.
                tracing::info_span!("request", request_id = %id)
            }))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetResponseHeaderLayer::if_not_present(
                STRICT_TRANSPORT_SECURITY,
                move |_: &Response| hsts.clone(),
            ))
            .layer(static_header(CACHE_CONTROL, "no-store"))
            .layer(static_header(X_FRAME_OPTIONS, "DENY"))
            .layer(static_header(REFERRER_POLICY, "no-referrer"))
            .layer(static_header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(axum::middleware::from_fn(
                move |req: Request, next: Next| {
                    let limit = if req.uri().path().starts_with(VOICE_PATH) {
                        usize::try_from(voice_limit).unwrap_or(usize::MAX)
                    } else {
                        limit
                    };
                    observe_and_check(limit, req, next)
                },
            ))
            .layer(shedding)
            .layer(crate::cors::layer(&server.cors_origin))
            .layer(socketio)
            .layer(DefaultBodyLimit::max(limit)),
    )
}

/// Fresh request ids: a random prefix per process and a counter, laid out as a UUID. Unique
/// across instances and restarts without reading the system's random source per request.
/// (Not secret, and not meant to be: a request id names a request in the logs.)
#[derive(Clone)]
struct RequestIds {
    prefix: [u8; 8],
    next: Arc<AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        let random = uuid::Uuid::new_v4();
        let mut prefix = [0; 8];
        prefix.copy_from_slice(&random.as_bytes()[..8]);
        Self {
            prefix,
            next: Arc::new(AtomicU64::new(0)),
        }
    }

    fn make(&self) -> uuid::Uuid {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.prefix);
        bytes[8..].copy_from_slice(&self.next.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut text = uuid::Uuid::encode_buffer();
        let text = self.make().hyphenated().encode_lower(&mut text);
        HeaderValue::from_str(text).ok().map(RequestId::new)
    }
}

fn static_header(
    name: axum::http::HeaderName,
    value: &'static str,
) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// One middleware for three jobs (each `from_fn` layer costs a boxed future and a service
/// clone per request): the request's observation (see [`crate::observe`]), the declared-size
/// check, and the content headers.
async fn observe_and_check(limit: usize, mut req: Request, next: Next) -> Response {
    let observation = crate::observe::Observation::start(&mut req);
    let docs = req.uri().path().starts_with("/docs");
    let mut response = match refuse_declared_oversize(limit, &req) {
        Some(refusal) => refusal,
        None => next.run(req).await,
    };
    set_content_headers(docs, &mut response);
    observation.finish(&response);
    response
}

/// A body declared larger than the limit is refused before any of it is read, and the
/// connection closed after the answer.
fn refuse_declared_oversize(limit: usize, req: &Request) -> Option<Response> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared
        .is_some_and(|len| len > limit as u64)
        .then(|| ApiError::payload_too_large(limit).into_response())
}

/// The content security policy for the path (the docs need their own scripts), and an
/// explicit charset on JSON.
fn set_content_headers(docs: bool, response: &mut Response) {
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
}

#[cfg(test)]
mod tests {
    use super::RequestIds;

    #[test]
    fn request_ids_are_distinct_uuids_and_differ_between_processes() {
        let (here, there) = (RequestIds::new(), RequestIds::new());
        let (a, b, c) = (here.make(), here.make(), there.make());
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.as_bytes()[..6], b.as_bytes()[..6]);
    }
}
