//! GET /health: liveness of the server process.

use crate::extract::ApiJson;
use crate::wire::HealthBody;
use axum::Router;
use axum::routing::get;
use delegate_core::Delegate;

pub(crate) fn routes() -> Router<Delegate> {
    Router::new().route("/health", get(health))
}

/// Liveness: answers while the process serves.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The server is up", body = HealthBody)))]
pub(crate) async fn health() -> ApiJson<HealthBody> {
    ApiJson(HealthBody { status: "ok" })
}
