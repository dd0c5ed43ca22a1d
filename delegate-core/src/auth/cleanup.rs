//! The optional cleanup capability of a relational store: deleting auth rows that have
//! ended (cf. tower-sessions' `ExpiredDeletion`).

use crate::error::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Optional: deleting what has ended — login sessions expired or revoked, refresh tokens of
/// expired families, denials of expired tokens. Ended rows are never read as alive, so a
/// store without this only grows; [`crate::LoginSessionsService::cleanup`] (the admin
/// cleanup, `delegate sessions cleanup`) needs it and answers
/// [`crate::Error::Unavailable`] without it. The built-in stores implement it.
#[async_trait]
pub trait ExpiredDeletion: Send + Sync + 'static {
    /// Deletes login sessions that are expired or revoked at `now`; returns how many.
    async fn purge_login_sessions(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Deletes refresh tokens issued before `before` (their families have expired); returns
    /// how many.
    async fn purge_refresh_tokens_issued_before(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Deletes denials that ended before `now`; returns how many.
    async fn purge_denials(&self, now: DateTime<Utc>) -> Result<u64>;
}
