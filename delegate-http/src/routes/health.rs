//! Health: GET /health (liveness, no I/O), GET /health/ready (readiness: the store answers
//! and is migrated) and GET /api/v1/health/detailed (each dependency; details for admins).

use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::wire::{HealthBody, HealthCheckBody, HealthDetailBody};
use axum::Router;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use delegate_core::health::Status;
use delegate_core::{AuthContext, Delegate, Role};

/// The probes that orchestrators call, outside the rate limits.
pub(crate) fn routes() -> Router<Delegate> {
    Router::new()
        .route("/health", get(health))
        .route("/health/ready", get(ready))
}

/// The detailed view, under /api/v1/health (rate-limited like the rest of the API).
pub(crate) fn api_routes() -> Router<Delegate> {
    Router::new().route("/api/v1/health/detailed", get(detailed))
}

/// Liveness: answers while the process serves.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The server is up", body = HealthBody)))]
pub(crate) async fn health() -> ApiJson<HealthBody> {
    ApiJson(HealthBody { status: "ok" })
}

/// Readiness: 200 when the store answers and every migration is applied, else 503.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = HealthBody),
        (status = 503, description = "The store is unreachable or not migrated", body = ErrorBody),
    ))]
pub(crate) async fn ready(
    State(delegate): State<Delegate>,
) -> Result<ApiJson<HealthBody>, ApiError> {
    delegate.ready().await?;
    Ok(ApiJson(HealthBody { status: "ready" }))
}

/// Each dependency's state, the version and the uptime; overall `ok` or `degraded` (200) or
/// `down` (503). Kinds, latencies and failure details are shown to admins only.
#[utoipa::path(get, path = "/api/v1/health/detailed", tag = "operations",
    responses(
        (status = 200, description = "Serving: ok or degraded", body = HealthDetailBody),
        (status = 503, description = "Down: the store is unreachable", body = HealthDetailBody),
    ))]
pub(crate) async fn detailed(
    State(delegate): State<Delegate>,
    caller: Option<Extension<AuthContext>>,
) -> Response {
    let report = delegate.health().await;
    let admin = caller.is_some_and(|Extension(c)| c.role == Role::Admin);
    let status = match report.status {
        Status::Down => StatusCode::SERVICE_UNAVAILABLE,
        Status::Ok | Status::Degraded => StatusCode::OK,
    };
    let body = HealthDetailBody {
        status: report.status.as_str(),
        version: report.version,
        uptime_seconds: report.uptime.as_secs(),
        checks: report
            .checks
            .into_iter()
            .map(|check| HealthCheckBody {
                name: check.name,
                status: check.status.as_str(),
                kind: admin.then_some(check.kind),
                latency_ms: admin.then_some(check.latency.as_secs_f64() * 1000.0),
                detail: if admin { check.detail } else { None },
            })
            .collect(),
    };
    (status, ApiJson(body)).into_response()
}
