//! The in-memory `UserStore`: accounts by id and by normalised email.

use super::store::MemoryStore;
use crate::error::Result;
use crate::ids::UserId;
use crate::users::{ProfileChange, Role, Tier, User, UserCredentials, UserStore, email_taken};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert(&self, user: &User, password_hash: &str) -> Result<()> {
        let mut state = self.state();
        if state.emails.contains_key(&user.email) || state.users.contains_key(&user.id) {
            return Err(email_taken());
        }
        state.emails.insert(user.email.clone(), user.id);
        state.users.insert(
            user.id,
            UserCredentials {
                user: user.clone(),
                password_hash: password_hash.to_owned(),
            },
        );
        Ok(())
    }

    async fn get(&self, id: UserId) -> Result<Option<User>> {
        Ok(self.state().users.get(&id).map(|c| c.user.clone()))
    }

    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>> {
        let state = self.state();
        Ok(state
            .emails
            .get(email)
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn list(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
        let state = self.state();
        let iter = state.users.values().map(|c| &c.user);
        Ok(iter
            .filter(|u| after.is_none_or(|a| u.id > a))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn set_tier(&self, id: UserId, tier: Tier, now: DateTime<Utc>) -> Result<bool> {
        Ok(self.update_user(id, |u| {
            u.tier = tier;
            u.updated_at = now;
        }))
    }

    async fn set_password_hash(&self, id: UserId, hash: &str, now: DateTime<Utc>) -> Result<bool> {
        Ok(match self.state().users.get_mut(&id) {
            Some(creds) => {
                creds.password_hash = hash.to_owned();
                creds.user.updated_at = now;
                true
            }
            None => false,
        })
    }

    async fn set_role(&self, id: UserId, role: Role, now: DateTime<Utc>) -> Result<bool> {
        Ok(self.update_user(id, |u| {
            u.role = role;
            u.updated_at = now;
        }))
    }

    async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(self.update_user(id, |u| {
            if let Some(name) = &change.name {
                u.name = name.clone();
            }
            if let Some(avatar_url) = &change.avatar_url {
                u.avatar_url = avatar_url.clone();
            }
            if let Some(preferences) = &change.preferences {
                u.preferences = preferences.clone();
            }
            u.updated_at = now;
        }))
    }
}
