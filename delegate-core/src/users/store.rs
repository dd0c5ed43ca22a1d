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

/// Which accounts [`UserStore::search`] returns: every field that is set must match.
#[derive(Debug, Clone, PartialEq)]
pub struct UserQuery {
    /// A prefix of the email or of the name, compared without regard to ASCII case.
    pub prefix: Option<String>,
    /// Only accounts of this tier.
    pub tier: Option<Tier>,
    /// Only accounts with this role.
    pub role: Option<Role>,
    /// Only disabled (`true`) or enabled (`false`) accounts.
    pub disabled: Option<bool>,
    /// Only accounts after this id (the previous page's last).
    pub after: Option<UserId>,
    /// The most accounts to return.
    pub limit: u32,
}

impl UserQuery {
    /// Every account, `limit` at a time.
    pub fn all(limit: u32) -> Self {
        Self {
            prefix: None,
            tier: None,
            role: None,
            disabled: None,
            after: None,
            limit,
        }
    }

    /// Whether `user` matches the filters (not the paging): the reference every store
    /// agrees with.
    pub fn matches(&self, user: &User) -> bool {
        let prefix_ok = self.prefix.as_deref().is_none_or(|p| {
            let p = p.to_ascii_lowercase();
            user.email.to_ascii_lowercase().starts_with(&p)
                || user.name.to_ascii_lowercase().starts_with(&p)
        });
        prefix_ok
            && self.tier.is_none_or(|t| user.tier == t)
            && self.role.is_none_or(|r| user.role == r)
            && self.disabled.is_none_or(|d| user.disabled == d)
    }
}

/// Durable storage of user accounts.
///
/// The store keeps at least one enabled admin once there is one: [`UserStore::set_role`],
/// [`UserStore::set_disabled`] and [`UserStore::delete`] refuse, with [`last_admin`], a change
/// that would leave none, atomically with the change (two admins demoting each other at once
/// cannot both succeed).
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a new account. A taken email is [`crate::Error::Conflict`] with code
    /// `email_taken`.
    async fn insert(&self, user: &User, password_hash: &str) -> Result<()>;
    /// The account with this id.
    async fn get(&self, id: UserId) -> Result<Option<User>>;
    /// The account and hash for a normalised email.
    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>>;
    /// Up to `query.limit` accounts matching `query`, ordered by id.
    async fn search(&self, query: &UserQuery) -> Result<Vec<User>>;
    /// Sets the tier; false if no such user.
    async fn set_tier(&self, id: UserId, tier: Tier, now: DateTime<Utc>) -> Result<bool>;
    /// Sets the role; false if no such user; [`last_admin`] if it would demote the last
    /// enabled admin.
    async fn set_role(&self, id: UserId, role: Role, now: DateTime<Utc>) -> Result<bool>;
    /// Disables or enables the account; false if no such user; [`last_admin`] if it would
    /// disable the last enabled admin.
    async fn set_disabled(&self, id: UserId, disabled: bool, now: DateTime<Utc>) -> Result<bool>;
    /// Deletes the account and every row that belongs to it (login sessions, refresh tokens,
    /// chats, messages, usage); false if no such user; [`last_admin`] for the last enabled
    /// admin.
    async fn delete(&self, id: UserId) -> Result<bool>;
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

/// The conflict every user store reports for a change that would leave no enabled admin.
pub fn last_admin() -> Error {
    Error::Conflict {
        code: "last_admin",
        message: "this is the last enabled admin; promote another admin first".to_owned(),
    }
}
