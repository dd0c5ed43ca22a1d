//! Delegate's REST server: [`router`] for hosts that mount Delegate in their own axum app,
//! [`serve`] and [`run`] for the bundled server, and the [`AuthUser`] extractor.

mod cors;
mod edge;
mod error;
mod extract;
mod gate;
mod log_fields;
mod log_sink;
mod metrics;
mod observe;
mod openapi;
mod ratelimit;
mod routes;
mod server;
mod upload;
mod wire;

pub use error::ApiError;
pub use extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
pub use log_fields::JsonSpanFields;
pub use routes::router;

/// `router` with Delegate's request observation on every route: one structured log line per
/// request and the `delegate_http_*` metrics (installing the Prometheus recorder if none is).
/// Delegate's own router has it already; use this for a host application's routes.
pub fn observed<S: Clone + Send + Sync + 'static>(router: axum::Router<S>) -> axum::Router<S> {
    metrics::install();
    router.layer(axum::middleware::from_fn(observe::observe))
}
pub use server::{flush_logs, init_tracing, run, serve};
