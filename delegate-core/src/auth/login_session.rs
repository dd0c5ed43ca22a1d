//! Login sessions (one per signed-in device) and the `LoginSessionStore` backend trait.

use crate::error::Result;
use crate::ids::{LoginSessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What is known about the device behind a login session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// A client-chosen label ("Ada's iPhone").
    pub name: Option<String>,
    /// Platform ("ios", "web", …).
    pub platform: Option<String>,
    /// A client-computed device fingerprint.
    pub fingerprint: Option<String>,
    /// The User-Agent header seen at sign-in (added by the server).
    pub user_agent: Option<String>,
    /// The client IP seen at sign-in (added by the server).
    pub ip: Option<String>,
}

/// One device's sign-in. Its id is also the id of its refresh-token family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginSession {
    /// Session id (the `sid` claim of its access tokens).
    pub id: LoginSessionId,
    /// Owner.
    pub user_id: UserId,
    /// Device details.
    pub device: DeviceInfo,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// When the session was last used (updated at most once per touch interval).
    pub last_seen_at: DateTime<Utc>,
    /// Absolute end of the session and its refresh family.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl LoginSession {
    /// A new session for `user_id` on `device`, created at `now`, ending at `expires_at`.
    pub fn new(
        user_id: UserId,
        device: DeviceInfo,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: LoginSessionId::new(),
            user_id,
            device,
            created_at: now,
            last_seen_at: now,
            expires_at,
            revoked_at: None,
        }
    }

    /// Neither revoked nor expired at `now`.
    pub fn is_alive(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Durable storage of login sessions.
#[async_trait]
pub trait LoginSessionStore: Send + Sync + 'static {
    /// Stores a new session.
    async fn insert(&self, session: &LoginSession) -> Result<()>;
    /// The session with this id, alive or not.
    async fn get(&self, id: LoginSessionId) -> Result<Option<LoginSession>>;
    /// The user's sessions alive at `now`, newest first.
    async fn list_alive(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<LoginSession>>;
    /// The ids of the user's sessions alive at `now` past the newest `keep`, in
    /// `list_alive`'s order: what a cap of `keep` sessions would end, read without loading
    /// every session.
    async fn alive_past(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        keep: u32,
    ) -> Result<Vec<LoginSessionId>>;
    /// Sets `last_seen_at` (never moves it backwards).
    async fn touch(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<()>;
    /// Revokes the session if it is not revoked yet; true if this call revoked it.
    async fn revoke(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<bool>;
    /// Revokes every unrevoked session of the user; returns the ids this call revoked.
    async fn revoke_all(&self, user: UserId, at: DateTime<Utc>) -> Result<Vec<LoginSessionId>>;
}
