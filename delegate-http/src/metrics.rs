//! Prometheus metrics: the recorder behind the `metrics` facade (installed once per process,
//! histograms with buckets), and GET /metrics (bearer `METRICS_TOKEN` when set) with the pool,
//! process CPU and memory gauges refreshed at each scrape.

use crate::error::ApiError;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use delegate_core::Delegate;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Latency buckets, in seconds, for every `_seconds` histogram.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static EXPORTER: OnceLock<Option<Exporter>> = OnceLock::new();

/// Installs the Prometheus recorder as the process's `metrics` recorder, once. `None` when
/// the host application installed another recorder first (then /metrics answers 503).
fn exporter() -> Option<&'static Exporter> {
    EXPORTER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .expect("the buckets are not empty");
            match builder.install_recorder() {
                Ok(handle) => {
                    let process = metrics_process::Collector::default();
                    process.describe();
                    Some(Exporter { handle, process })
                }
                Err(e) => {
                    tracing::warn!(error = %e, "another metrics recorder is installed; /metrics is off");
                    None
                }
            }
        })
        .as_ref()
}

/// Makes sure the recorder is installed before requests are counted.
pub(crate) fn install() {
    exporter();
}

/// Every metric in the Prometheus text format: requests by route template, method and status
/// with latency histograms; cache hits and misses per layer and namespace; rate-limit
/// decisions and fallbacks; logins, refreshes, revocations and hash upgrades; AI requests,
/// tokens, time to first token and errors; bus reconnects and gaps; the database pool; live
/// SSE streams; process CPU and memory. Needs `Authorization: Bearer <METRICS_TOKEN>` when
/// `METRICS_TOKEN` is set.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String),
        (status = 401, description = "METRICS_TOKEN is set and the bearer token is not it", body = crate::error::ErrorBody),
        (status = 503, description = "Another metrics recorder is installed in this process", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn render(State(delegate): State<Delegate>, headers: HeaderMap) -> Response {
    if let Some(expected) = &delegate.config().server.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(presented.as_bytes(), expected.expose()) {
            return ApiError::from(delegate_core::Error::unauthenticated(
                "invalid_metrics_token",
                "GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`",
            ))
            .into_response();
        }
    }
    let Some(exporter) = exporter() else {
        return ApiError::from(delegate_core::Error::unavailable(
            "metrics",
            std::time::Duration::from_secs(3600),
        ))
        .into_response();
    };
    if let Some(pool) = delegate.pool_state() {
        metrics::gauge!("delegate_db_pool_connections", "state" => "idle").set(pool.idle);
        metrics::gauge!("delegate_db_pool_connections", "state" => "in_use")
            .set(pool.size.saturating_sub(pool.idle));
    }
    exporter.process.collect();
    exporter.handle.run_upkeep();
    let mut response = exporter.handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Compares without an early exit, so timing does not reveal how much of a token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret-longer"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
