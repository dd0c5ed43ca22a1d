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
}

/// The conflict every user store reports for a taken email.
pub fn email_taken() -> Error {
    Error::Conflict {
        code: "email_taken",
        message: "an account with this email already exists".to_owned(),
    }
}
