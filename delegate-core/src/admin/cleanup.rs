//! The periodic cleanup of ended login sessions, refresh families, denials and old audit
//! events, on the injected clock.

use crate::auth::LoginSessionsService;
use crate::clock::Clock;
use std::sync::Arc;
use std::time::Duration;

/// Runs the cleanup every `every` by `clock`, until aborted. Safe with many instances: each
/// run deletes only rows that have ended, so concurrent runs overlap harmlessly.
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
                audit_events = report.audit_events,
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
    use crate::auth::LoginSessionStore;
    use crate::backend::memory::MemoryStore;
    use crate::clock::ManualClock;
    use crate::{Config, Delegate, Registration, Secret, Stores};
    use std::sync::Arc;
    use std::time::Duration;

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
}
