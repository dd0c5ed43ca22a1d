//! The per-request observation: one structured log line (method, route template, status,
//! latency, the request id from the span, the user id when known — never a token, password,
//! email or body) and the request count and latency histogram by route template.

use axum::extract::{MatchedPath, Request};
use axum::http::Extensions;
use axum::middleware::Next;
use axum::response::Response;
use delegate_core::{AuthContext, UserId};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Where the verified caller of a request is noted, for its log line.
#[derive(Clone, Default)]
pub(crate) struct CallerSlot(Arc<OnceLock<UserId>>);

impl CallerSlot {
    /// Notes `caller` as the request's user (the first verification wins).
    pub(crate) fn note(extensions: &Extensions, caller: &AuthContext) {
        if let Some(slot) = extensions.get::<CallerSlot>() {
            let _ = slot.0.set(caller.user_id);
        }
    }
}

/// Observes one request: see the module docs.
pub(crate) async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let slot = CallerSlot::default();
    req.extensions_mut().insert(slot.clone());
    let response = next.run(req).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    metrics::counter!(
        "delegate_http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status.to_string(),
    )
    .increment(1);
    metrics::histogram!(
        "delegate_http_request_duration_seconds",
        "method" => method.clone(),
        "route" => route.clone(),
    )
    .record(latency.as_secs_f64());
    tracing::info!(
        target: "delegate::request",
        method,
        route,
        status,
        latency_ms = latency.as_secs_f64() * 1000.0,
        user_id = slot.0.get().map(tracing::field::display),
        "request"
    );
    response
}
