//! `delegate doctor`: what the configuration says, and whether the store, Redis and the AI
//! provider answer (with latencies), like GET /api/v1/health/detailed for an admin.

use crate::views::{CheckView, DoctorConfigView, DoctorView, Output};
use delegate_core::config::{AiProviderKind, redact_url};
use delegate_core::health::{HealthReport, Status};
use delegate_core::{Config, Delegate, Result};

/// Runs `doctor`. A Delegate that cannot start (a bad URL, an unreachable store or Redis)
/// is reported as a `connect` check that is down, not as an error.
pub async fn run(config: Config) -> Result<Output> {
    let view = DoctorConfigView {
        environment: format!("{:?}", config.environment).to_lowercase(),
        database_url: redact_url(&config.database_url),
        redis_url: redact_url(&config.redis_url),
        ai_provider: ai_provider(&config),
        jwt_secrets_configured: config.auth.jwt_secret.is_some()
            && config.auth.jwt_refresh_secret.is_some(),
        metrics_token_configured: config.server.metrics_token.is_some(),
    };
    let warnings = config.startup_warnings();
    // Doctor only looks: it never applies migrations (pending ones are reported).
    let mut config = config;
    config.migrate_on_start = false;
    match Delegate::connect(config).await {
        Ok(delegate) => Ok(Output::Doctor(DoctorView::new(
            view,
            delegate.health().await,
            warnings,
        ))),
        Err(e) => {
            let mut doctor = DoctorView::new(
                view,
                HealthReport {
                    status: Status::Down,
                    version: env!("CARGO_PKG_VERSION"),
                    uptime: std::time::Duration::ZERO,
                    checks: Vec::new(),
                },
                warnings,
            );
            doctor.checks.push(CheckView {
                name: "connect".to_owned(),
                status: "down".to_owned(),
                kind: "delegate".to_owned(),
                latency_ms: 0.0,
                detail: Some(e.report().to_string()),
            });
            Ok(Output::Doctor(doctor))
        }
    }
}

fn ai_provider(config: &Config) -> String {
    let ai = &config.ai;
    match (ai.provider, &ai.base_url, &ai.api_key) {
        (AiProviderKind::Echo, _, _) => "echo (offline demo)".to_owned(),
        (_, Some(url), _) => format!(
            "openai-compatible at {} (model {})",
            redact_url(url),
            ai.model
        ),
        (_, None, Some(_)) => format!("openai (model {})", ai.model),
        (_, None, None) => "not configured (chat answers 503 ai_not_configured)".to_owned(),
    }
}
