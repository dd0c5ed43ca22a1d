//! The durable access-token denylist (`jti`s revoked before they expire) and its backend trait.

use crate::error::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Durable storage of denied token ids.
#[async_trait]
pub trait TokenDenylist: Send + Sync + 'static {
    /// Denies `jti` until `expires_at` (the token's own expiry). Denying twice is fine.
    async fn deny(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()>;
    /// Every denial still in force at `now`, as `(jti, expires_at)`.
    async fn active(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>>;
}
