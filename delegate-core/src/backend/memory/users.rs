//! The in-memory `UserStore`: accounts by id and by normalised email.

use super::store::MemoryStore;
use super::store::State;
use crate::error::Result;
use crate::ids::UserId;
use crate::users::{
    ProfileChange, Role, Tier, User, UserCredentials, UserQuery, UserStore, email_taken, last_admin,
};
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

    async fn search(&self, query: &UserQuery) -> Result<Vec<User>> {
        let state = self.state();
        let iter = state.users.values().map(|c| &c.user);
        Ok(iter
            .filter(|u| query.after.is_none_or(|a| u.id > a) && query.matches(u))
            .take(query.limit as usize)
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
        let mut state = self.state();
        if role != Role::Admin {
            refuse_last_admin(&state, id)?;
        }
        Ok(match state.users.get_mut(&id) {
            Some(creds) => {
                creds.user.role = role;
                creds.user.updated_at = now;
                true
            }
            None => false,
        })
    }

    async fn set_disabled(&self, id: UserId, disabled: bool, now: DateTime<Utc>) -> Result<bool> {
        let mut state = self.state();
        if disabled {
            refuse_last_admin(&state, id)?;
        }
        Ok(match state.users.get_mut(&id) {
            Some(creds) => {
                creds.user.disabled = disabled;
                creds.user.updated_at = now;
                true
            }
            None => false,
        })
    }

    async fn delete(&self, id: UserId) -> Result<bool> {
        let mut state = self.state();
        refuse_last_admin(&state, id)?;
        let Some(creds) = state.users.remove(&id) else {
            return Ok(false);
        };
        state.emails.remove(&creds.user.email);
        state.sessions.retain(|_, s| s.user_id != id);
        state.refresh.retain(|_, r| r.user_id != id);
        state.forget_dropped_parents();
        let chats: Vec<_> = state
            .chats
            .iter()
            .filter(|(_, c)| c.session.user_id == id)
            .map(|(chat_id, _)| *chat_id)
            .collect();
        for chat_id in chats {
            if let Some(chat) = state.chats.remove(&chat_id) {
                for message_id in chat.messages.keys() {
                    state.message_chats.remove(message_id);
                }
            }
        }
        state.usage.retain(|e| e.user_id != id);
        state.holds.retain(|_, h| h.user_id != id);
        state.transcripts.retain(|_, t| t.user_id != id);
        Ok(true)
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

/// [`last_admin`] when `id` is an enabled admin and no other enabled admin exists.
fn refuse_last_admin(state: &State, id: UserId) -> Result<()> {
    let enabled_admin = |u: &User| u.role == Role::Admin && !u.disabled;
    let is_admin = state.users.get(&id).is_some_and(|c| enabled_admin(&c.user));
    let others = state
        .users
        .values()
        .any(|c| c.user.id != id && enabled_admin(&c.user));
    if is_admin && !others {
        return Err(last_admin());
    }
    Ok(())
}
