//! Bodies of the health routes.

use serde::Serialize;
use utoipa::ToSchema;

/// GET /health
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok` when the server answers.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// GET /api/v1/health/detailed
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthDetailBody {
    /// `ok`, `degraded` (serving without something) or `down` (the store is unreachable).
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
    /// One per dependency: `database`, `redis`, `ai`.
    pub checks: Vec<HealthCheckBody>,
}

/// One dependency's state. `kind`, `latencyMs` and `detail` are shown to admins only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckBody {
    /// `database`, `redis` or `ai`.
    pub name: &'static str,
    /// `ok`, `degraded` or `down`.
    pub status: &'static str,
    /// What it is (`sqlite`, `postgres`, `redis`, `in-process`, the provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// How long the probe took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Why it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
