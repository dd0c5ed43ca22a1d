//! Refresh tokens: opaque single-use secrets stored as keyed hashes, one family per login
//! session, and the `RefreshTokenStore` backend trait.

use crate::error::Result;
use crate::ids::{LoginSessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A stored refresh token (only its hash).
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTokenRecord {
    /// Keyed hash of the token; the token itself is never stored.
    pub hash: String,
    /// The family: the login session it belongs to.
    pub session_id: LoginSessionId,
    /// The session's owner.
    pub user_id: UserId,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it was exchanged, if it was.
    pub used_at: Option<DateTime<Utc>>,
}

/// The outcome of presenting a refresh token for rotation.
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// It was unused: it is now used and its child is stored in the same family.
    Rotated {
        /// The family.
        session_id: LoginSessionId,
        /// The owner.
        user_id: UserId,
    },
    /// It had been used before: a replay (or a concurrent duplicate). Nothing was stored.
    Reused {
        /// The family.
        session_id: LoginSessionId,
        /// The owner.
        user_id: UserId,
        /// When it was first used.
        used_at: DateTime<Utc>,
        /// Whether the token that replaced it has itself been used: the family has moved on,
        /// so this cannot be a concurrent duplicate of the latest rotation.
        child_used: bool,
    },
    /// No such token.
    Unknown,
}

/// Durable storage of refresh-token hashes.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync + 'static {
    /// Stores a new (unused) token.
    async fn insert(&self, record: &RefreshTokenRecord) -> Result<()>;
    /// Atomically marks `presented` used and stores `child` (unused, same family, its parent
    /// recorded) in its place. Of concurrent calls with the same `presented`, exactly one gets
    /// [`Rotation::Rotated`]. A store may leave an unused token of a session that is revoked
    /// or expired at `at` alone and answer [`Rotation::Unknown`] (the caller refuses both).
    async fn rotate(&self, presented: &str, child: &str, at: DateTime<Utc>) -> Result<Rotation>;
    /// Deletes every token of these families; returns how many tokens.
    async fn delete_families(&self, sessions: &[LoginSessionId]) -> Result<u64>;
}

/// Optional: counting a family's unused tokens. Nothing at run time needs it; the
/// conformance suite uses it to check rotations, so a backend that wants the refresh cases
/// run implements it (the built-in ones do).
#[async_trait]
pub trait RefreshTokenCounts: Send + Sync + 'static {
    /// Number of unused tokens in a family (the live children).
    async fn count_unused(&self, session: LoginSessionId) -> Result<u64>;
}
