//! The `UserStore` backend trait.

use super::{Role, Tier, User};
use crate::error::{Error, Result};
use crate::ids::UserId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A user together with the password hash, for the login path only.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The account.
    pub user: User,
    /// The PHC-format argon2id hash.
    pub password_hash: String,
}

/// A change to a user's own profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileChange {
    /// New display name.
    pub name: Option<String>,
    /// New avatar URL; `Some(None)` removes it.
    pub avatar_url: Option<Option<String>>,
    /// The whole new preferences object.
    pub preferences: Option<serde_json::Value>,
}

/// Durable storage of user accounts.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a new account. A taken email is [`crate::Error::Conflict`] with code
    /// `email_taken`.
    async fn insert(&self, user: &User, password_hash: &str) -> Result<()>;
    /// The account with this id.
    async fn get(&self, id: UserId) -> Result<Option<User>>;
    /// The account and hash for a normalised email.
    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>>;
    /// Up to `limit` accounts ordered by id, after `after` if given.
    async fn list(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>>;
    /// Sets the tier; false if no such user.
    async fn set_tier(&self, id: UserId, tier: Tier, now: DateTime<Utc>) -> Result<bool>;
    /// Sets the role; false if no such user.
    async fn set_role(&self, id: UserId, role: Role, now: DateTime<Utc>) -> Result<bool>;
    /// Replaces the password hash; false if no such user.
    async fn set_password_hash(&self, id: UserId, hash: &str, now: DateTime<Utc>) -> Result<bool>;
    /// Applies a profile change; false if no such user.
    async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
        now: DateTime<Utc>,
    ) -> Result<bool>;
}

/// The conflict every user store reports for a taken email.
pub fn email_taken() -> Error {
    Error::Conflict {
        code: "email_taken",
        message: "an account with this email already exists".to_owned(),
    }
}
