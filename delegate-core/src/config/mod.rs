//! Typed configuration with defaults for the embedded mode; see [`Config::load`].

mod ai;
mod auth;
mod cache;
#[cfg(test)]
mod deploy_files;
mod limits;
mod load;
mod realtime;
mod secret;
mod server;
mod voice;

pub use ai::{AiConfig, AiProviderKind, AiTierPolicy, AiTiers, KeyHeader};
pub use auth::{AuthConfig, LoginBackoffConfig, PasswordConfig};
pub use cache::CacheConfig;
pub use limits::{RateLimitConfig, RouteLimit};
pub use realtime::RealtimeConfig;
pub use secret::{Secret, redact_url};
pub use server::ServerConfig;
pub use voice::{VoiceConfig, VoiceTierPolicy, VoiceTiers};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The minimum length, in bytes, of a JWT signing secret.
pub const MIN_SECRET_BYTES: usize = 32;
/// The fewest distinct bytes a production secret may have (a hex secret has up to 16).
const MIN_SECRET_DISTINCT_BYTES: usize = 10;

/// Whether a secret is built from too few distinct bytes to be random (`aaaa…`, `abab…`).
fn low_variety(secret: &[u8]) -> bool {
    let distinct: std::collections::HashSet<&u8> = secret.iter().collect();
    distinct.len() < MIN_SECRET_DISTINCT_BYTES
}

/// Which kind of deployment this is (from `NODE_ENV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Local development: missing secrets are generated with a warning.
    #[default]
    Development,
    /// Automated tests: like development.
    Test,
    /// Production: every secret must be configured.
    Production,
}

/// Everything Delegate needs to start. `Debug` prints the URLs without their passwords.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// Deployment kind (`NODE_ENV`).
    pub environment: Environment,
    /// Whether `environment` was configured (by `NODE_ENV` or the file); when it was not,
    /// the start-up log says the server runs in development mode.
    #[serde(skip)]
    pub environment_configured: bool,
    /// HTTP listener settings (used by the server frontends).
    pub server: ServerConfig,
    /// Relational store URL: `sqlite://path`, `sqlite::memory:`, `postgres://…` or `memory:`
    /// (`DATABASE_URL`).
    #[serde(serialize_with = "secret::serialize_redacted_url")]
    pub database_url: String,
    /// Apply pending migrations at start (`DELEGATE_MIGRATE_ON_START`); when off, run
    /// `delegate migrate` before starting a new version.
    pub migrate_on_start: bool,
    /// Cache, rate-limit and bus URL: `memory:`, `redis://…` or
    /// `redis+cluster://host:port,host:port` (`REDIS_URL`).
    #[serde(serialize_with = "secret::serialize_redacted_url")]
    pub redis_url: String,
    /// Prefix of every Redis key and channel (`DELEGATE_REDIS_PREFIX`).
    pub redis_prefix: String,
    /// Token and session settings.
    pub auth: AuthConfig,
    /// Request rate limits.
    pub rate_limit: RateLimitConfig,
    /// Cache TTLs and the in-process cache level.
    pub cache: CacheConfig,
    /// Usage quotas by tier.
    pub quota: crate::usage::QuotaConfig,
    /// The AI chat provider.
    #[serde(default)]
    pub ai: AiConfig,
    /// The speech provider and voice limits.
    #[serde(default)]
    pub voice: VoiceConfig,
    /// Realtime connections.
    #[serde(default)]
    pub realtime: RealtimeConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            environment: Environment::Development,
            environment_configured: false,
            server: ServerConfig::default(),
            database_url: "sqlite://delegate.db".to_owned(),
            migrate_on_start: true,
            redis_url: "memory:".to_owned(),
            redis_prefix: "delegate:".to_owned(),
            auth: AuthConfig::default(),
            rate_limit: RateLimitConfig::default(),
            cache: CacheConfig::default(),
            quota: crate::usage::QuotaConfig::default(),
            ai: AiConfig::default(),
            voice: VoiceConfig::default(),
            realtime: RealtimeConfig::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("server", &self.server)
            .field("database_url", &redact_url(&self.database_url))
            .field("migrate_on_start", &self.migrate_on_start)
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("auth", &self.auth)
            .field("rate_limit", &self.rate_limit)
            .field("cache", &self.cache)
            .field("quota", &self.quota)
            .field("ai", &self.ai)
            .field("voice", &self.voice)
            .field("realtime", &self.realtime)
            .finish_non_exhaustive()
    }
}

/// Signing keys after [`Config::resolve_secrets`]: always present and long enough.
#[derive(Debug, Clone)]
pub struct ResolvedSecrets {
    /// Access-token signing key.
    pub jwt: Secret,
    /// Refresh-token hashing key.
    pub refresh: Secret,
}

impl Config {
    /// Checks the configured secrets. In development and test, a missing secret is generated
    /// (with a warning: tokens will not survive a restart); in production it is an error that
    /// names the variable. Secrets shorter than [`MIN_SECRET_BYTES`] are always refused.
    pub fn resolve_secrets(&self) -> Result<ResolvedSecrets> {
        let pick = |value: &Option<Secret>, var: &'static str| -> Result<Secret> {
            match value {
                Some(s) if s.len() < MIN_SECRET_BYTES => Err(Error::invalid(
                    "config",
                    format!("{var} must be at least {MIN_SECRET_BYTES} bytes long"),
                )),
                Some(s) => Ok(s.clone()),
                None if self.environment == Environment::Production => Err(Error::invalid(
                    "config",
                    format!("{var} is not set; it is required when NODE_ENV=production"),
                )),
                None => {
                    tracing::warn!(
                        "{var} is not set: generated a random one; tokens will not survive a restart"
                    );
                    Ok(Secret::random())
                }
            }
        };
        let jwt = pick(&self.auth.jwt_secret, "JWT_SECRET")?;
        let refresh = pick(&self.auth.jwt_refresh_secret, "JWT_REFRESH_SECRET")?;
        if self.environment == Environment::Production {
            if jwt.expose() == refresh.expose() {
                return Err(Error::invalid(
                    "config",
                    "JWT_SECRET and JWT_REFRESH_SECRET are the same; use two independent \
                     random secrets when NODE_ENV=production",
                ));
            }
            for (secret, var) in [(&jwt, "JWT_SECRET"), (&refresh, "JWT_REFRESH_SECRET")] {
                if low_variety(secret.expose()) {
                    return Err(Error::invalid(
                        "config",
                        format!(
                            "{var} has too little variety (fewer than {MIN_SECRET_DISTINCT_BYTES} \
                             distinct characters) to be a secret; generate one, e.g. \
                             `openssl rand -base64 48`"
                        ),
                    ));
                }
            }
        }
        Ok(ResolvedSecrets { jwt, refresh })
    }

    /// Settings that work but are risky where they are, as lines for the start-up log: no
    /// `NODE_ENV` (development mode), and in production CORS open to every origin,
    /// in-process (`memory:`) limits and events, or `/metrics` without `METRICS_TOKEN`.
    pub fn startup_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.environment_configured {
            warnings.push(
                "NODE_ENV is not set: running in development mode (generated secrets allowed, \
                 readable logs); set NODE_ENV=production for a deployment"
                    .to_owned(),
            );
        }
        if self.environment == Environment::Production {
            if self.server.cors_origin.split(',').any(|o| o.trim() == "*") {
                warnings.push(
                    "CORS_ORIGIN is `*` in production: any web origin may call the API; list \
                     the app's origins instead"
                        .to_owned(),
                );
            }
            if self.redis_url.starts_with("memory:") {
                warnings.push(
                    "REDIS_URL is `memory:` in production: rate limits, the cache and events \
                     are kept per process, so several instances would not share them"
                        .to_owned(),
                );
            }
            if self.server.metrics_token.is_none() {
                warnings.push(
                    "METRICS_TOKEN is not set in production: GET /metrics answers anyone who \
                     reaches the server; set it, or keep /metrics off the public network"
                        .to_owned(),
                );
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_to_start_without_secrets_and_names_the_variable() {
        let config = Config {
            environment: Environment::Production,
            ..Config::default()
        };
        let err = config.resolve_secrets().unwrap_err();
        assert!(err.to_string().contains("JWT_SECRET"), "{err}");
    }

    #[test]
    fn debug_prints_urls_without_their_passwords() {
        let config = Config {
            database_url: "postgres://app:db-password@db:5432/x".into(),
            redis_url: "redis://:redis-password@cache:6379".into(),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("db-password") && !printed.contains("redis-password"));
        assert!(
            printed.contains("postgres://app:***@db:5432/x"),
            "{printed}"
        );
    }

    #[test]
    fn production_refuses_equal_or_low_variety_secrets() {
        let mut config = Config {
            environment: Environment::Production,
            ..Config::default()
        };
        let same = Secret::new("the-same-long-secret-for-both-0123456789");
        config.auth.jwt_secret = Some(same.clone());
        config.auth.jwt_refresh_secret = Some(same);
        assert!(config.resolve_secrets().is_err());
        config.auth.jwt_secret = Some(Secret::new("ab".repeat(20)));
        config.auth.jwt_refresh_secret = Some(Secret::new("another-varied-secret-0123456789xyz"));
        let err = config.resolve_secrets().unwrap_err();
        assert!(err.to_string().contains("variety"), "{err}");
        config.environment = Environment::Development;
        assert!(config.resolve_secrets().is_ok(), "only production refuses");
    }

    #[test]
    fn development_generates_missing_secrets() {
        let secrets = Config::default().resolve_secrets().unwrap();
        assert!(secrets.jwt.len() >= MIN_SECRET_BYTES);
        assert_ne!(secrets.jwt, secrets.refresh);
    }

    #[test]
    fn short_secrets_are_refused_everywhere() {
        let mut config = Config::default();
        config.auth.jwt_secret = Some(Secret::new("short"));
        let err = config.resolve_secrets().unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }
}
