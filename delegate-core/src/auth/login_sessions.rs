//! The sessions service: a user's signed-in devices, revoking one or all, and cleanup.

use super::core::AuthCore;
use super::login_session::{LoginSession, LoginSessionStore as _};
use crate::admin::AuditActor;
use crate::error::{Error, Result};
use crate::ids::{LoginSessionId, UserId};
use crate::paging::{Page, check_limit, parse_cursor};
use std::sync::Arc;
use std::time::Duration;

/// What a cleanup removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CleanupReport {
    /// Expired or revoked login sessions deleted.
    pub sessions: u64,
    /// Refresh tokens of expired families deleted.
    pub refresh_tokens: u64,
    /// Ended access-token denials deleted.
    pub denials: u64,
    /// Audit events past their retention deleted.
    pub audit_events: u64,
}

impl CleanupReport {
    /// Everything removed.
    pub fn total(&self) -> u64 {
        self.sessions + self.refresh_tokens + self.denials + self.audit_events
    }
}

/// Login sessions (devices) of users.
#[derive(Clone)]
pub struct LoginSessionsService {
    core: Arc<AuthCore>,
}

impl LoginSessionsService {
    pub(crate) fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// The user's alive login sessions, newest first.
    pub async fn list(&self, user: UserId) -> Result<Vec<LoginSession>> {
        self.core
            .sessions
            .list_alive(user, self.core.clock.now())
            .await
    }

    /// A page of the user's alive login sessions, newest first: `limit` (1–100) after the
    /// `cursor` of the previous page.
    pub async fn list_page(
        &self,
        user: UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<LoginSession>> {
        let limit = check_limit(limit)?;
        // Ids are UUIDv7, so id order is creation order and any id is a place in it.
        let mut all = self.list(user).await?;
        all.sort_by_key(|s| std::cmp::Reverse(s.id));
        let start = match cursor {
            None => 0,
            Some(cursor) => {
                let after: LoginSessionId = parse_cursor(cursor)?;
                all.iter().position(|s| s.id < after).unwrap_or(all.len())
            }
        };
        let end = (start + limit as usize).min(all.len());
        let items = all[start..end].to_vec();
        let next_cursor = (end < all.len())
            .then(|| items.last().map(|s| s.id.to_string()))
            .flatten();
        Ok(Page { items, next_cursor })
    }

    /// Revokes one of `user`'s sessions. Another user's session, an unknown id and an
    /// already dead session all answer the same [`Error::NotFound`].
    pub async fn revoke(&self, user: UserId, id: LoginSessionId) -> Result<()> {
        let core = &self.core;
        let now = core.clock.now();
        let owned_alive = core
            .sessions
            .get(id)
            .await?
            .is_some_and(|s| s.user_id == user && s.is_alive(now));
        if !owned_alive || core.end_sessions([id]).await? == 0 {
            return Err(Error::NotFound("session"));
        }
        core.record_revoked(AuditActor::User(user), user, 1, Some(id));
        Ok(())
    }

    /// Revokes any user's session, for operators. An unknown or already dead session is
    /// [`Error::NotFound`].
    pub async fn revoke_any(&self, id: LoginSessionId) -> Result<()> {
        let owner = self.core.sessions.get(id).await?.map(|s| s.user_id);
        let (Some(owner), 1..) = (owner, self.core.end_sessions([id]).await?) else {
            return Err(Error::NotFound("session"));
        };
        self.core
            .record_revoked(AuditActor::Operator, owner, 1, Some(id));
        self.core
            .audit
            .flush(std::time::Duration::from_secs(2))
            .await;
        Ok(())
    }

    /// Revokes every session of `user`; returns how many were alive.
    pub async fn revoke_all(&self, user: UserId) -> Result<u64> {
        let ids = self
            .core
            .sessions
            .revoke_all(user, self.core.clock.now())
            .await?;
        self.core.revoke_sessions(&ids).await?;
        Ok(ids.len() as u64)
    }

    /// Deletes expired and revoked sessions, expired refresh families, ended denials and
    /// audit events older than the retention (`auth.audit_retention_days`; 0 keeps them).
    /// [`Error::Unavailable`] when the store cannot ([`crate::auth::ExpiredDeletion`]).
    pub async fn cleanup(&self) -> Result<CleanupReport> {
        let core = &self.core;
        let Some(cleanup) = &core.cleanup else {
            return Err(Error::unavailable("cleanup", Duration::from_secs(3600)));
        };
        let now = core.clock.now();
        let family_start = now - crate::clock::delta(core.config.refresh_ttl())?;
        Ok(CleanupReport {
            sessions: cleanup.purge_login_sessions(now).await?,
            refresh_tokens: cleanup
                .purge_refresh_tokens_issued_before(family_start)
                .await?,
            denials: cleanup.purge_denials(now).await?,
            audit_events: match core.config.audit_retention_days {
                0 => 0,
                days => {
                    let before = now - chrono::TimeDelta::days(i64::from(days));
                    core.audit.store().purge_before(before).await?
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::memory::MemoryStore;
    use crate::{Config, Delegate, ErrorKind, Secret, Stores};
    use std::sync::Arc;

    async fn delegate_on(stores: Stores) -> Delegate {
        let mut config = Config::default();
        config.auth.jwt_secret = Some(Secret::random());
        config.auth.jwt_refresh_secret = Some(Secret::random());
        Delegate::builder(config)
            .with_stores(stores)
            .build()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn cleanup_needs_the_optional_capability_and_says_so_without_it() {
        let store = Arc::new(MemoryStore::new());
        let without = delegate_on(Stores::from_backend(store.clone())).await;
        let err = without.login_sessions().cleanup().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains("cleanup"), "{err}");
        let with = delegate_on(Stores::from_complete_backend(store)).await;
        let report = with.login_sessions().cleanup().await.unwrap();
        assert_eq!(report.sessions + report.refresh_tokens + report.denials, 0);
    }
}
