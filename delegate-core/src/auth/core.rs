//! The state the auth services share (stores, guard, signer, hasher) and what they do with
//! it together: revoke login sessions everywhere, deny tokens, apply and resync auth events.

use super::denylist::TokenDenylist;
use super::events::{AUTH_TOPIC, AuthEvent};
use super::guard::{Liveness, SessionGuard};
use super::login_session::LoginSessionStore;
use super::login_session_cache::CachedLoginSessions;
use super::password::PasswordHasher;
use super::random;
use super::refresh::RefreshTokenStore;
use super::token::TokenSigner;
use crate::admin::{AuditActor, AuditEvent, AuditKind, AuditLog};
use crate::bus::EventBus;
use crate::clock::Clock;
use crate::config::{AuthConfig, Secret};
use crate::error::Result;
use crate::ids::{LoginSessionId, UserId};
use crate::users::UserStore;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// State shared by [`AuthService`] and [`crate::LoginSessionsService`].
pub(crate) struct AuthCore {
    pub(crate) config: AuthConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) profiles: crate::users::UsersService,
    pub(crate) sessions: Arc<CachedLoginSessions>,
    pub(crate) refresh: Arc<dyn RefreshTokenStore>,
    pub(crate) denylist: Arc<dyn TokenDenylist>,
    pub(crate) cleanup: Option<Arc<dyn super::ExpiredDeletion>>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) guard: SessionGuard,
    pub(crate) backoff: super::LoginBackoff,
    pub(crate) hasher: PasswordHasher,
    pub(crate) signer: TokenSigner,
    pub(crate) refresh_key: Secret,
    pub(crate) audit: AuditLog,
}

impl AuthCore {
    /// What this instance knows of a login session at `now`: from the guard while it trusts
    /// what it read, otherwise read from the store (and remembered).
    pub(crate) async fn liveness(
        &self,
        id: LoginSessionId,
        now: DateTime<Utc>,
    ) -> Result<Liveness> {
        if let Some(known) = self.guard.liveness(id, now) {
            return Ok(known);
        }
        let liveness = match self.sessions.get(id).await? {
            Some(s) if s.is_alive(now) => Liveness::Alive {
                user_id: s.user_id,
                expires_at: s.expires_at,
                last_seen: s.last_seen_at,
                checked_at: now,
            },
            _ => Liveness::Dead,
        };
        self.guard.remember(id, liveness.clone());
        Ok(liveness)
    }

    /// Revokes sessions durably, then in this instance's guard, then on the bus.
    pub(crate) async fn revoke_sessions(&self, ids: &[LoginSessionId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.guard.mark_dead(ids);
        metrics::counter!("delegate_auth_revocations_total").increment(ids.len() as u64);
        self.refresh.delete_families(ids).await?;
        self.publish(&AuthEvent::SessionsRevoked { ids: ids.to_vec() })
            .await;
        Ok(())
    }

    /// Revokes each of `ids` in the store, then everywhere (see [`Self::revoke_sessions`]);
    /// returns how many were still alive.
    pub(crate) async fn end_sessions(
        &self,
        ids: impl IntoIterator<Item = LoginSessionId>,
    ) -> Result<u64> {
        let now = self.clock.now();
        let mut ended = Vec::new();
        for id in ids {
            if self.sessions.revoke(id, now).await? {
                ended.push(id);
            }
        }
        self.revoke_sessions(&ended).await?;
        Ok(ended.len() as u64)
    }

    /// Denies an access token durably, here, and on the bus.
    pub(crate) async fn deny_token(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
        self.denylist.deny(jti, expires_at).await?;
        self.guard.deny(jti, expires_at, self.clock.now());
        self.publish(&AuthEvent::TokenDenied {
            jti: jti.to_owned(),
            expires_at,
        })
        .await;
        Ok(())
    }

    /// Applies an event from the bus to this instance's guard.
    pub(crate) fn apply(&self, event: AuthEvent) {
        match event {
            AuthEvent::SessionsRevoked { ids } => self.guard.mark_dead(&ids),
            AuthEvent::TokenDenied { jti, expires_at } => {
                self.guard.deny(&jti, expires_at, self.clock.now())
            }
        }
    }

    /// After missed bus events: forgets what the guard knows of sessions (they are re-read
    /// from the store on next use) and reloads the denylist.
    pub(crate) async fn resync(&self) -> Result<()> {
        self.guard.forget_sessions();
        let now = self.clock.now();
        for (jti, expires_at) in self.denylist.active(now).await? {
            self.guard.deny(&jti, expires_at, now);
        }
        Ok(())
    }

    async fn publish(&self, event: &AuthEvent) {
        let payload = serde_json::to_vec(event).expect("auth events serialise");
        // The store already holds the truth; other instances re-read it after the guard TTL.
        if let Err(e) = self.bus.publish(AUTH_TOPIC, payload).await {
            tracing::warn!(error = %e.report(), "could not publish an auth event");
        }
    }

    /// Records that `actor` revoked `count` of `user`'s login sessions (`session` when one).
    pub(crate) fn record_revoked(
        &self,
        actor: AuditActor,
        user: UserId,
        count: u64,
        session: Option<LoginSessionId>,
    ) {
        self.audit.record(
            AuditEvent::new(AuditKind::SessionsRevoked, actor, self.clock.now())
                .with_target(user)
                .with_detail(serde_json::json!({ "count": count, "sessionId": session })),
        );
    }

    pub(crate) fn hash_refresh(&self, token: &str) -> String {
        random::keyed_hash(self.refresh_key.expose(), token)
    }
}
