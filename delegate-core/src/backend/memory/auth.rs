//! The in-memory auth stores: login sessions, refresh-token families, token denials.

use super::store::{MemoryStore, State};
use crate::auth::{
    ExpiredDeletion, LoginSession, LoginSessionStore, RefreshTokenCounts, RefreshTokenRecord,
    RefreshTokenStore, Rotation, TokenDenylist,
};
use crate::error::Result;
use crate::ids::{LoginSessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl LoginSessionStore for MemoryStore {
    async fn insert(&self, session: &LoginSession) -> Result<()> {
        self.state().sessions.insert(session.id, session.clone());
        Ok(())
    }

    async fn get(&self, id: LoginSessionId) -> Result<Option<LoginSession>> {
        Ok(self.state().sessions.get(&id).cloned())
    }

    async fn list_alive(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<LoginSession>> {
        let mut found: Vec<LoginSession> = self
            .state()
            .sessions
            .values()
            .filter(|s| s.user_id == user && s.is_alive(now))
            .cloned()
            .collect();
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(found)
    }

    async fn alive_past(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        keep: u32,
    ) -> Result<Vec<LoginSessionId>> {
        let alive = self.list_alive(user, now).await?;
        Ok(alive.iter().skip(keep as usize).map(|s| s.id).collect())
    }

    async fn touch(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<()> {
        if let Some(s) = self.state().sessions.get_mut(&id) {
            s.last_seen_at = s.last_seen_at.max(at);
        }
        Ok(())
    }

    async fn revoke(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<bool> {
        Ok(match self.state().sessions.get_mut(&id) {
            Some(s) if s.revoked_at.is_none() => {
                s.revoked_at = Some(at);
                true
            }
            _ => false,
        })
    }

    async fn revoke_all(&self, user: UserId, at: DateTime<Utc>) -> Result<Vec<LoginSessionId>> {
        let mut state = self.state();
        let mut ids = Vec::new();
        for s in state.sessions.values_mut() {
            if s.user_id == user && s.revoked_at.is_none() {
                s.revoked_at = Some(at);
                ids.push(s.id);
            }
        }
        Ok(ids)
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryStore {
    async fn insert(&self, record: &RefreshTokenRecord) -> Result<()> {
        self.state()
            .refresh
            .insert(record.hash.clone(), record.clone());
        Ok(())
    }

    async fn rotate(&self, presented: &str, child: &str, at: DateTime<Utc>) -> Result<Rotation> {
        let mut state = self.state();
        let Some(record) = state.refresh.get_mut(presented) else {
            return Ok(Rotation::Unknown);
        };
        if let Some(used_at) = record.used_at {
            let (session_id, user_id) = (record.session_id, record.user_id);
            let child_used = state
                .refresh_children
                .get(presented)
                .and_then(|child| state.refresh.get(child))
                .is_some_and(|child| child.used_at.is_some());
            return Ok(Rotation::Reused {
                session_id,
                user_id,
                used_at,
                child_used,
            });
        }
        record.used_at = Some(at);
        let (session_id, user_id) = (record.session_id, record.user_id);
        state
            .refresh_children
            .insert(presented.to_owned(), child.to_owned());
        state.refresh.insert(
            child.to_owned(),
            RefreshTokenRecord {
                hash: child.to_owned(),
                session_id,
                user_id,
                issued_at: at,
                used_at: None,
            },
        );
        Ok(Rotation::Rotated {
            session_id,
            user_id,
        })
    }

    async fn delete_families(&self, sessions: &[LoginSessionId]) -> Result<u64> {
        let mut state = self.state();
        let before = state.refresh.len();
        state
            .refresh
            .retain(|_, r| !sessions.contains(&r.session_id));
        state.forget_dropped_parents();
        Ok((before - state.refresh.len()) as u64)
    }
}

#[async_trait]
impl TokenDenylist for MemoryStore {
    async fn deny(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
        self.state().denied.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    async fn active(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        Ok(self
            .state()
            .denied
            .iter()
            .filter(|(_, exp)| **exp >= now)
            .map(|(jti, exp)| (jti.clone(), *exp))
            .collect())
    }
}

#[async_trait]
impl ExpiredDeletion for MemoryStore {
    async fn purge_login_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.state();
        let before = state.sessions.len();
        state.sessions.retain(|_, s| s.is_alive(now));
        // Like the relational stores' cascade: a purged session takes its tokens along.
        let State {
            sessions, refresh, ..
        } = &mut *state;
        refresh.retain(|_, r| sessions.contains_key(&r.session_id));
        let removed = (before - sessions.len()) as u64;
        state.forget_dropped_parents();
        Ok(removed)
    }

    async fn purge_refresh_tokens_issued_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut state = self.state();
        let count = state.refresh.len();
        state.refresh.retain(|_, r| r.issued_at >= before);
        state.forget_dropped_parents();
        Ok((count - state.refresh.len()) as u64)
    }

    async fn purge_denials(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.state();
        let before = state.denied.len();
        state.denied.retain(|_, exp| *exp >= now);
        Ok((before - state.denied.len()) as u64)
    }
}

#[async_trait]
impl RefreshTokenCounts for MemoryStore {
    async fn count_unused(&self, session: LoginSessionId) -> Result<u64> {
        Ok(self
            .state()
            .refresh
            .values()
            .filter(|r| r.session_id == session && r.used_at.is_none())
            .count() as u64)
    }
}
