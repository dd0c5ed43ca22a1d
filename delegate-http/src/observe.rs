//! The per-request observation: one structured log line (method, route template, status,
//! latency, the request id from the span, the user id when known — never a token, password,
//! email or body) and the request count and latency histogram by route template.

use axum::extract::{MatchedPath, Request};
use axum::http::{Extensions, Method};
use axum::middleware::Next;
use axum::response::Response;
use delegate_core::{AuthContext, UserId};
use foldhash::fast::FixedState;
use metrics::{Counter, Histogram};
use std::collections::{HashMap, HashSet};
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
    let observation = Observation::start(&mut req);
    let response = next.run(req).await;
    observation.finish(&response);
    response
}

/// One request under observation: started by [`Observation::start`] before the request runs,
/// recorded by [`Observation::finish`] with its response.
pub(crate) struct Observation {
    started: Instant,
    method: &'static str,
    route: &'static str,
    slot: CallerSlot,
}

impl Observation {
    /// Starts the clock and gives the request a [`CallerSlot`].
    pub(crate) fn start(req: &mut Request) -> Self {
        let slot = CallerSlot::default();
        req.extensions_mut().insert(slot.clone());
        Self {
            started: Instant::now(),
            method: method_label(req.method()),
            route: req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", |p| intern(p.as_str())),
            slot,
        }
    }

    /// Counts the request, records its latency and writes its log line.
    pub(crate) fn finish(self, response: &Response) {
        let Self {
            started,
            method,
            route,
            slot,
        } = self;
        let latency = started.elapsed();
        let status = response.status();
        let (count, duration) = handles(method, route, intern(status.as_str()));
        count.increment(1);
        duration.record(latency.as_secs_f64());
        tracing::info!(
            target: "delegate::request",
            method,
            route,
            status = status.as_u16(),
            latency_ms = latency.as_secs_f64() * 1000.0,
            user_id = slot.0.get().map(tracing::field::display),
            "request"
        );
    }
}

/// The request counter of (method, route, status) and the latency histogram of (method,
/// route), registered with the recorder once per distinct triple, not looked up per request.
/// (A recorder installed after the first request would not see the triples made before it;
/// Delegate installs its own before serving.)
fn handles(
    method: &'static str,
    route: &'static str,
    status: &'static str,
) -> (Counter, Histogram) {
    type Handles =
        HashMap<(&'static str, &'static str, &'static str), (Counter, Histogram), Labels>;
    static HANDLES: OnceLock<RwLock<Handles>> = OnceLock::new();
    let handles = HANDLES.get_or_init(Default::default);
    let key = (method, route, status);
    if let Some(found) = handles.read().expect("metric handles").get(&key) {
        return found.clone();
    }
    let made = (
        metrics::counter!(
            "delegate_http_requests_total",
            "method" => method,
            "route" => route,
            "status" => status,
        ),
        metrics::histogram!(
            "delegate_http_request_duration_seconds",
            "method" => method,
            "route" => route,
        ),
    );
    handles
        .write()
        .expect("metric handles")
        .entry(key)
        .or_insert(made)
        .clone()
}

/// The hasher of the label maps: their keys are a bounded set the server makes (route
/// templates, standard methods, status codes), so foldhash's fast fixed hasher serves, where
/// SipHash took a few hundred instructions a request.
type Labels = FixedState;

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
    static INTERNED: OnceLock<RwLock<HashSet<&'static str, Labels>>> = OnceLock::new();
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
