//! The users service: read accounts and change what only operators may change.

use super::{Role, Tier, User, UserStore};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::UserId;
use std::sync::Arc;

/// Account reads and operator-only changes (tier, role).
#[derive(Clone)]
pub struct UsersService {
    store: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
}

impl UsersService {
    pub(crate) fn new(store: Arc<dyn UserStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The account with this id, or [`Error::NotFound`].
    pub async fn get(&self, id: UserId) -> Result<User> {
        self.store.get(id).await?.ok_or(Error::NotFound("user"))
    }

    /// The account with this email (normalised first), or [`Error::NotFound`].
    pub async fn by_email(&self, email: &str) -> Result<User> {
        let email = crate::auth::policy::normalize_email(email)?;
        self.store
            .credentials_by_email(&email)
            .await?
            .map(|c| c.user)
            .ok_or(Error::NotFound("user"))
    }

    /// Up to `limit` (1–1000) accounts ordered by id, after `after`.
    pub async fn list(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
        if !(1..=1000).contains(&limit) {
            return Err(Error::invalid("limit", "must be between 1 and 1000"));
        }
        self.store.list(after, limit).await
    }

    /// Sets a user's tier.
    pub async fn set_tier(&self, id: UserId, tier: Tier) -> Result<User> {
        if !self.store.set_tier(id, tier, self.clock.now()).await? {
            return Err(Error::NotFound("user"));
        }
        self.get(id).await
    }

    /// Sets a user's role.
    pub async fn set_role(&self, id: UserId, role: Role) -> Result<User> {
        if !self.store.set_role(id, role, self.clock.now()).await? {
            return Err(Error::NotFound("user"));
        }
        self.get(id).await
    }
}
