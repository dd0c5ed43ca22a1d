//! Sliding-window request limits, overall, per client and per route.

use serde::{Deserialize, Serialize};

/// Sliding-window request limits. Every limit is per client: the user when a valid access
/// token is presented, else the client IP.
#[derive(Debug, Clone, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
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
