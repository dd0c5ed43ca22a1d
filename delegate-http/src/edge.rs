//! The HTTP edge around every route: request ids, the request's span and observation,
//! security headers, the declared-size check, request timeouts and load shedding, CORS,
//! Socket.IO, the body limit and the admin gate. Each answer it makes is the JSON error
//! envelope.

use crate::error::ApiError;
use crate::gate::GateLayer;
use crate::observe::Observation;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use delegate_core::Delegate;
use delegate_core::config::ServerConfig;
use futures::future::BoxFuture;
use socketioxide::layer::SocketIoLayer;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service, ServiceBuilder};
use tracing::Instrument;

/// The request id header: the client's, or a fresh UUID.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// API answers are data, never documents: nothing may load or frame them.
static API_CSP: HeaderValue =
    HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'");
/// Swagger UI loads its own scripts, styles and images from this server only.
static DOCS_CSP: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
);
/// The security headers every answer gets unless it set its own (with the CSP above).
/// Made when compiled, so that their bytes are not checked again on every answer.
static SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
];
/// JSON with its charset said.
static JSON_UTF8: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// Where audio uploads go: bodies there may be as large as the voice upload limit.
const VOICE_PATH: &str = "/api/v1/voice/";

/// Wraps `router` in the edge (outermost first): [`Edge`] (request id and span, observation,
/// the declared-size check, load shedding and the timeout, the security headers), CORS,
/// Socket.IO, the body limit, and the admin gate (see [`crate::gate`]; the limit gate is a
/// route layer of the API's routes, inside this).
///
/// One layer call for all of them: axum wraps every route once per call, and each wrap costs
/// a boxed service clone per request. The edge and the gate are written as services of their
/// own for the same reason: one `tower` layer or `from_fn` each per job cost a boxed future, a
/// service clone or both per request, for each of a dozen jobs.
pub(crate) fn wrap(
    router: Router,
    delegate: Delegate,
    server: &ServerConfig,
    voice_limit: u64,
    socketio: SocketIoLayer,
) -> Router {
    let limit = server.body_limit_bytes;
    router.layer(
        ServiceBuilder::new()
            .layer(EdgeLayer::new(server, voice_limit))
            .layer(crate::cors::layer(&server.cors_origin))
            .layer(socketio)
            .layer(DefaultBodyLimit::max(limit))
            .layer(GateLayer::admin(delegate)),
    )
}

/// What every [`Edge`] shares: settings and the one semaphore of the whole router.
struct EdgeSettings {
    ids: RequestIds,
    hsts: Option<HeaderValue>,
    body_limit: usize,
    voice_limit: usize,
    timeout: Duration,
    /// Requests in flight across the whole router, and the most allowed. Nothing waits for a
    /// slot (a request past the cap is shed at once), so a counter does a semaphore's job
    /// without its lock.
    in_flight: AtomicUsize,
    max_in_flight: usize,
}

impl EdgeSettings {
    /// A slot for one more request in flight, or `None` at the cap.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) < self.max_in_flight {
            Some(Slot(Arc::clone(self)))
        } else {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            None
        }
    }
}

/// One request's place under the in-flight cap, given back when dropped (answered, or
/// abandoned by a client that went away).
struct Slot(Arc<EdgeSettings>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Puts an [`Edge`] around each route.
#[derive(Clone)]
struct EdgeLayer {
    settings: Arc<EdgeSettings>,
}

impl EdgeLayer {
    fn new(server: &ServerConfig, voice_limit: u64) -> Self {
        let hsts = (server.hsts_max_age_secs > 0).then(|| {
            HeaderValue::from_str(&format!(
                "max-age={}; includeSubDomains",
                server.hsts_max_age_secs
            ))
            .expect("a number is a valid header value")
        });
        Self {
            settings: Arc::new(EdgeSettings {
                ids: RequestIds::new(),
                hsts,
                body_limit: server.body_limit_bytes,
                voice_limit: usize::try_from(voice_limit).unwrap_or(usize::MAX),
                timeout: Duration::from_secs(server.request_timeout_secs.max(1)),
                in_flight: AtomicUsize::new(0),
                max_in_flight: server.max_concurrent_requests.max(1),
            }),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            settings: Arc::clone(&self.settings),
            inner,
        }
    }
}

/// The outermost service of each route. For every request it:
/// - keeps the client's `x-request-id` or makes one, runs the request in a span carrying it,
///   and echoes it on the answer;
/// - observes the request (see [`crate::observe`]);
/// - refuses a body declared larger than the limit (413) before any of it is read;
/// - sheds load: past `max_concurrent_requests` in flight (for the whole router) it answers
///   503 `overloaded` at once, and a request whose answer takes longer than the timeout gets
///   503 `request_timeout`;
/// - sets the security headers the answer does not set itself, the content security policy
///   for the path, and an explicit charset on JSON.
///
/// Every answer it makes is the JSON error envelope.
#[derive(Clone)]
struct Edge<S> {
    settings: Arc<EdgeSettings>,
    inner: S,
}

impl<S, B> Service<Request> for Edge<S>
where
    S: Service<Request, Response = axum::http::Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let settings = Arc::clone(&self.settings);
        let id = settings.ids.of(req.headers_mut());
        // Only the id: the request's own log line (`delegate::request`) has its method, route
        // and status, and each field here is formatted per request.
        let span = tracing::info_span!("request", request_id = id.to_str().unwrap_or_default());
        let observation = Observation::start(&mut req);
        let path = req.uri().path();
        let docs = path.starts_with("/docs");
        let limit = if path.starts_with(VOICE_PATH) {
            settings.voice_limit
        } else {
            settings.body_limit
        };
        let answer = if let Some(refusal) = refuse_declared_oversize(limit, &req) {
            Err(refusal)
        } else if let Some(slot) = settings.admit() {
            let _entered = span.enter();
            Ok((slot, self.inner.call(req)))
        } else {
            Err(ApiError::overloaded().into_response())
        };
        Box::pin(
            async move {
                let mut response = match answer {
                    Ok((slot, running)) => {
                        let answered = tokio::time::timeout(settings.timeout, running).await;
                        drop(slot);
                        match answered {
                            Ok(Ok(response)) => response.map(axum::body::Body::new),
                            Err(_) => ApiError::timed_out().into_response(),
                        }
                    }
                    Err(refusal) => refusal,
                };
                settings.decorate(id, docs, response.headers_mut());
                observation.finish(&response);
                Ok(response)
            }
            .instrument(span),
        )
    }
}

impl EdgeSettings {
    /// The answer's request id, security headers, content security policy, and an explicit
    /// charset on JSON. Headers the route set itself are kept.
    fn decorate(&self, id: HeaderValue, docs: bool, headers: &mut HeaderMap) {
        // Room for what follows at once, rather than growing the map on the way.
        headers.reserve(8);
        headers.entry(REQUEST_ID).or_insert(id);
        if let Some(hsts) = &self.hsts {
            headers
                .entry(STRICT_TRANSPORT_SECURITY)
                .or_insert_with(|| hsts.clone());
        }
        for (name, value) in &SECURITY_HEADERS {
            headers.entry(name).or_insert_with(|| value.clone());
        }
        let csp = if docs { &DOCS_CSP } else { &API_CSP };
        headers
            .entry(CONTENT_SECURITY_POLICY)
            .or_insert_with(|| csp.clone());
        if headers
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"application/json"))
        {
            headers.insert(CONTENT_TYPE, JSON_UTF8.clone());
        }
    }
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

impl RequestIds {
    /// The request's id: the client's `x-request-id`, or a fresh one set on the request (so
    /// that handlers see it too).
    fn of(&self, headers: &mut HeaderMap) -> HeaderValue {
        if let Some(id) = headers.get(REQUEST_ID) {
            return id.clone();
        }
        let mut text = uuid::Uuid::encode_buffer();
        let text = self.make().hyphenated().encode_lower(&mut text);
        let id = HeaderValue::from_str(text).expect("a UUID is a valid header value");
        headers.insert(REQUEST_ID, id.clone());
        id
    }
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
