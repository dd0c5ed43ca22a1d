//! The per-request observation: one structured log line (method, route template, status,
//! latency, the request id from the span, the user id when known — never a token, password,
//! email or body) and the request count and latency histogram by route template.

use axum::extract::{MatchedPath, Request};
use axum::http::{Extensions, Method};
use axum::middleware::Next;
use axum::response::Response;
use delegate_core::{AuthContext, UserId};
use std::collections::HashSet;
use std::sync::{Arc, OnceLock, RwLock};
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
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| intern(p.as_str()));
    let slot = CallerSlot::default();
    req.extensions_mut().insert(slot.clone());
    let response = next.run(req).await;
    let latency = started.elapsed();
    let status = response.status();
    metrics::counter!(
        "delegate_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => intern(status.as_str()),
    )
    .increment(1);
    metrics::histogram!(
        "delegate_http_request_duration_seconds",
        "method" => method,
        "route" => route,
    )
    .record(latency.as_secs_f64());
    tracing::info!(
        target: "delegate::request",
        method,
        route,
        status = status.as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        user_id = slot.0.get().map(tracing::field::display),
        "request"
    );
    response
}

/// The method as a label: the standard ones by name, any other as `OTHER` (a client must not
/// be able to mint label values).
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    const NAMES: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    STANDARD
        .iter()
        .position(|m| m == method)
        .map_or("OTHER", |i| NAMES[i])
}

/// `value` as a `'static` string, made once per distinct value: labels built from static
/// strings cost no allocation per request. Only bounded sets come here (route templates,
/// status codes).
fn intern(value: &str) -> &'static str {
    static INTERNED: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let interned = INTERNED.get_or_init(Default::default);
    if let Some(found) = interned.read().expect("interned labels").get(value) {
        return found;
    }
    let mut interned = interned.write().expect("interned labels");
    if let Some(found) = interned.get(value) {
        return found;
    }
    let leaked: &'static str = Box::leak(value.to_owned().into_boxed_str());
    interned.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_interned_once_and_methods_are_standard_or_other() {
        let first = intern("/api/v1/users/profile");
        let again = intern(&String::from("/api/v1/users/profile"));
        assert!(std::ptr::eq(first, again));
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let odd = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&odd), "OTHER");
    }
}
