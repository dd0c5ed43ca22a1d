//! Typed configuration with defaults for the embedded mode; see [`Config::load`].

mod load;
mod secret;

pub use secret::{Secret, redact_url};

use crate::error::{Error, Result};
use serde::Deserialize;
use std::time::Duration;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
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
#[derive(Clone, Deserialize)]
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
    pub database_url: String,
    /// Apply pending migrations at start (`DELEGATE_MIGRATE_ON_START`); when off, run
    /// `delegate migrate` before starting a new version.
    pub migrate_on_start: bool,
    /// Cache, rate-limit and bus URL: `memory:`, `redis://…` or
    /// `redis+cluster://host:port,host:port` (`REDIS_URL`).
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
            .finish_non_exhaustive()
    }
}

/// Which AI chat provider answers (`DELEGATE_AI_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AiProviderKind {
    /// An OpenAI-compatible HTTP API (OpenAI, Azure OpenAI, Ollama, vLLM), used when an API key
    /// or a base URL is configured.
    #[default]
    OpenAi,
    /// The offline echo provider for demos and tests: it repeats the user's message and is
    /// labelled as not an AI.
    Echo,
}

/// The AI chat provider's settings. With neither an API key, a base URL nor the echo provider,
/// no provider is configured and chat answers 503 `ai_not_configured`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AiConfig {
    /// Which provider answers (`DELEGATE_AI_PROVIDER`: `openai` or `echo`).
    pub provider: AiProviderKind,
    /// The provider's API key, sent as a bearer token (`OPENAI_API_KEY`).
    pub api_key: Option<Secret>,
    /// The API base URL including the version path, e.g. `https://api.openai.com/v1` (the
    /// default) or `http://localhost:11434/v1` for Ollama (`OPENAI_BASE_URL`).
    pub base_url: Option<String>,
    /// The default chat model (`OPENAI_CHAT_MODEL`).
    pub model: String,
    /// The organization header sent to OpenAI, if any (`OPENAI_ORGANIZATION`).
    pub organization: Option<String>,
    /// The deadline for a whole reply, retries and streaming included, in seconds
    /// (`DELEGATE_AI__TIMEOUT_SECS`).
    pub timeout_secs: u64,
    /// Retries after a 429, a 5xx or a connection failure, made only before the first token
    /// (`DELEGATE_AI__MAX_RETRIES`).
    pub max_retries: u32,
    /// The most tokens of context (system prompt plus prior messages) sent per request,
    /// estimated at four characters a token (`DELEGATE_AI__CONTEXT_BUDGET_TOKENS`).
    pub context_budget_tokens: u32,
    /// Sampling temperature sent with every request; unset leaves the provider's default
    /// (`DELEGATE_AI__TEMPERATURE`).
    pub temperature: Option<f32>,
    /// Cache replies under `openai:{hash}` of model, messages and parameters, for
    /// deterministic requests only (temperature 0); off by default
    /// (`DELEGATE_AI__RESPONSE_CACHE`).
    pub response_cache: bool,
    /// What each tier may spend: allowed models, the output cap sent with every request,
    /// and concurrent replies (`DELEGATE_AI__TIERS__PRO__MODELS=[gpt-4o,gpt-4o-mini]`, …).
    pub tiers: AiTiers,
}

/// One tier's AI policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AiTierPolicy {
    /// Models this tier may use; empty means only the configured chat model.
    pub models: Vec<String>,
    /// The most completion tokens requested per reply (`max_tokens` on every request).
    pub max_output_tokens: u32,
    /// Replies one user of this tier may have streaming at once; more answer 429.
    pub max_concurrent_replies: u32,
}

impl Default for AiTierPolicy {
    fn default() -> Self {
        AiTiers::default().free
    }
}

/// AI policy by tier.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AiTiers {
    /// The free tier.
    pub free: AiTierPolicy,
    /// The pro tier.
    pub pro: AiTierPolicy,
    /// The enterprise tier.
    pub enterprise: AiTierPolicy,
}

impl Default for AiTiers {
    fn default() -> Self {
        let tier = |max_output_tokens, max_concurrent_replies| AiTierPolicy {
            models: Vec::new(),
            max_output_tokens,
            max_concurrent_replies,
        };
        Self {
            free: tier(1_024, 2),
            pro: tier(4_096, 4),
            enterprise: tier(8_192, 8),
        }
    }
}

impl AiTiers {
    /// The policy of `tier`.
    pub fn of(&self, tier: crate::users::Tier) -> &AiTierPolicy {
        use crate::users::Tier;
        match tier {
            Tier::Free => &self.free,
            Tier::Pro => &self.pro,
            Tier::Enterprise => &self.enterprise,
        }
    }
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            provider: AiProviderKind::OpenAi,
            api_key: None,
            base_url: None,
            model: "gpt-4o-mini".to_owned(),
            organization: None,
            timeout_secs: 60,
            max_retries: 2,
            context_budget_tokens: 8000,
            temperature: None,
            response_cache: false,
            tiers: AiTiers::default(),
        }
    }
}

impl AiConfig {
    /// The deadline for a whole reply.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// Sliding-window request limits. Every limit is per client: the user when a valid access
/// token is presented, else the client IP.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RateLimitConfig {
    /// Requests per window per client (`RATE_LIMIT_MAX_REQUESTS`).
    pub max_requests: u32,
    /// The window in milliseconds (`RATE_LIMIT_WINDOW_MS`).
    pub window_ms: u64,
    /// Login, register and refresh requests per window per IP
    /// (`RATE_LIMIT_AUTH_MAX_REQUESTS`).
    pub auth_max_requests: u32,
    /// The auth window in milliseconds (`RATE_LIMIT_AUTH_WINDOW_MS`).
    pub auth_window_ms: u64,
    /// Requests per window across all clients of all instances; 0 turns it off
    /// (`DELEGATE_RATE_LIMIT__GLOBAL_MAX_REQUESTS`).
    pub global_max_requests: u32,
    /// Multiplier of `max_requests` for pro users (`DELEGATE_RATE_LIMIT__PRO_MULTIPLIER`).
    pub pro_multiplier: u32,
    /// Multiplier of `max_requests` for enterprise users
    /// (`DELEGATE_RATE_LIMIT__ENTERPRISE_MULTIPLIER`).
    pub enterprise_multiplier: u32,
    /// Per-route limits on top of the per-client one, keyed by route (`"GET /api/v1/auth/me"`);
    /// set in the TOML file under `[rate_limit.routes."…"]`.
    pub routes: std::collections::BTreeMap<String, RouteLimit>,
    /// IPv6 clients are counted per network of this many leading bits, since one host
    /// usually holds a whole /64 (`DELEGATE_RATE_LIMIT__IPV6_PREFIX_LEN`, default 64).
    pub ipv6_prefix_len: u8,
}

/// A per-route limit.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct RouteLimit {
    /// Requests per window per client on this route.
    pub max_requests: u32,
    /// The window in milliseconds.
    pub window_ms: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            max_requests: 100,
            window_ms: 15 * 60 * 1000,
            auth_max_requests: 20,
            auth_window_ms: 15 * 60 * 1000,
            global_max_requests: 0,
            pro_multiplier: 5,
            enterprise_multiplier: 20,
            routes: Default::default(),
            ipv6_prefix_len: 64,
        }
    }
}

/// Cache TTLs by namespace class and the in-process level's bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    /// Short TTL in seconds (`CACHE_TTL_SHORT`): volatile lists.
    pub ttl_short_secs: u64,
    /// Medium TTL in seconds (`CACHE_TTL_MEDIUM`): profiles.
    pub ttl_medium_secs: u64,
    /// Long TTL in seconds (`CACHE_TTL_LONG`): rarely changing data.
    pub ttl_long_secs: u64,
    /// Most entries in the in-process level (`DELEGATE_CACHE__L1_CAPACITY`).
    pub l1_capacity: u64,
    /// Longest an entry stays in the in-process level, in seconds; bounds staleness if an
    /// invalidation is lost (`DELEGATE_CACHE__L1_MAX_TTL_SECS`).
    pub l1_max_ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl_short_secs: 300,
            ttl_medium_secs: 1800,
            ttl_long_secs: 3600,
            l1_capacity: 100_000,
            l1_max_ttl_secs: 60,
        }
    }
}

/// HTTP listener settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Interface to bind (`DELEGATE_SERVER__HOST`).
    pub host: String,
    /// Port to bind (`PORT`).
    pub port: u16,
    /// Largest accepted request body, in bytes (`DELEGATE_SERVER__BODY_LIMIT_BYTES`).
    pub body_limit_bytes: usize,
    /// Proxies whose `X-Forwarded-For` is believed, comma-separated IPs and CIDR networks
    /// (`DELEGATE_SERVER__TRUSTED_PROXIES`, e.g. `10.0.0.0/8,127.0.0.1`); from anyone else
    /// the peer address is the client. An entry that does not parse refuses the start.
    pub trusted_proxies: String,
    /// Browser origins allowed by CORS, comma-separated, or `*` for any (`CORS_ORIGIN`).
    /// Tokens travel in the Authorization header, never in cookies, so no credentials mode.
    pub cors_origin: String,
    /// Longest a request may take until its response starts, in seconds; past it the client
    /// gets 503 with `Retry-After` (`DELEGATE_SERVER__REQUEST_TIMEOUT_SECS`). Above the AI
    /// reply deadline by default, so a non-streamed reply is never cut.
    pub request_timeout_secs: u64,
    /// Requests handled at once; more are shed with 503 and `Retry-After`
    /// (`DELEGATE_SERVER__MAX_CONCURRENT_REQUESTS`). A streamed reply counts until its
    /// response starts.
    pub max_concurrent_requests: usize,
    /// `Strict-Transport-Security` max-age in seconds; 0 (the default) sends none. Set it
    /// when the server is only reached over HTTPS (`DELEGATE_SERVER__HSTS_MAX_AGE_SECS`).
    pub hsts_max_age_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            port: 3001,
            body_limit_bytes: 64 * 1024,
            trusted_proxies: String::new(),
            cors_origin: "*".to_owned(),
            request_timeout_secs: 75,
            max_concurrent_requests: 1024,
            hsts_max_age_secs: 0,
        }
    }
}

/// Token, password and login-session settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Access-token signing key (`JWT_SECRET`), at least 32 bytes.
    pub jwt_secret: Option<Secret>,
    /// Key that peppers stored refresh-token hashes (`JWT_REFRESH_SECRET`), at least 32 bytes.
    pub jwt_refresh_secret: Option<Secret>,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Access-token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Absolute lifetime of a login session and its refresh family, in days.
    pub refresh_ttl_days: u64,
    /// How long after a refresh token's rotation a concurrent duplicate is answered with a
    /// conflict instead of being treated as theft, in seconds.
    pub refresh_grace_secs: u64,
    /// Minimum interval between two `lastSeenAt` writes for one login session, in seconds.
    pub session_touch_interval_secs: u64,
    /// Clock-skew leeway for `exp`/`nbf`, in seconds (capped at 5).
    pub leeway_secs: u64,
    /// How long the in-process guard trusts what it knows of a login session before
    /// re-reading the store, in seconds. Revocations made through this instance (or its bus)
    /// apply at once; ones written to the store by another process apply within this time.
    pub session_cache_ttl_secs: u64,
    /// Most live login sessions one user may have; a new sign-in past it revokes the oldest
    /// (`DELEGATE_AUTH__MAX_SESSIONS_PER_USER`, default 20).
    pub max_sessions_per_user: u32,
    /// Password hashing parameters and pool size.
    pub password: PasswordConfig,
    /// Per-account delays after failed logins.
    pub login_backoff: LoginBackoffConfig,
}

/// Login backoff: after `free_failures` failed logins on one account from one client (IP,
/// IPv6 per network) within `window_secs` (counted across instances), each further failure
/// locks that account's logins *from that client* for `base_delay_ms`, doubling each time up
/// to `max_delay_secs`; the owner signing in from elsewhere is not locked out, and a
/// successful login clears the client's count. Separately, at most
/// `max_attempts_per_account` attempts per window reach one account from all clients
/// together, except from a client the account has a live login session from.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LoginBackoffConfig {
    /// Failures allowed before any delay.
    pub free_failures: u32,
    /// The first delay, in milliseconds.
    pub base_delay_ms: u64,
    /// The longest delay, in seconds.
    pub max_delay_secs: u64,
    /// How long a failure counts, in seconds.
    pub window_secs: u64,
    /// Login attempts on one account per window, all clients together, before only clients
    /// it is signed in from get through.
    pub max_attempts_per_account: u32,
}

impl Default for LoginBackoffConfig {
    fn default() -> Self {
        Self {
            free_failures: 5,
            base_delay_ms: 1000,
            max_delay_secs: 30,
            window_secs: 15 * 60,
            max_attempts_per_account: 20,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_refresh_secret: None,
            issuer: "delegate".to_owned(),
            audience: "delegate-api".to_owned(),
            access_ttl_secs: 15 * 60,
            refresh_ttl_days: 30,
            refresh_grace_secs: 10,
            session_touch_interval_secs: 60,
            leeway_secs: 5,
            session_cache_ttl_secs: 60,
            max_sessions_per_user: 20,
            password: PasswordConfig::default(),
            login_backoff: LoginBackoffConfig::default(),
        }
    }
}

impl AuthConfig {
    /// Access-token lifetime.
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_ttl_secs)
    }

    /// Login-session (refresh family) lifetime.
    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_ttl_days * 24 * 3600)
    }
}

/// Argon2id parameters (OWASP minimum by default) and the size of the hashing pool.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PasswordConfig {
    /// Memory cost in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Time cost, iterations (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
    /// Most hashes computed at once; further logins queue (default: the number of cores).
    pub max_concurrent: usize,
    /// Longest a login or registration waits for a hashing slot, in milliseconds; past it
    /// the request answers 503 with `Retry-After` (default 2000).
    pub max_wait_ms: u64,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_wait_ms: 2_000,
        }
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
    /// `NODE_ENV` (development mode), and in production CORS open to every origin or
    /// in-process (`memory:`) limits and events.
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
