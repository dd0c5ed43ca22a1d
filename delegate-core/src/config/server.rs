//! HTTP listener settings.

use serde::{Deserialize, Serialize};

/// HTTP listener settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
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
    /// When set, `GET /metrics` needs `Authorization: Bearer <this>` (`METRICS_TOKEN`);
    /// otherwise it is open (keep it off the public network).
    pub metrics_token: Option<super::Secret>,
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
            metrics_token: None,
        }
    }
}
