//! Operator actions and the audit trail: who may act (a signed-in admin over HTTP, or the
//! operator at the machine through the CLI), the actions (accounts, login-session cleanup,
//! cache), and the append-only record of them and of security events.

mod audit;
mod audit_log;
mod cache;
mod cleanup;
mod import;
mod seed;
mod usage;
mod users;

pub use audit::{AuditActor, AuditEvent, AuditKind, AuditQuery, AuditStore};
pub use audit_log::AuditLog;
pub use cache::{CacheClearReport, CacheStatsReport};
pub(crate) use cleanup::cleanup_periodically;
pub use import::{ImportOutcome, ImportedUser};
pub use seed::{DEMO_ADMIN_EMAIL, DEMO_USER_EMAIL, SeedReport, SeededAccount};
pub use usage::UserUsage;
pub use users::{AccountChange, UserDetail};

use crate::auth::{AuthContext, AuthCore, LoginSessionsService};
use crate::cache::Cache;
use crate::cache::stats::CacheInspect;
use crate::error::{Error, Result};
use crate::paging::{Page, check_limit, page};
use crate::usage::UsageService;
use crate::users::{Role, UsersService};
use std::sync::Arc;
use std::time::Duration;

/// How long an operator action waits for its audit event to be stored before answering.
const DURABLE_WITHIN: Duration = Duration::from_secs(2);

/// Who takes an operator action.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in caller: allowed only with the admin role.
    Caller(AuthContext),
    /// The operator at the machine (the CLI), trusted for holding the store's credentials.
    Operator,
}

impl Actor {
    /// The actor as the audit trail names it.
    pub fn audit_actor(&self) -> AuditActor {
        match self {
            Actor::Caller(caller) => AuditActor::User(caller.user_id),
            Actor::Operator => AuditActor::Operator,
        }
    }
}

/// Operator actions, each checked against its [`Actor`] and recorded in the audit trail.
#[derive(Clone)]
pub struct AdminService {
    core: Arc<AuthCore>,
    users: UsersService,
    usage: UsageService,
    cache: Arc<dyn Cache>,
    inspect: Option<Arc<dyn CacheInspect>>,
    chat: crate::chat::ChatService,
}

impl AdminService {
    pub(crate) fn new(
        core: Arc<AuthCore>,
        users: UsersService,
        usage: UsageService,
        cache: Arc<dyn Cache>,
        inspect: Option<Arc<dyn CacheInspect>>,
        chat: crate::chat::ChatService,
    ) -> Self {
        Self {
            core,
            users,
            usage,
            cache,
            inspect,
            chat,
        }
    }

    /// `Ok` for the operator and for a caller with the admin role; [`Error::Forbidden`] for
    /// anyone else.
    pub fn authorize(actor: &Actor) -> Result<()> {
        match actor {
            Actor::Operator => Ok(()),
            Actor::Caller(caller) if caller.role == Role::Admin => Ok(()),
            Actor::Caller(_) => Err(Error::Forbidden("this route needs the admin role")),
        }
    }

    /// Deletes expired and revoked login sessions, the refresh tokens of expired families,
    /// ended denials and audit events past their retention
    /// ([`LoginSessionsService::cleanup`]).
    pub async fn cleanup_login_sessions(
        &self,
        actor: &Actor,
    ) -> Result<crate::auth::CleanupReport> {
        Self::authorize(actor)?;
        let report = self.login_sessions().cleanup().await?;
        self.record(
            AuditEvent::new(AuditKind::SessionsCleaned, actor.audit_actor(), self.now())
                .with_detail(serde_json::json!({
                    "sessions": report.sessions,
                    "refreshTokens": report.refresh_tokens,
                    "denials": report.denials,
                    "auditEvents": report.audit_events,
                })),
        )
        .await;
        Ok(report)
    }

    /// The audit trail, newest first, filtered by `query` (its `limit` is a page size).
    pub async fn audit(&self, actor: &Actor, query: AuditQuery) -> Result<Page<AuditEvent>> {
        Self::authorize(actor)?;
        let limit = check_limit(query.limit)?;
        // What this process recorded is readable at once.
        self.core.audit.flush(DURABLE_WITHIN).await;
        let items = self.core.audit.store().query(&query).await?;
        Ok(page(items, limit, |e| e.id.to_string()))
    }

    /// The audit log, to record events from the host application.
    pub fn audit_log(&self) -> &AuditLog {
        &self.core.audit
    }

    fn login_sessions(&self) -> LoginSessionsService {
        LoginSessionsService::new(self.core.clone())
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.core.clock.now()
    }

    /// Records an operator action and waits (briefly) for it to be stored.
    async fn record(&self, event: AuditEvent) {
        self.core.audit.record_durably(event, DURABLE_WITHIN).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_and_the_operator_are_authorized() {
        let caller = |role| AuthContext {
            user_id: crate::UserId::new(),
            session_id: crate::LoginSessionId::new(),
            jti: "j".to_owned(),
            tier: crate::Tier::Free,
            role,
            expires_at: chrono::Utc::now(),
            profile: std::sync::Arc::new(crate::User::new(
                "a@example.com",
                "A",
                chrono::Utc::now(),
            )),
        };
        assert!(AdminService::authorize(&Actor::Operator).is_ok());
        assert!(AdminService::authorize(&Actor::Caller(caller(Role::Admin))).is_ok());
        let err = AdminService::authorize(&Actor::Caller(caller(Role::User))).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Forbidden);
    }
}
