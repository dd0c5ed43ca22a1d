//! Rate limiting: the `RateLimiter` backend trait, its decision type, and the policy
//! service that applies the configured scopes.

mod client_ip;
pub mod lease;
mod service;

pub use client_ip::{TrustedProxies, ip_bucket};
pub use service::{RateClient, RateLimits, RouteClass};

use crate::error::Result;
use async_trait::async_trait;
use std::time::Duration;

/// The answer to one rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether this request is admitted (and was counted).
    pub allowed: bool,
    /// The limit checked against.
    pub limit: u32,
    /// Requests left in the current window after this one.
    pub remaining: u32,
    /// Time until a request would be admitted again (zero when allowed).
    pub retry_after: Duration,
    /// Time until the window is entirely clear.
    pub reset_after: Duration,
}

/// A sliding-window limiter: at most `limit` admitted requests per `key` in any `window`.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts a request for `key` if it fits, and says whether it did.
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision>;
    /// Forgets everything counted for `key`.
    async fn reset(&self, key: &str) -> Result<()>;
}
