//! Operator actions: who may take them (a signed-in admin over HTTP, or the operator at the
//! machine through the CLI) and the actions themselves, starting with the cleanup of ended
//! login sessions, on demand and on a timer.

use crate::auth::{AuthContext, CleanupReport, LoginSessionsService};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::users::Role;
use std::sync::Arc;
use std::time::Duration;

/// Who takes an operator action.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in caller: allowed only with the admin role.
    Caller(AuthContext),
    /// The operator at the machine (the CLI), trusted for holding the store's credentials.
    Operator,
}

/// Operator actions, each checked against its [`Actor`].
#[derive(Clone)]
pub struct AdminService {
    login_sessions: LoginSessionsService,
}

impl AdminService {
    pub(crate) fn new(login_sessions: LoginSessionsService) -> Self {
        Self { login_sessions }
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

    /// Deletes expired and revoked login sessions, the refresh tokens of expired families
    /// and ended denials (see [`LoginSessionsService::cleanup`]).
    pub async fn cleanup_login_sessions(&self, actor: &Actor) -> Result<CleanupReport> {
        Self::authorize(actor)?;
        self.login_sessions.cleanup().await
    }
}

/// Runs the login-session cleanup every `every` by `clock`, until aborted. Safe with many
/// instances: each run deletes only rows that have ended, so concurrent runs overlap
/// harmlessly.
pub(crate) async fn cleanup_periodically(
    login_sessions: LoginSessionsService,
    clock: Arc<dyn Clock>,
    every: Duration,
) {
    let Ok(step) = crate::clock::delta(every) else {
        return;
    };
    loop {
        clock.sleep_until(clock.now() + step).await;
        match login_sessions.cleanup().await {
            Ok(report) => tracing::info!(
                sessions = report.sessions,
                refresh_tokens = report.refresh_tokens,
                denials = report.denials,
                "periodic cleanup of ended login sessions"
            ),
            Err(e) => {
                tracing::warn!(error = %e.report(), "periodic cleanup failed; retrying next time")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::LoginSessionStore;
    use crate::backend::memory::MemoryStore;
    use crate::clock::ManualClock;
    use crate::{Config, Delegate, Registration, Secret, Stores};

    #[tokio::test]
    async fn ended_login_sessions_are_cleaned_up_on_the_clocks_timer() {
        let clock = ManualClock::default();
        let store = Arc::new(MemoryStore::new());
        let mut config = Config::default();
        config.auth.jwt_secret = Some(Secret::random());
        config.auth.jwt_refresh_secret = Some(Secret::random());
        config.auth.cleanup_interval_secs = 600;
        let delegate = Delegate::builder(config)
            .with_clock(Arc::new(clock.clone()))
            .with_stores(Stores::from_complete_backend(store.clone()))
            .build()
            .await
            .unwrap();
        let signed_in = delegate
            .auth()
            .register(Registration::new("timer@example.com", "a long passphrase"))
            .await
            .unwrap();
        let id = signed_in.session.id;
        let caller = delegate
            .auth()
            .authenticate(&signed_in.tokens.access_token)
            .await
            .unwrap();
        delegate.auth().logout(&caller).await.unwrap();
        assert!(
            store.get(id).await.unwrap().is_some(),
            "revoked, not yet deleted"
        );
        clock.advance(Duration::from_secs(600));
        let mut gone = false;
        for _ in 0..200 {
            if store.get(id).await.unwrap().is_none() {
                gone = true;
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            gone,
            "the timer's cleanup deleted the revoked login session"
        );
    }

    #[test]
    fn only_admins_and_the_operator_are_authorized() {
        let caller = |role| AuthContext {
            user_id: crate::UserId::new(),
            session_id: crate::LoginSessionId::new(),
            jti: "j".to_owned(),
            tier: crate::Tier::Free,
            role,
            expires_at: chrono::Utc::now(),
        };
        assert!(AdminService::authorize(&Actor::Operator).is_ok());
        assert!(AdminService::authorize(&Actor::Caller(caller(Role::Admin))).is_ok());
        let err = AdminService::authorize(&Actor::Caller(caller(Role::User))).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Forbidden);
    }
}
